"""Durable webhook intake: verify, store, answer 202 -- with group commit.

Each request's event is handed to one writer thread that commits whatever has queued up in a
single transaction (``synchronous=FULL`` on SQLite), then answers every waiting request. Under
load that turns N fsyncs into one; alone, a request waits for exactly one commit. When a batch
fails, each of its events is retried in its own transaction, so one bad row fails alone.

``hint_problem`` checks what a connector made of a delivery before it is queued: ids fit their
columns (PostgreSQL refuses longer strings; SQLite would silently keep them) and are plain ASCII.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from connector.base import WebhookHint
from kesu.store.inbox import Inbox, NewEvent
from kesu.store.tables import inbox as inbox_table

log = logging.getLogger(__name__)

_STOP = object()

TICKET_ID_MAX = inbox_table.c.ticket_id.type.length  # 64
DELIVERY_ID_MAX = inbox_table.c.delivery_id.type.length  # 128
# One spelling per record: ASCII letters and digits first, no ":" (it separates the ticket key),
# no leading zeros on numbers ("007" and "7" would be two tickets), no zero or negative record
# ids. Unicode digits such as "²" or "٣" are refused here whatever a connector's int() made of them.
_ID = re.compile(r"(?:[1-9][0-9]*|[A-Za-z0-9]*[A-Za-z][A-Za-z0-9._@+-]*)")
_DELIVERY = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


def hint_problem(hint: WebhookHint) -> str | None:
    """Why this parsed delivery must not be queued (the 422 reason), or None when it may."""
    tid = hint.ref.id
    if len(tid) > TICKET_ID_MAX:
        return f"ticket id has {len(tid)} characters; at most {TICKET_ID_MAX} are accepted"
    if not _ID.fullmatch(tid):
        return f"ticket id {tid[:80]!r} is not a plain id (ASCII digits, or letters and digits)"
    if hint.delivery_id is not None:
        if len(hint.delivery_id) > DELIVERY_ID_MAX:
            return (f"delivery id (X-Zammad-Delivery or the connector's own) has {len(hint.delivery_id)} "
                    f"characters; at most {DELIVERY_ID_MAX} are accepted")
        if not _DELIVERY.fullmatch(hint.delivery_id):
            return f"delivery id {hint.delivery_id[:80]!r} must be printable ASCII without spaces"
    if hint.actor is not None and (len(hint.actor) > TICKET_ID_MAX or not _ID.fullmatch(hint.actor)):
        return f"the changing user's id {hint.actor[:80]!r} is not a plain id"
    return None


@dataclass
class _Item:
    event: NewEvent
    future: asyncio.Future[int | None]
    loop: asyncio.AbstractEventLoop


class GroupCommitWriter:
    def __init__(self, inbox: Inbox, *, max_batch: int = 512,
                 on_commit: Callable[[int], None] | None = None) -> None:
        self.inbox = inbox
        self.max_batch = max_batch
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kesu-intake-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(10)
            self._thread = None

    async def submit(self, event: NewEvent) -> int | None:
        """Store the event durably; its inbox id, or None when the delivery was seen before."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int | None] = loop.create_future()
        self._queue.put(_Item(event, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch: list[_Item] = [first]  # type: ignore[list-item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Item]) -> None:
        try:
            ids = self.inbox.add_many([i.event for i in batch])
        except Exception as exc:  # noqa: BLE001 -- retried one by one below
            if len(batch) == 1:
                log.exception("inbox commit of 1 event failed")
                _resolve(batch, None, exc)  # -> 503: the helpdesk retries
                return
            # One bad row must not refuse its neighbours: commit each alone, so only the events
            # that fail by themselves get the error.
            log.warning("inbox commit of %d events failed (%s); storing them one by one", len(batch), exc)
            for item in batch:
                self._commit([item])
            return
        _resolve(batch, ids, None)
        if self.on_commit is not None:
            self.on_commit(sum(1 for i in ids if i is not None))


def _resolve(batch: list[_Item], ids: list[int | None] | None, exc: BaseException | None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int | None], int | None]]] = {}
    for n, item in enumerate(batch):
        by_loop.setdefault(item.loop, []).append((item.future, ids[n] if ids is not None else None))

    for loop, pairs in by_loop.items():
        def settle(pairs: list[tuple[asyncio.Future[int | None], int | None]] = pairs) -> None:
            for fut, value in pairs:
                if fut.done():
                    continue
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(value)

        loop.call_soon_threadsafe(settle)


def webhook_openapi(kind: str) -> dict[str, object]:
    """The OpenAPI path item of ``POST /webhooks/{hook_kind}`` (a plain Starlette route for speed,
    so FastAPI does not describe it): documents the intake and lets API fuzzers reach it."""
    error = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string", "description": "Why the delivery was refused"},
        "rejected_id": {"type": "integer", "description": "The refused delivery as kept (kesu inbox rejected)"}}}

    def answer(description: str, schema: dict[str, object]) -> dict[str, object]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    return {"post": {
        "tags": ["intake"],
        "summary": "The helpdesk's webhook: verified, stored durably, answered 202",
        "operationId": "webhook",
        "description": ("Zammad signs the body (`X-Hub-Signature: sha1=<HMAC-SHA1 hex>` with the webhook "
                        "secret); Odoo sends the shared secret as `?token=` or in a header. Refused deliveries "
                        "are kept with their reason (`kesu inbox rejected`)."),
        "parameters": [
            {"name": "hook_kind", "in": "path", "required": True, "schema": {"type": "string", "enum": [kind]},
             "description": f"The helpdesk kind this kesu serves ({kind!r}); others get 404"},
            {"name": "X-Hub-Signature", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "Zammad: sha1=<hex HMAC-SHA1 of the body>"},
            {"name": "X-Zammad-Delivery", "in": "header", "required": False, "schema": {"type": "string"},
             "description": f"Zammad's delivery id (printable ASCII, at most {DELIVERY_ID_MAX} characters)"},
            {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Odoo: the shared webhook secret"},
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": {
            "202": answer("Stored; processed in the background", {"type": "object", "required": ["status", "id"],
                          "properties": {"status": {"type": "string"}, "id": {"type": "integer"}}}),
            "200": answer("A delivery seen before; stored once", {"type": "object", "properties": {
                "status": {"type": "string"}, "delivery": {"type": "string"}}}),
            "401": answer("Missing or wrong signature or secret", error),
            "404": answer("No webhook for this helpdesk kind here", error),
            "413": answer("Body over [server] max_body_bytes", error),
            "422": answer("The payload is not a delivery kesu can queue", error),
            "503": answer("The store did not answer; retry later", error),
        },
    }}
