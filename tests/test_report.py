"""Reports (R-RPT-4.27, R-RPT-5.4.5.6, R-RPT-6.38.7): every figure of the fixture month, by hand.

The fixture (tests/test_report_fixture.py) holds 7 complaints received in March 2026 (Shanghai
time: two of them right at the month's edges), 3 in February, one in April, follow-ups and a
ledger with proposals, decisions and a reversal.
"""

from __future__ import annotations

import pytest

from kesu.report import Period, PeriodError, build_report
from tests.test_report_fixture import insert_fixture

MARCH = Period.parse("monthly", "2026-03")


@pytest.fixture
def march(engine):
    insert_fixture(engine)
    return build_report(engine, MARCH)


def counts(items):
    return [(c.key, c.count, c.share) for c in items]


def test_periods_are_local_months_quarters_and_years():
    assert MARCH.start.isoformat() == "2026-03-01T00:00:00+08:00"
    assert MARCH.end_utc.isoformat() == "2026-03-31T16:00:00+00:00"
    assert MARCH.previous().label == "2026-02"
    assert Period.parse("monthly", "2026-01").previous().label == "2025-12"
    q1 = Period.parse("quarterly", "2026-Q1")
    assert (q1.start.month, q1.end.month, q1.previous().label) == (1, 4, "2025-Q4")
    y = Period.parse("yearly", "2026")
    assert (y.end.year, y.previous().label, y.label_zh) == (2027, "2025", "2026年")
    for kind, bad in [("monthly", "2026-3"), ("monthly", "2026-13"), ("quarterly", "2026-Q5"), ("weekly", "1")]:
        with pytest.raises(PeriodError):
            Period.parse(kind, bad)


def test_counts_by_tier_cause_unit_and_channel(march):
    r = march
    assert r.summary.total == 7  # 101-106 and 092 (00:30 on 1 March in Shanghai); not 107 (1 April)
    assert counts(r.by_tier) == [("A", 2, 2 / 7), ("B", 2, 2 / 7), ("C", 2, 2 / 7), ("", 1, 1 / 7)]
    assert [c.label for c in r.by_tier] == ["A类（重大）", "B类（一般）", "C类（一般）", "未填写"]
    assert counts(r.by_cause) == [("漏包", 2, 2 / 7), ("包装破损", 1, 1 / 7), ("发霉", 1, 1 / 7),
                                  ("异物", 1, 1 / 7), ("色差", 1, 1 / 7), ("", 1, 1 / 7)]
    # A complaint with two units counts for each: 101 (生产班组, 煮浆人员), 104 (生产班组, 设施保障部).
    assert counts(r.by_unit) == [("生产班组", 5, 5 / 7), ("煮浆人员", 1, 1 / 7), ("营销部", 1, 1 / 7),
                                 ("设施保障部", 1, 1 / 7), ("", 1, 1 / 7)]
    assert counts(r.by_channel) == [("consumer", 5, 5 / 7), ("channel", 1, 1 / 7), ("", 1, 1 / 7)]
    assert [c.label for c in r.by_channel] == ["消费客诉", "通路客诉", "未填写"]


def test_valid_invalid_major_special_resolved(march):
    v, s = march.validity, march.summary
    assert (v.valid, v.invalid, v.undecided, v.invalid_proposed) == (4, 1, 2, 1)
    assert (s.valid, s.invalid, s.major, s.special, s.resolved) == (4, 1, 2, 1, 4)


def test_on_time_rate_per_deadline_type(march):
    got = [(d.rule_id, d.total, d.on_time, d.late, d.open, d.on_time_rate) for d in march.deadlines]
    assert got == [
        # 102 met late, 103 unmet and past due, 106 met after the due time but before its approved extension
        ("R-SLA-6.18-general", 3, 1, 2, 0, 1 / 3),
        # 101 met in time; 104 is due on 3 April: open at the end of March
        ("R-SLA-6.18-major", 2, 1, 0, 1, 1.0),
        ("R-SLA-6.18-resp", 1, 1, 0, 0, 1.0),
        ("R-SLA-6.36", 1, 1, 0, 0, 1.0),
    ]
    assert march.deadlines[0].label == "一般投诉办结"
    assert march.summary.overdue_rate == 2 / 6


def test_follow_up_rate_and_satisfaction(march):
    f = march.followups
    # valid and resolved: 101 (satisfied, in time), 102 (dissatisfied, late), 106 (unreachable)
    assert (f.resolved_valid, f.followed_up, f.on_time, f.unreachable, f.satisfied, f.dissatisfied) == (3, 2, 1, 1, 1, 1)
    assert (f.rate, f.satisfaction) == (2 / 3, 1 / 2)


def test_escalations_counted_in_the_month_they_happened(march):
    # 090 came in February but escalated on 3 March; 104's escalation on 1 April is April's.
    assert [(e.rule_id, e.count, e.label) for e in march.escalations] == [
        ("R-ESC-6.30", 2, "回访不满意或重复投诉"), ("R-ESC-6.31", 1, "超时未解释或未获谅解")]
    assert march.summary.escalations == 3


def test_penalties_and_rewards_per_subject(march):
    got = [(x.subject, x.kind, x.proposed, x.open, x.confirmed, x.confirmed_amount, x.rejected, x.reversed)
           for x in march.ledger]
    assert got == [
        ("张三", "penalty", 1, 0, 1, 2000.0, 0, 0),  # proposal confirmed at 2000 in March
        ("李四", "reward", 1, 0, 1, 300.0, 1, 0),  # a proposal rejected; a fixed reward confirmed
        ("王五", "penalty", 1, 0, 0, 0.0, 0, 0),  # proposed in March, confirmed in April
        ("生产班组", "penalty", 1, 1, 1, 1000.0, 0, 0),  # fixed 1000 + a proposal still open
        ("营销部", "penalty", 0, 0, 1, 0.0, 0, 1),  # 1000 confirmed, then reversed
    ]
    assert (march.summary.penalties_confirmed, march.summary.rewards_confirmed) == (3000.0, 300.0)


def test_main_causes_shares_by_category(march):
    assert counts(march.main_causes) == [("包装", 3, 3 / 7), ("质量", 2, 2 / 7), ("外观", 1, 1 / 7), ("", 1, 1 / 7)]


def test_month_over_month_change(march):
    got = {c.key: (c.current, c.previous, c.delta, c.delta_pct) for c in march.changes}
    # February: 090, 091, 093 (23:30 on 28 Feb); 2 valid; 1 invalid; 1 A; both follow-ups satisfied;
    # one confirmed 1000 penalty; no deadlines, no escalations in February.
    assert got["total"] == (7, 3, 4, 4 / 3)
    assert got["valid"] == (4, 2, 2, 1.0)
    assert got["invalid"] == (1, 1, 0, 0.0)
    assert got["major"] == (2, 1, 1, 1.0)
    assert got["escalations"] == (3, 0, 3, None)
    assert got["overdue_rate"] == (1 / 3, None, None, None)
    assert got["followup_rate"] == (2 / 3, 1.0, 2 / 3 - 1.0, None)
    assert got["satisfaction"] == (0.5, 1.0, -0.5, None)
    assert got["penalties_confirmed"] == (3000.0, 1000.0, 2000.0, 2.0)
    assert got["rewards_confirmed"] == (300.0, 0.0, 300.0, None)
    assert (march.period, march.previous_period, march.generated_at) == ("2026-03", "2026-02", None)


def test_quarter_and_year_cover_their_months(engine):
    insert_fixture(engine)
    q1 = build_report(engine, Period.parse("quarterly", "2026-Q1"))
    year = build_report(engine, Period.parse("yearly", "2026"))
    assert q1.summary.total == 10 and year.summary.total == 11  # + 107 (April)
    assert q1.summary.escalations == 3 and year.summary.escalations == 4
    assert q1.summary.penalties_confirmed == 4000.0 and year.summary.penalties_confirmed == 4800.0
    assert q1.previous_period == "2025-Q4" and q1.changes[0].previous == 0
