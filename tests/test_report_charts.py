"""Charts people look at (issue 11, item 6): native XLSX charts read back with openpyxl, the same
charts as SVG in the HTML, the month-by-month figures behind them, and labels instead of keys.

The figures are those of the hand-computed fixture (tests/test_report_fixture.py): February 2026
has 3 complaints (A, B, C; one resolved valid complaint followed up), March 7 (tiers 2/2/2/unset;
overdue rate 1/3, follow-up rate 2/3); the months before are empty.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import openpyxl
import pytest
from openpyxl.chart import BarChart, LineChart, PieChart
from sqlalchemy import insert

from kesu.report import Period, build_major, build_report, render
from kesu.report.labels import Catalogue
from kesu.store.tables import audit_log, complaints
from tests.test_report_fixture import _complaint, deadline, insert_fixture, t

MARCH = Period.parse("monthly", "2026-03")
MONTHS_ZH = ["2025年10月", "2025年11月", "2025年12月", "2026年1月", "2026年2月", "2026年3月"]


@pytest.fixture
def march(engine):
    insert_fixture(engine)
    return build_report(engine, MARCH)


def workbook(report) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))


def title_of(chart) -> str:
    return "".join(run.t for p in chart.title.tx.rich.p for run in (p.r or []))


def axis_title(axis) -> str:
    return "".join(run.t for p in axis.title.tx.rich.p for run in (p.r or []))


def refs(chart) -> list[str]:
    return [s.val.numRef.f for s in chart.series]


def test_trend_figures_month_by_month(march, engine):
    tr = march.trend
    assert tr.months == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert tr.months_zh == MONTHS_ZH and tr.total == [0, 0, 0, 0, 3, 7]
    assert [(s.label, s.values) for s in tr.tiers] == [
        ("A类（重大）", [0, 0, 0, 0, 1, 2]), ("B类（一般）", [0, 0, 0, 0, 1, 2]),
        ("C类（一般）", [0, 0, 0, 0, 1, 2]), ("未填写", [0, 0, 0, 0, 0, 1])]
    assert [(s.key, s.values[-2:]) for s in tr.causes] == [
        ("漏包", [1, 2]), ("发霉", [1, 1]), ("色差", [1, 1]), ("包装破损", [0, 1]), ("异物", [0, 1]), ("", [0, 1])]
    assert tr.overdue_rate == [None, None, None, None, None, pytest.approx(1 / 3)]
    assert tr.followup_rate == [None, None, None, None, 1.0, pytest.approx(2 / 3)]
    # Each month is counted as its own report counts it.
    assert tr.overdue_rate[-1] == march.summary.overdue_rate and tr.followup_rate[-1] == march.summary.followup_rate
    assert tr.followup_rate[-2] == next(c.previous for c in march.changes if c.key == "followup_rate")
    q1 = build_report(engine, Period.parse("quarterly", "2026-Q1")).trend
    assert q1.months == ["2026-01", "2026-02", "2026-03"] and q1.total == [0, 3, 7]
    assert len(build_report(engine, Period.parse("yearly", "2026")).trend.months) == 12


def test_native_xlsx_charts_reference_the_sheets_own_cells(march):
    wb = workbook(march)
    ws = wb["按月趋势"]
    assert [c.value for c in ws[1]] == ["月份", "投诉总量", "A类（重大）", "B类（一般）", "C类（一般）", "未填写",
                                       "超时率", "回访率"]
    assert [c.value for c in ws["A"][1:7]] == MONTHS_ZH
    # A month without a figure is an empty cell (a line gap), not "—" that Excel would draw as 0.
    assert [c.value for c in ws["G"][1:7]] == [None] * 5 + [pytest.approx(1 / 3)]
    tiers, overdue, follow = ws._charts
    assert isinstance(tiers, BarChart) and tiers.type == "col" and tiers.grouping == "stacked"
    assert refs(tiers) == [f"'按月趋势'!${col}$2:${col}$7" for col in "CDEF"]
    assert [s.tx.strRef.f for s in tiers.series] == [f"'按月趋势'!{col}1" for col in "CDEF"]  # named by the header
    assert tiers.series[0].cat.strRef.f == "'按月趋势'!$A$2:$A$7"
    assert title_of(tiers) == "各等级投诉按月"
    assert (axis_title(tiers.x_axis), axis_title(tiers.y_axis)) == ("月份", "投诉数（件）")
    assert tiers.x_axis.delete is False and tiers.y_axis.delete is False  # axes are shown
    assert isinstance(overdue, LineChart) and refs(overdue) == ["'按月趋势'!$G$2:$G$7"]
    assert title_of(overdue) == "超时率按月" and overdue.y_axis.number_format.formatCode == "0%"
    assert overdue.display_blanks == "gap"
    assert isinstance(follow, LineChart) and refs(follow) == ["'按月趋势'!$H$2:$H$7"] and title_of(follow) == "回访率按月"

    causes = wb["原因按月"]._charts
    assert len(causes) == 1 and causes[0].grouping == "stacked" and len(causes[0].series) == 6
    assert title_of(causes[0]) == "各原因投诉按月" and refs(causes[0])[0] == "'原因按月'!$B$2:$B$7"
    assert [c.value for c in wb["原因按月"][1]] == ["月份", "漏包", "发霉", "色差", "包装破损", "异物", "未填写"]

    units = wb["按责任部门"]._charts
    assert len(units) == 1 and isinstance(units[0], BarChart) and units[0].type == "bar"
    assert refs(units[0]) == ["'按责任部门'!$B$2:$B$6"] and units[0].series[0].cat.strRef.f == "'按责任部门'!$A$2:$A$6"
    assert title_of(units[0]) == "各责任部门投诉数量" and axis_title(units[0].x_axis) == "责任部门"
    assert [c.value for c in wb["按责任部门"]["B"][1:6]] == [5, 1, 1, 1, 1]

    pie = wb["主要原因分析"]._charts
    assert len(pie) == 1 and isinstance(pie[0], PieChart) and refs(pie[0]) == ["'主要原因分析'!$C$2:$C$5"]
    assert title_of(wb["按等级"]._charts[0]) == "各等级投诉数量"
    assert refs(wb["时限达成"]._charts[0]) == ["'时限达成'!$G$2:$G$5"]
    assert wb["概况"]._charts == [] and wb["机构考核投诉比"]._charts == []


def test_chart_titles_in_english_by_the_report_language(engine):
    insert_fixture(engine)
    report = build_report(engine, MARCH, language="en")
    wb = workbook(report)
    tiers, overdue, _ = wb["按月趋势"]._charts
    assert title_of(tiers) == "Complaints by tier and month"
    assert (axis_title(tiers.x_axis), axis_title(tiers.y_axis)) == ("Month", "Complaints")
    assert title_of(overdue) == "Overdue rate by month"
    assert title_of(wb["按责任部门"]._charts[0]) == "Complaints per responsible unit"
    html = render(report, "html").decode()
    assert "<title>Complaints by tier and month</title>" in html and "<figcaption>Overdue rate by month</figcaption>" in html
    assert "各等级投诉按月" not in html
    # The same report data in Chinese differs only in words: the charts' and the values' labels.
    zh = build_report(engine, MARCH)
    for table in ("by_tier", "by_cause", "by_unit", "by_channel", "main_causes"):
        assert [(c.key, c.count) for c in getattr(zh, table)] == [(c.key, c.count) for c in getattr(report, table)]
    assert zh.summary == report.summary and zh.deadlines != [] and [d.on_time for d in zh.deadlines] == [
        d.on_time for d in report.deadlines]
    md_zh, md_en = render(zh, "md").decode(), render(report, "md").decode()
    assert "A类（重大）" in md_zh and "A类（重大）" not in md_en and "Class A (major)" in md_en


def test_charts_keep_the_files_byte_identical(engine):
    insert_fixture(engine)
    stamp = datetime(2026, 4, 1, tzinfo=timezone.utc)
    first = build_report(engine, MARCH, generated_at=stamp)
    again = build_report(engine, MARCH, generated_at=stamp)
    assert render(first, "xlsx") == render(again, "xlsx") and render(first, "html") == render(again, "html")


def section(html: str, key: str) -> str:
    return html.split(f'data-key="{key}"')[1].split("</section>")[0]


def test_html_draws_the_same_charts_accessibly(march):
    html = render(march, "html").decode()
    trend = section(html, "trend")
    assert trend.count("<svg") == 3 and trend.count('role="img"') == 3
    titles = re.findall(r"<svg[^>]*><title>([^<]*)</title><desc>([^<]*)</desc>", trend)
    assert [t for t, _ in titles] == ["各等级投诉按月", "超时率按月", "回访率按月"]
    # Text values: the description names every figure; bars and points carry theirs.
    assert "2026年3月：A类（重大） 2，B类（一般） 2，C类（一般） 2，未填写 1" in titles[0][1]
    assert "2025年10月：无数据" in titles[1][1] and "2026年3月：超时率 33.3%" in titles[1][1]
    assert "<title>2026年2月 A类（重大）：1</title>" in trend
    overdue_svg = trend.split("<svg")[2]
    assert overdue_svg.count("<circle") == 1 and ">33.3%</text>" in overdue_svg  # one month with a figure
    follow_svg = trend.split("<svg")[3]
    assert follow_svg.count("<circle") == 2 and "<polyline" in follow_svg
    assert "<figcaption>各等级投诉按月</figcaption>" in trend
    assert section(html, "cause_trend").count("<svg") == 1
    units = section(html, "by_unit")
    assert "<title>各责任部门投诉数量</title>" in units and "<title>生产班组：5</title>" in units
    assert section(html, "ratios").count("<svg") == 0


def test_labels_never_raw_keys(engine):
    """Stored keys (mould, A, business …) are shown with the enabled policies' labels in every format."""
    with engine.begin() as conn:
        conn.execute(insert(complaints), [
            _complaint("zammad:301", "2026-05-03 02:00", tier="A", cause="mould", channel="consumer",
                       units=["生产班组"], valid=1, followup_outcome="satisfied",
                       resolved_at=t("2026-05-04 02:00"),
                       escalations=[{"rule_id": "R-ESC-6.13", "reason": "逾月未结", "at": "2026-05-05T02:00:00+00:00",
                                     "from": "B", "to": "A"}],
                       deadlines={"R-SLA-6.18-major": deadline("2026-05-06 02:00", "2026-05-04 02:00")}),
            _complaint("zammad:302", "2026-05-04 02:00", tier="B", cause="channel_missing_packs", units=["营销部"]),
        ])
        conn.execute(insert(audit_log), [{
            "at": t("2026-05-03 02:01"), "ticket_key": "zammad:301", "event_id": None, "kind": "decision",
            "plugin": "record", "rule_id": "R-REC-4.15", "detail": {"type": "record_complaint", "values": {
                "cause": "mould", "tier": "A", "followup_outcome": "satisfied", "units": ["生产班组"]}}}])
    food = Catalogue.from_policies("food")
    may = build_report(engine, Period.parse("monthly", "2026-05"), catalogue=food)
    assert [c.label for c in may.by_cause] == [food.causes["channel_missing_packs"], food.causes["mould"]]
    assert food.causes["mould"] == "产品发酸、发霉变质、发红"
    assert [s.label for s in may.trend.causes] == [c.label for c in may.by_cause]
    for fmt in ("md", "html"):
        text = render(may, fmt).decode()
        assert "mould" not in text and "channel_missing_packs" not in text and "产品发酸、发霉变质、发红" in text
    wb = workbook(may)
    values = {str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None}
    assert not {"mould", "channel_missing_packs"} & values and "产品发酸、发霉变质、发红" in values
    major = build_major(engine, "zammad:301", catalogue=food)
    md = render(major, "md").decode()
    assert "| 原因 | 产品发酸、发霉变质、发红 |" in md and "| 回访结果 | 满意 |" in md
    assert "mould" not in md and "satisfied" not in md and "B类（一般）" in md
    assert "记录：原因=产品发酸、发霉变质、发红，回访结果=满意，等级=A类（重大），责任部门=生产班组" in md

    # An insurer's tiers and categories carry its own names.
    with engine.begin() as conn:
        conn.execute(insert(complaints), [
            _complaint("odoo:1", "2026-06-03 02:00", scheme="insurance", tier="major", category="business"),
            _complaint("odoo:2", "2026-06-04 02:00", scheme="insurance", tier="difficult", category="discipline"),
        ])
    june = build_report(engine, Period.parse("monthly", "2026-06"), catalogue=Catalogue.from_policies("insurance"))
    assert [c.label for c in june.by_tier] == ["重大投诉件", "疑难投诉件"]
    assert [c.label for c in june.main_causes] == ["业务类投诉", "纪检监察类信访"]
    md = render(june, "md").decode()
    assert "business" not in md and "discipline" not in md and "| 重大投诉件 | 1 | 50.0% |" in md  # keys stay in the JSON


def test_a_configured_label_wins_over_the_profile():
    cat = Catalogue.from_policies("food", {"facts": {"causes": {"mould": {"label": "霉变"}}},
                                           "routing": {"units": {"生产班组": {"label": "生产一班"}}}})
    assert cat.cause("mould") == "霉变" and cat.unit("生产班组") == "生产一班" and cat.cause("") == "未填写"
    assert cat.cause("手写的原因") == "手写的原因"  # a person's own words stay as they are
