"""Merging effects into a plan, and diffing a plan against a ticket."""

from __future__ import annotations

from datetime import datetime, timezone

from kesu.effects import (
    AddTags,
    AssignGroup,
    CancelTimer,
    InternalNote,
    LedgerEntry,
    RemoveTags,
    ScheduleTimer,
    SetPriority,
    SetState,
)
from kesu.models import Priority, TicketRef
from plugins.plan import NoteRenderer, diff, merge

REF = TicketRef(helpdesk="zammad", id="1")
PRECEDENCE = {"zammad": 0, "severity": 1, "routing": 2, "thirdparty": 3}


def eff(cls, source, **kw):
    return cls(**kw).model_copy(update={"source": source})


def test_highest_priority_wins_and_conflict_is_recorded():
    plan = merge(REF, [
        eff(SetPriority, "severity", rule_id="R-TIER-1.9.1-B", priority=Priority.high),
        eff(SetPriority, "thirdparty", rule_id="R-SPECIAL-1.11", priority=Priority.urgent),
        eff(SetPriority, "routing", rule_id="R-TIER-1.9.1-C", priority=Priority.normal),
    ], PRECEDENCE)
    assert plan.priority.priority is Priority.urgent
    assert plan.priority.source == "thirdparty"
    assert {c.dropped.source for c in plan.conflicts} == {"severity", "routing"}


def test_group_conflict_first_registered_plugin_wins():
    plan = merge(REF, [
        eff(AssignGroup, "thirdparty", rule_id="R-ROUTE-5.4", group="客服部"),
        eff(AssignGroup, "routing", rule_id="R-ROUTE-1.10", group="生产班组"),
    ], PRECEDENCE)
    assert plan.group.group == "生产班组"
    assert plan.conflicts[0].dropped.group == "客服部"


def test_tag_added_and_removed_is_added_and_cancel_beats_schedule():
    due = datetime(2026, 3, 3, tzinfo=timezone.utc)
    plan = merge(REF, [
        eff(AddTags, "severity", rule_id="R-TIER-1.9.1-A", tags=("x",)),
        eff(RemoveTags, "routing", rule_id="R-ROUTE-1.10", tags=("x", "y")),
        eff(ScheduleTimer, "severity", rule_id="R-SLA-6.16", key="record", due_at=due),
        eff(CancelTimer, "severity", rule_id="R-SLA-6.16", key="record"),
        eff(SetState, "severity", rule_id="R-TIER-1.9.1-A", values={"tier": "A"}),
    ], PRECEDENCE)
    assert list(plan.add_tags) == ["x"]
    assert list(plan.remove_tags) == ["y"]
    assert plan.timers == {}
    assert plan.state == {"severity": {"tier": "A"}}


def _plan():
    return merge(REF, [
        eff(SetPriority, "severity", rule_id="R-TIER-1.9.1-A", priority=Priority.urgent, reason="发霉"),
        eff(AddTags, "severity", rule_id="R-TIER-1.9.1-A", tags=("客诉-A类",)),
        eff(InternalNote, "severity", rule_id="R-COMP-1.9.2-A", text="赔付 1:10", text_en="replace 1:10"),
    ], PRECEDENCE)


def test_diff_writes_each_decision_once_and_cites_rules(make_ticket):
    ticket = make_ticket()
    r = NoteRenderer("zh")
    first = diff(_plan(), ticket, {}, r)
    assert first.writes.priority is Priority.urgent
    assert first.writes.add_tags == ["客诉-A类"]
    lines = first.writes.note.splitlines()[1:]
    assert len(lines) == 3 and all(line.rstrip().endswith("]") and "[R-" in line for line in lines)
    assert "[R-TIER-1.9.1-A]" in lines[0] and "紧急" in lines[0]
    # Same decisions again, with what kesu remembered: nothing to write.
    again = diff(_plan(), ticket, first.applied, r)
    assert again.writes.is_empty()


def test_diff_respects_a_person_overriding_kesu(make_ticket):
    r = NoteRenderer("en")
    first = diff(_plan(), make_ticket(), {}, r)
    # An agent lowered the priority and removed the tag after kesu wrote them.
    overridden = make_ticket(priority=Priority.normal, tags=[])
    assert diff(_plan(), overridden, first.applied, r).writes.is_empty()


def test_diff_skips_writes_the_ticket_already_shows_but_still_explains(make_ticket):
    ticket = make_ticket(priority=Priority.urgent, tags=["客诉-A类"])
    result = diff(_plan(), ticket, {}, NoteRenderer("en"))
    assert result.writes.priority is None and result.writes.add_tags == []
    assert "Priority → urgent" in result.writes.note and "replace 1:10" in result.writes.note


def test_ledger_lines_say_entry_or_proposal_kind_and_amount_in_the_notes_language(make_ticket):
    """R-PEN-5.6.2 fixed fine (recorded), R-PEN-6.40 range (a person decides), R-PEN-5.6.4 score
    and R-REW-6.43 reward without an amount."""
    plan = merge(REF, [
        eff(LedgerEntry, "penalties", rule_id="R-PEN-5.6.2", kind="penalty", subject="公司负责人", amount=1000,
            status="confirmed"),
        eff(LedgerEntry, "penalties", rule_id="R-PEN-6.40", kind="penalty", subject="agent1", amount_min=1000,
            amount_max=5000, reason="个人原因致投诉停滞并升级"),
        eff(LedgerEntry, "penalties", rule_id="R-PEN-5.6.4", kind="score", subject="agent1"),
        eff(LedgerEntry, "penalties", rule_id="R-REW-6.43", kind="reward", subject="agent1"),
    ], PRECEDENCE)
    zh = diff(plan, make_ticket(), {}, NoteRenderer("zh")).note_lines
    assert zh == [
        "• 台账记账：罚款 公司负责人 1000 元 [R-PEN-5.6.2]",
        "• 台账提议：罚款 agent1 1000–5000 元：个人原因致投诉停滞并升级 [R-PEN-6.40]",
        "• 台账提议：考核扣分 agent1 [R-PEN-5.6.4]",
        "• 台账提议：奖励 agent1 [R-REW-6.43]",
    ]
    en = diff(plan, make_ticket(), {}, NoteRenderer("en")).note_lines
    assert en[0] == "• Ledger entry: fine 公司负责人 1000 yuan [R-PEN-5.6.2]"
    assert en[2] == "• Ledger proposal: score deduction agent1 [R-PEN-5.6.4]"


def test_conflict_lines_name_priorities_not_their_numbers(make_ticket):
    """R-ESC-6.30 raises the priority while severity still decides the B tier's: the note says so in words."""
    plan = merge(REF, [
        eff(SetPriority, "severity", rule_id="R-TIER-1.9.1-B", priority=Priority.high),
        eff(SetPriority, "escalation", rule_id="R-ESC-6.30", priority=Priority.urgent, reason="已升级"),
    ], {**PRECEDENCE, "escalation": 4})
    lines = diff(plan, make_ticket(), {}, NoteRenderer("zh")).note_lines
    assert "• 冲突：优先级 采用 紧急（escalation），未采用 高（severity）：已升级 [R-ESC-6.30]" in lines
    en = diff(plan, make_ticket(), {}, NoteRenderer("en")).note_lines
    assert "• Conflict: priority kept urgent (escalation), dropped high (severity): 已升级 [R-ESC-6.30]" in en
