"""Per-ticket records: policy state, the write outbox, timers, the audit log, cursors.

Functions taking ``conn`` run inside the caller's transaction, so one event's state, audit
entries, timers, ledger rows and outbox row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functools import cache

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from kesu.store.db import as_utc, is_sqlite
from kesu.store.tables import (
    audit_log,
    complaints,
    cursors,
    followups,
    inbox,
    ledger,
    outbox,
    ticket_state,
    timers,
)


def _dialect_insert(conn: Connection, table: Any) -> Any:
    return (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(table)


# Statements of the per-event path, built once (building a Core statement costs more than running
# it on SQLite); values come as bound parameters.
_LOAD_STATE = select(ticket_state.c.state, ticket_state.c.version).where(
    ticket_state.c.ticket_key == bindparam("key"))
_INSERT_STATE = insert(ticket_state)
_UPDATE_STATE = (update(ticket_state)
                 .where(ticket_state.c.ticket_key == bindparam("key"), ticket_state.c.version == bindparam("old"))
                 .values(state=bindparam("state", type_=ticket_state.c.state.type), version=bindparam("new"),
                         updated_at=bindparam("now", type_=ticket_state.c.updated_at.type)))
_INSERT_OUTBOX = insert(outbox).returning(outbox.c.id)
_PENDING_OUTBOX = (select(outbox.c.id, outbox.c.ticket_key, outbox.c.marker, outbox.c.writes, outbox.c.attempts,
                          outbox.c.notifications)
                   .where(outbox.c.ticket_key == bindparam("key"), outbox.c.status == "pending")
                   .order_by(outbox.c.id))
_MARK_OUTBOX = (update(outbox).where(outbox.c.id == bindparam("outbox_id"))
                .values(status=bindparam("status"), calls=bindparam("calls"),
                        applied_at=bindparam("applied_at", type_=outbox.c.applied_at.type),
                        attempts=outbox.c.attempts + 1, last_error=bindparam("error")))
_CANCEL_TIMER = (update(timers)
                 .where(timers.c.ticket_key == bindparam("t_ticket"), timers.c.plugin == bindparam("t_plugin"),
                        timers.c.key == bindparam("t_key"), timers.c.status == "scheduled")
                 .values(status="cancelled"))
_LOAD_COMPLAINT = select(complaints).where(complaints.c.ticket_key == bindparam("key"))
_HAS_COMPLAINT = select(complaints.c.ticket_key).where(complaints.c.ticket_key == bindparam("key"))
_INSERT_COMPLAINT = insert(complaints)


@cache
def _schedule_timer_stmt(dialect: str) -> Any:
    stmt = (sqlite if dialect == "sqlite" else postgresql).insert(timers).values(
        ticket_key=bindparam("t_ticket"), plugin=bindparam("t_plugin"), key=bindparam("t_key"),
        rule_id=bindparam("t_rule"), due_at=bindparam("t_due", type_=timers.c.due_at.type),
        payload=bindparam("t_payload", type_=timers.c.payload.type), status="scheduled",
        created_at=bindparam("t_now", type_=timers.c.created_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["ticket_key", "plugin", "key"],
        set_={"due_at": stmt.excluded.due_at, "payload": stmt.excluded.payload, "rule_id": stmt.excluded.rule_id,
              "status": "scheduled", "fired_at": None},
    )


@cache
def _update_complaint_stmt(columns: tuple[str, ...]) -> Any:
    return (update(complaints).where(complaints.c.ticket_key == bindparam("key"))
            .values({c: bindparam(f"v_{c}", type_=complaints.c[c].type) for c in columns}))


# -- ticket state ------------------------------------------------------------------------------


def load_state(conn: Connection, key: str) -> tuple[dict[str, Any], int]:
    row = conn.execute(_LOAD_STATE, {"key": key}).first()
    if row is None:
        return {}, 0
    return dict(row.state), row.version


def save_state(conn: Connection, key: str, state: dict[str, Any], version: int, now: datetime) -> None:
    """Write the state; ``version`` is what ``load_state`` returned (0 = new)."""
    if version == 0:
        conn.execute(_INSERT_STATE, {"ticket_key": key, "state": state, "version": 1, "updated_at": now})
        return
    result = conn.execute(_UPDATE_STATE, {"key": key, "old": version, "state": state, "new": version + 1,
                                          "now": now})
    if result.rowcount != 1:
        raise StaleState(f"ticket state of {key} changed concurrently (version {version})")


class StaleState(RuntimeError):
    """Two workers processed one ticket at once; the transaction is rolled back and retried."""


# -- outbox ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    id: int
    ticket_key: str
    marker: str
    writes: dict[str, Any]
    attempts: int
    notifications: tuple[dict[str, Any], ...] = ()  # Notify effects (JSON) decided with the write


def add_outbox(conn: Connection, *, key: str, event_id: int | None, marker: str,
               writes: dict[str, Any], now: datetime, held_until: datetime | None = None,
               notifications: list[dict[str, Any]] | None = None) -> int:
    """A decided write, pending until applied. ``held_until``: the worker that decided it applies
    it now and holds it until then (``applied_at`` of a pending row is its hold); nobody else
    applies it before (``take_outbox``). ``notifications``: the Notify effects first decided with
    it, handed to the ``kesu_notify`` hook once the write is on the ticket."""
    return conn.execute(
        _INSERT_OUTBOX,
        {"ticket_key": key, "event_id": event_id, "marker": marker, "writes": writes,
         "status": "pending", "attempts": 0, "created_at": now, "applied_at": held_until,
         "notifications": notifications or None},
    ).scalar_one()


def take_outbox(conn: Connection, outbox_id: int, *, now: datetime, until: datetime) -> bool:
    """Hold a pending write to finish it: False when another worker holds it (it is applying it
    right now, its claim on the ticket's events may have lapsed meanwhile)."""
    result = conn.execute(
        update(outbox)
        .where(outbox.c.id == outbox_id, outbox.c.status == "pending",
               (outbox.c.applied_at.is_(None)) | (outbox.c.applied_at < now))
        .values(applied_at=until)
    )
    return result.rowcount == 1


def release_outbox(conn: Connection, outbox_id: int) -> None:
    """Give up the hold on a pending write whose apply failed: the retry may take it at once."""
    conn.execute(update(outbox).where(outbox.c.id == outbox_id, outbox.c.status == "pending")
                 .values(applied_at=None))


def renew_outbox(conn: Connection, outbox_id: int, until: datetime) -> bool:
    """Extend the hold on a pending write this worker is still applying (a slow helpdesk)."""
    result = conn.execute(update(outbox).where(outbox.c.id == outbox_id, outbox.c.status == "pending")
                          .values(applied_at=until))
    return result.rowcount == 1


def pending_outbox(conn: Connection, key: str) -> list[OutboxRow]:
    rows = conn.execute(_PENDING_OUTBOX, {"key": key}).all()
    return [OutboxRow(r.id, r.ticket_key, r.marker, dict(r.writes), r.attempts, tuple(r.notifications or ()))
            for r in rows]


def mark_outbox(conn: Connection, outbox_id: int, *, status: str, calls: int | None,
                now: datetime, error: str | None = None) -> None:
    conn.execute(_MARK_OUTBOX, {"outbox_id": outbox_id, "status": status, "calls": calls,
                                "applied_at": now if status == "applied" else None, "error": error})


# -- timers ------------------------------------------------------------------------------------


def schedule_timer(conn: Connection, *, key: str, plugin: str, timer_key: str, rule_id: str,
                   due_at: datetime, payload: dict[str, Any], now: datetime) -> None:
    schedule_timers(conn, [{"key": key, "plugin": plugin, "timer_key": timer_key, "rule_id": rule_id,
                            "due_at": due_at, "payload": payload, "now": now}])


def schedule_timers(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Schedule (or move) several timers with one statement; each row as ``schedule_timer``'s
    arguments (``key``, ``plugin``, ``timer_key``, ``rule_id``, ``due_at``, ``payload``, ``now``)."""
    if rows:
        conn.execute(_schedule_timer_stmt(conn.dialect.name), [
            {"t_ticket": r["key"], "t_plugin": r["plugin"], "t_key": r["timer_key"], "t_rule": r["rule_id"],
             "t_due": r["due_at"], "t_payload": r["payload"], "t_now": r["now"]} for r in rows])


def cancel_timer(conn: Connection, *, key: str, plugin: str, timer_key: str) -> None:
    conn.execute(_CANCEL_TIMER, {"t_ticket": key, "t_plugin": plugin, "t_key": timer_key})


def fire_due_timers(engine: Engine, now: datetime, limit: int = 500, *,
                    helpdesk: str | None = None) -> int:
    """Turn due timers into inbox events (one transaction); returns how many fired.

    ``helpdesk``: fire only timers of this helpdesk instance's tickets (keys ``<helpdesk>:<id>``);
    another's timers in a shared or reused database are left alone.
    """
    with engine.begin() as conn:
        q = (select(timers).where(timers.c.status == "scheduled", timers.c.due_at <= now)
             .order_by(timers.c.due_at).limit(limit))
        if helpdesk is not None:
            q = q.where(timers.c.ticket_key.startswith(f"{helpdesk}:", autoescape=True))
        if not is_sqlite(engine):
            q = q.with_for_update(skip_locked=True)
        due = conn.execute(q).mappings().all()
        for t in due:
            helpdesk, _, ticket_id = t["ticket_key"].partition(":")
            due_at = as_utc(t["due_at"])
            assert due_at is not None
            conn.execute(
                _dialect_insert(conn, inbox).on_conflict_do_nothing(index_elements=["helpdesk", "delivery_id"]),
                {"helpdesk": helpdesk, "ticket_id": ticket_id, "ticket_key": t["ticket_key"],
                 "kind": "timer_fired", "source": "timer",
                 "delivery_id": f"timer:{t['id']}:{due_at.isoformat()}",
                 "received_at": now, "available_at": now, "status": "pending", "attempts": 0,
                 "payload": {"timer_key": t["key"], "plugin": t["plugin"], "rule_id": t["rule_id"],
                             "due_at": due_at.isoformat(), "payload": t["payload"]}},
            )
            conn.execute(update(timers).where(timers.c.id == t["id"]).values(status="fired", fired_at=now))
        return len(due)


def list_timers(engine: Engine, key: str | None = None, status: str | None = "scheduled") -> list[dict[str, Any]]:
    q = select(timers).order_by(timers.c.due_at)
    if key:
        q = q.where(timers.c.ticket_key == key)
    if status:
        q = q.where(timers.c.status == status)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


# -- audit, ledger -----------------------------------------------------------------------------


def add_audit(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        conn.execute(insert(audit_log), rows)


def audit_for(engine: Engine, key: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        q = select(audit_log).where(audit_log.c.ticket_key == key).order_by(audit_log.c.id)
        return [dict(r) for r in conn.execute(q).mappings()]


def add_ledger(conn: Connection, rows: Iterable[dict[str, Any]]) -> int:
    """Append entries; an entry whose ``dedupe_key`` exists already is skipped. Returns added."""
    added = 0
    # RETURNING counts what was inserted: psycopg reports rowcount -1 for ON CONFLICT DO NOTHING.
    stmt = (_dialect_insert(conn, ledger).on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(ledger.c.id))
    for row in rows:
        added += len(conn.execute(stmt, {"dedupe_key": None, **row}).all())
    return added


# -- complaint records -------------------------------------------------------------------------

RECORD_COLUMNS = {c.name for c in complaints.c} - {"ticket_key", "updated_at"}


def load_complaint(conn: Connection, key: str) -> dict[str, Any]:
    """The ticket's complaint record as policies see it: columns, with ``extra`` keys flattened."""
    row = conn.execute(_LOAD_COMPLAINT, {"key": key}).mappings().first()
    if row is None:
        return {}
    record = {k: v for k, v in row.items() if k not in ("ticket_key", "updated_at", "extra") and v is not None}
    return {**(row["extra"] or {}), **record}


def save_complaint(conn: Connection, key: str, record: dict[str, Any], now: datetime) -> None:
    """Write the whole record: known keys to their columns, the rest to ``extra``."""
    values: dict[str, Any] = {c: None for c in RECORD_COLUMNS}
    extra: dict[str, Any] = {}
    for k, v in record.items():
        if k in RECORD_COLUMNS and k != "extra":
            values[k] = v
        elif k != "extra":
            extra[k] = _jsonable(v)
    values["extra"] = extra
    values["updated_at"] = now
    for k in ("received_at", "resolved_at"):
        if isinstance(values.get(k), str):
            values[k] = datetime.fromisoformat(values[k])
    exists = conn.execute(_HAS_COMPLAINT, {"key": key}).first()
    if exists is None:
        conn.execute(_INSERT_COMPLAINT, {"ticket_key": key, **values})
    else:
        columns = tuple(sorted(values))
        conn.execute(_update_complaint_stmt(columns), {"key": key, **{f"v_{c}": values[c] for c in columns}})


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def get_complaint(engine: Engine, key: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(complaints).where(complaints.c.ticket_key == key)).mappings().first()
        return dict(row) if row else None


# -- follow-ups --------------------------------------------------------------------------------


def add_followup(conn: Connection, *, key: str, rule_id: str, resolved_at: datetime, due_at: datetime,
                 now: datetime) -> None:
    """One open follow-up per ticket: a new resolution replaces the due date of an open one."""
    open_row = conn.execute(select(followups.c.id).where(followups.c.ticket_key == key,
                                                         followups.c.status == "due")).first()
    if open_row is not None:
        conn.execute(update(followups).where(followups.c.id == open_row.id)
                     .values(due_at=due_at, resolved_at=resolved_at, rule_id=rule_id))
        return
    conn.execute(insert(followups), {"ticket_key": key, "rule_id": rule_id, "resolved_at": resolved_at,
                                     "due_at": due_at, "status": "due", "attempts": 0, "created_at": now})


def record_followup_outcome(conn: Connection, *, key: str, outcome: str, now: datetime) -> None:
    """Satisfied/dissatisfied close the open follow-up; unreachable counts a try and keeps it open."""
    row = conn.execute(select(followups.c.id).where(followups.c.ticket_key == key, followups.c.status == "due")
                       .order_by(followups.c.id.desc())).first()
    if row is None:
        return
    if outcome == "unreachable":
        conn.execute(update(followups).where(followups.c.id == row.id)
                     .values(attempts=followups.c.attempts + 1, outcome=outcome))
    else:
        conn.execute(update(followups).where(followups.c.id == row.id)
                     .values(status="done", outcome=outcome, done_at=now, attempts=followups.c.attempts + 1))


def list_followups(engine: Engine, status: str | None = None) -> list[dict[str, Any]]:
    q = select(followups).order_by(followups.c.due_at)
    if status:
        q = q.where(followups.c.status == status)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


# -- cursors -----------------------------------------------------------------------------------


def get_cursor(engine: Engine, name: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar_one_or_none()


def set_cursor(engine: Engine, name: str, value: str, now: datetime) -> None:
    with engine.begin() as conn:
        stmt = _dialect_insert(conn, cursors).values(name=name, value=value, updated_at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value, "updated_at": now}))
