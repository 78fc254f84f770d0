"""``SandboxOdoo``: state + HTTP server (uvicorn in a thread) + webhook sender + test hooks."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any


from connector.sandbox_http import ThreadedServer

from . import errors, rpc, seeds
from .app import SandboxApp
from .errors import RpcError
from .fields import plaintext
from .model import SUPERUSER_ID, Clock, Locked, OdooState, Txn, View, WriteRecord
from .webhooks import DeliveryRecord, WebhookSender

DEFAULT_WEBHOOK_FIELDS = (
    "name", "partner_id", "partner_email", "priority", "stage_id", "tag_ids", "team_id", "user_id",
    "create_date", "write_date", "write_uid",
)


@dataclass
class Fault:
    """An injected failure for calls matching ``protocol`` + ``model`` + ``method`` (None = any)."""

    protocol: str | None
    model: str | None
    method: str | None
    status: int | None = 503
    error: str | None = None  # Odoo exception name → protocol-shaped error instead of an HTTP status
    message: str | None = None
    times: int | None = 1  # None → every matching call
    delay: float = 0.0
    apply_then_fail: bool = False
    body: Any = None
    hold: float = 0.0  # seconds to wait AFTER the call was applied, before answering
    rate: float = 1.0  # share of matching calls that fail (seeded draw); 1.0 = every one
    rng: random.Random | None = None
    hits: int = 0

    def matches(self, protocol: str, model: str | None, method: str) -> bool:
        return (
            (self.protocol in (None, "*") or self.protocol == protocol)
            and (self.model in (None, "*") or self.model == model)
            and (self.method in (None, "*") or self.method == method)
        )

    def draw(self) -> bool:
        """Whether this matching call is one of the ``rate`` that fail."""
        return self.rate >= 1.0 or (self.rng or random).random() < self.rate

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


@dataclass(frozen=True)
class CallRecord:
    protocol: str  # "jsonrpc" | "json2" | "web" | "http"
    model: str | None
    method: str  # model method, "<service>.<method>" for common/db, or the path
    at: float


class SandboxOdoo:
    """A fake Odoo (16–19, Enterprise ``helpdesk`` or OCA ``helpdesk_mgmt``) for tests and demos.

    >>> with SandboxOdoo(version=17, flavour="enterprise") as odoo:
    ...     key = odoo.api_key_for("kesu-bot")
    ...     odoo.url  # http://127.0.0.1:<port>

    ``start()`` serves on ``host:port`` (0 = a free port); ``stop()`` closes the listener (clients
    then get "connection refused") and ``start()`` reopens it on the same port; ``close()`` (or
    leaving the ``with`` block) also stops the webhook threads.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        version: int = 17,
        flavour: str = "enterprise",
        database: str = "sandbox",
        clock: Callable[[], datetime] | None = None,
        api_keys: Mapping[str, str] | None = None,
        webhook_timeout: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.state = OdooState(version=version, flavour=flavour, database=database, clock=Clock(clock))
        for login, key in (api_keys or {}).items():  # fixed keys (demos, e2e configs); else random
            self.state.new_api_key(self.state.user_id(login), key)
        self.sender = WebhookSender(timeout=webhook_timeout)
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sandbox-odoo-webhook")
        self.app = SandboxApp(self)
        self._faults: list[Fault] = []
        self._calls: list[CallRecord] = []
        self._hook_lock = threading.Lock()
        self._http: ThreadedServer | None = None

    # ---------------------------------------------------------------------- lifecycle

    @property
    def version(self) -> int:
        return self.state.version

    @property
    def flavour(self) -> str:
        return self.state.flavour

    @property
    def database(self) -> str:
        return self.state.database

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._http is not None and self._http.running

    def start(self, timeout: float = 10.0) -> SandboxOdoo:
        if self.running:
            return self
        if self._http is None:
            self._http = ThreadedServer(self.app, self.host, self.port, "sandbox Odoo")
        self.port = self._http.start(timeout)  # port 0 picks a free port, kept across restarts
        self.state.base_url = self.url
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the HTTP server; the port is released (connection refused) until ``start()``."""
        if self._http is not None:
            self._http.stop(timeout)

    def close(self) -> None:
        self.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> SandboxOdoo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------- test hooks

    def record_call(self, protocol: str, model: str | None, method: str) -> None:
        with self._hook_lock:
            self._calls.append(CallRecord(protocol, model, method, time.time()))

    def take_fault(self, protocol: str, model: str | None, method: str) -> Fault | None:
        if not self._faults:
            return None
        with self._hook_lock:
            for fault in self._faults:
                if not fault.exhausted and fault.matches(protocol, model, method) and fault.draw():
                    fault.hits += 1
                    return fault
        return None

    def inject(
        self,
        protocol: str | None = None,
        model: str | None = None,
        method: str | None = None,
        *,
        status: int | None = 503,
        error: str | None = None,
        message: str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        apply_then_fail: bool = False,
        body: Any = None,
        hold: float = 0.0,
        rate: float = 1.0,
        seed: int | None = None,
    ) -> Fault:
        """Make the next ``times`` matching calls fail (``times=None``: all of them).

        ``protocol`` is ``"jsonrpc"``, ``"json2"`` or ``"web"``; ``method`` a model method
        (``"write"``) or ``"common.login"``. ``status=None`` with ``delay`` only slows the call down;
        ``error="UserError"`` (any Odoo/Python exception name, ``message``) answers with that
        exception in the protocol's own error shape instead of an HTTP status (``body`` replaces the
        default HTML error page); ``apply_then_fail`` performs the call, then answers the failure;
        ``status=None`` with ``hold`` applies the call, then waits before answering. ``rate``: only
        that share of the matching calls fail, drawn at random (``seed`` makes the draws
        repeatable); ``times`` then counts the failures.
        """
        fault = Fault(protocol, model, method, status=status, error=error, message=message, times=times,
                      delay=delay, apply_then_fail=apply_then_fail, body=body, hold=hold, rate=rate,
                      rng=random.Random(seed) if rate < 1.0 else None)
        with self._hook_lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._hook_lock:
            self._faults.clear()

    @property
    def calls(self) -> list[CallRecord]:
        with self._hook_lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        with self._hook_lock:
            self._calls.clear()

    @property
    def write_log(self) -> list[WriteRecord]:
        """Every committed ``create``/``write`` (who, model, ids, values), oldest first: what
        reached the database, whether or not its answer reached the caller."""
        with self.state.lock:
            return list(self.state.write_log)

    def count(self, model: str | None = None, method: str | None = None, protocol: str | None = None) -> int:
        return sum(
            1 for c in self.calls
            if (model is None or c.model == model) and (method is None or c.method == method)
            and (protocol is None or c.protocol == protocol)
        )

    @property
    def deprecation_warnings(self) -> int:
        """Legacy RPC calls answered by a 19 server (each logs ``RPC_DEPRECATION_NOTICE`` in Odoo)."""
        return self.state.deprecation_warnings

    # ------------------------------------------------------------------------ webhooks

    def drop_webhooks(self, rate: float = 0.2, seed: int | None = None) -> None:
        """Lose ``rate`` of the webhook sends at random (never sent, never retried)."""
        self.sender.drop(rate, seed)

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        return self.sender.records

    def clear_deliveries(self) -> None:
        self.sender.clear()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no webhook send is in flight."""
        return self.sender.wait_idle(timeout)

    def wait_deliveries(self, n: int, timeout: float = 10.0) -> list[DeliveryRecord]:
        return self.sender.wait_for(n, timeout)

    # -------------------------------------------------------------------------- users

    def api_key_for(self, login: str) -> str:
        with self.state.lock:
            return self.state.key_of[self.state.user_id(login)]

    def password_for(self, login: str) -> str:
        with self.state.lock:
            return self.state.passwords[self.state.user_id(login)]

    def user_id(self, login: str) -> int:
        with self.state.lock:
            return self.state.user_id(login)

    @property
    def bot_login(self) -> str:
        return seeds.BOT_LOGIN

    @property
    def bot_uid(self) -> int:
        return self.user_id(seeds.BOT_LOGIN)

    @property
    def admin_uid(self) -> int:
        return 2

    def add_user(self, login: str, name: str | None = None, *, groups: Iterable[str] = ("user",),
                 email: str | None = None, api_key: str | None = None) -> int:
        """A user (``groups``: ``user`` internal, ``system`` admin, ``portal``); returns the uid."""
        partner_id = self.call("res.partner", "create", {"name": name or login, "email": email}, as_user=1)
        uid = self.call("res.users", "create", {"name": name or login, "login": login, "partner_id": partner_id,
                                                 "email": email, "share": "portal" in set(groups)}, as_user=1)
        with self.state.lock:
            self.state.groups[uid] = set(groups)
            self.state.passwords[uid] = login
            self.state.new_api_key(uid, api_key)
            return uid

    # ----------------------------------------------------------------- generic ORM call

    def _uid(self, who: str | int | None, default: str | int) -> int:
        who = default if who is None else who
        return who if isinstance(who, int) else self.user_id(who)

    def call(self, model: str, method: str, *args: Any, as_user: str | int | None = None, **kwargs: Any) -> Any:
        """``execute_kw`` through the same path as RPC (automations fire, webhooks are sent).

        Default user: ``admin``. Raises ``RpcError`` like the server would answer.
        """
        uid = self._uid(as_user, "admin")
        return self._run(uid, model, method,
                         lambda txn: rpc.legacy_call(self.state, txn, model, method, list(args), dict(kwargs)),
                         kwargs.get("context"))

    def _run(self, uid: int, model: str, method: str, fn: Callable[[Txn], Any], context: Any = None) -> Any:
        state = self.state
        while True:
            out = state.execute(uid, model, method, fn, su=uid == SUPERUSER_ID, context=rpc.context_of(context))
            if isinstance(out, Locked):
                out.event.wait(60)
                continue
            break
        if out.deliveries:
            self.sender.begin(len(out.deliveries))
            try:
                for delivery in out.deliveries:
                    self.sender.send(delivery)
            finally:
                self.sender.end(len(out.deliveries))
        if out.txn is not None:
            state.commit(out.txn)
        if out.error is not None:
            raise out.error
        return out.result

    # ------------------------------------------------------------------ setup helpers

    def _find(self, model: str, name: str, field: str = "name") -> int | None:
        with self.state.lock:
            for rec in self.state.tables[model].values():
                if rec.get(field) == name:
                    return rec["id"]
        return None

    def add_team(self, name: str, members: Iterable[str | int] = ()) -> int:
        st = self.state
        member_ids = [self._uid(m, "admin") for m in members]
        if st.flavour == "enterprise":
            team = self.call(st.team_model, "create", {"name": name, "member_ids": [(6, 0, member_ids)]})
            # the team gets the standard stages, like a new Enterprise team
            for sid in sorted(st.tables[st.stage_model]):
                self.call(st.stage_model, "write", [sid], {"team_ids": [(4, team)]})
            return team
        return self.call(st.team_model, "create", {"name": name, "user_ids": [(6, 0, member_ids)]})

    def add_tag(self, name: str) -> int:
        existing = self._find(self.state.tag_model, name)
        return existing if existing is not None else self.call(self.state.tag_model, "create", {"name": name})

    def add_partner(self, name: str, email: str | None = None, *, company: str | None = None) -> int:
        vals: dict[str, Any] = {"name": name, "email": email}
        if company:
            vals["parent_id"] = self._find("res.partner", company) or self.call(
                "res.partner", "create", {"name": company, "is_company": True})
        return self.call("res.partner", "create", vals)

    def _partner(self, partner: str | int | None) -> int | None:
        if partner is None or isinstance(partner, int):
            return partner
        pid = self._find("res.partner", partner, "email") or self._find("res.partner", partner)
        if pid is None:
            pid = self.add_partner(partner.split("@")[0] if "@" in partner else partner,
                                   partner if "@" in partner else None)
        return pid

    def _named(self, model: str, value: str | int | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        rid = self._find(model, value)
        if rid is None:
            raise KeyError(f"{model}: no record named {value!r}")
        return rid

    def stage_id(self, name: str) -> int:
        return self._named(self.state.stage_model, name) or 0

    def team_id(self, name: str) -> int:
        return self._named(self.state.team_model, name) or 0

    def tag_id(self, name: str) -> int:
        return self._named(self.state.tag_model, name) or 0

    def _ticket_vals(self, vals: dict[str, Any], *, partner: Any = None, team: Any = None,
                     tags: Iterable[str | int] | None = None, stage: Any = None, user: Any = None) -> dict[str, Any]:
        st = self.state
        out = dict(vals)
        if partner is not None:
            out["partner_id"] = self._partner(partner)
        if team is not None:
            out["team_id"] = self._named(st.team_model, team)
        if stage is not None:
            out["stage_id"] = self._named(st.stage_model, stage)
        if user is not None:
            out["user_id"] = self._uid(user, "admin") if user is not False else False
        if tags is not None:
            out["tag_ids"] = [(6, 0, [t if isinstance(t, int) else self.add_tag(t) for t in tags])]
        return out

    def create_ticket(
        self,
        name: str,
        description: str = "",
        *,
        partner: str | int | None = "jane.doe@example.com",
        team: str | int | None = None,
        tags: Iterable[str | int] | None = None,
        as_user: str | int | None = None,
        **vals: Any,
    ) -> int:
        """Create a ticket through the ORM (automations fire). Default author: OdooBot (uid 1), as for
        tickets created by the mail gateway; ``partner`` is an email, a name or an id."""
        base = {"name": name, "description": description or ("<p></p>" if self.flavour == "oca" else False)}
        base.update(vals)
        data = self._ticket_vals(base, partner=partner, team=team, tags=tags,
                                 stage=base.pop("stage", None), user=base.pop("user", None))
        return self.call(self.state.ticket_model, "create", data, as_user=self._uid(as_user, SUPERUSER_ID))

    def write_ticket(self, ticket_id: int, *, as_user: str | int | None = None, stage: str | int | None = None,
                     team: str | int | None = None, tags: Iterable[str | int] | None = None,
                     user: str | int | None = None, **vals: Any) -> None:
        """Write like an agent (default ``agent1``); ``stage``/``team``/``tags``/``user`` accept names."""
        data = self._ticket_vals(vals, team=team, tags=tags, stage=stage, user=user)
        self.call(self.state.ticket_model, "write", [ticket_id], data, as_user=self._uid(as_user, "agent1"))

    def close_ticket(self, ticket_id: int, *, as_user: str | int | None = None) -> None:
        """Move the ticket to the first folded (Enterprise) / closed (OCA) stage."""
        st = self.state
        flag = "fold" if st.flavour == "enterprise" else "closed"
        with st.lock:
            stage = min((s for s in st.tables[st.stage_model].values() if s.get(flag)),
                        key=lambda s: (s.get("sequence") or 0, s["id"]))
        self.write_ticket(ticket_id, as_user=as_user, stage_id=stage["id"])

    def post_message(self, ticket_id: int, body: str, *, as_user: str | int | None = None, internal: bool = False,
                     message_type: str = "comment", author: str | int | None = None) -> int:
        """``message_post`` on a ticket (default: the customer's reply, ``email`` from the partner)."""
        kwargs: dict[str, Any] = {
            "body": body, "message_type": message_type,
            "subtype_xmlid": "mail.mt_note" if internal else "mail.mt_comment",
        }
        if self.version >= 17:
            kwargs["body_is_html"] = True
        if author is not None:
            kwargs["author_id"] = self._partner(author)
        result = self.call(self.state.ticket_model, "message_post", [ticket_id],
                           as_user=self._uid(as_user, SUPERUSER_ID), **kwargs)
        return result[0] if isinstance(result, list) else result

    def add_webhook_automation(
        self,
        url: str,
        *,
        name: str = "Send ticket to complaint service",
        fields: Iterable[str] = DEFAULT_WEBHOOK_FIELDS,
        trigger: str = "on_create_or_write",
        filter_domain: str | list[Any] | None = None,
        trigger_fields: Iterable[str] | None = None,
        model: str | None = None,
        as_user: str | int | None = None,
    ) -> dict[str, int]:
        """An automation rule with one "Send Webhook Notification" action (17+), created through the
        ORM like a client provisioning it. Returns ``{"automation_id", "action_id"}``."""
        st = self.state
        if st.version < 17:
            raise RpcError("builtins.ValueError", "Wrong value for ir.actions.server.state: 'webhook'")
        model = model or st.ticket_model
        uid = self._uid(as_user, "admin")
        field_ids = self.call("ir.model.fields", "search",
                              [("model", "=", model), ("name", "in", list(fields))], as_user=uid)
        vals: dict[str, Any] = {
            "name": name,
            "model_id": st.model_id(model),
            "trigger": trigger,
            "action_server_ids": [(0, 0, {
                "name": name, "model_id": st.model_id(model), "state": "webhook", "webhook_url": url,
                "webhook_field_ids": [(6, 0, field_ids)], "usage": "base_automation",
            })],
        }
        if filter_domain is not None:
            vals["filter_domain"] = filter_domain if isinstance(filter_domain, str) else repr(filter_domain)
        if trigger_fields is not None:
            vals["trigger_field_ids"] = [(6, 0, self.call(
                "ir.model.fields", "search", [("model", "=", model), ("name", "in", list(trigger_fields))],
                as_user=uid))]
        automation_id = self.call("base.automation", "create", vals, as_user=uid)
        with st.lock:
            action_id = next(a["id"] for a in st.tables["ir.actions.server"].values()
                             if a.get("base_automation_id") == automation_id)
        return {"automation_id": automation_id, "action_id": action_id}

    # -------------------------------------------------------------------- snapshots

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """Snapshot: every ticket field as ``read()`` renders it, plus ``tags`` (names), ``stage``,
        ``messages`` (with ``subtype``/``internal``) and ``activities`` (with ``activity_type``)."""
        st = self.state
        with st.lock:
            view = View(st, None)
            md = st.models[st.ticket_model]
            rec = view.get(md.name, int(ticket_id))
            if rec is None:
                raise KeyError(ticket_id)
            out = view.render(md, rec, [n for n in md.fields if n not in ("message_ids", "activity_ids")],
                              "_classic_read")
            out["tags"] = [st.tables[st.tag_model][t]["name"] for t in rec.get("tag_ids") or ()
                           if t in st.tables[st.tag_model]]
            stage = st.tables[st.stage_model].get(rec.get("stage_id") or 0)
            out["stage"] = stage["name"] if stage else None
            subtypes = st.tables["mail.message.subtype"]
            xml_of = {(m, r): x for x, (m, r) in st._xmlids.items()}
            messages = []
            for mid in md.fields["message_ids"].compute(view, rec):
                m = st.tables["mail.message"][mid]
                sub = subtypes.get(m.get("subtype_id") or 0)
                messages.append({
                    "id": mid,
                    "body": m.get("body") or "",
                    "text": plaintext(m.get("body")),
                    "message_type": m.get("message_type"),
                    "subtype": xml_of.get(("mail.message.subtype", sub["id"])) if sub else None,
                    "internal": bool(m.get("is_internal") or (sub and sub.get("internal"))),
                    "author_id": m.get("author_id"),
                    "create_uid": m.get("create_uid"),
                    "subject": m.get("subject"),
                    "date": m["date"].strftime("%Y-%m-%d %H:%M:%S") if m.get("date") else None,
                })
            out["messages"] = sorted(messages, key=lambda m: m["id"])
            amd = st.models["mail.activity"]
            activities = []
            for aid in md.fields["activity_ids"].compute(view, rec):
                a = st.tables["mail.activity"][aid]
                row = view.render(amd, a, ["summary", "note", "date_deadline", "user_id", "activity_type_id",
                                           "res_model", "res_id", "state", "create_uid"], "_classic_read")
                row["activity_type"] = st.tables["mail.activity.type"].get(a.get("activity_type_id") or 0,
                                                                         {}).get("name")
                activities.append(row)
            out["activities"] = activities
            return out

    def tickets(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [self.ticket(i) for i in sorted(self.state.tables[self.state.ticket_model])]

    def ticket_ids(self) -> list[int]:
        with self.state.lock:
            return sorted(self.state.tables[self.state.ticket_model])


__all__ = ["SandboxOdoo", "Fault", "CallRecord", "DEFAULT_WEBHOOK_FIELDS", "errors"]
