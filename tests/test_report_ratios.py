"""R-PEN-5.6.5, the insurer's institution assessment: complaints per 100 million yuan of premium
(亿元保费投诉量) and per 100 million policies (亿张保单投诉量), from the period's premium and policy
count given by a person (CLI options, admin form), stored with the run, shown with the formula in
every format, and reported as not given (未提供保费/保单数) rather than guessed.

Hand computation for the fixture month (tests/test_report_fixture.py): March 2026 has 7 complaints
received (invalid included). With a premium of 12.5亿元 and 380,000 policies (0.0038亿张):
7 ÷ 12.5 = 0.56 per 100 million yuan; 7 ÷ 0.0038 = 1,842.105… per 100 million policies.
"""

from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest
from typer.testing import CliRunner

from kesu.cli import app as cli
from kesu.report import Period, build_report, render
from kesu.report.model import RatioInputs
from kesu.report.ratios import NOT_GIVEN, RatioInputError, inputs, parse_policies, parse_premium
from kesu.report.runs import list_runs
from kesu.settings import load_settings
from kesu.store.db import make_engine
from tests.test_admin_api import RO, RW, api  # noqa: F401 -- fixtures
from tests.test_admin_page import flash, login, page  # noqa: F401 -- fixtures
from tests.test_report_cli import config  # noqa: F401 -- fixture
from tests.test_report_fixture import insert_fixture

MARCH = Period.parse("monthly", "2026-03")
GIVEN = RatioInputs(premium_yuan=1_250_000_000.0, policies=380_000)
PER_POLICIES = 7 / 0.0038  # 1842.105263…


@pytest.mark.parametrize("text, yuan", [("12.5亿", 1.25e9), ("12.5亿元", 1.25e9), ("125000万", 1.25e9),
                                        ("1,250,000,000", 1.25e9), ("1250000000元", 1.25e9), (" 0.5亿 ", 5e7)])
def test_premium_as_people_write_it(text, yuan):
    assert parse_premium(text) == pytest.approx(yuan)


def test_policy_counts_and_what_is_refused():
    assert parse_policies("380000") == 380_000 and parse_policies("38万") == 380_000
    assert parse_policies("38万张") == 380_000 and parse_policies("") is None and parse_premium(None) is None
    for bad in ("abc", "0", "-5", "12.5亿张", "1,2", "12..5", "nan", "1e9"):
        with pytest.raises(RatioInputError, match="premium"):
            parse_premium(bad)
    with pytest.raises(RatioInputError, match="whole number"):
        parse_policies("38.5")
    with pytest.raises(RatioInputError, match="policies"):
        parse_policies("38亿元")


def test_ratios_of_the_fixture_month_by_hand(engine):
    insert_fixture(engine)
    r = build_report(engine, MARCH, inputs=GIVEN).ratios
    assert (r.rule_id, r.complaints, r.premium_yuan, r.policies) == ("R-PEN-5.6.5", 7, 1.25e9, 380_000)
    assert r.per_100m_yuan == pytest.approx(0.56) and r.per_100m_policies == pytest.approx(PER_POLICIES)
    q1 = build_report(engine, Period.parse("quarterly", "2026-Q1"), inputs=inputs("50亿", None)).ratios
    assert q1.complaints == 10 and q1.per_100m_yuan == pytest.approx(0.2) and q1.per_100m_policies is None


def test_formula_and_inputs_in_every_format(engine):
    insert_fixture(engine)
    report = build_report(engine, MARCH, inputs=GIVEN)
    md = render(report, "md").decode()
    for line in ["| 投诉量（本期投诉总量） | 7 | 本期受理的全部投诉（含无效投诉） |",
                 "| 保费收入（元） | 1,250,000,000.00 | 12.5 亿元 |", "| 保单数（张） | 380000 | 0.0038 亿张 |",
                 "| 亿元保费投诉量 | 0.56 | 7 ÷ 12.5 = 0.56 |", "| 亿张保单投诉量 | 1,842.11 | 7 ÷ 0.0038 = 1,842.11 |"]:
        assert line in md, line
    formula = "亿元保费投诉量 = 投诉量 ÷ (保费 ÷ 1亿元)；亿张保单投诉量 = 投诉量 ÷ (保单数 ÷ 1亿张)"
    assert formula in md
    html = render(report, "html").decode()
    section = html.split('data-key="ratios"')[1].split("</section>")[0]
    assert '<td class="num">0.56</td><td>7 ÷ 12.5 = 0.56</td>' in section and formula in section
    ws = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))["机构考核投诉比"]
    assert ws["B5"].value == pytest.approx(0.56) and ws["B5"].number_format == "#,##0.00"
    assert ws["B6"].value == pytest.approx(PER_POLICIES, abs=1e-9) and ws["C6"].value == "7 ÷ 0.0038 = 1,842.11"
    assert ws["B3"].value == 1_250_000_000 and ws["B4"].value == 380_000
    assert any(formula in str(c.value) for row in ws.iter_rows() for c in row if c.value)
    data = json.loads(render(report, "json"))["ratios"]
    assert data["premium_yuan"] == 1.25e9 and data["policies"] == 380_000 and formula in data["formula"]


def test_absent_inputs_are_not_guessed(engine):
    insert_fixture(engine)
    report = build_report(engine, MARCH)
    assert report.ratios.per_100m_yuan is None and report.ratios.per_100m_policies is None
    md = render(report, "md").decode()
    assert f"| 亿元保费投诉量 | {NOT_GIVEN} |" in md and f"| 亿张保单投诉量 | {NOT_GIVEN} |" in md
    assert "| 保费收入（元） | 未提供 |" in md
    assert render(report, "html").decode().count(NOT_GIVEN) == 2
    ws = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))["机构考核投诉比"]
    assert (ws["B5"].value, ws["B6"].value) == (NOT_GIVEN, NOT_GIVEN)
    half = build_report(engine, MARCH, inputs=RatioInputs(policies=380_000))
    assert half.ratios.per_100m_yuan is None and half.ratios.per_100m_policies == pytest.approx(PER_POLICIES)


runner = CliRunner()


def test_cli_options_round_trip(config, tmp_path):  # noqa: F811
    out = runner.invoke(cli, ["report", "monthly", "--month", "2026-03", "--premium", "12.5亿", "--policies", "380000",
                              "-f", "json", "-o", "-", "-c", str(config)])
    assert out.exit_code == 0, out.output
    ratios = json.loads(out.stdout_bytes)["ratios"]
    assert ratios["per_100m_yuan"] == pytest.approx(0.56) and ratios["per_100m_policies"] == pytest.approx(PER_POLICIES)
    made = runner.invoke(cli, ["report", "quarterly", "--quarter", "2026-Q1", "--premium", "50亿", "-f", "md",
                               "-c", str(config)])
    assert made.exit_code == 0, made.output
    engine = make_engine(load_settings(config).store.url)
    run = list_runs(engine, 1)[0]
    engine.dispose()
    assert (run.kind, run.period, run.trigger, run.inputs) == ("quarterly", "2026-Q1", "cli", {"premium_yuan": 5e9})
    assert "| 亿元保费投诉量 | 0.20 | 10 ÷ 50 = 0.20 |" in open(run.files["md"], encoding="utf-8").read()
    bad = runner.invoke(cli, ["report", "monthly", "--month", "2026-03", "--policies", "很多", "-c", str(config)])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "policies (保单数) must be a positive number" in bad.output and len(bad.output.strip().splitlines()) == 1


def test_admin_api_round_trip(api):  # noqa: F811
    insert_fixture(api.services.engine)
    made = api.post("/admin/api/reports", json={"kind": "monthly", "period": "2026-03", "premium": "12.5亿",
                                                "policies": 380000, "formats": ["json"]}, headers=RW)
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["inputs"] == {"premium_yuan": 1.25e9, "policies": 380000}
    listed = api.get("/admin/api/reports", headers=RO).json()
    assert listed[0]["inputs"] == run["inputs"]
    data = api.get(run["downloads"]["json"], headers=RO).json()["ratios"]
    assert data["per_100m_yuan"] == pytest.approx(0.56)
    bad = api.post("/admin/api/reports", json={"kind": "monthly", "period": "2026-03", "premium": "x"}, headers=RW)
    assert bad.status_code == 422 and "premium" in bad.text
    major = api.post("/admin/api/reports", json={"kind": "major", "period": "zammad:104", "policies": 1}, headers=RW)
    assert major.status_code == 422 and "R-PEN-5.6.5" in major.text
    plain = api.post("/admin/api/reports", json={"kind": "monthly", "period": "2026-03", "formats": ["md"]}, headers=RW)
    assert plain.json()["inputs"] is None


def test_admin_form_round_trip(page):  # noqa: F811
    csrf = login(page)
    html = page.get("/admin").text
    assert 'name="premium"' in html and 'name="policies"' in html and "本期保费" in html
    page.post("/admin/do/report_generate", data={"csrf": csrf, "kind": "monthly", "period": "2026-03",
                                                 "premium": "12.5亿", "policies": "38万", "formats": ["md"]})
    assert flash(page).startswith("已完成：生成 #")
    html = page.get("/admin").text
    assert "保费 1,250,000,000.00，保单 380,000" in html
    link = re.search(r'href="(/admin/reports/\d+/md)"', html).group(1)
    assert "| 亿张保单投诉量 | 1,842.11 | 7 ÷ 0.0038 = 1,842.11 |" in page.get(link).text
    page.post("/admin/do/report_generate", data={"csrf": csrf, "kind": "monthly", "period": "2026-03",
                                                 "premium": "0"})
    assert flash(page) == "保费须大于 0，收到 &#x27;0&#x27;"
    page.post("/admin/do/report_generate", data={"csrf": csrf, "kind": "major", "period": "zammad:104",
                                                 "policies": "38万"})
    assert flash(page) == "保费与保单数（R-PEN-5.6.5）只用于月报、季报和年报"
