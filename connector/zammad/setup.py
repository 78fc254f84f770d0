"""Provision the Zammad side of kesu: one signed webhook and one trigger that calls it.

Idempotent: both are found by name and only written when they differ from what kesu wants, so a
second run changes nothing. The trigger excludes changes made by kesu's bot user (reference §3,
pattern 1), the first of the three loop guards (the others are ``self_caused`` on intake and
no-op-free write sets).

Execution mode: Zammad's *selective* mode runs an update trigger only when an attribute named in
its conditions changed (or an article matched article conditions). kesu's conditions name only
``updated_by_id`` and the action, so in selective mode a second change by the same agent (say, a
state change to closed) would send no webhook. The default is therefore *always*; ``selective``
stays available for sites that accept fewer deliveries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import SecretStr

from connector.zammad.client import JSON, ZammadClient

log = logging.getLogger(__name__)

ExecutionMode = Literal["selective", "always"]
EXECUTION_MODES = ("selective", "always")
MANAGED_NOTE = "Managed by kesu (zammad setup); edits are overwritten on the next run."


@dataclass(frozen=True)
class SetupResult:
    """What ``provision`` did; ``created``/``updated``/``unchanged`` hold "webhook"/"trigger"."""

    webhook_id: int
    trigger_id: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def webhook_spec(name: str, webhook_url: str, secret: str, *, ssl_verify: bool = True) -> JSON:
    return {
        "name": name,
        "endpoint": webhook_url,
        "signature_token": secret,
        "ssl_verify": ssl_verify,
        "active": True,
        "note": MANAGED_NOTE,
    }


def trigger_spec(
    name: str, webhook_id: int, bot_user_id: str | int, *, execution_mode: ExecutionMode = "always"
) -> JSON:
    return {
        "name": name,
        "active": True,
        "activator": "action",
        "execution_condition_mode": execution_mode,
        "condition": {
            # ticket.action takes one value; "is not merged into" keeps create and update.
            "ticket.action": {"operator": "is not", "value": "update.merged_into"},
            "ticket.updated_by_id": {
                "operator": "is not",
                "pre_condition": "specific",
                "value": [str(bot_user_id)],
            },
        },
        "perform": {"notification.webhook": {"webhook_id": webhook_id}},
        "note": MANAGED_NOTE,
    }


def _norm(value: Any) -> Any:
    """Compare like Zammad stores: ids as strings, a one-item list as its item (7.x stores
    ``webhook_id`` as a list)."""
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_norm(v) for v in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _differences(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    diff = []
    for key, want in desired.items():
        if key == "signature_token" and key not in existing:
            continue  # not shown by this Zammad: cannot compare, assume unchanged
        if _norm(existing.get(key)) != _norm(want):
            diff.append(key)
    return diff


def _find(rows: list[JSON], name: str, what: str) -> JSON | None:
    # Zammad keeps webhook names unique regardless of case; so must the search.
    matches = [r for r in rows if str(r.get("name", "")).lower() == name.lower()]
    if len(matches) > 1:
        log.warning("%d Zammad %ss are named %r; managing id %s", len(matches), what, name,
                    matches[0].get("id"))
    return matches[0] if matches else None


def provision(
    client: ZammadClient,
    webhook_url: str,
    secret: str | SecretStr,
    bot_user_id: str | int,
    name: str = "kesu",
    *,
    ssl_verify: bool = True,
    execution_mode: ExecutionMode = "always",
) -> SetupResult:
    """Create or update kesu's webhook and trigger in Zammad; a second run changes nothing.

    :param webhook_url: where Zammad posts, e.g. ``https://kesu.example.com/webhooks/zammad``.
    :param secret: the HMAC token; kesu never provisions an unsigned webhook.
    :param bot_user_id: kesu's bot user; its own changes do not fire the trigger.
    """
    token = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not token:
        raise ValueError("a webhook secret is required: kesu rejects unsigned webhooks")
    if not webhook_url.startswith(("http://", "https://")):
        raise ValueError(f"webhook_url must start with http:// or https://, got {webhook_url!r}")
    if execution_mode not in EXECUTION_MODES:
        raise ValueError(
            f"execution_mode must be one of {', '.join(EXECUTION_MODES)}, got {execution_mode!r}"
        )
    if not str(bot_user_id).isdigit():
        raise ValueError(f"bot_user_id must be a Zammad user id, got {bot_user_id!r}")

    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []

    def ensure(what: str, existing: JSON | None, desired: JSON, create: Any, update: Any) -> int:
        if existing is None:
            row = create(desired)
            created.append(what)
            log.info("created Zammad %s %r (id %s)", what, desired["name"], row.get("id"))
            return int(row["id"])
        diff = _differences(existing, desired)
        if diff:
            update(existing["id"], desired)
            updated.append(what)
            log.info("updated Zammad %s %r (id %s): %s", what, desired["name"], existing["id"],
                     ", ".join(diff))
        else:
            unchanged.append(what)
        return int(existing["id"])

    webhook_id = ensure(
        "webhook",
        _find(client.webhooks(), name, "webhook"),
        webhook_spec(name, webhook_url, token, ssl_verify=ssl_verify),
        client.create_webhook,
        client.update_webhook,
    )
    trigger_id = ensure(
        "trigger",
        _find(client.triggers(), name, "trigger"),
        trigger_spec(name, webhook_id, bot_user_id, execution_mode=execution_mode),
        client.create_trigger,
        client.update_trigger,
    )
    return SetupResult(webhook_id, trigger_id, created, updated, unchanged)
