"""Helpers for the classification tests (facts, severity, routing, compensation).

``make_host`` builds a real plugin host with only the named built-ins enabled (the later
policies belong to other tests), ``Case`` plays one ticket through several events carrying each
plugin's state and the complaint record as the pipeline does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from kesu.effects import Effect, SetState
from kesu.models import Article, EventKind, Party, Ticket, TicketEvent, TicketRef
from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, Evaluation, PluginHost, build_plugin_manager

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai


def make_host(profile: str = "food", keep: Iterable[str] = ("facts", "severity"),
              sections: dict[str, Any] | None = None) -> PluginHost:
    keep = set(keep)
    disabled = [n for n in BUILTIN_PLUGINS if n not in keep and n not in ESSENTIAL_PLUGINS]
    pm = build_plugin_manager(disabled, load_entrypoints=False)
    return PluginHost(pm, sections or {}, disabled=disabled, profile=profile)


def ticket(title: str, body: str = "", *, email: str | None = "kehu@example.com", phone: str | None = None,
           customer: bool = True, fields: dict[str, Any] | None = None, tags: list[str] | None = None,
           articles: Iterable[Article] = (), group: str = "Users", tid: str = "7") -> Ticket:
    """A complaint as a customer wrote it (web form), with a customer who left an email."""
    arts = [Article(id="1", body=body, sender="Customer", type="web")] if body else []
    arts += list(articles)
    return Ticket(
        ref=TicketRef(helpdesk="zammad", id=tid), number=f"2026{tid}", title=title, articles=arts,
        customer=Party(id="42", name="王女士", email=email, phone=phone) if customer else None,
        tags=list(tags or []), fields=dict(fields or {}), group=group,
        created_at=NOW, updated_at=NOW,
    )


class Case:
    """One ticket over several events, as the pipeline carries it (state and record)."""

    def __init__(self, host: PluginHost, t: Ticket, record: dict[str, Any] | None = None,
                 states: dict[str, dict[str, Any]] | None = None) -> None:
        self.host, self.ticket = host, t
        self.record: dict[str, Any] = dict(record or {})
        self.states: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (states or {}).items()}

    def run(self, kind: EventKind = EventKind.created, now: datetime = NOW) -> Evaluation:
        result = self.host.evaluate(TicketEvent(kind=kind, ref=self.ticket.ref, received_at=now),
                                    self.ticket, self.states, now, record=self.record)
        assert not result.failures, result.failures
        for e in result.effects:
            if isinstance(e, SetState):
                self.states.setdefault(e.source, {}).update(e.values)
        self.record = dict(result.record)
        return result


def evaluate(host: PluginHost, t: Ticket, **kw: Any) -> Evaluation:
    return Case(host, t, **kw).run()


def of(result: Evaluation, source: str, type_: str | None = None) -> list[Effect]:
    return [e for e in result.effects if e.source == source and (type_ is None or e.type == type_)]


def one(result: Evaluation, source: str, type_: str) -> Any:
    found = of(result, source, type_)
    assert len(found) == 1, f"expected one {type_} from {source}, got {found}"
    return found[0]


def notes(result: Evaluation, source: str) -> list[tuple[str, str]]:
    """(rule_id, text) of the note lines a plugin wrote."""
    return [(e.rule_id, e.text) for e in of(result, source, "internal_note")]


def notifications(result: Evaluation, source: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(e.rule_id, e.recipients) for e in of(result, source, "notify")]
