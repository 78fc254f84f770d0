"""The report as data: computed once (``kesu.report.compute``), rendered four ways.

Rates are fractions (0.5 = 50 %) or ``None`` when nothing was counted; amounts are yuan.
"""

from __future__ import annotations

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
