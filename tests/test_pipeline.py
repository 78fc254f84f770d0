"""The pipeline and worker against an in-memory connector, on SQLite and PostgreSQL.

The end-to-end tests (tests/e2e) run the same path against the sandbox Zammad over HTTP; these
isolate the pipeline's own guarantees: outbox recovery, idempotency, retries, timers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone

import pytest

from connector.base import ApplyResult, Connector, TicketChange, WebhookHint, WriteSet
from connector.errors import ConnectorUnavailable, NotFound, RateLimited
from kesu.effects import ScheduleTimer
from kesu.models import EventKind, Priority, Ticket
from kesu.pipeline import Pipeline
from kesu.settings import WorkerSettings
from kesu.store import tickets as store
from kesu.store.inbox import Inbox, NewEvent
from kesu.worker import TimerLoop, Worker
from kesu.store.tables import inbox as inbox_table
from sqlalchemy import update
from plugins import hookimpl
from plugins.manager import PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


class MemoryConnector(Connector):
    identifier = "memory"
    name = "zammad"  # the helpdesk instance whose tickets it serves (ticket keys "zammad:<id>")

    def __init__(self, tickets: dict[str, Ticket]) -> None:
        self.tickets = tickets
        self.notes: dict[str, list[tuple[str, str]]] = {}
        self.calls: list[str] = []
        self.fail_next: list[Exception] = []
        self.crash_after_write = False

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, query=None) -> WebhookHint:
        raise NotImplementedError("not used: these tests enqueue events directly")

    def get_ticket(self, ticket_id: str) -> Ticket:
        self.calls.append("GET")
        if self.fail_next:
            raise self.fail_next.pop(0)
        if ticket_id not in self.tickets:
            raise NotFound("no such ticket", method="GET", url=f"/tickets/{ticket_id}", status=404)
        return self.tickets[ticket_id].model_copy(deep=True)

    def apply(self, ticket: Ticket, writes: WriteSet) -> ApplyResult:
        if writes.is_empty():
            return ApplyResult(calls=0)
        t = self.tickets[ticket.ref.id]
        self.calls.append("PUT")
        if writes.priority is not None:
            t.priority = writes.priority
        if writes.note:
            self.notes.setdefault(t.ref.id, []).append((writes.note_subject or "", writes.note))
        calls = 1
        for tag in writes.add_tags:
            self.calls.append("TAG")
            t.tags.append(tag)
            calls += 1
        if self.crash_after_write:
            self.crash_after_write = False
            raise SystemExit("worker killed after the helpdesk applied the write")
        return ApplyResult(calls=calls)

    def note_marker_present(self, ticket: Ticket, subject: str) -> bool:
        return any(s == subject for s, _ in self.notes.get(ticket.ref.id, []))

    def poll_updated(self, since: datetime) -> Iterator[TicketChange]:
        return iter(())


@pytest.fixture
def clock():
    now = [T0]

    def tick() -> datetime:
        return now[0]

    tick.advance = lambda s: now.__setitem__(0, now[0] + timedelta(seconds=s))  # type: ignore[attr-defined]
    return tick


@pytest.fixture
def setup(engine, make_ticket, clock):
    def build(*extra_plugins):
        pm = build_plugin_manager(load_entrypoints=False)
        for i, p in enumerate(extra_plugins):
            pm.register(p, name=f"extra{i}")
        conn = MemoryConnector({"1": make_ticket(), "2": make_ticket("咨询", "请问营业时间", id="2")})
        pipeline = Pipeline(engine=engine, connector=conn, host=PluginHost(pm),
                            renderer=NoteRenderer("zh"), clock=clock)
        worker = Worker(pipeline, WorkerSettings(max_attempts=3, backoff_base=1), clock=clock)
        return conn, pipeline, worker
    return build


def enqueue(engine, ticket_id="1", delivery="d1", kind="created"):
    return Inbox(engine).add(NewEvent(helpdesk="zammad", ticket_id=ticket_id, kind=kind, source="webhook",
                                      received_at=T0, delivery_id=delivery))


def test_event_applies_tier_with_rule_and_is_not_applied_twice(engine, setup):
    conn, _, worker = setup()
    enqueue(engine)
    assert worker.drain() == 1
    t = conn.tickets["1"]
    assert t.priority is Priority.urgent and "客诉-A类" in t.tags
    (subject, note), = conn.notes["1"]
    assert subject.startswith("kesu #") and "[R-TIER-1.9.1-A]" in note
    assert conn.calls == ["GET", "PUT", "TAG"]
    # A new delivery for the same unchanged ticket: one read, no write.
    conn.calls.clear()
    enqueue(engine, delivery="d2", kind="updated")
    worker.drain()
    assert conn.calls == ["GET"] and len(conn.notes["1"]) == 1


def test_crash_after_helpdesk_applied_the_write_is_recovered_exactly_once(engine, setup, clock):
    conn, _, worker = setup()
    conn.crash_after_write = True
    enqueue(engine)
    with pytest.raises(SystemExit):
        worker.run_once()
    # The worker died holding the lease; nothing was marked done.
    assert Inbox(engine).depth()["processing"] == 1
    clock.advance(120)
    TimerLoop(worker.pipeline, worker.settings, clock=clock).tick()  # reaps the expired lease
    assert worker.drain() == 1
    assert len(conn.notes["1"]) == 1, "the note reached the helpdesk once"
    assert conn.tickets["1"].tags.count("客诉-A类") == 1
    kinds = [r["kind"] for r in store.audit_for(engine, "zammad:1")]
    assert "recovered" in kinds
    assert Inbox(engine).depth()["done"] == 1


def test_transient_failure_retries_with_backoff_then_succeeds(engine, setup, clock):
    conn, _, worker = setup()
    conn.fail_next = [ConnectorUnavailable("503", status=503), RateLimited("429", retry_after=30, status=429)]
    enqueue(engine)
    worker.run_once()
    row = Inbox(engine).list()[0]
    assert row["status"] == "pending" and "503" in row["last_error"]
    assert worker.run_once() is False, "not before its backoff"
    clock.advance(1)
    worker.run_once()  # the 429: waits at least Retry-After
    clock.advance(10)
    assert worker.run_once() is False
    clock.advance(25)
    assert worker.run_once() is True
    assert conn.tickets["1"].priority is Priority.urgent


def test_dead_letter_after_max_attempts_and_after_three_reads_of_a_missing_ticket(engine, setup, clock):
    conn, _, worker = setup()
    conn.fail_next = [ConnectorUnavailable("down")] * 3
    enqueue(engine)
    for _ in range(3):
        worker.run_once()
        clock.advance(600)
    assert Inbox(engine).depth()["dead"] == 1
    enqueue(engine, ticket_id="404", delivery="x")
    worker.run_once()  # not found: perhaps not committed yet in the helpdesk -> looked at again
    assert [r["status"] for r in Inbox(engine).list() if r["delivery_id"] == "x"] == ["pending"]
    for _ in range(2):
        clock.advance(600)
        worker.run_once()
    dead = Inbox(engine).list("dead")
    assert any("not found" in r["last_error"] for r in dead)


def test_plugin_failure_is_isolated_recorded_and_shown_once(engine, setup):
    class Broken:
        @hookimpl
        def kesu_evaluate(self, ticket):
            raise ValueError("bad data")

    conn, _, worker = setup(Broken())
    enqueue(engine)
    worker.drain()
    note = conn.notes["1"][0][1]
    assert "[R-TIER-1.9.1-A]" in note and "extra0" in note and "bad data" in note
    assert any(r["kind"] == "plugin_error" for r in store.audit_for(engine, "zammad:1"))
    enqueue(engine, delivery="d2")
    worker.drain()
    assert len(conn.notes["1"]) == 1, "the same failure is not noted again"


def test_timer_becomes_an_event_for_its_plugin(engine, setup, clock):
    fired = []

    class Deadline:
        @hookimpl
        def kesu_evaluate(self, event, now):
            if event.kind is EventKind.timer_fired:
                fired.append((event.timer_key, event.timer_payload, now))
                return None
            return [ScheduleTimer(rule_id="R-SLA-6.18-resp", key="resp", due_at=now + timedelta(minutes=5),
                                  payload={"step": 1})]

    conn, pipeline, worker = setup(Deadline())
    enqueue(engine)
    worker.drain()
    assert store.list_timers(engine, "zammad:1")[0]["rule_id"] == "R-SLA-6.18-resp"
    loop = TimerLoop(pipeline, worker.settings, clock=clock)
    clock.advance(299)
    assert loop.tick() == 0
    clock.advance(1)
    assert loop.tick() == 1
    worker.drain()
    assert fired == [("resp", {"step": 1}, T0 + timedelta(seconds=300))]


def test_kesu_plan_applied_sees_every_plan(engine, setup):
    seen = []

    class Observer:
        @hookimpl
        def kesu_plan_applied(self, ticket, plan, calls):
            seen.append((ticket.ref.key, plan.priority.rule_id if plan.priority else None, calls))

    conn, _, worker = setup(Observer())
    enqueue(engine)
    worker.drain()
    assert seen == [("zammad:1", "R-TIER-1.9.1-A", 3)]


def test_closing_and_reopening_are_seen_between_two_reads(engine, setup):
    kinds = []

    class Recorder:
        @hookimpl
        def kesu_evaluate(self, event):
            kinds.append(event.kind)

    conn, _, worker = setup(Recorder())
    enqueue(engine, delivery="a", kind="created")
    worker.drain()
    conn.tickets["1"].closed, conn.tickets["1"].state = True, "closed"
    enqueue(engine, delivery="b", kind="updated")
    worker.drain()
    enqueue(engine, delivery="c", kind="updated")  # still closed: an ordinary update
    worker.drain()
    conn.tickets["1"].closed, conn.tickets["1"].state = False, "open"
    enqueue(engine, delivery="d", kind="article_added")  # the customer wrote to a closed ticket
    worker.drain()
    assert kinds == [EventKind.created, EventKind.closed, EventKind.updated, EventKind.reopened]


def test_facts_reach_policies_and_notifications_are_delivered_after_the_write(engine, setup):
    from kesu.effects import Notify, RecordComplaint

    seen, sent = [], []

    class Amounts:
        @hookimpl
        def kesu_extract_facts(self, ticket):
            return {"loss_amount": 42000.0, "flags": {"media": True}, "evidence": {"loss_amount": "test"}}

    class Uses:
        @hookimpl
        def kesu_evaluate(self, facts, history):
            seen.append((facts.loss_amount, facts.flag("media"), history.ledger_count("x", "R-PEN-5.6.2", 2026)))
            return [Notify(rule_id="R-ROUTE-6.21", recipients=("agent1",), message="请处理"),
                    RecordComplaint(rule_id="R-TIER-5.3.4", values={"tier": "major", "batch": "B1"})]

    class Sms:
        @hookimpl
        def kesu_notify(self, ticket, notification):
            sent.append((ticket.ref.key, notification.recipients, notification.rule_id))

    conn, _, worker = setup(Amounts(), Uses(), Sms())
    enqueue(engine)
    worker.drain()
    assert seen == [(42000.0, True, 0)]
    assert [x for x in sent if x[1] == ("agent1",)] == [("zammad:1", ("agent1",), "R-ROUTE-6.21")]
    assert "通知 agent1：请处理 [R-ROUTE-6.21]" in conn.notes["1"][0][1]
    record = store.get_complaint(engine, "zammad:1")
    assert record["tier"] == "major" and record["extra"]["batch"] == "B1" and record["number"] == "10001"


def test_ledger_entries_with_one_dedupe_key_are_written_once(engine, setup):
    from kesu.effects import LedgerEntry
    from kesu.ledger import Ledger

    class Admonish:
        @hookimpl
        def kesu_evaluate(self, ticket):
            return [LedgerEntry(rule_id="R-PEN-5.6.2-admon", kind="admonition", subject="生产班组",
                                status="confirmed", dedupe_key="R-PEN-5.6.2-admon:生产班组:2026")]

    conn, _, worker = setup(Admonish())
    enqueue(engine, "1", "a")
    enqueue(engine, "2", "b")
    worker.drain()
    rows = [e for e in Ledger(engine).entries() if e.rule_id == "R-PEN-5.6.2-admon"]
    assert len(rows) == 1 and rows[0].ticket_key == "zammad:1"


def test_own_reminder_is_not_mistaken_for_a_reopen(engine, setup):
    from kesu.effects import FollowUpTodo

    kinds = []

    class Callback:
        @hookimpl
        def kesu_evaluate(self, event, now):
            kinds.append(event.kind)
            if event.kind is EventKind.closed:
                return [FollowUpTodo(rule_id="R-CB-6.36", key="callback", summary="回访",
                                     due_at=now + timedelta(hours=48))]

    conn, _, worker = setup(Callback())
    type(conn).todo_reopens = True  # like Zammad: the to-do is a "pending reminder" state
    try:
        enqueue(engine, delivery="a", kind="created")
        worker.drain()
        conn.tickets["1"].closed, conn.tickets["1"].state = True, "closed"
        enqueue(engine, delivery="b", kind="updated")
        worker.drain()
        # The connector wrote the reminder: the ticket is open ("pending reminder") now.
        conn.tickets["1"].closed, conn.tickets["1"].state = False, "pending reminder"
        enqueue(engine, delivery="c", kind="updated")
        worker.drain()
        assert kinds == [EventKind.created, EventKind.closed, EventKind.updated]
    finally:
        type(conn).todo_reopens = False


def test_own_reminder_holds_the_complaint_resolved_until_a_person_reopens_it(engine, setup):
    """R-CB-6.36 to-do as Zammad's "pending reminder": the policies still see the complaint resolved
    (R-SLA-6.34 / R-SLA-5.4.5.5 keep counting from the resolution, R-ESC-6.13's "unresolved for a
    month" does not restart) until someone moves the ticket to another state."""
    from kesu.effects import FollowUpTodo

    seen = []

    class Callback:
        @hookimpl
        def kesu_evaluate(self, event, ticket, now):
            seen.append((event.kind, ticket.closed))
            if event.kind is EventKind.closed:
                return [FollowUpTodo(rule_id="R-CB-6.36", key="callback", summary="回访",
                                     due_at=now + timedelta(hours=48))]

    conn, _, worker = setup(Callback())
    cls = type(conn)
    cls.todo_reopens, cls.todo_state = True, property(lambda self: "pending reminder")
    try:
        enqueue(engine, delivery="a", kind="created")
        worker.drain()
        conn.tickets["1"].closed, conn.tickets["1"].state = True, "closed"
        enqueue(engine, delivery="b", kind="updated")
        worker.drain()
        conn.tickets["1"].closed, conn.tickets["1"].state = False, "pending reminder"  # the to-do
        enqueue(engine, delivery="c", kind="updated")
        worker.drain()
        conn.tickets["1"].state = "open"  # an agent reopens it
        enqueue(engine, delivery="d", kind="updated")
        worker.drain()
        assert seen == [(EventKind.created, False), (EventKind.closed, True), (EventKind.updated, True),
                        (EventKind.reopened, False)]
    finally:
        cls.todo_reopens = False
        del cls.todo_state


def test_events_and_timers_of_another_helpdesk_never_reach_this_ones_tickets(engine, setup, clock):
    """A reused database or a renamed helpdesk: rows keyed to another helpdesk instance stay
    where they are; ticket 1 of "old-zammad" is not ticket 1 of "zammad" (issue 10 item 5)."""
    from kesu.store.inbox import InboxEvent

    conn, pipeline, worker = setup()
    Inbox(engine).add(NewEvent(helpdesk="old-zammad", ticket_id="1", kind="created", source="webhook",
                               received_at=T0, delivery_id="d-old"))
    with engine.begin() as c:
        store.schedule_timer(c, key="old-zammad:1", plugin="sla", timer_key="resp", rule_id="R-SLA-6.18-resp",
                             due_at=T0, payload={}, now=T0)
    assert worker.drain() == 0
    assert TimerLoop(pipeline, worker.settings, clock=clock).tick() == 0
    assert conn.calls == [] and conn.notes == {}
    assert [r["status"] for r in pipeline.inbox.list()] == ["pending"]
    foreign = InboxEvent(id=1, helpdesk="old-zammad", ticket_id="1", ticket_key="old-zammad:1",
                         kind="created", source="webhook", delivery_id="d-old", received_at=T0,
                         attempts=1, payload={})
    with pytest.raises(ValueError, match="old-zammad"):
        pipeline.process([foreign])
    assert conn.calls == []
    enqueue(engine)  # this helpdesk's own event is processed as ever
    assert worker.drain() == 1 and conn.calls[0] == "GET"


def test_a_write_held_by_a_stalled_worker_is_not_applied_twice(engine, setup, clock):
    """Worker A decided and holds a write, then stalled past its claim's lease; worker B claims the
    ticket's events again. B must not apply A's write while A holds it (A may be sending it right
    now); once the hold has passed, B finishes it -- once, checking what already reached the ticket."""
    conn, pipeline, worker = setup()
    conn.crash_after_write = True  # A applies the write, then stalls (dies) before marking it done
    enqueue(engine)
    with pytest.raises(SystemExit):
        worker.run_once()
    assert len(conn.notes["1"]) == 1
    conn.crash_after_write = False
    # A's claim lapses (default lease 60 s) before its 60 s hold on the write: B claims the events.
    clock.advance(30)
    with engine.begin() as c:  # the lease ran out early (a shorter lease than the hold)
        c.execute(update(inbox_table).values(lease_until=clock() - timedelta(seconds=1)))
    TimerLoop(pipeline, worker.settings, clock=clock).tick()
    conn.calls.clear()
    assert worker.run_once()  # B: the write is held by A -> waits, sends nothing
    assert "PUT" not in conn.calls and len(conn.notes["1"]) == 1
    assert "being applied by another worker" in Inbox(engine).list()[0]["last_error"]
    clock.advance(60)  # A's hold is over: B finishes A's write, which had reached the ticket
    worker.drain()
    assert len(conn.notes["1"]) == 1 and conn.tickets["1"].tags.count("客诉-A类") == 1
    assert Inbox(engine).depth()["done"] == 1
