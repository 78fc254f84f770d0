"""Durable webhook intake: verify, store, answer 202 -- with group commit.

Each request's event is handed to one writer thread that commits whatever has queued up in a
single transaction (``synchronous=FULL`` on SQLite), then answers every waiting request. Under
load that turns N fsyncs into one; alone, a request waits for exactly one commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kesu.store.inbox import Inbox, NewEvent

log = logging.getLogger(__name__)

_STOP = object()


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
        except Exception as exc:  # noqa: BLE001 -- every waiting request gets the error (-> 503)
            log.exception("inbox commit of %d event(s) failed", len(batch))
            _resolve(batch, None, exc)
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
