"""Compensation guidance (赔付标准, 篇1 §9.2) for the agent -- an internal note, never a promise.

* R-COMP-1.9.2-A -- serious health harm: sincere visit, actual medical costs when needed, comfort
  gift (company approval); harm but not serious: visit, medical costs when needed (approval); no
  harm: apology by phone or letter, replacement gift 1:10.
* R-COMP-1.9.2-B -- apology, replacement 1:2. R-COMP-1.9.2-C -- apology, 1:1.
* 篇1 §8.6 f: ask the customer for the batch number (批号) so responsibility can be attributed.

The guidance follows the tier in the complaint record (decided by severity, possibly raised by
escalation) and the harm flags of the facts; items that need the company's approval are marked.
It is only ever an internal note: kesu writes nothing the customer sees and promises nothing. An
invalid complaint (valid = 0) gets no guidance. Profiles without compensation standards disable
the plugin (``enabled = false``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kesu.effects import Effect, InternalNote, SetState
from kesu.facts import Facts
from kesu.models import EventKind, TicketEvent
from plugins import hookimpl

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "compensation"

RULES = {"A": "R-COMP-1.9.2-A", "B": "R-COMP-1.9.2-B", "C": "R-COMP-1.9.2-C"}
Harm = Literal["serious_harm", "harm", "no_harm"]
HARM_ORDER: tuple[Harm, ...] = ("no_harm", "harm", "serious_harm")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Guidance(_Strict):
    text: str  # Simplified Chinese, for the agent
    text_en: str
    approval: bool  # needs the company's approval before anything is done


class TierGuidance(_Strict):
    """``[policies.compensation.tiers.<tier>]``: guidance by harm to the consumer's health."""

    serious_harm: Guidance | None = None  # facts flag serious_injury
    harm: Guidance | None = None  # facts flag injury
    no_harm: Guidance


class CompensationConfig(_Strict):
    """``[policies.compensation]``; values come from the profile (80-compensation.toml)."""

    enabled: bool
    approval_mark: str = Field(description="prefix of items that need approval, e.g. 【需审批】")
    ask_batch: bool = Field(description="ask for the batch number when it is missing (篇1 §8.6 f)")
    tiers: dict[Literal["A", "B", "C"], TierGuidance] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tiers_when_enabled(self) -> CompensationConfig:
        if self.enabled and not self.tiers:
            raise ValueError("tiers: compensation standards are required when enabled")
        return self


def harm_level(facts: Facts, spec: TierGuidance) -> Harm:
    if facts.flag("serious_injury") and spec.serious_harm is not None:
        return "serious_harm"
    if (facts.flag("injury") or facts.flag("serious_injury")) and spec.harm is not None:
        return "harm"
    return "no_harm"


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return CompensationConfig


@hookimpl
def kesu_evaluate(
    event: TicketEvent, state: Mapping[str, Any], config: CompensationConfig, facts: Facts,
    record: Mapping[str, Any],
) -> Iterable[Effect] | None:
    if not config.enabled or event.kind is EventKind.timer_fired:
        return None
    tier = record.get("tier")
    if tier not in config.tiers or tier not in RULES or record.get("valid") == 0:
        return None
    rule = RULES[tier]
    spec = config.tiers[tier]  # type: ignore[index]
    harm = harm_level(facts, spec)
    # Harm seen once stays (a later article without the word does not make it smaller).
    before = state.get("harm")
    if before in HARM_ORDER and HARM_ORDER.index(before) > HARM_ORDER.index(harm) and getattr(spec, before):
        harm = before
    effects: list[Effect] = []
    given = f"{tier}:{harm}"
    if state.get("given") != given:
        g: Guidance = getattr(spec, harm)
        mark = config.approval_mark if g.approval else ""
        effects += [
            InternalNote(rule_id=rule, text=f"赔付参考（内部，勿向客户承诺）：{mark}{g.text}",
                         text_en=f"Compensation guidance (internal, promise nothing): {mark}{g.text_en}",
                         source=SOURCE),
            SetState(rule_id=rule, values={"given": given, "harm": harm}, source=SOURCE),
        ]
    if config.ask_batch and facts.batch is None and not record.get("batch") and not state.get("asked_batch"):
        effects += [
            InternalNote(rule_id=rule, text="请客户提供产品批号，以便内部责任落实（篇1 §8.6 f）",
                         text_en="Ask the customer for the batch number (批号) to attribute responsibility",
                         source=SOURCE),
            SetState(rule_id=rule, values={"asked_batch": True}, source=SOURCE),
        ]
    return effects
