"""The four report formats: computed once, rendered four ways, all agreeing to the cell.

JSON is the data; Markdown, HTML and XLSX lay out the same ``Document`` built from it. The tests
rebuild the tables from the JSON file alone and find every header and every cell, as text, in the
Markdown and the HTML, and as a typed value with its number format in the XLSX.
"""

from __future__ import annotations

import io
import re
import time
from datetime import datetime, timezone
from html.parser import HTMLParser

import openpyxl
import pytest

from kesu.report import MajorReport, NoComplaint, Period, PeriodReport, build_major, build_report, render, to_document
from tests.test_report_fixture import insert_fixture

MARCH = Period.parse("monthly", "2026-03")
SHEETS = ["概况", "按等级", "按原因", "按责任部门", "按渠道", "有效性", "时限达成", "回访", "投诉升级", "奖惩",
          "主要原因分析", "环比", "按月趋势", "原因按月", "机构考核投诉比"]


@pytest.fixture
def march(engine):
    insert_fixture(engine)
    return build_report(engine, MARCH)


def md_tables(text: str) -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].split(" · ")[0]
            tables[current] = []
        elif line.startswith("|") and current is not None:
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if not all(re.fullmatch(r"-+:?", c) for c in cells):
                tables[current].append(cells)
    return tables


class _HTMLTables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.key: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.key = a["data-key"]
            self.tables[self.key] = []
        elif tag == "tr" and self.key:
            self.tables[self.key].append([])
        elif tag in ("td", "th") and self.key:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.key:
            self.tables[self.key][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def html_tables(text: str) -> dict[str, list[list[str]]]:
    parser = _HTMLTables()
    parser.feed(text)
    return parser.tables


def assert_formats_agree(report, model):
    data = {fmt: render(report, fmt) for fmt in ("json", "md", "html", "xlsx")}
    # Everything below is rebuilt from the JSON file alone.
    doc = to_document(model.model_validate_json(data["json"]))
    assert doc == to_document(report)
    md, html = md_tables(data["md"].decode()), html_tables(data["html"].decode())
    wb = openpyxl.load_workbook(io.BytesIO(data["xlsx"]))
    assert wb.sheetnames == [t.title for t in doc.tables]
    for t in doc.tables:
        header = [c.name for c in t.columns]
        texts = [[c.text() for c in row] for row in t.rows]
        if t.rows:
            assert md[t.title] == [header] + texts, t.title
            assert html[t.key] == [header] + texts, t.key
        ws = wb[t.title]
        assert [c.value for c in ws[1]] == header
        for i, row in enumerate(t.rows, start=2):
            assert [c.value for c in ws[i]][:len(row)] == [c.xlsx_value() for c in row], (t.title, i)
            for col, c in enumerate(row, start=1):
                if c.number_format():
                    assert ws.cell(row=i, column=col).number_format == c.number_format()
    return data


def test_four_formats_agree_with_each_other(march):
    assert_formats_agree(march, PeriodReport)


def test_rendered_files_show_the_hand_computed_figures(march):
    md = render(march, "md").decode()
    assert md.startswith("# 客诉统计月报 2026年3月\n")
    for line in ["| 投诉总量 | 7 |", "| A类（重大） | 2 | 28.6% |", "| 生产班组 | 5 | 71.4% |",
                 "| 一般投诉办结 | R-SLA-6.18-general | 3 | 1 | 2 | 0 | 33.3% |", "| 回访率 | 66.7% |",
                 "| 满意率 | 50.0% |", "| 张三 | 罚款 | 1 | 0 | 1 | 2,000.00 | 0 | 0 |", "| 包装 | 3 | 42.9% |",
                 "| 投诉总量 | 7 | 3 | +4 | +133.3% |", "| 回访率 | 66.7% | 100.0% | -33.3 pp | — |",
                 "| 已确认罚款 | 3,000.00 | 1,000.00 | +2,000.00 | +200.0% |", "| 超时率 | 33.3% | — | — | — |"]:
        assert line in md, line
    wb = openpyxl.load_workbook(io.BytesIO(render(march, "xlsx")))
    assert wb.sheetnames == SHEETS
    tiers = wb["按等级"]
    assert [c.value for c in tiers[1]] == ["等级", "数量", "占比"]  # labels only: keys stay in the JSON
    assert [c.value for c in tiers[2]] == ["A类（重大）", 2, pytest.approx(2 / 7)]
    assert tiers["C2"].number_format == "0.0%"
    assert [c.value for c in wb["回访"]["B"][1:9]] == [3, 2, 1, 1, 1, 1, pytest.approx(2 / 3), 0.5]
    assert wb["环比"]["D8"].value == pytest.approx((2 / 3 - 1) * 100)  # percentage points
    # Columns are wide enough for their Chinese headers and values.
    assert wb["按责任部门"].column_dimensions["A"].width >= 12
    assert wb["时限达成"].column_dimensions["A"].width >= 24
    assert wb["概况"].freeze_panes == "A2"


def test_identical_input_gives_byte_identical_files(march, engine):
    first = {fmt: render(march, fmt) for fmt in ("json", "md", "html", "xlsx")}
    time.sleep(1.1)  # ZIP entries carry a time to the second: a later run must not differ
    again = build_report(engine, MARCH)
    assert {fmt: render(again, fmt) for fmt in first} == first
    assert b"generated" not in first["md"] and first["json"].count(b'"generated_at": null') == 1
    stamped = build_report(engine, MARCH, generated_at=datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc))
    assert b'"generated_at": "2026-04-01T00:00:00+00:00"' in render(stamped, "json")
    assert openpyxl.load_workbook(io.BytesIO(render(stamped, "xlsx"))).properties.created == datetime(2026, 4, 1)


def test_html_is_self_contained_with_server_side_svg_charts(march):
    html = render(march, "html").decode()
    # 8 tables with one chart each, the month-by-month table with three, the causes by month one.
    assert html.count("<svg") == 12 and "<script" not in html
    assert re.findall(r"(?:src|href)=", html) == []
    assert set(re.findall(r"https?://[^\s\"']+", html)) == {"http://www.w3.org/2000/svg"}
    # The 篇7 shape: the main causes as a pie with their shares in the legend.
    section = html.split('data-key="main_causes"')[1].split("</section>")[0]
    assert "<path d=" in section and "包装 42.9%" in section


def test_quarterly_and_yearly_render_too(engine):
    insert_fixture(engine)
    for kind, label in [("quarterly", "2026-Q1"), ("yearly", "2026")]:
        report = build_report(engine, Period.parse(kind, label))
        assert_formats_agree(report, PeriodReport)
    assert "同比（上年）" in openpyxl.load_workbook(io.BytesIO(render(report, "xlsx"))).sheetnames


def test_an_empty_month_renders_without_figures(engine):
    report = build_report(engine, Period.parse("monthly", "2030-01"))
    assert report.summary.total == 0 and report.by_tier == [] and report.summary.followup_rate is None
    assert_formats_agree(report, PeriodReport)
    assert "| 回访率 | — |" in render(report, "md").decode()


def test_special_report_of_a_major_complaint(engine):
    insert_fixture(engine)
    r = build_major(engine, "zammad:101")
    assert r.is_major and r.record["tier"] == "A" and r.record["received_at"] == "2026-03-02 10:00"
    assert [(d.rule_id, d.status, d.due, d.met_at) for d in r.deadlines] == [
        ("R-SLA-6.18-major", "on_time", "2026-03-05 10:00", "2026-03-04 10:00"),
        ("R-SLA-6.36", "on_time", "2026-03-06 10:00", "2026-03-05 09:00")]
    assert [(e.subject, e.status, e.amount) for e in r.ledger] == [
        ("生产班组", "confirmed", 1000.0), ("张三", "proposed", None), ("张三", "confirmed", 2000.0),
        ("营销部", "confirmed", 1000.0), ("营销部", "reversal", -1000.0)]
    r104 = build_major(engine, "zammad:104")
    assert [(x.kind, x.summary) for x in r104.timeline] == [
        ("decision", "优先级 → 紧急；A类：异物"), ("write", "写回工单：优先级 → 紧急；加标签 A类；内部备注")]
    assert [(d.rule_id, d.status) for d in r104.deadlines] == [("R-SLA-6.18-major", "open"),
                                                              ("R-SLA-6.18-resp", "on_time")]
    assert [(e.rule_id, e.at) for e in r104.escalations] == [("R-ESC-6.31", "2026-04-01 09:00")]
    data = assert_formats_agree(r104, MajorReport)
    assert data["md"].decode().startswith("# 重大投诉专项报告 zammad:104")
    assert openpyxl.load_workbook(io.BytesIO(data["xlsx"])).sheetnames == ["投诉记录", "时限", "升级", "奖惩台账",
                                                                          "处理时间线"]
    assert not build_major(engine, "zammad:103").is_major
    with pytest.raises(NoComplaint):
        build_major(engine, "zammad:999")


def test_the_example_in_the_docs_is_what_kesu_renders(tmp_path):
    from pathlib import Path

    from kesu.store.db import make_engine, migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'kesu.db'}")
    migrate(engine)
    insert_fixture(engine)
    md = render(build_report(engine, MARCH), "md").decode()
    engine.dispose()
    # docs/reports.md nests the report's headings under its own ("# " -> "### ", "## " -> "#### ").
    nested = "\n".join("#### " + line[3:] if line.startswith("## ") else "### " + line[2:]
                       if line.startswith("# ") else line for line in md.splitlines())
    doc = (Path(__file__).resolve().parents[1] / "docs" / "reports.md").read_text(encoding="utf-8")
    assert doc.split("<!-- example:begin -->\n")[1].split("\n<!-- example:end -->")[0] == nested
