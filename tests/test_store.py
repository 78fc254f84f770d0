"""The store on SQLite and on the real PostgreSQL: migrations, inbox claims, timers, state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect

from kesu.store import tickets as store
from kesu.store.db import current_revision, migrate
from kesu.store.inbox import Inbox, NewEvent

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


def ev(ticket_id="1", delivery="d1", kind="updated", source="webhook", at=T0, status="pending"):
    return NewEvent(helpdesk="zammad", ticket_id=ticket_id, kind=kind, source=source,
                    received_at=at, delivery_id=delivery, payload={"actor": "3"}, status=status)


def test_migrations_create_every_table_and_are_idempotent(engine):
    migrate(engine)  # second run: nothing to do, no error
    from alembic.script import ScriptDirectory

    from kesu.store.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert current_revision(engine) == head
    tables = set(inspect(engine).get_table_names())
    assert {"inbox", "rejected_webhooks", "ticket_state", "outbox", "timers", "audit_log",
            "ledger", "followups", "cursors", "complaints", "reports"} <= tables


def test_a_batch_with_duplicates_inside_and_before_is_stored_once_each(engine):
    inbox = Inbox(engine)
    assert inbox.add_many([ev(delivery="a")])[0] is not None
    ids = inbox.add_many([ev(delivery="b"), ev(delivery="a"), ev(delivery="b"), ev(delivery="c")])
    assert ids[0] is not None and ids[1] is None and ids[2] is None and ids[3] is not None
    assert sorted(r["delivery_id"] for r in inbox.list()) == ["a", "b", "c"]
    # Events without a delivery id (timers, manual) are each stored.
    assert all(inbox.add_many([ev(delivery=None), ev(delivery=None)]))


def test_duplicate_delivery_is_stored_once(engine):
    inbox = Inbox(engine)
    first = inbox.add_many([ev(delivery="a"), ev(delivery="b")])
    again = inbox.add_many([ev(delivery="a"), ev(delivery="c")])
    assert all(first) and again[0] is None and again[1] is not None
    assert inbox.depth()["pending"] == 3


def test_claim_keeps_ticket_order_and_coalesces_hints(engine):
    inbox = Inbox(engine)
    inbox.add_many([ev("1", "a"), ev("2", "b"), ev("1", "c"), ev("1", "t", kind="timer_fired", source="timer")])
    first = inbox.claim(T0, 30)
    assert [e.delivery_id for e in first] == ["a", "c"]  # both hints of ticket 1, one read
    second = inbox.claim(T0, 30)
    assert [e.delivery_id for e in second] == ["b"]
    # Ticket 1's timer waits while ticket 1 is in progress.
    assert inbox.claim(T0, 30) == []
    inbox.done([e.id for e in first], T0)
    assert [e.delivery_id for e in inbox.claim(T0, 30)] == ["t"]


def test_hints_behind_a_timer_wait_for_it(engine):
    """Hints of a ticket join a claim only up to its next timer event: the timer runs first, the
    hints after it after it (per-ticket order, issue 12)."""
    inbox = Inbox(engine)
    inbox.add_many([ev("1", "a"), ev("1", "t", kind="timer_fired", source="timer"), ev("1", "b"), ev("1", "c")])
    first = inbox.claim(T0, 30)
    assert [e.delivery_id for e in first] == ["a"]
    inbox.done([e.id for e in first], T0)
    timer = inbox.claim(T0, 30)
    assert [e.delivery_id for e in timer] == ["t"]
    assert inbox.claim(T0, 30) == []  # the ticket is busy
    inbox.done([e.id for e in timer], T0)
    assert [e.delivery_id for e in inbox.claim(T0, 30)] == ["b", "c"]


def test_hand_back_returns_only_what_this_claim_still_holds(engine):
    inbox = Inbox(engine)
    inbox.add_many([ev("1", "a"), ev("2", "b")])
    mine = inbox.claim(T0, 300)
    other = inbox.claim(T0, 300)
    claims = {e.id: e.attempts for e in mine}
    assert inbox.hand_back(claims, T0 + timedelta(seconds=1)) == 1
    rows = {r["delivery_id"]: r for r in inbox.list()}
    assert rows["a"]["status"] == "pending" and "handed back" in rows["a"]["last_error"]
    assert rows["b"]["status"] == "processing"  # another worker's claim is left alone
    again = inbox.claim(T0 + timedelta(seconds=1), 300)  # ready at once, not after the lease
    assert [e.delivery_id for e in again] == ["a"] and again[0].attempts == 2
    # The first claim's attempt count no longer matches: handing it back again touches nothing.
    assert inbox.hand_back(claims, T0 + timedelta(seconds=2)) == 0
    assert inbox.hand_back({e.id: e.attempts for e in other}, T0) == 1


def test_retry_later_holds_back_newer_events_of_the_same_ticket(engine):
    inbox = Inbox(engine)
    inbox.add_many([ev("1", "a")])
    claimed = inbox.claim(T0, 30)
    inbox.retry_later([claimed[0].id], "503", T0 + timedelta(seconds=10))
    inbox.add_many([ev("1", "b"), ev("2", "c")])
    assert [e.delivery_id for e in inbox.claim(T0 + timedelta(seconds=1), 30)] == ["c"]
    later = inbox.claim(T0 + timedelta(seconds=11), 30)
    assert [e.delivery_id for e in later] == ["a", "b"] and later[0].attempts == 2


def test_expired_lease_is_reaped_and_claimed_again(engine):
    inbox = Inbox(engine)
    inbox.add(ev())
    assert inbox.claim(T0, 5)
    assert inbox.claim(T0 + timedelta(seconds=1), 5) == []
    assert inbox.reap(T0 + timedelta(seconds=6)) == 1
    again = inbox.claim(T0 + timedelta(seconds=6), 5)
    assert again and again[0].attempts == 2


def test_dead_letter_and_retry(engine):
    inbox = Inbox(engine)
    inbox.add(ev())
    claimed = inbox.claim(T0, 5)
    inbox.dead([claimed[0].id], "NotFound", T0)
    assert inbox.depth()["dead"] == 1 and inbox.list("dead")[0]["last_error"] == "NotFound"
    assert inbox.retry_dead(None, T0) == 1
    assert inbox.claim(T0, 5)[0].attempts == 1


def test_skipped_events_are_never_claimed(engine):
    inbox = Inbox(engine)
    inbox.add(ev(status="skipped"))
    assert inbox.claim(T0, 5) == []
    assert inbox.depth()["skipped"] == 1


def test_timers_fire_once_into_the_inbox(engine):
    with engine.begin() as conn:
        store.schedule_timer(conn, key="zammad:1", plugin="deadlines", timer_key="resp",
                             rule_id="R-SLA-6.18-resp", due_at=T0 + timedelta(minutes=5), payload={"n": 1}, now=T0)
        # Rescheduling the same key moves it.
        store.schedule_timer(conn, key="zammad:1", plugin="deadlines", timer_key="resp",
                             rule_id="R-SLA-6.18-resp", due_at=T0 + timedelta(minutes=6), payload={"n": 2}, now=T0)
    assert store.fire_due_timers(engine, T0 + timedelta(minutes=5)) == 0
    assert store.fire_due_timers(engine, T0 + timedelta(minutes=6)) == 1
    assert store.fire_due_timers(engine, T0 + timedelta(minutes=7)) == 0
    claimed = Inbox(engine).claim(T0 + timedelta(minutes=7), 5)
    assert claimed[0].kind == "timer_fired" and claimed[0].payload["payload"] == {"n": 2}
    assert claimed[0].payload["rule_id"] == "R-SLA-6.18-resp"


def test_state_versioning_refuses_a_concurrent_writer(engine):
    with engine.begin() as conn:
        state, version = store.load_state(conn, "zammad:1")
        assert (state, version) == ({}, 0)
        store.save_state(conn, "zammad:1", {"severity": {"tier": "A"}}, version, T0)
    with engine.begin() as conn:
        state, version = store.load_state(conn, "zammad:1")
        assert state == {"severity": {"tier": "A"}} and version == 1
        store.save_state(conn, "zammad:1", {"severity": {"tier": "B"}}, 1, T0)
    with pytest.raises(store.StaleState), engine.begin() as conn:
        store.save_state(conn, "zammad:1", {"x": 1}, 1, T0)


def test_rejected_webhook_keeps_the_raw_body(engine):
    inbox = Inbox(engine)
    rid = inbox.reject(helpdesk="zammad", status_code=422, reason="not JSON", headers={"a": "b"},
                       body=b"\xff{oops", at=T0)
    row = inbox.rejected()[0]
    assert row["id"] == rid and bytes(row["body"]) == b"\xff{oops" and row["reason"] == "not JSON"
