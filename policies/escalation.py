"""Escalation (投诉升级, POLICY_SPEC §5): automatic upgrade of a complaint.

Reasons (each escalates a ticket at most once):

* R-ESC-6.30 the follow-up found the customer dissatisfied, or the customer complains again about
  the same matter (same cause or batch within ``repeat_window_days``, or the ``repeat`` flag);
* R-ESC-6.31 a handling deadline passed and the customer got no explanation (no public agent reply
  since ``explain_window_hours`` before the due time), or got one without accepting it (the
  ``understanding_field`` says no; when it is empty the agent is asked to fill it in);
* R-ESC-6.32 a new complaint about a handler's attitude, language or behaviour (``attitude`` flag);
* R-ESC-6.13 a general complaint past its resolution deadline becomes major; a valid complaint
  unresolved after ``major_after_months`` becomes major (a timer at receipt + 1 month).

An escalation raises the tier one step in the scheme's order (R-ESC-6.13: straight to the top),
sets the configured priority, tags the ticket, appends ``{"rule_id", "reason", "at", "from",
"to"}`` to ``record["escalations"]`` (the penalties plugin reads it for R-PEN-6.40 / R-PEN-6.41)
and re-notifies per R-ROUTE-5.5.1: the leaders already copied, the branch head and, for media or
regulator cases, the general manager's office and legal. The severity plugin keeps an escalated
tier (a tier never drops by itself); only a person lowers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kesu import i18n
from kesu.effects import (
    AddTags,
    CancelTimer,
    Effect,
    InternalNote,
    Notify,
    RecordComplaint,
    ScheduleTimer,
    SetPriority,
    SetState,
)
from kesu.facts import Facts
from kesu.history import History
from kesu.models import EventKind, Priority, Ticket, TicketEvent
from kesu.ticket_fields import TicketField, named, select
from plugins import hookimpl
from policies.calendar import BusinessCalendar
from policies.deadlines import iso, parse_time

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "escalation"

RuleName = Literal["R-ESC-6.30", "R-ESC-6.31", "R-ESC-6.32", "R-ESC-6.13"]
MONTH_TIMER = "unresolved-month"
RECHECK_TIMER = "recompute-deadlines"


class EscalationConfig(BaseModel):
    """``[policies.escalation]`` -- every value comes from the profile."""

    model_config = ConfigDict(extra="forbid")

    rules: list[RuleName] = Field(description="Escalation reasons in force")
    priority: Priority = Field(description="Priority of an escalated complaint")
    tag: str = Field(description="Tag on an escalated complaint")
    tier_orders: dict[str, list[str]] = Field(
        description="Per scheme, tiers lowest -> highest (used when the record has no tier_order)")
    timezone: str = Field(description="Time zone months are counted in, e.g. Asia/Shanghai")
    repeat_window_days: int = Field(gt=0, description="R-ESC-6.30: earlier complaints looked at")
    repeat_same: list[Literal["cause", "batch"]] = Field(description="R-ESC-6.30: what makes it the same matter")
    overdue_rules: list[str] = Field(description="R-ESC-6.31: deadlines whose passing needs an explanation")
    explain_window_hours: float = Field(ge=0, description="R-ESC-6.31: a reply this long before the due time counts")
    understanding_field: str = Field(description="R-ESC-6.31: ticket field, did the customer accept the delay")
    general_tiers: list[str] = Field(description="R-ESC-6.13: tiers that count as general")
    general_deadline_rules: list[str] = Field(description="R-ESC-6.13: resolution deadlines of general complaints")
    major_after_months: int = Field(gt=0, description="R-ESC-6.13: valid complaint unresolved this long -> major")
    notify_leaders: bool = Field(description="R-ROUTE-5.5.1: re-notify the leaders recorded at dispatch")
    notify: list[str] = Field(description="R-ROUTE-5.5.1: also told of every escalation (branch head)")
    notify_media: list[str] = Field(description="R-ROUTE-5.5.1: also told when media or a regulator is involved")


NO = ("0", "false", "no", "n", "否", "不谅解", "未谅解", "不同意")
YES = ("1", "true", "yes", "y", "是", "谅解", "已谅解", "同意")


def _tier(key: str | None, lang: str) -> str:
    """A tier as notes name it (重大投诉, not major)."""
    return i18n.label("tier", key, lang) if key else ""


def _answer(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip().lower()
        if text in NO:
            return False
        if text in YES:
            return True
    return None


class Escalator:
    def __init__(self, event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: EscalationConfig,
                 now: datetime, facts: Facts, history: History, record: Mapping[str, Any]) -> None:
        self.event, self.ticket, self.config, self.now = event, ticket, config, now
        self.facts, self.history, self.record = facts, history, record
        self.cal = _calendar(config.timezone)
        self.s: dict[str, Any] = {"done": list(state.get("done", [])), "asked": list(state.get("asked", [])),
                                  "tier": state.get("tier"), "month_timer": state.get("month_timer"),
                                  # R-ESC-6.32: was the complaint itself about attitude when it came in?
                                  "intake_attitude": state.get("intake_attitude", facts.flag("attitude"))}
        self.original = dict(self.s)
        self.effects: list[Effect] = []
        order = record.get("tier_order") or config.tier_orders.get(str(record.get("scheme")), [])
        self.order: list[str] = list(order)
        # The record's tier: severity keeps an escalated tier; only a person lowers it (kesu does not
        # fight people), and a later escalation starts from what the person decided.
        self.tier = record.get("tier")
        self.raised: list[dict[str, Any]] = []

    # -- tiers -----------------------------------------------------------------------------------

    def _rank(self, tier: Any) -> int:
        return self.order.index(tier) if tier in self.order else -1

    def escalate(self, key: str, rule: str, reason: str, reason_en: str, *, to_top: bool = False) -> None:
        if key in self.s["done"]:
            return
        self.s["done"].append(key)
        before = self.tier
        after = before
        if self.order and before in self.order:
            after = self.order[-1] if to_top else self.order[min(self._rank(before) + 1, len(self.order) - 1)]
        elif self.order and to_top:
            after = self.order[-1]
        self.tier = after
        self.raised.append({"rule_id": rule, "reason": reason, "at": iso(self.now), "from": before, "to": after})
        if after is None:
            text = f"投诉升级：{reason}；等级未定，请确定等级"
            text_en = f"Escalated: {reason_en}; tier not set, classify the complaint"
        elif after == before:
            text = f"投诉升级：{reason}；等级已是最高（{_tier(after, 'zh')}）"
            text_en = f"Escalated: {reason_en}; already at the top tier ({_tier(after, 'en')})"
        else:
            text = f"投诉升级：{reason}；等级 {_tier(before, 'zh') if before else '未定'} → {_tier(after, 'zh')}"
            text_en = f"Escalated: {reason_en}; tier {_tier(before, 'en') if before else 'unset'} → {_tier(after, 'en')}"
        self.effects.append(InternalNote(rule_id=rule, text=text, text_en=text_en, source=SOURCE))

    # -- reasons ---------------------------------------------------------------------------------

    def followup_dissatisfied(self) -> None:
        """R-ESC-6.30: the customer was dissatisfied at the follow-up call."""
        if "dissatisfied" in (self.facts.followup_outcome, self.record.get("followup_outcome")):
            self.escalate("R-ESC-6.30:dissatisfied", "R-ESC-6.30", "回访客户不满意", "customer dissatisfied at follow-up")

    def repeat(self) -> None:
        """R-ESC-6.30: the customer complains again about the same matter."""
        key = "R-ESC-6.30:repeat"
        if key in self.s["done"]:
            return
        if self.facts.flag("repeat"):
            self.escalate(key, "R-ESC-6.30", "同一事件再次投诉", "repeat complaint about the same matter")
            return
        customer = self.ticket.customer_key
        if customer is None or self.event.kind is EventKind.timer_fired:
            return
        mine = {"cause": self.record.get("cause") or self.facts.cause,
                "batch": self.record.get("batch") or self.facts.batch}
        since = self.now - timedelta(days=self.config.repeat_window_days)
        for past in self.history.complaints_of(customer, since=since, exclude=self.ticket.ref.key):
            same = [k for k in self.config.repeat_same if mine[k] is not None and getattr(past, k) == mine[k]]
            if same:
                cause = self.facts.label("cause") if mine["cause"] == self.facts.cause else mine["cause"]
                what = "、".join({"cause": f"原因 {cause}", "batch": f"批号 {mine['batch']}"}[k] for k in same)
                self.escalate(key, "R-ESC-6.30", f"同一事件再次投诉（{what}，前案 {past.ticket_key}）",
                              f"repeat complaint ({', '.join(same)} as {past.ticket_key})")
                return

    def attitude(self) -> None:
        """R-ESC-6.32: a new complaint about a handler's attitude, language or behaviour.

        篇6 §32 escalates the customer's *renewed* complaint (再次投诉) about the people handling it.
        A complaint that is about someone's attitude when it comes in is not one: it is handled at
        its own tier (and R-PEN-5.6.3 applies). Keyword facts cannot tell a second attitude
        complaint from the first, so after such an intake only a person's escalation counts."""
        if self.facts.flag("attitude") and not self.s["intake_attitude"]:
            self.escalate("R-ESC-6.32", "R-ESC-6.32", "投诉处理人员态度、语言或行为引起再次投诉",
                          "complaint about a handler's attitude, language or behaviour")

    def overdue_unexplained(self) -> None:
        """R-ESC-6.31: deadline passed without explanation, or without the customer's understanding."""
        if "R-ESC-6.31" in self.s["done"]:
            return
        for rule_id, entry in self._overdue(self.config.overdue_rules):
            due = parse_time(entry.get("extended_to") or entry.get("due"), self.cal)
            assert due is not None
            since = due - timedelta(hours=self.config.explain_window_hours)
            explained = any(a.sender == "Agent" and not a.internal and a.created_at is not None
                            and a.created_at >= since for a in self.ticket.articles[1:])
            if not explained:
                self.escalate("R-ESC-6.31", "R-ESC-6.31", f"超过处理时限（{rule_id}）且未向客户解释",
                              f"{rule_id} passed without explanation to the customer")
                return
            understood = _answer(self.ticket.fields.get(self.config.understanding_field))
            if understood is False:
                self.escalate("R-ESC-6.31", "R-ESC-6.31", f"超过处理时限（{rule_id}），客户未谅解",
                              f"{rule_id} passed and the customer did not accept the delay")
                return
            if understood is None and f"understanding:{rule_id}" not in self.s["asked"]:
                self.s["asked"].append(f"understanding:{rule_id}")
                field = self.config.understanding_field
                self.effects.append(InternalNote(
                    rule_id="R-ESC-6.31",
                    text=f"{rule_id} 已超时：请在字段 {field} 填写客户是否谅解（是/否），未谅解将自动升级",
                    text_en=f"{rule_id} is overdue: fill in {field} (yes/no) whether the customer accepts the "
                            f"delay; 'no' escalates", source=SOURCE))

    def general_overdue(self) -> None:
        """R-ESC-6.13: a general complaint not resolved within its deadline becomes major."""
        if self.tier is None or self.tier not in self.config.general_tiers:
            return
        for rule_id, _ in self._overdue(self.config.general_deadline_rules):
            self.escalate("R-ESC-6.13:overdue", "R-ESC-6.13", f"一般投诉超过处理时限（{rule_id}），升级为重大投诉",
                          f"general complaint past its deadline ({rule_id}) becomes major", to_top=True)
            return

    def unresolved_month(self) -> None:
        """R-ESC-6.13: a valid complaint unresolved after ``major_after_months`` becomes major."""
        key = "R-ESC-6.13:month"
        received = self.ticket.created_at or parse_time(self.record.get("received_at"), self.cal)
        if key in self.s["done"] or received is None:
            return
        due = self.cal.add_months(received, self.config.major_after_months)
        at_top = bool(self.order) and self.tier == self.order[-1]
        if self.ticket.closed or at_top:
            if self.s["month_timer"]:
                self.s["month_timer"] = None
                self.effects.append(CancelTimer(rule_id="R-ESC-6.13", key=MONTH_TIMER, source=SOURCE))
            return
        if self.now < due:
            if self.s["month_timer"] != iso(due):
                self.s["month_timer"] = iso(due)
                self.effects.append(ScheduleTimer(
                    rule_id="R-ESC-6.13", key=MONTH_TIMER, due_at=due,
                    reason=f"有效投诉 {self.config.major_after_months} 个月未解决将升级为重大投诉",
                    reason_en=f"a valid complaint unresolved for {self.config.major_after_months} month(s) becomes major",
                    source=SOURCE))
            return
        valid = self.record.get("valid")
        if valid == 1:
            self.escalate(key, "R-ESC-6.13", f"有效投诉超过 {self.config.major_after_months} 个月仍未解决，升级为重大投诉",
                          f"valid complaint unresolved for over {self.config.major_after_months} month(s) "
                          f"becomes major", to_top=True)
        elif valid is None and "validity" not in self.s["asked"]:
            self.s["asked"].append("validity")
            self.effects.append(InternalNote(
                rule_id="R-ESC-6.13",
                text=f"受理已超过 {self.config.major_after_months} 个月仍未解决：请确认是否有效投诉，有效投诉将升级为重大投诉",
                text_en=f"Unresolved for over {self.config.major_after_months} month(s): confirm whether the complaint "
                        f"is valid; a valid one becomes major", source=SOURCE))

    def _overdue(self, rules: list[str]) -> list[tuple[str, Mapping[str, Any]]]:
        deadlines = self.record.get("deadlines") or {}
        return [(r, deadlines[r]) for r in rules
                if r in deadlines and deadlines[r].get("overdue") and not deadlines[r].get("met_at")]

    # -- results ---------------------------------------------------------------------------------

    def finish(self) -> list[Effect]:
        first = self.raised[0]["rule_id"] if self.raised else None
        if self.raised:
            self.s["tier"] = self.tier
            values: dict[str, Any] = {"escalations": self.raised}
            if self.tier is not None:
                values["tier"] = self.tier
            self.effects.append(RecordComplaint(rule_id=first, values=values, source=SOURCE))
            why = "；".join(e["reason"] for e in self.raised)
            self.effects.append(AddTags(rule_id=first, tags=(self.config.tag,), source=SOURCE))
            recipients = self._recipients()
            if recipients:
                self.effects.append(Notify(rule_id="R-ROUTE-5.5.1", recipients=tuple(recipients),
                                           message=f"投诉已升级（{why}）", reason="投诉升级后重新通知",
                                           reason_en="re-notified after escalation", source=SOURCE))
            # Let the deadlines plugin count the new tier's deadline now, not at the next ticket change.
            self.effects.append(ScheduleTimer(rule_id=first, key=RECHECK_TIMER, due_at=self.now,
                                              reason="按升级后的等级重算时限",
                                              reason_en="deadlines recomputed for the new tier", source=SOURCE))
        if self.s["done"]:
            self.effects.append(SetPriority(rule_id=first or _first_done(self.s["done"]),
                                            priority=self.config.priority, reason="已升级", reason_en="escalated",
                                            source=SOURCE))
        if self.s != self.original:
            self.effects.append(SetState(rule_id=first or "R-ESC-6.13", values=self.s, source=SOURCE))
        return self.effects

    def _recipients(self) -> list[str]:
        """R-ROUTE-5.5.1: leaders copied before, the branch head, GM office and legal for media cases."""
        people: list[str] = []
        if self.config.notify_leaders:
            people += list(self.record.get("leaders") or [])
        people += self.config.notify
        if self.facts.flag("media") or self.facts.flag("regulator"):
            people += self.config.notify_media
        return list(dict.fromkeys(p for p in people if p))


@lru_cache(maxsize=8)
def _calendar(tz: str) -> BusinessCalendar:
    """Only the time zone matters here (months are calendar months)."""
    return BusinessCalendar(tz=tz)


def _first_done(done: list[str]) -> str:
    return done[0].split(":")[0] if done else "R-ESC-6.13"


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return EscalationConfig


@hookimpl
def kesu_ticket_fields(config: EscalationConfig) -> list[TicketField]:
    """R-ESC-6.31: did the customer accept the delay (是 / 否; empty: the agent is asked)."""
    if not config.understanding_field or "R-ESC-6.31" not in config.rules:
        return []
    return [select(config.understanding_field, "客户是否谅解", "Customer accepted the delay",
                   [("yes", "是", "Yes"), ("no", "否", "No")], named("escalation", "understanding_field"))]


@hookimpl
def kesu_evaluate(
    event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: EscalationConfig, now: datetime,
    facts: Facts, history: History, record: Mapping[str, Any],
) -> Iterable[Effect] | None:
    if record.get("valid") == 0:
        # An invalid complaint is explained, not escalated (R-INVALID-6.14): its month timer goes.
        if state.get("month_timer"):
            return [CancelTimer(rule_id="R-ESC-6.13", key=MONTH_TIMER, reason="无效投诉", reason_en="invalid",
                                source=SOURCE),
                    SetState(rule_id="R-ESC-6.13", values={"month_timer": None}, source=SOURCE)]
        return None
    esc = Escalator(event, ticket, state, config, now, facts, history, record)
    rules = set(config.rules)
    # Order matters when several reasons come together: the jump to major first, then one step.
    if "R-ESC-6.13" in rules:
        esc.general_overdue()
        esc.unresolved_month()
    if "R-ESC-6.31" in rules:
        esc.overdue_unexplained()
    if "R-ESC-6.30" in rules:
        esc.followup_dissatisfied()
        esc.repeat()
    if "R-ESC-6.32" in rules:
        esc.attitude()
    return esc.finish()

