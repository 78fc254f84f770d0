"""Producing report files and recording them (``reports`` table), on demand or on schedule.

R-RPT-4.27 / R-RPT-5.4.5.6 want last month's statistics within the first 10 days of a month;
R-RPT-6.38.7 quarterly and yearly analyses as well. The worker's report loop (``report_loop``)
checks every ``[reports] check_interval`` seconds whether a period's report is due -- on
``[reports] day`` at ``[reports] time`` local time after the period ended -- and produces it
**once**, however many workers run: the run is claimed by inserting its ``run_key``
(``monthly:2026-03``), which is unique. A run whose worker died is taken over after
``STALE_AFTER``; a failed one is retried after ``RETRY_AFTER``. Its location is logged, recorded
for the admin page and announced through the ``kesu_notify`` hook.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from kesu.effects import Notify
from kesu.models import Ticket, TicketRef
from kesu.report.compute import build_report
from kesu.report.labels import Catalogue
from kesu.report.major import build_major
from kesu.report.model import RatioInputs
from kesu.report.period import PERIOD_KINDS, Period
from kesu.report.formats import AnyReport, file_name, render, to_document
from kesu.settings import ReportSettings
from kesu.store.db import as_utc, is_sqlite, utcnow
from kesu.store.tables import reports

log = logging.getLogger(__name__)

REPORT_KINDS = (*PERIOD_KINDS, "major")
STALE_AFTER = timedelta(hours=1)
RETRY_AFTER = timedelta(minutes=15)
RULES = {"monthly": "R-RPT-4.27", "quarterly": "R-RPT-6.38.7", "yearly": "R-RPT-6.38.7", "major": "R-RPT-6.38.7"}

Notifier = Callable[[Ticket, Sequence[Notify], datetime], Any]


@dataclass(frozen=True)
class ReportRun:
    id: int
    kind: str
    period: str
    trigger: str
    status: str
    files: dict[str, str]
    requested_by: str | None
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    inputs: dict[str, Any] | None = None  # R-PEN-5.6.5 premium_yuan / policies given for this run


def _run(row: Any) -> ReportRun:
    return ReportRun(row.id, row.kind, row.period, row.trigger, row.status, dict(row.files or {}),
                     row.requested_by, as_utc(row.created_at), as_utc(row.finished_at), row.error,  # type: ignore[arg-type]
                     dict(row.inputs) if row.inputs else None)


def build(engine: Engine, kind: str, period: str, *, tz: str, generated_at: datetime | None = None,
          catalogue: Catalogue | None = None, inputs: RatioInputs | None = None, language: str = "zh") -> AnyReport:
    """The report's data: ``period`` is a period label, or a ticket key for ``major``. ``inputs``
    (premium, policy count) are for R-PEN-5.6.5 and only mean something for a period."""
    if kind == "major":
        if inputs is not None and (inputs.premium_yuan is not None or inputs.policies is not None):
            raise ValueError("premium and policies (R-PEN-5.6.5) belong to a monthly, quarterly or yearly report, "
                             "not to the special report of one complaint")
        return build_major(engine, period, tz=tz, generated_at=generated_at, catalogue=catalogue, language=language)
    return build_report(engine, Period.parse(kind, period, tz), generated_at=generated_at, catalogue=catalogue,
                        inputs=inputs, language=language)


#: Render XLSX in a short-lived child process. A long-running process (``kesu serve``, ``kesu
#: worker``) turns this on: importing openpyxl costs ~15 MiB that it would otherwise keep for the
#: rest of its life after the first report (issue 10: RSS under 150 MB).
xlsx_in_child = False


def _render(report: AnyReport, fmt: str) -> bytes:
    if fmt != "xlsx" or not xlsx_in_child:
        return render(report, fmt)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(render, report, fmt).result(timeout=600)


def write_files(report: AnyReport, formats: Iterable[str], directory: Path) -> dict[str, str]:
    """Render and write each format (atomically: a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for fmt in formats:
        path = directory / file_name(report, fmt)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(_render(report, fmt))
        os.replace(tmp, path)
        files[fmt] = str(path.resolve())
    return files


def produce(engine: Engine, settings: ReportSettings, kind: str, period: str, *, trigger: str,
            requested_by: str | None = None, formats: Sequence[str] | None = None,
            directory: Path | None = None, generated_at: datetime | None = None,
            catalogue: Catalogue | None = None, inputs: RatioInputs | None = None,
            language: str | None = None) -> ReportRun:
    """Produce a report now (admin page, API, CLI) and record it, with the inputs it was given
    (R-PEN-5.6.5). On-demand files go to ``<directory>/on-demand/`` so they never replace the
    scheduled ones."""
    report = build(engine, kind, period, tz=settings.timezone, generated_at=generated_at, catalogue=catalogue,
                   inputs=inputs, language=language or settings.language)
    files = write_files(report, formats or settings.formats,
                        directory or Path(settings.directory) / "on-demand")
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(insert(reports).returning(*reports.c), {
            "kind": kind, "period": period, "trigger": trigger, "run_key": None, "status": "done",
            "files": files, "requested_by": requested_by, "created_at": now, "finished_at": now,
            "inputs": _inputs(inputs)}).first()
    return _run(row)


def _inputs(inputs: RatioInputs | None) -> dict[str, Any] | None:
    given = inputs.model_dump(exclude_none=True) if inputs is not None else {}
    return given or None


def list_runs(engine: Engine, limit: int = 50) -> list[ReportRun]:
    with engine.connect() as conn:
        rows = conn.execute(select(reports).order_by(reports.c.id.desc()).limit(limit)).all()
    return [_run(r) for r in rows]


def get_run(engine: Engine, run_id: int) -> ReportRun | None:
    with engine.connect() as conn:
        row = conn.execute(select(reports).where(reports.c.id == run_id)).first()
    return _run(row) if row else None


# -------------------------------------------------------------------------------------------------
# on schedule


def due_periods(now: datetime, settings: ReportSettings) -> list[Period]:
    """The periods whose automatic report is due at ``now``: the last complete month (quarter,
    year) once the configured day and time after its end have come."""
    hour, minute = (int(x) for x in settings.time.split(":"))
    due = []
    for kind in settings.automatic:
        last = Period.containing(kind, now, settings.timezone).previous()
        due_at = last.end.replace(day=settings.day, hour=hour, minute=minute)
        if now >= due_at:
            due.append(last)
    return due


def _claim(engine: Engine, run_key: str, kind: str, period: str, now: datetime) -> int | None:
    """Insert the run's row, or take over a stale or failed one; None when another worker has it."""
    with engine.begin() as conn:
        stmt = (sqlite if is_sqlite(engine) else postgresql).insert(reports).values(
            kind=kind, period=period, trigger="schedule", run_key=run_key, status="running", files={},
            requested_by=None, created_at=now)
        new_id = conn.execute(stmt.on_conflict_do_nothing(index_elements=["run_key"]).returning(reports.c.id)).scalar()
        if new_id is not None:
            return int(new_id)
        taken = conn.execute(
            update(reports).where(reports.c.run_key == run_key, or_(
                (reports.c.status == "running") & (reports.c.created_at < now - STALE_AFTER),
                (reports.c.status == "failed") & (reports.c.finished_at < now - RETRY_AFTER)))
            .values(status="running", created_at=now, finished_at=None, error=None)
            .returning(reports.c.id)).scalar()
        return int(taken) if taken is not None else None


def run_due(engine: Engine, settings: ReportSettings, now: datetime, *,
            notify: Notifier | None = None, catalogue: Catalogue | None = None) -> list[ReportRun]:
    """Produce every due report nobody has produced yet; returns the runs made by this call."""
    made = []
    for period in due_periods(now, settings):
        run_key = f"{period.kind}:{period.label}"
        run_id = _claim(engine, run_key, period.kind, period.label, now)
        if run_id is None:
            continue
        try:
            report = build_report(engine, period, catalogue=catalogue, language=settings.language)
            files = write_files(report, settings.formats, Path(settings.directory))
        except Exception as exc:  # noqa: BLE001 -- recorded; retried after RETRY_AFTER
            log.exception("report %s failed", run_key)
            with engine.begin() as conn:
                conn.execute(update(reports).where(reports.c.id == run_id).values(
                    status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=utcnow()))
            continue
        with engine.begin() as conn:
            row = conn.execute(update(reports).where(reports.c.id == run_id).values(
                status="done", files=files, finished_at=utcnow()).returning(*reports.c)).first()
        run = _run(row)
        made.append(run)
        title = to_document(report).title
        log.info("report %s written: %s", run_key, ", ".join(files.values()))
        if notify is not None:
            announce(notify, run, title, settings.recipients, now)
    return made


def announce(notify: Notifier, run: ReportRun, title: str, recipients: Sequence[str], now: datetime) -> None:
    """Tell the recipients where the files are, through the ``kesu_notify`` hook.

    The hook is about a ticket; a report has none, so it gets a placeholder ticket in helpdesk
    ``kesu`` (``kesu:report:monthly:2026-03``) that notifier plugins can recognise.
    """
    ticket = Ticket(ref=TicketRef(helpdesk="kesu", id=f"report:{run.kind}:{run.period}"), title=title)
    lines = "\n".join(f"{fmt}: {path}" for fmt, path in run.files.items())
    message = f"{title} 已生成（{run.period}）：\n{lines}"
    notify(ticket, [Notify(rule_id=RULES[run.kind], recipients=tuple(recipients), message=message,
                           reason=f"{title} 已生成", reason_en=f"report {run.kind} {run.period} written")], now)


def report_loop(engine: Engine, settings: ReportSettings, notify: Notifier | None,
                clock: Callable[[], datetime] = utcnow,
                catalogue: Catalogue | None = None) -> Callable[[threading.Event], None]:
    """The worker thread: check every ``check_interval`` seconds, the first time one interval after
    start (a process that starts is busy with its backlog first; the report can wait a minute)."""

    def loop(stop: threading.Event) -> None:
        while not stop.wait(settings.check_interval):
            try:
                run_due(engine, settings, clock(), notify=notify, catalogue=catalogue)
            except Exception:  # noqa: BLE001 -- the store hiccuped; try again next round
                log.exception("report loop error")

    return loop
