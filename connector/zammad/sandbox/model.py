"""In-memory Zammad: users, groups, tickets, articles, tags, webhooks, triggers.

Every operation takes the acting user's id and runs under one re-entrant lock, so the HTTP app,
the Python helpers and the webhook workers can share one ``ZammadState``. Writes that Zammad runs
as one transaction (ticket create, ticket update with or without an inline article, article
create) end in ``_commit``, which evaluates the active action triggers exactly once and hands the
resulting webhook deliveries to ``on_deliveries``.

Shapes follow Zammad 6.x: ``ticket_plain`` = ``attributes_with_association_ids``,
``ticket_expanded`` = ``?expand=true``, ``ticket_all`` = ``TicketsController#ticket_all``,
``webhook_payload`` = ``TriggerWebhookJob#default_payload``. Errors are raised as ``ApiError`` and
rendered by the app as ``{"error", "error_human"}``.

Nested values (``preferences``, lists) are never mutated in place, only replaced, so a shallow
copy taken under the lock can be serialised after the lock is released.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import conditions, seeds, timefmt
from .objects import ObjectManager
from .timefmt import Clock

# --------------------------------------------------------------------------------------------
# errors


class ApiError(Exception):
    """An error answer: ``status`` + Zammad's ``{"error": ..., "error_human": ...}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        human: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.human = human
        self.headers = dict(headers or {})
        if status in (401, 403):
            self.headers.setdefault("X-Failure", message)

    def body(self) -> dict[str, str]:
        if self.human:
            return {"error": self.message, "error_human": self.message}
        return {"error": self.message}


def not_found(model: str, ident: Any) -> ApiError:
    return ApiError(404, f"Couldn't find {model} with 'id'={ident}")


def forbidden(message: str = "Not authorized") -> ApiError:
    return ApiError(403, message)


def unprocessable(message: str) -> ApiError:
    return ApiError(422, message)


def _inspect(value: Any) -> str:
    """Ruby's ``#inspect`` for the scalars that appear in lookup errors."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _to_int(value: Any, field_name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise unprocessable(f"Invalid value {_inspect(value)} for field '{field_name}'!") from exc


# --------------------------------------------------------------------------------------------
# records handed to other parts of the sandbox


@dataclass
class Job:
    """One webhook delivery to perform (a Zammad ``TriggerWebhookJob``)."""

    delivery_id: str
    trigger_id: int
    trigger_name: str
    webhook_id: int
    ticket_id: int
    article_id: int | None
    attempt: int = 1


@dataclass
class TransactionRecord:
    """One Zammad transaction (one trigger evaluation) on a ticket."""

    ticket_id: int
    action: str  # "create" | "update"
    article_id: int | None
    user_id: int
    changes: dict[str, list[Any]]
    fired: list[str] = field(default_factory=list)  # names of the triggers that matched
    at: str = ""


@dataclass
class PreparedDelivery:
    endpoint: str
    body: bytes
    trigger_name: str
    signature_token: str | None
    basic_auth: tuple[str, str] | None
    ssl_verify: bool


# --------------------------------------------------------------------------------------------
# JSON like ActiveSupport renders it

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


def ruby_json(value: Any) -> bytes:
    """Compact JSON with ActiveSupport's escaping (``<``, ``>``, ``&`` as ``\\u003c`` ...), UTF-8.

    Characters that need escaping only ever occur inside JSON strings, so a replacement on the
    serialised text is safe.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if _HTML_ESCAPE_RE.search(text):
        text = _HTML_ESCAPE_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], text)
    return text.encode("utf-8")


# --------------------------------------------------------------------------------------------


class ZammadState:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        tokens: Mapping[str, str] | None = None,
        system_id: str = "31",
        fqdn: str = "zammad.example.com",
        http_type: str = "http",
        seed: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.system_id = system_id
        self.fqdn = fqdn
        self.http_type = http_type
        self.ticket_hook = "Ticket#"
        self.on_deliveries: Callable[[list[Job]], None] = lambda jobs: None
        self._token_overrides = dict(tokens or {})

        self.users: dict[int, dict[str, Any]] = {}
        self._passwords: dict[int, str] = {}
        self._user_by_login: dict[str, int] = {}
        self._user_by_email: dict[str, int] = {}
        self._tokens: dict[str, int] = {}
        self._token_of: dict[int, str] = {}
        self.organizations: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.states: dict[int, dict[str, Any]] = {}
        self.priorities: dict[int, dict[str, Any]] = {}
        self.article_types: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self.ticket_article_ids: dict[int, list[int]] = {}
        self.tags: dict[int, list[str]] = {}
        self._tag_items: dict[str, str] = {}  # lower → first spelling
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.triggers: dict[int, dict[str, Any]] = {}
        self.custom_attributes: dict[str, Any] = {}  # ticket columns of migrated attributes
        self.objects = ObjectManager(self)  # the object manager (objects.py)
        self.transactions: list[TransactionRecord] = []
        self.write_log: list[dict[str, Any]] = []  # applied updates and tag changes (tests count them)
        self._next = {"user": 1, "organization": 1, "group": 1, "ticket": 1, "article": 1,
                      "webhook": 1, "trigger": 1}
        self._ticket_counter = 0
        if seed:
            self._seed()

    # ---------------------------------------------------------------------------------- seeds

    def _id(self, kind: str) -> int:
        n = self._next[kind]
        self._next[kind] = n + 1
        return n

    def _seed(self) -> None:
        now = self.clock.now_str()
        for sid, name, type_id, next_id, ignore, default_create, default_follow_up, active in seeds.STATES:
            self.states[sid] = {
                "id": sid,
                "state_type_id": type_id,
                "name": name,
                "next_state_id": next_id,
                "ignore_escalation": ignore,
                "default_create": default_create,
                "default_follow_up": default_follow_up,
                "note": None,
                "active": active,
                "updated_by_id": 1,
                "created_by_id": 1,
                "created_at": now,
                "updated_at": now,
            }
        for pid, name, default_create, icon, color in seeds.PRIORITIES:
            self.priorities[pid] = {
                "id": pid,
                "name": name,
                "default_create": default_create,
                "ui_icon": icon,
                "ui_color": color,
                "note": None,
                "active": True,
                "updated_by_id": 1,
                "created_by_id": 1,
                "created_at": now,
                "updated_at": now,
            }
        for tid, name, communication in seeds.ARTICLE_TYPES:
            self.article_types[tid] = {"id": tid, "name": name, "communication": communication}
        # user 1: the system user "-"
        self._insert_user(login="-", firstname="-", lastname="", email="", roles=(), active=False,
                          organization_id=None, now=now, token=False)
        for name in seeds.DEFAULT_GROUPS:
            self.add_group(name)
        for login, first, last, roles, org in seeds.DEFAULT_USERS:
            self.add_user(login, firstname=first, lastname=last, roles=roles, organization=org)

    def _insert_user(self, *, login: str, firstname: str, lastname: str, email: str,
                     roles: Iterable[str], active: bool, organization_id: int | None, now: str,
                     token: bool | str = True, password: str | None = None,
                     group_ids: Iterable[int] | None = None) -> dict[str, Any]:
        uid = self._id("user")
        role_ids = [seeds.ROLE_IDS[r] for r in roles]
        is_agent = 2 in role_ids
        if group_ids is None:
            group_ids = list(self.groups) if is_agent else []
        user = {
            "id": uid,
            "organization_id": organization_id,
            "login": login,
            "firstname": firstname,
            "lastname": lastname,
            "email": email,
            "image": None,
            "image_source": None,
            "web": "",
            "phone": "",
            "fax": "",
            "mobile": "",
            "department": "",
            "street": "",
            "zip": "",
            "city": "",
            "country": "",
            "address": "",
            "vip": False,
            "verified": False,
            "active": active,
            "note": "",
            "last_login": None,
            "source": None,
            "login_failed": 0,
            "out_of_office": False,
            "out_of_office_start_at": None,
            "out_of_office_end_at": None,
            "out_of_office_replacement_id": None,
            "preferences": {},
            "updated_by_id": 1,
            "created_by_id": 1,
            "created_at": now,
            "updated_at": now,
            "role_ids": role_ids,
            "two_factor_preference_ids": [],
            "organization_ids": [],
            "authorization_ids": [],
            "overview_sorting_ids": [],
            "group_ids": {str(g): ["full"] for g in group_ids} if is_agent else {},
        }
        self.users[uid] = user
        self._user_by_login[login.lower()] = uid
        if email:
            self._user_by_email[email.lower()] = uid
        if password is not None:
            self._passwords[uid] = password
        if token:
            # deterministic per login (handy for demo configs); override via ``tokens=``
            tok = token if isinstance(token, str) else self._token_overrides.get(login) or (
                "sbx-" + hashlib.sha256(f"kesu-sandbox:{login}".encode()).hexdigest()[:40]
            )
            self._tokens[tok] = uid
            self._token_of[uid] = tok
        return user

    # ------------------------------------------------------------------------- admin helpers

    def add_group(self, name: str) -> dict[str, Any]:
        with self.lock:
            existing = self.group_by_name(name)
            if existing:
                return existing
            now = self.clock.now_str()
            gid = self._id("group")
            group = {
                "id": gid,
                "signature_id": None,
                "email_address_id": None,
                "name": name,
                "name_last": name,
                "parent_id": None,
                "assignment_timeout": None,
                "follow_up_possible": "yes",
                "reopen_time_in_days": None,
                "follow_up_assignment": True,
                "active": True,
                "shared_drafts": True,
                "note": "",
                "updated_by_id": 1,
                "created_by_id": 1,
                "created_at": now,
                "updated_at": now,
            }
            self.groups[gid] = group
            # every agent gets full access to a new group (sandbox simplification)
            for user in self.users.values():
                if 2 in user["role_ids"]:
                    user["group_ids"] = {**user["group_ids"], str(gid): ["full"]}
            return group

    def add_organization(self, name: str) -> dict[str, Any]:
        with self.lock:
            for org in self.organizations.values():
                if org["name"].lower() == name.lower():
                    return org
            now = self.clock.now_str()
            oid = self._id("organization")
            org = {
                "id": oid,
                "name": name,
                "shared": True,
                "domain": "",
                "domain_assignment": False,
                "active": True,
                "vip": False,
                "note": "",
                "updated_by_id": 1,
                "created_by_id": 1,
                "created_at": now,
                "updated_at": now,
            }
            self.organizations[oid] = org
            return org

    def add_user(
        self,
        login: str,
        *,
        firstname: str = "",
        lastname: str = "",
        email: str | None = None,
        roles: Iterable[str] = ("Agent",),
        organization: str | None = None,
        token: str | None = None,
        password: str | None = None,
        groups: Iterable[str] | None = None,
        active: bool = True,
    ) -> dict[str, Any]:
        with self.lock:
            if login.lower() in self._user_by_login:
                raise ValueError(f"user {login!r} exists")
            org_id = self.add_organization(organization)["id"] if organization else None
            if email is None:
                email = login if "@" in login else ""
            group_ids = None
            if groups is not None:
                group_ids = [self._group_id_by_name(g) for g in groups]
            user = self._insert_user(
                login=login.lower(), firstname=firstname, lastname=lastname, email=email,
                roles=roles, active=active, organization_id=org_id, now=self.clock.now_str(),
                token=token or True, password=password, group_ids=group_ids,
            )
            return user

    def _group_id_by_name(self, name: str) -> int:
        g = self.group_by_name(name)
        if not g:
            raise ValueError(f"unknown group {name!r}")
        return g["id"]

    def add_custom_attribute(self, name: str, default: Any = None, *, _managed: bool = False) -> None:
        """A ticket column for attribute ``name``: an admin's earlier, migrated text attribute (or,
        ``_managed``, the migration of an object manager attribute)."""
        with self.lock:
            if name in seeds.TICKET_COLUMNS or name in seeds.TICKET_WRITABLE:
                raise ValueError(f"{name!r} is a built-in ticket attribute")
            if not _managed:
                self.objects.register_migrated(name)
            self.custom_attributes[name] = default
            for t in self.tickets.values():
                t.setdefault(name, copy.deepcopy(default))

    def drop_custom_attribute(self, name: str) -> None:
        with self.lock:
            self.custom_attributes.pop(name, None)
            for t in self.tickets.values():
                t.pop(name, None)

    # -------------------------------------------------------------- object manager (admin.object)

    def _admin_object(self, uid: int) -> None:
        if not self.is_admin(uid):
            raise forbidden("Not authorized (user)!")

    def list_object_attributes(self, uid: int) -> list[dict[str, Any]]:
        with self.lock:
            self._admin_object(uid)
            return self.objects.list()

    def get_object_attribute(self, uid: int, ident: Any) -> dict[str, Any]:
        with self.lock:
            self._admin_object(uid)
            return self.objects.out(self.objects.get(ident))

    def create_object_attribute(self, uid: int, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._admin_object(uid)
            return self.objects.create(uid, params)

    def update_object_attribute(self, uid: int, ident: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._admin_object(uid)
            return self.objects.update(uid, ident, params)

    def delete_object_attribute(self, uid: int, ident: Any) -> None:
        with self.lock:
            self._admin_object(uid)
            self.objects.delete(ident)

    def execute_migrations(self, uid: int) -> None:
        with self.lock:
            self._admin_object(uid)
            self.objects.execute_migrations()

    def discard_attribute_changes(self, uid: int) -> None:
        with self.lock:
            self._admin_object(uid)
            self.objects.discard_changes()

    # ------------------------------------------------------------------------------ lookups

    def token_for(self, login: str) -> str:
        with self.lock:
            uid = self.user_id(login)
            return self._token_of[uid]

    def user_id(self, login_or_email: str) -> int:
        uid = self.find_user(login_or_email)
        if uid is None:
            raise KeyError(login_or_email)
        return uid

    def find_user(self, ref: Any) -> int | None:
        """User id by id, login or email (case-insensitive)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return int(ref) if int(ref) in self.users else None
        key = str(ref).strip().lower()
        return self._user_by_login.get(key) or self._user_by_email.get(key)

    def user_for_token(self, token: str) -> int | None:
        return self._tokens.get(token)

    def user_for_password(self, login: str, password: str) -> int | None:
        uid = self.find_user(login)
        if uid is not None and self._passwords.get(uid) == password:
            return uid
        return None

    def group_by_name(self, name: str) -> dict[str, Any] | None:
        for g in self.groups.values():
            if g["name"] == name:
                return g
        return None

    def is_agent(self, uid: int) -> bool:
        u = self.users.get(uid)
        return bool(u) and 2 in u["role_ids"]

    def is_admin(self, uid: int) -> bool:
        u = self.users.get(uid)
        return bool(u) and 1 in u["role_ids"]

    def fullname(self, uid: int | None) -> str:
        u = self.users.get(uid or 0)
        if not u:
            return ""
        name = f"{u['firstname']} {u['lastname']}".strip()
        return name or u["email"] or u["login"]

    def _login(self, uid: int | None) -> str | None:
        u = self.users.get(uid or 0)
        return u["login"] if u else None

    # --------------------------------------------------------------------- access control

    def require_agent(self, uid: int) -> None:
        if not self.is_agent(uid):
            raise forbidden()

    def require_admin(self, uid: int) -> None:
        if not self.is_admin(uid):
            raise forbidden()

    def _can_access_ticket(self, uid: int, ticket: Mapping[str, Any]) -> bool:
        user = self.users[uid]
        if 2 in user["role_ids"]:
            if str(ticket["group_id"]) in user["group_ids"]:
                return True
        return ticket["customer_id"] == uid

    def _ticket_for(self, uid: int, ticket_id: Any) -> dict[str, Any]:
        try:
            tid = int(ticket_id)
        except (TypeError, ValueError):
            raise not_found("Ticket", ticket_id) from None
        ticket = self.tickets.get(tid)
        if ticket is None:
            raise not_found("Ticket", ticket_id)
        if not self._can_access_ticket(uid, ticket):
            raise forbidden()
        return ticket

    def _sees_internal(self, uid: int, ticket: Mapping[str, Any]) -> bool:
        user = self.users[uid]
        return 2 in user["role_ids"] and str(ticket["group_id"]) in user["group_ids"]

    # ---------------------------------------------------------------------- serialisation

    def user_out(self, uid: int, *, expand: bool = False) -> dict[str, Any]:
        u = dict(self.users[uid])
        if expand:
            u["roles"] = [seeds.ROLES[r] for r in u["role_ids"]]
            org = self.organizations.get(u["organization_id"] or 0)
            u["organization"] = org["name"] if org else None
            u["organizations"] = []
            u["groups"] = {
                self.groups[int(g)]["name"]: acc for g, acc in u["group_ids"].items()
                if int(g) in self.groups
            }
            u["authorizations"] = []
            u["created_by"] = self._login(u["created_by_id"])
            u["updated_by"] = self._login(u["updated_by_id"])
        return u

    def _user_payload(self, uid: int | None) -> dict[str, Any]:
        """User object inside a webhook payload (association names, blacklist removed)."""
        if not uid or uid not in self.users:
            return {}
        u = self.user_out(uid, expand=True)
        for key in seeds.USER_PAYLOAD_BLACKLIST:
            u.pop(key, None)
        u["karma_user_ids"] = []
        return dict(sorted(u.items()))

    def group_out(self, gid: int, *, expand: bool = False) -> dict[str, Any]:
        g = dict(self.groups[gid])
        user_ids = sorted(
            uid for uid, u in self.users.items() if str(gid) in u["group_ids"] and u["active"]
        )
        g["user_ids"] = user_ids
        if expand:
            g["users"] = [self.users[u]["login"] for u in user_ids]
            g["created_by"] = self._login(g["created_by_id"])
            g["updated_by"] = self._login(g["updated_by_id"])
        return g

    def organization_out(self, oid: int, *, expand: bool = False) -> dict[str, Any]:
        o = dict(self.organizations[oid])
        members = sorted(uid for uid, u in self.users.items() if u["organization_id"] == oid)
        o["member_ids"] = members
        o["secondary_member_ids"] = []
        if expand:
            o["members"] = [self.users[m]["login"] for m in members]
            o["secondary_members"] = []
            o["created_by"] = self._login(o["created_by_id"])
            o["updated_by"] = self._login(o["updated_by_id"])
        return o

    def _simple_expand(self, record: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(record)
        out["created_by"] = self._login(out.get("created_by_id"))
        out["updated_by"] = self._login(out.get("updated_by_id"))
        return out

    def state_out(self, sid: int, *, expand: bool = False) -> dict[str, Any]:
        s = dict(self.states[sid])
        if expand:
            s["state_type"] = seeds.STATE_TYPES[s["state_type_id"]]
            s = self._simple_expand(s)
        return s

    def priority_out(self, pid: int, *, expand: bool = False) -> dict[str, Any]:
        p = dict(self.priorities[pid])
        return self._simple_expand(p) if expand else p

    def ticket_plain(self, t: Mapping[str, Any]) -> dict[str, Any]:
        return dict(t)

    def ticket_expanded(self, t: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(t)
        org = self.organizations.get(t["organization_id"] or 0)
        type_ = self.article_types.get(t["create_article_type_id"] or 0)
        out.update(
            {
                "referencing_checklist_ids": [],
                "article_ids": list(self.ticket_article_ids.get(t["id"], ())),
                "ticket_time_accounting_ids": [],
                "ai_stored_result_ids": [],
                "referencing_checklists": [],
                "group": self.groups[t["group_id"]]["name"] if t["group_id"] in self.groups else None,
                "organization": org["name"] if org else None,
                "ticket_time_accounting": [],
                "state": self.states[t["state_id"]]["name"],
                "priority": self.priorities[t["priority_id"]]["name"],
                "owner": self._login(t["owner_id"]),
                "customer": self._login(t["customer_id"]),
                "created_by": self._login(t["created_by_id"]),
                "updated_by": self._login(t["updated_by_id"]),
                "create_article_type": type_["name"] if type_ else None,
                "create_article_sender": seeds.ARTICLE_SENDERS.get(t["create_article_sender_id"] or 0),
                "ai_stored_results": [],
            }
        )
        return out

    def article_out(self, a: Mapping[str, Any], *, expand: bool = False) -> dict[str, Any]:
        out = dict(a)
        out["type"] = self.article_types[a["type_id"]]["name"]
        out["sender"] = seeds.ARTICLE_SENDERS[a["sender_id"]]
        out["attachments"] = []
        if expand:
            out["created_by"] = self._login(a["created_by_id"])
            out["updated_by"] = self._login(a["updated_by_id"])
            out["origin_by"] = self._login(a["origin_by_id"])
        return out

    def _article_names(self, a: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "type": self.article_types[a["type_id"]]["name"],
            "sender": seeds.ARTICLE_SENDERS[a["sender_id"]],
        }

    # -------------------------------------------------------------------- read operations

    def me(self, uid: int, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            return self.user_out(uid, expand=expand)

    def get_user(self, uid: int, user_id: Any, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            try:
                target = int(user_id)
            except (TypeError, ValueError):
                raise not_found("User", user_id) from None
            if target not in self.users:
                raise not_found("User", user_id)
            if not self.is_agent(uid) and not self.is_admin(uid) and target != uid:
                raise forbidden()
            return self.user_out(target, expand=expand)

    def list_users(self, uid: int, page: int, per_page: int, expand: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            if not self.is_agent(uid) and not self.is_admin(uid):
                return [self.user_out(uid, expand=expand)]
            ids = sorted(self.users)
            start = (page - 1) * per_page
            return [self.user_out(i, expand=expand) for i in ids[start:start + per_page]]

    def search_users(self, uid: int, query: str, limit: int, expand: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            if not self.is_agent(uid) and not self.is_admin(uid):
                raise forbidden()
            q = (query or "").replace("*", "").strip().lower()
            out = []
            for i in sorted(self.users):
                if i == 1:
                    continue
                u = self.users[i]
                hay = " ".join(
                    str(u[k]) for k in ("login", "email", "firstname", "lastname")
                ).lower()
                if not q or q in hay:
                    out.append(self.user_out(i, expand=expand))
                if len(out) >= limit:
                    break
            return out

    def list_groups(self, uid: int, expand: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            return [self.group_out(g, expand=expand) for g in sorted(self.groups)]

    def get_group(self, uid: int, group_id: Any, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            gid = _to_int_or_404(group_id, "Group")
            if gid not in self.groups:
                raise not_found("Group", group_id)
            return self.group_out(gid, expand=expand)

    def list_states(self, expand: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            return [self.state_out(s, expand=expand) for s in sorted(self.states)]

    def list_priorities(self, expand: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            return [self.priority_out(p, expand=expand) for p in sorted(self.priorities)]

    def get_state(self, sid: Any, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            i = _to_int_or_404(sid, "Ticket::State")
            if i not in self.states:
                raise not_found("Ticket::State", sid)
            return self.state_out(i, expand=expand)

    def get_priority(self, pid: Any, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            i = _to_int_or_404(pid, "Ticket::Priority")
            if i not in self.priorities:
                raise not_found("Ticket::Priority", pid)
            return self.priority_out(i, expand=expand)

    def get_ticket(self, uid: int, ticket_id: Any, *, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            t = self._ticket_for(uid, ticket_id)
            return self.ticket_expanded(t) if expand else self.ticket_plain(t)

    def render_ticket(self, uid: int, ticket_id: int, mode: str) -> dict[str, Any]:
        """``mode``: plain | expand | full | all."""
        with self.lock:
            t = self._ticket_for(uid, ticket_id)
            if mode == "expand":
                return self.ticket_expanded(t)
            if mode == "all":
                return self.ticket_all(uid, t)
            if mode == "full":
                assets = self._ticket_assets(uid, t, {})
                return {"id": t["id"], "assets": assets}
            return self.ticket_plain(t)

    def list_tickets(self, uid: int, page: int, per_page: int, expand: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            visible = [t for _, t in sorted(self.tickets.items()) if self._can_access_ticket(uid, t)]
            start = (page - 1) * per_page
            chunk = visible[start:start + per_page]
            return [self.ticket_expanded(t) if expand else self.ticket_plain(t) for t in chunk]

    def _visible_articles(self, uid: int, t: Mapping[str, Any]) -> list[dict[str, Any]]:
        internal_ok = self._sees_internal(uid, t)
        out = []
        for aid in self.ticket_article_ids.get(t["id"], ()):
            a = self.articles[aid]
            if a["internal"] and not internal_ok:
                continue
            out.append(a)
        return out

    def _add_user_asset(self, assets: dict[str, Any], uid: int | None) -> None:
        if not uid or uid not in self.users:
            return
        users = assets.setdefault("User", {})
        key = str(uid)
        if key in users:
            return
        users[key] = self.user_out(uid)
        oid = self.users[uid]["organization_id"]
        if oid:
            assets.setdefault("Organization", {})[str(oid)] = self.organization_out(oid)

    def _ticket_assets(self, uid: int, t: Mapping[str, Any], assets: dict[str, Any]) -> dict[str, Any]:
        assets.setdefault("Ticket", {})[str(t["id"])] = self.ticket_plain(t)
        for key in ("owner_id", "customer_id", "created_by_id", "updated_by_id"):
            self._add_user_asset(assets, t[key])
        if t["group_id"] in self.groups:
            assets.setdefault("Group", {})[str(t["group_id"])] = self.group_out(t["group_id"])
        if t["organization_id"] in self.organizations:
            assets.setdefault("Organization", {})[str(t["organization_id"])] = self.organization_out(
                t["organization_id"]
            )
        return assets

    def ticket_all(self, uid: int, t: Mapping[str, Any]) -> dict[str, Any]:
        # Ticket::ScreenOptions.attributes_to_change contributes the selectable states and
        # priorities to the assets.
        assets: dict[str, Any] = {
            "TicketState": {str(s): self.state_out(s) for s in sorted(self.states)},
            "TicketPriority": {str(p): self.priority_out(p) for p in sorted(self.priorities)},
        }
        self._ticket_assets(uid, t, assets)
        article_ids = []
        for a in self._visible_articles(uid, t):
            article_ids.append(a["id"])
            assets.setdefault("TicketArticle", {})[str(a["id"])] = self.article_out(a)
            for key in ("created_by_id", "updated_by_id", "origin_by_id"):
                self._add_user_asset(assets, a[key])
        return {
            "ticket_id": t["id"],
            "ticket_article_ids": article_ids,
            "assets": assets,
            "links": [],
            "tags": list(self.tags.get(t["id"], ())),
            "mentions": [],
            "form_meta": {},
        }

    def articles_by_ticket(self, uid: int, ticket_id: Any, expand: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            t = self._ticket_for(uid, ticket_id)
            return [self.article_out(a, expand=expand) for a in self._visible_articles(uid, t)]

    def get_article(self, uid: int, article_id: Any, expand: bool = False) -> dict[str, Any]:
        with self.lock:
            aid = _to_int_or_404(article_id, "Ticket::Article")
            a = self.articles.get(aid)
            if a is None:
                raise not_found("Ticket::Article", article_id)
            t = self.tickets[a["ticket_id"]]
            if not self._can_access_ticket(uid, t) or (a["internal"] and not self._sees_internal(uid, t)):
                raise forbidden()
            return self.article_out(a, expand=expand)

    def tag_list(self, uid: int, obj: str, o_id: Any) -> list[str]:
        with self.lock:
            if obj != "Ticket":
                return []
            t = self._ticket_for(uid, o_id)
            return list(self.tags.get(t["id"], ()))

    # ---------------------------------------------------------------------------- search

    def search_tickets(
        self,
        uid: int,
        *,
        query: str | None = None,
        condition: Mapping[str, Any] | None = None,
        sort_by: Any = None,
        order_by: Any = None,
        page: int = 1,
        per_page: int = 50,
    ) -> list[dict[str, Any]]:
        with self.lock:
            q = (query or "").replace("*", "").strip().lower()
            selector = None
            if condition:
                try:
                    selector = conditions.migrate(condition)
                except conditions.InvalidCondition as exc:
                    raise unprocessable(str(exc)) from exc
            hits = []
            for tid in sorted(self.tickets):
                t = self.tickets[tid]
                if not self._can_access_ticket(uid, t):
                    continue
                if q and not self._text_match(t, q):
                    continue
                if selector is not None:
                    ctx = self._context(t, articles=[self.articles[a] for a in
                                                     self.ticket_article_ids.get(tid, ())])
                    try:
                        if not conditions.matches(selector, ctx):
                            continue
                    except conditions.InvalidCondition as exc:
                        raise unprocessable(str(exc)) from exc
                hits.append(t)
            keys = _split_list(sort_by) or ["updated_at"]
            orders = _split_list(order_by) or ["desc"]
            # stable multi-key sort: apply keys from last to first; ties broken by id in the
            # direction of the first key
            first_desc = orders[0].lower() == "desc"
            hits.sort(key=lambda t: t["id"], reverse=first_desc)
            for i in range(len(keys) - 1, -1, -1):
                desc = (orders[i] if i < len(orders) else orders[-1]).lower() == "desc"
                hits.sort(key=_sort_key(keys[i], desc), reverse=desc)
            start = (page - 1) * per_page
            return hits[start:start + per_page]

    def _text_match(self, t: Mapping[str, Any], q: str) -> bool:
        if q in str(t["title"]).lower() or q in str(t["number"]).lower():
            return True
        for aid in self.ticket_article_ids.get(t["id"], ()):
            a = self.articles[aid]
            for key in ("body", "from", "to", "subject"):
                if a.get(key) and q in str(a[key]).lower():
                    return True
        return False

    def _lookup_related(self, table: str, t: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if table == "customer":
            return self.users.get(t["customer_id"])
        if table == "owner":
            return self.users.get(t["owner_id"])
        if table == "organization":
            return self.organizations.get(t["organization_id"] or 0)
        if table == "ticket_state":
            return self.states.get(t["state_id"])
        if table == "group":
            return self.groups.get(t["group_id"])
        return None

    def _context(self, t: Mapping[str, Any], **kwargs: Any) -> conditions.Context:
        cu = kwargs.get("current_user_id")
        org_ids: list[int] = []
        if cu and cu in self.users and self.users[cu]["organization_id"]:
            org_ids = [self.users[cu]["organization_id"]]
        return conditions.Context(
            ticket=t,
            tags=self.tags.get(t["id"], []),
            lookup=self._lookup_related,
            current_user_organization_ids=org_ids,
            now=self.clock.source,
            article_names=self._article_names,
            **kwargs,
        )

    # ----------------------------------------------------------------- association params

    def _resolve_params(self, uid: int, params: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
        """Turn API params into column values (``*_id`` wins over names); unknown keys dropped."""
        out: dict[str, Any] = {}
        p = dict(params)
        # names → ids
        name_maps: list[tuple[str, Callable[[Any], int | None]]] = [
            ("group", lambda v: (self.group_by_name(str(v)) or {}).get("id")),
            ("state", lambda v: next((s["id"] for s in self.states.values() if s["name"] == v), None)),
            ("priority", lambda v: next((s["id"] for s in self.priorities.values() if s["name"] == v), None)),
            ("organization", lambda v: next((o["id"] for o in self.organizations.values() if o["name"] == v), None)),
            ("owner", self.find_user),
            ("customer", self.find_user),
        ]
        for assoc, finder in name_maps:
            id_key = f"{assoc}_id"
            if p.get(id_key) not in (None, ""):
                continue
            if assoc in p and p[assoc] not in (None, ""):
                value = p[assoc]
                found = finder(value) if not isinstance(value, (dict, list)) else None
                if found is None:
                    raise unprocessable(f"No lookup value found for '{assoc}': {_inspect(value)}")
                p[id_key] = found
        for key in seeds.TICKET_WRITABLE:
            if key in p:
                out[key] = p[key]
        for key in self.custom_attributes:
            if key in p:
                out[key] = self.objects.cast(key, p[key])
        # customer "guess:<email>" (agents only)
        cust = out.get("customer_id")
        if isinstance(cust, str) and cust.startswith("guess:"):
            email = cust[len("guess:"):].strip()
            found = self.find_user(email)
            if found is None:
                found = self._insert_user(
                    login=email.lower(), firstname="", lastname="", email=email,
                    roles=("Customer",), active=True, organization_id=None,
                    now=self.clock.now_str(), token=True,
                )["id"]
            out["customer_id"] = found
        # foreign keys
        fk = {
            "group_id": self.groups,
            "state_id": self.states,
            "priority_id": self.priorities,
            "organization_id": self.organizations,
            "owner_id": self.users,
            "customer_id": self.users,
        }
        for key, table in fk.items():
            if key in out:
                if out[key] in (None, "") and key in ("organization_id",):
                    out[key] = None
                    continue
                value = _to_int(out[key], key)
                if value not in table:
                    raise self._fk_error(uid, key, value)
                out[key] = value
        if "pending_time" in out:
            try:
                out["pending_time"] = timefmt.normalize(out["pending_time"])
            except (TypeError, ValueError) as exc:
                raise unprocessable(f"Invalid value {_inspect(out['pending_time'])} for field 'pending_time'!") from exc
        if "preferences" in out:
            prefs = out["preferences"]
            if not isinstance(prefs, Mapping):
                raise unprocessable("Invalid value for field 'preferences'!")
            base = dict(current["preferences"]) if current else {}
            base.update(prefs)
            out["preferences"] = base
        return out

    def _fk_error(self, uid: int, key: str, value: Any) -> ApiError:
        table = {"group_id": "groups", "state_id": "ticket_states", "priority_id": "ticket_priorities",
                 "organization_id": "organizations", "owner_id": "users", "customer_id": "users"}[key]
        detail = (
            "PG::ForeignKeyViolation: ERROR:  insert or update on table \"tickets\" violates "
            f"foreign key constraint \"fk_rails_{key}\"\nDETAIL:  Key ({key})=({value}) is not "
            f"present in table \"{table}\"."
        )
        if self.is_admin(uid):
            return ApiError(422, detail, human=False)
        return ApiError(
            422, f"Error ID {secrets.token_urlsafe(6)[:8]}: Please contact your administrator.", human=False
        )

    def _finish_ticket(self, uid: int, t: dict[str, Any], old: Mapping[str, Any] | None, now: str,
                       explicit: set[str]) -> None:
        """Derived attributes and Core Workflow checks after params were applied."""
        state = self.states[t["state_id"]]
        state_type = state["state_type_id"]
        if state_type in seeds.PENDING_STATE_TYPES:
            if not t["pending_time"]:
                raise unprocessable("Missing required value for field 'pending_time'!")
        elif t["pending_time"] is not None and (old is None or old["state_id"] != t["state_id"]):
            t["pending_time"] = None  # Ticket#reset_pending_time
        if state_type in seeds.CLOSED_STATE_TYPES and (old is None or old["state_id"] != t["state_id"]):
            if state_type == 5:
                t["close_at"] = t["close_at"] or now
                t["last_close_at"] = now
        # owner must be an active agent, else the ticket falls back to "unassigned" (user 1)
        owner = self.users.get(t["owner_id"])
        if t["owner_id"] != 1 and (not owner or not owner["active"] or 2 not in owner["role_ids"]):
            t["owner_id"] = 1
        if old is not None and old["owner_id"] != t["owner_id"]:
            t["last_owner_update_at"] = now
        if (old is None or old["customer_id"] != t["customer_id"]) and "organization_id" not in explicit:
            t["organization_id"] = self.users[t["customer_id"]]["organization_id"]

    # ---------------------------------------------------------------------- write: ticket

    def create_ticket(self, uid: int, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            p = dict(params)
            article_params = p.pop("article", None)
            tags_param = p.pop("tags", None)
            agent = self.is_agent(uid)
            if not agent:
                # customers create tickets for themselves only
                for key in ("owner", "owner_id", "customer", "customer_id", "organization", "organization_id"):
                    p.pop(key, None)
                p["customer_id"] = uid
            values = self._resolve_params(uid, p, None)
            if not str(values.get("title") or "").strip():
                raise unprocessable("Missing required value for field 'title'!")
            if values.get("group_id") is None:
                raise unprocessable("Missing required value for field 'group_id'!")
            if values.get("customer_id") is None:
                raise unprocessable("Missing required value for field 'customer_id'!")
            if agent and str(values["group_id"]) not in self.users[uid]["group_ids"]:
                raise forbidden()
            now = self.clock.now_str()
            tid = self._next["ticket"]
            t: dict[str, Any] = {key: None for key in seeds.TICKET_COLUMNS}
            for name, default in self.custom_attributes.items():
                t[name] = copy.deepcopy(default)
            t.update(
                id=tid,
                priority_id=next(x["id"] for x in self.priorities.values() if x["default_create"]),
                state_id=next(s["id"] for s in self.states.values() if s["default_create"]),
                owner_id=1,
                article_count=0,
                preferences={},
                created_by_id=uid,
                updated_by_id=uid,
                created_at=now,
                updated_at=now,
            )
            t.update(values)
            t["title"] = str(t["title"])
            self._finish_ticket(uid, t, None, now, set(values))
            prepared = None
            if article_params is not None:
                if not isinstance(article_params, Mapping):
                    raise unprocessable("Need at least an 'article body' field.")
                prepared = self._prepare_article(uid, t, article_params, now)
            # commit
            self._next["ticket"] = tid + 1
            self._ticket_counter += 1
            t["number"] = self._ticket_number(self._ticket_counter)
            self.tickets[tid] = t
            self.ticket_article_ids[tid] = []
            self.tags[tid] = []
            article_id = None
            if prepared is not None:
                article_id = self._store_article(t, prepared)
            if tags_param:
                items = tags_param.split(",") if isinstance(tags_param, str) else list(tags_param)
                for item in items:
                    self._tag_add(t, str(item), touch=False)
            self._commit(t, "create", article_id, uid, {}, now)
            return t

    def _ticket_number(self, counter: int) -> str:
        width = max(5 - len(self.system_id), 1)
        return f"{self.system_id}{counter:0{width}d}"

    def update_ticket(self, uid: int, ticket_id: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            t = self._ticket_for(uid, ticket_id)
            p = dict(params)
            article_params = p.pop("article", None)
            p.pop("tags", None)  # PUT does not handle tags
            if not self.is_agent(uid):
                for key in ("owner", "owner_id", "customer", "customer_id", "organization",
                            "organization_id", "preferences"):
                    p.pop(key, None)
            values = self._resolve_params(uid, p, t)
            new = dict(t)
            new.update(values)
            if "title" in values:
                if not str(values["title"] or "").strip():
                    raise unprocessable("Missing required value for field 'title'!")
                new["title"] = str(values["title"])
            if self.is_agent(uid) and "group_id" in values and \
                    str(values["group_id"]) not in self.users[uid]["group_ids"]:
                raise forbidden()
            now = self.clock.now_str()
            self._finish_ticket(uid, new, t, now, set(values))
            prepared = None
            if article_params is not None:
                if not isinstance(article_params, Mapping):
                    raise unprocessable("Need at least an 'article body' field.")
                prepared = self._prepare_article(uid, new, article_params, now)
            changes = {
                k: [t.get(k), new.get(k)] for k in new
                if new.get(k) != t.get(k) and k not in seeds.IGNORED_CHANGE_KEYS
            }
            self.write_log.append({"ticket_id": t["id"], "user_id": uid, "op": "update",
                                   "values": copy.deepcopy(dict(params))})
            if not changes and prepared is None:
                return t  # nothing to save: no updated_at bump, no transaction
            new["updated_at"] = now
            new["updated_by_id"] = uid
            if t["updated_by_id"] != uid:
                changes["updated_by_id"] = [t["updated_by_id"], uid]
            self.tickets[t["id"]] = new
            article_id = None
            if prepared is not None:
                article_id = self._store_article(new, prepared)
            self._commit(new, "update", article_id, uid, changes, now)
            return self.tickets[new["id"]]

    def delete_ticket(self, uid: int, ticket_id: Any) -> None:
        with self.lock:
            self.require_admin(uid)
            t = self._ticket_for(uid, ticket_id)
            for aid in self.ticket_article_ids.pop(t["id"], []):
                self.articles.pop(aid, None)
            self.tags.pop(t["id"], None)
            del self.tickets[t["id"]]

    # --------------------------------------------------------------------- write: article

    def _prepare_article(self, uid: int, t: Mapping[str, Any], params: Mapping[str, Any], now: str) -> dict[str, Any]:
        p = dict(params)
        body = p.get("body")
        if body is None or body == "":
            raise unprocessable("Need at least an 'article body' field.")
        agent = self.is_agent(uid)
        # type
        if p.get("type_id") not in (None, ""):
            type_id = _to_int(p["type_id"], "type_id")
            if type_id not in self.article_types:
                raise unprocessable(f"No lookup value found for 'type_id': {type_id}")
        elif p.get("type") not in (None, ""):
            type_id = next((x["id"] for x in self.article_types.values() if x["name"] == p["type"]), None)
            if type_id is None:
                raise unprocessable(f"No lookup value found for 'type': {_inspect(p['type'])}")
        else:
            type_id = 10  # note
        # sender
        if p.get("sender_id") not in (None, ""):
            sender_id = _to_int(p["sender_id"], "sender_id")
            if sender_id not in seeds.ARTICLE_SENDERS:
                raise unprocessable(f"No lookup value found for 'sender_id': {sender_id}")
        elif p.get("sender") not in (None, ""):
            sender_id = next((k for k, v in seeds.ARTICLE_SENDERS.items() if v == p["sender"]), None)
            if sender_id is None:
                raise unprocessable(f"No lookup value found for 'sender': {_inspect(p['sender'])}")
        else:
            sender_id = 1 if agent else 2
        internal = _to_bool(p.get("internal", False))
        if not agent:
            sender_id = 2
            internal = False
        origin_by_id = None
        if agent and p.get("origin_by_id") not in (None, ""):
            origin_by_id = _to_int(p["origin_by_id"], "origin_by_id")
        user = self.users[uid]
        if p.get("from"):
            from_ = str(p["from"])
        elif sender_id == 2:
            from_ = f"{self.fullname(uid)} <{user['email']}>" if user["email"] else self.fullname(uid)
        else:
            from_ = self.fullname(uid)
        to = p.get("to")
        if to is None and sender_id == 2 and t.get("group_id") in self.groups:
            to = self.groups[t["group_id"]]["name"]
        return {
            "ticket_id": t["id"],
            "type_id": type_id,
            "sender_id": sender_id,
            "from": from_,
            "to": to if to is not None else "",
            "cc": p.get("cc") if p.get("cc") is not None else "",
            "subject": p.get("subject") if p.get("subject") is not None else "",
            "reply_to": p.get("reply_to"),
            "message_id": p.get("message_id"),
            "message_id_md5": None,
            "in_reply_to": p.get("in_reply_to"),
            "content_type": p.get("content_type") or "text/plain",
            "references": None,
            "body": str(body),
            "internal": internal,
            "preferences": dict(p["preferences"]) if isinstance(p.get("preferences"), Mapping) else {},
            "updated_by_id": uid,
            "created_by_id": uid,
            "origin_by_id": origin_by_id,
            "created_at": now,
            "updated_at": now,
        }

    def _store_article(self, t: dict[str, Any], prepared: dict[str, Any]) -> int:
        aid = self._id("article")
        article = {"id": aid, **prepared}
        self.articles[aid] = article
        self.ticket_article_ids[t["id"]] = [*self.ticket_article_ids.get(t["id"], []), aid]
        now = article["created_at"]
        t["article_count"] = (t["article_count"] or 0) + 1
        if t["create_article_type_id"] is None:
            t["create_article_type_id"] = article["type_id"]
            t["create_article_sender_id"] = article["sender_id"]
        communication = self.article_types[article["type_id"]]["communication"]
        if communication and not article["internal"]:
            if article["sender_id"] == 2:
                t["last_contact_customer_at"] = now
                t["last_contact_at"] = now
            elif article["sender_id"] == 1:
                t["last_contact_agent_at"] = now
                t["last_contact_at"] = now
                if t["first_response_at"] is None:
                    t["first_response_at"] = now
        return aid

    def create_article(self, uid: int, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            if params.get("ticket_id") in (None, ""):
                raise unprocessable("Need ticket_id!")
            t = self._ticket_for(uid, params["ticket_id"])
            now = self.clock.now_str()
            prepared = self._prepare_article(uid, t, params, now)
            new = dict(t)
            new["updated_at"] = now
            new["updated_by_id"] = uid
            changes: dict[str, list[Any]] = {}
            if t["updated_by_id"] != uid:
                changes["updated_by_id"] = [t["updated_by_id"], uid]
            self.tickets[t["id"]] = new
            aid = self._store_article(new, prepared)
            self._commit(new, "update", aid, uid, changes, now)
            return self.articles[aid]

    # ------------------------------------------------------------------------- write: tags

    def _tag_add(self, t: dict[str, Any], item: str, *, touch: bool) -> None:
        item = item.strip()
        if not item:
            return
        canonical = self._tag_items.setdefault(item.lower(), item)
        current = self.tags.get(t["id"], [])
        if any(x.lower() == item.lower() for x in current):
            return
        self.tags[t["id"]] = [*current, canonical]
        if touch:
            self._touch(t)

    def _touch(self, t: dict[str, Any]) -> None:
        # Tag changes "touch" the ticket (updated_at only) and run no transaction / trigger
        # (zammad/zammad#2438).
        new = dict(t)
        new["updated_at"] = self.clock.now_str()
        self.tickets[t["id"]] = new

    def tag_add(self, uid: int, obj: str, o_id: Any, item: Any) -> bool:
        with self.lock:
            if obj != "Ticket":
                raise unprocessable(f"Invalid object '{obj}'")
            if item in (None, "") or not str(item).strip():
                raise unprocessable("Need item!")
            t = self._ticket_for(uid, o_id)
            if not self.is_agent(uid):
                raise forbidden()
            self._tag_add(t, str(item), touch=True)
            self.write_log.append({"ticket_id": t["id"], "user_id": uid, "op": "tag_add",
                                   "values": {"item": str(item)}})
            return True

    def tag_remove(self, uid: int, obj: str, o_id: Any, item: Any) -> bool:
        with self.lock:
            if obj != "Ticket":
                raise unprocessable(f"Invalid object '{obj}'")
            if item in (None, ""):
                raise unprocessable("Need item!")
            t = self._ticket_for(uid, o_id)
            if not self.is_agent(uid):
                raise forbidden()
            key = str(item).strip().lower()
            self.tags[t["id"]] = [x for x in self.tags.get(t["id"], []) if x.lower() != key]
            self._touch(t)
            self.write_log.append({"ticket_id": t["id"], "user_id": uid, "op": "tag_remove",
                                   "values": {"item": str(item)}})
            return True

    # ------------------------------------------------------------------ webhooks & triggers

    _WEBHOOK_FIELDS = {
        "name": None,
        "endpoint": None,
        "signature_token": None,
        "ssl_verify": True,
        "basic_auth_username": None,
        "basic_auth_password": None,
        "customized_payload": False,
        "custom_payload": None,
        "note": "",
        "pre_defined_webhook_type": None,
        "preferences": {},
        "active": True,
    }

    def _validate_webhook(self, w: Mapping[str, Any], own_id: int | None) -> None:
        if not str(w.get("name") or "").strip():
            raise unprocessable("Name can't be blank")
        endpoint = str(w.get("endpoint") or "")
        if not re.match(r"^https?://[^\s/]+", endpoint):
            raise unprocessable("Endpoint Invalid URL")
        for other in self.webhooks.values():
            if other["id"] != own_id and other["name"].lower() == str(w["name"]).lower():
                raise unprocessable("Name has already been taken")
        if w.get("customized_payload") and w.get("custom_payload"):
            try:
                json.loads(w["custom_payload"])
            except (TypeError, ValueError) as exc:
                raise unprocessable("Custom payload is not valid JSON") from exc

    def list_webhooks(self, uid: int) -> list[dict[str, Any]]:
        with self.lock:
            self.require_admin(uid)
            return [dict(w) for _, w in sorted(self.webhooks.items())]

    def get_webhook(self, uid: int, webhook_id: Any) -> dict[str, Any]:
        with self.lock:
            self.require_admin(uid)
            wid = _to_int_or_404(webhook_id, "Webhook")
            if wid not in self.webhooks:
                raise not_found("Webhook", webhook_id)
            return dict(self.webhooks[wid])

    def create_webhook(self, uid: int, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.require_admin(uid)
            w = {k: copy.deepcopy(v) for k, v in self._WEBHOOK_FIELDS.items()}
            w.update({k: v for k, v in params.items() if k in self._WEBHOOK_FIELDS})
            w["ssl_verify"] = _to_bool(w["ssl_verify"])
            w["active"] = _to_bool(w["active"])
            w["customized_payload"] = _to_bool(w["customized_payload"])
            self._validate_webhook(w, None)
            now = self.clock.now_str()
            wid = self._id("webhook")
            w = {"id": wid, **w, "created_by_id": uid, "updated_by_id": uid, "created_at": now,
                 "updated_at": now}
            self.webhooks[wid] = w
            return dict(w)

    def update_webhook(self, uid: int, webhook_id: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            current = self.get_webhook(uid, webhook_id)
            w = dict(current)
            w.update({k: v for k, v in params.items() if k in self._WEBHOOK_FIELDS})
            for key in ("ssl_verify", "active", "customized_payload"):
                w[key] = _to_bool(w[key])
            self._validate_webhook(w, current["id"])
            w["updated_by_id"] = uid
            w["updated_at"] = self.clock.now_str()
            self.webhooks[current["id"]] = w
            return dict(w)

    def delete_webhook(self, uid: int, webhook_id: Any) -> None:
        with self.lock:
            current = self.get_webhook(uid, webhook_id)
            users = [tr["name"] for tr in self.triggers.values()
                     if current["id"] in _webhook_ids(tr.get("perform"))]
            if users:
                raise unprocessable(
                    "This object is referenced by other object(s) and thus cannot be deleted: "
                    + ", ".join(f"Trigger / {n}" for n in users)
                )
            del self.webhooks[current["id"]]

    _TRIGGER_FIELDS = {
        "name": None,
        "condition": None,
        "perform": None,
        "disable_notification": True,
        "note": None,
        "activator": "action",
        "execution_condition_mode": "selective",
        "localization": "system",
        "timezone": "system",
        "active": True,
    }

    def _validate_trigger(self, tr: Mapping[str, Any], own_id: int | None) -> None:
        if not str(tr.get("name") or "").strip():
            raise unprocessable("Name can't be blank")
        for other in self.triggers.values():
            if other["id"] != own_id and other["name"].lower() == str(tr["name"]).lower():
                raise unprocessable("Name has already been taken")
        if tr["activator"] not in ("action", "time"):
            raise unprocessable("Activator is not included in the list")
        if tr["execution_condition_mode"] not in ("selective", "always"):
            raise unprocessable("Execution condition mode is not included in the list")
        if not isinstance(tr.get("condition"), Mapping) or not tr["condition"]:
            raise unprocessable("Condition can't be blank")
        if not isinstance(tr.get("perform"), Mapping) or not tr["perform"]:
            raise unprocessable("Perform can't be blank")
        try:
            conditions.migrate(tr["condition"])
        except conditions.InvalidCondition as exc:
            raise unprocessable(str(exc)) from exc
        if "notification.webhook" in tr["perform"]:
            ids = _webhook_ids(tr["perform"])
            if not ids:
                raise unprocessable("Perform notification.webhook needs a webhook_id")
            for wid in ids:
                if wid not in self.webhooks:
                    raise unprocessable(f"Couldn't find Webhook with 'id'={wid}")

    def list_triggers(self, uid: int) -> list[dict[str, Any]]:
        with self.lock:
            self.require_admin(uid)
            return [copy.deepcopy(t) for _, t in sorted(self.triggers.items())]

    def get_trigger(self, uid: int, trigger_id: Any) -> dict[str, Any]:
        with self.lock:
            self.require_admin(uid)
            tid = _to_int_or_404(trigger_id, "Trigger")
            if tid not in self.triggers:
                raise not_found("Trigger", trigger_id)
            return copy.deepcopy(self.triggers[tid])

    def create_trigger(self, uid: int, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.require_admin(uid)
            tr = {k: copy.deepcopy(v) for k, v in self._TRIGGER_FIELDS.items()}
            tr.update({k: copy.deepcopy(v) for k, v in params.items() if k in self._TRIGGER_FIELDS})
            tr["active"] = _to_bool(tr["active"])
            self._validate_trigger(tr, None)
            now = self.clock.now_str()
            tid = self._id("trigger")
            tr = {"id": tid, **tr, "created_by_id": uid, "updated_by_id": uid, "created_at": now,
                  "updated_at": now}
            self.triggers[tid] = tr
            return copy.deepcopy(tr)

    def update_trigger(self, uid: int, trigger_id: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            current = self.get_trigger(uid, trigger_id)
            tr = dict(current)
            tr.update({k: copy.deepcopy(v) for k, v in params.items() if k in self._TRIGGER_FIELDS})
            tr["active"] = _to_bool(tr["active"])
            self._validate_trigger(tr, current["id"])
            tr["updated_by_id"] = uid
            tr["updated_at"] = self.clock.now_str()
            self.triggers[current["id"]] = tr
            return copy.deepcopy(tr)

    def delete_trigger(self, uid: int, trigger_id: Any) -> None:
        with self.lock:
            current = self.get_trigger(uid, trigger_id)
            del self.triggers[current["id"]]

    # ------------------------------------------------------------------------ transactions

    def _commit(self, t: Mapping[str, Any], action: str, article_id: int | None, uid: int,
                changes: Mapping[str, list[Any]], now: str) -> None:
        """One Zammad transaction finished: evaluate action triggers once, enqueue webhooks."""
        record = TransactionRecord(
            ticket_id=t["id"], action=action, article_id=article_id, user_id=uid,
            changes=dict(changes), at=now,
        )
        article = self.articles.get(article_id) if article_id else None
        current_user = article["updated_by_id"] if article else t["updated_by_id"]
        jobs: list[Job] = []
        for trigger in sorted(self.triggers.values(), key=lambda x: x["name"]):
            if not trigger["active"] or trigger["activator"] != "action":
                continue
            ctx = self._context(
                t,
                trigger=True,
                article=article,
                ticket_action=action,
                changes=list(changes),
                changes_required=trigger["execution_condition_mode"] == "selective",
                current_user_id=current_user,
            )
            try:
                if not conditions.matches(trigger["condition"], ctx):
                    continue
            except conditions.InvalidCondition:
                continue
            record.fired.append(trigger["name"])
            for wid in _webhook_ids(trigger["perform"]):
                webhook = self.webhooks.get(wid)
                if webhook is None or not webhook["active"]:
                    continue
                jobs.append(Job(
                    delivery_id=str(uuid.uuid4()), trigger_id=trigger["id"],
                    trigger_name=trigger["name"], webhook_id=wid, ticket_id=t["id"],
                    article_id=article_id,
                ))
        self.transactions.append(record)
        if jobs:
            self.on_deliveries(jobs)

    # --------------------------------------------------------------------- webhook payload

    def prepare_delivery(self, job: Job) -> PreparedDelivery | None:
        """Build the request for ``job`` from the records *as they are now*; None → discard.

        Zammad's job re-loads Trigger, Ticket and Article when it runs; if one of them is gone
        the job is discarded (``discard_on ActiveJob::DeserializationError``).
        """
        with self.lock:
            trigger = self.triggers.get(job.trigger_id)
            webhook = self.webhooks.get(job.webhook_id)
            ticket = self.tickets.get(job.ticket_id)
            article = self.articles.get(job.article_id) if job.article_id else None
            if trigger is None or webhook is None or ticket is None:
                return None
            if job.article_id and article is None:
                return None
            if not webhook["active"]:
                return None
            if webhook["customized_payload"] and webhook.get("custom_payload"):
                payload = self._custom_payload(webhook["custom_payload"], ticket, article)
            else:
                payload = self.webhook_payload(ticket, article)
            basic = None
            if webhook.get("basic_auth_username") or webhook.get("basic_auth_password"):
                basic = (webhook.get("basic_auth_username") or "", webhook.get("basic_auth_password") or "")
            return PreparedDelivery(
                endpoint=webhook["endpoint"],
                body=ruby_json(payload),
                trigger_name=trigger["name"],
                signature_token=webhook.get("signature_token") or None,
                basic_auth=basic,
                ssl_verify=bool(webhook.get("ssl_verify", True)),
            )

    def webhook_payload(self, ticket: Mapping[str, Any], article: Mapping[str, Any] | None) -> dict[str, Any]:
        """Zammad's default payload: ``{"ticket": {...}, "article": {...} | {}}``."""
        t = self.ticket_expanded(ticket)
        # association names resolved into full objects
        t["owner"] = self._user_payload(ticket["owner_id"])
        t["customer"] = self._user_payload(ticket["customer_id"])
        t["created_by"] = self._user_payload(ticket["created_by_id"])
        t["updated_by"] = self._user_payload(ticket["updated_by_id"])
        oid = ticket["organization_id"]
        t["organization"] = dict(sorted(self.organization_out(oid, expand=True).items())) \
            if oid in self.organizations else {}
        t["priority"] = dict(sorted(self.priority_out(ticket["priority_id"], expand=True).items()))
        t["group"] = dict(sorted(self.group_out(ticket["group_id"], expand=True).items())) \
            if ticket["group_id"] in self.groups else {}
        result_article: dict[str, Any] = {}
        if article is not None:
            a = self.article_out(article, expand=True)
            a["created_by"] = self._user_payload(article["created_by_id"])
            a["updated_by"] = self._user_payload(article["updated_by_id"])
            a["accounted_time"] = 0
            result_article = dict(sorted(a.items()))
        return {"ticket": dict(sorted(t.items())), "article": result_article}

    # custom payload ("#{ticket.title}" templates)

    _PLACEHOLDER = re.compile(r"#\{([^}]*)\}")

    def _custom_payload(self, template: str, ticket: Mapping[str, Any], article: Mapping[str, Any] | None) -> Any:
        try:
            doc = json.loads(template)
        except ValueError:
            return {}

        def resolve(path: str) -> Any:
            parts = path.strip().split(".")
            root = parts[0]
            if root == "config":
                return {"fqdn": self.fqdn, "http_type": self.http_type,
                        "ticket_hook": self.ticket_hook}.get(parts[1] if len(parts) > 1 else "")
            if root == "notification":
                return ""
            if root == "ticket":
                obj: Any = self._template_ticket(ticket)
            elif root == "article":
                if article is None:
                    return None
                obj = self._template_article(article)
            else:
                return f"#{{{path} / no such object}}"
            for part in parts[1:]:
                if isinstance(obj, Mapping) and part in obj:
                    obj = obj[part]
                else:
                    return f"#{{{path} / no such method}}"
            return obj

        def render(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: render(v) for k, v in node.items()}
            if isinstance(node, list):
                return [render(v) for v in node]
            if isinstance(node, str):
                whole = self._PLACEHOLDER.fullmatch(node)
                if whole:
                    value = resolve(whole.group(1))
                    return "" if value is None else value
                return self._PLACEHOLDER.sub(
                    lambda m: "" if (v := resolve(m.group(1))) is None else str(v), node
                )
            return node

        return render(doc)

    def _template_user(self, uid: int | None) -> dict[str, Any]:
        if not uid or uid not in self.users:
            return {}
        u = self._user_payload(uid)
        u["fullname"] = self.fullname(uid)
        return u

    def _template_ticket(self, t: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(t)
        for assoc in ("owner", "customer", "created_by", "updated_by"):
            out[assoc] = self._template_user(t[f"{assoc}_id"])
        out["group"] = self.group_out(t["group_id"], expand=True) if t["group_id"] in self.groups else {}
        out["priority"] = self.priority_out(t["priority_id"], expand=True)
        out["state"] = self.state_out(t["state_id"], expand=True)
        out["organization"] = self.organization_out(t["organization_id"], expand=True) \
            if t["organization_id"] in self.organizations else {}
        out["tags"] = list(self.tags.get(t["id"], ()))
        out.pop("articles", None)
        return out

    def _template_article(self, a: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(a)
        out["sender"] = {"id": a["sender_id"], "name": seeds.ARTICLE_SENDERS[a["sender_id"]]}
        out["type"] = dict(self.article_types[a["type_id"]])
        out["created_by"] = self._template_user(a["created_by_id"])
        out["updated_by"] = self._template_user(a["updated_by_id"])
        return out


# ------------------------------------------------------------------------------- helpers


def _to_int_or_404(value: Any, model: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise not_found(model, value) from None


def _webhook_ids(perform: Any) -> list[int]:
    if not isinstance(perform, Mapping):
        return []
    spec = perform.get("notification.webhook")
    if not isinstance(spec, Mapping):
        return []
    raw = spec.get("webhook_id")
    if raw is None:
        raw = spec.get("webhook_ids")
    values = raw if isinstance(raw, (list, tuple)) else [raw]
    out = []
    for v in values:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            continue
    return out


def _split_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _sort_key(key: str, desc: bool) -> Callable[[Mapping[str, Any]], Any]:
    # PostgreSQL: NULLS LAST for ASC, NULLS FIRST for DESC → "null is the largest value"
    def k(t: Mapping[str, Any]) -> Any:
        v = t.get(key)
        if v is None:
            return (1, "")
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, (int, float)):
            return (0, v)
        return (0, str(v))

    return k
