"""The report as data: computed once (``kesu.report.compute``), rendered four ways.

Rates are fractions (0.5 = 50 %) or ``None`` when nothing was counted; amounts are yuan.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Count(_Model):
    key: str  # the stored value ("A", "生产班组", "consumer"); "" when unset
    label: str  # what the report shows (Chinese)
    count: int
    share: float | None  # count / complaints in the period


class Validity(_Model):
    valid: int
    invalid: int
    undecided: int
    invalid_proposed: int  # undecided, proposed invalid by the policy, waiting for the dispatcher


class DeadlineStat(_Model):
    rule_id: str
    label: str
    total: int
    on_time: int
    late: int
    open: int  # "due later": not met and not yet due at the end of the period (or now, while it runs)
    on_time_rate: float | None  # on_time / (on_time + late)


class FollowupStat(_Model):
    resolved_valid: int  # valid complaints of the period that were resolved (R-CB-6.36)
    followed_up: int
    on_time: int  # done no later than its due time
    unreachable: int
    satisfied: int
    dissatisfied: int
    rate: float | None  # followed_up / resolved_valid
    satisfaction: float | None  # satisfied / (satisfied + dissatisfied)


class EscalationStat(_Model):
    rule_id: str
    label: str
    count: int


class LedgerStat(_Model):
    subject: str
    kind: str  # penalty | reward | admonition | score
    proposed: int
    open: int  # proposals of the period nobody has decided yet
    confirmed: int
    confirmed_amount: float  # confirmed in the period, net of reversals in the period
    rejected: int
    reversed: int


class Change(_Model):
    key: str
    label: str
    unit: str  # int | pct | yuan
    current: float | None
    previous: float | None
    delta: float | None  # current - previous (percentage points for rates)
    delta_pct: float | None  # relative change of counts and amounts


class Summary(_Model):
    total: int
    valid: int
    invalid: int
    major: int
    special: int
    resolved: int
    escalations: int
    overdue_rate: float | None  # late / (on_time + late) over every deadline type
    followup_rate: float | None
    satisfaction: float | None
    penalties_confirmed: float
    rewards_confirmed: float


class Series(_Model):
    key: str  # the stored value ("A", "mould"); "" when unset, "*" for the rest (其他)
    label: str
    values: list[int]  # one per month of the trend


class Trend(_Model):
    """Month by month, for the charts: the period's months (a monthly report: the six months
    ending with it). Each month is counted as its own monthly report counts it."""

    months: list[str]  # 2026-03
    months_zh: list[str]  # 2026年3月
    total: list[int]
    tiers: list[Series]
    causes: list[Series]  # the most frequent causes of the window, the rest as 其他
    overdue_rate: list[float | None]
    followup_rate: list[float | None]


class RatioInputs(_Model):
    """The period's premium and policy count (R-PEN-5.6.5): given by a person, never guessed."""

    premium_yuan: float | None = None
    policies: int | None = None


class Ratios(_Model):
    """R-PEN-5.6.5, the institution assessment: complaints per 100 million yuan of premium (亿元保费
    投诉量) and per 100 million policies (亿张保单投诉量), over the complaints received in the period."""

    rule_id: str = "R-PEN-5.6.5"
    complaints: int
    premium_yuan: float | None
    policies: int | None
    per_100m_yuan: float | None  # complaints / (premium_yuan / 1e8); None: no premium given
    per_100m_policies: float | None  # complaints / (policies / 1e8); None: no policy count given
    formula: str


class PeriodReport(_Model):
    kind: str
    period: str
    period_zh: str
    start: str  # local ISO date-time, inclusive
    end: str  # exclusive
    timezone: str
    previous_period: str
    generated_at: str | None  # only when the caller passes one: identical input, identical bytes
    summary: Summary
    by_tier: list[Count]
    by_cause: list[Count]
    by_unit: list[Count]
    by_channel: list[Count]
    validity: Validity
    deadlines: list[DeadlineStat]
    followups: FollowupStat
    escalations: list[EscalationStat]
    ledger: list[LedgerStat]
    main_causes: list[Count]
    changes: list[Change]
    trend: Trend
    ratios: Ratios
    language: Literal["zh", "en"] = "zh"  # of chart titles and axis labels
