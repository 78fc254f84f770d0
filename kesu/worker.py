"""Workers drain the inbox; the timer loop turns due timers into events.

Several workers (threads here, processes elsewhere) can share one database: claims are exclusive
per ticket (see ``kesu.store.inbox``) and renewed while a worker is busy (:class:`Lease`). A
failed attempt goes back to the queue with exponential backoff (``Retry-After`` honoured) and is
dead-lettered after ``max_attempts``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
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
    """

    def __init__(self, pipeline: Pipeline, events: Sequence[InboxEvent], seconds: float, *,
                 clock: Callable[[], datetime] = utcnow) -> None:
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
            until = self.clock() + timedelta(seconds=self.seconds)
            kept = self.inbox.renew(self.claims, until)
            if self._holds:
                with self.engine.begin() as conn:
                    for outbox_id in self._holds:
                        store.renew_outbox(conn, outbox_id, until)
            self.renewals += 1
        if kept < len(self.claims):
            log.warning("lease on %s: %d of %d event(s) no longer held by this worker", self.key,
                        len(self.claims) - kept, len(self.claims), extra={"ticket": self.key})

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except Exception:  # noqa: BLE001 -- a store hiccup: try again at the next beat
                log.exception("lease renewal for %s failed", self.key)

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._run, name=f"kesu-lease-{self.key}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Worker:
    def __init__(self, pipeline: Pipeline, settings: WorkerSettings, *,
                 clock: Callable[[], datetime] = utcnow, wake: threading.Event | None = None) -> None:
        self.pipeline = pipeline
        self.inbox: Inbox = pipeline.inbox
        self.settings = settings
        self.clock = clock
        self.wake = wake or threading.Event()

    def run_once(self) -> bool:
        """Claim and process one ticket's events; False when nothing was ready."""
        events = self.inbox.claim(self.clock(), self.settings.lease_seconds)
        if not events:
            return False
        ids = [e.id for e in events]
        attempts = max(e.attempts for e in events)
        try:
            with Lease(self.pipeline, events, self.settings.lease_seconds, clock=self.clock) as lease:
                self.pipeline.process(events, lease=lease)
        except NotFound as exc:
            metrics.EVENTS_FAILED.labels(type(exc).__name__).inc()
            if attempts < NOT_FOUND_ATTEMPTS:
                # A helpdesk may announce a ticket before its transaction is visible (Odoo 17/18
                # send webhooks before commit): look again shortly before giving up on it.
                metrics.EVENTS_RETRIED.inc(len(ids))
                delay = backoff_delay(attempts, self.settings)
                self.inbox.retry_later(ids, f"ticket not found (yet): {exc}", self.clock() + timedelta(seconds=delay))
                return True
            metrics.EVENTS_DEAD.inc(len(ids))
            self.inbox.dead(ids, f"ticket not found: {exc}", self.clock())
            log.warning("dead-lettered %s: %s", events[0].ticket_key, exc,
                        extra={"ticket": events[0].ticket_key, "delivery": events[0].delivery_id})
        except Exception as exc:  # noqa: BLE001 -- every failure is retried or dead-lettered
            metrics.EVENTS_FAILED.labels(type(exc).__name__).inc()
            retry_after = exc.retry_after if isinstance(exc, TransientError) else None
            error = f"{type(exc).__name__}: {exc}"
            if attempts >= self.settings.max_attempts:
                metrics.EVENTS_DEAD.inc(len(ids))
                self.inbox.dead(ids, error, self.clock())
                log.error("dead-lettered %s after %d attempts: %s", events[0].ticket_key, attempts,
                          error, extra={"ticket": events[0].ticket_key, "delivery": events[0].delivery_id})
            else:
                delay = backoff_delay(attempts, self.settings, retry_after)
                metrics.EVENTS_RETRIED.inc(len(ids))
                self.inbox.retry_later(ids, error, self.clock() + timedelta(seconds=delay))
                level = logging.WARNING if isinstance(exc, (TransientError, ConnectorError)) else logging.ERROR
                log.log(level, "attempt %d for %s failed, retry in %.1fs: %s", attempts,
                        events[0].ticket_key, delay, error, exc_info=level == logging.ERROR,
                        extra={"ticket": events[0].ticket_key, "delivery": events[0].delivery_id})
        return True

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
    """Worker threads plus the timer loop, started and stopped together."""

    def __init__(self, pipeline: Pipeline, settings: WorkerSettings, *, timers: bool = True,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.workers = [Worker(pipeline, settings, clock=clock, wake=self.wake) for _ in range(settings.threads)]
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

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout)
