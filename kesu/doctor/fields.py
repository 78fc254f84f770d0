"""The ticket fields kesu's notes ask agents to fill (``PluginHost.ticket_fields``) exist in the
helpdesk.

``kesu.provision.missing_fields`` (the provisioning code: it knows how each helpdesk names and
stages a field and sees a wrong type or missing options) answers; without it, ``missing_fields``
here compares the declared names with what the helpdesk lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connector.errors import ConnectorError, PermissionDenied
from kesu.doctor.model import Check, fail, ok, skip
from kesu.errors import explain
from kesu.settings import Settings


def missing_fields(declared: Iterable[Any], present: Iterable[str]) -> list[Any]:
    """The declared fields (anything with a ``name``) whose name ``present`` lacks; an Odoo field
    may carry Odoo's ``x_`` prefix for custom fields."""
    have = set(present)
    return [f for f in declared if f.name not in have and f"x_{f.name}" not in have]


def present_fields(kind: str, client: Any) -> set[str]:
    """Names of the ticket attributes the helpdesk has and can store now."""
    if kind == "zammad":
        rows = client._get("/object_manager_attributes")
        return {str(r.get("name")) for r in rows or []
                if str(r.get("object") or r.get("object_lookup", {}).get("name") or "Ticket") == "Ticket"
                and not r.get("to_create") and not r.get("to_migrate") and r.get("active", True)}
    from connector.odoo.connector import TICKET_MODEL

    return set(client.fields_get(TICKET_MODEL, ["type"]))


def _missing(settings: Settings, declared: list[Any], client: Any) -> list[tuple[str, str, str]]:
    """``(name, zh, en)`` per field the helpdesk lacks, from the provisioning code when it is there
    (it also sees a wrong type or missing options), else by name."""
    try:
        from kesu.provision import missing_fields as provisioned
    except ImportError:
        provisioned = None
    if provisioned is not None:
        return [(m.field.name, m.describe("zh"), m.describe("en")) for m in provisioned(settings, fields=declared)]
    lacking = missing_fields(declared, present_fields(settings.helpdesk.kind, client))
    return [(f.name, f.name, f.name) for f in lacking]


def check_fields(settings: Settings, host: Any, client: Any) -> list[Check]:
    kind = settings.helpdesk.kind
    declared_of = getattr(host, "ticket_fields", None)
    if host is None or declared_of is None:
        return [skip(f"{kind}.fields", "未检查工单字段（此版本 kesu 没有字段清单）",
                     "ticket fields not checked (this kesu has no list of them)")]
    declared = list(declared_of())
    if not declared:
        return [ok(f"{kind}.fields", "配置未要求任何工单字段", "the configuration names no ticket field")]
    try:
        missing = _missing(settings, declared, client)
    except PermissionDenied:
        return [fail(f"{kind}.fields", "令牌无权查看工单字段定义（Zammad 需要 admin.object 权限）",
                     "the token may not read the ticket field definitions (Zammad: admin.object)",
                     "用管理员令牌运行 kesu doctor，或给机器人用户 Admin 角色",
                     "run kesu doctor with an admin's token or give the bot user the Admin role",
                     provisioning=True)]
    except ConnectorError as exc:
        failure = explain(exc)
        assert failure is not None
        return [fail(f"{kind}.fields", failure.zh, failure.en, provisioning=True)]
    if missing:
        names = [m[0] for m in missing]
        first_zh, first_en = missing[0][1], missing[0][2]
        more_zh = f"；另有 {len(names) - 1} 个：{', '.join(names[1:])}" if len(names) > 1 else ""
        more_en = f"; {len(names) - 1} more: {', '.join(names[1:])}" if len(names) > 1 else ""
        return [fail(f"{kind}.fields", f"服务台缺少 kesu 备注要求填写的字段：{first_zh}{more_zh}",
                     f"the helpdesk lacks fields kesu's notes ask agents to fill: {first_en}{more_en}",
                     f"运行 kesu {kind} setup", f"run kesu {kind} setup", provisioning=True)]
    return [ok(f"{kind}.fields", f"kesu 用到的 {len(declared)} 个工单字段都存在",
               f"all {len(declared)} ticket fields kesu uses exist")]
