"""Penalties and rewards (罚则, 奖惩) -- POLICY_SPEC §6: ledger entries and proposals.

Every amount, subject name and trigger list comes from ``[policies.penalties]`` (profile data).
A fixed amount becomes a ``confirmed`` entry; a range becomes a ``proposed`` entry that a person
decides with ``kesu ledger confirm ID --amount X --by NAME`` (kesu.ledger checks the range).

When a validity rule applies (R-PEN-5.6.2, -admon, R-PEN-5.6.3, R-PEN-5.6.4): with
``when = "resolved"`` (the profiles' choice) once the complaint is resolved -- the ticket has been
seen closed -- and its validity is recorded (``record["valid"]`` 1 or 0), in whichever order the
two happen; by then the responsible units are final. With ``when = "valid"`` as soon as the
validity is recorded. Conduct rules (R-PEN-6.39 … 6.42) apply when their flag or escalation
appears; rewards (R-REW-6.43, 6.44) once the complaint is resolved. Every entry is written once
per ticket, subject and kind (remembered in state and guarded by a per-ticket ``dedupe_key``).
An invalid complaint gets no penalty but R-PEN-5.6.4 (R-INVALID-6.14).

Not here: R-PEN-5.6.5 (institution assessment: complaints per 100 million yuan premium and per
100 million policies) is a periodic report metric over all complaints, not a per-ticket decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kesu.effects import Effect, InternalNote, LedgerEntry, SetState
from kesu.facts import Facts
from kesu.history import History
from kesu.models import EventKind, Ticket, TicketEvent
from kesu.ticket_fields import TicketField, named, select
from plugins import hookimpl

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "penalties"

Role = Literal["person", "departments", "institution_head", "unit_heads"]
ROLE_LABELS = {  # what the note asks for when a subject is unknown
    "person": ("责任人", "the person responsible"),
    "departments": ("责任部门", "the responsible unit"),
    "unit_heads": ("责任部门", "the responsible unit"),
    "institution_head": ("责任机构", "the responsible institution"),
}


class EntrySpec(BaseModel):
    """One ledger entry a rule makes for each subject of ``against``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["penalty", "reward", "admonition", "score"]
    against: list[Role] = Field(min_length=1)
    amount: float | None = Field(None, description="Fixed amount (yuan): a confirmed entry")
    amount_min: float | None = Field(None, description="Range: a proposal a person confirms")
    amount_max: float | None = None
    status: Literal["proposed", "confirmed"] | None = Field(
        None, description="Default: confirmed for a fixed amount, proposed otherwise")
    reason: str = Field(min_length=1)
    reason_en: str = ""

    @model_validator(mode="after")
    def _amounts(self) -> EntrySpec:
        if (self.amount_min is None) != (self.amount_max is None):
            raise ValueError("give both amount_min and amount_max, or neither")
        if self.amount is not None and self.amount_min is not None:
            raise ValueError("give either amount or amount_min/amount_max, not both")
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise ValueError(f"amount_min {self.amount_min:g} is above amount_max {self.amount_max:g}")
        if self.status == "confirmed" and self.amount_min is not None:
            raise ValueError("a range is a proposal; it cannot be confirmed without a person")
        return self

    @property
    def effective_status(self) -> Literal["proposed", "confirmed"]:
        if self.status is not None:
            return self.status
        return "confirmed" if self.amount is not None else "proposed"


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    entries: list[EntrySpec]


class FlagRule(RuleSpec):
    flags: list[str] = Field(min_length=1, description="Facts flags that trigger the rule (any)")


class EscalationRule(RuleSpec):
    escalations: list[str] = Field(min_length=1, description="Escalation rule IDs that trigger it")


class AdmonitionRule(BaseModel):
    """R-PEN-5.6.2-admon: against each subject of R-PEN-5.6.2, once per calendar year."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    threshold: int = Field(ge=1, description="The n-th valid complaint of a year admonishes")
    status: Literal["proposed", "confirmed"]
    reason: str = Field(min_length=1)
    reason_en: str = ""


class PenaltiesConfig(BaseModel):
    """``[policies.penalties]``; the profile supplies every value."""

    model_config = ConfigDict(extra="forbid")

    when: Literal["resolved", "valid"] = Field(description="When validity rules apply")
    institution: str = Field(description="Institution name when no field names one")
    institution_field: str = Field(description="Ticket field naming the institution (branch); '' = none")
    institution_head: str = Field(description="Subject name of the institution head; {institution}")
    unit_head: str = Field(description="Subject name of a responsible unit's head; {unit}")
    person_field: str = Field(description="Ticket field naming the person responsible; '' = owner only")
    valid_complaint: RuleSpec  # R-PEN-5.6.2
    admonition: AdmonitionRule  # R-PEN-5.6.2-admon
    zero_tolerance: FlagRule  # R-PEN-5.6.3
    invalid_complaint: RuleSpec  # R-PEN-5.6.4
    concealed: FlagRule  # R-PEN-6.39
    stalled: EscalationRule  # R-PEN-6.40
    principles: EscalationRule  # R-PEN-6.41
    threats: FlagRule  # R-PEN-6.42
    praise: FlagRule  # R-REW-6.43
    saved_loss: FlagRule  # R-REW-6.44

    @model_validator(mode="after")
    def _formats(self) -> PenaltiesConfig:
        for name, placeholder in (("institution_head", "{institution}"), ("unit_head", "{unit}")):
            value = getattr(self, name)
            try:
                value.format(institution="x", unit="x")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"{name}: only {placeholder} may appear in braces ({exc})") from None
        return self


@dataclass
class _Ctx:
    """Who the subjects of this ticket are; unknown ones are reported, never guessed."""

    ticket: Ticket
    config: PenaltiesConfig
    record: Mapping[str, Any]
    done: set[str]
    asked: set[str]
    effects: list[Effect] = field(default_factory=list)
    new_done: list[str] = field(default_factory=list)

    def person(self) -> str | None:
        name = self.config.person_field
        value = self.ticket.fields.get(name) if name else None
        if isinstance(value, str) and value.strip():
            return value.strip()
        return self.ticket.owner or None

    def person_is_presumed(self) -> bool:
        """The person comes from the ticket's owner, not from a field a person filled in: the
        owner may be whoever closed the ticket rather than the one complained about."""
        name = self.config.person_field
        value = self.ticket.fields.get(name) if name else None
        return not (isinstance(value, str) and value.strip())

    def units(self) -> list[str]:
        return [u for u in (self.record.get("units") or []) if isinstance(u, str) and u]

    def institution(self) -> str | None:
        name = self.config.institution_field
        if not name:
            return self.config.institution
        value = self.ticket.fields.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def subjects(self, role: Role) -> list[str]:
        if role == "person":
            p = self.person()
            return [p] if p else []
        if role == "departments":
            return self.units()
        if role == "unit_heads":
            return [self.config.unit_head.format(unit=u) for u in self.units()]
        inst = self.institution()
        return [self.config.institution_head.format(institution=inst)] if inst else []

    def ask(self, rule_id: str, role: Role) -> None:
        key = f"{rule_id}|{role}"
        if key in self.asked:
            return
        self.asked.add(key)
        zh, en = ROLE_LABELS[role]
        if role == "person":
            where = f"字段 {self.config.person_field} 或处理人" if self.config.person_field else "处理人"
            where_en = (f"field {self.config.person_field} or the owner" if self.config.person_field
                        else "the owner")
        elif role == "institution_head":
            where, where_en = f"字段 {self.config.institution_field}", f"field {self.config.institution_field}"
        else:
            where, where_en = "投诉记录的责任部门", "the complaint record's units"
        self.effects.append(InternalNote(
            rule_id=rule_id, text=f"{zh}未知，罚则暂不记账：请填写{where}",
            text_en=f"{en.capitalize()} unknown, no ledger entry yet: fill in {where_en}", source=SOURCE))

    def apply(self, rule_id: str, rule: RuleSpec, extra: str = "") -> list[str]:
        """Ledger entries of ``rule`` not written before; returns the subjects newly charged."""
        charged: list[str] = []
        if not rule.enabled:
            return charged
        for spec in rule.entries:
            for role in spec.against:
                subjects = self.subjects(role)
                if not subjects:
                    self.ask(rule_id, role)
                for subject in subjects:
                    key = f"{rule_id}|{spec.kind}|{subject}"
                    if key in self.done:
                        continue
                    self.done.add(key)
                    self.new_done.append(key)
                    charged.append(subject)
                    status, reason, reason_en = spec.effective_status, spec.reason + extra, spec.reason_en + extra
                    if role == "person" and status == "confirmed" and self.person_is_presumed():
                        # Never charge a presumed person outright: a person confirms the entry.
                        status = "proposed"
                        reason += "（责任人按处理人推定，请确认）"
                        reason_en += " (person presumed from the owner; confirm)"
                    self.effects.append(LedgerEntry(
                        rule_id=rule_id, kind=spec.kind, subject=subject, amount=spec.amount,
                        amount_min=spec.amount_min, amount_max=spec.amount_max,
                        status=status, reason=reason, reason_en=reason_en,
                        dedupe_key=f"{rule_id}:{spec.kind}:{self.ticket.ref.key}:{subject}"[:200], source=SOURCE))
        return charged


def _escalated(record: Mapping[str, Any], rule_ids: Iterable[str]) -> str | None:
    wanted = tuple(rule_ids)
    for esc in record.get("escalations") or []:
        rid = esc.get("rule_id") if isinstance(esc, Mapping) else None
        if isinstance(rid, str) and any(rid == w or rid.startswith(w + "-") for w in wanted):
            return rid
    return None


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return PenaltiesConfig


@hookimpl
def kesu_ticket_fields(config: PenaltiesConfig) -> list[TicketField]:
    """Who is responsible: the person (责任人) and the institution (e.g. a branch)."""
    out = []
    if config.person_field:
        out.append(TicketField(name=config.person_field, type="text", label="责任人", label_en="Person responsible",
                               named_by=named("penalties", "person_field")))
    if config.institution_field:
        out.append(TicketField(name=config.institution_field, type="text", label="责任机构",
                               label_en="Institution responsible", named_by=named("penalties", "institution_field")))
    return out


@hookimpl
def kesu_evaluate(
    event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: PenaltiesConfig,
    now: datetime, facts: Facts, history: History, record: Mapping[str, Any],
) -> Iterable[Effect] | None:
    ctx = _Ctx(ticket, config, record, set(state.get("done", [])), set(state.get("asked", [])))
    resolved = bool(state.get("resolved")) or ticket.closed or event.kind is EventKind.closed
    valid = record.get("valid")
    ready = resolved or config.when == "valid"

    if valid == 0:
        # R-INVALID-6.14: an invalid complaint carries no penalty but the score deduction.
        if ready:
            ctx.apply("R-PEN-5.6.4", config.invalid_complaint)  # R-PEN-5.6.4
    else:
        if valid == 1 and ready:
            charged = ctx.apply("R-PEN-5.6.2", config.valid_complaint)  # R-PEN-5.6.2
            if config.admonition.enabled:
                _admonish(ctx, charged, history, now)
            if config.zero_tolerance.enabled and any(facts.flag(f) for f in config.zero_tolerance.flags):
                ctx.apply("R-PEN-5.6.3", config.zero_tolerance)  # R-PEN-5.6.3 zero tolerance
        elif valid is None and resolved and config.valid_complaint.enabled and "valid" not in ctx.asked:
            ctx.asked.add("valid")
            ctx.effects.append(InternalNote(
                rule_id="R-PEN-5.6.2", text="已解决但投诉有效性未确认：有效投诉罚则待确认有效后记账",
                text_en="Resolved but validity not confirmed: valid-complaint penalties wait for it", source=SOURCE))
        for rule_id, rule in (("R-PEN-6.39", config.concealed), ("R-PEN-6.42", config.threats)):
            if rule.enabled and any(facts.flag(f) for f in rule.flags):
                ctx.apply(rule_id, rule)
        for rule_id, esc_rule in (("R-PEN-6.40", config.stalled), ("R-PEN-6.41", config.principles)):
            cause = _escalated(record, esc_rule.escalations) if esc_rule.enabled else None
            if cause:
                ctx.apply(rule_id, esc_rule, f"（{cause}）")
    if resolved:
        for rule_id, rule in (("R-REW-6.43", config.praise), ("R-REW-6.44", config.saved_loss)):
            if rule.enabled and any(facts.flag(f) for f in rule.flags):
                ctx.apply(rule_id, rule)

    changed = ctx.new_done or ctx.asked != set(state.get("asked", [])) or resolved != bool(state.get("resolved"))
    if not changed and not ctx.effects:
        return None
    ctx.effects.append(SetState(rule_id="R-PEN-5.6.2", values={
        "done": sorted(ctx.done), "asked": sorted(ctx.asked), "resolved": resolved}, source=SOURCE))
    return ctx.effects


def _admonish(ctx: _Ctx, charged: list[str], history: History, now: datetime) -> None:
    """R-PEN-5.6.2-admon: the ``threshold``-th valid complaint of a calendar year (UTC, as
    ``history.ledger_count`` counts) admonishes the subject once. The count read here excludes
    this event's own entry; two workers racing both see the same count, so the check is ``>=``
    and the store writes one row per ``dedupe_key``."""
    spec = ctx.config.admonition
    year = now.year
    for subject in charged:
        before = history.ledger_count(subject, "R-PEN-5.6.2", year)
        if before + 1 < spec.threshold:
            continue
        if history.ledger_count(subject, "R-PEN-5.6.2-admon", year) > 0:
            continue  # admonished already this year
        ctx.effects.append(LedgerEntry(
            rule_id="R-PEN-5.6.2-admon", kind="admonition", subject=subject, status=spec.status,
            reason=f"{year}年第{before + 1}次有效投诉，{spec.reason}",
            reason_en=f"valid complaint no. {before + 1} in {year}, {spec.reason_en}",
            dedupe_key=f"R-PEN-5.6.2-admon:{subject}:{year}"[:200], source=SOURCE))
