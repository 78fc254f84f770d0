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

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import SecretStr

from connector.zammad.client import JSON, ZammadClient
from kesu.ticket_fields import TicketField

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
    fields: FieldsResult | None = None  # the ticket attributes, when asked for
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated) or bool(self.fields and self.fields.changed)

    def describe(self, language: str = "zh") -> str:
        """What setup did (or would do), one line per item, in the notes' language."""
        zh = language != "en"
        lines = []
        for what, items in (("新建" if zh else "create", self.created), ("更新" if zh else "update", self.updated),
                            ("不变" if zh else "unchanged", self.unchanged)):
            for item in items:
                name = {"webhook": "Webhook", "trigger": "触发器" if zh else "trigger"}.get(item, item)
                ident = {"webhook": self.webhook_id, "trigger": self.trigger_id}.get(item)
                lines.append(f"  {what:<6} {name} kesu" + (f" #{ident}" if ident else ""))
        if self.fields is not None:
            lines += describe_fields(self.fields, language)
        elif self.dry_run:
            lines.append("演练，未写入" if zh else "dry run, nothing written")
        return "\n".join(lines)


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
    fields: Iterable[TicketField] | None = None,
    language: str = "zh",
    dry_run: bool = False,
) -> SetupResult:
    """Create or update kesu's webhook and trigger in Zammad; a second run changes nothing.

    :param webhook_url: where Zammad posts, e.g. ``https://kesu.example.com/webhooks/zammad``.
    :param secret: the HMAC token; kesu never provisions an unsigned webhook.
    :param bot_user_id: kesu's bot user; its own changes do not fire the trigger.
    :param fields: the ticket fields the policies name (``kesu.provision.declared_fields``); each
        becomes a ticket attribute (:func:`provision_fields`). ``None``: webhook and trigger only.
    :param dry_run: find the differences, write nothing.
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
            created.append(what)
            if dry_run:
                return 0
            row = create(desired)
            log.info("created Zammad %s %r (id %s)", what, desired["name"], row.get("id"))
            return int(row["id"])
        diff = _differences(existing, desired)
        if diff:
            updated.append(what)
            if dry_run:
                return int(existing["id"])
            update(existing["id"], desired)
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
    fields_result = None if fields is None else provision_fields(client, fields, language=language, dry_run=dry_run)
    return SetupResult(webhook_id, trigger_id, created, updated, unchanged, fields_result, dry_run)


# ------------------------------------------------------------------------------------------------
# ticket attributes (the fields the enabled policies name)

#: Where kesu's attributes start in the ticket form (after Zammad's own, before most admins' own).
FIRST_POSITION = 1600
#: data_option keys kesu sets; Zammad adds others (nulloption, historical_options ...) left alone.
_AGENT_SCREEN = {"ticket.agent": {"shown": True, "required": False}}
_HIDDEN_SCREEN = {"ticket.agent": {"shown": False, "required": False}}
_ON_CREATE = ("[policies.facts.fields]", "[policies.severity]")


@dataclass(frozen=True)
class FieldChange:
    """What setup does (or, dry run, would do) with one field: ``create``, ``update`` (with the
    keys that differ), ``unchanged``, or ``conflict`` (a type Zammad cannot change; nothing written)."""

    name: str
    label: str
    action: Literal["create", "update", "unchanged", "conflict"]
    differences: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class FieldsResult:
    changes: list[FieldChange] = field(default_factory=list)
    migrated: bool = False  # the migration step ran
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return any(c.action in ("create", "update") for c in self.changes)


def attribute_spec(f: TicketField, position: int, language: str = "zh") -> JSON:
    """The object manager attribute (POST/PUT body) for one declared field (reference §2.8)."""
    option: JSON
    if f.type in ("select", "multiselect"):
        data_type = f.type
        option = {"options": {o.value: o.shown(language) for o in f.options},
                  "default": "" if f.type == "select" else None, "null": True, "translate": False}
    elif f.type == "boolean":
        data_type = "boolean"
        yes, no = ("Yes", "No") if language == "en" else ("是", "否")
        option = {"options": {"true": yes, "false": no}, "default": None, "null": True, "translate": False}
    elif f.type == "integer":
        data_type = "integer"
        option = {"min": 0, "max": 999999999, "default": None, "null": True}
    elif f.type == "datetime":
        # diff 0: no pre-filled time (the agent records when something happened)
        data_type, option = "datetime", {"future": True, "past": True, "diff": 0, "default": None, "null": True}
    elif f.type == "date":
        data_type, option = "date", {"diff": 0, "default": None, "null": True}
    elif f.type == "user":
        data_type, option = "user_autocompletion", {"relation": "User", "default": None, "null": True}
    elif f.multiline:
        data_type, option = "textarea", {"default": "", "rows": 4, "maxlength": 5000, "null": True}
    else:  # text, decimal (Zammad has no decimal type: kesu reads "12,800.50" from an input)
        data_type, option = "input", {"type": "text", "maxlength": 255, "default": "", "null": True}
    on_create = any(w.startswith(_ON_CREATE) for w in f.named_by)
    return {
        "object": "Ticket",
        "name": f.name,
        "display": f.shown(language),
        "data_type": data_type,
        "data_option": option,
        "active": True,
        "position": position,
        "screens": {"create_middle": _AGENT_SCREEN if on_create else _HIDDEN_SCREEN, "edit": _AGENT_SCREEN},
    }


def _json(value: Any) -> Any:
    """As Zammad answers it: keys are strings (boolean options ``true``/``false``)."""
    return json.loads(json.dumps(value))


def _subset_differs(have: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return not isinstance(have, dict) or any(_subset_differs(have.get(k), v) for k, v in want.items())
    return have != want


def attribute_differences(row: Mapping[str, Any], spec: Mapping[str, Any]) -> list[str]:
    """Keys of ``spec`` the attribute ``row`` does not show (a pending change counts as made)."""
    effective = dict(row)
    if row.get("to_config") and row.get("data_option_new"):
        effective["data_option"] = row["data_option_new"]
    diff = [k for k in ("display", "data_type", "active") if effective.get(k) != spec[k]]
    want = _json(spec["data_option"])
    have = _json(effective.get("data_option") or {})
    diff += [f"data_option.{k}" for k, v in want.items() if _subset_differs(have.get(k), v)]
    if _subset_differs(_json(effective.get("screens") or {}), _json(spec["screens"])):
        diff.append("screens")
    return diff


_CHANGEABLE = frozenset({"select", "input", "tree_select", "checkbox"})


def _ticket_attributes(client: ZammadClient) -> dict[str, JSON]:
    return {str(r.get("name")): r for r in client.object_attributes()
            if str(r.get("object") or "Ticket") == "Ticket" and r.get("name")}


def provision_fields(client: ZammadClient, fields: Iterable[TicketField], *, language: str = "zh",
                     dry_run: bool = False) -> FieldsResult:
    """Create or update one ticket attribute per declared field, then run the migration step
    (``POST /object_manager_attributes_execute_migrations``) when anything is pending, so the
    fields can be read and written at once. A second run changes nothing; ``dry_run`` writes nothing."""
    existing = _ticket_attributes(client)
    changes: list[FieldChange] = []
    for i, f in enumerate(fields):
        spec = attribute_spec(f, FIRST_POSITION + i, language)
        row = existing.get(f.name)
        label = f.shown(language)
        if row is None:
            if not dry_run:
                client.create_object_attribute(spec)
                log.info("created Zammad ticket attribute %r (%s)", f.name, spec["data_type"])
            changes.append(FieldChange(f.name, label, "create"))
            continue
        have_type = str(row.get("data_type"))
        if have_type != spec["data_type"] and not {have_type, spec["data_type"]} <= _CHANGEABLE:
            changes.append(FieldChange(f.name, label, "conflict", detail=f"{have_type} ≠ {spec['data_type']}"))
            log.warning("Zammad ticket attribute %r is a %s, kesu needs a %s: left as it is", f.name, have_type,
                        spec["data_type"])
            continue
        if not row.get("editable", True):
            changes.append(FieldChange(f.name, label, "conflict", detail="not editable (a Zammad attribute)"))
            continue
        diff = attribute_differences(row, spec)
        if diff:
            if not dry_run:
                client.update_object_attribute(row["id"], spec)
                log.info("updated Zammad ticket attribute %r: %s", f.name, ", ".join(diff))
            changes.append(FieldChange(f.name, label, "update", tuple(diff)))
        else:
            changes.append(FieldChange(f.name, label, "unchanged"))
    pending = any(r.get("to_create") or r.get("to_migrate") or r.get("to_config") for r in existing.values())
    migrated = False
    if not dry_run and (pending or any(c.action in ("create", "update") for c in changes)):
        client.execute_migrations()
        migrated = True
    return FieldsResult(changes, migrated, dry_run)


def missing_fields(client: ZammadClient, fields: Iterable[TicketField]) -> list[tuple[TicketField, str]]:
    """Declared fields Zammad cannot yet be used for, each with why (English, for logs and
    ``kesu doctor``): no attribute, not migrated, another data type, options missing."""
    existing = _ticket_attributes(client)
    out: list[tuple[TicketField, str]] = []
    for f in fields:
        spec = attribute_spec(f, 0)
        row = existing.get(f.name)
        if row is None:
            out.append((f, "no such ticket attribute"))
        elif row.get("to_create"):
            out.append((f, "created but not migrated (run the migration: kesu zammad setup)"))
        elif str(row.get("data_type")) != spec["data_type"]:
            out.append((f, f"data type {row.get('data_type')}, kesu needs {spec['data_type']}"))
        elif f.options:
            have = set(_json((row.get("data_option") or {}).get("options") or {}))
            lacking = [o.value for o in f.options if o.value not in have]
            if lacking:
                out.append((f, f"options missing: {', '.join(lacking)}"))
    return out


_ACTION_ZH = {"create": "新建", "update": "更新", "unchanged": "不变", "conflict": "冲突（未改动）"}
_ACTION_EN = {"create": "create", "update": "update", "unchanged": "unchanged", "conflict": "conflict (left alone)"}


def describe_fields(result: FieldsResult, language: str = "zh") -> list[str]:
    """One line per field, then a summary, in the notes' language."""
    zh = language != "en"
    names = _ACTION_ZH if zh else _ACTION_EN
    lines = []
    for c in result.changes:
        extra = f"：{', '.join(c.differences)}" if zh and c.differences else (
            f": {', '.join(c.differences)}" if c.differences else "")
        if c.detail:
            extra += f"（{c.detail}）" if zh else f" ({c.detail})"
        lines.append(f"  {names[c.action]:<6} {c.name}（{c.label}）{extra}" if zh
                     else f"  {names[c.action]:<9} {c.name} ({c.label}){extra}")
    counts = {a: sum(1 for c in result.changes if c.action == a) for a in names}
    if zh:
        head = "演练，未写入：" if result.dry_run else ""
        tail = "；已执行数据库迁移" if result.migrated else ""
        lines.append(f"{head}工单字段 {len(result.changes)} 个：新建 {counts['create']}，更新 {counts['update']}，"
                     f"不变 {counts['unchanged']}，冲突 {counts['conflict']}{tail}")
    else:
        head = "dry run, nothing written: " if result.dry_run else ""
        tail = "; migrations executed" if result.migrated else ""
        lines.append(f"{head}{len(result.changes)} ticket fields: {counts['create']} to create, "
                     f"{counts['update']} to update, {counts['unchanged']} unchanged, "
                     f"{counts['conflict']} in conflict{tail}")
    return lines
