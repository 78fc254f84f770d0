"""The Zammad connector: webhook intake, ticket reads, write-back and catch-up polling.

Loop safety (reference §3): kesu writes as its own bot user; a webhook whose ticket was last
updated by the bot, with no article or an article by the bot, is marked ``self_caused``. The bot
is recognised by the ``login`` in the payload's ``updated_by`` object (no call needed) or by the
user id resolved once by :meth:`ZammadConnector.prepare`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar

from connector.base import ApplyResult, Connector, TicketChange, WebhookHint, WriteSet
from connector.errors import ProtocolError, WebhookRejected
from connector.http import loads
from connector.zammad.client import JSON, ZammadClient
from kesu.models import Article, EventKind, Party, Priority, Ticket, TicketRef
from kesu.settings import HelpdeskSettings

log = logging.getLogger(__name__)

SYSTEM_USER_ID = 1  # Zammad's "-" user: owner_id 1 means "unassigned"
POLL_PER_PAGE = 100
LOOKUP_REFRESH_SECONDS = 60.0  # an unknown id reloads a lookup table at most this often

# Columns and association names Zammad itself puts on a ticket (REST show, expand, webhook
# payload, ?all=true assets). Every other key of a Ticket asset is a custom object attribute.
BUILTIN_TICKET_KEYS = frozenset({
    "id", "number", "title", "note", "type", "time_unit", "preferences", "checklist_id",
    "group_id", "priority_id", "state_id", "organization_id", "owner_id", "customer_id",
    "created_by_id", "updated_by_id", "created_at", "updated_at",
    "create_article_type_id", "create_article_sender_id", "article_count", "pending_time",
    "first_response_at", "first_response_escalation_at", "first_response_in_min",
    "first_response_diff_in_min", "close_at", "close_escalation_at", "close_in_min",
    "close_diff_in_min", "update_escalation_at", "update_in_min", "update_diff_in_min",
    "last_close_at", "last_contact_at", "last_contact_agent_at", "last_contact_customer_at",
    "last_owner_update_at", "escalation_at",
    "article_ids", "ticket_time_accounting_ids", "ticket_time_accounting",
    "referencing_checklist_ids", "referencing_checklists", "ai_stored_result_ids",
    "ai_stored_results", "mention_user_ids", "shared_draft_ids",
    "group", "organization", "state", "priority", "owner", "customer", "created_by",
    "updated_by", "create_article_type", "create_article_sender", "tags",
})

# Zammad's seeded ids, used only when an article asset lacks the ``sender``/``type`` names.
_SEED_SENDERS = {1: "Agent", 2: "Customer", 3: "System"}
_SEED_TYPES = {
    1: "email", 2: "sms", 3: "chat", 4: "fax", 5: "phone", 6: "twitter status",
    7: "twitter direct-message", 8: "facebook feed post", 9: "facebook feed comment",
    10: "note", 11: "web",
}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        log.warning("ignoring unparsable Zammad timestamp %r", value)
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _iso_utc(moment: datetime) -> str:
    """``2025-06-01T10:00:00Z``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _int_or_none(value: Any) -> int | None:
    """A Zammad id: a positive integer, or a string of ASCII digits of a sane length ("²", "٣",
    "-3" and a 300-digit number are not ids, though ``int()`` takes some of them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18 and int(value) > 0:
        return int(value)
    return None


def _str_id(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else str(value)


class _Lookup:
    """id -> name table of one Zammad list endpoint: loaded lazily, reloaded on unknown ids."""

    def __init__(self, what: str, loader: Callable[[], list[JSON]]) -> None:
        self.what = what
        self._loader = loader
        self._names: dict[int, str] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def learn(self, rows: Mapping[str, Any]) -> None:
        """Take names from assets that came with a ticket (no call)."""
        for row in rows.values():
            if isinstance(row, dict):
                rid, name = _int_or_none(row.get("id")), row.get("name")
                if rid is not None and isinstance(name, str):
                    self._names[rid] = name

    def name(self, raw_id: Any) -> str | None:
        rid = _int_or_none(raw_id)
        if rid is None:
            return None
        if rid not in self._names:
            self._reload(rid)
        name = self._names.get(rid)
        if name is None:
            log.warning("Zammad %s id %s is unknown even after reloading the list", self.what, rid)
        return name

    def _reload(self, wanted: int) -> None:
        with self._lock:
            if wanted in self._names:
                return  # another thread loaded it meanwhile
            now = time.monotonic()
            if self._loaded_at is not None and now - self._loaded_at < LOOKUP_REFRESH_SECONDS:
                return
            rows = self._loader()
            self._loaded_at = now
            self._names.update(
                (rid, row["name"])
                for row in rows
                if (rid := _int_or_none(row.get("id"))) is not None
                and isinstance(row.get("name"), str)
            )


# Zammad's seeded states whose state type is closed/merged/removed (db/seeds/ticket_states.rb).
CLOSED_STATES = frozenset({"closed", "merged", "removed"})


class ZammadConnector(Connector):
    """Zammad via trigger webhooks (HMAC-SHA1 signed) and the REST API with a bot token.

    :param settings: the ``[helpdesk]`` section; ``priority_map`` must map every kesu priority
        (low, normal, high, urgent) to a Zammad priority name.
    :param name: the helpdesk name in ticket keys; defaults to ``settings.name``.
    :param client: a ready client (tests); normally built from ``settings``.
    """

    identifier: ClassVar[str] = "zammad"
    todo_reopens: ClassVar[bool] = True  # a to-do is the "pending reminder" state

    def __init__(
        self,
        settings: HelpdeskSettings,
        name: str | None = None,
        *,
        client: ZammadClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name or settings.name
        if not self.name or ":" in self.name:
            raise ValueError(
                f"helpdesk name must be non-empty and contain no ':', got {self.name!r}"
            )
        if not settings.url.startswith(("http://", "https://")):
            raise ValueError(
                f"helpdesk url must start with http:// or https://, got {settings.url!r}"
            )
        allowed = [p.name for p in Priority]
        unknown = sorted(set(settings.priority_map) - set(allowed))
        missing = [p for p in allowed if p not in settings.priority_map]
        if unknown or missing:
            raise ValueError(
                "priority_map keys must be exactly "
                f"{', '.join(allowed)}; unknown: {unknown or 'none'}, missing: {missing or 'none'}"
            )
        empty = [k for k, v in settings.priority_map.items() if not isinstance(v, str) or not v]
        if empty:
            raise ValueError(f"priority_map values must be Zammad priority names; empty for {empty}")
        self.settings = settings
        self._priority_names = {Priority[k]: v for k, v in settings.priority_map.items()}
        # Several kesu levels may share one Zammad name: reading back gives the lowest of them.
        self._priority_by_name: dict[str, Priority] = {}
        for level in sorted(Priority):
            self._priority_by_name.setdefault(self._priority_names[level], level)
        self._secret = settings.webhook_secret.get_secret_value().encode()
        self._bot_login = settings.bot_login.strip().lower()
        self._bot_id: str | None = None
        self.client = client or ZammadClient(settings, sleep=sleep)
        self._priorities = _Lookup("priority", self.client.ticket_priorities)
        self._states = _Lookup("state", self.client.ticket_states)
        self._groups = _Lookup("group", self.client.groups)
        self._logins: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"ZammadConnector(name={self.name!r}, client={self.client!r})"

    @property
    def todo_state(self) -> str | None:
        return self.settings.reminder_state

    @property
    def bot_user_id(self) -> str | None:
        return self._bot_id

    def prepare(self) -> str:
        """Resolve the bot's user id once (``GET /users/me``); call at start-up."""
        me = self.client.me()
        bot_id = _str_id(me.get("id"))
        if bot_id is None:
            raise ProtocolError("/users/me has no id", method="GET", url=self.client.url("/users/me"))
        login = str(me.get("login") or "")
        if login.lower() != self._bot_login:
            log.warning(
                "the Zammad token belongs to %r but bot_login is %r; self-caused webhooks are "
                "recognised by the token's user id %s", login, self.settings.bot_login, bot_id,
            )
        self._bot_id = bot_id
        return bot_id

    # -- intake --------------------------------------------------------------------------------

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str] | None = None
    ) -> WebhookHint:
        # Zammad signs the body (X-Hub-Signature); the query string carries nothing we trust.
        if not self._secret:
            raise WebhookRejected(401, "webhook secret not configured")
        signature = headers.get("x-hub-signature")
        if not signature:
            raise WebhookRejected(401, "missing X-Hub-Signature header")
        if not signature.startswith("sha1="):
            raise WebhookRejected(401, "X-Hub-Signature must look like 'sha1=<hex>'")
        expected = hmac.new(self._secret, body, hashlib.sha1).hexdigest().encode()
        given = signature[5:].strip().lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected, given):
            raise WebhookRejected(401, "X-Hub-Signature does not match the body")

        try:
            payload = loads(body)
        except ValueError as exc:
            raise WebhookRejected(422, f"body is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise WebhookRejected(422, f"body must be a JSON object, got {type(payload).__name__}")
        ticket = payload.get("ticket")
        if not isinstance(ticket, dict):
            raise WebhookRejected(422, "body has no 'ticket' object")
        ticket_id = ticket.get("id")
        if _int_or_none(ticket_id) is None:
            raise WebhookRejected(422, f"ticket.id must be a number, got {ticket_id!r}")
        article = payload.get("article")
        if article is None:
            article = {}
        elif not isinstance(article, dict):
            raise WebhookRejected(422, "'article' must be an object")
        if article.get("id") is not None and _int_or_none(article.get("id")) is None:
            raise WebhookRejected(422, f"article.id must be a positive number, got {str(article.get('id'))[:40]!r}")
        if ticket.get("article_ids") is not None and not isinstance(ticket.get("article_ids"), list):
            raise WebhookRejected(422, "ticket.article_ids must be a list of ids")

        state = ticket.get("state")
        if isinstance(state, dict):  # custom payloads may resolve it
            state = state.get("name")
        by_bot = self._is_bot(ticket.get("updated_by_id"), ticket.get("updated_by"))
        article_by_bot = bool(article) and self._is_bot(
            article.get("created_by_id"), article.get("created_by")
        )
        self_caused = by_bot and (not article or article_by_bot)
        facts: dict[str, Any] = {
            "trigger": headers.get("x-zammad-trigger"),
            "updated_at": ticket.get("updated_at"),
            "state": state,
        }
        if article.get("id") is not None:
            facts["article_id"] = _str_id(article.get("id"))
        return WebhookHint(
            ref=TicketRef(helpdesk=self.name, id=str(ticket_id)),
            kind=self._kind(ticket, article, state, article_by_bot),
            delivery_id=headers.get("x-zammad-delivery") or None,
            actor=_str_id(ticket.get("updated_by_id")),
            self_caused=self_caused,
            facts=facts,
        )

    def _is_bot(self, user_id: Any, user: Any) -> bool:
        """Whether this user is kesu's bot: by login when the payload has it, else by id."""
        if isinstance(user, dict) and isinstance(user.get("login"), str):
            if user["login"].lower() != self._bot_login:
                return False
            if self._bot_id is None and _str_id(user.get("id")) is not None:
                self._bot_id = _str_id(user.get("id"))  # learnt for payloads without objects
            return True
        return self._bot_id is not None and _str_id(user_id) == self._bot_id

    @staticmethod
    def _kind(ticket: JSON, article: JSON, state: Any, article_by_bot: bool) -> EventKind:
        """created > closed > article_added > updated.

        The payload carries no event type. A ticket is new when the triggering article is its
        first one (Zammad creates both in one transaction; ``created_at == updated_at`` does not
        hold then, the article bumps ``updated_at``), or, without an article, when it was never
        updated. A bot's own internal note is not an ``article_added``.
        """
        article_id = _int_or_none(article.get("id"))
        if article_id is not None:
            ids = [i for i in (_int_or_none(x) for x in ticket.get("article_ids") or []) if i]
            if (ids and article_id == min(ids)) or (not ids and ticket.get("article_count") == 1):
                return EventKind.created
        elif ticket.get("created_at") and ticket.get("created_at") == ticket.get("updated_at"):
            return EventKind.created
        if state == "closed":
            return EventKind.closed
        if article and not (article.get("internal") and article_by_bot):
            return EventKind.article_added
        return EventKind.updated

    # -- reads ---------------------------------------------------------------------------------

    def get_ticket(self, ticket_id: str) -> Ticket:
        data = self.client.ticket_all(ticket_id)
        assets: JSON = data["assets"] if isinstance(data.get("assets"), dict) else {}
        ticket_rows = assets.get("Ticket") or {}
        raw = ticket_rows.get(str(ticket_id)) or ticket_rows.get(str(data.get("ticket_id")))
        if not isinstance(raw, dict):
            raise ProtocolError(
                "the ?all=true answer has no Ticket asset for this ticket",
                method="GET",
                url=self.client.url(f"/tickets/{ticket_id}"),
            )
        users: Mapping[str, Any] = assets.get("User") or {}
        self._priorities.learn(assets.get("TicketPriority") or {})
        self._states.learn(assets.get("TicketState") or {})
        self._groups.learn(assets.get("Group") or {})

        priority_name = self._name(raw, "priority", self._priorities)
        priority = self._priority_by_name.get(priority_name) if priority_name else None
        if priority_name and priority is None:
            log.debug("Zammad priority %r is not in priority_map; read as None", priority_name)
        tags = data.get("tags") or []
        state = self._name(raw, "state", self._states)
        return Ticket(
            ref=TicketRef(helpdesk=self.name, id=str(raw.get("id", ticket_id))),
            number=_str_id(raw.get("number")),
            title=raw.get("title") or "",
            articles=self._articles(data, assets, raw.get("id")),
            customer=self._party(raw.get("customer_id"), users),
            group=self._name(raw, "group", self._groups),
            owner=self._owner_login(raw.get("owner_id"), users),
            priority=priority,
            state=state,
            closed=state in CLOSED_STATES,
            tags=[t for t in tags if isinstance(t, str)],
            fields={k: v for k, v in raw.items() if k not in BUILTIN_TICKET_KEYS},
            created_at=_parse_time(raw.get("created_at")),
            updated_at=_parse_time(raw.get("updated_at")),
            updated_by=_str_id(raw.get("updated_by_id")),
        )

    @staticmethod
    def _name(raw: JSON, key: str, lookup: _Lookup) -> str | None:
        """The name of group/state/priority: expanded name when present, else by id."""
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value
        return lookup.name(raw.get(f"{key}_id"))

    def _articles(self, data: JSON, assets: JSON, ticket_id: Any) -> list[Article]:
        rows: Mapping[str, Any] = assets.get("TicketArticle") or {}
        # ticket_article_ids lists the articles the bot may see; without it, match ticket_id.
        wanted = {i for i in map(_int_or_none, data.get("ticket_article_ids") or []) if i is not None}
        articles = []
        for row in rows.values():
            if not isinstance(row, dict) or (aid := _int_or_none(row.get("id"))) is None:
                continue
            if aid in wanted or (not wanted and _str_id(row.get("ticket_id")) == _str_id(ticket_id)):
                articles.append((aid, self._article(row)))
        return [a for _, a in sorted(articles, key=lambda pair: pair[0])]

    @staticmethod
    def _article(row: JSON) -> Article:
        sender = row.get("sender")
        if not isinstance(sender, str):
            sender = _SEED_SENDERS.get(_int_or_none(row.get("sender_id")) or 0)
        kind = row.get("type")
        if not isinstance(kind, str):
            kind = _SEED_TYPES.get(_int_or_none(row.get("type_id")) or 0)
        return Article(
            id=str(row["id"]),
            subject=row.get("subject"),
            body=row.get("body") or "",
            content_type=row.get("content_type") or "text/plain",
            internal=bool(row.get("internal")),
            sender=sender,
            type=kind,
            created_by=_str_id(row.get("created_by_id")),
            created_at=_parse_time(row.get("created_at")),
        )

    @staticmethod
    def _party(user_id: Any, users: Mapping[str, Any]) -> Party | None:
        if user_id is None:
            return None
        user = users.get(str(user_id))
        if not isinstance(user, dict):
            return Party(id=str(user_id))
        name = " ".join(p for p in (user.get("firstname"), user.get("lastname")) if p).strip()
        return Party(
            id=str(user_id),
            name=name or None,
            login=user.get("login"),
            email=user.get("email") or None,
            phone=user.get("phone") or user.get("mobile") or None,
        )

    def _owner_login(self, owner_id: Any, users: Mapping[str, Any]) -> str | None:
        oid = _int_or_none(owner_id)
        if oid is None or oid == SYSTEM_USER_ID:
            return None
        user = users.get(str(oid))
        if isinstance(user, dict) and isinstance(user.get("login"), str):
            self._logins[oid] = user["login"]
            return str(user["login"])
        if oid not in self._logins:  # not among the assets: one extra call, then cached
            login = self.client.user(oid).get("login")
            if not isinstance(login, str):
                return None
            self._logins[oid] = login
        return self._logins[oid]

    def note_marker_present(self, ticket: Ticket, subject: str) -> bool:
        return any(a.subject == subject for a in ticket.articles)

    # -- writes --------------------------------------------------------------------------------

    def apply(self, ticket: Ticket, writes: WriteSet) -> ApplyResult:
        """One PUT for fields and the note, then one call per tag (Zammad has no batch)."""
        if ticket.ref.helpdesk != self.name:
            raise ValueError(f"ticket {ticket.ref} does not belong to helpdesk {self.name!r}")
        calls = 0
        fields: JSON = dict(writes.fields)
        if writes.todos:
            # A to-do in Zammad's own UI is a reminder: state "pending reminder" with pending_time
            # (Zammad requires both together); the owner sees it under "My pending reached
            # tickets" when it falls due. The earliest to-do sets the time.
            todo = min(writes.todos, key=lambda t: t.due_at)
            fields["state"] = self.settings.reminder_state
            fields["pending_time"] = _iso_utc(todo.due_at)
            if todo.assignee:
                fields["owner"] = todo.assignee
        if writes.priority is not None:
            fields["priority"] = self._priority_names[writes.priority]
        if writes.group is not None:
            fields["group"] = writes.group
        if writes.owner is not None:
            fields["owner"] = writes.owner  # Zammad resolves login or email
        article: JSON | None = None
        if writes.note:
            article = {"body": writes.note, "type": "note", "internal": True,
                       "content_type": "text/plain"}
            if writes.note_subject is not None:
                article["subject"] = writes.note_subject
        if fields or article is not None:
            self.client.update_ticket(ticket.ref.id, fields, article,
                                      check=lambda: self._put_took(ticket.ref.id, fields, article))
            calls += 1
        # Tag calls change nothing when repeated, but a lost answer is still checked rather than
        # sent again (the tag is read back), so no call is ever repeated blind.
        tid = ticket.ref.id
        for tag in dict.fromkeys(writes.add_tags):
            self.client.add_tag(tid, tag, check=lambda tag=tag: tag in self.client.tags(tid))
            calls += 1
        for tag in dict.fromkeys(writes.remove_tags):
            self.client.remove_tag(tid, tag, check=lambda tag=tag: tag not in self.client.tags(tid))
            calls += 1
        return ApplyResult(calls=calls)

    def _put_took(self, ticket_id: str, fields: JSON, article: JSON | None) -> bool:
        """Whether a PUT whose answer was lost was applied: its note is on the ticket (the note
        and the fields are one Zammad transaction), or, without a note, every field holds the
        value sent. One read."""
        data = self.client.ticket_all(ticket_id)
        assets: JSON = data["assets"] if isinstance(data.get("assets"), dict) else {}
        if article is not None:
            articles = self._articles(data, assets, _int_or_none(ticket_id))
            subject = article.get("subject")
            if subject is not None:
                return any(a.subject == subject for a in articles)
            return any(a.internal and a.body == article.get("body") and a.created_by == self._bot_id
                       for a in articles)
        raw = (assets.get("Ticket") or {}).get(str(ticket_id))
        if not isinstance(raw, dict):
            return False
        users: Mapping[str, Any] = assets.get("User") or {}
        self._priorities.learn(assets.get("TicketPriority") or {})
        self._states.learn(assets.get("TicketState") or {})
        self._groups.learn(assets.get("Group") or {})
        lookups = {"priority": self._priorities, "group": self._groups, "state": self._states}
        for key, value in fields.items():
            if key in lookups:
                held: Any = self._name(raw, key, lookups[key])
            elif key == "owner":
                user = users.get(str(raw.get("owner_id")))
                held = {user.get("login"), user.get("email")} if isinstance(user, dict) else set()
                if value not in held:
                    return False
                continue
            elif key == "pending_time":
                held, value = _parse_time(raw.get(key)), _parse_time(value)
            else:
                held = raw.get(key)
            if held != value:
                return False
        return True

    def unapplied(self, ticket: Ticket, writes: WriteSet) -> WriteSet:
        """Zammad applies the fields, the to-do's state and the note in one PUT, one transaction:
        when the note marker is on the ticket, all of it landed and only the tag calls are left.
        Without it, priorities are compared by Zammad name (two kesu levels may share one name,
        and reading back gives the lower: comparing levels would resend it on every recovery)."""
        if writes.note_subject and self.note_marker_present(ticket, writes.note_subject):
            rest = writes.model_copy(deep=True, update={
                "note": None, "note_subject": None, "priority": None, "group": None,
                "owner": None, "fields": {}, "todos": []})
            rest.add_tags = [t for t in rest.add_tags if t not in ticket.tags]
            rest.remove_tags = [t for t in rest.remove_tags if t in ticket.tags]
            return rest
        rest = super().unapplied(ticket, writes)
        if (writes.priority is not None and ticket.priority is not None
                and self._priority_names[writes.priority] == self._priority_names[ticket.priority]):
            rest.priority = None
        return rest

    # -- catch-up ------------------------------------------------------------------------------

    def poll_updated(self, since: datetime) -> Iterator[TicketChange]:
        condition = {"ticket.updated_at": {"operator": "after (absolute)", "value": _iso_utc(since)}}
        for row in self.client.iter_search(condition, per_page=POLL_PER_PAGE):
            updated_at = _parse_time(row.get("updated_at"))
            if row.get("id") is None or updated_at is None:
                log.warning("skipping search row without id/updated_at: %r", row.get("id"))
                continue
            yield TicketChange(
                ref=TicketRef(helpdesk=self.name, id=str(row["id"])),
                updated_at=updated_at,
                updated_by=_str_id(row.get("updated_by_id")),
            )

    def ticket_field_names(self) -> set[str] | None:
        """Custom ticket attributes that are migrated and active (one call,
        ``GET /object_manager_attributes``; the bot needs ``admin.object``, as for setup)."""
        return {str(r["name"]) for r in self.client.object_attributes()
                if str(r.get("object") or "Ticket") == "Ticket" and r.get("name")
                and r.get("active", True) and not r.get("to_create") and not r.get("to_delete")
                and str(r["name"]) not in BUILTIN_TICKET_KEYS}

    def find_by_number(self, number: str) -> str | None:
        # A condition search takes the DB path (no Elasticsearch, no index lag) and compares the
        # whole number, where a ``query`` would also match titles and bodies containing it.
        rows = self.client.search_tickets({"ticket.number": {"operator": "is", "value": number}}, per_page=5)
        found = [r for r in rows if str(r.get("number", number)) == number and _str_id(r.get("id"))]
        return _str_id(found[0]["id"]) if len(found) == 1 else None

    def close(self) -> None:
        self.client.close()
