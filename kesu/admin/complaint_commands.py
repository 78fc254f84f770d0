"""``kesu complaints``: the complaints view of the admin page on the command line, and the one
place the CLI turns a ticket as agents name it (``31001``) into kesu's key (``zammad:12``).

Added to the root command in ``kesu.cli``; heavy imports stay inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from kesu.settings import Settings

complaints_app = typer.Typer(
    help="Complaints kesu knows: list them most urgent first, show one ticket's decisions and ledger.",
    no_args_is_help=True)
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="Path of kesu.toml")]
TicketArg = Annotated[str, typer.Argument(help="The ticket: the number the helpdesk shows (31001) or kesu's key "
                                               "(zammad:12)")]


def _fail(line: str) -> None:
    typer.echo(line, err=True)
    raise typer.Exit(2)


def resolve(settings: Settings, engine: Engine, text: str) -> str:
    """kesu's key of the ticket ``text`` names; a name nobody knows ends the command with one line
    on stderr (exit 2). The helpdesk is asked only for a number kesu has not recorded."""
    from kesu.lookup import TicketLookupError, resolve_ticket

    def search(number: str) -> str | None:
        connector = _host(settings).connector_class(settings.helpdesk.kind)(settings.helpdesk)  # type: ignore[call-arg]
        try:
            return connector.find_by_number(number)
        finally:
            connector.close()

    try:
        return resolve_ticket(engine, settings.helpdesk.name, text, search=search)
    except TicketLookupError as exc:
        _fail(exc.message(settings.notes.language))
        raise  # unreachable: _fail exits


def _host(settings: Settings) -> Any:
    from plugins.manager import PluginHost, build_plugin_manager

    pm = build_plugin_manager(settings.plugins.disabled)
    return PluginHost(pm, settings.policies, settings.plugins.disabled, settings.profile)


def _views(settings: Settings, engine: Engine) -> Any:
    from kesu.admin.complaints import ComplaintViews, helpdesk_link

    hd = settings.helpdesk
    version = hd.options.get("version") if isinstance(hd.options, dict) else None
    return ComplaintViews(engine, helpdesk=hd.name,
                          link=lambda key: helpdesk_link(hd.kind, hd.url, key, version if isinstance(version, int) else None))


def _labels(settings: Settings, lang: str) -> Any:
    from kesu.admin.labels import Labels

    return Labels.for_settings(settings, lang)


@complaints_app.command("list")
def list_complaints(
    config: ConfigOpt = None,
    tier: Annotated[Optional[str], typer.Option(help="A tier: A, B, C, major, difficult, general")] = None,
    unit: Annotated[Optional[str], typer.Option(help="A responsible unit (生产班组)")] = None,
    state: Annotated[Optional[str], typer.Option(help="open, resolved or invalid")] = None,
    overdue: Annotated[Optional[bool], typer.Option("--overdue/--not-overdue", help="Only overdue, or none")] = None,
    search: Annotated[Optional[str], typer.Option("--search", "-s", help="Ticket number or customer")] = None,
    page: Annotated[int, typer.Option(help="Page (from 1)")] = 1,
    per_page: Annotated[int, typer.Option(help="Rows per page (1-200)")] = 25,
    lang: Annotated[Optional[str], typer.Option(help="zh or en (default: [notes] language)")] = None,
) -> None:
    """The complaints kesu has recorded, most urgent first (overdue, then the nearest deadline)."""
    from rich.table import Table

    from kesu.admin.complaints import FilterError, Filters
    from kesu.cli import _settings, _store_engine, _tz, _when, console

    settings = _settings(config)
    lang = lang or settings.notes.language
    engine, tz = _store_engine(config), _tz(config)
    try:
        found = _views(settings, engine).list(Filters(tier=tier, unit=unit, state=state, overdue=overdue, q=search,
                                                      page=page, per_page=per_page), _labels(settings, lang))
    except FilterError as exc:
        _fail(exc.message(lang))
        return
    finally:
        engine.dispose()
    table = Table("number", "key", "title", "tier", "cause", "units", "state", "next deadline", "follow-up",
                  title=f"{found.total} complaint(s), page {found.page}/{found.pages}")
    for c in found.items:
        due = ("OVERDUE " if c.overdue else "") + (_when(c.next_due, tz) if c.next_due else "")
        table.add_row(c.number or "-", c.ticket_key, c.title, c.tier_label, c.cause_label, c.units_label,
                      c.state_label, due.strip() or "-", c.followup_label or "-")
    console.print(table)


@complaints_app.command("show")
def show(ticket: TicketArg, config: ConfigOpt = None,
         lang: Annotated[Optional[str], typer.Option(help="zh or en (default: [notes] language)")] = None) -> None:
    """One complaint: its record, deadlines, decision trail with rule IDs, ledger entries, follow-ups."""
    from rich.markup import escape

    from kesu.cli import _settings, _store_engine, _tz, _when, console

    settings = _settings(config)
    lang = lang or settings.notes.language
    engine, tz = _store_engine(config), _tz(config)
    try:
        key = resolve(settings, engine, ticket)
        detail = _views(settings, engine).detail(key, _labels(settings, lang))
    finally:
        engine.dispose()
    if detail is None:
        from kesu import i18n

        _fail(i18n.said("no_complaint", lang, ticket=key))
        return
    c = detail.complaint
    out = [f"#{c.number or '-'}  {c.ticket_key}  {c.title}", f"{c.state_label}  {c.tier_label}  {c.cause_label}  "
           f"{c.units_label}" + ("  OVERDUE" if c.overdue else "")]
    if c.link:
        out.append(c.link)
    out += [f"  {name}: {value}" for _, name, value in detail.facts]
    out.append("")
    out += [f"{_when(d.due, tz)}  {d.name}" + (f"  met {_when(d.met_at, tz)}" if d.met_at else "")
            + ("  overdue" if d.overdue else "") for d in c.deadlines]
    out.append("")
    for t in detail.trail:
        text = t.text.replace("\n", " / ")
        out.append(f"{_when(t.at, tz)}  {t.rule_id or '-'}  {t.plugin or '-'}  {t.what_label}  {text}")
    if detail.ledger:
        out.append("")
    for e in detail.ledger:
        amount = f"{e['amount']:g}" if e["amount"] is not None else f"{e['amount_min'] or 0:g}-{e['amount_max'] or 0:g}"
        out.append(f"ledger #{e['id']}  {e['rule_id']}  {e['kind_label']}  {e['subject']}  {amount}  {e['status_label']}")
    console.print(escape("\n".join(out)), soft_wrap=True)
