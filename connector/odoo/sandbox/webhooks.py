"""Webhook sending like ``ir.actions.server._run_action_webhook`` (Odoo 17+).

* ``POST <webhook_url>`` with only ``Content-Type: application/json`` (no signature, no auth), the
  body built by the automation inside the transaction (``json.dumps(vals, sort_keys=True,
  default=str)``);
* ``requests.post(..., timeout=1)``: "send and forget" — a timeout, a connection error or an
  error status is *logged* and that is all: **no retry**, no queue;
* the caller waits for the POST (17/18 inline during the transaction, 19 after commit), so a slow
  receiver slows down the write that triggered it by up to one second.

``drop_rate`` (sandbox fault) loses that share of sends without any attempt, as if the network
ate them; the reconciliation path (polling ``write_date``) must recover those.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

import requests

from .model import Delivery

_logger = logging.getLogger("connector.odoo.sandbox.webhooks")


@dataclass
class DeliveryRecord:
    """One webhook send (or a dropped one)."""

    automation_id: int
    automation: str
    action_id: int
    action: str
    model: str
    res_id: int
    url: str
    body: bytes
    mode: str  # "inline" | "postcommit"
    status: int | None  # HTTP status; None on timeout / connection error / drop
    ok: bool
    error: str | None
    dropped: bool
    duration: float  # seconds spent sending
    at: float  # time.time() when the send finished
    request_headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> object:
        import json  # noqa: PLC0415

        return json.loads(self.body)


class WebhookSender:
    def __init__(self, *, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._records: list[DeliveryRecord] = []
        self._inflight = 0
        self._drop_rate = 0.0
        self._rng = random.Random()

    # ----------------------------------------------------------------------- faults

    def drop(self, rate: float, seed: int | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._cond:
            self._drop_rate = rate
            self._rng = random.Random(seed)

    def _should_drop(self) -> bool:
        with self._cond:
            return self._drop_rate > 0 and self._rng.random() < self._drop_rate

    # ------------------------------------------------------------------------ sends

    def begin(self, n: int = 1) -> None:
        with self._cond:
            self._inflight += n

    def end(self, n: int = 1) -> None:
        with self._cond:
            self._inflight -= n
            self._cond.notify_all()

    def send(self, delivery: Delivery) -> DeliveryRecord:
        headers = {"Content-Type": "application/json"}
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        ok = False
        dropped = self._should_drop()
        if dropped:
            error = "dropped (sandbox fault)"
        else:
            session = requests.Session()
            session.trust_env = False  # never through a proxy from the environment
            try:
                response = session.post(delivery.url, data=delivery.body, headers=headers, timeout=self.timeout)
                status = response.status_code
                response.close()
                response.raise_for_status()
                ok = True
            except requests.exceptions.ReadTimeout:
                error = "ReadTimeout"
                _logger.warning("Webhook call timed out after %ss - it may or may not have failed.", self.timeout)
            except requests.exceptions.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
                _logger.warning("Webhook call failed: %s", exc)
            finally:
                session.close()
        record = DeliveryRecord(
            automation_id=delivery.automation_id, automation=delivery.automation, action_id=delivery.action_id,
            action=delivery.action, model=delivery.model, res_id=delivery.res_id, url=delivery.url,
            body=delivery.body, mode=delivery.mode, status=status, ok=ok, error=error, dropped=dropped,
            duration=time.monotonic() - started, at=time.time(), request_headers=headers,
        )
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()
        return record

    # ---------------------------------------------------------------------- records

    @property
    def records(self) -> list[DeliveryRecord]:
        with self._cond:
            return list(self._records)

    def clear(self) -> None:
        with self._cond:
            self._records.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def wait_for(self, n: int, timeout: float = 10.0) -> list[DeliveryRecord]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._records) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.05))
            return list(self._records)
