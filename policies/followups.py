"""Follow-up calls (回访) and post-resolution records -- POLICY_SPEC §7 and §9.

When a complaint is resolved (kesu sees the ticket closed) and it is not confirmed invalid (or, with
``only_valid``, confirmed valid):

* R-CB-6.36 a follow-up to-do ``callback`` due ``hours`` after the resolution (48 h), or
  R-CB-5.5.3 / R-SLA-5.5.3 (insurer) at ``next_day_at`` on the next calendar day. The connector
  shows it in the agent's own UI (Zammad: "pending reminder" with ``pending_time``) and the
  pipeline records it in the ``followups`` table, from which ``kesu followups list`` reports the
  follow-up rate (target 100 %). A timer at the due time notes a missed follow-up.
* R-CB-6.37 major complaints first: due at most ``major_hours`` after the resolution, on-site
  visit allowed; the to-do lists what to ask (solved? timeliness, attitude, result, suggestions).
* The outcome is read back as ``facts.followup_outcome`` and recorded with ``RecordComplaint``:
  satisfied / dissatisfied finish the follow-up (dissatisfied is escalated by the escalation
  plugin, R-ESC-6.30); unreachable counts a try and brings a new to-do ``retry_hours`` later, up to
  ``max_attempts`` tries, then a note that the follow-up failed. A helpdesk field cannot be set to
  the value it already has, so an outcome is reported when its value changes, or -- a second
  "unreachable", say -- when the agent logs another call (a new article of a type in
  ``attempt_article_types``) while the field keeps its value. A value already in the field when
  a follow-up starts belongs to an earlier one and is not taken as its outcome.
* R-REC-6.15 a proposed solution has resolver, measures and deadline; R-REC-4.15 the record holds
  customer, request, time received and number, the unit's opinion, and the investigation report
  cause, course, responsible persons, conclusion, countermeasures and prevention. Checked on
  resolution against configured fields; the note lists what is missing.
* R-CAPA-1.7.4 for the configured tiers, the quality department is notified on resolution to track
  the responsible units' corrective and preventive actions; the ticket keeps a tag until a
  configured field says they are done.

Setting the reminder state makes Zammad count the ticket as open again; that is not a new
resolution. A new follow-up cycle starts only when the ticket closes again after the previous
follow-up ended dissatisfied, or after the ticket was reopened once the follow-up had ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kesu.effects import (
    AddTags,
    CancelTimer,
    Effect,
    FollowUpTodo,
    InternalNote,
    Notify,
    RecordComplaint,
    RemoveTags,
    ScheduleTimer,
    SetState,
)
from kesu.facts import Facts
from kesu.models import EventKind, Ticket, TicketEvent
from kesu.ticket_fields import TicketField, named, select
from plugins import hookimpl

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "followups"

OUTCOME_ZH = {"satisfied": "满意", "dissatisfied": "不满意", "unreachable": "未接通"}


class FieldCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    fields: dict[str, str] = Field(description="ticket field -> label shown when it is missing")


class SolutionCheck(FieldCheck):
    """R-REC-6.15: resolver, measures, deadline."""

    required: bool = Field(description="true: every resolution needs them; false: only once one is given")


class ReportCheck(FieldCheck):
    """R-REC-4.15 investigation report, for complaints of these tiers."""

    tiers: list[str]


class CapaConfig(BaseModel):
    """R-CAPA-1.7.4."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    tiers: list[str] = Field(description="Tiers whose corrective/preventive actions are tracked")
    recipients: list[str] = Field(min_length=1, description="Who tracks them (质检部)")
    tag: str = Field(min_length=1, description="Kept on the ticket until done")
    done_field: str = Field(min_length=1, description="Ticket field that marks the actions done")
    done_values: list[str] = Field(description="Values of done_field that mean done (true always does)")


class FollowupsConfig(BaseModel):
    """``[policies.followups]``; the profile supplies every value."""

    model_config = ConfigDict(extra="forbid")

    rule: Literal["R-CB-6.36", "R-CB-5.5.3"] = Field(description="Which follow-up rule applies")
    due: Literal["hours", "next_day"] = Field(description="hours after resolution, or the next day")
    hours: float = Field(gt=0, description="due = resolution + hours (due = 'hours')")
    next_day_at: time = Field(description="Local time on the next day (due = 'next_day')")
    timezone: str
    only_valid: bool = Field(description="true: only confirmed-valid complaints; false: all not confirmed invalid")
    assignee: str = Field(description="Login doing follow-ups (call centre); '' = the ticket owner")
    major_tiers: list[str] = Field(description="R-CB-6.37: tiers followed up first")
    major_hours: float = Field(ge=0, description="Major complaints due at most this long after resolution; 0 = off")
    questions: list[str] = Field(min_length=1, description="What the follow-up asks (R-CB-6.37)")
    major_visit: str = Field(description="Added to a major complaint's to-do (on-site visit allowed)")
    retry_hours: float = Field(gt=0, description="Unreachable: next try this many hours later")
    max_attempts: int = Field(ge=1, description="Tries before the follow-up is given up as failed")
    attempt_article_types: list[str] = Field(description="Article types that log a call attempt")
    solution: SolutionCheck  # R-REC-6.15
    record_fields: FieldCheck  # R-REC-4.15 (the record; customer, number, time are always checked)
    report: ReportCheck  # R-REC-4.15 (the investigation report)
    capa: CapaConfig  # R-CAPA-1.7.4

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. Asia/Shanghai)") from None
        return v


def due_at(config: FollowupsConfig, resolved: datetime, major: bool) -> datetime:
    """R-CB-6.36 / R-CB-5.5.3 due time, earlier for major complaints (R-CB-6.37)."""
    if config.due == "hours":
        due = resolved + timedelta(hours=config.hours)
    else:
        tz = ZoneInfo(config.timezone)
        day = resolved.astimezone(tz).date() + timedelta(days=1)
        due = datetime.combine(day, config.next_day_at, tzinfo=tz).astimezone(timezone.utc)
    if major and config.major_hours > 0:
        due = min(due, resolved + timedelta(hours=config.major_hours))
    return due


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _calls_logged(ticket: Ticket, types: list[str]) -> int:
    return sum(1 for a in ticket.articles if a.type in types)


class _Run:
    def __init__(self, event: TicketEvent, ticket: Ticket, state: Mapping[str, Any],
                 config: FollowupsConfig, now: datetime, facts: Facts, record: Mapping[str, Any]) -> None:
        self.event, self.ticket, self.config, self.now, self.facts, self.record = (
            event, ticket, config, now, facts, record)
        self.old = dict(state)
        self.s = dict(state)
        self.effects: list[Effect] = []
        self.new_resolution = False
        self.just_recorded = False

    # -- helpers -------------------------------------------------------------------------------

    def major(self) -> bool:
        return self.record.get("tier") in self.config.major_tiers or bool(self.record.get("special"))

    def eligible(self) -> bool:
        valid = self.record.get("valid")
        return valid == 1 if self.config.only_valid else valid != 0

    def summary(self, attempt: int) -> str:
        c = self.config
        head = "回访客户" if attempt == 1 else f"再次回访客户（第{attempt}次，上次未接通）"
        text = f"{head}：{'；'.join(c.questions)}"
        if self.major():
            text += f"。重大投诉优先，{c.major_visit}" if c.major_visit else "。重大投诉优先"
        return text

    def todo(self, due: datetime, attempt: int) -> None:
        rule = self.config.rule
        assignee = self.config.assignee or self.ticket.owner or None
        reason = "重大投诉优先回访（R-CB-6.37）" if self.major() and attempt == 1 else ""
        self.effects.append(FollowUpTodo(rule_id=rule, key="callback", summary=self.summary(attempt),
                                         due_at=due, assignee=assignee, reason=reason,
                                         reason_en="major complaint first (R-CB-6.37)" if reason else "",
                                         source=SOURCE))
        self.effects.append(ScheduleTimer(rule_id=rule, key="callback", due_at=due, payload={"attempt": attempt},
                                          source=SOURCE))
        if assignee is None:
            self.effects.append(InternalNote(rule_id=rule, text="回访待办无人负责：请指定处理人",
                                             text_en="Nobody owns the follow-up to-do: assign an owner", source=SOURCE))

    # -- steps ---------------------------------------------------------------------------------

    def track_closing(self) -> bool:
        """Remember closes/reopens; True when this event shows a (new) resolution."""
        was_closed = self.s.get("closed")
        closed = self.ticket.closed
        if was_closed and not closed and self.s.get("status") in ("done", "failed"):
            self.s["reopened"] = True
        self.s["closed"] = closed
        if closed and not was_closed:
            self.s["closed_at"] = self.now.isoformat()
            return True
        return False

    def start(self) -> None:
        status = self.s.get("status")
        if not self.ticket.closed:
            return
        if status == "open":
            return
        if status in ("done", "failed") and not (self.s.get("reopened") or self.s.get("outcome") == "dissatisfied"):
            return
        if status in ("done", "failed") and (not self.new_resolution or self.just_recorded):
            return  # a new cycle needs a new close after the outcome, not the close that came with it
        if not self.eligible():
            if self.config.only_valid and self.record.get("valid") is None and not self.s.get("asked_valid"):
                self.s["asked_valid"] = True
                self.effects.append(InternalNote(
                    rule_id=self.config.rule, text="已解决但投诉有效性未确认：确认有效后安排回访",
                    text_en="Resolved but validity not confirmed: the follow-up waits for it", source=SOURCE))
            return
        closed_at = _parse(self.s.get("closed_at")) or self.now
        recorded = _parse(self.record.get("resolved_at"))
        previous = _parse(self.s.get("resolved_at"))
        resolved = recorded if recorded is not None and recorded <= self.now and (
            previous is None or recorded > previous) else closed_at
        due = due_at(self.config, resolved, self.major())
        self.s.update(status="open", attempts=0, resolved_at=resolved.isoformat(), due_at=due.isoformat(),
                      reopened=False, cycles=int(self.s.get("cycles", 0)) + 1, overdue_noted=False,
                      last_outcome=self.facts.followup_outcome,
                      calls=_calls_logged(self.ticket, self.config.attempt_article_types))
        self.s.pop("outcome", None)
        if recorded is None or recorded < resolved:
            self.effects.append(RecordComplaint(rule_id=self.config.rule, values={"resolved_at": resolved.isoformat()},
                                                source=SOURCE))
        self.todo(due, 1)

    def outcome(self) -> None:
        if self.s.get("status") != "open":
            return
        outcome = self.facts.followup_outcome
        if outcome is None:
            return
        calls = _calls_logged(self.ticket, self.config.attempt_article_types)
        # A field cannot be set to the value it has: the same value with a newly logged call is
        # a new report (e.g. a second "unreachable").
        fresh = outcome != self.s.get("last_outcome") or calls > int(self.s.get("calls", 0))
        if not fresh:
            return
        rule = self.config.rule
        attempts = int(self.s.get("attempts", 0)) + 1
        self.s.update(last_outcome=outcome, calls=calls, attempts=attempts, outcome=outcome)
        self.just_recorded = True
        self.effects.append(RecordComplaint(rule_id=rule, values={"followup_outcome": outcome}, source=SOURCE))
        if outcome != "unreachable":
            self.s["status"] = "done"
            self.effects.append(CancelTimer(rule_id=rule, key="callback", source=SOURCE))
            follow = "，已转投诉升级处理（R-ESC-6.30）" if outcome == "dissatisfied" else ""
            self.effects.append(InternalNote(
                rule_id=rule, text=f"回访结果：{OUTCOME_ZH[outcome]}（第{attempts}次回访）{follow}",
                text_en=f"Follow-up outcome: {outcome} (attempt {attempts})", source=SOURCE))
            return
        if attempts >= self.config.max_attempts:
            self.s["status"] = "failed"
            self.effects.append(CancelTimer(rule_id=rule, key="callback", source=SOURCE))
            self.effects.append(RecordComplaint(rule_id=rule, values={"followup_failed": True}, source=SOURCE))
            self.effects.append(InternalNote(
                rule_id=rule, text=f"回访失败：{attempts}次均未接通客户，请改用其他方式联系或记录原因",
                text_en=f"Follow-up failed: customer unreachable {attempts} times; try another channel", source=SOURCE))
            return
        due = self.now + timedelta(hours=self.config.retry_hours)
        self.s.update(due_at=due.isoformat(), overdue_noted=False)
        self.todo(due, attempts + 1)

    def overdue(self) -> None:
        ev = self.event
        if ev.kind is not EventKind.timer_fired or ev.timer_key != "callback" or self.s.get("status") != "open":
            return
        due = _parse(self.s.get("due_at"))
        if due is None or self.now < due or self.s.get("overdue_noted"):
            return
        self.s["overdue_noted"] = True
        self.effects.append(InternalNote(
            rule_id=self.config.rule,
            text="回访已逾期：请立即回访并填写回访结果（回访率目标100%）",
            text_en="Follow-up overdue: call the customer and record the outcome (target rate 100 %)", source=SOURCE))

    def records(self) -> None:
        """R-REC-6.15 and R-REC-4.15 on each resolution: list what the record still lacks."""
        c, t = self.config, self.ticket
        sol = c.solution
        if sol.enabled:
            given = {f: _filled(t.fields.get(f)) for f in sol.fields}
            if sol.required or any(given.values()):
                missing = [sol.fields[f] for f, ok in given.items() if not ok]
                if missing:
                    self.effects.append(InternalNote(
                        rule_id="R-REC-6.15", text=f"处理方案不完整，请补填：{'、'.join(missing)}",
                        text_en=f"Proposed solution incomplete, fill in: {', '.join(sorted(f for f, ok in given.items() if not ok))}",
                        source=SOURCE))
        if c.record_fields.enabled:
            missing: list[tuple[str, str]] = []
            cust = t.customer
            if cust is None or not any((cust.name, cust.email, cust.phone, cust.login)):
                missing.append(("投诉客户", "customer"))
            if not t.number:
                missing.append(("编号", "number"))
            if t.created_at is None:
                missing.append(("受理时间", "time received"))
            missing += [(label, f) for f, label in c.record_fields.fields.items() if not _filled(t.fields.get(f))]
            if missing:
                self.effects.append(InternalNote(
                    rule_id="R-REC-4.15", text=f"投诉记录不完整，请补填：{'、'.join(m[0] for m in missing)}",
                    text_en=f"Complaint record incomplete, fill in: {', '.join(m[1] for m in missing)}", source=SOURCE))
        if c.report.enabled and self.record.get("tier") in c.report.tiers:
            gaps = [(label, f) for f, label in c.report.fields.items() if not _filled(t.fields.get(f))]
            if gaps:
                self.effects.append(InternalNote(
                    rule_id="R-REC-4.15", text=f"调查报告不完整，请补填：{'、'.join(g[0] for g in gaps)}",
                    text_en=f"Investigation report incomplete, fill in: {', '.join(g[1] for g in gaps)}",
                    source=SOURCE))

    def capa(self, resolution: bool) -> None:
        """R-CAPA-1.7.4: the quality department tracks corrective/preventive actions until done."""
        c = self.config.capa
        if not c.enabled:
            return
        value = self.ticket.fields.get(c.done_field)
        done = value is True or (isinstance(value, str) and value.strip().lower() in
                                 {v.lower() for v in c.done_values})
        status = self.s.get("capa")
        if status is None and resolution and self.record.get("valid") != 0 \
                and self.record.get("tier") in c.tiers and not done:
            units = "、".join(self.record.get("units") or []) or "责任部门"
            self.s["capa"] = "open"
            self.effects.append(Notify(rule_id="R-CAPA-1.7.4", recipients=tuple(c.recipients),
                                       message=f"请跟踪{units}的纠正预防措施直至完成（完成后填写 {c.done_field}）", source=SOURCE))
            self.effects.append(AddTags(rule_id="R-CAPA-1.7.4", tags=(c.tag,), source=SOURCE))
        elif status == "open" and done:
            self.s["capa"] = "done"
            self.effects.append(RemoveTags(rule_id="R-CAPA-1.7.4", tags=(c.tag,), source=SOURCE))
            self.effects.append(InternalNote(rule_id="R-CAPA-1.7.4", text="纠正预防措施已完成",
                                             text_en="Corrective and preventive actions done", source=SOURCE))

    def run(self) -> list[Effect]:
        self.new_resolution = self.track_closing()
        self.outcome()  # before a new cycle: an outcome reported with the close belongs to the old one
        self.start()
        self.overdue()
        if self.new_resolution:
            self.records()
        self.capa(self.new_resolution)
        if self.s != self.old:
            self.effects.append(SetState(rule_id=self.config.rule, values=self.s, source=SOURCE))
        return self.effects


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return FollowupsConfig


@hookimpl
def kesu_ticket_fields(config: FollowupsConfig) -> list[TicketField]:
    """The record's, the solution's and the report's fields (labels from the configuration) and the
    field that closes the corrective actions (R-CAPA-1.7.4)."""
    out = []
    for section, check, multiline in (("followups.solution", config.solution, False),
                                      ("followups.record_fields", config.record_fields, True),
                                      ("followups.report", config.report, True)):
        if check.enabled:
            out += [TicketField(name=name, type="text", label=label, label_en=name.replace("_", " ").capitalize(),
                                multiline=multiline, named_by=named(section, f"fields.{name}"))
                    for name, label in check.fields.items()]
    if config.capa.enabled:
        out.append(TicketField(name=config.capa.done_field, type="boolean", label="纠正预防措施已完成",
                               label_en="Corrective actions done", named_by=named("followups.capa", "done_field")))
    return out


@hookimpl
def kesu_evaluate(
    event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: FollowupsConfig,
    now: datetime, facts: Facts, record: Mapping[str, Any],
) -> Iterable[Effect] | None:
    return _Run(event, ticket, state, config, now, facts, record).run() or None
