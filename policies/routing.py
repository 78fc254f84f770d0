"""Responsibility routing (责任归属, 分派): cause -> responsible units -> helpdesk group, and who is told.

* R-ROUTE-1.10 -- the cause (a key of the configured table, 篇1 §10) names the responsible units;
  a channel cause wins over the product symptom (the facts plugin tries channel causes first).
* R-ROUTE-5.4 -- by category when there is no cause (insurer: business -> customer service,
  discipline / letters -> admin & HR), else the profile's default units.
* Each unit maps to a helpdesk group (and optionally an owner). The first mapped unit's group gets
  the ticket; the other units are copied. An unmapped unit leaves the ticket where it is and the
  note says so -- kesu never guesses a group.
* R-ROUTE-6.21 -- the handler is told at dispatch (Notify: the owner, else the group).
* R-ROUTE-6.19 -- a major complaint is copied to each responsible unit's leader.
* R-ROUTE-5.5.1 -- time-critical: also the leader in charge; major: also the branch head; media or
  regulator: also the general manager's office and legal.

Once dispatched, a ticket is not moved again because later customer text matched another keyword;
only a cause or category an agent sets (field or tag) re-routes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kesu.effects import AssignGroup, AssignOwner, Effect, InternalNote, Notify, RecordComplaint, SetState
from kesu.facts import Facts
from kesu.models import EventKind, Ticket, TicketEvent
from kesu.ticket_fields import TicketField, named, select
from plugins import hookimpl

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "routing"

CAUSE_RULE = "R-ROUTE-1.10"
CATEGORY_RULE = "R-ROUTE-5.4"
HANDLER_RULE = "R-ROUTE-6.21"
LEADER_RULE = "R-ROUTE-6.19"
ESCALATE_RULE = "R-ROUTE-5.5.1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitSpec(_Strict):
    """``[policies.routing.units."<unit>"]``."""

    group: str = Field(description='helpdesk group; "" = unmapped (the ticket stays where it is)')
    label: str = Field(default="", description="how people call the unit, if not by its key")
    label_en: str = Field(default="", description="the same in English")
    owner: str = Field(default="", description="optional agent login")
    leader: str = Field(default="", description="copied on major complaints (R-ROUTE-6.19)")


class LeaderNotify(_Strict):
    """``[policies.routing.notify]`` (R-ROUTE-5.5.1); empty lists turn a case off."""

    time_critical: list[str]  # leader in charge (分管领导)
    major: list[str]  # branch head (分公司负责人)
    media_regulator: list[str]  # general manager's office and legal (总经理室, 法务室)


class RoutingConfig(_Strict):
    """``[policies.routing]``; every value comes from the profile (policies/profiles/*/30-routing.toml)."""

    cause_field: str = Field(description="the facts cause field, named in the note when the cause is missing")
    major_tiers: list[str] = Field(description="tiers that count as major for R-ROUTE-6.19 / 5.5.1")
    causes: dict[str, list[str]]  # R-ROUTE-1.10
    categories: dict[str, list[str]]  # R-ROUTE-5.4
    default_units: list[str]  # R-ROUTE-5.4 when neither cause nor category decides ([] = ask)
    units: dict[str, UnitSpec]
    notify_handler: bool  # R-ROUTE-6.21
    notify: LeaderNotify


def responsible_units(facts: Facts, config: RoutingConfig, lang: str = "zh") -> tuple[list[str] | None, str, str]:
    """(units, rule, basis); units ``None`` when nothing decides; ``basis`` in ``lang``."""
    en = lang == "en"
    if facts.cause is not None and facts.cause in config.causes:
        basis = f"{'cause' if en else '原因'} {facts.label('cause', lang)}{facts.source('cause', lang)}"
        return list(config.causes[facts.cause]), CAUSE_RULE, basis
    category = facts.category
    if category is None and facts.flag("discipline"):
        category = "discipline"
    if category is not None and category in config.categories:
        # a category the facts name by their label; else the flag that made it one (纪检信访)
        shown = facts.label("category", lang) if category == facts.category else facts.label(f"flag:{category}", lang)
        return list(config.categories[category]), CATEGORY_RULE, f"{'category' if en else '类别'} {shown}"
    if config.default_units and facts.cause is None:
        return list(config.default_units), CATEGORY_RULE, "default units" if en else "默认责任部门"
    return None, CAUSE_RULE, ""


def _decided_by_person(facts: Facts) -> bool:
    origin = facts.origin.get("cause") or facts.origin.get("category") or ""
    return origin in ("field", "tag")


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return RoutingConfig


@hookimpl
def kesu_ticket_fields(config: RoutingConfig) -> list[TicketField]:
    """The field the note asks for when nothing decides the units: the routing table's causes (or,
    for a profile that routes by category, its categories) are its choices."""
    if not config.cause_field:
        return []
    keys = list(config.causes) or list(config.categories)
    return [select(config.cause_field, "客诉原因" if config.causes else "客诉类别",
                   "Complaint cause" if config.causes else "Complaint category",
                   [(k, k, k) for k in keys], named("routing", "cause_field"))]


@hookimpl
def kesu_evaluate(
    event: TicketEvent, ticket: Ticket, state: Mapping[str, Any], config: RoutingConfig, facts: Facts,
    record: Mapping[str, Any], now: datetime,
) -> Iterable[Effect] | None:
    if event.kind is EventKind.timer_fired:
        return None
    effects: list[Effect] = []
    notified = set(state.get("notified") or [])
    leaders = list(record.get("leaders") or [])

    def tell(rule: str, recipients: Iterable[str], message: str, reason: str = "", reason_en: str = "") -> None:
        new = [r for r in dict.fromkeys(recipients) if r and f"{rule}:{r}" not in notified]
        if new:
            effects.append(Notify(rule_id=rule, recipients=tuple(new), message=message, reason=reason,
                                  reason_en=reason_en, source=SOURCE))
            notified.update(f"{rule}:{r}" for r in new)

    units, rule, basis = responsible_units(facts, config)
    basis_en = responsible_units(facts, config, "en")[2]
    dispatched = state.get("units")
    if dispatched and units != dispatched and not _decided_by_person(facts):
        units, rule, basis = list(dispatched), state.get("rule", rule), state.get("basis", basis)
        basis_en = state.get("basis_en", basis)
    values: dict[str, Any] = {}
    if facts.channel is not None:
        values["channel"] = facts.channel
    new_state: dict[str, Any] = {}

    if units is None:
        if facts.cause is not None:
            key = f"unknown:{facts.cause}"
            cause, cause_en = facts.label("cause"), facts.label("cause", "en")
            text = (f"原因 {cause} 不在责任归属表中，工单保持原组：请核对字段 {config.cause_field}"
                    if config.causes else f"原因 {cause} 无对应责任部门，工单保持原组：请手工分派")
            text_en = f"Cause {cause_en} is not in the routing table; ticket left where it is"
        else:
            key = "missing"
            text = f"未能确定客诉原因，无法确定责任部门：请在字段 {config.cause_field} 填写原因（见责任归属表）"
            text_en = f"Cause unknown, no responsible unit: fill in field {config.cause_field}"
        if state.get("asked") != key:
            effects += [InternalNote(rule_id=CAUSE_RULE, text=text, text_en=text_en, source=SOURCE)]
            new_state["asked"] = key
    else:
        if facts.cause in config.causes:
            values["cause"] = facts.cause
        values["units"] = units
        new_state.update(units=units, rule=rule, basis=basis, basis_en=basis_en)
        mapped = [(u, config.units[u]) for u in units if u in config.units and config.units[u].group]
        unmapped = [u for u in units if u not in dict(mapped)]
        isolated = bool(record.get("isolated"))
        if mapped and not isolated:
            unit, spec = mapped[0]
            all_units = "、".join(units)
            effects.append(AssignGroup(rule_id=rule, group=spec.group, reason=f"责任部门 {all_units}（{basis}）",
                                       reason_en=f"responsible unit(s) {', '.join(units)} ({basis_en})", source=SOURCE))
            if not record.get("dispatched_at"):
                # Dispatched now, by this write: the dispatch deadline (R-SLA-1.4.4, R-SLA-5.5.1) is met.
                values["dispatched_at"] = now.isoformat()
            if spec.owner:
                effects.append(AssignOwner(rule_id=rule, owner=spec.owner, reason=f"责任部门 {unit} 的处理人",
                                           reason_en=f"handler of {unit}", source=SOURCE))
            handler = spec.owner or spec.group
            for other, ospec in mapped[1:]:
                # Units sharing the assignee's group (煮浆人员 inside 生产班组) already have it.
                if (ospec.owner or ospec.group) != handler and ospec.group != spec.group:
                    tell(rule, [ospec.owner or ospec.group], f"抄送：{other} 同为本客诉的责任部门",
                         reason_en=f"co-responsible unit {other}")
            if config.notify_handler:
                # R-ROUTE-6.21: the handler is told at dispatch.
                tell(HANDLER_RULE, [handler], f"新客诉已分派（责任部门 {all_units}），请及时处理",
                     reason_en="handler told at dispatch")
        if unmapped and state.get("unmapped") != unmapped:
            names = "、".join(unmapped)
            if mapped:
                text = f"责任部门 {names} 未配置服务组：请手工通知"
            else:
                text = f"责任部门 {names} 未配置服务组，工单保持原组：请手工分派"
            effects.append(InternalNote(rule_id=rule, text=text,
                                        text_en=f"Unit(s) {', '.join(unmapped)} have no helpdesk group; not moved",
                                        source=SOURCE))
            new_state["unmapped"] = unmapped
        if isolated and not state.get("isolated_noted"):
            effects.append(InternalNote(rule_id=rule, text=f"已隔离处理，未分派至责任部门 {'、'.join(units)}",
                                        text_en="isolated: not dispatched to the responsible units", source=SOURCE))
            new_state["isolated_noted"] = True
        major = record.get("tier") in config.major_tiers
        if major:
            # R-ROUTE-6.19: copy each responsible unit's leader.
            unit_leaders = [config.units[u].leader for u in units if u in config.units and config.units[u].leader]
            tell(LEADER_RULE, unit_leaders, "重大客诉，抄送责任部门负责人",
                 reason_en="major complaint copied to the unit's leader")
            leaders = list(dict.fromkeys([*leaders, *unit_leaders]))

    # R-ROUTE-5.5.1: who else is told, whatever the units.
    extra: list[tuple[list[str], str, str]] = []
    if facts.flag("time_critical"):
        extra.append((config.notify.time_critical, "时效要求高，同时发送分管领导", "time-critical: leader in charge"))
    if record.get("tier") in config.major_tiers:
        extra.append((config.notify.major, "重大客诉，同时报送分管负责人", "major: branch head"))
    if facts.flag("media") or facts.flag("regulator"):
        extra.append((config.notify.media_regulator, "媒体或监管部门投诉，同时发送总经理室和法务",
                      "media or regulator: general manager's office and legal"))
    for recipients, why, why_en in extra:
        tell(ESCALATE_RULE, recipients, why, reason_en=why_en)
        leaders = list(dict.fromkeys([*leaders, *recipients]))

    if leaders != list(record.get("leaders") or []):
        values["leaders"] = leaders
    if values and any(record.get(k) != v for k, v in values.items()):
        effects.append(RecordComplaint(rule_id=rule, values=values, source=SOURCE))
    if notified != set(state.get("notified") or []):
        new_state["notified"] = sorted(notified)
    new_state = {k: v for k, v in new_state.items() if state.get(k) != v}
    if new_state:
        effects.append(SetState(rule_id=rule, values=new_state, source=SOURCE))
    return effects
