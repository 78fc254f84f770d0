"""``kesu report``: monthly, quarterly, yearly reports and the special report of a major complaint.

Added to the root command in ``kesu.cli``; heavy imports stay inside the commands.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

report_app = typer.Typer(
    help="Complaint reports: 月报/季报/年报 (R-RPT-4.27, R-RPT-6.38.7) and the special report of a major "
         "complaint.", no_args_is_help=True)

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Path of kesu.toml")]
FormatOpt = Annotated[Optional[list[str]], typer.Option(
    "--format", "-f", help="xlsx, html, md or json; repeat for several (default: [reports] formats)")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Write one format to this file ('-' = standard output) instead of the directory")]
DirOpt = Annotated[Optional[Path], typer.Option(
    "--dir", help="Directory for the files (default: <[reports] directory>/on-demand)")]
StampOpt = Annotated[Optional[str], typer.Option(
    "--generated-at", help="ISO time to print as the generation time (default: none, so files are reproducible)")]
PremiumOpt = Annotated[Optional[str], typer.Option(
    "--premium", help="The period's premium for R-PEN-5.6.5: yuan, or with 万/亿 (12.5亿 = 1250000000)")]
PoliciesOpt = Annotated[Optional[str], typer.Option(
    "--policies", help="The period's policy count for R-PEN-5.6.5 (380000 or 38万)")]
LangOpt = Annotated[Optional[str], typer.Option(
    "--chart-lang", help="Language of chart titles and axes: zh or en (default: [reports] language)")]


def _run(config: Path | None, kind: str, period: str | None, formats: list[str] | None, output: Path | None,
         directory: Path | None, stamp: str | None, premium: str | None = None, policies: str | None = None,
         lang: str | None = None) -> None:
    from kesu.cli import _settings, _store_engine, console
    from kesu.report import FORMATS, Period, PeriodError, render
    from kesu.report.labels import Catalogue
    from kesu.report.major import NoComplaint
    from kesu.report.ratios import RatioInputError, inputs
    from kesu.report.runs import build, produce

    settings = _settings(config)
    formats = formats or list(settings.reports.formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        console.print(f"[red]unknown format {', '.join(bad)}[/red]; allowed: {', '.join(FORMATS)}")
        raise typer.Exit(2)
    if lang not in (None, "zh", "en"):
        console.print(f"[red]unknown language {lang}[/red]; allowed: zh, en")
        raise typer.Exit(2)
    try:
        given = inputs(premium, policies)
    except RatioInputError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    language = lang or settings.reports.language
    catalogue = Catalogue.from_settings(settings)
    if period is None:  # the last complete period in the report time zone
        period = Period.containing(kind, datetime.now(timezone.utc), settings.reports.timezone).previous().label  # type: ignore[arg-type]
    generated_at = _stamp(stamp)
    engine = _store_engine(config)
    try:
        if output is not None:
            if len(formats) != 1:
                console.print("[red]--output takes exactly one --format[/red]")
                raise typer.Exit(2)
            report = build(engine, kind, period, tz=settings.reports.timezone, generated_at=generated_at,
                           catalogue=catalogue, inputs=given, language=language)
            data = render(report, formats[0])
            if str(output) == "-":
                if formats[0] == "xlsx" and sys.stdout.isatty():
                    console.print("[red]not writing a spreadsheet to a terminal; use -o FILE[/red]")
                    raise typer.Exit(2)
                sys.stdout.buffer.write(data)
                sys.stdout.flush()
                return
            output.write_bytes(data)
            console.print(f"wrote {output}")
            return
        run = produce(engine, settings.reports, kind, period, trigger="cli", formats=formats,
                      directory=directory, generated_at=generated_at, catalogue=catalogue, inputs=given,
                      language=language)
    except (PeriodError, NoComplaint) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    for fmt, path in run.files.items():
        console.print(f"{fmt}: {path}")
    if run.inputs:
        shown = {"premium_yuan": lambda v: f"保费 {v:,.2f} 元", "policies": lambda v: f"保单数 {v:,} 张"}
        console.print("R-PEN-5.6.5: " + "，".join(shown[k](v) for k, v in run.inputs.items() if k in shown))


def _stamp(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@report_app.command("monthly")
def monthly(month: Annotated[Optional[str], typer.Option(help="YYYY-MM (default: last month)")] = None,
            fmt: FormatOpt = None, output: OutputOpt = None, directory: DirOpt = None, generated_at: StampOpt = None,
            premium: PremiumOpt = None, policies: PoliciesOpt = None, lang: LangOpt = None,
            config: ConfigOpt = None) -> None:
    """Monthly statistics (月报, R-RPT-4.27 / R-RPT-5.4.5.6)."""
    _run(config, "monthly", month, fmt, output, directory, generated_at, premium, policies, lang)


@report_app.command("quarterly")
def quarterly(quarter: Annotated[Optional[str], typer.Option(help="YYYY-Qn (default: last quarter)")] = None,
              fmt: FormatOpt = None, output: OutputOpt = None, directory: DirOpt = None,
              generated_at: StampOpt = None, premium: PremiumOpt = None, policies: PoliciesOpt = None,
              lang: LangOpt = None, config: ConfigOpt = None) -> None:
    """Quarterly analysis (季报, R-RPT-6.38.7)."""
    _run(config, "quarterly", quarter, fmt, output, directory, generated_at, premium, policies, lang)


@report_app.command("yearly")
def yearly(year: Annotated[Optional[str], typer.Option(help="YYYY (default: last year)")] = None,
           fmt: FormatOpt = None, output: OutputOpt = None, directory: DirOpt = None, generated_at: StampOpt = None,
           premium: PremiumOpt = None, policies: PoliciesOpt = None, lang: LangOpt = None,
           config: ConfigOpt = None) -> None:
    """Yearly analysis (年报, R-RPT-6.38.7)."""
    _run(config, "yearly", year, fmt, output, directory, generated_at, premium, policies, lang)


@report_app.command("major")
def major(ticket: Annotated[str, typer.Argument(help="The ticket: the number the helpdesk shows (31001) or kesu's key (zammad:12)")],
          fmt: FormatOpt = None, output: OutputOpt = None, directory: DirOpt = None, generated_at: StampOpt = None,
          config: ConfigOpt = None) -> None:
    """Special report of one major complaint (重大投诉专项报告, R-RPT-6.38.7)."""
    from kesu.admin.complaint_commands import resolve
    from kesu.cli import _settings, _store_engine

    engine = _store_engine(config)
    try:
        ticket = resolve(_settings(config), engine, ticket)
    finally:
        engine.dispose()
    _run(config, "major", ticket, fmt, output, directory, generated_at)


@report_app.command("list")
def list_reports(config: ConfigOpt = None, limit: Annotated[int, typer.Option(help="Rows to show")] = 20) -> None:
    """Reports produced (automatic, admin page, CLI) and where their files are."""
    from rich.table import Table

    from kesu.cli import _store_engine, console
    from kesu.report.runs import list_runs

    engine = _store_engine(config)
    table = Table("id", "kind", "period", "trigger", "status", "finished (UTC)", "files")
    for run in list_runs(engine, limit):
        finished: Any = run.finished_at.strftime("%Y-%m-%d %H:%M") if run.finished_at else "-"
        table.add_row(str(run.id), run.kind, run.period, run.trigger, run.status, finished,
                      "\n".join(run.files.values()) or (run.error or "-"))
    console.print(table)
    engine.dispose()
