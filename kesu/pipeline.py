"""One claimed ticket through kesu: read -> finish earlier writes -> decide -> persist -> write.

1. Read the ticket fresh (webhook payloads are hints only).
2. Finish any write a previous attempt decided but did not confirm (the outbox): its note carries
   a marker subject, so a note that did reach the helpdesk is not written twice.
3. Run every enabled policy (``PluginHost.evaluate``) with the host's ``now``.
4. Merge the effects into one plan and diff it against the ticket and what kesu applied before.
5. In one transaction: plugin state, audit entries, timers, ledger rows and the outbox row.
6. Apply the writes with the fewest calls; mark the outbox row applied and the events done.

A crash before 5 leaves the events claimed; their lease expires and another worker redoes 1-6.
A crash between 5 and 6 leaves a pending outbox row that step 2 of the next attempt finishes.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from connector.base import Connector, WriteSet
from kesu import metrics
from kesu.effects import AddTags, Effect, Notify, SetField
from kesu.history import History
from kesu.models import EventKind, Ticket, TicketEvent, TicketRef
from kesu.store import tickets as store
from kesu.store.db import parse_utc, transaction, utcnow
from kesu.store.inbox import Inbox, InboxEvent
from kesu.ticket_fields import field_tags
from plugins.manager import PluginHost
from plugins.plan import NoteRenderer, Plan, diff, merge, notification_key

log = logging.getLogger(__name__)

HOST_NS = "_kesu"  # the host's own namespace in ticket state
TAG_FIELDS_RETRY_SECONDS = 300.0
# When several hints for one ticket are processed together, the event kind shown to policies is
# the most significant one.
KIND_PRECEDENCE = [EventKind.created, EventKind.closed, EventKind.reopened,
                   EventKind.article_added, EventKind.updated]


@dataclass
class Outcome:
    ticket_key: str
    calls: int  # helpdesk calls, including the read
    wrote: bool
    plan: Plan | None = None
    note: str | None = None


class WriteInProgress(RuntimeError):
    """Another worker is applying this ticket's decided write: the event waits and is retried."""


class Pipeline:
    def __init__(
        self,
        *,
        engine: Engine,
        connector: Connector,
        host: PluginHost,
        renderer: NoteRenderer,
        clock: Callable[[], datetime] = utcnow,
        write_hold: timedelta = timedelta(seconds=60),
    ) -> None:
        self.engine = engine
        # How long a worker holds a decided write while applying it: no other worker applies it
        # meanwhile, even if the first one's claim on the events lapsed (a stalled machine).
        self.write_hold = write_hold
        # Ticket keys, timers and ledger rows belong to one helpdesk instance (the connector's
        # name): a reused database or a renamed helpdesk must not reach another's tickets.
        self.helpdesk: str | None = getattr(connector, "name", None)
        self.inbox = Inbox(engine, helpdesk=self.helpdesk)
        self.connector = connector
        self.host = host
        self.renderer = renderer
        self.clock = clock
        self.history = History(engine)
        self._lease = threading.local()  # the calling worker's lease (``process(lease=...)``)
        # tag -> (field, value): kesu's tags the helpdesk takes as a field value (decided once
        # per process from its field list, see ``tag_fields``); None until asked.
        self._tag_fields: dict[str, tuple[str, str]] | None = None
        self._tag_fields_retry = 0.0
        self._tag_fields_lock = threading.Lock()

    def tag_fields(self) -> dict[str, tuple[str, str]]:
        """The tags kesu writes as a field value instead (``TicketField.tag_values``) because this
        helpdesk has the field: asked once per process (one call); a helpdesk that cannot tell, or
        a site that has not provisioned the fields, keeps the tags. A failed listing keeps the
        tags and is asked again after ``TAG_FIELDS_RETRY_SECONDS``."""
        if self._tag_fields is not None:
            return self._tag_fields
        with self._tag_fields_lock:
            if self._tag_fields is not None:
                return self._tag_fields
            if time.monotonic() < self._tag_fields_retry:
                return {}
            declared = [f for f in self.host.ticket_fields() if f.tag_values]
            if not declared:
                self._tag_fields = {}
                return self._tag_fields
            try:
                names = self.connector.ticket_field_names()
            except Exception as exc:  # noqa: BLE001 -- no right to list fields, helpdesk down: tags
                log.warning("could not list the helpdesk's ticket fields (%s): kesu writes tags for now", exc)
                self._tag_fields_retry = time.monotonic() + TAG_FIELDS_RETRY_SECONDS
                return {}
            self._tag_fields = field_tags(declared, names or ())
            shown = {name for name, _ in self._tag_fields.values()}
            self.renderer.show_fields(f for f in declared if f.name in shown)
            missing = sorted({f.name for f in declared} - set(names or ()))
            if missing:
                log.warning("ticket field(s) %s not on the helpdesk (kesu zammad/odoo setup creates them): "
                            "kesu writes their tags instead", ", ".join(missing))
            return self._tag_fields

    def process(self, events: Sequence[InboxEvent], lease: Any = None) -> Outcome:
        """Process one claim. ``lease`` (:class:`kesu.worker.Lease`): the worker's heartbeat,
        told which decided writes this attempt holds so that it renews their holds too."""
        self._lease.current = lease
        try:
            return self._process(events)
        finally:
            self._lease.current = None

    def _process(self, events: Sequence[InboxEvent]) -> Outcome:
        started = time.perf_counter()
        first = events[0]
        key = first.ticket_key
        ref = TicketRef(helpdesk=first.helpdesk, id=first.ticket_id)
        foreign = {e.ticket_key for e in events if e.ticket_key != key or (
            self.helpdesk is not None and e.helpdesk != self.helpdesk)}
        if foreign or key != ref.key:
            raise ValueError(f"events {sorted(foreign or {key})} do not belong to helpdesk "
                             f"{self.helpdesk!r} (ticket {ref.key}): not processed here")
        ticket = self.connector.get_ticket(first.ticket_id)
        if ticket.ref != ref:
            raise ValueError(f"helpdesk {self.helpdesk!r} answered ticket {ticket.ref.key} for {ref.key}")
        calls = 1

        # Everything kesu knows about the ticket, in one read-only transaction (no write lock).
        with transaction(self.engine, read=True) as conn:
            pending = store.pending_outbox(conn, key)
            state, version = store.load_state(conn, key)
            stored_record = store.load_complaint(conn, key)
        for row in pending:
            now = self.clock()
            with self.engine.begin() as conn:
                took = store.take_outbox(conn, row.id, now=now, until=now + self.write_hold)
            if not took:
                raise WriteInProgress(f"write {row.marker} on {key} is being applied by another worker")
            calls += self._finish_outbox(ticket, row)

        now = self.clock()
        record = {**_record_base(ticket), **stored_record}
        host_state = dict(state.get(HOST_NS, {}))
        held = host_state.get("held")
        if held and not ticket.closed:
            if ticket.state == held:
                # kesu's own follow-up to-do holds the resolved complaint in this state: for the
                # policies it stays resolved (deadlines from the resolution, no "unresolved" timers).
                ticket.closed = True
            else:
                host_state.pop("held")  # a person reopened it
        event = _event_for(events, ref, was_closed=host_state.get("closed"), ticket=ticket)
        plugin_states = {k: v for k, v in state.items() if k != HOST_NS}
        evaluation = self.host.evaluate(event, ticket, plugin_states, now, history=self.history, record=record)
        plan = merge(ref, _tags_as_fields(evaluation.effects, self.tag_fields()), self.host.precedence)
        failure_lines = [
            (f"{f.plugin}:{f.error}", self.renderer.line("failure", None, plugin=f.plugin, error=f.error))
            for f in evaluation.failures
        ]
        # Notifications not decided before (a plan run again asks again): they go out with this
        # write, and only once it is on the ticket.
        told = set(host_state.get("applied", {}).get("lines", []))
        fresh = list({k: n for n in plan.notifications
                      if (k := notification_key(n)) not in told}.values())
        result = diff(plan, ticket, host_state.get("applied", {}), self.renderer, failure_lines)
        writes = result.writes
        marker = None
        if not writes.is_empty():
            marker = uuid.uuid4().hex[:12]
            writes.note_subject = f"kesu #{marker}" if writes.note else None

        new_state = {**state}
        for source, values in plan.state.items():
            new_state[source] = {**new_state.get(source, {}), **values}
        host_state["applied"] = result.applied
        # kesu's own reminder reopens a closed Zammad ticket: the next read must not report the
        # customer "reopening" it. When the connector names the reminder's state, the complaint
        # is held resolved while the ticket stays in it; else it is remembered as open.
        reopens = bool(writes.todos) and type(self.connector).todo_reopens
        if reopens and ticket.closed and self.connector.todo_state:
            host_state["held"] = self.connector.todo_state
            host_state["closed"] = True
        else:
            host_state["closed"] = ticket.closed and not reopens
        new_state[HOST_NS] = host_state
        ids = [e.id for e in events]
        # The one durable commit of an event that writes: its decision and outbox row reach the
        # disk before the helpdesk is called. An event that writes nothing is marked done in this
        # transaction, which need not wait for the disk: lost in a machine crash, the event is
        # processed again and decides the same.
        with transaction(self.engine, durable=marker is not None) as conn:
            store.save_state(conn, key, new_state, version, now)
            store.add_audit(conn, self._audit_rows(key, first.id, plan, evaluation.failures, writes, now))
            store.schedule_timers(conn, [
                {"key": key, "plugin": source, "timer_key": tkey, "rule_id": t.rule_id, "due_at": t.due_at,
                 "payload": t.payload, "now": now}
                for (source, tkey), t in plan.timers.items()])
            for (source, tkey) in plan.cancels:
                store.cancel_timer(conn, key=key, plugin=source, timer_key=tkey)
            store.add_ledger(conn, (
                {"created_at": now, "ticket_key": key, "rule_id": e.rule_id, "plugin": e.source,
                 "kind": e.kind, "subject": e.subject, "amount": e.amount, "amount_min": e.amount_min,
                 "amount_max": e.amount_max, "status": e.status, "note": e.reason,
                 "dedupe_key": e.dedupe_key}
                for e in plan.ledger
            ))
            if plan.record:
                store.save_complaint(conn, key, {**evaluation.record, **_record_base(ticket)}, now)
                outcome = plan.record.get("followup_outcome")
                if outcome:
                    store.record_followup_outcome(conn, key=key, outcome=outcome, now=now)
            for todo in writes.todos:
                # A retry to-do keeps the resolution time the record holds (R-CB-6.36 counts from it).
                store.add_followup(conn, key=key, rule_id=todo.rule_id,
                                   resolved_at=parse_utc(evaluation.record.get("resolved_at")) or now,
                                   due_at=todo.due_at, now=now)
            outbox_id = None
            if marker is not None:
                outbox_id = store.add_outbox(conn, key=key, event_id=first.id, marker=marker,
                                             writes=writes.model_dump(mode="json"), now=now,
                                             held_until=now + self.write_hold,
                                             notifications=[n.model_dump(mode="json") for n in fresh])
            else:
                Inbox.mark_done(conn, ids, now)

        wrote = False
        if outbox_id is not None:
            applied = self._holding(outbox_id, lambda: self.connector.apply(ticket, writes))
            calls += applied.calls
            metrics.HELPDESK_CALLS.inc(applied.calls)
            wrote = True
            # Before the row is marked applied: after a crash in between, the next attempt that
            # finishes the row hands them to the hook again (notifiers deduplicate): never lost.
            self._notify(ticket, fresh, now)
            done_at = self.clock()
            # Not durable: lost in a machine crash, the row is finished again without a call (its
            # note marker is on the ticket) and the events find their decision applied.
            with transaction(self.engine, durable=False) as conn:
                store.mark_outbox(conn, outbox_id, status="applied", calls=applied.calls, now=done_at)
                Inbox.mark_done(conn, ids, done_at)
        for f in evaluation.failures:
            metrics.PLUGIN_ERRORS.labels(f.plugin, f.hook).inc()
        for f in self.host.notify_applied(ticket, plan, calls):
            metrics.PLUGIN_ERRORS.labels(f.plugin, f.hook).inc()
        if event.kind is EventKind.timer_fired and "due_at" in first.payload:
            due = datetime.fromisoformat(first.payload["due_at"])
            metrics.TIMER_DELAY_SECONDS.observe(max(0.0, (self.clock() - due).total_seconds()))
        metrics.PROCESSING_SECONDS.observe(time.perf_counter() - started)
        metrics.EVENTS_PROCESSED.labels("written" if wrote else "unchanged").inc(len(events))
        log.info("processed %s: %d event(s), %d call(s)%s", key, len(events), calls,
                 ", wrote" if wrote else "", extra={"ticket": key, "delivery": first.delivery_id})
        return Outcome(ticket_key=key, calls=calls, wrote=wrote, plan=plan, note=writes.note)

    def _holding(self, outbox_id: int, apply: Callable[[], Any]) -> Any:
        """``apply()`` while holding the outbox row (renewed by the worker's lease while the
        helpdesk is slow); a failure releases it for the retry."""
        lease = getattr(self._lease, "current", None)
        if lease is not None:
            lease.hold(outbox_id)
        try:
            return apply()
        except Exception:  # a failure, not a shutdown: a dying worker keeps its hold until it ends
            if lease is not None:
                lease.release(outbox_id)  # before the release: no renewal may re-take it
            with self.engine.begin() as conn:
                store.release_outbox(conn, outbox_id)
            raise

    def _finish(self, ticket: Ticket, row: store.OutboxRow) -> tuple[WriteSet, Any]:
        writes = self.connector.unapplied(ticket, WriteSet.model_validate(row.writes))
        return writes, self.connector.apply(ticket, writes)

    def _notify(self, ticket: Ticket, notifications: Sequence[Notify], now: datetime) -> None:
        """The ``kesu_notify`` hook for notifications whose write is on the ticket."""
        if notifications:
            for f in self.host.notify(ticket, notifications, now):
                metrics.PLUGIN_ERRORS.labels(f.plugin, f.hook).inc()

    def _finish_outbox(self, ticket: Ticket, row: store.OutboxRow) -> int:
        """Apply what an interrupted attempt decided, skipping what already reached the ticket;
        then the notifications decided with it (the interrupted attempt may not have told them)."""
        writes, applied = self._holding(row.id, lambda: self._finish(ticket, row))
        metrics.HELPDESK_CALLS.inc(applied.calls)
        _reflect(ticket, writes)
        now = self.clock()
        self._notify(ticket, [Notify.model_validate(n) for n in row.notifications], now)
        with self.engine.begin() as conn:
            store.mark_outbox(conn, row.id, status="applied", calls=applied.calls, now=now)
            store.add_audit(conn, [{"at": now, "ticket_key": row.ticket_key, "event_id": None,
                                    "kind": "recovered", "plugin": None, "rule_id": None,
                                    "detail": {"marker": row.marker, "calls": applied.calls}}])
        log.warning("finished interrupted write %s on %s with %d call(s)", row.marker,
                    row.ticket_key, applied.calls, extra={"ticket": row.ticket_key})
        return applied.calls

    @staticmethod
    def _audit_rows(key: str, event_id: int, plan: Plan, failures: Sequence[Any],
                    writes: WriteSet, now: datetime) -> list[dict[str, Any]]:
        rows = [
            {"at": now, "ticket_key": key, "event_id": event_id, "kind": "decision",
             "plugin": e.source, "rule_id": e.rule_id, "detail": e.model_dump(mode="json")}
            for e in plan.effects
        ]
        rows += [
            {"at": now, "ticket_key": key, "event_id": event_id, "kind": "conflict",
             "plugin": c.dropped.source, "rule_id": c.dropped.rule_id,
             "detail": {"what": c.what, "kept": c.kept.model_dump(mode="json"),
                        "dropped": c.dropped.model_dump(mode="json")}}
            for c in plan.conflicts
        ]
        rows += [
            {"at": now, "ticket_key": key, "event_id": event_id, "kind": "plugin_error",
             "plugin": f.plugin, "rule_id": None, "detail": {"hook": f.hook, "error": f.error}}
            for f in failures
        ]
        if not writes.is_empty():
            rows.append({"at": now, "ticket_key": key, "event_id": event_id, "kind": "write",
                         "plugin": None, "rule_id": None, "detail": writes.model_dump(mode="json")})
        return rows


def _tags_as_fields(effects: list[Effect], mapping: dict[str, tuple[str, str]]) -> list[Effect]:
    """Each tag the helpdesk takes as a field value becomes a :class:`SetField` of the same rule
    and plugin (written in the same call as the note); other tags stay tags."""
    if not mapping:
        return effects
    out: list[Effect] = []
    for e in effects:
        if not isinstance(e, AddTags) or not any(t in mapping for t in e.tags):
            out.append(e)
            continue
        for tag in e.tags:
            if tag in mapping:
                name, value = mapping[tag]
                out.append(SetField(rule_id=e.rule_id, name=name, value=value, reason=e.reason,
                                    reason_en=e.reason_en, source=e.source))
        rest = tuple(t for t in e.tags if t not in mapping)
        if rest:
            out.append(e.model_copy(update={"tags": rest}))
    return out




def _record_base(ticket: Ticket) -> dict[str, Any]:
    """Columns of the complaint record the host fills from the ticket itself."""
    return {
        "number": ticket.number,
        "title": ticket.title,
        "customer": ticket.customer_key,
        "customer_name": ticket.customer.name if ticket.customer else None,
        "received_at": ticket.created_at,
    }


def _reflect(ticket: Ticket, writes: WriteSet) -> None:
    """Update our copy of the ticket with writes just applied, so later diffs see them."""
    if writes.priority is not None:
        ticket.priority = writes.priority
    if writes.group is not None:
        ticket.group = writes.group
    if writes.owner is not None:
        ticket.owner = writes.owner
    ticket.fields.update(writes.fields)
    ticket.tags = [t for t in ticket.tags if t not in writes.remove_tags] + [
        t for t in writes.add_tags if t not in ticket.tags
    ]


def _event_for(events: Sequence[InboxEvent], ref: TicketRef, *, was_closed: bool | None,
               ticket: Ticket) -> TicketEvent:
    """The event policies see. A closed <-> open change kesu observes between two reads is
    reported as ``closed`` / ``reopened`` whatever the webhook said (helpdesks rarely say it)."""
    first = events[0]
    if first.kind == EventKind.timer_fired.value:
        return TicketEvent(kind=EventKind.timer_fired, ref=ref, delivery_id=first.delivery_id,
                           received_at=first.received_at, timer_key=first.payload.get("timer_key"),
                           timer_payload=first.payload.get("payload", {}), hint=first.payload)
    kinds = {e.kind for e in events}
    if was_closed is True and not ticket.closed:
        kinds.add(EventKind.reopened.value)
    elif was_closed is False and ticket.closed:
        kinds.add(EventKind.closed.value)
    elif was_closed is True and ticket.closed:
        kinds.discard(EventKind.closed.value)  # still closed: not a new closing
    kind = next((k for k in KIND_PRECEDENCE if k.value in kinds), EventKind.updated)
    last = events[-1]
    return TicketEvent(kind=kind, ref=ref, delivery_id=last.delivery_id, received_at=last.received_at,
                       actor=last.payload.get("actor"), hint=last.payload)
