"""Provision the Odoo side of kesu (``kesu odoo setup``).

Odoo 17+: one automation rule on ``helpdesk.ticket`` ("On save", i.e. ``on_create_or_write``)
whose action is a "Send Webhook Notification" server action posting to kesu. The rule's filter
``[('write_uid', '!=', <bot uid>)]`` is evaluated after the write, so kesu's own writes send no
webhook (the first loop guard; ``self_caused`` on intake and the poll's bot filter are the
others). Odoo cannot sign or add headers, so the shared secret rides in the URL (``?token=``).

Idempotent: the rule is found by name and model, its action by ``base_automation_id``; each is
written only when it differs from what kesu wants, so a second run changes nothing.

Odoo 16 has no webhook action: nothing is created, kesu polls (the reconciliation loop), and the
result says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

from connector.http import redact_url
from connector.odoo.client import JSON, OdooClient, OdooVersion
from connector.odoo.connector import TICKET_MODEL, WEBHOOK_SINCE, OdooConnector
from kesu.settings import HelpdeskSettings

log = logging.getLogger(__name__)

#: Ticket fields the webhook body carries: the change id (write_date), loop guard (write_uid),
#: created-or-updated (create_date) and a cheap fact (stage_id). kesu re-reads the ticket anyway.
WEBHOOK_FIELDS = ("create_date", "write_date", "write_uid", "stage_id")
ALL_RECORDS = {"active_test": False}  # find an archived (deactivated) rule too


@dataclass(frozen=True)
class SetupResult:
    """What ``provision`` did; ``created``/``updated``/``unchanged`` hold "automation"/"action"."""

    version: OdooVersion
    mode: Literal["webhook", "polling"]
    automation_id: int | None = None
    action_id: int | None = None
    webhook_url: str | None = None  # redacted
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def describe(self, poll_seconds: float | None = None) -> str:
        every = f"every {poll_seconds:g} s" if poll_seconds else "continuously"
        if self.mode == "polling":
            return (
                f"Odoo {self.version} has no 'Send Webhook Notification' action (it came in 17.0): "
                f"nothing was created. kesu finds changed tickets by polling helpdesk.ticket on "
                f"write_date {every} (set [worker] sync_interval to change). Keep `kesu serve` or "
                "`kesu worker` running; the bot's API key needs read/write on Helpdesk tickets."
            )
        status = "; ".join(f"{what}: {', '.join(items)}" for what, items in (
            ("created", self.created), ("updated", self.updated), ("unchanged", self.unchanged)) if items)
        return (f"Odoo {self.version}: automation rule #{self.automation_id} with webhook action "
                f"#{self.action_id} posting to {self.webhook_url} ({status}). kesu also polls "
                f"{every} for webhooks Odoo dropped (Odoo never retries one).")


def webhook_url_with_token(url: str, secret: str) -> str:
    """``url`` with ``token=<secret>`` in its query (replacing any token already there)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", secret))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def automation_spec(name: str, model_id: int, bot_uid: int) -> JSON:
    return {
        "name": name,
        "model_id": model_id,
        "trigger": "on_create_or_write",
        "filter_domain": f"[('write_uid', '!=', {int(bot_uid)})]",
        "active": True,
    }


def action_spec(name: str, model_id: int, automation_id: int, url: str, field_ids: list[int]) -> JSON:
    return {
        "name": f"{name}: send webhook",
        "model_id": model_id,
        "state": "webhook",
        "webhook_url": url,
        "webhook_field_ids": [[6, 0, sorted(field_ids)]],
        "usage": "base_automation",
        "base_automation_id": automation_id,
    }


def _comparable(value: Any) -> Any:
    """A read value in the shape of a write value: m2o ``[id, name]`` -> id; ``[[6, 0, ids]]``
    and id lists -> sorted ids."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str):
        return value[0]
    if isinstance(value, list) and value and isinstance(value[0], list) and value[0][:2] == [6, 0]:
        return sorted(value[0][2])
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return sorted(value)
    return value


def _differences(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    return [k for k, want in desired.items() if _comparable(existing.get(k)) != _comparable(want)]


def provision(
    client: OdooClient, webhook_url: str, secret: str | SecretStr, bot_uid: int, name: str = "kesu"
) -> SetupResult:
    """Create or update kesu's automation rule and webhook action; a second run changes nothing.

    :param webhook_url: kesu's intake, e.g. ``https://kesu.example.com/webhooks/odoo``.
    :param secret: the shared secret (``[helpdesk] webhook_secret``), added as ``?token=``.
    :param bot_uid: kesu's bot user; its own writes do not fire the rule.
    """
    token = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not token:
        raise ValueError("a webhook secret is required ([helpdesk] webhook_secret): Odoo cannot "
                         "sign webhooks, kesu rejects those without the shared secret")
    if not webhook_url.startswith(("http://", "https://")):
        raise ValueError(f"webhook_url must start with http:// or https://, got {webhook_url!r}")
    version = client.server_version()
    if version.major < WEBHOOK_SINCE:
        return SetupResult(version, "polling")
    url = webhook_url_with_token(webhook_url, token)
    models = client.search_read("ir.model", [("model", "=", TICKET_MODEL)], ["model"])
    if not models:
        raise ValueError(f"Odoo has no {TICKET_MODEL}: install the Helpdesk app first")
    model_id = int(models[0]["id"])
    fields = client.search_read(
        "ir.model.fields", [("model", "=", TICKET_MODEL), ("name", "in", list(WEBHOOK_FIELDS))], ["name"]
    )
    field_ids = [int(f["id"]) for f in fields]
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []

    def ensure(what: str, model: str, rows: list[JSON], desired: JSON) -> int:
        if len(rows) > 1:
            log.warning("%d Odoo %s records match %r; managing id %s", len(rows), model,
                        desired["name"], rows[0]["id"])
        if not rows:
            (rid,) = client.create(model, [desired])
            created.append(what)
            log.info("created Odoo %s %r (id %s)", model, desired["name"], rid)
            return rid
        existing = rows[0]
        diff = _differences(existing, desired)
        if diff:
            client.write(model, [existing["id"]], desired)
            updated.append(what)
            log.info("updated Odoo %s %r (id %s): %s", model, desired["name"], existing["id"],
                     ", ".join(diff))
        else:
            unchanged.append(what)
        return int(existing["id"])

    rule = automation_spec(name, model_id, bot_uid)
    automation_id = ensure("automation", "base.automation", client.search_read(
        "base.automation", [("name", "=", name), ("model_id", "=", model_id)], list(rule),
        order="id asc", context=ALL_RECORDS,
    ), rule)
    action = action_spec(name, model_id, automation_id, url, field_ids)
    action_id = ensure("action", "ir.actions.server", client.search_read(
        "ir.actions.server", [("base_automation_id", "=", automation_id), ("state", "=", "webhook")],
        list(action), order="id asc",
    ), action)
    return SetupResult(version, "webhook", automation_id, action_id, redact_url(url),
                       created, updated, unchanged)


def setup_from_settings(
    settings: HelpdeskSettings,
    *,
    webhook_url: str | None = None,
    admin_key: str | None = None,
    admin_login: str | None = None,
) -> SetupResult:
    """``kesu odoo setup``: learn the bot's uid with its own key, provision with the admin's.

    Creating automation rules needs Settings rights, which the bot should not have; pass an
    administrator's API key (and login, for Odoo 16-18) for this one run.
    """
    url = (webhook_url or settings.webhook_base_url).rstrip("/")
    if "/webhooks/" not in url:
        url += f"/webhooks/{settings.kind}"
    connector = OdooConnector(settings)
    try:
        bot_uid = int(connector.prepare())
        if not admin_key:
            return provision(connector.client, url, settings.webhook_secret, bot_uid)
        options = connector.options
        admin = OdooClient(
            settings.url, admin_key, database=options.database, login=admin_login,
            protocol=connector.schema.protocol, version=connector.schema.version.major,
            timeout=settings.timeout, retries=settings.retries,
        )
        try:
            return provision(admin, url, settings.webhook_secret, bot_uid)
        finally:
            admin.close()
    finally:
        connector.close()
