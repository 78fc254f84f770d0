"""The automatic report (R-RPT-4.27, R-RPT-5.4.5.6): last month's, early in the month, exactly once
however many workers run; its location logged, recorded and announced through ``kesu_notify``."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from kesu.app import Services
from kesu.report.runs import due_periods, list_runs, run_due
from kesu.settings import ReportSettings, Settings
from kesu.store.db import utcnow
from kesu.store.tables import reports
from plugins import hookimpl
from plugins.manager import PluginHost, build_plugin_manager
from tests.test_report_fixture import insert_fixture

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


class Inbox:
    """A notifier plugin: the kesu_notify hook is how a report's location is announced."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str, tuple[str, ...], str]] = []

    @hookimpl
    def kesu_notify(self, ticket, notification, now):
        self.got.append((ticket.ref.key, notification.rule_id, notification.recipients, notification.message))


def notifier():
    pm = build_plugin_manager(load_entrypoints=False)
    plugin = Inbox()
    pm.register(plugin, name="report-inbox")
    return PluginHost(pm).notify, plugin


def settings_in(tmp_path: Path, **kw) -> ReportSettings:
    return ReportSettings(directory=str(tmp_path / "reports"), **kw)


def test_due_on_the_configured_day_and_time_after_the_period():
    s = ReportSettings()
    assert [p.label for p in due_periods(local(2026, 4, 1, 7, 59), s)] == ["2025"]  # due since 1 Jan
    assert [p.label for p in due_periods(local(2026, 4, 1, 8, 0), s)] == ["2026-03", "2026-Q1", "2025"]
    assert [p.label for p in due_periods(local(2026, 4, 20, 12, 0), s)] == ["2026-03", "2026-Q1", "2025"]
    # 00:30 on 1 April in Shanghai is still 31 March in UTC: March is not over before 08:00 local.
    assert "2026-03" not in [p.label for p in due_periods(datetime(2026, 3, 31, 16, 30, tzinfo=timezone.utc), s)]
    late = ReportSettings(day=5, time="09:30", automatic=["monthly"])
    assert due_periods(local(2026, 4, 5, 9, 29), late) == []  # only the last period is ever due
    assert due_periods(local(2026, 4, 5, 9, 30), late)[0].label == "2026-03"


def test_produced_once_with_several_workers_and_announced(engine, tmp_path, caplog):
    insert_fixture(engine)
    s = settings_in(tmp_path, automatic=["monthly"], recipients=["质检部", "客服中心"])
    notify, inbox = notifier()
    now = local(2026, 4, 1, 8, 0, 30).astimezone(timezone.utc)
    made: list = []
    caplog.set_level(logging.INFO, logger="kesu.report.runs")

    def worker() -> None:
        made.extend(run_due(engine, s, now, notify=notify))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    run = made[0]
    assert (run.kind, run.period, run.trigger, run.status) == ("monthly", "2026-03", "schedule", "done")
    assert sorted(run.files) == ["html", "json", "md", "xlsx"]
    xlsx = Path(run.files["xlsx"])
    assert xlsx == (tmp_path / "reports" / "kesu-monthly-2026-03.xlsx").resolve() and xlsx.stat().st_size > 0
    assert [r.period for r in list_runs(engine)] == ["2026-03"]
    # Later checks in the same month do nothing.
    assert run_due(engine, s, now + timedelta(days=3), notify=notify) == []
    assert len(inbox.got) == 1
    key, rule, recipients, message = inbox.got[0]
    assert (key, rule, recipients) == ("kesu:report:monthly:2026-03", "R-RPT-4.27", ("质检部", "客服中心"))
    assert "客诉统计月报 2026年3月" in message and str(xlsx) in message
    assert any("report monthly:2026-03 written" in r.getMessage() and str(xlsx) in r.getMessage()
               for r in caplog.records)


def test_a_run_left_by_a_dead_worker_is_taken_over_and_a_failure_retried(engine, tmp_path):
    s = settings_in(tmp_path, automatic=["monthly"])
    now = local(2026, 4, 1, 9, 0).astimezone(timezone.utc)
    with engine.begin() as conn:
        conn.execute(reports.insert(), {"kind": "monthly", "period": "2026-03", "trigger": "schedule",
                                        "run_key": "monthly:2026-03", "status": "running", "files": {},
                                        "created_at": now - timedelta(minutes=10)})
    assert run_due(engine, s, now) == []  # somebody is at it
    [run] = run_due(engine, s, now + timedelta(hours=1))  # ... or was: the claim went stale
    assert run.status == "done"
    with engine.begin() as conn:
        conn.execute(update(reports).values(status="failed", finished_at=now + timedelta(hours=1)))
    assert run_due(engine, s, now + timedelta(hours=1, minutes=5)) == []
    assert [r.status for r in run_due(engine, s, now + timedelta(hours=2))] == ["done"]
    with engine.connect() as conn:
        assert conn.execute(select(reports.c.run_key)).scalars().all() == ["monthly:2026-03"]


def test_the_worker_process_runs_the_report_loop(tmp_path):
    settings = Settings()
    settings.store.url = f"sqlite:///{tmp_path / 'kesu.db'}"
    settings.reports = settings_in(tmp_path, automatic=["monthly"], check_interval=0.1)
    services = Services.build(settings, load_entrypoints=False)
    try:
        runner = services.start_workers()
        assert "kesu-reports" in [t.name for t in runner.threads]
        deadline = time.monotonic() + 10
        while [r.status for r in list_runs(services.engine)] != ["done"] and time.monotonic() < deadline:
            time.sleep(0.05)
        [run] = list_runs(services.engine)
        last_month = due_periods(utcnow(), settings.reports)
        assert run.period == last_month[0].label and Path(run.files["md"]).is_file()
    finally:
        services.close()
    no_timers = Services.build(settings, load_entrypoints=False)
    try:
        assert "kesu-reports" not in [t.name for t in no_timers.start_workers(timers=False).threads]
    finally:
        no_timers.close()
