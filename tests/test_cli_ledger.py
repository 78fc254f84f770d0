"""``kesu ledger`` and ``kesu followups``: deciding proposals from the command line (R-PEN-*,
R-REW-*) and reading the follow-up rate (R-CB-6.36), against a SQLite store named by a config file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from kesu.cli import app
from kesu.ledger import Ledger
from kesu.store import tickets as store
from kesu.store.db import make_engine, migrate

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    for var in ("KESU_CONFIG", "KESU_STORE__URL", "KESU_NOTES__TIMEZONE"):
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "kesu.db"
    config = tmp_path / "kesu.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [*args, "--config", str(config)], env={"COLUMNS": "250"})

    run.engine = engine  # type: ignore[attr-defined]
    yield run
    engine.dispose()


def add(engine, **kw) -> int:
    row = {"created_at": T0, "ticket_key": "zammad:7", "rule_id": "R-PEN-6.40", "plugin": "penalties",
           "kind": "penalty", "subject": "张三", "amount": None, "amount_min": 1000.0, "amount_max": 5000.0,
           "status": "proposed", "note": "个人原因致投诉停滞并升级", **kw}
    with engine.begin() as conn:
        store.add_ledger(conn, [row])
    return Ledger(engine).entries()[-1].id


def test_list_shows_entries_and_filters_open_status_and_subject(cli):
    p = add(cli.engine)
    add(cli.engine, rule_id="R-PEN-5.6.2", subject="生产班组负责人", amount=1000.0, amount_min=None,
        amount_max=None, status="confirmed")
    out = cli("ledger", "list").output
    assert "R-PEN-6.40" in out and "1000–5000" in out and "R-PEN-5.6.2" in out and "2 ledger entries" in out
    out = cli("ledger", "list", "--open").output
    assert "1 ledger entry" in out and "张三" in out and "生产班组负责人" not in out
    assert "生产班组负责人" in cli("ledger", "list", "--subject", "生产班组负责人").output
    assert "1 ledger entry" in cli("ledger", "list", "--status", "confirmed").output
    bad = cli("ledger", "list", "--status", "maybe")
    assert bad.exit_code == 2 and "allowed: proposed" in bad.output
    Ledger(cli.engine).reject(p, "王经理")
    assert "0 ledger entries" in cli("ledger", "list", "--open").output


@pytest.mark.parametrize("amount", ["999", "5000.5"])
def test_confirm_outside_the_range_is_refused_clearly_and_records_nothing(cli, amount):
    p = add(cli.engine)
    result = cli("ledger", "confirm", str(p), "--amount", amount, "--by", "王经理")
    assert result.exit_code == 2, result.output
    assert "refused" in result.output and "R-PEN-6.40" in result.output
    assert "1000–5000" in result.output and "nothing was recorded" in result.output
    assert [e.id for e in Ledger(cli.engine).entries()] == [p]


def test_confirm_a_range_without_amount_is_refused(cli):
    p = add(cli.engine)
    result = cli("ledger", "confirm", str(p), "--by", "王经理")
    assert result.exit_code == 2 and "needs an amount between 1000 and 5000" in result.output
    assert len(Ledger(cli.engine).entries()) == 1


def test_confirm_inside_the_range_appends_the_decision(cli):
    p = add(cli.engine)
    result = cli("ledger", "confirm", str(p), "--amount", "2000", "--by", "王经理", "--note", "情节一般")
    assert result.exit_code == 0, result.output
    assert "confirmed by 王经理" in result.output and f"proposal {p}" in result.output
    decision = Ledger(cli.engine).entries()[-1]
    assert (decision.status, decision.amount, decision.refers_to, decision.decided_by, decision.note) == (
        "confirmed", 2000, p, "王经理", "情节一般")
    again = cli("ledger", "confirm", str(p), "--amount", "3000", "--by", "李总")
    assert again.exit_code == 2 and "already confirmed by 王经理" in again.output


def test_confirm_a_proposal_without_amount_range(cli):
    # R-PEN-5.6.4: a score deduction proposal has no amount; a person confirms it as it is.
    p = add(cli.engine, rule_id="R-PEN-5.6.4", kind="score", amount_min=None, amount_max=None)
    result = cli("ledger", "confirm", str(p), "--by", "主管")
    assert result.exit_code == 0, result.output
    assert Ledger(cli.engine).entries()[-1].status == "confirmed"


def test_reject_and_missing_names_are_refused(cli):
    p = add(cli.engine)
    blank = cli("ledger", "reject", str(p), "--by", " ")
    assert blank.exit_code == 2 and "must name the person" in blank.output
    ok = cli("ledger", "reject", str(p), "--by", "王经理", "--note", "证据不足")
    assert ok.exit_code == 0 and "rejected by 王经理" in ok.output
    assert cli("ledger", "reject", "999", "--by", "王经理").exit_code == 2


def test_reverse_needs_a_note_and_appends_a_negated_entry(cli):
    e = add(cli.engine, rule_id="R-PEN-5.6.2", amount=1000.0, amount_min=None, amount_max=None, status="confirmed")
    assert cli("ledger", "reverse", str(e), "--by", "审计").exit_code == 2  # --note is required
    assert cli("ledger", "reverse", str(e), "--by", "审计", "--note", " ").exit_code == 2
    assert len(Ledger(cli.engine).entries()) == 1
    result = cli("ledger", "reverse", str(e), "--by", "审计", "--note", "重复计罚")
    assert result.exit_code == 0, result.output
    rev = Ledger(cli.engine).entries()[-1]
    assert (rev.status, rev.amount, rev.refers_to) == ("reversal", -1000, e)
    assert cli("ledger", "reverse", str(e), "--by", "审计", "--note", "again").exit_code == 2


def test_followups_list_shows_rate_and_satisfaction(cli):
    # R-CB-6.36: follow-up rate = done / all follow-ups (target 100 %); satisfaction among outcomes.
    with cli.engine.begin() as conn:
        for i, outcome in ((1, "satisfied"), (2, "dissatisfied"), (3, "unreachable"), (4, None)):
            store.add_followup(conn, key=f"zammad:{i}", rule_id="R-CB-6.36", resolved_at=T0,
                               due_at=T0 + timedelta(hours=48), now=T0)
            if outcome:
                store.record_followup_outcome(conn, key=f"zammad:{i}", outcome=outcome, now=T0 + timedelta(hours=1))
        store.add_followup(conn, key="zammad:5", rule_id="R-CB-5.5.3", resolved_at=T0,
                           due_at=datetime(2100, 1, 1, tzinfo=timezone.utc), now=T0)
    result = cli("followups", "list")
    assert result.exit_code == 0, result.output
    assert "follow-up rate 2/5 (40.0 %), target 100 %" in result.output
    assert "satisfaction 1/2 (50.0 %)" in result.output
    assert "2026-03-04 10:00" in result.output, "due shown in the notes' time zone (Asia/Shanghai)"
    done = cli("followups", "list", "--status", "done").output
    assert "zammad:1" in done and "zammad:2" in done and "zammad:3" not in done
    overdue = cli("followups", "list", "--overdue").output
    assert "2 follow-up(s)" in overdue and "zammad:3" in overdue and "zammad:4" in overdue
    assert "zammad:5" not in overdue and "zammad:1" not in overdue
    assert "unreachable" in overdue and "(overdue)" in overdue
    assert cli("followups", "list", "--status", "late").exit_code == 2


def test_followups_list_without_any(cli):
    result = cli("followups", "list")
    assert result.exit_code == 0 and "no follow-ups yet" in result.output
