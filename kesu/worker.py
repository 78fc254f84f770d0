"""Workers drain the inbox; the timer loop turns due timers into events.

Several workers (threads here; processes through ``kesu.processes``, or other hosts) can share
one database: claims are exclusive per ticket (see ``kesu.store.inbox``) and renewed while a worker
is busy (:class:`Lease`). A failed attempt goes back to the queue with exponential backoff
(``Retry-After`` honoured) and is dead-lettered after ``max_attempts``. A runner asked to stop lets
its workers finish their claims for ``shutdown_seconds`` and hands back the ones still unfinished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from connector.errors import ConnectorError, NotFound, TransientError
from kesu import metrics
from kesu.pipeline import Pipeline
from kesu.settings import WorkerSettings
from kesu.store import tickets as store
from kesu.store.db import utcnow
from kesu.store.inbox import Inbox, InboxEvent

log = logging.getLogger(__name__)

#: Reads that find no ticket before the event is dead-lettered (the ticket was deleted).
NOT_FOUND_ATTEMPTS = 3


def backoff_delay(attempts: int, settings: WorkerSettings, retry_after: float | None = None) -> float:
    delay = min(settings.backoff_max, settings.backoff_base * 2 ** max(0, attempts - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Lease:
    """A worker's claim on events, renewed while it works on them (a heartbeat).

    A claim lasts ``lease_seconds``; a helpdesk that answers slowly can make one attempt outlive
    it, and the reaper would then hand the events to another worker, which would apply the same
    decided write a second time. While the attempt runs, a thread renews the events' lease and
    the hold on every decided write the attempt is applying (``hold``/``release``, called by the
    pipeline) every third of the lease. A worker that dies stops renewing: its claim lapses as
    before and another worker takes over.

    The renewing is done by the process's :class:`Heartbeat` when one is given (one thread for
    all of a runner's workers), else by a thread of the lease's own.
    """

    def __init__(self, pipeline: Pipeline, events: Sequence[InboxEvent], seconds: float, *,
                 clock: Callable[[], datetime] = utcnow, heartbeat: Heartbeat | None = None) -> None:
        self.inbox = pipeline.inbox
        self.engine = pipeline.engine
        self.claims = {e.id: e.attempts for e in events}
        self.key = events[0].ticket_key if events else ""
        self.seconds = seconds
        self.interval = seconds / 3
        self.clock = clock
        self.renewals = 0
        self._holds: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._heartbeat = heartbeat
        self._closed = False  # the attempt is over: the heartbeat renews it no more
        self._renewed_at = time.monotonic()

    def hold(self, outbox_id: int) -> None:
        with self._lock:
            self._holds.add(outbox_id)

    def release(self, outbox_id: int) -> None:
        """Stop renewing this hold (its apply failed and the hold is about to be given up)."""
        with self._lock:
            self._holds.discard(outbox_id)

    def renew(self) -> None:
        """Extend the claim and the holds to ``lease_seconds`` from now."""
        with self._lock:
            self._renew()

    def beat(self, now: float) -> None:
        """Renew if a third of the lease passed since the claim or the last renewal (called by
        the heartbeat; nothing once the attempt is over)."""
        with self._lock:
            if not self._closed and now - self._renewed_at >= self.interval:
                self._renew()

    def _renew(self) -> None:
        kept = len(self.claims)
        try:
            until = self.clock() + timedelta(seconds=self.seconds)
            kept = self.inbox.renew(self.claims, until)
            if self._holds:
                with self.engine.begin() as conn:
                    for outbox_id in self._holds:
                        store.renew_outbox(conn, outbox_id, until)
            self.renewals += 1
        finally:
            self._renewed_at = time.monotonic()
        if kept < len(self.claims):
            log.warning("lease on %s: %d of %d event(s) no longer held by this worker", self.key,
                        len(self.claims) - kept, len(self.claims), extra={"ticket": self.key})

    def hand_back(self) -> int:
        """Stop renewing and return the claimed events to the queue at once (the worker is
        stopping before it finished them). Holds on decided writes are kept: a write may be on
        its way to the helpdesk, and the next worker finishes it once the hold ends."""
        self._stop.set()
        with self._lock:
            self._closed = True
            handed = self.inbox.hand_back(self.claims, self.clock())
            self.claims = {}
        return handed

    @contextmanager
    def held(self) -> Iterator[bool]:
        """Whether the claim is still this worker's (not handed back), kept so while inside."""
        with self._lock:
            yield bool(self.claims)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except Exception:  # noqa: BLE001 -- a store hiccup: try again at the next beat
                log.exception("lease renewal for %s failed", self.key)

    def __enter__(self) -> Lease:
        self._renewed_at = time.monotonic()
        if self._heartbeat is not None:
            self._heartbeat.add(self)
        else:
            self._thread = threading.Thread(target=self._run, name=f"kesu-lease-{self.key}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.discard(self)
        with self._lock:  # a renewal under way ends first; none starts after
            self._closed = True
        if self._thread is not None:
            self._thread.join()


class Heartbeat:
    """One thread renewing the claims of all of a runner's workers (see :class:`Lease`): no
    thread started and joined per claim. Each lease is renewed once a third of the lease has
    passed since its claim or last renewal; the thread looks every sixth."""

    def __init__(self, lease_seconds: float) -> None:
        self.interval = lease_seconds / 6
        self._leases: set[Lease] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kesu-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, lease: Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                leases = list(self._leases)
            for lease in leases:
                try:
                    lease.beat(time.monotonic())
                except Exception:  # noqa: BLE001 -- a store hiccup: try again at the next beat
                    log.exception("lease renewal for %s failed", lease.key)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Worker:
    def __init__(self, pipeline: Pipeline, settings: WorkerSettings, *,
                 clock: Callable[[], datetime] = utcnow, wake: threading.Event | None = None,
                 heartbeat: Heartbeat | None = None) -> None:
        self.pipeline = pipeline
        self.heartbeat = heartbeat
        self.inbox: Inbox = pipeline.inbox
        self.settings = settings
        self.clock = clock
        self.wake = wake or threading.Event()
        #: The claim this worker is working on (``None`` between claims).
        self.current: Lease | None = None

    def run_once(self) -> bool:
        """Claim and process one ticket's events; False when nothing was ready."""
        events = self.inbox.claim(self.clock(), self.settings.lease_seconds)
        if not events:
            return False
        ids = [e.id for e in events]
        attempts = max(e.attempts for e in events)
        lease = Lease(self.pipeline, events, self.settings.lease_seconds, clock=self.clock,
                      heartbeat=self.heartbeat)
        try:
            with lease:
                self.current = lease
                try:
                    self.pipeline.process(events, lease=lease)
                finally:
                    self.current = None
        except Exception as exc:  # noqa: BLE001 -- every failure is retried or dead-lettered
            with lease.held() as still:
                if still:  # not handed back meanwhile (a stopping runner gave up waiting)
                    self._failed(events, ids, attempts, exc)
        return True

    def _failed(self, events: Sequence[InboxEvent], ids: list[int], attempts: int, exc: Exception) -> None:
        """Retry later or dead-letter a failed claim (called inside the ``except``: logs keep
        the traceback)."""
        metrics.EVENTS_FAILED.labels(type(exc).__name__).inc()
        first = events[0]
        if isinstance(exc, NotFound):
            if attempts < NOT_FOUND_ATTEMPTS:
                # A helpdesk may announce a ticket before its transaction is visible (Odoo 17/18
                # send webhooks before commit): look again shortly before giving up on it.
                metrics.EVENTS_RETRIED.inc(len(ids))
                delay = backoff_delay(attempts, self.settings)
                self.inbox.retry_later(ids, f"ticket not found (yet): {exc}", self.clock() + timedelta(seconds=delay))
                return
            metrics.EVENTS_DEAD.inc(len(ids))
            self.inbox.dead(ids, f"ticket not found: {exc}", self.clock())
            log.warning("dead-lettered %s: %s", first.ticket_key, exc,
                        extra={"ticket": first.ticket_key, "delivery": first.delivery_id})
            return
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.settings.max_attempts:
            metrics.EVENTS_DEAD.inc(len(ids))
            self.inbox.dead(ids, error, self.clock())
            log.error("dead-lettered %s after %d attempts: %s", first.ticket_key, attempts,
                      error, extra={"ticket": first.ticket_key, "delivery": first.delivery_id})
            return
        delay = backoff_delay(attempts, self.settings, retry_after)
        metrics.EVENTS_RETRIED.inc(len(ids))
        self.inbox.retry_later(ids, error, self.clock() + timedelta(seconds=delay))
        level = logging.WARNING if isinstance(exc, (TransientError, ConnectorError)) else logging.ERROR
        log.log(level, "attempt %d for %s failed, retry in %.1fs: %s", attempts,
                first.ticket_key, delay, error, exc_info=level == logging.ERROR,
                extra={"ticket": first.ticket_key, "delivery": first.delivery_id})

    def drain(self, limit: int | None = None) -> int:
        """Process until nothing is ready (or ``limit`` claims); returns claims processed."""
        n = 0
        while (limit is None or n < limit) and self.run_once():
            n += 1
        return n

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001 -- the store hiccuped; keep the worker alive
                log.exception("worker loop error")
                worked = False
            if not worked:
                self.wake.wait(self.settings.poll_interval)
                self.wake.clear()


class TimerLoop:
    """Fires due timers and hands back expired leases, every ``timer_interval`` seconds."""

    def __init__(self, pipeline: Pipeline, settings: WorkerSettings, *,
                 clock: Callable[[], datetime] = utcnow, wake: threading.Event | None = None) -> None:
        self.engine = pipeline.engine
        self.inbox = pipeline.inbox
        self.helpdesk = pipeline.inbox.helpdesk
        self.settings = settings
        self.clock = clock
        self.wake = wake

    def tick(self) -> int:
        now = self.clock()
        reaped = self.inbox.reap(now)
        if reaped:
            log.warning("%d event(s) returned to the queue after their lease expired", reaped)
        fired = store.fire_due_timers(self.engine, now, helpdesk=self.helpdesk)
        if fired:
            metrics.TIMERS_FIRED.inc(fired)
        if (fired or reaped) and self.wake is not None:
            self.wake.set()
        metrics.INBOX_DEPTH.set(self.inbox.pending_count())
        return fired

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 -- keep timers alive through a store hiccup
                log.exception("timer loop error")
            stop.wait(self.settings.timer_interval)


class Runner:
    """Worker threads plus the timer loop, started and stopped together.

    ``threads``: worker threads (default ``[worker] threads``; 0 for a process that only runs the
    timer loop and the other loops while worker processes do the work).
    """

    def __init__(self, pipeline: Pipeline, settings: WorkerSettings, *, timers: bool = True,
                 clock: Callable[[], datetime] = utcnow, threads: int | None = None) -> None:
        self.settings = settings
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        count = settings.threads if threads is None else threads
        self.heartbeat = Heartbeat(settings.lease_seconds)
        self.workers = [Worker(pipeline, settings, clock=clock, wake=self.wake, heartbeat=self.heartbeat)
                        for _ in range(count)]
        self.timer_loop = TimerLoop(pipeline, settings, clock=clock, wake=self.wake) if timers else None
        self.threads: list[threading.Thread] = []
        self._extra: list[tuple[str, Callable[[threading.Event], None]]] = []

    def add_loop(self, name: str, target: Callable[[threading.Event], None]) -> None:
        """Run ``target(stop_event)`` in its own thread alongside the workers."""
        self._extra.append((name, target))

    def start(self) -> None:
        for i, w in enumerate(self.workers):
            self.threads.append(threading.Thread(target=w.run, args=(self.stop_event,), name=f"kesu-worker-{i}", daemon=True))
        if self.timer_loop is not None:
            self.threads.append(threading.Thread(target=self.timer_loop.run, args=(self.stop_event,), name="kesu-timers", daemon=True))
        for name, target in self._extra:
            self.threads.append(threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True))
        for t in self.threads:
            t.start()

    def busy(self) -> int:
        """Workers in the middle of a claim."""
        return sum(1 for w in self.workers if w.current is not None)

    def stop(self, timeout: float | None = None) -> int:
        """Stop claiming; let the workers finish their claims for ``timeout`` seconds (default
        ``[worker] shutdown_seconds``), then hand back the events of the claims still running so
        that another worker takes them at once (not after the lease). Returns how many events
        were handed back."""
        self.stop_event.set()
        self.wake.set()
        deadline = time.monotonic() + (self.settings.shutdown_seconds if timeout is None else timeout)
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        handed = 0
        for w in self.workers:
            lease = w.current
            if lease is not None:
                try:
                    handed += lease.hand_back()
                except Exception:  # noqa: BLE001 -- the store is gone: the lease will lapse instead
                    log.exception("could not hand back the events of %s", lease.key)
        self.heartbeat.stop()
        if handed:
            log.warning("stopping: %d event(s) not finished within %.0fs handed back to the queue",
                        handed, self.settings.shutdown_seconds if timeout is None else timeout)
        return handed
