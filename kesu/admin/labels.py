"""What people read for stored values in the complaints view: labels, never internal keys.

One place answers "how is this value shown" for the complaints list, the ticket page, their JSON
and ``kesu complaints``. Chinese labels come from the catalogue the project already has: tier,
channel, deadline and ledger names from :mod:`kesu.report.labels`; causes, categories and flags
from the facts plugin's configuration (``[policies.facts.causes.<key>] label``), and from the
built-in profiles for keys the running configuration no longer has. English labels cover the
fixed vocabularies; a cause or category keeps its configured (Chinese) label in English, since the
profiles define no other.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from kesu.report import labels as zh_labels

TIERS_EN = {"A": "Tier A (major)", "B": "Tier B", "C": "Tier C", "major": "Major complaint",
            "difficult": "Difficult complaint", "general": "General complaint"}
TIER_RANK = {"A": 0, "major": 0, "difficult": 1, "B": 1, "general": 2, "C": 2}

CHANNELS_EN = {"consumer": "Consumer complaint", "channel": "Distribution complaint", "phone": "Phone",
               "web": "Web", "email": "Email", "hotline": "Hotline", "visit": "Visit",
               "regulator": "Forwarded by a regulator"}

#: The complaint's state in the view (derived from the record).
STATES = {"open": ("处理中", "Open"), "resolved": ("已办结", "Resolved"), "invalid": ("无效投诉", "Invalid")}

FOLLOWUPS = {"due": ("待回访", "Follow-up due"), "overdue": ("回访超期", "Follow-up overdue"),
             "satisfied": ("已回访：满意", "Called: Satisfied"),
             "dissatisfied": ("已回访：不满意", "Called: Dissatisfied"),
             "unreachable": ("未接通", "Not Reached"), "none": ("无需回访", "None")}

OUTCOMES = {"satisfied": ("满意", "Satisfied"), "dissatisfied": ("不满意", "Dissatisfied"),
            "unreachable": ("未接通", "Not Reached")}

KINDS = {"penalty": ("罚款", "Penalty"), "reward": ("奖励", "Reward"), "admonition": ("诫勉", "Admonition"),
         "score": ("扣分", "Score Deduction")}

STATUSES = {"proposed": ("待确认", "Proposed"), "confirmed": ("已确认", "Confirmed"),
            "rejected": ("已驳回", "Rejected"), "reversal": ("冲正", "Reversal")}

VALIDITY = {1: ("有效", "Valid"), 0: ("无效", "Invalid")}

#: What an effect in the decision trail did.
EFFECTS = {
    "set_priority": ("优先级", "Priority"), "assign_group": ("分派", "Assigned Group"),
    "assign_owner": ("处理人", "Owner"), "add_tags": ("加标签", "Tags Added"),
    "remove_tags": ("去标签", "Tags Removed"), "internal_note": ("内部备注", "Internal Note"),
    "set_field": ("写字段", "Field"), "schedule_timer": ("时限", "Deadline"),
    "cancel_timer": ("取消时限", "Deadline Cancelled"), "followup_todo": ("回访待办", "Follow-up To-do"),
    "notify": ("通知", "Notification"), "ledger_entry": ("奖惩", "Ledger Entry"),
    "record_complaint": ("记录", "Recorded"), "set_state": ("内部状态", "Internal State"),
}

#: Trail entries that are not a plugin's effect.
TRAIL_KINDS = {"write": ("写入工单", "Written to the Ticket"), "conflict": ("决定冲突", "Conflict"),
               "plugin_error": ("插件出错", "Plugin Error"), "admin": ("管理操作", "Admin Action"),
               "recovered": ("补写", "Write Finished"), "skip": ("跳过", "Skipped")}

#: Markers a complaint record carries, shown as flags.
MARKERS = {"special": ("特殊客诉", "Special Complaint"), "invalid_proposed": ("建议认定无效", "Proposed Invalid"),
           "escalated": ("已升级", "Escalated"), "followup_failed": ("回访失败", "Follow-up Failed"),
           "isolated": ("单独处理", "Handled Apart")}

FLAGS_EN = {
    "media": "Media Exposure", "lawsuit": "Lawsuit Threatened", "regulator": "Regulator Complaint",
    "government": "Government Feedback", "injury": "Personal Injury", "serious_injury": "Serious Injury",
    "extortion": "Suspected Extortion", "attitude": "Staff Attitude", "timeliness": "Slow Handling",
    "praise": "Praise", "leader": "About Company Leaders", "time_critical": "Time-Critical",
    "ongoing_loss": "Ongoing Loss", "large_scale": "Large-Scale Dispute", "discipline": "Discipline Matter",
    "beyond_commitment": "Beyond the Service Commitment", "unverifiable": "Cannot Be Verified",
    "contradicts_facts": "Contradicts the Facts", "unlawful_demand": "Unlawful Demand",
    "concealed": "Concealed or Misreported", "threatened_customer": "Customer Threatened",
    "saved_loss": "Loss Averted", "repeat": "Repeat Complaint", "many_people": "Several People",
}

#: Record fields shown in the facts panel, in this order.
FACT_FIELDS = {"tier": ("等级", "Tier"), "cause": ("原因", "Cause"), "category": ("类别", "Category"),
               "channel": ("渠道", "Channel"), "units": ("责任部门", "Responsible Units"),
               "valid": ("有效性", "Validity"), "batch": ("批号", "Batch"),
               "loss_amount": ("损失金额（元）", "Loss (Yuan)"), "people": ("人数", "People"),
               "followup_outcome": ("回访结果", "Follow-up Outcome")}


@lru_cache(maxsize=1)
def profile_labels() -> dict[str, dict[str, str]]:
    """``{"causes": {key: label}, "categories": ..., "flags": ...}`` over every built-in profile."""
    from policies import profiles

    out: dict[str, dict[str, str]] = {"causes": {}, "categories": {}, "flags": {}}
    for name in profiles.PROFILES:
        facts = profiles.load(name).get("facts", {})
        for table in out:
            for key, rule in (facts.get(table) or {}).items():
                if isinstance(rule, Mapping) and rule.get("label"):
                    out[table].setdefault(key, str(rule["label"]))
    return out


def profile_keys() -> dict[str, set[str]]:
    """Internal keys that must never be shown as such (the raw-key check of the tests)."""
    from kesu.facts import FLAG_NAMES

    known = profile_labels()
    return {"causes": set(known["causes"]), "categories": set(known["categories"]),
            "flags": set(known["flags"]) | set(FLAG_NAMES), "outcomes": set(OUTCOMES),
            "channels": {"consumer", "channel"}, "kinds": set(KINDS), "statuses": set(STATUSES)}


class Labels:
    """Labels in one language (``zh`` or ``en``), from the running facts configuration first."""

    def __init__(self, facts_config: Any | None, lang: str) -> None:
        self.lang = "en" if lang == "en" else "zh"
        self._own: dict[str, dict[str, str]] = {"causes": {}, "categories": {}, "flags": {}}
        for table in self._own:
            for key, rule in (getattr(facts_config, table, None) or {}).items():
                label = getattr(rule, "label", "")
                if label:
                    self._own[table][key] = label

    def _pick(self, pair: tuple[str, str]) -> str:
        return pair[1] if self.lang == "en" else pair[0]

    def _configured(self, table: str, key: str | None) -> str:
        if not key:
            return self.unset()
        return self._own[table].get(key) or profile_labels()[table].get(key) or key

    def unset(self) -> str:
        return "Not Set" if self.lang == "en" else zh_labels.UNSET

    def tier(self, key: str | None) -> str:
        if not key:
            return self.unset()
        return TIERS_EN.get(key, key) if self.lang == "en" else zh_labels.tier(key)

    def cause(self, key: str | None) -> str:
        return self._configured("causes", key)

    def category(self, key: str | None) -> str:
        return self._configured("categories", key)

    def flag(self, name: str) -> str:
        if self.lang == "en" and name in FLAGS_EN:
            return FLAGS_EN[name]
        return self._own["flags"].get(name) or profile_labels()["flags"].get(name) or FLAGS_EN.get(name, name)

    def channel(self, key: str | None) -> str:
        if not key:
            return self.unset()
        return CHANNELS_EN.get(key, key) if self.lang == "en" else zh_labels.channel(key)

    def unit(self, name: str) -> str:
        return name  # units are named in the routing table as people call them (生产班组)

    def units(self, names: Any) -> str:
        return "、".join(self.unit(str(n)) for n in names or []) or self.unset()

    def state(self, key: str) -> str:
        return self._pick(STATES[key])

    def followup(self, key: str) -> str:
        return self._pick(FOLLOWUPS[key])

    def outcome(self, key: str | None) -> str:
        return self._pick(OUTCOMES[key]) if key in OUTCOMES else self.unset() if not key else str(key)

    def validity(self, value: Any) -> str:
        return self._pick(VALIDITY[int(value)]) if value in (0, 1) else self.unset()

    def kind(self, key: str) -> str:
        return self._pick(KINDS[key]) if key in KINDS else key

    def status(self, key: str) -> str:
        return self._pick(STATUSES[key]) if key in STATUSES else key

    def effect(self, kind: str, effect_type: str | None) -> str:
        if kind == "decision" and effect_type in EFFECTS:
            return self._pick(EFFECTS[effect_type])
        return self._pick(TRAIL_KINDS[kind]) if kind in TRAIL_KINDS else kind

    def marker(self, key: str) -> str:
        return self._pick(MARKERS[key])

    def deadline(self, rule_id: str) -> str:
        name = zh_labels.DEADLINES.get(rule_id.split(":")[0])
        return f"{name}（{rule_id}）" if name and self.lang == "zh" else rule_id

    def fact_name(self, field: str) -> str:
        return self._pick(FACT_FIELDS[field])

    def fact_value(self, field: str, value: Any) -> str:
        """A record value as people read it."""
        if field == "tier":
            return self.tier(value)
        if field == "cause":
            return self.cause(value)
        if field == "category":
            return self.category(value)
        if field == "channel":
            return self.channel(value)
        if field == "units":
            return self.units(value)
        if field == "valid":
            return self.validity(value)
        if field == "followup_outcome":
            return self.outcome(value)
        if field == "loss_amount" and isinstance(value, (int, float)):
            return f"{value:g}"
        return self.unset() if value in (None, "") else str(value)
