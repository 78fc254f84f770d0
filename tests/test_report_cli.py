"""``kesu report`` (monthly, quarterly, yearly, major, list) and ``kesu admin token``."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from kesu.cli import app as cli
from kesu.report import Period, build_major, build_report, render
from kesu.settings import load_settings
from kesu.store.db import make_engine, migrate
from tests.test_report_fixture import insert_fixture

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "kesu.db"
    path = tmp_path / "kesu.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{db}"\n\n[reports]\ndirectory = "{tmp_path / "out"}"\n',
                    encoding="utf-8")
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    insert_fixture(engine)
    engine.dispose()
    return path


def test_monthly_to_standard_output_is_the_rendered_report(config):
    result = runner.invoke(cli, ["report", "monthly", "--month", "2026-03", "--format", "md", "-o", "-",
                                 "-c", str(config)])
    assert result.exit_code == 0, result.output
    engine = make_engine(load_settings(config).store.url)
    assert result.stdout_bytes == render(build_report(engine, Period.parse("monthly", "2026-03")), "md")
    engine.dispose()


def test_every_format_to_the_directory_recorded_and_listed(config, tmp_path):
    result = runner.invoke(cli, ["report", "monthly", "--month", "2026-03", "-c", str(config)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "on-demand"
    assert sorted(p.name for p in out.iterdir()) == [f"kesu-monthly-2026-03.{f}" for f in ("html", "json", "md", "xlsx")]
    wb = openpyxl.load_workbook(out / "kesu-monthly-2026-03.xlsx")
    assert wb.sheetnames[:3] == ["概况", "按等级", "按原因"] and wb["概况"]["B5"].value == 7
    listed = runner.invoke(cli, ["report", "list", "-c", str(config)])
    assert listed.exit_code == 0 and "monthly" in listed.output and "cli" in listed.output


def test_quarterly_yearly_and_a_stamped_generation_time(config, tmp_path):
    q = runner.invoke(cli, ["report", "quarterly", "--quarter", "2026-Q1", "-f", "json", "-o",
                            str(tmp_path / "q.json"), "--generated-at", "2026-04-01T08:00:00+08:00", "-c", str(config)])
    assert q.exit_code == 0, q.output
    text = (tmp_path / "q.json").read_text(encoding="utf-8")
    assert '"period": "2026-Q1"' in text and '"generated_at": "2026-04-01T08:00:00+08:00"' in text
    y = runner.invoke(cli, ["report", "yearly", "--year", "2026", "-f", "xlsx", "-o", str(tmp_path / "y.xlsx"),
                            "-c", str(config)])
    assert y.exit_code == 0
    wb = openpyxl.load_workbook(io.BytesIO((tmp_path / "y.xlsx").read_bytes()))
    assert "同比（上年）" in wb.sheetnames and wb["概况"]["B5"].value == 11


def test_major_report_of_one_ticket(config):
    result = runner.invoke(cli, ["report", "major", "104", "-f", "md", "-o", "-", "-c", str(config)])
    assert result.exit_code == 0, result.output
    engine = make_engine(load_settings(config).store.url)
    assert result.stdout_bytes == render(build_major(engine, "zammad:104"), "md")
    engine.dispose()
    missing = runner.invoke(cli, ["report", "major", "zammad:999", "-c", str(config)])
    assert missing.exit_code == 2 and "no complaint record for zammad:999" in missing.output


def test_mistakes_are_explained(config):
    bad = runner.invoke(cli, ["report", "monthly", "--month", "2026/03", "-c", str(config)])
    assert bad.exit_code == 2 and "2026-03" in bad.output
    fmt = runner.invoke(cli, ["report", "monthly", "--month", "2026-03", "-f", "pdf", "-c", str(config)])
    assert fmt.exit_code == 2 and "unknown format pdf" in fmt.output
    two = runner.invoke(cli, ["report", "monthly", "-f", "md", "-f", "json", "-o", "x", "-c", str(config)])
    assert two.exit_code == 2 and "exactly one" in two.output


def test_admin_token_is_written_to_the_config_and_shown_once(config):
    result = runner.invoke(cli, ["admin", "token", "wang-li", "--scope", "read", "-c", str(config)])
    assert result.exit_code == 0, result.output
    printed = result.output.strip().splitlines()[-1]
    entry = load_settings(config).admin.tokens["wang-li"]
    assert entry.token.get_secret_value() == printed and entry.scopes == ["read"] and len(printed) >= 40
    listed = runner.invoke(cli, ["admin", "tokens", "-c", str(config)])
    assert "wang-li" in listed.output and printed not in listed.output
    assert runner.invoke(cli, ["admin", "token", "x", "--scope", "admin", "-c", str(config)]).exit_code == 2
    assert "[store]" in config.read_text(encoding="utf-8")  # the rest of the file is kept
