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
from connector.odoo.connector import TICKET_MODEL, TODO_XMLID, WEBHOOK_SINCE, OdooConnector
from kesu.settings import HelpdeskSettings
from kesu.ticket_fields import TicketField, convention_tags

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
    fields: FieldsResult | None = None  # the custom fields, when asked for
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated) or bool(self.fields and self.fields.changed)

    def describe(self, poll_seconds: float | None = None, language: str = "zh") -> str:
        text = self._describe_intake(poll_seconds)
        if self.dry_run:
            text = ("dry run, nothing written: " if language == "en" else "演练，未写入：") + text
        if self.fields is not None:
            text += "\n" + "\n".join(describe_fields(self.fields, language))
        return text

    def _describe_intake(self, poll_seconds: float | None) -> str:
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
    client: OdooClient, webhook_url: str, secret: str | SecretStr, bot_uid: int, name: str = "kesu", *,
    fields: list[TicketField] | None = None, language: str = "zh", dry_run: bool = False,
) -> SetupResult:
    """Create or update kesu's automation rule and webhook action; a second run changes nothing.

    :param webhook_url: kesu's intake, e.g. ``https://kesu.example.com/webhooks/odoo``.
    :param secret: the shared secret (``[helpdesk] webhook_secret``), added as ``?token=``.
    :param bot_uid: kesu's bot user; its own writes do not fire the rule.
    :param fields: the ticket fields the policies name (``kesu.provision.declared_fields``): each
        becomes a custom field ``x_<name>`` (:func:`provision_fields`), on Odoo 16 too.
    :param dry_run: find the differences, write nothing.
    """
    token = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not token:
        raise ValueError("a webhook secret is required ([helpdesk] webhook_secret): Odoo cannot "
                         "sign webhooks, kesu rejects those without the shared secret")
    if not webhook_url.startswith(("http://", "https://")):
        raise ValueError(f"webhook_url must start with http:// or https://, got {webhook_url!r}")
    version = client.server_version()
    fields_result = None if fields is None else provision_fields(client, fields, language=language, dry_run=dry_run)
    if version.major < WEBHOOK_SINCE:
        return SetupResult(version, "polling", fields=fields_result, dry_run=dry_run)
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
            created.append(what)
            if dry_run:
                return 0
            (rid,) = client.create(model, [desired])
            log.info("created Odoo %s %r (id %s)", model, desired["name"], rid)
            return rid
        existing = rows[0]
        diff = _differences(existing, desired)
        if diff:
            updated.append(what)
            if dry_run:
                return int(existing["id"])
            client.write(model, [existing["id"]], desired)
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
                       created, updated, unchanged, fields_result, dry_run)


def setup_from_settings(
    settings: HelpdeskSettings,
    *,
    webhook_url: str | None = None,
    admin_key: str | None = None,
    admin_login: str | None = None,
    fields: list[TicketField] | None = None,
    language: str = "zh",
    dry_run: bool = False,
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
        options = dict(fields=fields, language=language, dry_run=dry_run)
        if not admin_key:
            return provision(connector.client, url, settings.webhook_secret, bot_uid, **options)  # type: ignore[arg-type]
        admin = OdooClient(
            settings.url, admin_key, database=connector.options.database, login=admin_login,
            protocol=connector.schema.protocol, version=connector.schema.version.major,
            timeout=settings.timeout, retries=settings.retries,
        )
        try:
            return provision(admin, url, settings.webhook_secret, bot_uid, **options)  # type: ignore[arg-type]
        finally:
            admin.close()
    finally:
        connector.close()


# ------------------------------------------------------------------------------------------------
# custom fields (the fields the enabled policies name), the to-do activity type

FIELD_PREFIX = "x_"  # Odoo's custom ("manual") fields; the connector maps x_<name> to <name>
#: kesu's field types as ir.model.fields ttypes. A multiselect is a char of comma-separated
#: values (kesu reads "media, lawsuit"); Odoo's manual fields have no multi-choice type short of a
#: many2many to a model of its own.
TTYPES = {"select": "selection", "multiselect": "char", "text": "char", "integer": "integer", "decimal": "float",
          "date": "date", "datetime": "datetime", "boolean": "boolean", "user": "many2one"}


def odoo_field_name(name: str) -> str:
    return name if name.startswith(FIELD_PREFIX) else FIELD_PREFIX + name


def field_spec(f: TicketField, language: str = "zh") -> JSON:
    """The ``ir.model.fields`` values for one declared field (without model and selection)."""
    ttype = "text" if f.type == "text" and f.multiline else TTYPES[f.type]
    where = ", ".join(f.named_by)
    if language == "en":
        help_text = f"kesu reads this field ({where})."
        if f.type == "multiselect":
            help_text += " Values, comma-separated: " + ", ".join(f"{o.value} ({o.shown('en')})" for o in f.options)
    else:
        help_text = f"kesu 读取此字段（{where}）。"
        if f.type == "multiselect":
            help_text += "可填多个，以逗号分隔：" + "、".join(f"{o.value}（{o.label}）" for o in f.options)
    spec: JSON = {"name": odoo_field_name(f.name), "field_description": f.shown(language), "ttype": ttype,
                  "state": "manual", "help": help_text}
    if f.type == "user":
        spec["relation"] = "res.users"
    return spec


@dataclass(frozen=True)
class FieldChange:
    """``create``, ``update`` (keys that differ), ``unchanged`` or ``conflict`` (nothing written)."""

    name: str  # Odoo's name (x_...)
    label: str
    action: Literal["create", "update", "unchanged", "conflict"]
    differences: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class FieldsResult:
    changes: list[FieldChange] = field(default_factory=list)
    activity_type: str = ""  # "present" or what is wrong
    dry_run: bool = False
    tags_created: list[str] = field(default_factory=list)  # tag conventions (有效性-无效 ...) added
    tags_present: int = 0

    @property
    def changed(self) -> bool:
        return any(c.action in ("create", "update") for c in self.changes) or bool(self.tags_created)


def _ticket_fields(client: OdooClient, names: list[str]) -> tuple[dict[str, JSON], dict[int, list[JSON]]]:
    rows = client.search_read("ir.model.fields", [("model", "=", TICKET_MODEL), ("name", "in", names)],
                              ["name", "ttype", "field_description", "help", "state", "relation"])
    by_name = {str(r["name"]): r for r in rows}
    options: dict[int, list[JSON]] = {}
    ids = [int(r["id"]) for r in rows if r.get("ttype") == "selection"]
    if ids:
        for s in client.search_read("ir.model.fields.selection", [("field_id", "in", ids)],
                                    ["field_id", "value", "name", "sequence"], order="sequence asc, id asc"):
            fid = s["field_id"][0] if isinstance(s.get("field_id"), list) else s.get("field_id")
            options.setdefault(int(fid), []).append(s)
    return by_name, options


def provision_fields(client: OdooClient, fields: list[TicketField], *, language: str = "zh",
                     dry_run: bool = False) -> FieldsResult:
    """Create or update one custom field ``x_<name>`` on helpdesk.ticket per declared field, with
    its selection values (``ir.model.fields.selection``); a second run changes nothing."""
    models = client.search_read("ir.model", [("model", "=", TICKET_MODEL)], ["model"])
    if not models:
        raise ValueError(f"Odoo has no {TICKET_MODEL}: install the Helpdesk app first")
    model_id = int(models[0]["id"])
    existing, options = _ticket_fields(client, [odoo_field_name(f.name) for f in fields])
    changes: list[FieldChange] = []
    for i, f in enumerate(fields):
        spec = field_spec(f, language)
        wanted = [(o.value, o.shown(language)) for o in f.options] if spec["ttype"] == "selection" else []
        row = existing.get(spec["name"])
        label = f.shown(language)
        if row is None:
            if not dry_run:
                vals = {**spec, "model_id": model_id}
                if wanted:
                    vals["selection_ids"] = [[0, 0, {"value": v, "name": n, "sequence": k}]
                                             for k, (v, n) in enumerate(wanted)]
                client.create("ir.model.fields", [vals])
                log.info("created Odoo field %s.%s (%s)", TICKET_MODEL, spec["name"], spec["ttype"])
            changes.append(FieldChange(spec["name"], label, "create"))
            continue
        if row.get("ttype") != spec["ttype"] or row.get("state") != "manual":
            why = f"{row.get('ttype')} ≠ {spec['ttype']}" if row.get("ttype") != spec["ttype"] else "not a custom field"
            changes.append(FieldChange(spec["name"], label, "conflict", detail=why))
            log.warning("Odoo field %s.%s: %s; left as it is", TICKET_MODEL, spec["name"], why)
            continue
        diff = [k for k in ("field_description", "help") if (row.get(k) or "") != spec[k]]
        have = {str(s["value"]): s for s in options.get(int(row["id"]), [])}
        new_options = [(v, n) for v, n in wanted if v not in have]
        renamed = [(have[v], n) for v, n in wanted if v in have and have[v].get("name") != n]
        if new_options or renamed:
            diff.append("selection")
        if diff and not dry_run:
            if any(k in diff for k in ("field_description", "help")):
                client.write("ir.model.fields", [int(row["id"])],
                             {k: spec[k] for k in ("field_description", "help")})
            if new_options:
                start = max([int(s.get("sequence") or 0) for s in have.values()] or [0]) + 1
                client.create("ir.model.fields.selection", [{"field_id": int(row["id"]), "value": v, "name": n,
                                                             "sequence": start + k}
                                                            for k, (v, n) in enumerate(new_options)])
            for option, name in renamed:
                client.write("ir.model.fields.selection", [int(option["id"])], {"name": name})
            log.info("updated Odoo field %s.%s: %s", TICKET_MODEL, spec["name"], ", ".join(diff))
        changes.append(FieldChange(spec["name"], label, "update" if diff else "unchanged", tuple(diff)))
    created, present = _convention_tags(client, fields, dry_run)
    return FieldsResult(changes, _activity_type(client), dry_run, created, present)


def _convention_tags(client: OdooClient, fields: list[TicketField], dry_run: bool) -> tuple[list[str], int]:
    """The tags agents may set instead of a field (``有效性-无效``, ``回访-满意``, ``标记-媒体曝光`` ...),
    as records of the helpdesk's tag model, so they can be picked; kesu's own tags (tiers,
    escalation ...) are created when kesu first writes them."""
    names = convention_tags(fields)
    if not names:
        return [], 0
    tag_model = (client.fields_get(TICKET_MODEL, ["relation"]).get("tag_ids") or {}).get("relation")
    if not tag_model:
        return [], 0
    have = {str(r.get("name")) for r in client.search_read(tag_model, [("name", "in", names)], ["name"])}
    missing = [n for n in names if n not in have]
    if missing and not dry_run:
        client.create(tag_model, [{"name": n} for n in missing])
        log.info("created %d Odoo %s records: %s", len(missing), tag_model, ", ".join(missing))
    return missing, len(names) - len(missing)


def _activity_type(client: OdooClient) -> str:
    """The To-Do activity type kesu's follow-up to-dos use (``mail.mail_activity_data_todo``)."""
    module, name = TODO_XMLID
    rows = client.search_read("ir.model.data", [("module", "=", module), ("name", "=", name)], ["res_id"])
    return "present" if rows else f"missing: {module}.{name} (install or repair the Discuss app)"


def missing_fields(client: OdooClient, fields: list[TicketField]) -> list[tuple[TicketField, str]]:
    """Declared fields helpdesk.ticket lacks, has with another type, or without all options."""
    existing, options = _ticket_fields(client, [odoo_field_name(f.name) for f in fields])
    out: list[tuple[TicketField, str]] = []
    for f in fields:
        spec = field_spec(f)
        row = existing.get(spec["name"])
        if row is None:
            out.append((f, f"no field {spec['name']} on {TICKET_MODEL}"))
        elif row.get("ttype") != spec["ttype"]:
            out.append((f, f"{spec['name']} is a {row.get('ttype')}, kesu needs a {spec['ttype']}"))
        elif spec["ttype"] == "selection":
            have = {str(s["value"]) for s in options.get(int(row["id"]), [])}
            lacking = [o.value for o in f.options if o.value not in have]
            if lacking:
                out.append((f, f"options missing: {', '.join(lacking)}"))
    return out


_ACTION = {"zh": {"create": "新建", "update": "更新", "unchanged": "不变", "conflict": "冲突（未改动）"},
           "en": {"create": "create", "update": "update", "unchanged": "unchanged", "conflict": "conflict (left alone)"}}


def describe_fields(result: FieldsResult, language: str = "zh") -> list[str]:
    lang = "en" if language == "en" else "zh"
    names = _ACTION[lang]
    lines = []
    for c in result.changes:
        sep = "：" if lang == "zh" else ": "
        extra = f"{sep}{', '.join(c.differences)}" if c.differences else ""
        if c.detail:
            extra += f"（{c.detail}）" if lang == "zh" else f" ({c.detail})"
        lines.append(f"  {names[c.action]:<6} {c.name}（{c.label}）{extra}" if lang == "zh"
                     else f"  {names[c.action]:<9} {c.name} ({c.label}){extra}")
    n = {a: sum(1 for c in result.changes if c.action == a) for a in names}
    if lang == "zh":
        lines.append(("演练，未写入：" if result.dry_run else "") + f"工单字段 {len(result.changes)} 个：新建 {n['create']}，"
                     f"更新 {n['update']}，不变 {n['unchanged']}，冲突 {n['conflict']}；标签 "
                     f"{len(result.tags_created) + result.tags_present} 个：新建 {len(result.tags_created)}，"
                     f"已有 {result.tags_present}；待办活动类型 To-Do："
                     + ("已有" if result.activity_type == "present" else result.activity_type))
    else:
        lines.append(("dry run, nothing written: " if result.dry_run else "") + f"{len(result.changes)} ticket fields: "
                     f"{n['create']} to create, {n['update']} to update, {n['unchanged']} unchanged, "
                     f"{n['conflict']} in conflict; {len(result.tags_created)} tags to create, "
                     f"{result.tags_present} present; To-Do activity type: {result.activity_type}")
    return lines


def missing_fields_from_settings(settings: HelpdeskSettings, fields: list[TicketField], *,
                                 admin_key: str | None = None, admin_login: str | None = None) -> list[tuple[TicketField, str]]:
    """:func:`missing_fields` with the bot's key (or an administrator's, when the bot may not read
    ``ir.model.fields``)."""
    connector = OdooConnector(settings)
    try:
        connector.prepare()
        if not admin_key:
            return missing_fields(connector.client, fields)
        admin = OdooClient(settings.url, admin_key, database=connector.options.database, login=admin_login,
                           protocol=connector.schema.protocol, version=connector.schema.version.major,
                           timeout=settings.timeout, retries=settings.retries)
        try:
            return missing_fields(admin, fields)
        finally:
            admin.close()
    finally:
        connector.close()
