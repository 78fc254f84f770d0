"""``SandboxZammad``: state + HTTP server (uvicorn in a thread) + webhook dispatcher + test hooks."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


from connector.sandbox_http import ThreadedServer

from . import seeds
from .app import SandboxApp, fault_response
from .model import ApiError, TransactionRecord, ZammadState
from .timefmt import Clock
from .webhooks import DeliveryRecord, Dispatcher


@dataclass
class Fault:
    """An injected failure for requests matching ``method`` + ``path_regex`` (``re.search``)."""

    method: str | None
    pattern: re.Pattern[str]
    status: int | None = 503
    times: int | None = 1  # None → every matching request
    retry_after: float | None = None
    delay: float = 0.0
    apply_then_fail: bool = False
    body: Any = None
    hold: float = 0.0  # seconds to wait AFTER the request was applied, before answering
    rate: float = 1.0  # share of matching requests that fail (seeded draw); 1.0 = every one
    rng: random.Random | None = None
    hits: int = 0

    def draw(self) -> bool:
        """Whether this matching request is one of the ``rate`` that fail."""
        return self.rate >= 1.0 or (self.rng or random).random() < self.rate

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*", "") and self.method.upper() != method:
            return False
        return self.pattern.search(path) is not None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def response(self) -> Any:
        return fault_response(self.status or 500, self.retry_after, self.body)


class SandboxZammad:
    """A fake Zammad 6.x for tests and demos.

    >>> with SandboxZammad(retry_scale=0.01) as zammad:
    ...     token = zammad.token_for("kesu-bot@localhost")
    ...     zammad.url  # http://127.0.0.1:<port>

    ``start()`` serves the REST API under ``/api/v1`` on ``host:port`` (0 = free port);
    ``stop()`` closes the listener (clients then get "connection refused") and ``start()`` may
    reopen it on the same port. Webhook deliveries run on their own worker threads and keep going
    while the HTTP side is stopped; ``close()`` (or leaving the ``with`` block) stops everything.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        retry_scale: float = 1.0,
        open_timeout: float = 4.0,
        read_timeout: float = 30.0,
        delivery_workers: int = 4,
        delivery_attempts: int = 5,
        tokens: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        fqdn: str = "zammad.example.com",
        system_id: str = "31",
    ) -> None:
        self.host = host
        self.port = port
        self.state = ZammadState(clock=Clock(clock), tokens=tokens, fqdn=fqdn, system_id=system_id)
        self.dispatcher = Dispatcher(
            self.state.prepare_delivery,
            workers=delivery_workers,
            retry_scale=retry_scale,
            open_timeout=open_timeout,
            read_timeout=read_timeout,
            attempts=delivery_attempts,
        )
        self.state.on_deliveries = self.dispatcher.enqueue
        self.app = SandboxApp(self.state, self)
        self._faults: list[Fault] = []
        self._calls: list[tuple[str, str]] = []
        self._hook_lock = threading.Lock()
        self._http: ThreadedServer | None = None

    # ------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def running(self) -> bool:
        return self._http is not None and self._http.running

    def start(self, timeout: float = 10.0) -> SandboxZammad:
        if self.running:
            return self
        if self._http is None:
            self._http = ThreadedServer(self.app, self.host, self.port, "sandbox Zammad")
        self.port = self._http.start(timeout)  # port 0 picks a free port, kept across restarts
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the HTTP server; the port is released (connection refused) until ``start()``."""
        if self._http is not None:
            self._http.stop(timeout)

    def close(self) -> None:
        """Stop the HTTP server and the webhook workers."""
        self.stop()
        self.dispatcher.shutdown()

    def __enter__(self) -> SandboxZammad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------ test hooks

    def record_call(self, method: str, path: str) -> None:
        if path.startswith("/api/"):
            with self._hook_lock:
                self._calls.append((method, path))

    def take_fault(self, method: str, path: str) -> Fault | None:
        if not self._faults:
            return None
        with self._hook_lock:
            for fault in self._faults:
                if not fault.exhausted and fault.matches(method, path) and fault.draw():
                    fault.hits += 1
                    return fault
        return None

    def inject(
        self,
        method: str | None,
        path_regex: str,
        status: int | None = 503,
        times: int | None = 1,
        retry_after: float | None = None,
        delay: float = 0.0,
        apply_then_fail: bool = False,
        body: Any = None,
        hold: float = 0.0,
        rate: float = 1.0,
        seed: int | None = None,
    ) -> Fault:
        """Make the next ``times`` matching requests fail (``times=None``: all of them).

        ``status=None`` with ``delay`` only slows the request down (it then succeeds);
        ``apply_then_fail`` performs the request and answers ``status`` instead of the result;
        ``body`` replaces the default ``{"error": <reason phrase>}`` (str/bytes → text/html);
        ``hold`` applies the request, then waits before answering (a client killed meanwhile
        never learns that its write succeeded). ``rate``: only that share of the matching
        requests fail, drawn at random (``seed`` makes the draws repeatable); ``times`` then
        counts the failures.
        """
        fault = Fault(
            method=method, pattern=re.compile(path_regex), status=status, times=times,
            retry_after=retry_after, delay=delay, apply_then_fail=apply_then_fail, body=body,
            hold=hold, rate=rate, rng=random.Random(seed) if rate < 1.0 else None,
        )
        with self._hook_lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._hook_lock:
            self._faults.clear()

    @property
    def calls(self) -> list[tuple[str, str]]:
        with self._hook_lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        with self._hook_lock:
            self._calls.clear()

    @property
    def write_log(self) -> list[dict[str, Any]]:
        """Every ticket update and tag change that was applied (``ticket_id``, ``user_id``,
        ``op``: ``update``/``tag_add``/``tag_remove``, ``values``), oldest first, whether or not
        its answer reached the caller. An update that changed nothing is logged too."""
        with self.state.lock:
            return [dict(w) for w in self.state.write_log]

    def count(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """Number of API requests so far; ``path_prefix`` may omit ``/api/v1``."""
        prefix = path_prefix
        if prefix is not None and not prefix.startswith("/api/"):
            prefix = "/api/v1" + (prefix if prefix.startswith("/") else "/" + prefix)
        return sum(
            1
            for m, p in self.calls
            if (method is None or m == method.upper()) and (prefix is None or p.startswith(prefix))
        )

    # --------------------------------------------------------------------------- deliveries

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        return self.dispatcher.records

    def clear_deliveries(self) -> None:
        self.dispatcher.clear_records()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no webhook delivery is queued, waiting for a retry or in flight."""
        return self.dispatcher.wait_idle(timeout)

    @property
    def transactions(self) -> list[TransactionRecord]:
        """Every trigger evaluation (one per Zammad transaction), oldest first."""
        with self.state.lock:
            return list(self.state.transactions)

    # ----------------------------------------------------------------------- users & setup

    def token_for(self, login: str) -> str:
        return self.state.token_for(login)

    def user_id(self, login: str) -> int:
        with self.state.lock:
            return self.state.user_id(login)

    @property
    def bot_user_id(self) -> int:
        return self.user_id(seeds.BOT_LOGIN)

    @property
    def bot_login(self) -> str:
        return seeds.BOT_LOGIN

    def add_group(self, name: str) -> dict[str, Any]:
        return dict(self.state.add_group(name))

    def add_user(self, login: str, **kwargs: Any) -> dict[str, Any]:
        return dict(self.state.add_user(login, **kwargs))

    def add_custom_attribute(self, name: str, default: Any = None) -> None:
        self.state.add_custom_attribute(name, default)

    def add_webhook(
        self,
        endpoint: str,
        *,
        name: str | None = None,
        signature_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ssl_verify: bool = True,
        active: bool = True,
        custom_payload: str | None = None,
    ) -> dict[str, Any]:
        admin = self.user_id("admin@example.com")
        params: dict[str, Any] = {
            "name": name or f"webhook {len(self.state.webhooks) + 1}",
            "endpoint": endpoint,
            "signature_token": signature_token,
            "ssl_verify": ssl_verify,
            "active": active,
        }
        if basic_auth:
            params["basic_auth_username"], params["basic_auth_password"] = basic_auth
        if custom_payload is not None:
            params["customized_payload"] = True
            params["custom_payload"] = custom_payload
        return self.state.create_webhook(admin, params)

    def add_trigger(
        self,
        name: str,
        condition: Mapping[str, Any],
        *,
        webhook_id: int | list[int] | None = None,
        perform: Mapping[str, Any] | None = None,
        activator: str = "action",
        execution_condition_mode: str = "selective",
        active: bool = True,
    ) -> dict[str, Any]:
        admin = self.user_id("admin@example.com")
        perform = dict(perform or {})
        if webhook_id is not None:
            perform["notification.webhook"] = {"webhook_id": webhook_id}
        return self.state.create_trigger(admin, {
            "name": name,
            "condition": condition,
            "perform": perform,
            "activator": activator,
            "execution_condition_mode": execution_condition_mode,
            "active": active,
        })

    def wire_webhook(
        self,
        endpoint: str,
        *,
        signature_token: str | None = None,
        exclude_user_ids: Iterable[int] | None = None,
        execution_condition_mode: str = "always",
        name: str = "kesu",
    ) -> dict[str, Any]:
        """Webhook + two triggers (ticket created / ticket updated) that skip the bot's changes.

        Returns ``{"webhook": {...}, "triggers": [{...}, {...}]}``.
        """
        excluded = [str(i) for i in (exclude_user_ids if exclude_user_ids is not None else [self.bot_user_id])]
        webhook = self.add_webhook(endpoint, name=f"{name} webhook", signature_token=signature_token)
        triggers = []
        for action in ("create", "update"):
            condition: dict[str, Any] = {"ticket.action": {"operator": "is", "value": action}}
            if excluded:
                condition["ticket.updated_by_id"] = {
                    "operator": "is not", "pre_condition": "specific", "value": excluded,
                }
            triggers.append(self.add_trigger(
                f"{name}: ticket {action}d", condition, webhook_id=webhook["id"],
                execution_condition_mode=execution_condition_mode,
            ))
        return {"webhook": webhook, "triggers": triggers}

    # ------------------------------------------------------------------ ticket helpers

    def _uid(self, who: str | int | None, default: str) -> int:
        if who is None:
            who = default
        if isinstance(who, int):
            return who
        return self.user_id(who)

    def create_ticket(
        self,
        title: str,
        body: str,
        *,
        customer: str = "customer@example.com",
        group: str = "Users",
        as_user: str | int | None = None,
        tags: Iterable[str] | str | None = None,
        fields: Mapping[str, Any] | None = None,
        priority: str | None = None,
        state: str | None = None,
        article_type: str | None = None,
        sender: str = "Customer",
        subject: str | None = None,
        internal: bool = False,
    ) -> dict[str, Any]:
        """Create a ticket with a first article (default: the customer writes via web).

        When an agent creates it (``as_user``), the article defaults to a ``phone`` article with
        sender Customer, like an agent logging a customer's call. ``fields`` may name custom
        attributes; unknown ones are registered on the fly. Returns ``ticket(id)``.
        """
        uid = self._uid(as_user, customer)
        agent = self.state.is_agent(uid)
        for key in (fields or {}):
            if key not in seeds.TICKET_WRITABLE and key not in self.state.custom_attributes \
                    and not key.endswith("_id") and key not in ("group", "state", "priority", "owner",
                                                               "customer", "organization"):
                self.state.add_custom_attribute(key)
        params: dict[str, Any] = {
            "title": title,
            "group": group,
            "customer": customer,
            "article": {
                "subject": subject if subject is not None else title,
                "body": body,
                "type": article_type or ("phone" if agent else "web"),
                "sender": sender if agent else "Customer",
                "internal": internal,
            },
        }
        if priority:
            params["priority"] = priority
        if state:
            params["state"] = state
        if tags:
            params["tags"] = tags if isinstance(tags, str) else ",".join(tags)
        params.update(fields or {})
        t = self.state.create_ticket(uid, params)
        return self.ticket(t["id"])

    def add_article(
        self,
        ticket_id: int,
        body: str,
        *,
        as_user: str | int | None = None,
        internal: bool = False,
        sender: str | None = None,
        type: str | None = None,
        subject: str | None = None,
        content_type: str = "text/plain",
    ) -> dict[str, Any]:
        """Add an article (its own transaction, like ``POST /ticket_articles``).

        Default author: the ticket's customer (type ``web``); agents default to type ``note``.
        """
        with self.state.lock:
            t = self.state.tickets.get(int(ticket_id))
            if t is None:
                raise KeyError(ticket_id)
            uid = self._uid(as_user, self.state.users[t["customer_id"]]["login"])
            agent = self.state.is_agent(uid)
            params = {
                "ticket_id": int(ticket_id),
                "body": body,
                "internal": internal,
                "type": type or ("note" if agent else "web"),
                "sender": sender or ("Agent" if agent else "Customer"),
                "content_type": content_type,
            }
            if subject is not None:
                params["subject"] = subject
            a = self.state.create_article(uid, params)
            return self.state.article_out(a)

    def update_ticket(self, ticket_id: int, *, as_user: str | int | None = None,
                      article: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Update like ``PUT /tickets/{id}`` (names or ``*_id``); default actor agent1."""
        uid = self._uid(as_user, "agent1@example.com")
        params = dict(fields)
        if article is not None:
            params["article"] = dict(article)
        with self.state.lock:
            t = self.state.update_ticket(uid, ticket_id, params)
            return self.state.ticket_plain(t)

    def add_tag(self, ticket_id: int, tag: str, *, as_user: str | int | None = None) -> None:
        self.state.tag_add(self._uid(as_user, "agent1@example.com"), "Ticket", ticket_id, tag)

    def remove_tag(self, ticket_id: int, tag: str, *, as_user: str | int | None = None) -> None:
        self.state.tag_remove(self._uid(as_user, "agent1@example.com"), "Ticket", ticket_id, tag)

    def tags(self, ticket_id: int) -> list[str]:
        with self.state.lock:
            return list(self.state.tags.get(int(ticket_id), ()))

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """Snapshot: the ``?expand=true`` ticket plus ``tags`` and ``articles`` (all, expanded)."""
        with self.state.lock:
            t = self.state.tickets.get(int(ticket_id))
            if t is None:
                raise KeyError(ticket_id)
            out = self.state.ticket_expanded(t)
            out["tags"] = list(self.state.tags.get(t["id"], ()))
            out["articles"] = [
                self.state.article_out(self.state.articles[a], expand=True)
                for a in self.state.ticket_article_ids.get(t["id"], ())
            ]
            return out

    def tickets(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [self.ticket(i) for i in sorted(self.state.tickets)]


__all__ = ["SandboxZammad", "Fault", "ApiError"]
