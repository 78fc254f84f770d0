"""Odoo: the bot's API key logs in, the helpdesk models it reads and writes are accessible, the
teams kesu assigns to exist, and (17+) the automation rule's webhook action ``kesu odoo setup``
creates posts to kesu with the shared secret; 16 has no webhook and is polled."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from connector.errors import ConnectorError, PermissionDenied
from kesu.doctor.model import Check, fail, failed, ok, warn
from kesu.settings import Settings

SETUP_ZH = "运行 kesu odoo setup --admin-key …（需要管理员的 API 密钥）"
SETUP_EN = "run kesu odoo setup --admin-key … (an administrator's API key)"



def check_odoo(settings: Settings, host: Any, *, provisioning: bool = True) -> list[Check]:
    from connector.odoo.connector import TICKET_MODEL, OdooConnector

    hd = settings.helpdesk
    if not hd.token.get_secret_value():
        return []  # reported by the configuration's secrets check
    connector = OdooConnector(hd)
    try:
        try:
            uid = connector.prepare()
        except ConnectorError as exc:
            return [failed("odoo.login", exc)]
        schema = connector.schema
        out = [ok("odoo.login", f"Odoo {schema.version}（{schema.protocol}，{schema.flavour.name}）可访问，机器人 uid {uid}",
                  f"Odoo {schema.version} ({schema.protocol}, {schema.flavour.name}) reachable, bot uid {uid}")]
        client = connector.client
        flavour = schema.flavour
        denied = []
        for model in (TICKET_MODEL, flavour.team, flavour.stage, flavour.tag):
            try:
                client.search_read(model, [], ["id"], limit=1)
            except PermissionDenied:
                denied.append(model)
            except ConnectorError as exc:
                return [*out, failed("odoo.models", exc)]
        if denied:
            out.append(fail("odoo.models", f"机器人用户不能读取：{', '.join(denied)}",
                            f"the bot user may not read {', '.join(denied)}",
                            "在 Odoo 中给它 Helpdesk 的 User（或 Manager）权限",
                            "give it Helpdesk User (or Manager) rights in Odoo"))
        else:
            out.append(ok("odoo.models", f"机器人用户可读取工单、团队、阶段和标签（{flavour.name}）",
                          f"the bot user can read tickets, teams, stages and tags ({flavour.name})"))
            out.append(_teams(client, flavour.team, host))
        if provisioning:
            out.append(_webhook(settings, connector))
            from kesu.doctor.fields import check_fields

            out += check_fields(settings, host, client)
        return out
    finally:
        connector.close()


def _teams(client: Any, team_model: str, host: Any) -> Check:
    from kesu.doctor.zammad import _wanted_groups

    wanted = _wanted_groups(host)
    try:
        names = {str(r.get("name")) for r in client.search_read(team_model, [], ["name"])}
    except ConnectorError as exc:
        return failed("odoo.teams", exc)
    missing = sorted(wanted - names)
    if missing:  # a warning: a ticket routed there stays in its team
        return warn("odoo.teams", f"Odoo 中没有这些团队（[policies.routing] 分派用）：{', '.join(missing)}",
                    f"Odoo has no team(s) {', '.join(missing)} (used by [policies.routing])",
                    "在 Odoo Helpdesk 建立这些团队，或修改 [policies.routing.units] 的 group",
                    "create them in Odoo Helpdesk or change group in [policies.routing.units]")
    return ok("odoo.teams", "分派用到的团队都存在", "every team kesu assigns to exists")


def _webhook(settings: Settings, connector: Any) -> Check:
    from connector.odoo.connector import WEBHOOK_SINCE

    schema = connector.schema
    if schema.version.major < WEBHOOK_SINCE:
        every = settings.worker.sync_interval or type(connector).reconcile_interval
        return ok("odoo.webhook", f"Odoo {schema.version} 没有 webhook 动作：kesu 每 {every:g} 秒轮询变更的工单",
                  f"Odoo {schema.version} has no webhook action: kesu polls changed tickets every {every:g} s")
    hd = settings.helpdesk
    wanted = f"{hd.webhook_base_url.rstrip('/')}/webhooks/{hd.kind}"
    try:
        actions = connector.client.search_read(
            "ir.actions.server", [("state", "=", "webhook"), ("base_automation_id", "!=", False)],
            ["webhook_url", "base_automation_id"])
    except ConnectorError as exc:
        return failed("odoo.webhook", exc, provisioning=True)
    ours = [a for a in actions if _without_query(str(a.get("webhook_url") or "")) == wanted]
    if not ours:
        posting = sorted({_without_query(str(a.get("webhook_url") or "")) for a in actions})
        elsewhere_zh = f"（现有 webhook 动作指向：{', '.join(posting)}）" if posting else ""
        elsewhere_en = f" (webhook actions post to: {', '.join(posting)})" if posting else ""
        return fail("odoo.webhook", f"Odoo 中没有向 {wanted} 发送的自动化规则{elsewhere_zh}",
                    f"Odoo has no automation rule posting to {wanted}{elsewhere_en}",
                    SETUP_ZH, SETUP_EN, provisioning=True)
    secret = hd.webhook_secret.get_secret_value()
    if not any(dict(parse_qsl(urlsplit(str(a["webhook_url"])).query)).get("token") == secret for a in ours):
        return fail("odoo.webhook", "Odoo 的 webhook 动作所带的密钥与 [helpdesk] webhook_secret 不同（kesu 会拒绝它的 webhook）",
                    "Odoo's webhook action carries another secret than [helpdesk] webhook_secret (kesu "
                    "would refuse its webhooks)", SETUP_ZH, SETUP_EN, provisioning=True)
    rule = ours[0].get("base_automation_id")
    rule_id = rule[0] if isinstance(rule, list) else rule
    return ok("odoo.webhook", f"自动化规则 #{rule_id} 向 {wanted} 发送 webhook", f"automation rule #{rule_id} posts to {wanted}")


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")).rstrip("/")
