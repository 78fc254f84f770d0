"""Merging effects into one plan, and turning a plan into the writes a ticket still needs.

Merging (documented in docs/architecture.md, "Merging effects"):

* priority: the **highest** priority wins (the stricter decision);
* group, owner, each custom field: the plugin registered **first** wins (built-ins in
  ``BUILTIN_PLUGINS`` order, then installed plugins); the losing effects are kept in
  ``plan.conflicts`` and shown in the note;
* tags: union of additions and union of removals; a tag both added and removed is added;
* note lines, to-dos, notifications, ledger entries: all kept, in evaluation order;
* complaint record values: later values overwrite earlier ones, except ``escalations``
  (appended) and ``deadlines`` / ``extra`` (merged key by key);
* timers: keyed by (plugin, key); a later schedule of the same key moves it; cancel wins over a
  schedule of the same key in the same event.

Diffing: kesu writes a decision once. ``applied`` (kept in the ticket's state) remembers what kesu
already decided; a decision equal to the remembered one is not written again, even when an agent
has changed the ticket since (kesu does not fight people). A decision the ticket already shows is
remembered without a write. Only new decisions get a note line, so a repeated event writes
nothing and makes no call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from connector.base import Todo, WriteSet
from kesu import i18n
from kesu.effects import (
    AddTags,
    AssignGroup,
    AssignOwner,
    CancelTimer,
    Effect,
    FollowUpTodo,
    InternalNote,
    LedgerEntry,
    Notify,
    RecordComplaint,
    RemoveTags,
    ScheduleTimer,
    SetField,
    SetPriority,
    SetState,
)
from kesu.models import Priority, Ticket, TicketRef


@dataclass
class Conflict:
    what: str
    kept: Effect
    dropped: Effect


@dataclass
class Plan:
    ref: TicketRef
    effects: list[Effect] = field(default_factory=list)
    priority: SetPriority | None = None
    group: AssignGroup | None = None
    owner: AssignOwner | None = None
    fields: dict[str, SetField] = field(default_factory=dict)
    add_tags: dict[str, AddTags] = field(default_factory=dict)
    remove_tags: dict[str, RemoveTags] = field(default_factory=dict)
    notes: list[InternalNote] = field(default_factory=list)
    timers: dict[tuple[str, str], ScheduleTimer] = field(default_factory=dict)
    cancels: dict[tuple[str, str], CancelTimer] = field(default_factory=dict)
    todos: list[FollowUpTodo] = field(default_factory=list)
    notifications: list[Notify] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # this event's record changes only
    conflicts: list[Conflict] = field(default_factory=list)


def merge(ref: TicketRef, effects: list[Effect], precedence: Mapping[str, int]) -> Plan:
    """Merge effects from all plugins into one plan by the rules in the module docstring."""
    plan = Plan(ref=ref, effects=list(effects))
    rank = lambda e: precedence.get(e.source, len(precedence))  # noqa: E731

    def pick(what: str, current: Any, new: Any, new_wins: bool) -> Any:
        if current is None:
            return new
        kept, dropped = (new, current) if new_wins else (current, new)
        if _value(kept) != _value(dropped):
            plan.conflicts.append(Conflict(what, kept, dropped))
        return kept

    for e in effects:
        if isinstance(e, SetPriority):
            new_wins = plan.priority is not None and e.priority > plan.priority.priority
            plan.priority = pick("priority", plan.priority, e, new_wins)
        elif isinstance(e, AssignGroup):
            plan.group = pick("group", plan.group, e, plan.group is not None and rank(e) < rank(plan.group))
        elif isinstance(e, AssignOwner):
            plan.owner = pick("owner", plan.owner, e, plan.owner is not None and rank(e) < rank(plan.owner))
        elif isinstance(e, SetField):
            cur = plan.fields.get(e.name)
            plan.fields[e.name] = pick(f"field {e.name}", cur, e, cur is not None and rank(e) < rank(cur))
        elif isinstance(e, AddTags):
            for tag in e.tags:
                plan.add_tags.setdefault(tag, e)
        elif isinstance(e, RemoveTags):
            for tag in e.tags:
                plan.remove_tags.setdefault(tag, e)
        elif isinstance(e, InternalNote):
            plan.notes.append(e)
        elif isinstance(e, ScheduleTimer):
            plan.timers[(e.source, e.key)] = e
        elif isinstance(e, CancelTimer):
            plan.cancels[(e.source, e.key)] = e
        elif isinstance(e, FollowUpTodo):
            plan.todos.append(e)
        elif isinstance(e, Notify):
            plan.notifications.append(e)
        elif isinstance(e, LedgerEntry):
            plan.ledger.append(e)
        elif isinstance(e, SetState):
            plan.state.setdefault(e.source, {}).update(e.values)
        elif isinstance(e, RecordComplaint):
            merge_record(plan.record, e.values)
    for tag in list(plan.remove_tags):
        if tag in plan.add_tags:
            del plan.remove_tags[tag]
    for key in plan.cancels:
        plan.timers.pop(key, None)
    return plan


def merge_record(record: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Merge complaint-record values: ``escalations`` append, ``deadlines`` and ``extra`` merge
    key by key, everything else is replaced."""
    for k, v in values.items():
        if k == "escalations":
            record[k] = list(record.get(k) or []) + list(v)
        elif k in ("deadlines", "extra"):
            record[k] = {**(record.get(k) or {}), **v}
        else:
            record[k] = v


def _value(e: Effect) -> Any:
    if isinstance(e, SetPriority):
        return e.priority
    if isinstance(e, AssignGroup):
        return e.group
    if isinstance(e, AssignOwner):
        return e.owner
    if isinstance(e, SetField):
        return e.value
    return e


# ------------------------------------------------------------------------------------------------
# rendering note lines

# The words of notes are the "note", "priority", "note_what" and "note_ledger" contexts of kesu's
# gettext catalogue (kesu/i18n/locale/*/LC_MESSAGES/kesu.po).


def _amount(entry: Any, lang: str) -> str:
    """`` 1000 元`` / `` 500–2000 元`` for a range (a person decides), ``""`` without an amount."""
    unit = " 元" if lang == "zh" else " yuan"
    if entry.amount is not None:
        return f" {entry.amount:g}{unit}"
    if entry.amount_min is not None and entry.amount_max is not None:
        return f" {entry.amount_min:g}–{entry.amount_max:g}{unit}"
    return ""


class NoteRenderer:
    def __init__(self, language: str = "zh", tz: str = "Asia/Shanghai") -> None:
        self.lang = i18n.lang_of(language)
        self.t = i18n.words("note", self.lang)
        self.tz = ZoneInfo(tz)
        # field name -> (label, option value -> label) of the fields shown by their labels
        self._fields: dict[str, tuple[str, dict[Any, str]]] = {}

    def show_fields(self, fields: Iterable[Any]) -> None:
        """Show these ticket fields (:class:`kesu.ticket_fields.TicketField`) in notes by their
        label and their options' labels (``客诉等级 → A类（重大）``) instead of name and value."""
        for f in fields:
            self._fields[f.name] = (f.shown(self.lang), {o.value: o.shown(self.lang) for o in f.options})

    def field(self, name: str, value: Any) -> tuple[str, Any]:
        """A field's name and value as a note shows them."""
        shown = self._fields.get(name)
        if shown is None:
            return name, value
        return shown[0], shown[1].get(value, value) if isinstance(value, str) else value

    def when(self, dt: datetime) -> str:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(self.tz).strftime("%Y-%m-%d %H:%M %Z")

    def line(self, template: str, effect: Effect | None, **values: Any) -> str:
        text = self.t[template].format(**values)
        if effect is not None:
            reason = effect.reason_en if self.lang == "en" and effect.reason_en else effect.reason
            if reason:
                text += ("：" if self.lang == "zh" else ": ") + reason
            text += f" [{effect.rule_id}]"
        return "• " + text

    def priority(self, p: Priority) -> str:
        return i18n.label("priority", p.name, self.lang)

    def header(self) -> str:
        return self.t["header"]

    def value(self, effect: Effect) -> Any:
        """A decided value as shown in a note: priorities by name (not their number)."""
        v = _value(effect)
        return self.priority(v) if isinstance(effect, SetPriority) else v

    def what(self, what: str) -> str:
        return i18n.label("note_what", what, self.lang)


def _digest(*parts: Any) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]


def notification_key(n: Notify) -> str:
    """What makes a notification the same one on one ticket (rule, recipients, message): its note
    line is written once, and the ``kesu_notify`` hook gets it once the write that first carries
    it is on the ticket; notifier plugins deduplicate deliveries by (ticket, this key)."""
    return _digest("notify", n.rule_id, n.recipients, n.message)


@dataclass
class Writes:
    """What to write to the ticket now, and what kesu will remember as applied."""

    writes: WriteSet
    applied: dict[str, Any]
    note_lines: list[str]


def diff(
    plan: Plan,
    ticket: Ticket,
    applied: Mapping[str, Any],
    renderer: NoteRenderer,
    extra_lines: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> Writes:
    """The writes ``ticket`` still needs for ``plan``, given what kesu ``applied`` before."""
    w = WriteSet()
    new: dict[str, Any] = {
        "priority": applied.get("priority"),
        "group": applied.get("group"),
        "owner": applied.get("owner"),
        "fields": dict(applied.get("fields", {})),
        "tags": sorted(applied.get("tags", [])),
        "untags": sorted(applied.get("untags", [])),
        "lines": list(applied.get("lines", [])),
    }
    lines: list[str] = []
    seen_lines = set(new["lines"])

    def note(digest: str, text: str) -> None:
        if digest not in seen_lines:
            seen_lines.add(digest)
            new["lines"].append(digest)
            lines.append(text)

    if plan.priority is not None:
        want = int(plan.priority.priority)
        if applied.get("priority") != want:
            if ticket.priority is None or int(ticket.priority) != want:
                w.priority = Priority(want)
            new["priority"] = want
            lines.append(renderer.line("priority", plan.priority, value=renderer.priority(Priority(want))))
    for key, effect, current in (
        ("group", plan.group, ticket.group),
        ("owner", plan.owner, ticket.owner),
    ):
        if effect is None:
            continue
        want_s = effect.group if isinstance(effect, AssignGroup) else effect.owner  # type: ignore[union-attr]
        if applied.get(key) != want_s:
            if current != want_s:
                setattr(w, key, want_s)
            new[key] = want_s
            lines.append(renderer.line(key, effect, value=want_s))
    for name, effect in plan.fields.items():
        if new["fields"].get(name) != effect.value:
            if ticket.fields.get(name) != effect.value:
                w.fields[name] = effect.value
            new["fields"][name] = effect.value
            label, value = renderer.field(name, effect.value)
            lines.append(renderer.line("field", effect, name=label, value=value))
    tags_added: dict[str, list[str]] = {}
    for tag, effect in plan.add_tags.items():
        if tag in new["tags"]:
            continue  # added before; if an agent removed it since, leave it removed
        new["tags"].append(tag)
        if tag not in ticket.tags:
            w.add_tags.append(tag)
        tags_added.setdefault(effect.rule_id, []).append(tag)
    for rule_id, tags in tags_added.items():
        effect = next(e for t, e in plan.add_tags.items() if t in tags)
        lines.append(renderer.line("add_tags", effect, value=", ".join(tags)))
    for tag, effect in plan.remove_tags.items():
        if tag in new["untags"]:
            continue
        new["untags"].append(tag)
        if tag in ticket.tags:
            w.remove_tags.append(tag)
            lines.append(renderer.line("remove_tags", effect, value=tag))
    for n in plan.notes:
        note(_digest("note", n.rule_id, n.text), renderer.line("note", n, text=n.text_en if renderer.lang == "en" and n.text_en else n.text))
    for (source, key), t in plan.timers.items():
        note(_digest("timer", source, key, t.due_at.isoformat()), renderer.line("timer", t, key=key, due=renderer.when(t.due_at)))
    for todo in plan.todos:
        d = _digest("todo", todo.key, todo.due_at.isoformat())
        if d not in seen_lines:
            w.todos.append(Todo(key=todo.key, summary=todo.summary, due_at=todo.due_at, assignee=todo.assignee, rule_id=todo.rule_id))
        note(d, renderer.line("todo", todo, summary=todo.summary, due=renderer.when(todo.due_at)))
    for n in plan.notifications:
        note(notification_key(n), renderer.line("notify", n, value="、".join(n.recipients), message=n.message))
    for entry in plan.ledger:
        amount = _amount(entry, renderer.lang)
        # The digest keeps its earlier form, so lines written before are not written again.
        key = entry.amount if entry.amount is not None else f"{entry.amount_min}–{entry.amount_max}"
        note(_digest("ledger", entry.rule_id, entry.subject, key),
             renderer.line("ledger", entry, kind=i18n.label("note_ledger", entry.kind, renderer.lang),
                           status=i18n.label("note_ledger", entry.status, renderer.lang), subject=entry.subject, amount=amount))
    for c in plan.conflicts:
        note(
            _digest("conflict", c.what, _value(c.kept), _value(c.dropped)),
            renderer.line("conflict", c.kept, what=renderer.what(c.what), kept=renderer.value(c.kept),
                          kept_src=c.kept.source, dropped=renderer.value(c.dropped), dropped_src=c.dropped.source),
        )
    for key, text in extra_lines:
        note(_digest("extra", key), text)
    if lines:
        w.note = "\n".join([renderer.header(), *lines])
    return Writes(writes=w, applied=new, note_lines=lines)
