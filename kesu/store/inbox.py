"""The event inbox: durable, at-least-once, in order per ticket.

An event is ``pending`` until a worker claims it (``processing`` with a lease), then ``done``,
``skipped`` (kesu caused it) or, after too many failures, ``dead``. A claim takes the oldest ready
event whose ticket has nothing older waiting or in progress, together with every other ready
webhook/poll event of that ticket (they are all "ticket X changed" hints, so one fresh read covers
them) -- but none queued behind a pending timer event of the ticket, which runs first. Timer events
are claimed one at a time because each carries its own payload. A worker that dies leaves its
lease to expire; ``reap`` hands the events back; one that stops gracefully hands back what it
could not finish (``hand_back``).

Across processes: on PostgreSQL the candidate row is locked ``FOR UPDATE SKIP LOCKED`` and a
ticket with an older event pending or any event processing is never a candidate (a claim in
flight is seen as pending by the others' snapshots, so it excludes its ticket too); on SQLite
every transaction is ``BEGIN IMMEDIATE``, so claims are serialised. Either way one ticket's events
run one claim at a time, in id order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from kesu.store.db import as_utc, is_sqlite, transaction
from kesu.store.tables import inbox, rejected_webhooks

HINT_SOURCES = ("webhook", "poll")


@dataclass(frozen=True)
class NewEvent:
    helpdesk: str
    ticket_id: str
    kind: str
    source: str
    received_at: datetime
    delivery_id: str | None = None
    payload: dict[str, Any] | None = None
    status: str = "pending"  # "skipped" for events kesu itself caused

    @property
    def ticket_key(self) -> str:
        return f"{self.helpdesk}:{self.ticket_id}"


@dataclass(frozen=True)
class InboxEvent:
    id: int
    helpdesk: str
    ticket_id: str
    ticket_key: str
    kind: str
    source: str
    delivery_id: str | None
    received_at: datetime
    attempts: int
    payload: dict[str, Any]


#: The inbox columns a new event fills (``_row_values``), in the SQLite fast path's order.
_COLUMNS = ("helpdesk", "ticket_id", "ticket_key", "kind", "source", "delivery_id", "received_at",
            "available_at", "status", "attempts", "payload", "finished_at")
_SQLITE_MAX_PARAMS = 32_000  # SQLite >= 3.32 takes 32,766 parameters per statement


_MARK_DONE = (update(inbox).where(inbox.c.id.in_(bindparam("ids", expanding=True)))
              .values(status="done", finished_at=bindparam("done_at", type_=inbox.c.finished_at.type),
                      lease_until=None, last_error=None))


def _row_values(e: NewEvent) -> dict[str, Any]:
    return {
        "helpdesk": e.helpdesk,
        "ticket_id": e.ticket_id,
        "ticket_key": e.ticket_key,
        "kind": e.kind,
        "source": e.source,
        "delivery_id": e.delivery_id,
        "received_at": e.received_at,
        "available_at": e.received_at,
        "status": e.status,
        "attempts": 0,
        "payload": e.payload or {},
        "finished_at": e.received_at if e.status != "pending" else None,
    }


class Inbox:
    def __init__(self, engine: Engine, helpdesk: str | None = None) -> None:
        """:param helpdesk: claim only this helpdesk instance's events (a database may hold
            another's, reused or from before a rename); ``None`` claims every helpdesk's."""
        self.engine = engine
        self.helpdesk = helpdesk
        self._sqlite = is_sqlite(engine)
        dialect = sqlite if self._sqlite else postgresql
        self._insert = dialect.insert(inbox).on_conflict_do_nothing(
            index_elements=["helpdesk", "delivery_id"]
        ).returning(inbox.c.id)
        self._dialect_insert = dialect.insert
        self._bind_procs: list[Any] | None = None  # the SQLite fast path's value converters
        self._candidate = self._candidate_query()
        self._claim_update = {
            hint: self._claim_update_query(hint) for hint in (True, False)
        }

    # -- intake ------------------------------------------------------------------------------------

    def add_many(self, events: Sequence[NewEvent]) -> list[int | None]:
        """Store events in one transaction; ``None`` for a delivery already stored (duplicate).

        One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` when every event has a
        delivery id (the webhook case); duplicates -- earlier ones or within the batch -- are
        recognised by their delivery id.
        """
        if not events:
            return []
        keyed = all(e.delivery_id is not None for e in events) and len({e.helpdesk for e in events}) == 1
        with self.engine.begin() as conn:
            if not keyed:
                return [self._insert_one(conn, e) for e in events]
            if self._sqlite and len(events) * len(_COLUMNS) <= _SQLITE_MAX_PARAMS:
                return self._add_many_sqlite(conn, events)
            stmt = (self._dialect_insert(inbox).values([_row_values(e) for e in events])
                    .on_conflict_do_nothing(index_elements=["helpdesk", "delivery_id"])
                    .returning(inbox.c.id, inbox.c.delivery_id))
            stored = {delivery: row_id for row_id, delivery in conn.execute(stmt)}
        ids: list[int | None] = []
        for e in events:
            ids.append(stored.pop(e.delivery_id, None))  # a second copy in the batch gets None
        return ids

    def _add_many_sqlite(self, conn: Any, events: Sequence[NewEvent]) -> list[int | None]:
        """``add_many``'s statement on SQLite's own cursor: the intake's group commit runs it for
        every batch of webhooks, and SQLAlchemy's statement building and row handling cost several
        times what SQLite does (values converted by the columns' own bind processors, so the rows
        are stored exactly as through SQLAlchemy)."""
        procs = self._bind_procs
        if procs is None:
            dialect = self.engine.dialect
            procs = self._bind_procs = [inbox.c[c].type.dialect_impl(dialect).bind_processor(dialect)
                                        for c in _COLUMNS]
        params: list[Any] = []
        for e in events:
            values = _row_values(e)
            params.extend(v if p is None else p(v) for v, p in zip((values[c] for c in _COLUMNS), procs))
        row = "(" + ", ".join("?" * len(_COLUMNS)) + ")"
        sql = (f"INSERT INTO inbox ({', '.join(_COLUMNS)}) VALUES {', '.join([row] * len(events))} "
               "ON CONFLICT (helpdesk, delivery_id) DO NOTHING RETURNING id, delivery_id")
        cursor = conn.connection.driver_connection.cursor()
        try:
            stored = {delivery: row_id for row_id, delivery in cursor.execute(sql, params).fetchall()}
        finally:
            cursor.close()
        return [stored.pop(e.delivery_id, None) for e in events]  # a second copy in the batch: None

    def _insert_one(self, conn: Any, e: NewEvent) -> int | None:
        row = conn.execute(self._insert, _row_values(e)).first()
        return row[0] if row else None

    def add(self, event: NewEvent) -> int | None:
        return self.add_many([event])[0]

    def reject(self, *, helpdesk: str, status_code: int, reason: str, headers: dict[str, str],
               body: bytes, at: datetime) -> int:
        return self.reject_within(helpdesk=helpdesk, status_code=status_code, reason=reason,
                                  headers=headers, body=body, at=at)[0]

    def reject_within(self, *, helpdesk: str, status_code: int, reason: str, headers: dict[str, str],
                      body: bytes, at: datetime, keep: int | None = None,
                      since: datetime | None = None) -> tuple[int, int]:
        """Keep a rejected delivery; then delete all but the newest ``keep`` ones and those
        received before ``since`` (a flood of bad posts must not fill the disk). Returns the new
        row's id and how many old rows were deleted."""
        t = rejected_webhooks.c
        with self.engine.begin() as conn:
            row_id = conn.execute(
                insert(rejected_webhooks).returning(t.id),
                {"received_at": at, "helpdesk": helpdesk, "status_code": status_code,
                 "reason": reason, "headers": headers, "body": body},
            ).scalar_one()
            doomed = []
            if keep is not None:
                oldest_kept = conn.execute(select(t.id).order_by(t.id.desc()).offset(max(keep, 1) - 1)
                                           .limit(1)).scalar()
                if oldest_kept is not None:
                    doomed.append(t.id < oldest_kept)
            if since is not None:
                doomed.append(t.received_at < since)
            pruned = conn.execute(delete(rejected_webhooks).where(or_(*doomed))).rowcount if doomed else 0
        return row_id, pruned

    def rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(rejected_webhooks).order_by(rejected_webhooks.c.id.desc()).limit(limit)
            ).mappings()
            return [dict(r) for r in rows]

    # -- claiming ----------------------------------------------------------------------------------

    def _candidate_query(self) -> Any:
        e = inbox.alias("e")
        older = aliased(inbox)
        busy = aliased(inbox)
        # Built once (statement compilation cost milliseconds per claim). The (status, id) index
        # lets the database walk pending events in id order and stop at the first ready one.
        q = (
            select(e.c.id, e.c.ticket_key, e.c.source)
            .where(e.c.status == "pending", e.c.available_at <= bindparam("now"))
            .where(~exists().where(and_(older.c.ticket_key == e.c.ticket_key, older.c.id < e.c.id,
                                        older.c.status.in_(("pending", "processing")))))
            .where(~exists().where(and_(busy.c.ticket_key == e.c.ticket_key,
                                        busy.c.status == "processing")))
            .order_by(e.c.id)
            .limit(1)
        )
        if self.helpdesk is not None:
            q = q.where(e.c.helpdesk == self.helpdesk)
        if not self._sqlite:
            q = q.with_for_update(skip_locked=True, of=e)
        return q

    @staticmethod
    def _claim_update_query(hint: bool) -> Any:
        cond = inbox.c.id == bindparam("first_id")
        if hint:
            # The ticket's other ready hints join the claim, but none queued behind an event that
            # is not a hint (a timer): that one runs first, and the hints after it after it.
            barrier = inbox.alias("barrier")
            cond = or_(cond, and_(
                inbox.c.ticket_key == bindparam("key"), inbox.c.status == "pending",
                inbox.c.available_at <= bindparam("now"), inbox.c.source.in_(HINT_SOURCES),
                ~exists().where(and_(barrier.c.ticket_key == bindparam("key"),
                                     barrier.c.status == "pending", barrier.c.id < inbox.c.id,
                                     barrier.c.source.notin_(HINT_SOURCES)))))
        return (
            update(inbox)
            .where(cond, inbox.c.status == "pending")
            .values(status="processing", lease_until=bindparam("lease"), attempts=inbox.c.attempts + 1)
            .returning(inbox.c.id, inbox.c.helpdesk, inbox.c.ticket_id, inbox.c.ticket_key,
                       inbox.c.kind, inbox.c.source, inbox.c.delivery_id, inbox.c.received_at,
                       inbox.c.attempts, inbox.c.payload)
        )

    def claim(self, now: datetime, lease_seconds: float) -> list[InboxEvent]:
        """Claim the next ready ticket's events (see module docstring); [] when none is ready."""
        lease = now + timedelta(seconds=lease_seconds)
        # Not durable: a claim lost in a machine crash leaves its events pending, as if never claimed.
        with transaction(self.engine, durable=False) as conn:
            first = conn.execute(self._candidate, {"now": now}).first()
            if first is None:
                return []
            hint = first.source in HINT_SOURCES
            rows = conn.execute(self._claim_update[hint],
                                {"first_id": first.id, "key": first.ticket_key, "now": now, "lease": lease}).all()
        events = [
            InboxEvent(id=r.id, helpdesk=r.helpdesk, ticket_id=r.ticket_id, ticket_key=r.ticket_key,
                       kind=r.kind, source=r.source, delivery_id=r.delivery_id,
                       received_at=as_utc(r.received_at),  # type: ignore[arg-type]
                       attempts=r.attempts, payload=r.payload or {})
            for r in rows
        ]
        return sorted(events, key=lambda ev: ev.id)

    # -- outcomes ----------------------------------------------------------------------------------

    @staticmethod
    def mark_done_stmt(ids: Iterable[int], now: datetime) -> Any:
        return (update(inbox).where(inbox.c.id.in_(list(ids)))
                .values(status="done", finished_at=now, lease_until=None, last_error=None))

    @staticmethod
    def mark_done(conn: Any, ids: Iterable[int], now: datetime) -> None:
        """Mark events done in the caller's transaction (the statement built once)."""
        conn.execute(_MARK_DONE, {"ids": list(ids), "done_at": now})

    def done(self, ids: Iterable[int], now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.mark_done_stmt(ids, now))

    def retry_later(self, ids: Iterable[int], error: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(inbox).where(inbox.c.id.in_(list(ids)))
                         .values(status="pending", available_at=at, lease_until=None,
                                 last_error=error[:2000]))

    def dead(self, ids: Iterable[int], error: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(inbox).where(inbox.c.id.in_(list(ids)))
                         .values(status="dead", finished_at=now, lease_until=None,
                                 last_error=error[:2000]))

    def renew(self, claims: dict[int, int], until: datetime) -> int:
        """Extend the lease of events this worker still holds (heartbeat of a long claim).

        ``claims``: event id -> ``attempts`` as the claim left it; an event reaped and claimed
        again since has a higher count and is not touched. Returns how many were renewed.
        """
        if not claims:
            return 0
        stmt = (update(inbox)
                .where(inbox.c.id == bindparam("event_id"), inbox.c.status == "processing",
                       inbox.c.attempts == bindparam("claimed_attempts"))
                .values(lease_until=bindparam("until")))
        renewed = 0
        with self.engine.begin() as conn:
            for event_id, attempts in claims.items():
                renewed += conn.execute(stmt, {"event_id": event_id, "claimed_attempts": attempts,
                                               "until": until}).rowcount
        return renewed

    def hand_back(self, claims: dict[int, int], now: datetime) -> int:
        """Return events this worker still holds to the queue, ready at once (a worker stopping
        before it finished them). ``claims`` as for :meth:`renew`. Returns how many."""
        if not claims:
            return 0
        stmt = (update(inbox)
                .where(inbox.c.id == bindparam("event_id"), inbox.c.status == "processing",
                       inbox.c.attempts == bindparam("claimed_attempts"))
                .values(status="pending", available_at=bindparam("now"), lease_until=None,
                        last_error="handed back: the worker stopped before finishing"))
        handed = 0
        with self.engine.begin() as conn:
            for event_id, attempts in claims.items():
                handed += conn.execute(stmt, {"event_id": event_id, "claimed_attempts": attempts,
                                              "now": now}).rowcount
        return handed

    def reap(self, now: datetime) -> int:
        """Hand back events whose worker's lease ran out (the worker died or hung)."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(inbox).where(inbox.c.status == "processing", inbox.c.lease_until < now)
                .values(status="pending", available_at=now, lease_until=None,
                        last_error="lease expired (worker stopped mid-event)")
            ).rowcount

    # -- admin -------------------------------------------------------------------------------------

    def depth(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status)).all()
        counts = {"pending": 0, "processing": 0, "done": 0, "skipped": 0, "dead": 0}
        counts.update({status: n for status, n in rows})
        return counts

    def pending_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(inbox).where(inbox.c.status.in_(("pending", "processing")))
            ).scalar_one()

    def list(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        q = select(inbox).order_by(inbox.c.id.desc()).limit(limit)
        if status:
            q = q.where(inbox.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def retry_dead(self, ids: Iterable[int] | None, now: datetime) -> int:
        """Put dead-lettered events back in the queue (all of them when ``ids`` is None)."""
        q = update(inbox).where(inbox.c.status == "dead")
        if ids is not None:
            q = q.where(inbox.c.id.in_(list(ids)))
        with self.engine.begin() as conn:
            return conn.execute(q.values(status="pending", available_at=now, attempts=0,
                                         finished_at=None)).rowcount
