"""Deadlines (时限, POLICY_SPEC §4): every R-SLA rule as a timer in the business calendar.

Which rules are active and how long each runs is profile data (``[policies.deadlines.rules.<ID>]``).
On every event the plugin reconciles each rule with the ticket:

* **start** -- ``received`` (the ticket's creation in the helpdesk, not kesu's first sight),
  ``resolved`` (the close that started follow-ups, R-SLA-6.34, R-SLA-6.36, R-SLA-5.5.3,
  R-SLA-5.4.5.5), ``tier`` (received; or, after a tier was raised, the time the raised tier was
  first seen) or ``field:<name>`` (a time an agent filled in, R-SLA-6.16, R-SLA-6.27);
* **due** -- start plus the rule's span in :class:`policies.calendar.BusinessCalendar`;
* **met** -- what fulfils it (first public agent reply, dispatch, close, a field or tag ...);
* unmet deadlines get a timer (``ScheduleTimer``, key = rule ID) and a note line with the local
  due time; met ones cancel theirs; a deadline passed unmet is recorded ``overdue`` with a note.

Extensions (R-EXT-6.18 vice-president's approval, R-EXT-6.27 multi-department case with the
customer's consent) are honoured only when the approval is recorded on the ticket. R-EMERG-6.28
(ongoing serious loss) is handled here too: emergency measures come before any deadline.
The follow-up to-do itself belongs to the ``followups`` plugin; this plugin only tracks the
follow-up deadline (R-SLA-6.36 / R-SLA-5.5.3) for overdue reporting.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kesu.effects import (
    RULE_ID_PATTERN,
    AddTags,
    CancelTimer,
    Effect,
    InternalNote,
    RecordComplaint,
    ScheduleTimer,
    SetPriority,
    SetState,
)
from kesu.facts import Facts
from kesu.models import Article, Priority, Ticket, TicketEvent
from kesu.ticket_fields import TicketField, named, select
from plugins import hookimpl
from policies.calendar import BusinessCalendar, CalendarConfig

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "deadlines"

log = logging.getLogger(__name__)

MetKind = Literal["created", "first_response", "customer_contact", "dispatched", "resolved",
                  "result_told", "followup_done", "extension_recorded", "field", "tag"]


class Span(BaseModel):
    """How long a deadline runs: exactly one of the keys."""

    model_config = ConfigDict(extra="forbid")

    minutes: float | None = Field(None, gt=0, description="wall-clock minutes")
    hours: float | None = Field(None, gt=0, description="wall-clock hours")
    days: int | None = Field(None, gt=0, description="calendar days (24 h each)")
    working_days: int | None = Field(None, gt=0, description="working days, same clock time")
    working_hours: float | None = Field(None, gt=0, description="hours inside business hours")
    end_of_days: int | None = Field(None, ge=0, description="until midnight ending the N-th day after")

    @model_validator(mode="after")
    def _exactly_one(self) -> Span:
        given = [k for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of minutes, hours, days, working_days, working_hours, "
                             f"end_of_days (got {', '.join(given) or 'none'})")
        return self

    def add(self, cal: BusinessCalendar, start: datetime) -> datetime:
        if self.minutes is not None:
            return cal.add_wall_clock(start, timedelta(minutes=self.minutes))
        if self.hours is not None:
            return cal.add_wall_clock(start, timedelta(hours=self.hours))
        if self.days is not None:
            return cal.add_wall_clock(start, timedelta(days=self.days))
        if self.working_days is not None:
            return cal.add_working_days(start, self.working_days)
        if self.working_hours is not None:
            return cal.add_working_hours(start, self.working_hours)
        assert self.end_of_days is not None
        return cal.end_of_day(start, self.end_of_days)

    def label(self, lang: str) -> str:
        zh = lang == "zh"
        if self.minutes is not None:
            return f"{self.minutes:g} 分钟" if zh else f"{self.minutes:g} min"
        if self.hours is not None:
            return f"{self.hours:g} 小时" if zh else f"{self.hours:g} h"
        if self.days is not None:
            return f"{self.days} 天" if zh else f"{self.days} days"
        if self.working_days is not None:
            return f"{self.working_days} 个工作日" if zh else f"{self.working_days} working day(s)"
        if self.working_hours is not None:
            return f"{self.working_hours:g} 个工作小时" if zh else f"{self.working_hours:g} working hours"
        return (f"{self.end_of_days} 日内（当日24点止）" if zh
                else f"by the end of day {self.end_of_days}")


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    what: str = Field(description="What must happen, shown in notes (Chinese)")
    what_en: str = Field(description="The same in English")
    limit: Span = Field(description="The deadline")
    target: Span | None = Field(None, description="An earlier target (e.g. 1 of '1-3 working days')")
    start: str = Field(description="received | resolved | tier | field:<ticket field holding a time>")
    met: MetKind = Field(description="What fulfils the deadline")
    met_field: str | None = Field(None, description="for met = field: the ticket field")
    met_tag: str | None = Field(None, description="for met = tag: the ticket tag")
    tiers: list[str] = Field(default_factory=list, description="Only for these tiers (empty: every complaint)")
    valid_only: bool = Field(False, description="Not for complaints confirmed invalid")
    extendable: bool = Field(False, description="May be extended with a recorded approval (R-EXT-6.18/6.27)")
    overdue_hint: str = Field("", description="What the agent must do when it is overdue (Chinese)")
    overdue_hint_en: str = ""

    @field_validator("start")
    @classmethod
    def _start_kind(cls, value: str) -> str:
        if value in ("received", "resolved", "tier") or (value.startswith("field:") and len(value) > 6):
            return value
        raise ValueError("start must be received, resolved, tier or field:<name>")

    @model_validator(mode="after")
    def _met_needs(self) -> RuleSpec:
        if self.met == "field" and not self.met_field:
            raise ValueError("met = 'field' needs met_field")
        if self.met == "tag" and not self.met_tag:
            raise ValueError("met = 'tag' needs met_tag")
        return self


class ExtensionFields(BaseModel):
    """Ticket fields an agent fills to record an extension (R-EXT-6.18, R-EXT-6.27)."""

    model_config = ConfigDict(extra="forbid")

    extended_to: str = Field(description="New deadline (date or date-time, local time)")
    approved_by: str = Field(description="Who approved: the vice-president in charge (R-EXT-6.18)")
    reason: str = Field(description="Why the extension is needed")
    customer_consent: str = Field(description="Customer agreed (multi-department cases, R-EXT-6.27)")


class Emergency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority
    tag: str


class DeadlinesConfig(BaseModel):
    """``[policies.deadlines]`` -- every value comes from the profile."""

    model_config = ConfigDict(extra="forbid")

    calendar: CalendarConfig
    intake_groups: list[str] = Field(description="Groups meaning 'not yet dispatched' (the intake queue)")
    contact_article_types: list[str] = Field(
        description="Agent articles of these types count as contacting the customer even when internal (phone log)")
    result_lookback_minutes: float = Field(
        ge=0, description="A public reply sent this long before the close counts as telling the result")
    overdue_tag: str = Field(description="Tag put on a ticket with an overdue deadline")
    extension: ExtensionFields
    emergency: Emergency
    rules: dict[str, RuleSpec]

    @field_validator("rules")
    @classmethod
    def _rule_ids(cls, rules: dict[str, RuleSpec]) -> dict[str, RuleSpec]:
        bad = [k for k in rules if not re.match(RULE_ID_PATTERN, k)]
        if bad:
            raise ValueError(f"rule keys must be rule IDs like R-SLA-6.18-general (got {bad})")
        return rules


# -------------------------------------------------------------------------------------------------
# helpers


#: Remembered schedules and calendars (pure functions of their keys; a time's ``fold`` is part of
#: a key: two local times that differ only by it compare equal but are different moments). The
#: oldest entries are forgotten first, one at a time (no pause to forget them all at once).
_MEMO: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_MEMO_SIZE = 20_000


def _remember(key: tuple[Any, ...], value: Any) -> Any:
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.popitem(last=False)
    _MEMO[key] = value
    return value


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment is not None else None


def parse_time(value: Any, cal: BusinessCalendar, *, date_clock: str = "end") -> datetime | None:
    """A ticket value as an aware datetime: ISO date-time (naive = local) or a date (business end)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return cal.at(value, cal.business_end if date_clock == "end" else cal.business_start)
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if len(text) == 10:  # a bare date
            return cal.at(moment.date(), cal.business_end if date_clock == "end" else cal.business_start)
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=cal.tz)
    return moment.astimezone(timezone.utc)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "是", "同意", "已同意")
    return bool(value)


def _agent_articles(ticket: Ticket) -> list[Article]:
    """Agent articles after the complaint itself (the first article is the complaint)."""
    return [a for a in ticket.articles[1:] if a.sender == "Agent" and a.created_at is not None]


def _local(cal: BusinessCalendar, moment: datetime) -> str:
    """``moment`` as local ``%Y-%m-%d %H:%M``."""
    t = cal.local(moment)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}" if t.year >= 1000
            else t.strftime("%Y-%m-%d %H:%M"))


def _calendar(config: CalendarConfig) -> BusinessCalendar:
    """``BusinessCalendar.from_config`` without hashing the configuration on every event."""
    key = ("calendar", id(config))
    hit = _MEMO.get(key)
    if hit is None or hit[0] is not config:
        hit = _remember(key, (config, BusinessCalendar.from_config(config)))
    return hit[1]  # type: ignore[no-any-return]


class Context:
    """Everything one evaluation needs, computed once."""

    def __init__(self, ticket: Ticket, state: Mapping[str, Any], config: DeadlinesConfig, now: datetime,
                 facts: Facts, record: Mapping[str, Any]) -> None:
        self.ticket, self.state, self.config, self.now, self.facts, self.record = ticket, state, config, now, facts, record
        self.cal = _calendar(config.calendar)
        self._agents: list[Article] | None = None
        self._texts: dict[tuple[datetime, int], tuple[str, str]] = {}
        updated = ticket.updated_at
        # When something without its own timestamp was seen (a dispatch, a tag): the ticket's last
        # change is the best evidence; never later than now.
        self.observed = updated if updated is not None and updated <= now else now
        received = ticket.created_at or parse_time(record.get("received_at"), self.cal)
        self.received_missing = received is None
        self.received = received or now

    def texts(self, moment: datetime) -> tuple[str, str]:
        """``moment`` as ISO and local text (the rules of a ticket mostly share their start)."""
        key = (moment, moment.fold)
        hit = self._texts.get(key)
        if hit is None:
            hit = self._texts[key] = (iso(moment), _local(self.cal, moment))  # type: ignore[assignment]
        return hit  # type: ignore[return-value]

    def agent_articles(self) -> list[Article]:
        if self._agents is None:
            self._agents = _agent_articles(self.ticket)
        return self._agents

    def resolved_at(self) -> datetime | None:
        """When the current resolution happened (kept in state: first seen closed), None if open."""
        if not self.ticket.closed:
            return None
        return parse_time(self.state.get("resolved_at"), self.cal) or self.observed

    def start(self, spec: RuleSpec, tier_since: Mapping[str, str]) -> datetime | None:
        if spec.start == "received":
            return self.received
        if spec.start == "resolved":
            return self.resolved_at()
        if spec.start == "tier":
            tier = self.record.get("tier")
            if tier is None:
                return None
            if tier == self.state.get("first_tier", tier):
                return self.received
            # Raised later: from the escalation that raised it, else from when kesu first saw it.
            raised = [e.get("at") for e in self.record.get("escalations") or () if e.get("to") == tier]
            return parse_time(raised[0] if raised else tier_since.get(tier), self.cal) or self.now
        return parse_time(self.ticket.fields.get(spec.start[len("field:"):]), self.cal, date_clock="start")

    def met_at(self, spec: RuleSpec, start: datetime) -> datetime | None:
        t, kind = self.ticket, spec.met
        if kind == "created":
            return t.created_at or self.received
        if kind in ("first_response", "customer_contact"):
            for a in self.agent_articles():
                contact = not a.internal or (kind == "customer_contact" and a.type in self.config.contact_article_types)
                if contact and a.created_at is not None and a.created_at >= start:
                    return a.created_at
            return None
        if kind == "dispatched":
            recorded = parse_time(self.record.get("dispatched_at"), self.cal)
            if recorded is not None:
                return recorded
            if t.owner or (t.group and t.group not in self.config.intake_groups):
                return self.observed
            return None
        if kind == "resolved":
            return self.resolved_at()
        if kind == "result_told":
            since = start - timedelta(minutes=self.config.result_lookback_minutes)
            replies = [a.created_at for a in self.agent_articles() if not a.internal and a.created_at is not None
                       and a.created_at >= since]
            return max(start, min(replies)) if replies else None
        if kind == "followup_done":
            outcome = self.record.get("followup_outcome") or self.facts.followup_outcome
            return self.observed if outcome in ("satisfied", "dissatisfied") else None
        if kind == "extension_recorded":
            return self.observed if t.fields.get(self.config.extension.extended_to) else None
        if kind == "field":
            value = t.fields.get(spec.met_field or "")
            if value in (None, "", False):
                return None
            return parse_time(value, self.cal) or self.observed
        return self.observed if spec.met_tag in t.tags else None


# -------------------------------------------------------------------------------------------------
# hooks


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return DeadlinesConfig


@hookimpl
def kesu_ticket_fields(config: DeadlinesConfig) -> list[TicketField]:
    """The extension fields (R-EXT-6.18, R-EXT-6.27) and every time a rule starts from or is met by."""
    ext = config.extension
    out = [
        # text, as the profile documents it: "2026-03-10" ends at business_end, "2026-03-10 12:00" is local
        TicketField(name=ext.extended_to, type="text", label="延期至（日期或日期 时间）",
                    label_en="Extended to (date or date and time)", named_by=named("deadlines.extension", "extended_to")),
        TicketField(name=ext.approved_by, type="text", label="延期批准人", label_en="Extension approved by",
                    named_by=named("deadlines.extension", "approved_by")),
        TicketField(name=ext.reason, type="text", label="延期原因", label_en="Extension reason",
                    named_by=named("deadlines.extension", "reason")),
        TicketField(name=ext.customer_consent, type="boolean", label="客户同意延期", label_en="Customer agreed to extend",
                    named_by=named("deadlines.extension", "customer_consent")),
    ]
    out = [f for f in out if f.name]
    for rule_id, spec in config.rules.items():
        if spec.start.startswith("field:"):
            out.append(TicketField(name=spec.start[len("field:"):], type="datetime", label=f"{spec.what}（起算时间）",
                                   label_en=f"{spec.what_en} (start)",
                                   named_by=named(f'deadlines.rules."{rule_id}"', "start")))
        if spec.met == "field" and spec.met_field:
            out.append(TicketField(name=spec.met_field, type="datetime", label=f"{spec.what}（完成时间）",
                                   label_en=f"{spec.what_en} (done)",
                                   named_by=named(f'deadlines.rules."{rule_id}"', "met_field")))
    return out


@hookimpl
def kesu_evaluate(
    event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: DeadlinesConfig, now: datetime,
    facts: Facts, record: Mapping[str, Any],
) -> Iterable[Effect] | None:
    ctx = Context(ticket, state, config, now, facts, record)
    effects: list[Effect] = []
    new_state: dict[str, Any] = {}
    effects += _emergency(ctx, new_state)

    # Tier history: a raised tier's deadlines start when the raised tier was first seen.
    tier = record.get("tier")
    tier_since = dict(state.get("tier_since", {}))
    if tier is not None and tier not in tier_since:
        tier_since[tier] = iso(now)
        new_state["tier_since"] = tier_since
        if "first_tier" not in state:
            new_state["first_tier"] = tier
    if ticket.closed and not state.get("resolved_at"):
        # A new resolution: deadlines counted from it (R-SLA-6.34, R-SLA-5.4.5.5) start at the
        # helpdesk's change time. The record's resolved_at is the followups plugin's to write.
        new_state["resolved_at"] = iso(ctx.observed)
    elif not ticket.closed and state.get("resolved_at"):
        new_state["resolved_at"] = None  # reopened: the next close is a new resolution
    ctx.state = {**state, **new_state}

    timers: dict[str, str] = dict(state.get("timers", {}))
    noted: set[str] = set(state.get("noted", []))
    flagged: set[int] = set(state.get("flagged_years", []))
    entries: dict[str, dict[str, Any]] = {}
    deadlines = dict(record.get("deadlines") or {})

    for rule_id, spec in config.rules.items():
        entry, more = _reconcile(ctx, rule_id, spec, deadlines.get(rule_id), timers, noted, flagged, tier_since)
        effects += more
        if entry is not None and entry != deadlines.get(rule_id):
            entries[rule_id] = entry
    if ctx.received_missing and "received_missing" not in noted:
        noted.add("received_missing")
        effects.append(InternalNote(rule_id="R-SLA-6.18-resp", text="工单无创建时间：时限自 kesu 首次处理时起算，请核对",
                                    text_en="The ticket has no creation time: deadlines count from kesu's first sight; check them",
                                    source=SOURCE))
    if entries:
        effects.append(RecordComplaint(rule_id=next(iter(entries)), values={"deadlines": entries}, source=SOURCE))
    if any(e.get("overdue") for e in {**deadlines, **entries}.values()) and config.overdue_tag not in ticket.tags \
            and not state.get("overdue_tagged"):
        rule = next(r for r, e in {**deadlines, **entries}.items() if e.get("overdue"))
        effects.append(AddTags(rule_id=rule, tags=(config.overdue_tag,), reason="时限已过", reason_en="deadline passed",
                               source=SOURCE))
        new_state["overdue_tagged"] = True
    new_state.update({"timers": timers, "noted": sorted(noted), "flagged_years": sorted(flagged)})
    if any(state.get(k) != v for k, v in new_state.items()):
        effects.append(SetState(rule_id="R-SLA-6.18-resp", values=new_state, source=SOURCE))
    return effects


def _emergency(ctx: Context, new_state: dict[str, Any]) -> list[Effect]:
    """R-EMERG-6.28: a complaint causing ongoing serious loss -> emergency measures first."""
    if not ctx.facts.flag("ongoing_loss"):
        return []
    cfg = ctx.config.emergency
    effects: list[Effect] = [
        SetPriority(rule_id="R-EMERG-6.28", priority=cfg.priority, reason="正在造成严重损失",
                    reason_en="ongoing serious loss", source=SOURCE),
        AddTags(rule_id="R-EMERG-6.28", tags=(cfg.tag,), source=SOURCE),
    ]
    if not ctx.state.get("emergency_noted"):
        new_state["emergency_noted"] = True
        effects.append(InternalNote(
            rule_id="R-EMERG-6.28",
            text="正在给客户造成严重损失：先采取应急措施止损，再按流程处理；请在工单中记录所采取的措施",
            text_en="Ongoing serious loss: take emergency measures to stop it first, then handle as usual; "
                    "record the measures on the ticket", source=SOURCE))
    return effects


class _Schedule:
    """A rule started at ``start``: due and target times, as ISO and local text too, and the years
    without official schedule -- a pure function of the rule, calendar and start (``_schedule``)."""

    __slots__ = ("spec", "start_iso", "start_local", "due", "due_iso", "due_local", "target", "target_iso",
                 "target_local", "unknown_years")

    def __init__(self, ctx: Context, spec: RuleSpec, start: datetime) -> None:
        cal = ctx.cal
        self.spec = spec
        self.start_iso, self.start_local = ctx.texts(start)
        self.due = spec.limit.add(cal, start)
        self.due_iso, self.due_local = iso(self.due), _local(cal, self.due)
        self.target = spec.target.add(cal, start) if spec.target else None
        self.target_iso = iso(self.target)
        self.target_local = _local(cal, self.target) if self.target is not None else None
        self.unknown_years = tuple(cal.unknown_years(start, self.due))


def _schedule(ctx: Context, spec: RuleSpec, start: datetime) -> _Schedule:
    key = ("schedule", ctx.cal, id(spec), start, start.fold)
    hit = _MEMO.get(key)
    if hit is None or hit.spec is not spec:
        hit = _remember(key, _Schedule(ctx, spec, start))
    return hit  # type: ignore[no-any-return]


def _reconcile(ctx: Context, rule_id: str, spec: RuleSpec, old: Mapping[str, Any] | None,
               timers: dict[str, str], noted: set[str], flagged: set[int],
               tier_since: Mapping[str, str]) -> tuple[dict[str, Any] | None, list[Effect]]:
    """One rule against the ticket: the record entry it should have and the effects to get there."""
    cal, effects = ctx.cal, []
    applies = (not spec.tiers or ctx.record.get("tier") in spec.tiers) and \
        not (spec.valid_only and ctx.record.get("valid") == 0)
    start = ctx.start(spec, tier_since) if applies else None
    if start is None:
        # Not (or no longer) running: a tier changed, the ticket reopened, the complaint is invalid.
        for key in (rule_id, f"{rule_id}:target"):
            if key in timers:
                del timers[key]
                effects.append(CancelTimer(rule_id=rule_id, key=key, source=SOURCE))
        return None, effects

    sched = _schedule(ctx, spec, start)
    due, target = sched.due, sched.target
    if old is not None and old.get("start") == sched.start_iso:
        entry = dict(old)
    else:  # first computation, or a new start (a new resolution, a later tier)
        entry = {"start": sched.start_iso, "due": sched.due_iso, "target": sched.target_iso, "met_at": None,
                 "extended_to": None, "approved_by": None, "extension_rule": None, "overdue": False}
    entry["due"], entry["target"] = sched.due_iso, sched.target_iso

    for year in sched.unknown_years:
        if year not in flagged:
            flagged.add(year)
            log.warning("ticket %s: deadline %s falls in %d, which has no official holiday schedule",
                        ctx.ticket.ref.key, rule_id, year)
            effects.append(InternalNote(
                rule_id=rule_id,
                text=f"{year} 年尚无官方节假日调休安排：时限按法定节日及周一至周五估算，请人工核对",
                text_en=f"No official holiday schedule for {year} yet: deadlines assume statutory holidays "
                        f"and Monday-Friday only; check them", source=SOURCE))

    if spec.extendable and entry["met_at"] is None:
        effects += _extension(ctx, rule_id, entry, due, noted)
    effective = parse_time(entry["extended_to"], cal) or due
    effective_iso, effective_local = ((sched.due_iso, sched.due_local) if effective is due
                                      else (iso(effective), _local(cal, effective)))

    met = entry["met_at"] and parse_time(entry["met_at"], cal)
    if not met:
        met = ctx.met_at(spec, start)
        if met is not None:
            entry["met_at"] = iso(met)
    if met:
        if met > effective and not entry["overdue"]:
            entry["overdue"] = True
            effects.append(InternalNote(
                rule_id=rule_id,
                text=f"{spec.what}超时完成：时限 {effective_local}，完成于 {_local(cal, met)}",
                text_en=f"{spec.what_en} done late: due {effective_local}, done {_local(cal, met)}",
                source=SOURCE))
        for key in (rule_id, f"{rule_id}:target"):
            if key in timers:
                del timers[key]
                effects.append(CancelTimer(rule_id=rule_id, key=key, reason="已完成", reason_en="met", source=SOURCE))
        return entry, effects

    if ctx.now >= effective:
        if not entry["overdue"]:
            entry["overdue"] = True
            hint = f"；{spec.overdue_hint}" if spec.overdue_hint else ""
            hint_en = f"; {spec.overdue_hint_en}" if spec.overdue_hint_en else ""
            effects.append(InternalNote(
                rule_id=rule_id,
                text=f"已超时：{spec.what}，时限 {effective_local}{hint}",
                text_en=f"Overdue: {spec.what_en}, due {effective_local}{hint_en}", source=SOURCE))
        timers.pop(rule_id, None)
        timers.pop(f"{rule_id}:target", None)
        return entry, effects

    if timers.get(rule_id) != effective_iso:
        timers[rule_id] = effective_iso  # type: ignore[assignment]
        kind = "received" if start == ctx.received else spec.start
        since = {"received": "受理", "resolved": "结案", "tier": "升级"}.get(kind, "登记时间")
        since_en = {"received": "receipt", "resolved": "resolution", "tier": "escalation"}.get(kind, "recorded time")
        target_zh = f"，目标 {sched.target_local}" if target else ""
        target_en = f", target {sched.target_local}" if target else ""
        if entry["extended_to"]:
            # R-EXT-6.27 is the customer's consent (a multi-department case), R-EXT-6.18 a person's approval.
            consent = entry["extension_rule"] == "R-EXT-6.27"
            who = "多部门协调，客户同意" if consent else f"批准：{entry['approved_by']}"
            who_en = "multi-department case, the customer agreed" if consent else f"approved by {entry['approved_by']}"
            effects.append(ScheduleTimer(
                rule_id=entry["extension_rule"], key=rule_id, due_at=effective, payload={"rule_id": rule_id},
                reason=f"{spec.what}，已延期（{who}），原时限 {sched.due_local}",
                reason_en=f"{spec.what_en}, extended ({who_en}), was {sched.due_local}", source=SOURCE))
        else:
            effects.append(ScheduleTimer(
                rule_id=rule_id, key=rule_id, due_at=effective, payload={"rule_id": rule_id},
                reason=f"{spec.what}，自{since} {sched.start_local} 起 {spec.limit.label('zh')}{target_zh}",
                reason_en=f"{spec.what_en}, {spec.limit.label('en')} from {since_en} {sched.start_local}{target_en}",
                source=SOURCE))
    if target is not None and target < effective:
        tkey = f"{rule_id}:target"
        if ctx.now >= target:
            if tkey not in noted:
                noted.add(tkey)
                effects.append(InternalNote(
                    rule_id=rule_id,
                    text=f"已过目标时限：{spec.what}（目标 {sched.target_local}，最迟 {effective_local}）",
                    text_en=f"Target passed: {spec.what_en} (target {sched.target_local}, "
                            f"limit {effective_local})", source=SOURCE))
            timers.pop(tkey, None)
        elif timers.get(tkey) != sched.target_iso:
            timers[tkey] = sched.target_iso  # type: ignore[assignment]
            effects.append(ScheduleTimer(rule_id=rule_id, key=tkey, due_at=target,
                                         payload={"rule_id": rule_id, "target": True},
                                         reason=f"{spec.what}目标时限（最迟 {effective_local}）",
                                         reason_en=f"{spec.what_en}: target (limit {effective_local})",
                                         source=SOURCE))
    return entry, effects


def _extension(ctx: Context, rule_id: str, entry: dict[str, Any], due: datetime, noted: set[str]) -> list[Effect]:
    """R-EXT-6.18 / R-EXT-6.27: move the deadline only with a recorded approval."""
    fields, cfg, cal = ctx.ticket.fields, ctx.config.extension, ctx.cal
    raw = fields.get(cfg.extended_to)
    if raw in (None, ""):
        return []
    new = parse_time(raw, cal)
    approver = str(fields.get(cfg.approved_by) or "").strip()
    consent = _truthy(fields.get(cfg.customer_consent))
    units = ctx.record.get("units") or []
    reason = str(fields.get(cfg.reason) or "").strip()
    key = f"ext:{rule_id}:{raw}:{approver}:{consent}"
    if new is None or new <= due:
        if key not in noted:
            noted.add(key)
            return [InternalNote(
                rule_id="R-EXT-6.18",
                text=f"延期时间“{raw}”无效或不晚于原时限 {_local(cal, due)}，原时限不变（{rule_id}）",
                text_en=f"Extension '{raw}' is invalid or not later than the deadline {_local(cal, due)}; "
                        f"the deadline stands ({rule_id})", source=SOURCE)]
        return []
    if approver:
        rule, by = "R-EXT-6.18", approver
    elif consent and len(units) > 1:
        rule, by = "R-EXT-6.27", "customer"
    else:
        if key not in noted:
            noted.add(key)
            return [InternalNote(
                rule_id="R-EXT-6.18",
                text=f"延期至 {_local(cal, new)} 未获批准，已忽略，原时限 {_local(cal, due)} 不变：需分管副总裁批准"
                     f"（字段 {cfg.approved_by}），或多部门协调且客户同意（字段 {cfg.customer_consent}）（{rule_id}）",
                text_en=f"Extension to {_local(cal, new)} ignored for lack of approval; the deadline "
                        f"{_local(cal, due)} stands: needs the vice-president's approval (field {cfg.approved_by}) "
                        f"or, for a multi-department case, the customer's consent (field {cfg.customer_consent}) "
                        f"({rule_id})", source=SOURCE)]
        return []
    if entry.get("extended_to") != iso(new) or entry.get("approved_by") != by:
        entry.update({"extended_to": iso(new), "approved_by": by, "extension_rule": rule,
                      "extension_reason": reason or None})
    return []
