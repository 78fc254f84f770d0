"""Webhook delivery like Zammad's ``TriggerWebhookJob``: background, retried, signed.

* Each job is built *when it runs* (``prepare`` callback → records re-loaded, discarded when the
  trigger, webhook, ticket or article is gone).
* ``POST`` with ``Content-Type: application/json; charset=utf-8``, ``User-Agent: Zammad User
  Agent``, ``X-Zammad-Trigger``, ``X-Zammad-Delivery`` (same id on every retry), ``X-Hub-Signature:
  sha1=<hmac>`` only with a signature token, HTTP Basic auth when configured; redirects are not
  followed.
* Success is any 2xx; anything else (3xx/4xx/5xx, connection error, timeout) is retried: 5
  attempts in total, waiting ``attempt * 10 s`` (10, 20, 30, 40) times ``retry_scale``.
* Timeouts: ``open_timeout`` (connect, default 4 s) and ``read_timeout`` (default 30 s). Zammad's
  additional ``total_timeout`` of 60 s is not enforced.
* A small pool of worker threads; order between deliveries is not guaranteed (as in Zammad).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from .model import Job, PreparedDelivery


@dataclass
class DeliveryRecord:
    """One delivery attempt (or a discarded job)."""

    delivery_id: str
    trigger: str
    trigger_id: int
    webhook_id: int
    ticket_id: int
    article_id: int | None
    attempt: int
    endpoint: str | None
    status: int | None  # HTTP status, None on connection error / timeout / discard
    error: str | None
    ok: bool
    final: bool  # no further attempt will follow (success, discard or attempts exhausted)
    at: float  # time.time() when the attempt finished
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""


def signature(token: str, body: bytes) -> str:
    return "sha1=" + hmac.new(token.encode("utf-8"), body, hashlib.sha1).hexdigest()


class Dispatcher:
    def __init__(
        self,
        prepare: Callable[[Job], PreparedDelivery | None],
        *,
        workers: int = 4,
        retry_scale: float = 1.0,
        open_timeout: float = 4.0,
        read_timeout: float = 30.0,
        attempts: int = 5,
    ) -> None:
        self.prepare = prepare
        self.workers = max(1, workers)
        self.retry_scale = retry_scale
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.attempts = attempts
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._inflight = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._records: list[DeliveryRecord] = []
        self._local = threading.local()

    # ---------------------------------------------------------------------------- control

    def _ensure_started(self) -> None:
        if self._threads:
            return
        self._stopping = False
        for i in range(self.workers):
            th = threading.Thread(target=self._run, name=f"sandbox-webhook-{i}", daemon=True)
            th.start()
            self._threads.append(th)

    def enqueue(self, jobs: list[Job]) -> None:
        with self._cond:
            self._ensure_started()
            now = time.monotonic()
            for job in jobs:
                heapq.heappush(self._heap, (now, next(self._seq), job))
            self._cond.notify_all()

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the workers (queued jobs stay queued; a later ``enqueue`` restarts the pool)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            threads, self._threads = self._threads, []
        deadline = time.monotonic() + timeout
        for th in threads:
            th.join(max(0.0, deadline - time.monotonic()))

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._inflight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is queued, scheduled for retry or in flight."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    @property
    def records(self) -> list[DeliveryRecord]:
        with self._cond:
            return list(self._records)

    def clear_records(self) -> None:
        with self._cond:
            self._records.clear()

    # ----------------------------------------------------------------------------- worker

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._heap:
                        due = self._heap[0][0]
                        wait = due - time.monotonic()
                        if wait <= 0:
                            _, _, job = heapq.heappop(self._heap)
                            self._inflight += 1
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            try:
                retry = self._attempt(job)
            except Exception as exc:  # never let a worker die
                retry = None
                self._record(job, None, None, f"internal error: {exc!r}", False, True, {}, b"")
            with self._cond:
                self._inflight -= 1
                if retry is not None and not self._stopping:
                    heapq.heappush(self._heap, (time.monotonic() + retry, next(self._seq), job))
                self._cond.notify_all()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.trust_env = False  # never route sandbox deliveries through a proxy
            self._local.session = s
        return s

    def _attempt(self, job: Job) -> float | None:
        """Run one attempt; return the delay before the next attempt, or None when done."""
        prepared = self.prepare(job)
        if prepared is None:
            self._record(job, None, None, "discarded: trigger, webhook, ticket or article gone",
                         False, True, {}, b"")
            return None
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Zammad User Agent",
            "X-Zammad-Trigger": prepared.trigger_name,
            "X-Zammad-Delivery": job.delivery_id,
            "Connection": "close",
        }
        if prepared.signature_token:
            headers["X-Hub-Signature"] = signature(prepared.signature_token, prepared.body)
        status: int | None = None
        error: str | None = None
        # non-ASCII header values (a trigger named "质检") go out as raw UTF-8, not latin-1
        wire_headers = {k: (v if v.isascii() else v.encode("utf-8")) for k, v in headers.items()}
        try:
            resp = self._session().post(
                prepared.endpoint,
                data=prepared.body,
                headers=wire_headers,
                auth=prepared.basic_auth,
                timeout=(self.open_timeout, self.read_timeout),
                allow_redirects=False,
                verify=prepared.ssl_verify,
            )
            status = resp.status_code
            resp.close()
            ok = 200 <= status < 300
            if not ok:
                error = f"HTTP {status}"
        except requests.RequestException as exc:
            ok = False
            error = f"{type(exc).__name__}: {exc}"
        final = ok or job.attempt >= self.attempts
        self._record(job, prepared.endpoint, status, error, ok, final, headers, prepared.body)
        if final:
            return None
        delay = job.attempt * 10.0 * self.retry_scale
        job.attempt += 1
        return delay

    def _record(self, job: Job, endpoint: str | None, status: int | None, error: str | None,
                ok: bool, final: bool, headers: dict[str, str], body: bytes) -> None:
        rec = DeliveryRecord(
            delivery_id=job.delivery_id,
            trigger=job.trigger_name,
            trigger_id=job.trigger_id,
            webhook_id=job.webhook_id,
            ticket_id=job.ticket_id,
            article_id=job.article_id,
            attempt=job.attempt,
            endpoint=endpoint,
            status=status,
            error=error,
            ok=ok,
            final=final,
            at=time.time(),
            request_headers=dict(headers),
            request_body=body,
        )
        with self._cond:
            self._records.append(rec)
