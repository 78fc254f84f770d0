"""The ``kesu`` command line."""

from __future__ import annotations

import logging
import os
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kesu.admin.commands import admin_app
from kesu.admin.complaint_commands import complaints_app
from kesu.report.commands import report_app
from kesu.errors import ConfigError, OperatorError, explain
from kesu.settings import Settings, find_config, load_settings, redact_url
from typer.core import TyperGroup

#: What one command line has learnt so far, for its error line: --debug, --lang, the language and
#: database of its settings. Reset when a command line starts (CliRunner runs many in one process).
_RUN: dict[str, Any] = {}


def _literal_brackets(cmd: Any) -> None:
    """Help texts name TOML sections (``[plugins] disabled``); rich markup would swallow them."""
    if getattr(cmd, "_kesu_literal", False):
        return
    cmd._kesu_literal = True  # type: ignore[attr-defined]
    if getattr(cmd, "rich_markup_mode", None) == "rich":
        for attr in ("help", "short_help", "epilog"):
            if isinstance(getattr(cmd, attr, None), str):
                setattr(cmd, attr, escape(getattr(cmd, attr)))
        for param in cmd.params:
            if isinstance(getattr(param, "help", None), str):
                param.help = escape(param.help)  # type: ignore[attr-defined]
    for sub in getattr(cmd, "commands", {}).values():
        _literal_brackets(sub)


def _lang_now() -> str:
    return str(_RUN.get("lang") or _RUN.get("config_lang") or "zh")


class KesuGroup(TyperGroup):
    """The one top-level handler: an expected failure (``kesu.errors.explain``) is one line on
    stderr in the user's language and an exit code; ``--debug`` (or ``KESU_DEBUG=1``) shows the
    traceback instead. Anything else is a bug and keeps its traceback."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        if parent is None:
            _RUN.clear()
        _literal_brackets(self)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if _RUN.get("debug") or os.environ.get("KESU_DEBUG", "") not in ("", "0"):
                raise
            failure = explain(exc, store_url=_RUN.get("store_url"))
            if failure is None:
                raise
            typer.echo(failure.line(_lang_now()), err=True)
            raise typer.Exit(failure.exit_code) from None


app = typer.Typer(help="kesu (客诉): complaint-handling policies for your helpdesk.", no_args_is_help=True,
                  cls=KesuGroup, pretty_exceptions_show_locals=False)
plugins_app = typer.Typer(help="List, enable and disable plugins.", no_args_is_help=True)
inbox_app = typer.Typer(help="Inspect and retry events.", no_args_is_help=True)
zammad_app = typer.Typer(help="Zammad administration.", no_args_is_help=True)
odoo_app = typer.Typer(help="Odoo administration.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
ledger_app = typer.Typer(help="Penalties and rewards: list, confirm, reject, reverse.", no_args_is_help=True)
followups_app = typer.Typer(help="Follow-up calls (回访) and the follow-up rate.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")
app.add_typer(inbox_app, name="inbox")
app.add_typer(zammad_app, name="zammad")
app.add_typer(odoo_app, name="odoo")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(ledger_app, name="ledger")
app.add_typer(followups_app, name="followups")
app.add_typer(report_app, name="report")
app.add_typer(admin_app, name="admin")
app.add_typer(complaints_app, name="complaints")

console = Console()
err_console = Console(stderr=True)
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Path of kesu.toml")]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    """The settings; a bad file or value raises ``ConfigError`` (one line, exit 2)."""
    settings = load_settings(config, **overrides)
    _RUN["config_lang"] = settings.notes.language  # the language and database of later error lines
    _RUN["store_url"] = settings.store.url
    return settings


def _checked_settings(config: Path | None) -> Settings:
    """The settings, refused (``ConfigError``) when a policy, the profile, the helpdesk kind, a
    URL or a path is wrong: what ``kesu doctor`` checks without a network."""
    from kesu.doctor import config_problems

    settings = _settings(config)
    problems = config_problems(settings)
    if problems:
        more_zh = f"（另有 {len(problems) - 1} 项，运行 kesu doctor 查看）" if len(problems) > 1 else ""
        more_en = f" ({len(problems) - 1} more: run kesu doctor)" if len(problems) > 1 else ""
        raise ConfigError(problems[0].text("zh") + more_zh, problems[0].text("en") + more_en)
    return settings


def _preflight(settings: Settings, *, provisioning: bool = True, optional: tuple[str, ...] = ()) -> None:
    """``kesu doctor``'s checks at start: the first failure stops kesu with one line; webhook,
    trigger and fields (what setup creates) and the ``optional`` checks are only warned about."""
    from kesu.doctor import preflight

    preflight(settings, _lang_now(), provisioning=provisioning, optional=optional,
              warn=lambda line: err_console.print(escape(line), soft_wrap=True, highlight=False))


def _services(settings: Settings) -> Any:
    from kesu.app import Services
    from plugins.manager import PluginConfigError

    try:
        return Services.build(settings)
    except PluginConfigError:
        raise  # explained by the top-level handler
    except ValueError as exc:  # connector options
        raise ConfigError(f"配置无效：{exc}", f"invalid configuration: {exc}") from None


def _long_running() -> None:
    """This process serves for long: reports render XLSX in a child process, so openpyxl's
    memory is not kept for good after the first report (issue 10)."""
    from kesu.report import runs

    runs.xlsx_in_child = True


def _config_error(exc: BaseException) -> None:
    # Messages name TOML sections like [policies.severity]: print them literally, not as markup.
    err_console.print("[red]configuration error:[/red] " + escape(str(exc)), soft_wrap=True)


# ------------------------------------------------------------------------------------------------
# serve / worker


@app.command()
def serve(
    config: ConfigOpt = None,
    host: Annotated[Optional[str], typer.Option(help="Listen address")] = None,
    port: Annotated[Optional[int], typer.Option(help="Listen port")] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Use a built-in sandbox helpdesk")] = False,
    helpdesk: Annotated[str, typer.Option("--helpdesk", help="Sandbox to run: zammad or odoo")] = "zammad",
    demo: Annotated[bool, typer.Option("--demo", help="File sample complaints and show the decisions")] = False,
    exit_after_demo: Annotated[bool, typer.Option(help="Stop once the demo has been shown")] = False,
    log_level: Annotated[str, typer.Option(help="Log level")] = "WARNING",
    skip_checks: Annotated[bool, typer.Option("--skip-checks", help="Start without kesu doctor's checks")] = False,
    worker_processes: Annotated[int, typer.Option(
        "--worker-processes", min=0, max=64,
        help="Run the workers in N processes of [worker] threads each instead of in this one (0 = in this one)")] = 0,
) -> None:
    """Run the webhook endpoint, workers and timers in one process.

    Without a config file this is the embedded default: SQLite (kesu.db) and the sandbox helpdesk;
    --demo without a config file keeps its data in a temporary database, discarded at exit.
    Starts only when kesu doctor's checks pass (webhook, trigger and fields: warnings).
    """
    import uvicorn

    from kesu.app import create_app
    from kesu.embedded import provision, run_demo, start_sandbox
    from kesu.provision import declared_fields
    from kesu.logs import configure_logging

    configure_logging(log_level)
    settings = _settings(config)
    if host:
        settings.server.host = host
    if port:
        settings.server.port = port
    embedded = None
    scratch = None
    if demo and settings.config_path is None and not any(k.upper() == "KESU_STORE__URL" for k in os.environ):
        # Each demo starts clean: its tickets must not pile up in ./kesu.db run after run.
        import tempfile

        scratch = tempfile.TemporaryDirectory(prefix="kesu-demo-")
        settings.store.url = f"sqlite:///{Path(scratch.name) / 'kesu.db'}"
    if sandbox or demo or settings.sandbox.enabled or settings.config_path is None:
        try:
            embedded = start_sandbox(settings, kind=helpdesk)
        except ValueError as exc:
            raise ConfigError(f"--helpdesk：{exc}", f"--helpdesk: {exc}") from None
        console.print(f"sandbox {helpdesk} at [bold]{embedded.sandbox.url}[/bold]")
    try:
        if not skip_checks:  # the sandbox's webhook, trigger and fields are provisioned once serving
            _preflight(settings, provisioning=embedded is None)
        services = _services(settings)
        _long_running()
    except BaseException:
        if embedded is not None:
            embedded.sandbox.stop()
        if scratch is not None:
            scratch.cleanup()
        raise
    fastapi_app = create_app(services, worker_threads=0 if worker_processes else None)
    server = uvicorn.Server(uvicorn.Config(fastapi_app, host=settings.server.host, port=settings.server.port,
                                           log_level=log_level.lower(), access_log=False, lifespan="on"))
    url = f"http://{settings.server.host}:{settings.server.port}"
    console.print(f"kesu {_version()} listening on [bold]{url}/webhooks/{settings.helpdesk.kind}[/bold], "
                  f"store {redact_url(settings.store.url)}" + (" (temporary, for this demo)" if scratch else ""),
                  soft_wrap=True)

    def after_start() -> None:
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.05)
        if embedded is not None:
            result = provision(settings, embedded)
            fields = result.fields.changes if result.fields is not None else []
            console.print(f"provisioned webhook, trigger and {len(fields)} ticket fields in the sandbox")
        if demo and embedded is not None:
            # The fields kesu sets in place of a tag (the tier), shown beside the tags.
            shown = tuple(f.name for f in declared_fields(settings, load_entrypoints=False) if f.tag_values)
            tickets = run_demo(embedded, fields=shown)
            _print_demo(tickets)
            if exit_after_demo:
                server.should_exit = True

    threading.Thread(target=after_start, daemon=True).start()
    supervisor = None
    failed: list[BaseException] = []
    if worker_processes:
        from kesu.processes import Supervisor

        # The intake, timers and other loops stay here; the worker threads run in the processes.
        supervisor = Supervisor(settings, worker_processes, timers=False, loops=False, log_level=log_level)
        watching = threading.Event()

        def supervise() -> None:
            try:
                supervisor.watch(watching)
            except Exception as exc:  # noqa: BLE001 -- shown after the server stopped
                failed.append(exc)
                server.should_exit = True

        # uvicorn re-raises the SIGTERM/SIGINT it stopped on once it is done: caught here, so
        # that the worker processes are stopped first, and raised again after that.
        import signal

        stopped_by: list[int] = []
        previous = {sig: signal.signal(sig, lambda sig, _frame: stopped_by.append(sig))
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        supervisor.start()
        threading.Thread(target=supervise, name="kesu-supervisor", daemon=True).start()
        console.print(f"{worker_processes} worker process(es) × {settings.worker.threads} thread(s)")
    try:
        server.run()
    finally:
        if supervisor is not None:
            watching.set()
            supervisor.stop()
        services.close()
        if embedded is not None:
            embedded.sandbox.stop()
        if scratch is not None:
            scratch.cleanup()
    if failed:
        raise failed[0]
    if supervisor is not None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in stopped_by[:1]:
            signal.raise_signal(sig)


def _print_demo(tickets: list[dict[str, Any]]) -> None:
    table = Table(title="Complaints processed by kesu (read back from the helpdesk)", show_lines=True)
    for col in ("#", "title", "priority", "tags / fields"):
        table.add_column(col, overflow="fold")
    table.add_column("kesu's internal note", overflow="fold", min_width=60)
    for t in tickets:
        notes = t["notes"]
        table.add_row(str(t["number"]), t["title"], str(t["priority"]),
                      ", ".join([*t["tags"], *(f"{k}={v}" for k, v in t.get("fields", {}).items())]),
                      escape(notes[-1]) if notes else "(no decision)")
    # Piped or redirected, rich would assume 80 columns and cut the notes; a terminal keeps its width.
    out = console if console.is_terminal else Console(width=max(console.width, 160))
    out.print(table)


@app.command()
def worker(
    config: ConfigOpt = None,
    timers: Annotated[bool, typer.Option(help="Also run the timer loop")] = True,
    processes: Annotated[Optional[int], typer.Option(
        "--processes", min=1, max=64, help="Worker processes to start (default: [worker] processes)")] = None,
    threads: Annotated[Optional[int], typer.Option(
        "--threads", min=1, help="Worker threads per process (default: [worker] threads)")] = None,
    log_level: Annotated[str, typer.Option(help="Log level")] = "INFO",
    skip_checks: Annotated[bool, typer.Option("--skip-checks", help="Start without kesu doctor's checks")] = False,
) -> None:
    """Run workers only (several processes, and several hosts on PostgreSQL, can share one store);
    starts when kesu doctor's checks pass. SIGTERM or Ctrl-C: claimed events are finished or
    handed back ([worker] shutdown_seconds)."""
    import signal

    from kesu.logs import configure_logging

    configure_logging(log_level)
    settings = _settings(config)
    if threads is not None:
        settings.worker.threads = threads
    count = processes if processes is not None else settings.worker.processes
    if not skip_checks:  # a worker receives no webhooks: their secret is only warned about
        _preflight(settings, optional=("config.webhook_secret",))
    if count > 1:
        from kesu.processes import run as run_processes
        from kesu.store.db import make_engine, migrate

        engine = make_engine(settings.store.url)
        try:
            migrate(engine)  # once, before the processes start
        finally:
            engine.dispose()
        console.print(f"{count} worker process(es) × {settings.worker.threads} thread(s) on "
                      f"{redact_url(settings.store.url)}; Ctrl-C stops", soft_wrap=True)
        run_processes(settings, count, timers=timers, log_level=log_level)
        return
    services = _services(settings)
    _long_running()
    prepare = getattr(services.connector, "prepare", None)
    if prepare is not None:
        prepare()
    runner = services.start_workers(timers=timers)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop_event.set())
    console.print(f"{len(runner.workers)} worker thread(s) on {redact_url(settings.store.url)}; Ctrl-C stops",
                  soft_wrap=True)
    try:
        runner.stop_event.wait()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


# ------------------------------------------------------------------------------------------------
# plugins


@plugins_app.command("list")
def plugins_list(config: ConfigOpt = None) -> None:
    """Show every plugin: name, version, hooks, enabled."""
    from plugins.manager import build_plugin_manager, list_plugins

    settings = _settings(config)
    table = Table("name", "version", "hooks", "enabled", "kind")
    for info in list_plugins(build_plugin_manager(settings.plugins.disabled)):
        kind = "essential" if info.essential else ("built-in" if info.builtin else "installed")
        table.add_row(info.name, info.version, ", ".join(info.hooks) or "-", "yes" if info.enabled else "no", kind)
    console.print(table)


def _set_disabled(config: Path | None, name: str, disable: bool) -> None:
    from kesu.admin.config_file import ConfigEditError, set_plugin_disabled  # shared with the admin page

    path = find_config(config) or Path.cwd() / "kesu.toml"
    try:
        set_plugin_disabled(path, name, disable)
    except ConfigEditError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    console.print(f"{name} {'disabled' if disable else 'enabled'} in {path}; restart kesu to apply")


@plugins_app.command("enable")
def plugins_enable(name: str, config: ConfigOpt = None) -> None:
    """Enable a plugin (removes it from [plugins] disabled)."""
    _set_disabled(config, name, disable=False)


@plugins_app.command("disable")
def plugins_disable(name: str, config: ConfigOpt = None) -> None:
    """Disable a plugin (adds it to [plugins] disabled)."""
    _set_disabled(config, name, disable=True)


# ------------------------------------------------------------------------------------------------
# inbox


def _inbox(config: Path | None) -> Any:
    from kesu.store.db import make_engine, migrate
    from kesu.store.inbox import Inbox

    settings = _settings(config)
    engine = make_engine(settings.store.url)
    migrate(engine)
    return Inbox(engine)


@inbox_app.command("list")
def inbox_list(
    config: ConfigOpt = None,
    status: Annotated[Optional[str], typer.Option(help="pending, processing, done, skipped, dead")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show")] = 50,
) -> None:
    """Show recent events and the queue's depth."""
    inbox = _inbox(config)
    depth = inbox.depth()
    console.print("  ".join(f"{k}: {v}" for k, v in depth.items()))
    table = Table("id", "ticket", "kind", "source", "delivery", "status", "tries", "last error")
    for r in inbox.list(status, limit):
        table.add_row(str(r["id"]), r["ticket_key"], r["kind"], r["source"], r["delivery_id"] or "-",
                      r["status"], str(r["attempts"]), (r["last_error"] or "")[:80])
    console.print(table)


@inbox_app.command("retry")
def inbox_retry(
    ids: Annotated[Optional[list[int]], typer.Argument(help="Dead event ids")] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Every dead-lettered event")] = False,
    config: ConfigOpt = None,
) -> None:
    """Put dead-lettered events back in the queue."""
    from kesu.store.db import utcnow

    if not ids and not all_dead:
        console.print("[red]give event ids or --all[/red]")
        raise typer.Exit(2)
    n = _inbox(config).retry_dead(None if all_dead else ids, utcnow())
    console.print(f"{n} event(s) queued again")


@inbox_app.command("rejected")
def inbox_rejected(config: ConfigOpt = None, limit: Annotated[int, typer.Option()] = 20) -> None:
    """Show rejected webhook deliveries (their raw bodies are kept)."""
    table = Table("id", "received", "status", "reason", "body (start)")
    for r in _inbox(config).rejected(limit):
        table.add_row(str(r["id"]), str(r["received_at"]), str(r["status_code"]), r["reason"],
                      bytes(r["body"])[:60].decode("utf-8", "replace"))
    console.print(table)


# ------------------------------------------------------------------------------------------------
# ledger (penalties and rewards, R-PEN-* / R-REW-*) and follow-ups (回访, R-CB-6.36)


def _store_engine(config: Path | None) -> Any:
    from kesu.store.db import make_engine, migrate

    engine = make_engine(_settings(config).store.url)
    migrate(engine)
    return engine


def _tz(config: Path | None) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(_settings(config).notes.timezone)


def _when(dt: datetime | None, tz: Any) -> str:
    if dt is None:
        return "-"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _ticket_key(config: Path | None, engine: Any, ticket: str) -> str:
    """kesu's key of a ticket as agents name it (31001) or as kesu does (zammad:12)."""
    from kesu.admin.complaint_commands import resolve

    return resolve(_settings(config), engine, ticket)


def _amount(e: Any) -> str:
    if e.amount is not None:
        return f"{e.amount:g}"
    if e.amount_min is not None or e.amount_max is not None:
        return f"{e.amount_min:g}–{e.amount_max:g}"
    return "-"


def _ledger_call(action: Any) -> Any:
    from kesu.ledger import LedgerError

    try:
        return action()
    except LedgerError as exc:  # the ledger says why; nothing was written
        console.print("[red]refused:[/red] " + escape(str(exc)), soft_wrap=True)
        raise typer.Exit(2) from None


@ledger_app.command("list")
def ledger_list(
    config: ConfigOpt = None,
    status: Annotated[Optional[str], typer.Option(help="proposed, confirmed, rejected or reversal")] = None,
    subject: Annotated[Optional[str], typer.Option(help="Person or unit")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only proposals nobody has decided yet")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show")] = 200,
    ticket: Annotated[Optional[str], typer.Option(help="Only this ticket: its number (31001) or key (zammad:12)")] = None,
) -> None:
    """Show ledger entries: penalties, rewards, admonitions, score deductions."""
    from kesu.ledger import Ledger

    if status is not None and status not in ("proposed", "confirmed", "rejected", "reversal"):
        console.print(f"[red]unknown status {escape(status)!r}[/red]; allowed: proposed, confirmed, rejected, reversal")
        raise typer.Exit(2)
    ledger, tz = Ledger(_store_engine(config)), _tz(config)
    key = _ticket_key(config, ledger.engine, ticket) if ticket else None
    if open_only:
        rows = [e for e in ledger.open_proposals()
                if (status is None or e.status == status) and (subject is None or e.subject == subject)
                and (key is None or e.ticket_key == key)][:limit]
    else:
        rows = ledger.entries(status=status, subject=subject, ticket_key=key, limit=limit)
    table = Table("id", "created", "ticket", "rule", "kind", "subject", "amount", "status", "by", "refers to",
                  "note", title=f"{len(rows)} ledger entr{'y' if len(rows) == 1 else 'ies'}")
    for e in rows:
        table.add_row(str(e.id), _when(e.created_at, tz), e.ticket_key, e.rule_id, e.kind, e.subject, _amount(e),
                      e.status, e.decided_by or "-", str(e.refers_to) if e.refers_to else "-", e.note or "")
    console.print(table)


@ledger_app.command("confirm")
def ledger_confirm(
    entry_id: Annotated[int, typer.Argument(help="Id of the proposal")],
    by: Annotated[str, typer.Option("--by", help="Who decided")],
    amount: Annotated[Optional[float], typer.Option(help="Yuan; required for a range, inside it")] = None,
    note: Annotated[str, typer.Option(help="Why")] = "",
    config: ConfigOpt = None,
) -> None:
    """Confirm a proposal (a range needs --amount inside it)."""
    from kesu.ledger import Ledger

    ledger = Ledger(_store_engine(config))
    done = _ledger_call(lambda: ledger.confirm(entry_id, amount, by, note))
    console.print(f"entry {done.id}: {done.rule_id} {done.kind} {escape(done.subject)} {_amount(done)} confirmed "
                  f"by {escape(done.decided_by or '')} (proposal {entry_id})", soft_wrap=True)


@ledger_app.command("reject")
def ledger_reject(
    entry_id: Annotated[int, typer.Argument(help="Id of the proposal")],
    by: Annotated[str, typer.Option("--by", help="Who decided")],
    note: Annotated[str, typer.Option(help="Why")] = "",
    config: ConfigOpt = None,
) -> None:
    """Reject a proposal."""
    from kesu.ledger import Ledger

    ledger = Ledger(_store_engine(config))
    done = _ledger_call(lambda: ledger.reject(entry_id, by, note))
    console.print(f"entry {done.id}: proposal {entry_id} ({done.rule_id}, {escape(done.subject)}) rejected "
                  f"by {escape(done.decided_by or '')}", soft_wrap=True)


@ledger_app.command("reverse")
def ledger_reverse(
    entry_id: Annotated[int, typer.Argument(help="Id of a confirmed entry")],
    by: Annotated[str, typer.Option("--by", help="Who corrects it")],
    note: Annotated[str, typer.Option(help="Why (required)")],
    config: ConfigOpt = None,
) -> None:
    """Correct a confirmed entry with a reversing entry (the ledger is append-only)."""
    from kesu.ledger import Ledger

    if not note.strip():
        console.print("[red]refused:[/red] a reversal needs --note saying why")
        raise typer.Exit(2)
    ledger = Ledger(_store_engine(config))
    done = _ledger_call(lambda: ledger.reverse(entry_id, by, note))
    console.print(f"entry {done.id}: reverses entry {entry_id} ({done.rule_id}, {escape(done.subject)}, "
                  f"{_amount(done)}) by {escape(done.decided_by or '')}", soft_wrap=True)


@followups_app.command("list")
def followups_list(
    config: ConfigOpt = None,
    status: Annotated[Optional[str], typer.Option(help="due or done")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only due follow-ups past their due time")] = False,
    ticket: Annotated[Optional[str], typer.Option(help="Only this ticket: its number (31001) or key (zammad:12)")] = None,
) -> None:
    """Show follow-up calls, the follow-up rate (target 100 %) and the satisfaction rate."""
    from kesu.store.db import utcnow
    from kesu.store.tickets import list_followups

    if status is not None and status not in ("due", "done"):
        console.print(f"[red]unknown status {escape(status)!r}[/red]; allowed: due, done")
        raise typer.Exit(2)
    engine, tz = _store_engine(config), _tz(config)
    every = list_followups(engine)
    if ticket:
        key = _ticket_key(config, engine, ticket)
        every = [r for r in every if r["ticket_key"] == key]
    now = utcnow()

    def late(r: dict[str, Any]) -> bool:
        due = r["due_at"] if r["due_at"].tzinfo else r["due_at"].replace(tzinfo=timezone.utc)
        return r["status"] == "due" and due < now

    rows = [r for r in every if (status is None or r["status"] == status) and (not overdue or late(r))]
    table = Table("ticket", "rule", "resolved", "due", "status", "outcome", "attempts", "done",
                  title=f"{len(rows)} follow-up(s)")
    for r in rows:
        state = r["status"] + (" (overdue)" if late(r) else "")
        table.add_row(r["ticket_key"], r["rule_id"], _when(r["resolved_at"], tz), _when(r["due_at"], tz), state,
                      r["outcome"] or "-", str(r["attempts"]), _when(r["done_at"], tz))
    console.print(table)
    done = [r for r in every if r["status"] == "done"]
    rate = f"{len(done)}/{len(every)} ({100 * len(done) / len(every):.1f} %)" if every else "- (no follow-ups yet)"
    judged = [r for r in done if r["outcome"] in ("satisfied", "dissatisfied")]
    happy = sum(1 for r in judged if r["outcome"] == "satisfied")
    sat = f"{happy}/{len(judged)} ({100 * happy / len(judged):.1f} %)" if judged else "-"
    console.print(escape(f"follow-up rate {rate}, target 100 % [R-CB-6.36]; satisfaction {sat}"), soft_wrap=True)


# ------------------------------------------------------------------------------------------------
# sync (catch-up poll)


@app.command()
def sync(
    config: ConfigOpt = None,
    since: Annotated[Optional[str], typer.Option(help="ISO time; default: the kept cursor, else 24 h ago")] = None,
) -> None:
    """Queue every ticket changed since a moment (catch up on missed webhooks)."""
    from rich.progress import Progress

    from kesu.sync import poll_once

    settings = _settings(config)
    services = _services(settings)
    start = datetime.fromisoformat(since) if since else None
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    try:
        with Progress(console=console) as progress:
            task = progress.add_task("polling", total=None)
            result = poll_once(services, since=start, on_item=lambda: progress.advance(task))
    finally:
        services.close()
    console.print(f"{result.seen} changed ticket(s), {result.queued} queued, "
                  f"{result.own} caused by kesu; cursor now {result.cursor}")


# ------------------------------------------------------------------------------------------------
# zammad


@zammad_app.command("setup")
def zammad_setup(
    config: ConfigOpt = None,
    webhook_url: Annotated[Optional[str], typer.Option(help="How Zammad reaches kesu")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing")] = False,
) -> None:
    """Create or update kesu's webhook, trigger and ticket fields in Zammad (idempotent)."""
    from kesu.embedded import provision

    settings = _settings(config)
    if webhook_url:
        settings.helpdesk.webhook_base_url = webhook_url.split("/webhooks/")[0]
    if not settings.helpdesk.webhook_secret.get_secret_value():
        raise ConfigError("必须设置 [helpdesk] webhook_secret（环境变量 KESU_HELPDESK__WEBHOOK_SECRET）",
                          "[helpdesk] webhook_secret must be set (KESU_HELPDESK__WEBHOOK_SECRET)")
    result = provision(settings, dry_run=dry_run)  # helpdesk and configuration errors: one line (KesuGroup)
    console.print(escape(result.describe(settings.notes.language)))


@odoo_app.command("setup")
def odoo_setup(
    config: ConfigOpt = None,
    webhook_url: Annotated[Optional[str], typer.Option(help="How Odoo reaches kesu (…/webhooks/odoo)")] = None,
    admin_key: Annotated[Optional[str], typer.Option(envvar="KESU_ODOO_ADMIN_KEY", help="API key of an Odoo administrator (the bot needs no Settings rights)")] = None,
    admin_login: Annotated[Optional[str], typer.Option(help="That administrator's login (Odoo 16-18)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing")] = False,
) -> None:
    """Create or update kesu's automation rule, webhook action and ticket fields in Odoo, and check the
    To-Do activity type (idempotent); 16: the fields, and polling instead of the webhook."""
    from connector.odoo.connector import OdooConnector
    from connector.odoo.setup import setup_from_settings
    from kesu.provision import declared_fields

    settings = _settings(config)
    fields = declared_fields(settings)  # a configuration error: one line (KesuGroup)
    try:  # a helpdesk error is explained by the top-level handler (one line on stderr)
        result = setup_from_settings(settings.helpdesk, webhook_url=webhook_url, admin_key=admin_key,
                                     admin_login=admin_login, fields=fields, language=settings.notes.language,
                                     dry_run=dry_run)
    except ValueError as exc:  # no Helpdesk app, no webhook secret, a bad webhook URL
        raise OperatorError(f"odoo setup 失败：{exc}", f"odoo setup failed: {exc}") from None
    every = settings.worker.sync_interval or OdooConnector.reconcile_interval
    console.print(escape(result.describe(every, settings.notes.language)))


# ------------------------------------------------------------------------------------------------
# init


@app.command()
def init(
    profile: Annotated[str, typer.Option(help="food, insurance, realestate, retail or utility")] = "food",
    path: Annotated[Path, typer.Option("--path", help="File to write")] = Path("kesu.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file")] = False,
) -> None:
    """Write a commented kesu.toml with an industry profile's rules (tiers, routing, deadlines ...)."""
    from policies import profiles

    if profile not in profiles.PROFILES:
        console.print(f"[red]unknown profile {escape(profile)!r}[/red]; allowed: {', '.join(profiles.PROFILES)}")
        raise typer.Exit(2)
    if path.exists() and not force:
        console.print(f"[red]{path} exists[/red]; use --force to overwrite")
        raise typer.Exit(2)
    header = "\n".join([
        f"# kesu configuration -- profile {profile!r}, written by `kesu init`.",
        "# Every [policies.*] value below is the profile's default; change what your regulation says.",
        "# Secrets: set KESU_HELPDESK__TOKEN and KESU_HELPDESK__WEBHOOK_SECRET in the environment.",
        "",
        f'profile = "{profile}"   # fills any [policies.*] key you delete below',
        "",
        "[helpdesk]",
        'kind = "zammad"',
        'url = "https://zammad.example.com"',
        'bot_login = "kesu-bot@example.com"',
        'webhook_base_url = "https://kesu.example.com"   # how Zammad reaches kesu',
        "",
        "[store]",
        'url = "sqlite:///kesu.db"',
        "",
        "",
    ])
    # Owner-only (0600) like every kesu.toml kesu writes: it will hold admin tokens and secrets.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(header + profiles.text(profile))
    console.print(f"wrote {path} (profile {profile})")


# ------------------------------------------------------------------------------------------------
# db, config


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply database migrations."""
    from kesu.store.db import current_revision, make_engine, migrate

    engine = make_engine(_settings(config).store.url)
    migrate(engine)
    console.print(f"schema at revision {current_revision(engine)}")


@config_app.command("show")
def config_show(config: ConfigOpt = None) -> None:
    """Print the effective configuration (secrets redacted); refuse an invalid one (exit 2)."""
    settings = _checked_settings(config)
    console.print(f"# from {settings.config_path or 'embedded defaults'}")
    shown = settings.model_copy(deep=True)
    shown.store.url = redact_url(shown.store.url)  # the URL may carry the database password
    from plugins.manager import redact_secrets

    shown.policies = redact_secrets(shown.policies)  # a group bot's webhook and signing secret
    console.print_json(shown.model_dump_json(exclude={"config_path"}))


LangOpt = Annotated[Optional[str], typer.Option("--lang", help="zh or en (default: KESU_LANG, else [notes] language)")]


def _set_lang(lang: str | None) -> None:
    if lang is None:
        return
    if lang not in ("zh", "en"):
        raise typer.BadParameter(f"{lang!r}: use zh or en", param_hint="--lang")
    _RUN["lang"] = lang


@app.command()
def doctor(config: ConfigOpt = None, lang: LangOpt = None) -> None:
    """Check the whole installation: configuration, database, helpdesk (token, rights, webhook,
    trigger, ticket fields). One line per check; exit 1 when any fails."""
    from kesu.doctor import run_checks

    _set_lang(lang)
    settings = _settings(config)
    shown = _lang_now()
    results = run_checks(settings, on_check=lambda c: console.print(escape(c.line(shown)), soft_wrap=True,
                                                                    highlight=False))
    failed = sum(1 for c in results if c.failed)
    if shown == "en":
        summary = f"{len(results)} checks: {failed} failed" if failed else f"{len(results)} checks: all passed"
    else:
        summary = f"共 {len(results)} 项检查：{failed} 项未通过" if failed else f"共 {len(results)} 项检查：全部通过"
    console.print(summary, highlight=False)
    if failed:
        raise typer.Exit(1)


@config_app.command("check")
def config_check(config: ConfigOpt = None, lang: LangOpt = None) -> None:
    """The same as kesu doctor."""
    doctor(config, lang)


def _version() -> str:
    from kesu import __version__

    return __version__


def main() -> None:
    from plugins.manager import build_plugin_manager

    try:
        disabled = load_settings(os.environ.get("KESU_CONFIG")).plugins.disabled
    except Exception:  # noqa: BLE001 -- a bad config is reported by the command itself
        disabled = []
    try:
        build_plugin_manager(disabled).hook.kesu_register_commands(cli=app)
    except Exception as exc:  # noqa: BLE001
        logging.getLogger(__name__).warning("plugin commands not loaded: %s", exc)
    app()



# ------------------------------------------------------------------------------------------------
# eval

eval_app = typer.Typer(help="Measure how well kesu reads complaints (labelled corpus).", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("facts")
def eval_facts(
    config: ConfigOpt = None,
    profile: Annotated[Optional[str], typer.Option(help="Profile to measure (default: the configured one; "
                                                       "without a kesu.toml: every profile)")] = None,
    split: Annotated[str, typer.Option(help="Corpus part: dev, heldout or all")] = "heldout",
    file: Annotated[Optional[Path], typer.Option("--file", help="A JSONL file of cases instead of the corpus "
                                                 "(e.g. kesu facts corrections export)")] = None,
    labels: Annotated[bool, typer.Option("--labels", help="Play the labelled facts instead of reading the text: "
                                         "checks that labels and policies agree")] = False,
    threshold: Annotated[Optional[float], typer.Option(help="Exit 1 when tier, units, a key flag's precision or "
                                                       "recall or the loss amount falls below this (0-1)")] = None,
    misses: Annotated[bool, typer.Option("--misses/--no-misses", help="List the misses")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Per-fact precision/recall, tier/unit/escalation accuracy, cause confusion and the misses.

    Uses the site's configuration (its added words included) for the configured profile."""
    import json as _json

    from kesu import factcheck
    from policies.profiles import PROFILES

    site_profile, sections = None, {}
    if config is not None or Path("kesu.toml").exists():
        settings = _settings(config)
        site_profile, sections = settings.profile, settings.policies
    if profile is not None and profile not in PROFILES:
        err_console.print(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
        raise typer.Exit(2)
    profiles = [profile] if profile else ([site_profile] if site_profile else list(PROFILES))
    splits = list(factcheck.SPLITS) if split == "all" else [split]
    if split not in (*factcheck.SPLITS, "all"):
        err_console.print(f"unknown split {split!r}; allowed: dev, heldout, all")
        raise typer.Exit(2)
    reports = []
    try:
        for p in profiles:
            own = sections if p == site_profile else {}
            if file is not None:
                reports.append(factcheck.evaluate(p, factcheck.load_cases(file), split=file.name, labels=labels,
                                                  sections=own))
                continue
            for s in splits:
                path = factcheck.corpus_path(p, s)
                if not path.exists():
                    continue
                reports.append(factcheck.evaluate(p, factcheck.load_cases(path), split=s, labels=labels,
                                                  sections=own))
    except factcheck.CorpusError as exc:
        err_console.print(f"corpus error: {exc}")
        raise typer.Exit(2) from None
    failed = [b for r in reports for b in factcheck.below(r, threshold)] if threshold is not None else []
    if as_json:
        typer.echo(_json.dumps({"reports": [r.as_dict() for r in reports], "below_threshold": failed},
                               ensure_ascii=False, indent=1))
    else:
        for r in reports:
            typer.echo(factcheck.render(r, misses=misses))
            typer.echo("")
        if failed:
            typer.echo(f"below {threshold:.0%}: " + "; ".join(failed))
    if failed:
        raise typer.Exit(1)


facts_app = typer.Typer(help="What kesu reads from complaints, and agents' corrections of it.", no_args_is_help=True)
corrections_app = typer.Typer(help="Agents' corrections of facts kesu read (labelled examples).", no_args_is_help=True)
app.add_typer(facts_app, name="facts")
facts_app.add_typer(corrections_app, name="corrections")


@corrections_app.command("export")
def corrections_export(
    config: ConfigOpt = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="JSONL file (default: standard output)")] = None,
) -> None:
    """Write every ticket whose facts an agent corrected as a labelled case (JSONL, the corpus format).

    Check the current reader on them with `kesu eval facts --file FILE`; add them to your own
    corpus after review (a label must be what the regulation decides)."""
    import json as _json

    from kesu import factcheck

    engine = _store_engine(config)
    lines = [_json.dumps(case, ensure_ascii=False) for case in factcheck.corrections(engine)]
    text = "\n".join(lines) + ("\n" if lines else "")
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"{len(lines)} corrected case(s) written to {output}")


def _print_version(value: bool) -> None:
    if value:
        from kesu import __version__

        typer.echo(f"kesu {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print kesu's version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", envvar="KESU_DEBUG",
                                        help="Show the traceback of an error instead of one line.")] = False,
    lang: Annotated[Optional[str], typer.Option("--lang", envvar="KESU_LANG",
                                                help="Language of messages: zh or en (default: [notes] language)")] = None,
) -> None:
    _RUN["debug"] = debug
    _set_lang(lang)
    # One-shot commands log only errors (their failure is the one line the handler prints);
    # serve and worker set up their own logging. --debug shows everything.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.DEBUG if debug else logging.ERROR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if debug:
        root.setLevel(logging.DEBUG)


if __name__ == "__main__":
    main()
