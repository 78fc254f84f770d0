"""What one event costs the store (issue 12): at most one durable commit per event, reads without
the write lock, and the intake's SQLite insert storing exactly what SQLAlchemy would."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from kesu.pipeline import Pipeline
from kesu.settings import WorkerSettings
from kesu.store.db import make_engine, migrate, transaction
from kesu.store.inbox import Inbox, NewEvent, _row_values
from kesu.store.tables import inbox as inbox_table
from kesu.worker import Worker
from plugins.manager import PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer
from tests.test_pipeline import MemoryConnector

NOW = datetime(2026, 3, 2, 2, 0, 0, 123456, tzinfo=timezone.utc)
LATER = NOW + timedelta(seconds=1)


def _event(ticket: str, delivery: str | None, **payload: Any) -> NewEvent:
    return NewEvent(helpdesk="zammad", ticket_id=ticket, kind="created", source="webhook", received_at=NOW,
                    delivery_id=delivery, payload={"actor": "5", "text": "豆腐发霉", **payload})


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'kesu.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_a_relaxed_transaction_does_not_leak_its_level_to_the_next(sqlite_engine):
    """SQLite: ``durable=False`` commits with synchronous=NORMAL; every other transaction on any
    pooled connection, the intake's group commit included, with FULL (2)."""
    levels = []
    for i in range(12):
        durable = i % 3 != 0
        with transaction(sqlite_engine, durable=durable) as conn:
            levels.append((durable, conn.exec_driver_sql("PRAGMA synchronous").scalar()))
        with sqlite_engine.begin() as conn:
            levels.append((True, conn.exec_driver_sql("PRAGMA synchronous").scalar()))
    assert levels and all(level == (2 if durable else 1) for durable, level in levels), levels


def test_a_read_transaction_does_not_block_a_writer(sqlite_engine):
    """Reads take no write lock: a writer commits while a read transaction is open (with BEGIN
    IMMEDIATE the writer would wait for the reader's lock until its busy timeout, 30 s)."""
    done = threading.Event()

    def write() -> None:
        with sqlite_engine.begin() as conn:
            conn.execute(insert(inbox_table), _row_values(_event("9", "w-1")))
        done.set()

    with transaction(sqlite_engine, read=True) as conn:
        conn.execute(text("SELECT count(*) FROM inbox")).scalar()
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        assert done.wait(10), "the writer waited for the read transaction"
    writer.join(10)


def test_the_sqlite_fast_insert_stores_what_sqlalchemy_stores(tmp_path):
    """The group commit's raw multi-row INSERT (every event with a delivery id) against
    SQLAlchemy's own insert of the same rows: byte-for-byte equal columns; duplicates, in the
    batch and from before, are None."""
    fast = make_engine(f"sqlite:///{tmp_path / 'fast.db'}")
    slow = make_engine(f"sqlite:///{tmp_path / 'slow.db'}")
    for engine in (fast, slow):
        migrate(engine)
    events = [_event("1", "a", n=1.5, quote='他说"退钱"'), _event("2", "b", nested={"x": [1, None]}),
              _event("1", "a"), NewEvent(helpdesk="zammad", ticket_id="3", kind="updated", source="webhook",
                                         received_at=NOW, delivery_id="c", status="skipped")]
    assert Inbox(fast).add_many(events) == [1, 2, None, 3]
    assert Inbox(fast).add_many([_event("2", "b"), _event("4", "d")]) == [None, 4]
    with slow.begin() as conn:
        for e in [events[0], events[1], events[3], _event("4", "d")]:
            conn.execute(insert(inbox_table), _row_values(e))
    rows = {}
    for name in ("fast", "slow"):
        con = sqlite3.connect(tmp_path / f"{name}.db")
        try:
            rows[name] = con.execute("SELECT * FROM inbox ORDER BY id").fetchall()
        finally:
            con.close()
    assert len(rows["fast"]) == 4 and rows["fast"] == rows["slow"]
    listed = {r["delivery_id"]: r for r in Inbox(fast).list()}
    assert listed["a"]["payload"] == {"actor": "5", "text": "豆腐发霉", "n": 1.5, "quote": '他说"退钱"'}
    assert listed["c"]["status"] == "skipped" and listed["c"]["finished_at"] is not None
    fast.dispose()
    slow.dispose()


def _count_durable_commits(engine) -> list[str]:
    """The level of every commit on ``engine`` (SQLite): FULL commits wait for the disk."""
    seen: list[str] = []

    @event.listens_for(engine, "commit")
    def on_commit(conn: Any) -> None:
        if not conn.get_execution_options().get("kesu_read"):
            seen.append(conn.info.get("kesu_synchronous", "FULL"))

    return seen


def test_one_durable_commit_per_written_event_none_for_a_no_op(sqlite_engine, make_ticket):
    conn = MemoryConnector({"1": make_ticket()})
    pipeline = Pipeline(engine=sqlite_engine, connector=conn, host=PluginHost(build_plugin_manager(load_entrypoints=False)),
                        renderer=NoteRenderer("zh"), clock=lambda: LATER)
    worker = Worker(pipeline, WorkerSettings(), clock=lambda: LATER)
    inbox = Inbox(sqlite_engine)
    inbox.add(_event("1", "first"))
    commits = _count_durable_commits(sqlite_engine)
    assert worker.run_once()
    assert conn.calls[:2] == ["GET", "PUT"]  # the event wrote
    # claim (relaxed), decision + outbox row (durable: before the helpdesk call), applied (relaxed)
    assert commits.count("FULL") == 1, commits
    calls = len(conn.calls)
    inbox.add(_event("1", "second"))
    commits.clear()  # the intake's own (durable) commit is not the event's
    assert worker.run_once()
    assert conn.calls[calls:] == ["GET"], "nothing new: one read, no write"
    assert commits.count("FULL") == 0, commits
    assert inbox.depth()["done"] == 2
