"""The Odoo connector: webhook intake, ticket reads, write-back and the reconciliation poll.

Odoo 17+ sends a "Send Webhook Notification" server action from an automation rule on
``helpdesk.ticket``; it cannot sign and never retries (1 s timeout, send-and-forget). So:

* the webhook carries a shared secret in its URL (``?token=...``) or, behind a proxy that adds
  one, in a header; both are compared in constant time;
* a webhook's delivery id is ``change_delivery_id(ticket, write_date)``, the same key the
  reconciliation poll uses, so one change seen by both is queued once;
* the poll runs continuously (``reconcile_interval``); on Odoo 16 it is the only intake.

Loop safety: kesu writes as its bot user; the automation rule excludes the bot's writes
(``write_uid != bot``), a webhook whose ``write_uid`` is the bot is ``self_caused``, and the
poll skips rows the bot wrote last.

Write order in :meth:`OdooConnector.apply`: one ``write`` (priority, team, user, tags, fields),
then the to-dos (one ``mail.activity`` ``create``), then the internal note (``message_post``)
*last*: a note carrying the plan marker proves the whole write landed. When the pipeline
finishes an interrupted write it asks :meth:`~OdooConnector.note_marker_present` first (one
``mail.message`` search); the answer tells the following ``apply`` whether the to-dos landed
(note found) or must be checked against the ticket's activities (one search) before creating.
"""

from __future__ import annotations

import hmac
import html
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from connector.base import (
    ApplyResult,
    Connector,
    TicketChange,
    Todo,
    WebhookHint,
    WriteSet,
    change_delivery_id,
)
from connector.errors import (
    ConnectorUnavailable,
    InvalidRequest,
    NotFound,
    ProtocolError,
    WebhookRejected,
)
from connector.http import loads
from connector.odoo.client import JSON, OdooClient, OdooVersion
from connector.odoo.lookups import Names, StageFolds
from connector.odoo.options import FLAVOURS, Flavour, OdooOptions
from connector.odoo.values import (
    html_text,
    m2o,
    note_html,
    odoo_time,
    odoo_time_str,
    priority_values,
)
from kesu.models import Article, EventKind, Party, Priority, Ticket, TicketRef
from kesu.settings import HelpdeskSettings

log = logging.getLogger(__name__)

TICKET_MODEL = "helpdesk.ticket"
WEBHOOK_SINCE = 17  # "Send Webhook Notification" server actions exist from 17.0
HTML_BODY_SINCE = 17  # message_post escapes a str body from 17.0 unless body_is_html
TODO_XMLID = ("mail", "mail_activity_data_todo")
ANNOUNCE_SECONDS = 120.0  # how long a webhook's write_date is awaited in reads


# Ticket fields kesu reads when the instance has them (fields_get decides).
WANTED_FIELDS = (
    "name", "description", "team_id", "user_id", "stage_id", "priority", "tag_ids", "partner_id",
    "partner_name", "partner_email", "partner_phone", "ticket_ref", "number", "closed", "fold",
    "create_date", "write_date", "write_uid",
)
CUSTOM_FIELD_TYPES = frozenset({
    "char", "text", "integer", "float", "monetary", "boolean", "selection", "date", "datetime",
    "many2one",
})


@dataclass(frozen=True)
class Schema:
    """What ``prepare`` learnt about this Odoo: version, protocol, flavour, fields, bot."""

    version: OdooVersion
    protocol: str
    flavour: Flavour
    uid: int
    fields: frozenset[str]
    read_fields: tuple[str, ...]
    custom_fields: tuple[str, ...]
    datetime_fields: frozenset[str] = frozenset()  # custom fields of type datetime


class OdooConnector(Connector):
    """Odoo ``helpdesk.ticket`` via automation-rule webhooks, a reconciliation poll and the API.

    :param settings: the ``[helpdesk]`` section: ``url``, ``token`` (the bot's API key),
        ``webhook_secret``, ``bot_login``, ``priority_map`` (values ``'0'``-``'3'``; a map with
        no Odoo values, such as the Zammad default, gives ``low 0, normal 1, high 2, urgent 3``)
        and ``[helpdesk.options]`` (:class:`OdooOptions`).
    :param client: a ready client (tests); normally built from ``settings``.
    """

    identifier: ClassVar[str] = "odoo"
    reconcile_interval: ClassVar[float] = 30.0  # Odoo never retries a webhook

    def __init__(
        self,
        settings: HelpdeskSettings,
        name: str | None = None,
        *,
        client: OdooClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name or settings.name
        if not self.name or ":" in self.name:
            raise ValueError(f"helpdesk name must be non-empty and contain no ':', got {self.name!r}")
        if not settings.url.startswith(("http://", "https://")):
            raise ValueError(f"helpdesk url must start with http:// or https://, got {settings.url!r}")
        self.options = OdooOptions.from_settings(settings.options)
        self.settings = settings
        self._priority_values = priority_values(settings.priority_map)
        self._priority_by_value: dict[str, Priority] = {}
        for level in sorted(Priority):
            self._priority_by_value.setdefault(self._priority_values[level], level)
        self._secret = settings.webhook_secret.get_secret_value().encode()
        self._secret_header = self.options.webhook_secret_header.lower()
        self.client = client or OdooClient(
            settings.url, settings.token, database=self.options.database,
            login=self.options.login or settings.bot_login, uid=self.options.uid,
            protocol=self.options.protocol, version=self.options.version,
            timeout=settings.timeout, retries=settings.retries, sleep=sleep,
        )
        self._schema: Schema | None = None
        self._prepare_lock = threading.Lock()
        self._tags: Names | None = None
        self._teams: Names | None = None
        self._users = Names(self.client, "res.users", "login")
        self._stages: StageFolds | None = None
        self._activity_refs: tuple[int, int] | None = None  # (ir.model id, to-do type id)
        self._recovery: dict[str, bool] = {}  # ticket id -> marker note found (see module doc)
        # ticket id -> (write_date a webhook announced, when): see ``_check_committed``
        self._announced: dict[str, tuple[datetime | None, float]] = {}
        self._announced_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OdooConnector(name={self.name!r}, client={self.client!r})"

    # -- preparation ---------------------------------------------------------------------------

    @property
    def bot_user_id(self) -> str | None:
        if self._schema is not None:
            return str(self._schema.uid)
        return str(self.options.uid) if self.options.uid else None

    @property
    def schema(self) -> Schema:
        """The prepared schema; prepares on first use (a few calls, once per process)."""
        if self._schema is None:
            self.prepare()
        assert self._schema is not None
        return self._schema

    def prepare(self) -> str:
        """Detect version, protocol, the bot's uid and the flavour (``fields_get``); cached."""
        with self._prepare_lock:
            if self._schema is None:
                self._schema = self._detect()
                flavour = self._schema.flavour
                self._tags = Names(self.client, flavour.tag)
                self._teams = Names(self.client, flavour.team)
                self._stages = StageFolds(self.client, flavour.stage)
                log.info("Odoo %s (%s, %s flavour), bot uid %s", self._schema.version,
                         self._schema.protocol, flavour.name, self._schema.uid)
        return str(self._schema.uid)

    def _detect(self) -> Schema:
        version = self.client.server_version()
        protocol = self.client.protocol
        uid = self.client.uid()
        try:
            described = self.client.fields_get(TICKET_MODEL, ["type", "relation"])
        except NotFound as exc:
            raise NotFound(
                f"Odoo has no {TICKET_MODEL} model: install Helpdesk (Enterprise) or "
                "helpdesk_mgmt (OCA)", method=exc.method, url=exc.url, status=exc.status,
                helpdesk_message=exc.helpdesk_message,
            ) from exc
        team_relation = (described.get("team_id") or {}).get("relation")
        detected = next((f for f in FLAVOURS.values() if f.team == team_relation), None)
        if self.options.flavour != "auto":
            flavour = FLAVOURS[self.options.flavour]
            if detected is not None and detected != flavour:
                log.warning("[helpdesk.options] flavour is %r but team_id points at %s (%s)",
                            flavour.name, team_relation, detected.name)
        elif detected is not None:
            flavour = detected
        else:
            raise ProtocolError(
                f"cannot tell the helpdesk flavour: {TICKET_MODEL}.team_id relates to "
                f"{team_relation!r}; set [helpdesk.options] flavour = 'enterprise' or 'oca'"
            )
        present = frozenset(described)
        custom = tuple(sorted(
            n for n, d in described.items()
            if n.startswith("x_") and isinstance(d, dict) and d.get("type") in CUSTOM_FIELD_TYPES
        ))
        read_fields = tuple(f for f in WANTED_FIELDS if f in present) + custom
        datetimes = frozenset(n for n in custom if described[n].get("type") == "datetime")
        return Schema(version, protocol, flavour, uid, present, read_fields, custom, datetimes)

    # -- intake --------------------------------------------------------------------------------

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str] | None = None
    ) -> WebhookHint:
        # Odoo cannot sign: the shared secret rides in the URL (or a proxy-added header).
        if not self._secret:
            raise WebhookRejected(401, "webhook secret not configured ([helpdesk] webhook_secret)")
        given = (query or {}).get("token") or headers.get(self._secret_header)
        if not given:
            raise WebhookRejected(
                401, f"missing shared secret: ?token=... in the webhook URL or a "
                f"{self.options.webhook_secret_header} header",
            )
        if not hmac.compare_digest(self._secret, given.encode("utf-8", "replace")):
            raise WebhookRejected(401, "shared secret does not match")

        try:
            payload = loads(body)
        except ValueError as exc:
            raise WebhookRejected(422, f"body is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise WebhookRejected(422, f"body must be a JSON object, got {type(payload).__name__}")
        model = payload.get("_model")
        if model != TICKET_MODEL:
            raise WebhookRejected(422, f"_model must be {TICKET_MODEL!r}, got {model!r}")
        ticket_id = payload.get("_id", payload.get("id"))
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool) or ticket_id <= 0:
            raise WebhookRejected(422, f"_id must be a record id, got {ticket_id!r}")
        write_date = payload.get("write_date")
        changed_at = odoo_time(write_date)
        if write_date not in (None, False) and changed_at is None:
            raise WebhookRejected(422, f"write_date is not an Odoo datetime: {write_date!r}")
        writer = m2o(payload.get("write_uid"))
        actor = str(writer[0]) if writer else None
        bot = self.bot_user_id
        created = bool(payload.get("create_date")) and payload.get("create_date") == write_date
        self_caused = bot is not None and actor == bot
        if not self_caused:
            self._announce(str(ticket_id), changed_at)
        return WebhookHint(
            ref=TicketRef(helpdesk=self.name, id=str(ticket_id)),
            kind=EventKind.created if created else EventKind.updated,
            delivery_id=change_delivery_id(str(ticket_id), changed_at) if changed_at else None,
            actor=actor,
            self_caused=self_caused,
            facts={"action": payload.get("_action"), "write_date": write_date,
                   "stage_id": payload.get("stage_id")},
        )

    # -- reads ---------------------------------------------------------------------------------

    def get_ticket(self, ticket_id: str) -> Ticket:
        schema = self.schema
        rid = _record_id(ticket_id)
        rows = self.client.read(TICKET_MODEL, [rid], schema.read_fields)
        self._check_committed(str(rid), rows[0] if rows else None)
        if not rows:
            raise NotFound(f"Odoo has no {TICKET_MODEL} {rid} (deleted, or not visible to the bot)")
        raw = rows[0]
        team, stage, user = m2o(raw.get("team_id")), m2o(raw.get("stage_id")), m2o(raw.get("user_id"))
        if team and self._teams is not None:
            self._teams.learn(*team)
        tag_ids = [t for t in raw.get("tag_ids") or [] if isinstance(t, int)]
        tags = self._tags.names(tag_ids) if tag_ids and self._tags is not None else []
        priority = self._priority_by_value.get(str(raw.get("priority")))
        partner = m2o(raw.get("partner_id"))
        writer = m2o(raw.get("write_uid"))
        number = raw.get("ticket_ref") or raw.get("number")
        description = html_text(raw.get("description"))
        articles = [Article(id=f"{rid}-description", subject=raw.get("name") or None,
                            body=description, sender="Customer", type="description",
                            created_at=odoo_time(raw.get("create_date")))] if description else []
        return Ticket(
            ref=TicketRef(helpdesk=self.name, id=str(rid)),
            number=str(number) if number else None,
            title=raw.get("name") or "",
            articles=articles,
            customer=Party(
                id=str(partner[0]) if partner else None,
                name=raw.get("partner_name") or (partner[1] if partner else None) or None,
                email=raw.get("partner_email") or None,
                phone=raw.get("partner_phone") or None,
            ) if partner or raw.get("partner_email") else None,
            group=team[1] if team else None,
            owner=self._login(user[0]) if user else None,
            priority=priority,
            state=stage[1] if stage else None,
            closed=self._closed(raw, stage),
            tags=tags,
            fields=self._custom_values(raw),
            created_at=odoo_time(raw.get("create_date")),
            updated_at=odoo_time(raw.get("write_date")),
            updated_by=str(writer[0]) if writer else None,
        )

    def _announce(self, ticket_id: str, changed_at: datetime | None) -> None:
        now = time.monotonic()
        with self._announced_lock:
            for key in [k for k, (_, at) in self._announced.items() if now - at > ANNOUNCE_SECONDS]:
                del self._announced[key]
            previous = self._announced.get(ticket_id, (None, now))[0]
            if previous is not None and (changed_at is None or previous > changed_at):
                changed_at = previous
            self._announced[ticket_id] = (changed_at, now)

    def _check_committed(self, ticket_id: str, raw: JSON | None) -> None:
        """Odoo 17/18 post the webhook *inside* the writing transaction, before its commit: a read
        right after it may not see the new ticket or the change yet. Then the read is retried
        (a transient error) instead of dead-lettering a missing ticket or deciding on stale data
        -- the poll could not bring that change back, its change id being already taken.

        Known only for webhooks this process received (``kesu serve``); see docs/odoo.md.
        """
        with self._announced_lock:
            announced = self._announced.get(ticket_id)
            if announced is None or time.monotonic() - announced[1] > ANNOUNCE_SECONDS:
                self._announced.pop(ticket_id, None)
                return
            seen = odoo_time(raw.get("write_date")) if raw is not None else None
            if raw is not None and (announced[0] is None or (seen is not None and seen >= announced[0])):
                del self._announced[ticket_id]
                return
        what = "does not exist yet" if raw is None else f"still shows write_date {raw.get('write_date')}"
        raise ConnectorUnavailable(
            f"{TICKET_MODEL} {ticket_id} {what}, although a webhook announced a change at "
            f"{announced[0]}: Odoo has not committed it yet; retrying"
        )

    def _login(self, user_id: int) -> str | None:
        """The login of a user (read once, then cached): Ticket.owner is a login."""
        names = self._users.names([user_id])
        return names[0] if names else None

    def _closed(self, raw: JSON, stage: tuple[int, str] | None) -> bool:
        """OCA: ``closed`` (stage_id.closed); Enterprise 17+: ``fold``; 16: the stage's fold."""
        if "closed" in self.schema.fields:
            return bool(raw.get("closed"))
        if "fold" in self.schema.fields:
            return bool(raw.get("fold"))
        assert self._stages is not None
        return stage is not None and self._stages.folded(stage[0])

    def note_marker_present(self, ticket: Ticket, subject: str) -> bool:
        """One ``mail.message`` search for the marker subject (called only when finishing an
        interrupted write; the answer also tells ``apply`` whether the to-dos landed)."""
        rows = self.client.search_read(
            "mail.message",
            [("model", "=", TICKET_MODEL), ("res_id", "=", _record_id(ticket.ref.id)),
             ("subject", "=", subject)],
            ["id"], limit=1,
        )
        found = bool(rows)
        self._recovery[ticket.ref.id] = found
        return found

    # -- writes --------------------------------------------------------------------------------

    def apply(self, ticket: Ticket, writes: WriteSet) -> ApplyResult:
        """One ``write`` for all fields and tags, one ``create`` of the to-dos, one note."""
        if ticket.ref.helpdesk != self.name:
            raise ValueError(f"ticket {ticket.ref} does not belong to helpdesk {self.name!r}")
        recovered = self._recovery.pop(ticket.ref.id, None)
        if writes.is_empty():
            return ApplyResult(calls=0)
        started = self.client.thread_calls()
        schema = self.schema
        rid = _record_id(ticket.ref.id)
        vals = self._vals(writes)
        # Each call below carries a check: when its answer is lost (a 504 after Odoo committed,
        # a read timeout on a slow call) the transport looks whether it took before sending it
        # again, so nothing is applied twice (issue 10 item 1).
        if vals:
            self.client.write(TICKET_MODEL, [rid], vals, check=lambda: self._write_took(rid, vals))
        todos = writes.todos
        if todos and recovered is True:
            todos = []  # the marker note is posted last: the to-dos landed before it
        elif todos and recovered is False:
            todos = self._todos_not_yet_there(rid, todos)
        if todos:
            owner = writes.owner or ticket.owner
            wanted = list(todos)
            self.client.create("mail.activity", [self._activity(rid, t, owner) for t in todos],
                               check=lambda: not self._todos_not_yet_there(rid, wanted))
        if writes.note:
            params: JSON = {"body": note_html(writes.note), "message_type": "comment",
                            "subtype_xmlid": "mail.mt_note"}
            subject = writes.note_subject
            if subject:
                params["subject"] = subject
            if schema.version.major >= HTML_BODY_SINCE:
                params["body_is_html"] = True
            # Without a marker subject a posted note cannot be recognised: not retried in-call.
            self.client.message_post(TICKET_MODEL, rid, **params, check=(
                (lambda: self._marker_posted(rid, subject)) if subject else None))
        return ApplyResult(calls=self.client.thread_calls() - started)

    def _marker_posted(self, rid: int, subject: str) -> bool:
        """Whether the note with this marker subject is on the ticket (one search)."""
        return bool(self.client.search_read(
            "mail.message",
            [("model", "=", TICKET_MODEL), ("res_id", "=", rid), ("subject", "=", subject)],
            ["id"], limit=1,
        ))

    def _write_took(self, rid: int, vals: JSON) -> bool:
        """Whether a ``write`` whose answer was lost was applied: every value it sent is on the
        ticket (one read). kesu writes only values that differ from the ticket it read, so values
        found there are the write's own. Many2one fields read back as ``[id, name]``; tag
        commands ``(4, id)`` / ``(3, id)`` are checked against ``tag_ids``."""
        rows = self.client.read(TICKET_MODEL, [rid], list(vals))
        if not rows:
            return False
        row = rows[0]
        for key, value in vals.items():
            held = row.get(key)
            if key == "tag_ids":
                have = {t for t in held or [] if isinstance(t, int)}
                for command in value:
                    if command[0] == 4 and command[1] not in have:
                        return False
                    if command[0] == 3 and command[1] in have:
                        return False
                continue
            if isinstance(held, list) and len(held) == 2 and not isinstance(value, list):
                held = held[0]  # many2one: [id, display name]
            if held is False and value is None:
                continue
            if held != value:
                return False
        return True

    def _custom_values(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Custom ``x_`` fields as read, and each also under kesu's name without ``x_`` (the name
        the configuration uses: ``x_complaint_validity`` is ``complaint_validity``, see
        ``kesu odoo setup``) unless Odoo has a field of that name. Datetimes are naive UTC in
        Odoo; kesu gets them as UTC ISO 8601 (``…+00:00``), so they are not read as local times."""
        schema = self.schema
        out: dict[str, Any] = {}
        for name in schema.custom_fields:
            value = raw.get(name)
            if name in schema.datetime_fields and isinstance(value, str):
                moment = odoo_time(value)
                value = moment.isoformat() if moment is not None else value
            out[name] = value
            if name[2:] not in schema.fields:
                out[name[2:]] = value
        return out

    def _vals(self, writes: WriteSet) -> JSON:
        fields = self.schema.fields
        # kesu's field names map to Odoo's custom x_ fields (unless Odoo has the name itself)
        vals: JSON = {(f"x_{k}" if k not in fields and f"x_{k}" in fields else k): v for k, v in writes.fields.items()}
        if writes.priority is not None:
            vals["priority"] = self._priority_values[writes.priority]
        if writes.group is not None:
            assert self._teams is not None
            team = self._teams.ids([writes.group]).get(writes.group)
            if team is None:
                raise InvalidRequest(f"Odoo has no helpdesk team named {writes.group!r} "
                                     f"({self.schema.flavour.team})")
            vals["team_id"] = team
        if writes.owner is not None:
            vals["user_id"] = self._user_id(writes.owner)
        commands: list[list[int]] = []
        if writes.add_tags:
            assert self._tags is not None
            ids = self._tags.ids(writes.add_tags, create=True)
            commands += [[4, ids[t], 0] for t in dict.fromkeys(writes.add_tags) if t in ids]
        if writes.remove_tags:
            assert self._tags is not None
            ids = self._tags.ids(writes.remove_tags)
            commands += [[3, ids[t], 0] for t in dict.fromkeys(writes.remove_tags) if t in ids]
        if commands:
            vals["tag_ids"] = commands
        return vals

    def _user_id(self, login: str) -> int:
        uid = self._users.ids([login]).get(login)
        if uid is None:
            raise InvalidRequest(f"Odoo has no user with login {login!r}")
        return uid

    def _activity(self, rid: int, todo: Todo, owner: str | None) -> JSON:
        model_id, todo_type = self._activity_ids()
        vals: JSON = {
            "res_model_id": model_id, "res_id": rid, "activity_type_id": todo_type,
            "summary": todo.summary[:250],
            "note": f"<p>{html.escape(todo.summary)}</p><p>[{html.escape(todo.rule_id)}]</p>",
            # Odoo's deadline is a date; the UTC date is never later than the moment in UTC.
            "date_deadline": todo.due_at.astimezone(timezone.utc).date().isoformat(),
        }
        assignee = todo.assignee or owner
        if assignee:
            vals["user_id"] = self._user_id(assignee)
        else:
            log.warning("to-do %r on ticket %s has no assignee and the ticket no user: it is "
                        "assigned to kesu's bot", todo.key, rid)
        return vals

    def _activity_ids(self) -> tuple[int, int]:
        """(``ir.model`` id of helpdesk.ticket, id of the To-Do activity type); cached."""
        if self._activity_refs is None:
            models = self.client.search_read("ir.model", [("model", "=", TICKET_MODEL)], ["model"])
            xmlids = self.client.search_read(
                "ir.model.data", [("module", "=", TODO_XMLID[0]), ("name", "=", TODO_XMLID[1])],
                ["res_id"],
            )
            if not models or not xmlids:
                raise NotFound(f"Odoo has no ir.model for {TICKET_MODEL} or no "
                               f"{'.'.join(TODO_XMLID)} activity type (is the mail app installed?)")
            self._activity_refs = (int(models[0]["id"]), int(xmlids[0]["res_id"]))
        return self._activity_refs

    def _todos_not_yet_there(self, rid: int, todos: list[Todo]) -> list[Todo]:
        """Finishing an interrupted write whose note did not land: skip to-dos already created."""
        _, todo_type = self._activity_ids()
        rows = self.client.search_read(
            "mail.activity",
            [("res_model", "=", TICKET_MODEL), ("res_id", "=", rid),
             ("activity_type_id", "=", todo_type), ("summary", "in", [t.summary[:250] for t in todos])],
            ["summary", "date_deadline"],
        )
        there = {(r.get("summary"), r.get("date_deadline")) for r in rows}
        return [t for t in todos if (t.summary[:250], t.due_at.astimezone(timezone.utc).date().isoformat())
                not in there]

    # -- catch-up ------------------------------------------------------------------------------

    def poll_updated(self, since: datetime) -> Iterator[TicketChange]:
        """Tickets with ``write_date >= since - overlap``, oldest first, across all pages.

        Odoo stamps ``write_date`` with the *start* of the writing transaction, so a slow
        transaction can commit a change dated before the cursor; the overlap
        (``poll_overlap_seconds``) re-reads that window, and the repeats are dropped as
        duplicates by their change id. Reads show whole seconds while Odoo compares
        microseconds, so pages continue from the last row's second, excluding the ids already
        seen in that second (offsets would shift when a ticket changes while we page).
        """
        size = self.options.poll_page_size
        start = since - timedelta(seconds=self.options.poll_overlap_seconds)
        cursor = odoo_time_str(start)
        seen: list[int] = []  # ids already yielded whose write_date is in the cursor's second
        while True:
            domain: list[Any] = [("write_date", ">=", cursor)]
            if seen:
                domain.append(("id", "not in", seen))
            rows = self.client.search_read(TICKET_MODEL, domain, ["write_date", "write_uid"],
                                           limit=size, order="write_date asc, id asc")
            for row in rows:
                updated_at = odoo_time(row.get("write_date"))
                if not isinstance(row.get("id"), int) or updated_at is None:
                    log.warning("skipping poll row without id/write_date: %r", row.get("id"))
                    continue
                second = odoo_time_str(updated_at)
                if second != cursor:
                    cursor, seen = second, []
                seen.append(row["id"])
                writer = m2o(row.get("write_uid"))
                yield TicketChange(ref=TicketRef(helpdesk=self.name, id=str(row["id"])),
                                   updated_at=updated_at,
                                   updated_by=str(writer[0]) if writer else None)
            if len(rows) < size:
                return
            if not seen:  # a full page of unreadable rows: stop rather than ask again forever
                raise ProtocolError(f"{TICKET_MODEL}.search_read answered rows without write_date")

    def find_by_number(self, number: str) -> str | None:
        """Odoo shows a ticket as ``#<ticket_ref>`` (Enterprise) or its ``number`` (OCA); a
        helpdesk without either shows the record id, which is then looked for."""
        schema = self.schema
        ref_field = next((f for f in ("ticket_ref", "number") if f in schema.fields), None)
        if ref_field is not None:
            rows = self.client.search_read(TICKET_MODEL, [(ref_field, "=", number)], ["id"], limit=2)
            ids = [r["id"] for r in rows if isinstance(r.get("id"), int)]
            return str(ids[0]) if len(ids) == 1 else None  # two tickets with one number name neither
        if number.isascii() and number.isdigit() and 0 < int(number) <= 2**31 - 1:
            rows = self.client.search_read(TICKET_MODEL, [("id", "=", int(number))], ["id"], limit=1)
            if rows:
                return str(rows[0]["id"])
        return None

    def close(self) -> None:
        self.client.close()


def _record_id(ticket_id: str | int) -> int:
    text = str(ticket_id)
    if not text.isdigit() or int(text) <= 0:
        raise InvalidRequest(f"Odoo record ids are positive numbers, got {text!r}")
    return int(text)
