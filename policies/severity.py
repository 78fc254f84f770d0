"""Severity tiers (等级) -- scheme ``food``: A/B/C by the complaint's facts (篇1 §9.1, §10).

R-TIER-1.9.1-A / -B / -C. Classification uses the ticket's cause field when present, else keyword
rules over title and customer-visible text (Chinese first, configurable), else leaves the tier
unset and says so in the note. The highest matching tier wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kesu.effects import AddTags, Effect, InternalNote, RemoveTags, SetPriority, SetState
from kesu.models import EventKind, Priority, Ticket, TicketEvent
from plugins import hookimpl

TIERS = ("A", "B", "C")  # strictest first
RULES = {"A": "R-TIER-1.9.1-A", "B": "R-TIER-1.9.1-B", "C": "R-TIER-1.9.1-C"}


class TierSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: list[str]
    priority: Priority  # by name: low, normal, high, urgent
    tag: str
    label: str  # shown in notes


class SeverityConfig(BaseModel):
    """``[policies.severity]``."""

    model_config = ConfigDict(extra="forbid")

    # No defaults here: the profile (policies/profiles/<profile>/*severity.toml) supplies them.
    scheme: Literal["food"] = Field(description="Tier scheme")
    category_field: str = Field(description="Ticket field holding A/B/C when an agent has classified it")
    tiers: dict[Literal["A", "B", "C"], TierSpec]


def classify(ticket: Ticket, config: SeverityConfig) -> tuple[str | None, str | None]:
    """(tier, evidence): the field wins over keywords; strictest tier first."""
    declared = ticket.fields.get(config.category_field)
    if isinstance(declared, str) and declared.strip().upper().rstrip("类") in config.tiers:
        return declared.strip().upper().rstrip("类"), f"{config.category_field}={declared}"
    text = ticket.text()
    for tier in TIERS:
        spec = config.tiers.get(tier)  # type: ignore[call-overload]
        if spec is None:
            continue
        for word in spec.keywords:
            if word and word in text:
                return tier, word
    return None, None


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return SeverityConfig


@hookimpl
def kesu_evaluate(
    event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: SeverityConfig, now: datetime
) -> Iterable[Effect] | None:
    if event.kind is EventKind.timer_fired:
        return None
    tier, evidence = classify(ticket, config)
    if tier is None:
        # R-TIER-1.9.1: no fact matched -> leave the tier unset and ask the agent.
        if state.get("asked"):
            return None
        return [
            InternalNote(
                rule_id="R-TIER-1.9.1",
                text=f"未能判定客诉等级：请在字段 {config.category_field} 填写 A/B/C，或补充问题描述",
                text_en=f"Tier not determined: fill in field {config.category_field} (A/B/C) or describe the problem",
            ),
            SetState(rule_id="R-TIER-1.9.1", values={"asked": True}),
        ]
    spec = config.tiers[tier]  # type: ignore[index]
    rule = RULES[tier]
    previous = state.get("tier")
    if previous is not None and TIERS.index(previous) < TIERS.index(tier):
        # A tier never drops by itself (escalation raises it; a person lowers it in the field).
        return None
    effects: list[Effect] = [
        SetPriority(rule_id=rule, priority=spec.priority,
                    reason=f"{spec.label}，依据：{evidence}", reason_en=f"tier {tier}, evidence: {evidence}"),
        AddTags(rule_id=rule, tags=(spec.tag,)),
        SetState(rule_id=rule, values={"tier": tier, "evidence": evidence}),
    ]
    stale = [s.tag for t, s in config.tiers.items() if t != tier and s.tag in ticket.tags]
    if stale:
        effects.append(RemoveTags(rule_id=rule, tags=tuple(stale)))
    return effects
