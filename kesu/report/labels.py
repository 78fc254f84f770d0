"""Chinese labels for stored values (tier codes, channels, rule IDs) shown in reports."""

from __future__ import annotations

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
