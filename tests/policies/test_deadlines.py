"""Deadlines (POLICY_SPEC §4): R-SLA-* timers in the business calendar, met / overdue, extensions
(R-EXT-6.18, R-EXT-6.27) and emergencies (R-EMERG-6.28). Exact due timestamps throughout."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from kesu.effects import AddTags, CancelTimer, InternalNote, RecordComplaint, ScheduleTimer, SetPriority
from kesu.models import Priority
from plugins.manager import PluginConfigError
from policies import profiles
from policies.deadlines import DeadlinesConfig
from tests.policies.timeline import Timeline, cst, effects_of, host


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


@pytest.fixture
def ticket(make_ticket):
    def make(received: datetime, **kw):
        t = make_ticket(**kw)
        return t.model_copy(update={"created_at": received, "updated_at": received})
    return make


def timers(plan) -> dict[str, datetime]:
    return {t.key: t.due_at for t in effects_of(plan, ScheduleTimer, "deadlines")}


def test_realestate_general_complaint_friday_before_spring_festival(ticket):
    """R-SLA-6.18-general: received Friday 2026-02-13 10:00; target 1 working day = the make-up
    Saturday 02-14 10:00; limit 3 working days = 02-25 10:00 (02-15..23 off).
    R-SLA-6.18-resp: 5 minutes, wall clock."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 2, 13, 10)), {"tier": "general"})
    plan = tl.event("created", cst(2026, 2, 13, 10))
    assert timers(plan) == {
        "R-SLA-6.18-resp": cst(2026, 2, 13, 10, 5),
        "R-SLA-6.18-general": cst(2026, 2, 25, 10),
        "R-SLA-6.18-general:target": cst(2026, 2, 14, 10),
    }
    entry = tl.record["deadlines"]["R-SLA-6.18-general"]
    assert entry == {"start": utc(cst(2026, 2, 13, 10)), "due": utc(cst(2026, 2, 25, 10)),
                     "target": utc(cst(2026, 2, 14, 10)), "met_at": None, "extended_to": None,
                     "approved_by": None, "extension_rule": None, "overdue": False}
    line = next(n for n in tl.notes if "R-SLA-6.18-general：" in n)
    assert "2026-02-25 10:00" in line and "3 个工作日" in line and "目标 2026-02-14 10:00" in line
    assert line.endswith("[R-SLA-6.18-general]")
    # The same ticket again: nothing new is scheduled or written.
    again = tl.event("updated", cst(2026, 2, 13, 10, 1))
    assert not effects_of(again, ScheduleTimer) and not effects_of(again, RecordComplaint)


def test_first_response_met_by_public_agent_reply_cancels_its_timer(ticket):
    """R-SLA-6.18-resp: an internal note is not a response; a public agent reply is."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.reply(cst(2026, 3, 2, 10, 2), internal=True)
    plan = tl.event("article_added", cst(2026, 3, 2, 10, 2))
    assert tl.record["deadlines"]["R-SLA-6.18-resp"]["met_at"] is None and not effects_of(plan, CancelTimer)
    tl.reply(cst(2026, 3, 2, 10, 4))
    plan = tl.event("article_added", cst(2026, 3, 2, 10, 4))
    assert tl.record["deadlines"]["R-SLA-6.18-resp"]["met_at"] == utc(cst(2026, 3, 2, 10, 4))
    assert [c.key for c in effects_of(plan, CancelTimer)] == ["R-SLA-6.18-resp"]
    assert tl.record["deadlines"]["R-SLA-6.18-resp"]["overdue"] is False


def test_timer_fired_and_not_met_is_overdue_with_note_and_tag(ticket):
    """R-SLA-1.4.4 (food): hand-over to the responsible unit within 1 hour; still in the intake
    group when the timer fires -> overdue, note, tag."""
    tl = Timeline(host("food"), ticket(cst(2026, 3, 2, 10)), {"tier": "B"})
    plan = tl.event("created", cst(2026, 3, 2, 10))
    assert timers(plan)["R-SLA-1.4.4"] == cst(2026, 3, 2, 11)
    plan = tl.event("timer_fired", cst(2026, 3, 2, 11, 0, 1), timer_key="R-SLA-1.4.4")
    entry = tl.record["deadlines"]["R-SLA-1.4.4"]
    assert entry["overdue"] is True and entry["met_at"] is None
    note = next(n for n in effects_of(plan, InternalNote) if n.rule_id == "R-SLA-1.4.4")
    assert note.text == "已超时：传递至责任部门，时限 2026-03-02 11:00；请立即将投诉记录单传递到责任部门"
    assert effects_of(plan, AddTags)[0].tags == ("已超时",)
    # Later dispatched: met late, still overdue, no second overdue note.
    tl.ticket.group = "生产班组"
    tl.ticket.updated_at = cst(2026, 3, 2, 11, 30)
    plan = tl.event("updated", cst(2026, 3, 2, 11, 30))
    entry = tl.record["deadlines"]["R-SLA-1.4.4"]
    assert entry["met_at"] == utc(cst(2026, 3, 2, 11, 30)) and entry["overdue"] is True
    assert not [n for n in effects_of(plan, InternalNote) if n.rule_id == "R-SLA-1.4.4"]


def test_dispatch_in_time_is_met_and_its_timer_cancelled(ticket):
    """R-SLA-1.4.4: an owner assigned (or a responsible unit's group) within the hour meets it."""
    tl = Timeline(host("food"), ticket(cst(2026, 3, 2, 10)), {"tier": "A"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.ticket.owner = "zhang.san"
    tl.ticket.updated_at = cst(2026, 3, 2, 10, 40)
    plan = tl.event("updated", cst(2026, 3, 2, 10, 40))
    assert "R-SLA-1.4.4" in [c.key for c in effects_of(plan, CancelTimer)]
    assert tl.record["deadlines"]["R-SLA-1.4.4"]["met_at"] == utc(cst(2026, 3, 2, 10, 40))
    # Food tier A maps to the major resolution deadline (POLICY_SPEC default): 3 / 7 working days.
    assert tl.record["deadlines"]["R-SLA-6.18-major"]["due"] == utc(cst(2026, 3, 11, 10))
    assert "R-SLA-6.18-general" not in tl.record["deadlines"]


def test_major_received_during_spring_festival_counts_from_next_working_day_0900(ticket):
    """R-SLA-6.18-major: received 2026-02-18 (holiday) -> from 02-24 09:00; target 3 working days
    02-27 09:00; limit 7 working days 03-04 09:00 (the make-up Saturday 02-28 counts)."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 2, 18, 10)), {"tier": "major"})
    plan = tl.event("created", cst(2026, 2, 18, 10))
    assert timers(plan)["R-SLA-6.18-major"] == cst(2026, 3, 4, 9)
    assert timers(plan)["R-SLA-6.18-major:target"] == cst(2026, 2, 27, 9)


def test_insurer_deadlines_and_half_a_working_day(ticket):
    """R-SLA-5.5.1 20 min, R-SLA-5.5.2.3 1 h, R-SLA-5.5.2.5 3 working days, R-SLA-5.4.5.4 half a
    working day from 16:00 -> next working day 12:00."""
    tl = Timeline(host("insurance"), ticket(cst(2026, 3, 2, 16)), {"tier": "major"})
    plan = tl.event("created", cst(2026, 3, 2, 16))
    assert timers(plan) == {
        "R-SLA-5.5.1": cst(2026, 3, 2, 16, 20),
        "R-SLA-5.5.2.3": cst(2026, 3, 2, 17),
        "R-SLA-5.5.2.5": cst(2026, 3, 5, 16),
        "R-SLA-5.4.5.4": cst(2026, 3, 3, 12),
    }
    # R-SLA-5.5.2.3: a logged phone call (internal, type phone) is contact with the customer.
    tl.reply(cst(2026, 3, 2, 16, 30), internal=True, type="phone")
    tl.event("article_added", cst(2026, 3, 2, 16, 30))
    assert tl.record["deadlines"]["R-SLA-5.5.2.3"]["met_at"] == utc(cst(2026, 3, 2, 16, 30))
    # R-SLA-5.4.5.4 is met by the field the agent fills in.
    tl.ticket.fields["branch_reported_at"] = "2026-03-03 11:00"
    tl.event("updated", cst(2026, 3, 3, 11, 5))
    assert tl.record["deadlines"]["R-SLA-5.4.5.4"]["met_at"] == utc(cst(2026, 3, 3, 11))


def test_insurer_general_one_working_day_and_hq_report_after_close(ticket):
    """R-SLA-5.5.2.4 general: 1 working day. R-SLA-5.4.5.5: a closed major complaint's handling
    plan goes to head office within 3 working days of the close."""
    tl = Timeline(host("insurance"), ticket(cst(2026, 2, 13, 10)), {"tier": "general"})
    assert timers(tl.event("created", cst(2026, 2, 13, 10)))["R-SLA-5.5.2.4"] == cst(2026, 2, 14, 10)
    major = Timeline(host("insurance"), ticket(cst(2026, 3, 2, 9)), {"tier": "major"})
    major.event("created", cst(2026, 3, 2, 9))
    major.ticket.closed = True
    major.ticket.updated_at = cst(2026, 3, 4, 15)
    plan = major.event("closed", cst(2026, 3, 4, 15))
    assert timers(plan) == {"R-SLA-5.4.5.5": cst(2026, 3, 9, 15)}
    assert major.states["deadlines"]["resolved_at"] == utc(cst(2026, 3, 4, 15))
    assert major.record["deadlines"]["R-SLA-5.5.2.5"]["met_at"] == utc(cst(2026, 3, 4, 15))


def test_major_three_working_days_across_national_day_2025(ticket):
    """R-SLA-5.5.2.5: received Tuesday 2025-09-30 10:00, off 10-01..08, make-up Saturday 10-11."""
    tl = Timeline(host("insurance"), ticket(cst(2025, 9, 30, 10)), {"tier": "difficult"})
    assert timers(tl.event("created", cst(2025, 9, 30, 10)))["R-SLA-5.5.2.5"] == cst(2025, 10, 11, 10)


def test_retail_case_closed_within_seven_days(ticket):
    """R-SLA-4.26: 7 calendar days from receipt."""
    tl = Timeline(host("retail"), ticket(cst(2026, 3, 2, 10)), {})
    assert timers(tl.event("created", cst(2026, 3, 2, 10)))["R-SLA-4.26"] == cst(2026, 3, 9, 10)


def test_result_told_within_five_minutes_of_resolution(ticket):
    """R-SLA-6.34: a public reply sent with the close meets it; without one, overdue at +5 min."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.reply(cst(2026, 3, 3, 14, 58))
    tl.ticket.closed = True
    tl.ticket.updated_at = cst(2026, 3, 3, 15)
    plan = tl.event("closed", cst(2026, 3, 3, 15))
    assert tl.record["deadlines"]["R-SLA-6.34"]["met_at"] == utc(cst(2026, 3, 3, 15))
    assert "R-SLA-6.34" not in timers(plan)
    assert tl.record["deadlines"]["R-SLA-6.18-general"]["met_at"] == utc(cst(2026, 3, 3, 15))

    silent = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    silent.event("created", cst(2026, 3, 2, 10))
    silent.ticket.closed = True
    silent.ticket.updated_at = cst(2026, 3, 3, 15)
    assert timers(silent.event("closed", cst(2026, 3, 3, 15)))["R-SLA-6.34"] == cst(2026, 3, 3, 15, 5)
    silent.event("timer_fired", cst(2026, 3, 3, 15, 5, 1), timer_key="R-SLA-6.34")
    assert silent.record["deadlines"]["R-SLA-6.34"]["overdue"] is True


def test_recording_within_five_minutes_of_first_contact(ticket):
    """R-SLA-6.16: first contact 09:50 (field), ticket created 10:00 -> recorded late."""
    t = ticket(cst(2026, 3, 2, 10), fields={"first_contact_at": "2026-03-02 09:50"})
    tl = Timeline(host("realestate"), t, {"tier": "general"})
    plan = tl.event("created", cst(2026, 3, 2, 10))
    entry = tl.record["deadlines"]["R-SLA-6.16"]
    assert entry["due"] == utc(cst(2026, 3, 2, 9, 55)) and entry["met_at"] == utc(cst(2026, 3, 2, 10))
    assert entry["overdue"] is True
    assert any(n.text == "投诉录入系统超时完成：时限 2026-03-02 09:55，完成于 2026-03-02 10:00"
               for n in effects_of(plan, InternalNote))
    # Without the field the rule does not run.
    bare = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    bare.event("created", cst(2026, 3, 2, 10))
    assert "R-SLA-6.16" not in bare.record["deadlines"]


def test_extension_without_approver_is_ignored_and_with_approver_honoured(ticket):
    """R-EXT-6.18: only the vice-president's recorded approval moves R-SLA-6.18-general."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.ticket.fields.update(deadline_extended_to="2026-03-10", extension_reason="需第三方检测")
    plan = tl.event("updated", cst(2026, 3, 3, 9))
    entry = tl.record["deadlines"]["R-SLA-6.18-general"]
    assert entry["due"] == utc(cst(2026, 3, 5, 10)) and entry["extended_to"] is None
    assert not timers(plan)
    (note,) = [n for n in effects_of(plan, InternalNote) if n.rule_id == "R-EXT-6.18"]
    assert "未获批准，已忽略，原时限 2026-03-05 10:00 不变" in note.text
    assert not [n for n in effects_of(tl.event("updated", cst(2026, 3, 3, 9, 5)), InternalNote)
                if n.rule_id == "R-EXT-6.18"], "the ignored extension is noted once"

    tl.ticket.fields["extension_approved_by"] = "李副总裁"
    plan = tl.event("updated", cst(2026, 3, 3, 10))
    entry = tl.record["deadlines"]["R-SLA-6.18-general"]
    assert entry["extended_to"] == utc(cst(2026, 3, 10, 17)) and entry["approved_by"] == "李副总裁"
    assert entry["extension_rule"] == "R-EXT-6.18" and entry["extension_reason"] == "需第三方检测"
    assert entry["due"] == utc(cst(2026, 3, 5, 10)), "the original deadline stays on record"
    (moved,) = [t for t in effects_of(plan, ScheduleTimer) if t.key == "R-SLA-6.18-general"]
    assert moved.due_at == cst(2026, 3, 10, 17) and moved.rule_id == "R-EXT-6.18"
    assert "李副总裁" in moved.reason
    # Past the original deadline but within the extension: not overdue.
    tl.event("timer_fired", cst(2026, 3, 5, 10, 0, 1), timer_key="R-SLA-6.18-general")
    assert tl.record["deadlines"]["R-SLA-6.18-general"]["overdue"] is False


def test_multi_department_extension_with_customer_consent(ticket):
    """R-EXT-6.27: several responsible units and the customer's consent; R-SLA-6.27: recorded
    within 3 minutes of the consent."""
    fields = {"deadline_extended_to": "2026-03-12 12:00", "extension_customer_consent": "是",
              "extension_consent_at": "2026-03-04 10:00"}
    tl = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general", "units": ["工程部", "物业"]})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.ticket.fields.update(fields)
    tl.ticket.updated_at = cst(2026, 3, 4, 10, 2)
    tl.event("updated", cst(2026, 3, 4, 10, 2))
    entry = tl.record["deadlines"]["R-SLA-6.18-general"]
    assert (entry["extended_to"], entry["approved_by"], entry["extension_rule"]) == (
        utc(cst(2026, 3, 12, 12)), "customer", "R-EXT-6.27")
    line = next(n for n in tl.notes if "已延期" in n)
    assert line == ("• 时限 R-SLA-6.18-general：2026-03-12 12:00 CST：一般投诉处理解决，已延期（多部门协调，客户同意），"
                    "原时限 2026-03-05 10:00 [R-EXT-6.27]")
    told = tl.record["deadlines"]["R-SLA-6.27"]
    assert told["due"] == utc(cst(2026, 3, 4, 10, 3)) and told["met_at"] == utc(cst(2026, 3, 4, 10, 2))
    assert told["overdue"] is False
    # One unit only: consent alone is no approval.
    single = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10), fields=fields), {"tier": "general", "units": ["物业"]})
    single.event("created", cst(2026, 3, 2, 10))
    assert single.record["deadlines"]["R-SLA-6.18-general"]["extended_to"] is None


def test_raised_tier_starts_its_deadline_when_raised_and_cancels_the_old_one(ticket):
    """R-SLA-6.18-major after R-ESC-6.13: a general complaint raised to major on 03-05 12:00 gets
    7 working days from then; the general deadline's timers are cancelled."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.record["tier"] = "major"
    plan = tl.event("timer_fired", cst(2026, 3, 5, 12), timer_key="recompute-deadlines")
    assert timers(plan)["R-SLA-6.18-major"] == cst(2026, 3, 16, 12)
    assert {c.key for c in effects_of(plan, CancelTimer)} == {"R-SLA-6.18-general", "R-SLA-6.18-general:target"}
    line = next(n for n in tl.notes if "R-SLA-6.18-major：" in n)
    assert "自升级 2026-03-05 12:00" in line


def test_year_without_official_calendar_is_flagged_in_the_note(ticket, caplog):
    """R-SLA-6.18-general into 2027 (no 调休 published): counted on weekdays and flagged."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 12, 30, 10)), {"tier": "general"})
    with caplog.at_level(logging.WARNING):
        plan = tl.event("created", cst(2026, 12, 30, 10))
    assert timers(plan)["R-SLA-6.18-general"] == cst(2027, 1, 5, 10)
    flagged = [n for n in effects_of(plan, InternalNote) if "2027 年尚无官方节假日调休安排" in n.text]
    assert len(flagged) == 1 and flagged[0].rule_id == "R-SLA-6.18-general"
    assert any("2027" in r.getMessage() and "zammad:1" in r.getMessage() for r in caplog.records)
    assert not [n for n in effects_of(tl.event("updated", cst(2026, 12, 30, 11)), InternalNote) if "2027" in n.text]


def test_ongoing_serious_loss_gets_emergency_measures_first(ticket):
    """R-EMERG-6.28: urgent priority, tag and one note."""
    tl = Timeline(host("realestate", facts={"flags": {"ongoing_loss": True}}), ticket(cst(2026, 3, 2, 10)),
                  {"tier": "general"})
    plan = tl.event("created", cst(2026, 3, 2, 10))
    (prio,) = effects_of(plan, SetPriority)
    assert prio.priority is Priority.urgent and prio.rule_id == "R-EMERG-6.28"
    assert ("应急处置",) in [t.tags for t in effects_of(plan, AddTags)]
    assert [n.rule_id for n in effects_of(plan, InternalNote)] == ["R-EMERG-6.28"]
    later = tl.event("updated", cst(2026, 3, 2, 10, 4))
    assert effects_of(later, SetPriority) and not effects_of(later, InternalNote), "noted once"


def test_confirmed_invalid_complaint_drops_its_resolution_timers(ticket):
    """R-SLA-6.18-general is valid_only: a complaint confirmed invalid cancels it."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    tl.event("created", cst(2026, 3, 2, 10))
    tl.record["valid"] = 0
    plan = tl.event("updated", cst(2026, 3, 2, 12))
    assert {"R-SLA-6.18-general", "R-SLA-6.18-general:target"} <= {c.key for c in effects_of(plan, CancelTimer)}


def test_every_profile_has_a_valid_deadlines_section():
    """R-SLA-5.5.1, R-SLA-1.4.4, R-SLA-4.26 ... all come from profile data."""
    rules = {p: set(DeadlinesConfig.model_validate(profiles.section(p, "deadlines")).rules) for p in profiles.PROFILES}
    assert {"R-SLA-1.4.4", "R-SLA-6.18-general", "R-SLA-6.18-major"} <= rules["food"]
    assert {"R-SLA-5.5.1", "R-SLA-5.5.2.3", "R-SLA-5.5.2.4", "R-SLA-5.5.2.5", "R-SLA-5.4.5.4",
            "R-SLA-5.4.5.5"} <= rules["insurance"]
    assert {"R-SLA-6.16", "R-SLA-6.18-resp", "R-SLA-6.18-general", "R-SLA-6.18-major", "R-SLA-6.27",
            "R-SLA-6.34"} <= rules["realestate"]
    assert "R-SLA-4.26" in rules["retail"] and "R-SLA-6.18-general" in rules["utility"]
    # R-SLA-6.36 / R-SLA-5.5.3 (follow-up after resolution) belong to the followups plugin.
    assert not any({"R-SLA-6.36", "R-SLA-5.5.3"} & r for r in rules.values())


def test_invalid_configuration_names_the_key():
    with pytest.raises(PluginConfigError, match="exactly one of"):
        host("realestate", sections={"deadlines": {"rules": {"R-SLA-6.18-resp": {"limit": {"minutes": 5, "hours": 1}}}}})
    with pytest.raises(PluginConfigError, match="met_field"):
        host("realestate", sections={"deadlines": {"rules": {"R-SLA-6.34": {"met": "field"}}}})
    with pytest.raises(PluginConfigError, match="rule IDs"):
        host("realestate", sections={"deadlines": {"rules": {"first response": {
            "what": "x", "what_en": "x", "limit": {"minutes": 5}, "start": "received", "met": "created"}}}})


def test_deadline_already_passed_when_first_seen_is_overdue_at_once(ticket):
    """R-SLA-6.18-resp counts from the ticket's creation, not from kesu's first sight."""
    tl = Timeline(host("realestate"), ticket(cst(2026, 3, 2, 10)), {"tier": "general"})
    plan = tl.event("created", cst(2026, 3, 2, 10, 30))
    assert "R-SLA-6.18-resp" not in timers(plan)
    assert tl.record["deadlines"]["R-SLA-6.18-resp"]["overdue"] is True
    assert tl.record["deadlines"]["R-SLA-6.18-general"]["due"] == utc(cst(2026, 3, 5, 10))
    assert timedelta(0) < cst(2026, 3, 2, 10, 30) - cst(2026, 3, 2, 10, 5)
