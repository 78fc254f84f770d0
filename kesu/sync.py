"""Catch-up polling: queue every ticket changed since the kept cursor.

Webhooks can be lost (kesu down longer than Zammad's four retries, a trigger edited by hand).
A poll asks the helpdesk for tickets updated at or after the cursor and queues a ``poll`` event
for each, de-duplicated by (ticket, updated_at) so a ticket is never queued twice for one change.
Changes made by kesu's own bot user are not queued. The cursor only moves forward, to the
newest ``updated_at`` seen; the bound is inclusive, so a ticket updated in the same instant as
the cursor is seen again and dropped as a duplicate rather than missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connector.base import change_delivery_id
from kesu import metrics
from kesu.store import tickets as store
from kesu.store.db import utcnow
from kesu.store.inbox import NewEvent

DEFAULT_LOOKBACK = timedelta(hours=24)


@dataclass
class SyncResult:
    seen: int
    queued: int
    own: int
    cursor: str


def cursor_name(helpdesk: str) -> str:
    return f"poll:{helpdesk}"


def poll_once(services: Any, *, since: datetime | None = None,
              on_item: Callable[[], None] | None = None) -> SyncResult:
    settings = services.settings
    name = settings.helpdesk.name
    engine = services.engine
    connector = services.connector
    if since is None:
        kept = store.get_cursor(engine, cursor_name(name))
        since = datetime.fromisoformat(kept) if kept else utcnow() - DEFAULT_LOOKBACK
    bot = getattr(connector, "bot_user_id", None)
    prepare = getattr(connector, "prepare", None)
    if bot is None and prepare is not None:
        bot = prepare()  # learn kesu's own user id, so its own changes are not queued
    newest = since
    seen = queued = own = 0
    batch: list[NewEvent] = []
    now = utcnow()
    for change in connector.poll_updated(since):
        seen += 1
        if on_item is not None:
            on_item()
        if change.updated_at > newest:
            newest = change.updated_at
        if bot is not None and change.updated_by == str(bot):
            own += 1
            continue
        batch.append(NewEvent(helpdesk=name, ticket_id=change.ref.id, kind="updated", source="poll",
                              received_at=now, delivery_id=change_delivery_id(change.ref.id, change.updated_at),
                              payload={"actor": change.updated_by}))
        if len(batch) >= 200:
            queued += sum(1 for i in services.inbox.add_many(batch) if i is not None)
            batch.clear()
    if batch:
        queued += sum(1 for i in services.inbox.add_many(batch) if i is not None)
    store.set_cursor(engine, cursor_name(name), newest.isoformat(), utcnow())
    metrics.EVENTS_RECEIVED.labels("poll").inc(queued)
    return SyncResult(seen=seen, queued=queued, own=own, cursor=newest.isoformat())
