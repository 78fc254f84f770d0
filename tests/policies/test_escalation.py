"""Escalation (POLICY_SPEC §5): R-ESC-6.30, R-ESC-6.31, R-ESC-6.32, R-ESC-6.13, each at most once
per ticket, with re-notification per R-ROUTE-5.5.1; and the whole path through the real pipeline:
a deadline timer fires unmet -> overdue -> escalation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kesu.effects import AddTags, CancelTimer, InternalNote, Notify, RecordComplaint, ScheduleTimer, SetPriority
from kesu.history import EmptyHistory, PastComplaint
from kesu.models import Party, Priority
from kesu.pipeline import Pipeline
from kesu.settings import WorkerSettings
from kesu.store import tickets as store
from kesu.store.inbox import Inbox, NewEvent
from kesu.worker import TimerLoop, Worker
from plugins.plan import NoteRenderer
from tests.policies.timeline import Timeline, cst, effects_of, host
from tests.test_pipeline import MemoryConnector

BOTH = ("deadlines", "escalation")


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


@pytest.fixture
def ticket(make_ticket):
    def make(received: datetime = cst(2026, 3, 2, 10), **kw):
        t = make_ticket(**kw)
        return t.model_copy(update={"created_at": received, "updated_at": received,
                                    "customer": Party(id="c42", name="王女士")})
    return make


def escalations(tl: Timeline) -> list[tuple[str, str | None, str | None]]:
    return [(e["rule_id"], e["from"], e["to"]) for e in tl.record.get("escalations", [])]


def test_deadline_timer_fired_unmet_escalates_general_to_major_once(ticket):
    """R-ESC-6.13 (general past its deadline -> major) and R-ESC-6.31 (no explanation to the
    customer) when R-SLA-6.18-general's timer fires unmet; priority, tag, re-notification
    (R-ROUTE-5.5.1: the leaders copied at dispatch plus the branch head)."""
    tl = Timeline(host("realestate", plugins=BOTH), ticket(),
                  {"scheme": "service", "tier": "general", "tier_order": ["general", "major"],
                   "leaders": ["物业部经理"], "valid": 1})
    tl.event("created", cst(2026, 3, 2, 10))
    assert not tl.record.get("escalations")
    plan = tl.event("timer_fired", cst(2026, 3, 5, 10, 0, 1), timer_key="R-SLA-6.18-general")
    assert tl.record["deadlines"]["R-SLA-6.18-general"]["overdue"] is True
    assert escalations(tl) == [("R-ESC-6.13", "general", "major"), ("R-ESC-6.31", "major", "major")]
    first = tl.record["escalations"][0]
    assert first == {"rule_id": "R-ESC-6.13", "at": utc(cst(2026, 3, 5, 10, 0, 1)), "from": "general", "to": "major",
                     "reason": "一般投诉超过处理时限（R-SLA-6.18-general），升级为重大投诉"}
    assert tl.record["tier"] == "major"
    (prio,) = effects_of(plan, SetPriority, "escalation")
    assert prio.priority is Priority.urgent
    assert ("已升级",) in [t.tags for t in effects_of(plan, AddTags, "escalation")]
    (notify,) = effects_of(plan, Notify)
    assert notify.rule_id == "R-ROUTE-5.5.1" and notify.recipients == ("物业部经理", "分公司负责人")
    recheck = [t for t in effects_of(plan, ScheduleTimer, "escalation") if t.key == "recompute-deadlines"]
    assert recheck and recheck[0].due_at == cst(2026, 3, 5, 10, 0, 1)
    # The recheck event: the major deadline now runs from the escalation; nothing escalates again.
    plan = tl.event("timer_fired", cst(2026, 3, 5, 10, 0, 2), timer_key="recompute-deadlines")
    assert tl.record["deadlines"]["R-SLA-6.18-major"]["due"] == utc(cst(2026, 3, 16, 10, 0, 1))
    for later in (plan, tl.event("updated", cst(2026, 3, 6, 9))):
        assert not effects_of(later, Notify) and not [r for r in effects_of(later, RecordComplaint, "escalation")
                                                      if "escalations" in r.values]
    assert len(tl.record["escalations"]) == 2, "each reason escalates once"


def test_overdue_with_explanation_asks_for_understanding_and_escalates_when_refused(ticket):
    """R-ESC-6.31: explained in time -> the agent records whether the customer accepts the delay;
    '否' escalates one step (loss scheme: difficult -> major)."""
    tl = Timeline(host("insurance", plugins=BOTH), ticket(),
                  {"scheme": "loss", "tier": "difficult", "tier_order": ["general", "difficult", "major"]})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.reply(cst(2026, 3, 5, 9))  # explained the day the deadline ends
    plan = tl.event("timer_fired", cst(2026, 3, 5, 10, 0, 1), timer_key="R-SLA-5.5.2.5")
    assert tl.record["deadlines"]["R-SLA-5.5.2.5"]["overdue"] is True
    assert not tl.record.get("escalations")
    (ask,) = [n for n in effects_of(plan, InternalNote) if n.rule_id == "R-ESC-6.31"]
    assert "customer_understanding" in ask.text
    tl.ticket.fields["customer_understanding"] = "否"
    tl.event("updated", cst(2026, 3, 5, 11))
    assert escalations(tl) == [("R-ESC-6.31", "difficult", "major")]
    assert tl.record["escalations"][0]["reason"] == "超过处理时限（R-SLA-5.5.2.5），客户未谅解"


def test_understanding_recorded_means_no_escalation(ticket):
    """R-ESC-6.31: explained and the customer accepted the delay (是)."""
    tl = Timeline(host("insurance", plugins=BOTH), ticket(fields={"customer_understanding": "是"}),
                  {"scheme": "loss", "tier": "major", "tier_order": ["general", "difficult", "major"]})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.reply(cst(2026, 3, 5, 9))
    tl.event("timer_fired", cst(2026, 3, 5, 10, 0, 1), timer_key="R-SLA-5.5.2.5")
    assert not tl.record.get("escalations")


def test_dissatisfied_at_follow_up_escalates_one_step_with_media_recipients(ticket):
    """R-ESC-6.30 (回访不满意), general -> difficult; media involved -> R-ROUTE-5.5.1 adds the
    general manager's office and legal."""
    tl = Timeline(host("insurance", plugins=BOTH, facts={"followup_outcome": "dissatisfied",
                                                          "flags": {"media": True}}),
                  ticket(), {"scheme": "loss", "tier": "general"})
    plan = tl.event("updated", cst(2026, 3, 2, 15))  # within the 1-working-day deadline
    assert escalations(tl) == [("R-ESC-6.30", "general", "difficult")]
    assert tl.record["escalations"][0]["reason"] == "回访客户不满意"
    (notify,) = effects_of(plan, Notify)
    assert notify.recipients == ("分公司负责人", "分公司总经理室", "法务室")
    tl.event("updated", cst(2026, 3, 2, 16))
    assert len(tl.record["escalations"]) == 1


class PastOf(EmptyHistory):
    def __init__(self, *past: PastComplaint) -> None:
        self.past, self.asked = list(past), []

    def complaints_of(self, customer, *, since, exclude=None):
        self.asked.append((customer, since, exclude))
        return [p for p in self.past if p.ticket_key != exclude]


def _past(cause=None, batch=None):
    return PastComplaint("zammad:7", datetime(2026, 2, 20, tzinfo=timezone.utc), "C", cause, [], None, batch)


def test_repeat_complaint_about_the_same_matter_escalates(ticket):
    """R-ESC-6.30 (同等事件再次投诉): the same customer, the same cause within 30 days."""
    history = PastOf(_past(cause="mould"))
    tl = Timeline(host("food", plugins=BOTH), ticket(),
                  {"scheme": "food", "tier": "C", "tier_order": ["C", "B", "A"], "cause": "mould"}, history=history)
    tl.event("created", cst(2026, 3, 2, 10))
    assert escalations(tl) == [("R-ESC-6.30", "C", "B")]
    assert tl.record["escalations"][0]["reason"] == "同一事件再次投诉（原因 mould，前案 zammad:7）"
    assert history.asked[0] == ("zammad:c42", cst(2026, 3, 2, 10) - timedelta(days=30), "zammad:1")
    other = Timeline(host("food", plugins=BOTH), ticket(), {"scheme": "food", "tier": "C", "cause": "broken_pack",
                                                            "batch": "20261101"},
                     history=PastOf(_past(cause="mould", batch="20260101")))
    other.event("created", cst(2026, 3, 2, 10))
    assert not other.record.get("escalations"), "a different matter is not a repeat"
    batch = Timeline(host("food", plugins=BOTH), ticket(), {"scheme": "food", "tier": "B", "batch": "20261101"},
                     history=PastOf(_past(batch="20261101")))
    batch.event("created", cst(2026, 3, 2, 10))
    assert escalations(batch) == [("R-ESC-6.30", "B", "A")]


def test_attitude_complaint_escalates_once(ticket):
    """R-ESC-6.32: the customer complains again, about a handler's attitude, language or behaviour."""
    h = host("realestate", plugins=BOTH, facts={"flags": {"repeat": True}})
    tl = Timeline(h, ticket(), {"scheme": "service", "tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    assert escalations(tl) == [("R-ESC-6.30", "general", "major")]
    h.pm.get_plugin("testfacts").facts = {"flags": {"attitude": True, "repeat": True}}
    tl.event("article_added", cst(2026, 3, 2, 11))
    assert escalations(tl) == [("R-ESC-6.30", "general", "major"), ("R-ESC-6.32", "major", "major")]
    for minute in (5, 10):
        tl.event("updated", cst(2026, 3, 2, 11, minute))
    assert len(tl.record["escalations"]) == 2, "each escalation reason at most once per ticket"


def test_a_complaint_about_attitude_when_it_comes_in_is_not_a_renewed_complaint(ticket):
    """篇6 §32 escalates 再次投诉 about the handling staff; a first complaint about a clerk's attitude
    keeps its tier (R-PEN-5.6.3 deals with it)."""
    tl = Timeline(host("realestate", plugins=BOTH, facts={"flags": {"attitude": True}}), ticket(),
                  {"scheme": "service", "tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.event("article_added", cst(2026, 3, 2, 11))
    assert not tl.record.get("escalations")


def test_valid_complaint_unresolved_for_a_month_becomes_major(ticket):
    """R-ESC-6.13: a timer at receipt + 1 month; still open and valid then -> straight to major."""
    tl = Timeline(host("insurance", plugins=("escalation",)), ticket(), {"scheme": "loss", "tier": "general"})
    plan = tl.event("created", cst(2026, 3, 2, 10))
    (timer,) = effects_of(plan, ScheduleTimer)
    assert (timer.key, timer.due_at, timer.rule_id) == ("unresolved-month", cst(2026, 4, 2, 10), "R-ESC-6.13")
    plan = tl.event("timer_fired", cst(2026, 4, 2, 10, 0, 1), timer_key="unresolved-month")
    assert not tl.record.get("escalations"), "validity unknown: asked, not guessed"
    assert [n.rule_id for n in effects_of(plan, InternalNote)] == ["R-ESC-6.13"]
    tl.record["valid"] = 1
    tl.event("updated", cst(2026, 4, 2, 11))
    assert escalations(tl) == [("R-ESC-6.13", "general", "major")]


def test_closed_before_a_month_cancels_the_month_timer(ticket):
    """R-ESC-6.13: resolved in time -> no escalation timer left."""
    tl = Timeline(host("insurance", plugins=("escalation",)), ticket(), {"scheme": "loss", "tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.ticket.closed = True
    plan = tl.event("closed", cst(2026, 3, 3, 10))
    assert [c.key for c in plan.cancels.values()] == ["unresolved-month"]


def test_a_complaint_confirmed_invalid_loses_its_month_timer(ticket):
    """R-INVALID-6.14: no R-ESC-6.13 timer is left behind for a complaint a person confirmed invalid."""
    tl = Timeline(host("realestate", plugins=("escalation",)), ticket(), {"scheme": "service", "tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.record["valid"] = 0
    plan = tl.event("updated", cst(2026, 3, 2, 11))
    assert [c.key for c in plan.cancels.values()] == ["unresolved-month"]
    assert effects_of(tl.event("updated", cst(2026, 3, 2, 12)), CancelTimer) == []


def test_invalid_complaint_is_not_escalated(ticket):
    tl = Timeline(host("realestate", plugins=BOTH, facts={"flags": {"attitude": True}}), ticket(),
                  {"scheme": "service", "tier": "general", "valid": 0})
    tl.event("created", cst(2026, 3, 2, 10))
    assert not tl.record.get("escalations"), "R-ESC-6.32 does not apply to a complaint confirmed invalid"


# -------------------------------------------------------------------------------------------------
# the real pipeline, store and timer loop


def test_timer_through_pipeline_marks_overdue_and_escalates(engine, make_ticket):
    """R-SLA-6.18-general's timer row fires in the timer loop, the worker runs deadlines and
    escalation: overdue recorded, R-ESC-6.13 + R-ESC-6.31 in the stored record, ticket urgent."""
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 Asia/Shanghai, make_ticket's creation
    now = [t0]
    clock = lambda: now[0]  # noqa: E731
    ticket = make_ticket("物业维修一直没人管", "报修三次没人来", group="物业")
    conn = MemoryConnector({"1": ticket})
    with engine.begin() as c:
        store.save_complaint(c, "zammad:1", {"scheme": "service", "tier": "general", "valid": 1,
                                             "tier_order": ["general", "major"]}, t0)
    pipeline = Pipeline(engine=engine, connector=conn, host=host("realestate", plugins=BOTH),
                        renderer=NoteRenderer("zh"), clock=clock)
    worker = Worker(pipeline, WorkerSettings(), clock=clock)
    Inbox(engine).add(NewEvent(helpdesk="zammad", ticket_id="1", kind="created", source="webhook",
                               received_at=t0, delivery_id="d1"))
    worker.drain()
    due = {t["key"]: t["due_at"].replace(tzinfo=timezone.utc) for t in store.list_timers(engine, "zammad:1")}
    assert due["R-SLA-6.18-general"] == datetime(2026, 3, 5, 2, 0, tzinfo=timezone.utc)
    assert due["unresolved-month"] == datetime(2026, 4, 2, 2, 0, tzinfo=timezone.utc)
    loop = TimerLoop(pipeline, worker.settings, clock=clock)
    now[0] = datetime(2026, 3, 5, 2, 0, 1, tzinfo=timezone.utc)
    assert loop.tick() == 3  # first response, target, limit
    worker.drain()
    now[0] += timedelta(seconds=2)
    assert loop.tick() == 1  # the recheck after escalation
    worker.drain()
    with engine.connect() as c:
        record = store.load_complaint(c, "zammad:1")
    assert record["deadlines"]["R-SLA-6.18-general"]["overdue"] is True
    assert [(e["rule_id"], e["from"], e["to"]) for e in record["escalations"]] == [
        ("R-ESC-6.13", "general", "major"), ("R-ESC-6.31", "major", "major")]
    assert record["tier"] == "major"
    assert record["deadlines"]["R-SLA-6.18-major"]["due"] == "2026-03-16T02:00:01+00:00"
    assert conn.tickets["1"].priority is Priority.urgent
    assert {"已超时", "已升级"} <= set(conn.tickets["1"].tags)
    notes = "\n".join(n for _, n in conn.notes["1"])
    assert "已超时：一般投诉处理解决，时限 2026-03-05 10:00" in notes and "[R-ESC-6.13]" in notes
