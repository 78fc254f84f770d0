"""The ``followups`` plugin: R-CB-6.36, R-CB-5.5.3, R-CB-6.37 (POLICY_SPEC §7) and the
post-resolution record duties R-REC-6.15, R-REC-4.15, R-CAPA-1.7.4 (§9).

Unit tests run the plugin alone with facts from an inline plugin; the pipeline tests run the real
pipeline and store on SQLite and PostgreSQL, and one runs the real Zammad connector against the
sandbox Zammad.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import SecretStr

from connector.base import Todo
from connector.zammad import ZammadConnector
from connector.zammad.sandbox import SandboxZammad
from kesu.effects import (
    AddTags,
    CancelTimer,
    FollowUpTodo,
    InternalNote,
    Notify,
    RecordComplaint,
    RemoveTags,
    ScheduleTimer,
    SetState,
)
from kesu.models import Article, EventKind, Party, TicketEvent
from kesu.pipeline import Pipeline
from kesu.settings import HelpdeskSettings, WorkerSettings
from kesu.store import tickets as store
from kesu.worker import Worker
from plugins import hookimpl
from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, PluginConfigError, PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer
from policies.profiles import PROFILES
from tests.test_pipeline import MemoryConnector, enqueue

T = datetime(2026, 3, 2, 6, 30, tzinfo=timezone.utc)  # resolution (14:30 in Shanghai)
OTHERS = [n for n in BUILTIN_PLUGINS if n not in ESSENTIAL_PLUGINS and n != "followups"]
QUESTIONS = "问题是否解决到位；处理时限；服务态度；对处理结果是否满意；其他意见和建议"


class StubFacts:
    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}

    @hookimpl
    def kesu_extract_facts(self, ticket):
        return self.facts


def make_host(profile: str = "food", sections: dict | None = None) -> tuple[PluginHost, StubFacts]:
    pm = build_plugin_manager(OTHERS, load_entrypoints=False)
    stub = StubFacts()
    pm.register(stub, name="stubfacts")
    return PluginHost(pm, sections or {}, disabled=OTHERS, profile=profile), stub


class Run:
    """One ticket over several events, with the plugin's state carried like the pipeline does."""

    def __init__(self, host: PluginHost, stub: StubFacts, ticket) -> None:
        self.host, self.stub, self.ticket = host, stub, ticket
        self.state: dict[str, Any] = {}

    def __call__(self, record: dict | None = None, *, outcome: str | None = None, now: datetime = T,
                 kind: EventKind = EventKind.updated, timer: str | None = None) -> list:
        self.stub.facts = {"followup_outcome": outcome} if outcome else {}
        event = TicketEvent(kind=EventKind.timer_fired if timer else kind, ref=self.ticket.ref, received_at=now,
                            timer_key=timer)
        result = self.host.evaluate(event, self.ticket, {"followups": self.state}, now, record=record or {})
        assert not result.failures, result.failures
        mine = [e for e in result.effects if e.source == "followups"]
        for e in mine:
            if isinstance(e, SetState):
                self.state = {**self.state, **e.values}
        return mine


def todos(effects) -> list[tuple]:
    return [(e.rule_id, e.key, e.due_at, e.assignee) for e in effects if isinstance(e, FollowUpTodo)]


def of(effects, cls) -> list:
    return [e for e in effects if isinstance(e, cls)]


def closed_ticket(make_ticket, **kw):
    t = make_ticket(owner="agent1", **kw)
    t.closed = True
    t.customer = Party(id="7", name="王女士", phone="13800000000")
    return t


@pytest.fixture
def food():
    return make_host("food")


def test_R_CB_6_36_follow_up_due_48_hours_after_resolution(food, make_ticket):
    host, stub = food
    effects = Run(host, stub, closed_ticket(make_ticket))({"valid": 1, "tier": "C"}, kind=EventKind.closed)
    assert todos(effects) == [("R-CB-6.36", "callback", T + timedelta(hours=48), "agent1")]
    (todo,) = of(effects, FollowUpTodo)
    assert todo.summary == f"回访客户：{QUESTIONS}"
    assert [(t.key, t.due_at) for t in of(effects, ScheduleTimer)] == [("callback", T + timedelta(hours=48))]
    assert of(effects, RecordComplaint)[0].values == {"resolved_at": T.isoformat()}


def test_R_CB_6_36_uses_a_recorded_resolution_time(food, make_ticket):
    host, stub = food
    resolved = T - timedelta(minutes=7)
    effects = Run(host, stub, closed_ticket(make_ticket))({"tier": "C", "resolved_at": resolved.isoformat()})
    assert todos(effects)[0][2] == resolved + timedelta(hours=48)
    assert of(effects, RecordComplaint) == [], "the record already holds the resolution"


def test_R_CB_6_36_once_per_resolution_and_not_for_open_or_invalid_complaints(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    run = Run(host, stub, ticket)
    assert todos(run({"tier": "C"})) == [], "not resolved"
    ticket.closed = True
    assert len(todos(run({"tier": "C"}))) == 1, "not confirmed invalid: followed up (only_valid = false)"
    assert todos(run({"tier": "C"}, now=T + timedelta(hours=1))) == []
    invalid = Run(host, stub, closed_ticket(make_ticket, id="2"))
    assert todos(invalid({"valid": 0, "tier": "C"})) == [], "R-INVALID-6.14: no follow-up"


def test_R_CB_6_36_only_valid_waits_for_a_valid_decision(make_ticket):
    host, stub = make_host("food", {"followups": {"only_valid": True}})
    run = Run(host, stub, closed_ticket(make_ticket))
    effects = run({"tier": "C"}, kind=EventKind.closed)
    assert todos(effects) == []
    assert [n.text for n in of(effects, InternalNote) if n.rule_id == "R-CB-6.36"] == [
        "已解决但投诉有效性未确认：确认有效后安排回访"]
    later = T + timedelta(hours=3)
    effects = run({"tier": "C", "valid": 1}, now=later)
    assert todos(effects) == [("R-CB-6.36", "callback", T + timedelta(hours=48), "agent1")], \
        "due from the resolution, not from the validity decision"


def test_R_CB_5_5_3_insurer_follows_up_by_the_end_of_the_next_day(make_ticket):
    host, stub = make_host("insurance")
    # 14:30 Shanghai on 2 March -> 23:59 Shanghai on 3 March = 15:59 UTC.
    effects = Run(host, stub, closed_ticket(make_ticket))({"tier": "general"}, kind=EventKind.closed)
    assert todos(effects) == [("R-CB-5.5.3", "callback", datetime(2026, 3, 3, 15, 59, tzinfo=timezone.utc), "agent1")]
    # Resolved 20:00 UTC = 04:00 on 3 March in Shanghai: the next day is 4 March.
    late = datetime(2026, 3, 2, 20, 0, tzinfo=timezone.utc)
    effects = Run(host, stub, closed_ticket(make_ticket, id="2"))({"tier": "general"}, now=late)
    assert todos(effects)[0][2] == datetime(2026, 3, 4, 15, 59, tzinfo=timezone.utc)


def test_R_CB_5_5_3_next_day_time_is_configurable(make_ticket):
    host, stub = make_host("insurance", {"followups": {"next_day_at": "17:00:00"}})
    effects = Run(host, stub, closed_ticket(make_ticket))({"tier": "general"})
    assert todos(effects)[0][2] == datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)


def test_R_CB_6_37_major_complaints_first_with_on_site_visit(food, make_ticket):
    host, stub = food
    effects = Run(host, stub, closed_ticket(make_ticket))({"tier": "A", "units": ["生产班组"]})
    assert todos(effects) == [("R-CB-6.36", "callback", T + timedelta(hours=24), "agent1")]
    (todo,) = of(effects, FollowUpTodo)
    assert todo.summary == f"回访客户：{QUESTIONS}。重大投诉优先，可上门回访"
    assert "R-CB-6.37" in todo.reason
    special = Run(host, stub, closed_ticket(make_ticket, id="2"))({"tier": "C", "special": True})
    assert todos(special)[0][2] == T + timedelta(hours=24), "special complaints are major"
    host, stub = make_host("insurance")
    effects = Run(host, stub, closed_ticket(make_ticket, id="3"))({"tier": "major"})
    assert todos(effects)[0][2] == T + timedelta(hours=24), "earlier than the insurer's next day"


def test_R_CB_6_36_satisfied_outcome_is_recorded_and_ends_the_follow_up(food, make_ticket):
    host, stub = food
    run = Run(host, stub, closed_ticket(make_ticket))
    run({"tier": "C"})
    later = T + timedelta(hours=20)
    effects = run({"tier": "C"}, outcome="satisfied", now=later)
    assert [r.values for r in of(effects, RecordComplaint)] == [{"followup_outcome": "satisfied"}]
    assert [c.key for c in of(effects, CancelTimer)] == ["callback"]
    assert [n.text for n in of(effects, InternalNote)] == ["回访结果：满意（第1次回访）"]
    assert todos(effects) == []
    assert run({"tier": "C"}, outcome="satisfied", now=later + timedelta(hours=1)) == [], "recorded once"


def test_R_CB_6_36_dissatisfied_is_recorded_and_left_to_the_escalation_plugin(food, make_ticket):
    host, stub = food
    ticket = closed_ticket(make_ticket)
    run = Run(host, stub, ticket)
    run({"tier": "C"})
    ticket.closed = False  # the follow-up reminder is an open state in Zammad
    assert todos(run({"tier": "C"}, now=T + timedelta(hours=1))) == [], "the reminder is not a new resolution"
    effects = run({"tier": "C"}, outcome="dissatisfied", now=T + timedelta(hours=2))
    assert [r.values for r in of(effects, RecordComplaint)] == [{"followup_outcome": "dissatisfied"}]
    assert [n.text for n in of(effects, InternalNote)] == ["回访结果：不满意（第1次回访），已转投诉升级处理（R-ESC-6.30）"]
    assert not any("escalations" in r.values for r in of(effects, RecordComplaint)), "R-ESC-6.30 is escalation's"
    # Reworked and resolved again: a new follow-up (R-CB-6.36 after every resolution).
    ticket.closed = True
    again = T + timedelta(days=2)
    effects = run({"tier": "C"}, outcome="dissatisfied", now=again)
    assert todos(effects) == [("R-CB-6.36", "callback", again + timedelta(hours=48), "agent1")]
    assert of(effects, RecordComplaint)[0].values == {"resolved_at": again.isoformat()}
    # The field still says dissatisfied: no outcome for the new follow-up until a call is logged.
    assert of(run({"tier": "C"}, outcome="dissatisfied", now=again + timedelta(hours=1)), RecordComplaint) == []
    ticket.articles.append(Article(id="2", body="再次回访，客户仍不满意", type="phone", internal=True))
    effects = run({"tier": "C"}, outcome="dissatisfied", now=again + timedelta(hours=2))
    assert [r.values for r in of(effects, RecordComplaint)] == [{"followup_outcome": "dissatisfied"}]


def test_R_CB_6_36_closing_after_a_satisfied_follow_up_starts_no_new_one(food, make_ticket):
    host, stub = food
    ticket = closed_ticket(make_ticket)
    run = Run(host, stub, ticket)
    run({"tier": "C"})
    ticket.closed = False  # pending reminder
    run({"tier": "C"}, outcome="satisfied", now=T + timedelta(hours=5))
    ticket.closed = True  # the agent closes the ticket after the call
    assert todos(run({"tier": "C"}, outcome="satisfied", now=T + timedelta(hours=6))) == []
    # A real reopening after the follow-up ended, then a new resolution: a new follow-up.
    ticket.closed = False
    run({"tier": "C"}, outcome="satisfied", now=T + timedelta(days=3))
    ticket.closed = True
    effects = run({"tier": "C"}, outcome="satisfied", now=T + timedelta(days=4))
    assert todos(effects) == [("R-CB-6.36", "callback", T + timedelta(days=6), "agent1")]
    assert of(effects, RecordComplaint)[0].values == {"resolved_at": (T + timedelta(days=4)).isoformat()}, \
        "the old outcome still in the field does not end the new follow-up"


def test_R_CB_6_36_unreachable_retries_then_gives_up(food, make_ticket):
    host, stub = food
    ticket = closed_ticket(make_ticket)
    run = Run(host, stub, ticket)
    run({"tier": "C"})
    t1 = T + timedelta(hours=30)
    effects = run({"tier": "C"}, outcome="unreachable", now=t1)
    assert [r.values for r in of(effects, RecordComplaint)] == [{"followup_outcome": "unreachable"}]
    assert todos(effects) == [("R-CB-6.36", "callback", t1 + timedelta(hours=4), "agent1")]
    assert of(effects, FollowUpTodo)[0].summary.startswith("再次回访客户（第2次，上次未接通）")
    assert [(t.key, t.due_at) for t in of(effects, ScheduleTimer)] == [("callback", t1 + timedelta(hours=4))]
    # The field still says unreachable and no new call was logged: nothing new.
    assert run({"tier": "C"}, outcome="unreachable", now=t1 + timedelta(hours=1)) == []
    # The agent logs a second call (a phone article), still unreachable: the second try.
    ticket.articles.append(Article(id="2", body="再次致电，无人接听", type="phone", internal=True))
    t2 = t1 + timedelta(hours=5)
    effects = run({"tier": "C"}, outcome="unreachable", now=t2)
    assert todos(effects) == [("R-CB-6.36", "callback", t2 + timedelta(hours=4), "agent1")]
    assert "第3次" in of(effects, FollowUpTodo)[0].summary
    ticket.articles.append(Article(id="3", body="第三次致电，关机", type="phone", internal=True))
    t3 = t2 + timedelta(hours=5)
    effects = run({"tier": "C"}, outcome="unreachable", now=t3)
    assert todos(effects) == []
    assert [r.values for r in of(effects, RecordComplaint)] == [{"followup_outcome": "unreachable"},
                                                                 {"followup_failed": True}]
    assert [n.text for n in of(effects, InternalNote)] == ["回访失败：3次均未接通客户，请改用其他方式联系或记录原因"]
    assert [c.key for c in of(effects, CancelTimer)] == ["callback"]


def test_R_CB_6_36_missed_follow_up_is_noted_when_its_timer_fires(food, make_ticket):
    host, stub = food
    run = Run(host, stub, closed_ticket(make_ticket))
    run({"tier": "C"})
    due = T + timedelta(hours=48)
    assert run({"tier": "C"}, timer="callback", now=due - timedelta(minutes=1)) == []
    effects = run({"tier": "C"}, timer="callback", now=due)
    assert [(n.rule_id, n.text) for n in of(effects, InternalNote)] == [
        ("R-CB-6.36", "回访已逾期：请立即回访并填写回访结果（回访率目标100%）")]
    assert of(run({"tier": "C"}, timer="callback", now=due + timedelta(hours=1)), InternalNote) == []


def test_R_REC_6_15_proposed_solution_needs_resolver_measures_and_deadline(food, make_ticket):
    host, stub = food
    ticket = closed_ticket(make_ticket, fields={"solution_resolver": "张三", "solution_measures": " "})
    notes = [n for n in of(Run(host, stub, ticket)({"tier": "C"}), InternalNote) if n.rule_id == "R-REC-6.15"]
    assert [n.text for n in notes] == ["处理方案不完整，请补填：解决措施、解决时限"]
    none_given = closed_ticket(make_ticket, id="2")
    assert not [n for n in of(Run(host, stub, none_given)({"tier": "C"}), InternalNote) if n.rule_id == "R-REC-6.15"]
    host, stub = make_host("food", {"followups": {"solution": {"required": True}}})
    notes = [n.text for n in of(Run(host, stub, none_given)({"tier": "C"}), InternalNote) if n.rule_id == "R-REC-6.15"]
    assert notes == ["处理方案不完整，请补填：解决人、解决措施、解决时限"]


def test_R_REC_4_15_record_and_investigation_report_are_checked_on_resolution(food, make_ticket):
    host, stub = food
    ticket = closed_ticket(make_ticket, fields={"customer_request": "退货", "report_cause": "封口温度低",
                                                "report_course": "夜班设备故障"})
    ticket.customer = None
    effects = Run(host, stub, ticket)({"tier": "A"})
    assert [n.text for n in of(effects, InternalNote) if n.rule_id == "R-REC-4.15"] == [
        "投诉记录不完整，请补填：投诉客户、受理部门处理意见",
        "调查报告不完整，请补填：具体责任者、结论、对策、防范措施",
    ]
    complete = closed_ticket(make_ticket, id="2", fields={
        "customer_request": "退货", "unit_opinion": "同意退货", "report_cause": "c", "report_course": "c",
        "report_responsible": "夜班班长", "report_conclusion": "c", "report_countermeasures": "c",
        "report_prevention": "c"})
    assert not [n for n in of(Run(host, stub, complete)({"tier": "A"}), InternalNote) if n.rule_id == "R-REC-4.15"]
    tier_c = closed_ticket(make_ticket, id="3", fields={"customer_request": "x", "unit_opinion": "y"})
    assert not [n for n in of(Run(host, stub, tier_c)({"tier": "C"}), InternalNote) if n.rule_id == "R-REC-4.15"], \
        "the food profile asks an investigation report of A-tier complaints only"


def test_R_CAPA_1_7_4_quality_tracks_corrective_actions_until_done(food, make_ticket):
    host, stub = food
    ticket = closed_ticket(make_ticket)
    run = Run(host, stub, ticket)
    effects = run({"tier": "A", "units": ["生产班组", "设施保障部"]})
    assert [(n.rule_id, n.recipients, n.message) for n in of(effects, Notify)] == [
        ("R-CAPA-1.7.4", ("质检部",), "请跟踪生产班组、设施保障部的纠正预防措施直至完成（完成后填写 capa_done）")]
    assert [(a.rule_id, a.tags) for a in of(effects, AddTags)] == [("R-CAPA-1.7.4", ("纠正预防跟踪中",))]
    assert of(run({"tier": "A"}, now=T + timedelta(days=1)), Notify) == []
    ticket.fields["capa_done"] = "已完成"
    effects = run({"tier": "A"}, now=T + timedelta(days=5))
    assert [(r.rule_id, r.tags) for r in of(effects, RemoveTags)] == [("R-CAPA-1.7.4", ("纠正预防跟踪中",))]
    assert [n.text for n in of(effects, InternalNote)] == ["纠正预防措施已完成"]
    tier_b = Run(host, stub, closed_ticket(make_ticket, id="2"))({"tier": "B", "units": ["生产班组"]})
    assert of(tier_b, Notify) == [] and of(tier_b, AddTags) == []


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_configures_followups(profile):
    host, _ = make_host(profile)
    config = host.configs["followups"]
    expected = ("R-CB-5.5.3", "next_day") if profile == "insurance" else ("R-CB-6.36", "hours")
    assert (config.rule, config.due) == expected and config.hours == 48
    assert config.capa.recipients and config.questions


def test_config_errors_name_the_key():
    with pytest.raises(PluginConfigError, match=r"timezone: Value error, unknown time zone 'Mars/Base'"):
        make_host("food", {"followups": {"timezone": "Mars/Base"}})
    with pytest.raises(PluginConfigError, match=r"rule: Input should be 'R-CB-6.36' or 'R-CB-5.5.3'"):
        make_host("food", {"followups": {"rule": "R-CB-9"}})


# -- through the pipeline ----------------------------------------------------------------------


class RecordingConnector(MemoryConnector):
    def __init__(self, tickets) -> None:
        super().__init__(tickets)
        self.writes: list = []

    def apply(self, ticket, writes):
        self.writes.append(writes.model_copy(deep=True))
        return super().apply(ticket, writes)


def test_R_CB_6_36_pipeline_records_the_follow_up_and_its_outcomes(engine, make_ticket):
    host, stub = make_host("food")
    ticket = make_ticket(owner="agent1")
    connector = RecordingConnector({"1": ticket})
    now = [T - timedelta(hours=2)]
    pipeline = Pipeline(engine=engine, connector=connector, host=host, renderer=NoteRenderer("zh"),
                        clock=lambda: now[0])
    worker = Worker(pipeline, WorkerSettings(max_attempts=1), clock=lambda: now[0])
    enqueue(engine, delivery="a")
    worker.drain()
    assert store.list_followups(engine) == []
    connector.tickets["1"].closed, connector.tickets["1"].state = True, "closed"
    now[0] = T
    enqueue(engine, delivery="b", kind="updated")
    worker.drain()
    assert connector.writes[-1].todos == [Todo(key="callback", summary=f"回访客户：{QUESTIONS}",
                                               due_at=T + timedelta(hours=48), assignee="agent1",
                                               rule_id="R-CB-6.36")]
    note = connector.notes["1"][-1][1]
    assert "待办：回访客户" in note and "截止 2026-03-04 14:30 CST [R-CB-6.36]" in note
    (row,) = store.list_followups(engine)
    assert (row["status"], row["attempts"], row["rule_id"]) == ("due", 0, "R-CB-6.36")
    assert row["due_at"].replace(tzinfo=timezone.utc) == T + timedelta(hours=48)
    assert store.get_complaint(engine, "zammad:1")["resolved_at"].replace(tzinfo=timezone.utc) == T

    now[0] = T + timedelta(hours=30)
    stub.facts = {"followup_outcome": "unreachable"}
    enqueue(engine, delivery="c", kind="updated")
    worker.drain()
    assert [t.due_at for t in connector.writes[-1].todos] == [now[0] + timedelta(hours=4)]
    (row,) = store.list_followups(engine)
    assert (row["status"], row["attempts"], row["outcome"]) == ("due", 1, "unreachable")
    assert row["due_at"].replace(tzinfo=timezone.utc) == now[0] + timedelta(hours=4)
    assert row["resolved_at"].replace(tzinfo=timezone.utc) == T, "a retry keeps the resolution time"

    now[0] += timedelta(hours=5)
    stub.facts = {"followup_outcome": "satisfied"}
    enqueue(engine, delivery="d", kind="updated")
    worker.drain()
    (row,) = store.list_followups(engine)
    assert (row["status"], row["attempts"], row["outcome"]) == ("done", 2, "satisfied")
    assert store.get_complaint(engine, "zammad:1")["followup_outcome"] == "satisfied"
    assert "回访结果：满意（第2次回访） [R-CB-6.36]" in connector.notes["1"][-1][1]
    assert store.list_timers(engine, "zammad:1") == [], "the follow-up timer was cancelled"


@pytest.fixture
def sandbox():
    with SandboxZammad(retry_scale=0.01) as zammad:
        yield zammad


def test_R_CB_6_36_to_do_becomes_a_zammad_pending_reminder(engine, sandbox):
    """The to-do reaches the real Zammad connector's WriteSet.todos and shows in Zammad's own UI."""
    tid = sandbox.create_ticket("豆腐有黑点", "买的豆腐表面很多黑点。", as_user="agent1@example.com",
                                fields={"owner": "agent1@example.com"})["id"]
    sandbox.update_ticket(tid, state="closed")
    settings = HelpdeskSettings(url=sandbox.url, token=SecretStr(sandbox.token_for(sandbox.bot_login)),
                                bot_login=sandbox.bot_login, retries=0, timeout=5)
    seen: list = []

    class Recording(ZammadConnector):
        def apply(self, ticket, writes):
            seen.append(writes.model_copy(deep=True))
            return super().apply(ticket, writes)

    connector = Recording(settings)
    host, _ = make_host("food")
    pipeline = Pipeline(engine=engine, connector=connector, host=host, renderer=NoteRenderer("zh"),
                        clock=lambda: T)
    try:
        enqueue(engine, ticket_id=str(tid), delivery="z1")
        Worker(pipeline, WorkerSettings(max_attempts=1), clock=lambda: T).drain()
    finally:
        connector.close()
    due = T + timedelta(hours=48)
    assert [(t.key, t.due_at, t.assignee, t.rule_id) for t in seen[0].todos] == [
        ("callback", due, "agent1@example.com", "R-CB-6.36")]
    after = sandbox.ticket(tid)
    assert after["state"] == "pending reminder"
    assert after["pending_time"].startswith("2026-03-04T06:30:00")
    assert any("待办：回访客户" in a["body"] for a in after["articles"] if a.get("internal"))


@pytest.mark.parametrize("profile, due", [
    ("food", T + timedelta(hours=48)),  # R-SLA-6.36: within 48 hours after resolution (篇6 §36)
    ("realestate", T + timedelta(hours=48)),
    ("insurance", datetime(2026, 3, 3, 15, 59, tzinfo=timezone.utc)),  # R-SLA-5.5.3: by the end of the next day
])
def test_R_SLA_6_36_and_R_SLA_5_5_3_follow_up_deadline_is_the_to_dos_due_time(profile, due, make_ticket):
    """The follow-up deadlines of POLICY_SPEC §4 are the to-do's due time and its timer (the
    followups plugin owns them; the deadlines plugin does not track them twice)."""
    host, stub = make_host(profile)
    effects = Run(host, stub, closed_ticket(make_ticket))({"tier": "general", "valid": 1}, kind=EventKind.closed)
    assert [t[2] for t in todos(effects)] == [due]
    assert [(t.key, t.due_at) for t in of(effects, ScheduleTimer)] == [("callback", due)]
