"""A report of the month still running (issue 10, item 4): a deadline is late only once it has
passed; one not yet due is "due later" (the ``open`` column, 未到期), whatever the month's end.

The clock is frozen at chosen instants around the end of March 2026 (Asia/Shanghai: the month ends
at 2026-03-31 16:00 UTC), both through ``as_of`` and through the module's own clock.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert

import kesu.report.compute as compute_module
from kesu.report import Period, build_report
from kesu.store.tables import complaints
from tests.test_report_fixture import _complaint, deadline, t

MARCH = Period.parse("monthly", "2026-03")


@pytest.fixture
def running_march(engine):
    with engine.begin() as conn:
        conn.execute(insert(complaints), [
            # opened on the last morning; due that evening (before the month ends), not met
            _complaint("zammad:201", "2026-03-31 02:00",
                       deadlines={"R-SLA-6.18-resp": deadline("2026-03-31 10:00")}),
            # due after the month's end, not met
            _complaint("zammad:202", "2026-03-31 03:00",
                       deadlines={"R-SLA-6.18-general": deadline("2026-04-02 03:00")}),
            # met in time
            _complaint("zammad:203", "2026-03-30 03:00",
                       deadlines={"R-SLA-6.18-resp": deadline("2026-03-30 09:00", "2026-03-30 05:00")}),
        ])
    return engine


def figures(report):
    return {d.rule_id: (d.on_time, d.late, d.open) for d in report.deadlines}, report.summary.overdue_rate


@pytest.mark.parametrize("now, resp, general, rate", [
    # an hour after the complaints came in: nothing has passed yet
    ("2026-03-31 04:00", (1, 0, 1), (0, 0, 1), 0.0),
    # the evening deadline passed unmet: late; the April one is still due later
    ("2026-03-31 11:00", (1, 1, 0), (0, 0, 1), 0.5),
    # after the month's end (the report written on 1 April) and long after
    ("2026-03-31 16:30", (1, 1, 0), (0, 0, 1), 0.5),
    ("2026-05-01 00:00", (1, 1, 0), (0, 0, 1), 0.5),
])
def test_only_passed_deadlines_are_late(running_march, monkeypatch, now, resp, general, rate):
    expected = ({"R-SLA-6.18-resp": resp, "R-SLA-6.18-general": general}, rate)
    assert figures(build_report(running_march, MARCH, as_of=t(now))) == expected
    monkeypatch.setattr(compute_module, "utcnow", lambda: t(now))  # the default clock
    assert figures(build_report(running_march, MARCH)) == expected
    # a report stamped with its generation time is computed as of that time
    assert figures(build_report(running_march, MARCH, generated_at=t(now))) == expected


def test_the_running_month_shows_no_overdue_rate_from_unripe_deadlines(running_march):
    report = build_report(running_march, MARCH, as_of=t("2026-03-31 02:30"))
    assert report.summary.overdue_rate == 0.0
    assert sum(d.late for d in report.deadlines) == 0
    assert sum(d.open for d in report.deadlines) == 2


def test_as_of_must_carry_a_time_zone(running_march):
    with pytest.raises(ValueError):
        build_report(running_march, MARCH, as_of=datetime(2026, 3, 31, 4))
