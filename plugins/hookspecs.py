"""Every hook kesu calls, in one place.

A plugin is any object or module with functions marked ``@hookimpl`` (``from plugins import
hookimpl``); the function name must match a spec below. Built-in policies are ordinary plugins.
Each spec is documented in ``docs/hooks.md`` with its exact signature; a meta-test keeps the two
in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy
from pydantic import BaseModel

if TYPE_CHECKING:
    import typer

    from connector.base import Connector
    from kesu.effects import Effect, Notify
    from kesu.facts import Facts
    from kesu.history import History
    from kesu.models import Ticket, TicketEvent
    from kesu.ticket_fields import TicketField
    from plugins.plan import Plan

PROJECT = "kesu"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -------------------------------------------------------------------------------------------------
# configuration


@hookspec
def kesu_policy_config() -> type[BaseModel] | None:
    """Return the pydantic model of this plugin's ``[policies.<name>]`` configuration section.

    Called once per plugin when the host starts; the section is validated with the model and the
    validated instance is passed as ``config`` to this plugin's ``kesu_evaluate``. A plugin that
    has no configuration does not implement this hook.

    Results: collected per plugin (the host calls each implementation on its own).

    :returns: a ``pydantic.BaseModel`` subclass whose fields all have defaults.
    """


@hookspec
def kesu_ticket_fields(config: BaseModel | None) -> Iterable[TicketField] | None:
    """Return the ticket fields this plugin's configuration names (fields agents fill in).

    Called by ``kesu zammad setup``, ``kesu odoo setup`` and ``missing_fields`` with this plugin's
    validated configuration. A field belongs here exactly when the configuration names it (an empty
    name: no field); its options come from the configuration too (the profile's causes, tiers ...).
    A plugin that reads no ticket field does not implement this hook.

    Results: collected per plugin; declarations of one name are merged (options unioned, the first
    plugin's labels kept); two incompatible types for one name are a configuration error.

    :param config: this plugin's validated ``[policies.<name>]`` model (``None`` without one).
    :returns: ``kesu.ticket_fields.TicketField`` objects.
    """


# -------------------------------------------------------------------------------------------------
# connectors


@hookspec
def kesu_register_connectors() -> Iterable[type[Connector]]:
    """Return connector classes this plugin provides.

    The connector whose ``identifier`` equals ``[helpdesk] kind`` is used.

    Results: all collected; two classes with one identifier are a start-up error.

    :returns: an iterable of :class:`connector.base.Connector` subclasses.
    """


# -------------------------------------------------------------------------------------------------
# evaluation


@hookspec
def kesu_extract_facts(ticket: Ticket, config: BaseModel | None) -> Mapping[str, Any] | None:
    """Read business facts (cause, loss amount, people, channel, flags ...) from a ticket.

    Called before ``kesu_evaluate`` for each enabled plugin, each call isolated like
    ``kesu_evaluate``. Facts nobody can establish stay ``None``: never guess.

    Results: all collected and merged into one :class:`kesu.facts.Facts`; for each fact the
    first plugin (in registration order) that gives a value wins; ``flags`` and ``evidence`` are
    merged key by key the same way.

    :param ticket: the ticket as just read from the helpdesk.
    :param config: this plugin's validated configuration, or ``None``.
    :returns: a mapping of :class:`kesu.facts.Facts` field names to values, or ``None``.
    """


@hookspec
def kesu_evaluate(
    event: TicketEvent,
    ticket: Ticket,
    state: Mapping[str, Any],
    config: BaseModel | None,
    now: datetime,
    facts: Facts,
    history: History,
    record: Mapping[str, Any],
) -> Iterable[Effect] | None:
    """Decide what should happen to a ticket after an event.

    Called once per event for each enabled plugin, in registration order, each call isolated: an
    exception in one plugin is recorded (audit log, ``kesu_plugin_errors_total``) and the others still run. Policies must
    be pure: read nothing but the arguments and never the clock.

    Results: all collected; each effect is stamped with the plugin's name as ``source`` and the
    host merges them into one plan (see ``docs/architecture.md``, "Merging effects").

    :param event: what happened (created, updated, article added, closed, reopened, timer fired).
    :param ticket: the ticket as just read from the helpdesk.
    :param state: this plugin's own remembered values for the ticket (read-only; change it by
        returning :class:`kesu.effects.SetState`).
    :param config: this plugin's validated configuration, or ``None`` when it has none.
    :param now: the host's current time (timezone-aware UTC).
    :param facts: the facts every ``kesu_extract_facts`` implementation found.
    :param history: read-only views of kesu's records (past complaints of the customer, ledger
        counts) for rules that look beyond one ticket.
    :param record: the ticket's complaint record (tier, cause, units, deadlines, escalations ...)
        including the changes made in this event by plugins registered before this one (plugins
        are called in registration order); change it by returning
        :class:`kesu.effects.RecordComplaint`.
    :returns: effects, or ``None`` for nothing to do.
    """


# -------------------------------------------------------------------------------------------------
# effects


@hookspec
def kesu_plan_applied(ticket: Ticket, plan: Plan, calls: int) -> None:
    """Observe a plan after it was written to the helpdesk.

    Use it to export decisions elsewhere. Exceptions are logged and counted, never retried.

    Results: none (every implementation is called).

    :param ticket: the ticket as read before the write.
    :param plan: the merged plan, with every effect and its source.
    :param calls: helpdesk calls the write took (0 when nothing changed).
    """


@hookspec
def kesu_notify(ticket: Ticket, notification: Notify, now: datetime) -> None:
    """Deliver a notification outside the helpdesk (SMS, mail, chat).

    Called once the write that first decides a :class:`kesu.effects.Notify` is on the ticket (also
    when a later attempt finishes that write), before the write is marked applied: after a crash
    in between it is called again for the same notification, so a plugin that must deliver once
    keeps what it delivered by (ticket key, ``plugins.plan.notification_key``). The default
    delivery needs no plugin: the notification is a line of the ticket's internal note, inside
    the helpdesk where the recipients work. Exceptions are logged and counted, never retried.

    Results: none (every implementation is called).

    :param ticket: the ticket as read before the write.
    :param notification: recipients, message and the rule that asks for it.
    :param now: the host's current time.
    """


# -------------------------------------------------------------------------------------------------
# CLI


@hookspec
def kesu_register_commands(cli: typer.Typer) -> None:
    """Add sub-commands to the ``kesu`` command line.

    Results: none (every implementation is called once when the CLI starts).

    :param cli: the root ``typer.Typer`` application; call ``cli.command()`` or ``cli.add_typer``.
    """
