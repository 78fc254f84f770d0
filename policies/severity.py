"""Severity tiers (等级), special complaints (特殊客诉) and validity (有效 / 无效).

Schemes (POLICY_SPEC §2; one per deployment, every number in the profile):

* ``food`` -- A/B/C by the complaint's facts (篇1 §9.1, §10): R-TIER-1.9.1-A / -B / -C.
* ``loss`` -- general / difficult / major by direct economic loss and influence (篇5 §3):
  R-TIER-5.3.2 (≤ 5,000), R-TIER-5.3.3 (5,000 < x < 30,000, bad influence), R-TIER-5.3.4
  (≥ 30,000; media, lawsuit, regulator, serious injury, group of ≥ 5, other major influence).
* ``service`` -- general / major (篇6 §13): R-TIER-6.13-general, R-TIER-6.13-major. The two
  time-based major cases (valid complaint unresolved > 1 month, general complaint past its
  deadline) are escalations (R-ESC-6.13), decided by the escalation plugin.

Classification: an agent's tier field wins; else the highest tier whose cause, flags, keywords,
loss bounds or people count match; else the scheme's default tier, else no tier and a note. A tier
never drops by itself: a higher tier decided before (or raised by escalation in the complaint
record) is kept; only an agent's field value lowers it.

R-SPECIAL-1.11: feedback from government or health authorities, complaints lodged with a
regulator or consumer association, suspected extortion -> always the top tier; the sales manager
and account owner are told (the general manager when needed); extortion cases are isolated in a
restricted group and flagged for legal.

R-VALID-1.4.1 / R-INVALID-6.14: a complaint naming its target, with concrete facts and customer
contact is recorded valid -- unless something suggests it is invalid; then kesu only *proposes*
invalid (tag + note) and the call centre's dispatcher decides through a field or tag. A confirmed
invalid complaint needs an explanation to the customer (R-FB-6.35); kesu never closes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kesu import i18n
from kesu.effects import (
    AddTags,
    AssignGroup,
    Effect,
    InternalNote,
    Notify,
    RecordComplaint,
    RemoveTags,
    SetPriority,
    SetState,
)
from kesu.facts import FLAG_NAMES, Facts
from kesu.models import EventKind, Priority, Ticket, TicketEvent
from kesu.ticket_fields import TicketField, named, select
from plugins import hookimpl
from policies.facts import KeywordMatcher, compiled_for, customer_text, first_match

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "severity"

Scheme = Literal["food", "loss", "service"]

#: Tiers of each scheme, lowest first (the record's ``tier_order``).
TIER_ORDER: dict[str, tuple[str, ...]] = {
    "food": ("C", "B", "A"),
    "loss": ("general", "difficult", "major"),
    "service": ("general", "major"),
}
RULES: dict[str, dict[str, str]] = {
    "food": {"A": "R-TIER-1.9.1-A", "B": "R-TIER-1.9.1-B", "C": "R-TIER-1.9.1-C"},
    "loss": {"general": "R-TIER-5.3.2", "difficult": "R-TIER-5.3.3", "major": "R-TIER-5.3.4"},
    "service": {"general": "R-TIER-6.13-general", "major": "R-TIER-6.13-major"},
}
#: Rule of the "tier not determined" note (the family of R-TIER-1.9.1-A/B/C).
UNCLASSIFIED_RULE = "R-TIER-1.9.1"
SPECIAL_RULE = "R-SPECIAL-1.11"
VALID_RULE = "R-VALID-1.4.1"
INVALID_RULE = "R-INVALID-6.14"
EXPLAIN_RULE = "R-FB-6.35"

RequirableFact = Literal["names_target", "has_contact", "tier", "cause", "category", "batch", "loss_amount"]
#: How flags read in notes (display only; which flags count is configuration).
FLAG_NAMES_ZH = {"government": "政府部门回馈", "regulator": "向监管部门或消协投诉", "extortion": "疑似敲诈",
                 "media": "媒体介入", "lawsuit": "拟起诉", "serious_injury": "严重人身伤害", "injury": "人身伤害",
                 "large_scale": "大面积纠纷", "leader": "反映领导干部", "unverifiable": "对象或内容不明确、无法查实",
                 "contradicts_facts": "与事实严重不符", "beyond_commitment": "超出服务承诺",
                 "unlawful_demand": "不符合法律法规", "many_people": "多人", "time_critical": "时效紧急"}
_FACT_NAMES_EN = {"tier": "facts that decide the tier", "names_target": "what the complaint is about (unit/product)",
                  "has_contact": "the customer's contact", "cause": "the facts (cause)", "category": "category",
                  "batch": "batch number", "loss_amount": "loss amount"}
_FACT_NAMES_ZH = {"tier": "可定级的具体事实", "names_target": "投诉对象（部门/产品）", "has_contact": "客户联系方式", "cause": "具体事实（原因）",
                  "category": "投诉类别", "batch": "批号", "loss_amount": "损失金额"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TierSpec(_Strict):
    """``[policies.severity.tiers.<tier>]``: how a tier is shown and when it matches."""

    label: str  # shown in notes
    label_en: str = ""  # shown in English notes, reports and the admin page
    priority: Priority  # by name: low, normal, high, urgent
    tag: str
    aliases: list[str] = Field(default_factory=list, description="values an agent may type in the tier field")
    keywords: list[str] = Field(default_factory=list, description="expressions, policies.facts syntax")
    causes: list[str] = Field(default_factory=list, description="routing-table causes of this tier")
    flags: list[str] = Field(default_factory=list, description="facts flags that make this tier")
    # Direct economic loss in yuan; a tier matches by loss when the amount meets every bound set.
    loss_gt: float | None = None
    loss_ge: float | None = None
    loss_lt: float | None = None
    loss_le: float | None = None
    people_ge: int | None = None

    @model_validator(mode="after")
    def _flags_known(self) -> TierSpec:
        _check_flags(self.flags)
        return self

    def loss_bounded(self) -> bool:
        return any(b is not None for b in (self.loss_gt, self.loss_ge, self.loss_lt, self.loss_le))

    def loss_matches(self, amount: float | None) -> bool:
        if amount is None or not self.loss_bounded():
            return False
        return ((self.loss_gt is None or amount > self.loss_gt) and (self.loss_ge is None or amount >= self.loss_ge)
                and (self.loss_lt is None or amount < self.loss_lt) and (self.loss_le is None or amount <= self.loss_le))


class SpecialConfig(_Strict):
    """``[policies.severity.special]`` (R-SPECIAL-1.11)."""

    enabled: bool
    flags: list[str]  # government, regulator, extortion
    tag: str
    notify: list[str]  # sales manager and account owner (logins or names)
    general_manager: list[str]
    general_manager_flags: list[str]  # "when needed"
    isolate_flags: list[str]  # extortion
    isolate_group: str  # a helpdesk group with restricted visibility
    legal_tag: str

    @model_validator(mode="after")
    def _flags_known(self) -> SpecialConfig:
        _check_flags([*self.flags, *self.general_manager_flags, *self.isolate_flags])
        return self


class ValidityConfig(_Strict):
    """``[policies.severity.validity]`` (R-VALID-1.4.1, R-INVALID-6.14, R-FB-6.35)."""

    enabled: bool
    require: list[RequirableFact]
    invalid_flags: list[str]
    proposed_tag: str
    confirmed_tag: str
    how_to_confirm: str  # shown to the dispatcher: which field or tag records the decision

    @model_validator(mode="after")
    def _flags_known(self) -> ValidityConfig:
        _check_flags(self.invalid_flags)
        return self


class SeverityConfig(_Strict):
    """``[policies.severity]``. No defaults here: the profile (policies/profiles/*/20-severity.toml)
    supplies every value."""

    scheme: Scheme = Field(description="Tier scheme")
    category_field: str = Field(description="Ticket field holding the tier an agent decided")
    default_tier: str = Field(description='tier when nothing matches ("" = none: ask the agent)')
    loss_field: str = Field(description='named in the note when the loss is unknown ("" = do not ask)')
    negations: list[str]
    negation_window: int = Field(ge=0)
    tiers: dict[str, TierSpec]
    special: SpecialConfig
    validity: ValidityConfig

    @model_validator(mode="after")
    def _tiers_of_scheme(self) -> SeverityConfig:
        want = set(TIER_ORDER[self.scheme])
        if set(self.tiers) != want:
            raise ValueError(f"tiers of scheme {self.scheme!r} must be exactly {', '.join(TIER_ORDER[self.scheme])}"
                             f" (got {', '.join(self.tiers) or 'none'})")
        if self.default_tier and self.default_tier not in want:
            raise ValueError(f"default_tier must be one of {', '.join(TIER_ORDER[self.scheme])} or empty")
        return self

    @property
    def order(self) -> tuple[str, ...]:
        return TIER_ORDER[self.scheme]


def _check_flags(flags: Iterable[str]) -> None:
    unknown = sorted(set(flags) - set(FLAG_NAMES))
    if unknown:
        raise ValueError(f"unknown flag(s) {', '.join(unknown)}; allowed: {', '.join(FLAG_NAMES)}")


# ------------------------------------------------------------------------------------------------
# classification


def declared_tier(ticket: Ticket, config: SeverityConfig) -> str | None:
    """The tier an agent put in the tier field (key, label or alias; "A类" counts as A)."""
    raw = ticket.fields.get(config.category_field) if config.category_field else None
    if not isinstance(raw, str) or not raw.strip():
        return None
    value = raw.strip()
    for tier, spec in config.tiers.items():
        names = {tier.lower(), spec.label, *spec.aliases}
        if value.lower() in names or value in names or value.upper().rstrip("类") == tier.upper():
            return tier
    return None


class _Keywords:
    """The tiers' keyword expressions, compiled once per configuration (policies.facts), and whether
    any tier has loss bounds."""

    def __init__(self, config: SeverityConfig) -> None:
        self.matcher = KeywordMatcher([s.keywords for s in config.tiers.values()], config.negations,
                                      config.negation_window)
        self.tiers = {tier: self.matcher.lists[i] for i, tier in enumerate(config.tiers)}
        self.loss_bounded = any(s.loss_bounded() for s in config.tiers.values())


def _keywords(config: SeverityConfig) -> _Keywords:
    return compiled_for(config, "severity", (config.tiers, config.negations, config.negation_window,
                                             [s.keywords for s in config.tiers.values()]),
                        lambda: _Keywords(config))


def classify(ticket: Ticket, facts: Facts, config: SeverityConfig) -> tuple[str | None, str | None]:
    """(tier, evidence) from the facts: the highest matching tier wins (R-TIER-1.9.1, 5.3, 6.13)."""
    tier, evidence, _ = classified(ticket, facts, config)
    return tier, evidence


def classified(ticket: Ticket, facts: Facts, config: SeverityConfig) -> tuple[str | None, str | None, str | None]:
    """(tier, evidence, the evidence in English) from the facts; see :func:`classify`."""
    keywords = _keywords(config)
    present: frozenset[str] | None = None
    for tier in reversed(config.order):
        spec = config.tiers[tier]
        if facts.cause is not None and facts.cause in spec.causes:
            return (tier, f"原因 {facts.label('cause')}{facts.source('cause')}",
                    f"cause {facts.label('cause', 'en')}{facts.source('cause', 'en')}")
        flag = next((f for f in spec.flags if facts.flag(f)), None)
        if flag is not None:
            return (tier, f"{_zh(flag)}{facts.source('flag:' + flag)}",
                    f"{_en([flag])}{facts.source('flag:' + flag, 'en')}")
        if spec.loss_matches(facts.loss_amount):
            return (tier, f"损失 {facts.loss_amount:,.2f} 元{facts.source('loss_amount')}",
                    f"loss {facts.loss_amount:,.2f} yuan{facts.source('loss_amount', 'en')}")
        if spec.people_ge is not None and facts.people is not None and facts.people >= spec.people_ge:
            return tier, f"{facts.people} 人", f"{facts.people} people"
        if present is None:
            present = keywords.matcher.present(customer_text(ticket))
        hit = first_match(keywords.tiers[tier], present)
        if hit is not None:
            return tier, f"客户原话「{hit}」", f"the customer's words 「{hit}」"
    return None, None, None


def _rank(config: SeverityConfig, tier: Any) -> int:
    return config.order.index(tier) if tier in config.order else -1


# ------------------------------------------------------------------------------------------------
# hooks


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return SeverityConfig


@hookimpl
def kesu_ticket_fields(config: SeverityConfig) -> list[TicketField]:
    """The tier field (its choices: this scheme's tiers) and the loss field named in the note."""
    out = []
    if config.category_field:
        # kesu's own tier goes into the same field where the helpdesk has it (the tier tag otherwise).
        out.append(select(config.category_field, "客诉等级", "Complaint tier",
                          [(t, s.label, s.label_en or t) for t, s in config.tiers.items()], named("severity", "category_field"),
                          tag_values=[(s.tag, t) for t, s in config.tiers.items() if s.tag]))
    if config.loss_field:
        out.append(TicketField(name=config.loss_field, type="decimal", label="直接经济损失（元）",
                               label_en="Direct loss (yuan)", named_by=named("severity", "loss_field")))
    return out


@hookimpl
def kesu_evaluate(
    event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: SeverityConfig, facts: Facts,
    record: Mapping[str, Any],
) -> Iterable[Effect] | None:
    if event.kind is EventKind.timer_fired:
        # An escalation (R-ESC-*) raised the tier in the record: show it on the ticket (tier tag,
        # priority) now -- escalations by timer would otherwise wait for the next ticket change.
        if record.get("scheme") == config.scheme and _rank(config, record.get("tier")) > _rank(config, state.get("tier")):
            return _tier(ticket, state, config, facts, record)[0]
        return None
    effects, tier = _tier(ticket, state, config, facts, record)
    if config.special.enabled:
        effects += _special(state, config, facts)
    if config.validity.enabled:
        effects += _validity(state, config, facts, record, tier)
    return effects


def _tier(ticket: Ticket, state: Mapping[str, Any], config: SeverityConfig, facts: Facts,
          record: Mapping[str, Any]) -> tuple[list[Effect], str | None]:
    special = config.special.enabled and any(facts.flag(f) for f in config.special.flags)
    top = config.order[-1]
    declared = declared_tier(ticket, config)
    if declared is not None and declared == state.get("tier") and state.get("tier_by") == "kesu":
        declared = None  # kesu's own decision, written to the field in place of the tier tag
    notes: list[Effect] = []
    if declared is not None:
        # An agent's value overrides everything, even downwards.
        tier, evidence = declared, f"字段 {config.category_field}={ticket.fields.get(config.category_field)}"
        evidence_en = f"field {config.category_field}={ticket.fields.get(config.category_field)}"
    else:
        tier, evidence, evidence_en = classified(ticket, facts, config)
        if special:
            raised = [f for f in config.special.flags if facts.flag(f)]
            flags = "、".join(f"{_zh(f)}{facts.source('flag:' + f)}" for f in raised)
            tier, evidence = top, f"特殊客诉（{flags}）"
            evidence_en = "special complaint (" + "; ".join(
                f"{_en([f])}{facts.source('flag:' + f, 'en')}" for f in raised) + ")"
        if tier is None and config.default_tier:
            tier, evidence = config.default_tier, "未见更高等级的事实，按默认等级"
            evidence_en = "no fact of a higher tier: the default tier"
        # Never drop by itself: keep what was decided before or raised by escalation.
        before = [t for t in (state.get("tier"), record.get("tier") if record.get("scheme") == config.scheme else None)
                  if t in config.order]
        kept = max(before, key=lambda t: _rank(config, t), default=None)
        if kept is not None and _rank(config, kept) > _rank(config, tier):
            tier, evidence = kept, "保持已定等级（等级不自动降低）"
            evidence_en = "the tier decided before stays (tiers never drop by themselves)"
        if (_keywords(config).loss_bounded and facts.loss_amount is None
                and config.loss_field and not state.get("asked_loss") and tier is not None
                and not special and _rank(config, tier) < len(config.order) - 1):
            spec = config.tiers[tier]
            notes += [
                InternalNote(rule_id=RULES[config.scheme][tier],
                             text=f"未知直接经济损失，暂定{spec.label}：请在字段 {config.loss_field} 填写金额（元）",
                             text_en=f"Loss unknown, tier {tier} for now: fill in field {config.loss_field} (yuan)",
                             source=SOURCE),
                SetState(rule_id=RULES[config.scheme][tier], values={"asked_loss": True}, source=SOURCE),
            ]
    if tier is None:
        if state.get("asked"):
            return [], None
        # R-TIER-1.9.1: no fact matched -> leave the tier unset and ask the agent.
        names = "/".join(config.order[::-1])
        return [
            InternalNote(rule_id=UNCLASSIFIED_RULE,
                         text=f"未能判定客诉等级：请在字段 {config.category_field} 填写 {names}，或补充问题描述",
                         text_en=f"Tier not determined: fill in field {config.category_field} ({names}) or describe the problem",
                         source=SOURCE),
            SetState(rule_id=UNCLASSIFIED_RULE, values={"asked": True}, source=SOURCE),
        ], None
    spec = config.tiers[tier]
    rule = RULES[config.scheme][tier]
    effects: list[Effect] = [
        SetPriority(rule_id=rule, priority=spec.priority,
                    reason=f"{spec.label}，依据：{evidence}",
                    reason_en=f"{spec.label_en or i18n.label('tier', tier, 'en')}, evidence: {evidence_en}",
                    source=SOURCE),
        AddTags(rule_id=rule, tags=(spec.tag,), source=SOURCE),
        RecordComplaint(rule_id=rule, values={"scheme": config.scheme, "tier": tier,
                                              "tier_order": list(config.order), "special": bool(special or record.get("special"))},
                        source=SOURCE),
        SetState(rule_id=rule, values={"tier": tier, "evidence": evidence,
                                       "tier_by": "agent" if declared is not None else "kesu"}, source=SOURCE),
        *notes,
    ]
    stale = [s.tag for t, s in config.tiers.items() if t != tier and s.tag in ticket.tags]
    if stale:
        effects.append(RemoveTags(rule_id=rule, tags=tuple(stale), source=SOURCE))
    return effects, tier


def _special(state: Mapping[str, Any], config: SeverityConfig, facts: Facts) -> list[Effect]:
    """R-SPECIAL-1.11."""
    sp = config.special
    flags = [f for f in sp.flags if facts.flag(f)]
    if not flags:
        return []
    why = "、".join(_zh(f) for f in flags)
    effects: list[Effect] = [AddTags(rule_id=SPECIAL_RULE, tags=(sp.tag,), reason=f"特殊客诉（{why}）",
                                     reason_en=f"special complaint ({', '.join(flags)})", source=SOURCE)]
    recipients = list(sp.notify)
    if any(facts.flag(f) for f in sp.general_manager_flags):
        recipients += [r for r in sp.general_manager if r not in recipients]
    notified = set(state.get("special_notified") or [])
    new = [r for r in recipients if r not in notified]
    if new:
        effects += [
            Notify(rule_id=SPECIAL_RULE, recipients=tuple(new),
                   message=f"特殊客诉（{why}）：请立即关注并协调处理",
                   reason_en=f"special complaint ({', '.join(flags)}): attend to it at once", source=SOURCE),
            SetState(rule_id=SPECIAL_RULE, values={"special_notified": sorted(notified | set(new))}, source=SOURCE),
        ]
    if any(facts.flag(f) for f in sp.isolate_flags):
        # 篇1 §11.2.2 b) 隔绝危机: restricted group, legal looks at it.
        effects += [
            AssignGroup(rule_id=SPECIAL_RULE, group=sp.isolate_group, reason="疑似敲诈，隔离处理",
                        reason_en="suspected extortion: isolated", source=SOURCE),
            AddTags(rule_id=SPECIAL_RULE, tags=(sp.legal_tag,), reason="疑似敲诈，法务关注",
                    reason_en="suspected extortion: legal", source=SOURCE),
            RecordComplaint(rule_id=SPECIAL_RULE, values={"isolated": True}, source=SOURCE),
        ]
    return effects


def _validity(state: Mapping[str, Any], config: SeverityConfig, facts: Facts, record: Mapping[str, Any],
              tier: str | None) -> list[Effect]:
    """R-VALID-1.4.1, R-INVALID-6.14, R-FB-6.35."""
    v = config.validity
    valid = record.get("valid")
    proposed = bool(record.get("invalid_proposed"))
    if facts.validity == "invalid":
        # The dispatcher confirmed: invalid. Explain to the customer; never close by itself.
        effects: list[Effect] = [
            RecordComplaint(rule_id=INVALID_RULE, values={"valid": 0, "invalid_proposed": proposed}, source=SOURCE),
            AddTags(rule_id=INVALID_RULE, tags=(v.confirmed_tag,), reason="呼叫中心确认无效",
                    reason_en="invalid, confirmed by the dispatcher", source=SOURCE),
        ]
        if valid != 0:
            effects += [
                InternalNote(rule_id=EXPLAIN_RULE, text="已确认为无效投诉：请向客户解释无效原因（工单不会自动关闭）",
                             text_en="Confirmed invalid: explain the reason to the customer (the ticket stays open)",
                             source=SOURCE),
            ]
        return effects + _untag(v.proposed_tag, INVALID_RULE)
    if facts.validity == "valid":
        effects = [RecordComplaint(rule_id=VALID_RULE, values={"valid": 1, "invalid_proposed": proposed},
                                   source=SOURCE)]
        return effects + _untag(v.proposed_tag, VALID_RULE) + _untag(v.confirmed_tag, VALID_RULE)
    if valid is not None:
        return []  # decided before (by a person, or valid by the facts): no flip-flop
    invalid = [f for f in v.invalid_flags if facts.flag(f)]
    if invalid:
        if proposed:
            return []
        why = "、".join(_zh(f) for f in invalid)
        return [
            RecordComplaint(rule_id=INVALID_RULE, values={"invalid_proposed": True}, source=SOURCE),
            AddTags(rule_id=INVALID_RULE, tags=(v.proposed_tag,), reason=f"疑似无效投诉（{why}）",
                    reason_en=f"possibly invalid ({_en(invalid)})", source=SOURCE),
            InternalNote(rule_id=INVALID_RULE,
                         text=f"疑似无效投诉（{why}），仅提议，须人工确认：{v.how_to_confirm}",
                         text_en=f"Possibly invalid ({_en(invalid)}); a person decides: {v.how_to_confirm}",
                         source=SOURCE),
        ]
    if proposed:
        return []  # proposed before; only a person settles it
    # "tier": the facts were concrete enough to classify the complaint.
    missing = [name for name in v.require if not (tier if name == "tier" else getattr(facts, name))]
    if not missing:
        return [RecordComplaint(rule_id=VALID_RULE, values={"valid": 1, "invalid_proposed": False},
                                reason="有效客诉", reason_en="valid complaint", source=SOURCE)]
    if state.get("validity_asked") or tier is None:
        return []  # asked before; or the tier note already asks for the facts
    what = "、".join(_FACT_NAMES_ZH[m] for m in missing)
    return [
        InternalNote(rule_id=VALID_RULE, text=f"有效性待定：缺少{what}，请补充",
                     text_en=f"Validity undecided: missing {', '.join(_FACT_NAMES_EN.get(m, m) for m in missing)}",
                     source=SOURCE),
        SetState(rule_id=VALID_RULE, values={"validity_asked": True}, source=SOURCE),
    ]


def _zh(flag: str) -> str:
    return FLAG_NAMES_ZH.get(flag) or i18n.label("flag", flag)


def _en(flags: Iterable[str]) -> str:
    """Flags in English notes, by their English labels (never kesu's keys)."""
    return ", ".join(i18n.label("flag", f, "en") for f in flags)


def _untag(tag: str, rule: str) -> list[Effect]:
    return [RemoveTags(rule_id=rule, tags=(tag,), source=SOURCE)] if tag else []
