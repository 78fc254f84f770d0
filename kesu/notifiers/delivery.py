"""Durable delivery to group bots: record each notification once, post it until the bot takes it.

``kesu_notify`` (called by the pipeline once the write that decided a notification is on the
ticket) composes the message and inserts one ``bot_notifications`` row per channel, keyed by
(ticket, notification, channel): the pipeline hands a notification to the hook again after a
crash or when a plan is run again, and the unique key turns that into nothing. The delivery loop
(one thread per ``kesu serve`` / ``kesu worker``; any number of processes) claims due rows with a
compare-and-set and a lease, posts, and records the outcome:

* the bot took it (errcode/code 0): ``sent``, never posted again;
* the bot's rate limit (WeCom 45009, DingTalk 130101 or a redirect, Feishu 11232 or HTTP 429):
  ``pending`` again after the bot's wait; this does not count as a failed attempt. kesu also keeps
  under each robot's limit itself (``per_minute`` counted over the rows sent in the last minute);
* any other answer, a timeout or no connection: ``pending`` again after a doubling wait, until
  ``max_attempts`` posts failed (``failed``; the note in the ticket still tells the handler);
* a process that dies while posting leaves the row ``sending``; after the lease it is posted
  again. That is the one case in which a message can reach a group twice: the bot may have taken
  the post whose answer was lost (the bots offer no idempotency key).

Secrets (webhook addresses, signing secrets) are never logged: errors name the channel, the HTTP
status and the bot's own error code and message.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import Engine, and_, func, or_, select, update

from kesu import metrics
from kesu.effects import Notify
from kesu.i18n.labels import Labels
from kesu.models import Ticket
from kesu.notifiers.channels import Answer, build, read_answer
from kesu.notifiers.config import NotifiersConfig
from kesu.notifiers.message import Message, compose, ticket_link
from kesu.store.db import as_utc, utcnow
from kesu.store.tables import bot_notifications as bn
from kesu.store.tickets import _dialect_insert, get_complaint
from plugins import hookimpl
from plugins.plan import notification_key

log = logging.getLogger(__name__)

PLUGIN_NAME = "notifiers"
DELIVERY_NAME = "notifiers.delivery"


class BotNotifier:
    """The ``kesu_notify`` implementation and the delivery loop for one kesu process."""

    def __init__(self, engine: Engine, config: NotifiersConfig, *, helpdesk_url: str = "",
                 helpdesk_kind: str = "zammad", cause_label: Callable[[str], str | None] | None = None,
                 labels: Labels | None = None,
                 clock: Callable[[], datetime] = utcnow, wall: Callable[[], float] = time.time,
                 session: requests.Session | None = None) -> None:
        self.engine = engine
        self.config = config
        self.helpdesk_url = helpdesk_url
        self.helpdesk_kind = helpdesk_kind
        self.cause_label = cause_label
        self.labels = labels
        self.clock = clock
        self.wall = wall  # signatures carry the real time: the bots compare it with theirs
        self.session = session or requests.Session()
        self.wake = threading.Event()
        self._secrets = [s for ch in config.channels.values()
                         for s in (ch.webhook.get_secret_value(), getattr(ch, "secret", None)
                                   and ch.secret.get_secret_value()) if s]

    # -- recording ---------------------------------------------------------------------------

    def channels_for(self, ticket: Ticket, notification: Notify, record: Mapping[str, Any]) -> list[str]:
        """The channels of the ticket's responsible units (the complaint record), its helpdesk
        group and the notification's recipients, in that order; the default ones when none has."""
        names: list[str] = []
        for unit in [*(record.get("units") or ()), ticket.group, *notification.recipients]:
            for name in self.config.units.get(unit or "", ()):
                if name not in names:
                    names.append(name)
        return names or list(self.config.default)

    @hookimpl
    def kesu_notify(self, ticket: Ticket, notification: Notify, now: datetime) -> None:
        self.record(ticket, notification, now)

    def record(self, ticket: Ticket, notification: Notify, now: datetime) -> int:
        """Store the message for each of its channels (once ever); returns the rows added."""
        key = ticket.ref.key
        record = get_complaint(self.engine, key) or {}
        channels = self.channels_for(ticket, notification, record)
        if not channels:
            return 0
        link = ticket_link(ticket, self.config.ticket_url, self.helpdesk_url, self.helpdesk_kind)
        message = compose(ticket, notification, record, language=self.config.language, link=link,
                          labels=self.labels, cause_label=self.cause_label)
        ident = f"{key}|{notification_key(notification)}"
        added = 0
        with self.engine.begin() as conn:
            for name in channels:
                stmt = _dialect_insert(conn, bn).values(
                    notification=ident, channel=name, kind=self.config.channels[name].kind, ticket_key=key,
                    rule_id=notification.rule_id, message=message.model_dump(mode="json"), status="pending",
                    attempts=0, next_at=now, created_at=now,
                ).on_conflict_do_nothing(index_elements=["notification", "channel"]).returning(bn.c.id)
                added += len(conn.execute(stmt).all())  # nothing when it was recorded before
        if added:
            self.wake.set()
        return added

    # -- delivery ----------------------------------------------------------------------------

    def loop(self, stop: threading.Event) -> None:
        """The delivery thread: post what is due, then wait for a new row or ``poll_interval``."""
        while not stop.is_set():
            try:
                self.deliver_due()
            except Exception as exc:  # noqa: BLE001 -- the store may be away; try next round
                log.warning("bot notifications: delivery round failed: %s", type(exc).__name__)
            self.wake.wait(self.config.poll_interval)
            self.wake.clear()

    def deliver_due(self, now: datetime | None = None, limit: int = 100) -> Counter[str]:
        """Post every due message once (claimed against other processes); outcomes counted."""
        now = now or self.clock()
        outcomes: Counter[str] = Counter()
        due = or_(and_(bn.c.status == "pending", bn.c.next_at <= now),
                  and_(bn.c.status == "sending", bn.c.next_at < now))  # a lease that lapsed
        with self.engine.connect() as conn:
            ids = conn.execute(select(bn.c.id).where(due).order_by(bn.c.id).limit(limit)).scalars().all()
        lease = timedelta(seconds=self.config.timeout + 30)
        for row_id in ids:
            with self.engine.begin() as conn:
                took = conn.execute(update(bn).where(bn.c.id == row_id, due)
                                    .values(status="sending", next_at=now + lease)).rowcount == 1
                row = conn.execute(select(bn).where(bn.c.id == row_id)).mappings().one() if took else None
            if row is not None:
                outcome = self._deliver(row, now)
                outcomes[outcome] += 1
        return outcomes

    def _deliver(self, row: Mapping[str, Any], now: datetime) -> str:
        channel = self.config.channels.get(row["channel"])
        if channel is None or channel.kind != row["kind"]:
            self._finish(row["id"], status="failed", error=f"channel {row['channel']!r} is no longer configured")
            log.warning("bot notification %s for %s dropped: channel %s is no longer configured",
                        row["id"], row["ticket_key"], row["channel"])
            return "failed"
        wait = self._window(row["channel"], channel.per_minute, now)
        if wait is not None:  # keep under the robot's limit: not an attempt
            self._finish(row["id"], status="pending", next_at=wait)
            return "deferred"
        message = Message.model_validate(row["message"])
        request = build(channel, message, epoch=self.wall(), language=self.config.language)
        answer = self._post(channel, request.url, request.body)
        attempts = row["attempts"] + (0 if answer.rate_limited else 1)
        if answer.ok:
            self._finish(row["id"], status="sent", attempts=attempts, sent_at=self.clock())
            metrics.BOT_POSTS.labels(channel.kind, "sent").inc()
            return "sent"
        if answer.rate_limited:
            wait_s = answer.wait if answer.wait is not None else channel.rate_limit_wait
            self._finish(row["id"], status="pending", attempts=attempts, error=answer.error,
                         next_at=now + timedelta(seconds=wait_s))
            metrics.BOT_POSTS.labels(channel.kind, "rate_limited").inc()
            log.warning("bot %s (%s) is rate-limited; message for %s waits %.0f s",
                        row["channel"], channel.kind, row["ticket_key"], wait_s)
            return "rate_limited"
        if attempts >= self.config.max_attempts:
            self._finish(row["id"], status="failed", attempts=attempts, error=answer.error)
            metrics.BOT_POSTS.labels(channel.kind, "failed").inc()
            log.error("bot %s (%s): message for %s given up after %d posts: %s",
                      row["channel"], channel.kind, row["ticket_key"], attempts, answer.error)
            return "failed"
        wait_s = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempts - 1))
        self._finish(row["id"], status="pending", attempts=attempts, error=answer.error,
                     next_at=now + timedelta(seconds=wait_s))
        metrics.BOT_POSTS.labels(channel.kind, "error").inc()
        log.warning("bot %s (%s): post for %s failed (%s); retry in %.0f s",
                    row["channel"], channel.kind, row["ticket_key"], answer.error, wait_s)
        return "error"

    def _post(self, channel: Any, url: str, body: dict[str, Any]) -> Answer:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            r = self.session.post(url, data=data, timeout=self.config.timeout, allow_redirects=False,
                                  headers={"Content-Type": "application/json; charset=utf-8"})
        except requests.RequestException as exc:
            # The exception's text carries the address (and with it the key): only its kind.
            return Answer(False, error=type(exc).__name__)
        return read_answer(channel, r.status_code, dict(r.headers), self._clean(r.text))

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _window(self, channel: str, per_minute: int, now: datetime) -> datetime | None:
        """When the channel may post again if it posted ``per_minute`` times in the last minute."""
        since = now - timedelta(minutes=1)
        with self.engine.connect() as conn:
            recent = conn.execute(
                select(bn.c.sent_at).where(bn.c.channel == channel, bn.c.sent_at > since)
                .order_by(bn.c.sent_at.desc()).limit(per_minute)
            ).scalars().all()
        if len(recent) < per_minute:
            return None
        return as_utc(recent[-1]) + timedelta(minutes=1)  # type: ignore[operator]

    def _finish(self, row_id: int, *, status: str, attempts: int | None = None, error: str | None = None,
                next_at: datetime | None = None, sent_at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if attempts is not None:
            values["attempts"] = attempts
        if error is not None:
            values["last_error"] = self._clean(error)[:500]
        if next_at is not None:
            values["next_at"] = next_at
        if sent_at is not None:
            values["sent_at"] = sent_at
        with self.engine.begin() as conn:
            conn.execute(update(bn).where(bn.c.id == row_id).values(**values))

    # -- inspection --------------------------------------------------------------------------

    def rows(self, ticket_key: str | None = None) -> list[dict[str, Any]]:
        query = select(bn).order_by(bn.c.id)
        if ticket_key is not None:
            query = query.where(bn.c.ticket_key == ticket_key)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {s: n for s, n in conn.execute(select(bn.c.status, func.count()).group_by(bn.c.status))}


def attach(host: Any, engine: Engine, *, helpdesk_url: str, helpdesk_kind: str,
           clock: Callable[[], datetime] = utcnow) -> BotNotifier | None:
    """Register the delivery for this process when ``[policies.notifiers]`` has channels (and the
    ``notifiers`` plugin is not disabled); ``None`` otherwise."""
    config = host.configs.get(PLUGIN_NAME)
    if not isinstance(config, NotifiersConfig) or not config.channels:
        return None
    labels = Labels({name: host.configs.get(name) for name in ("facts", "severity", "routing")},
                    config.language, getattr(host, "profile", None))
    notifier = BotNotifier(engine, config, helpdesk_url=helpdesk_url, helpdesk_kind=helpdesk_kind,
                           labels=labels, clock=clock)
    host.pm.register(notifier, name=DELIVERY_NAME)
    return notifier
