"""A ticket's life through the real plugin host, event by event, without a database.

``Timeline`` keeps what the pipeline keeps between events (each plugin's state, the complaint
record, what was written) so deadline and escalation tests can play created -> updates -> timer
fired and assert the exact effects of each step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kesu.effects import Effect
from kesu.facts import Facts
from kesu.history import EmptyHistory, History
from kesu.models import Article, EventKind, Ticket, TicketEvent
from plugins import hookimpl
from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer, Plan, diff, merge

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


class FactsFrom:
    """An inline facts plugin: the test decides the facts."""

    def __init__(self, **facts: Any) -> None:
        self.facts = facts

    @hookimpl
    def kesu_extract_facts(self, ticket):
        return dict(self.facts)


def host(profile: str, *, plugins: Iterable[str] = ("deadlines",), sections: dict | None = None,
         facts: dict | None = None) -> PluginHost:
    """Only the named built-ins (others belong to other tests), plus optional inline facts."""
    disabled = set(BUILTIN_PLUGINS) - ESSENTIAL_PLUGINS - set(plugins)
    pm = build_plugin_manager(disabled, load_entrypoints=False)
    if facts is not None:
        pm.register(FactsFrom(**facts), name="testfacts")
    return PluginHost(pm, sections or {}, disabled=disabled, profile=profile)


class Timeline:
    def __init__(self, host: PluginHost, ticket: Ticket, record: dict[str, Any] | None = None,
                 history: History | None = None) -> None:
        self.host, self.ticket = host, ticket
        self.record: dict[str, Any] = dict(record or {})
        self.states: dict[str, dict[str, Any]] = {}
        self.applied: dict[str, Any] = {}
        self.history = history or EmptyHistory()
        self.notes: list[str] = []

    def event(self, kind: str, now: datetime, *, timer_key: str | None = None) -> Plan:
        ev = TicketEvent(kind=EventKind(kind), ref=self.ticket.ref, received_at=now, timer_key=timer_key)
        result = self.host.evaluate(ev, self.ticket, self.states, now, history=self.history, record=self.record)
        assert not result.failures, result.failures
        plan = merge(self.ticket.ref, result.effects, self.host.precedence)
        for source, values in plan.state.items():
            self.states[source] = {**self.states.get(source, {}), **values}
        self.record = result.record
        writes = diff(plan, self.ticket, self.applied, NoteRenderer("zh"))
        self.applied = writes.applied
        self.notes += writes.note_lines
        for tag in writes.writes.add_tags:
            self.ticket.tags.append(tag)
        if writes.writes.priority is not None:
            self.ticket.priority = writes.writes.priority
        return plan

    @property
    def facts(self) -> Facts:
        return self.host.extract_facts(self.ticket)[0]

    def reply(self, at: datetime, *, internal: bool = False, type: str = "email", sender: str = "Agent") -> None:
        n = str(len(self.ticket.articles) + 1)
        self.ticket.articles.append(Article(id=n, body="您好", internal=internal, sender=sender, type=type,
                                            created_at=at))
        self.ticket.updated_at = at


def effects_of(plan: Plan, kind: type[Effect], source: str | None = None) -> list[Any]:
    return [e for e in plan.effects if isinstance(e, kind) and (source is None or e.source == source)]
