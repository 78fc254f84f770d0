"""Chinese labels for stored values (tier codes, channels, rule IDs, causes) shown in reports.

Fixed vocabularies are here; causes, categories, tiers and units come from the enabled policies
(:class:`Catalogue`), so a report never shows a raw key such as ``mould``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNSET = "未填写"

TIER_ORDER = ["A", "B", "C", "major", "difficult", "general"]
TIERS = {"A": "A类（重大）", "B": "B类（一般）", "C": "C类（一般）",
         "major": "重大投诉", "difficult": "疑难投诉", "general": "一般投诉"}

CHANNELS = {"consumer": "消费客诉", "channel": "通路客诉", "phone": "电话", "web": "网页", "email": "邮件",
            "hotline": "热线", "visit": "走访", "regulator": "监管转办"}

KINDS = {"penalty": "罚款", "reward": "奖励", "admonition": "诫勉", "score": "扣分"}

DEADLINES = {
    "R-SLA-6.16": "录入系统",
    "R-SLA-6.18-resp": "首次响应",
    "R-SLA-5.5.1": "派单至责任部门",
    "R-SLA-1.4.4": "派单至责任部门（食品）",
    "R-SLA-5.5.2.3": "责任部门联系客户",
    "R-SLA-6.18-general": "一般投诉办结",
    "R-SLA-6.18-major": "重大投诉办结",
    "R-SLA-5.5.2.4": "一般投诉办结（保险）",
    "R-SLA-5.5.2.5": "重大/疑难投诉办结（保险）",
    "R-SLA-4.26": "结案",
    "R-SLA-5.4.5.4": "重大投诉上报分公司客服中心",
    "R-SLA-5.4.5.5": "处理方案上报总部",
    "R-SLA-6.34": "告知客户处理结果",
    "R-SLA-6.36": "回访",
    "R-SLA-5.5.3": "回访（次日）",
    "R-SLA-6.27": "告知延期",
}

ESCALATIONS = {
    "R-ESC-6.30": "回访不满意或重复投诉",
    "R-ESC-6.31": "超时未解释或未获谅解",
    "R-ESC-6.32": "投诉处理人员态度、言行",
    "R-ESC-6.13": "超时或逾月未结升级为重大",
}

MAJOR_TIERS = frozenset({"A", "major"})


def tier(key: str) -> str:
    return TIERS.get(key, key) if key else UNSET


def channel(key: str) -> str:
    return CHANNELS.get(key, key) if key else UNSET


def plain(key: str) -> str:
    return key or UNSET


OUTCOMES = {"satisfied": "满意", "dissatisfied": "不满意", "unreachable": "无法联系"}


@dataclass(frozen=True)
class Catalogue:
    """What a report shows for a stored key: the Chinese label the enabled policies give it.

    Causes and categories are keys of ``[policies.facts.causes]`` / ``[policies.facts.categories]``
    (``mould`` -> "发霉、长毛"), tiers keys of ``[policies.severity.tiers]`` (the profile's own names,
    "重大投诉件" for an insurer), units keys of ``[policies.routing.units]`` (a ``label`` when one is
    configured). A value no policy names is shown as it was stored (a person typed it: "漏包").
    """

    causes: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)
    tiers: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_policies(cls, profile: str, sections: Mapping[str, Any] | None = None) -> Catalogue:
        """The labels of ``profile`` with a deployment's ``[policies.*]`` sections on top."""
        from policies import profiles

        sections = sections or {}
        try:
            defaults = profiles.load(profile)
        except profiles.UnknownProfile:
            defaults = {}

        def section(name: str) -> Mapping[str, Any]:
            return profiles.merge(defaults.get(name, {}), sections.get(name) or {})

        def names(table: Any) -> dict[str, str]:
            if not isinstance(table, Mapping):
                return {}
            return {str(k): str(v["label"]) for k, v in table.items() if isinstance(v, Mapping) and v.get("label")}

        facts, severity, routing = section("facts"), section("severity"), section("routing")
        return cls(causes=names(facts.get("causes")), categories=names(facts.get("categories")),
                   tiers=names(severity.get("tiers")), units=names(routing.get("units")))

    @classmethod
    def from_settings(cls, settings: Any) -> Catalogue:
        return cls.from_policies(settings.profile, settings.policies)

    def tier(self, key: str) -> str:
        return (self.tiers.get(key) or tier(key)) if key else UNSET

    def cause(self, key: str) -> str:
        return (self.causes.get(key) or self.categories.get(key) or key) if key else UNSET

    def category(self, key: str) -> str:
        """Main causes group by category, else by cause (a key of either table)."""
        return (self.categories.get(key) or self.causes.get(key) or key) if key else UNSET

    def unit(self, key: str) -> str:
        return (self.units.get(key) or key) if key else UNSET

    def tier_order(self) -> list[str]:
        return [*self.tiers, *(k for k in TIER_ORDER if k not in self.tiers)]
