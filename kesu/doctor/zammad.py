"""Zammad: the token works and is the bot's, what the bot may do, the priorities, state and groups
kesu writes exist, and the webhook and trigger ``kesu zammad setup`` creates are there as it
left them."""

from __future__ import annotations

from typing import Any

from connector.errors import ConnectorError, PermissionDenied
from kesu.doctor.model import Check, fail, failed, ok, warn
from kesu.settings import Settings

SETUP_ZH = "运行 kesu zammad setup"
SETUP_EN = "run kesu zammad setup"



def check_zammad(settings: Settings, host: Any, *, provisioning: bool = True) -> list[Check]:
    """Every Zammad check; ``provisioning=False`` leaves out webhook, trigger and fields."""
    from connector.zammad.client import ZammadClient

    hd = settings.helpdesk
    if not hd.token.get_secret_value():
        return []  # reported by the configuration's secrets check
    client = ZammadClient(hd)
    try:
        try:
            me = client.me()
        except ConnectorError as exc:
            return [failed("zammad.token", exc)]
        out = [ok("zammad.token", f"Zammad {hd.url} 可访问，令牌属于 {me.get('login')}（id {me.get('id')}）",
                  f"Zammad {hd.url} reachable, the token is {me.get('login')}'s (id {me.get('id')})")]
        out += _identity(settings, me)
        out += _rights(settings, client, me, host)
        if provisioning:
            out += _provisioned(settings, client, me)
            from kesu.doctor.fields import check_fields

            out += check_fields(settings, host, client)
        return out
    finally:
        client.close()


def _identity(settings: Settings, me: dict[str, Any]) -> list[Check]:
    login = str(me.get("login") or "")
    bot = settings.helpdesk.bot_login
    if bot.lower() in (login.lower(), str(me.get("email") or "").lower()):
        return [ok("zammad.bot_login", f"[helpdesk] bot_login 与令牌的用户一致（{login}）",
                   f"[helpdesk] bot_login matches the token's user ({login})")]
    return [fail("zammad.bot_login",
                 f"令牌属于 {login}，但 [helpdesk] bot_login 是 {bot}：kesu 会把自己的修改当作别人的修改",
                 f"the token is {login}'s but [helpdesk] bot_login is {bot}: kesu would take its own "
                 "changes for someone else's",
                 f'设置 [helpdesk] bot_login = "{login}"，或换用机器人用户的令牌',
                 f'set [helpdesk] bot_login = "{login}" or use the bot user\'s token')]


def _wanted_groups(host: Any) -> set[str]:
    groups: set[str] = set()
    if host is None:
        return groups
    routing = host.configs.get("routing")
    for unit in getattr(routing, "units", {}).values():
        if getattr(unit, "group", ""):
            groups.add(unit.group)
    special = getattr(host.configs.get("severity"), "special", None)
    if getattr(special, "isolate_group", ""):
        groups.add(special.isolate_group)
    return groups


def _rights(settings: Settings, client: Any, me: dict[str, Any], host: Any) -> list[Check]:
    out = []
    access = me.get("group_ids") or {}
    if not access:
        return [fail("zammad.agent", "机器人用户不能访问任何组的工单（不是客服 Agent）",
                     "the bot user can access no group's tickets (it is no agent)",
                     "在 Zammad 中给它 Agent 角色，并给 kesu 分派到的每个组 full 权限",
                     "give it the Agent role and full access to every group kesu assigns to")]
    try:
        groups = {str(g["id"]): str(g["name"]) for g in client.groups()}
        priorities = {str(p["name"]) for p in client.ticket_priorities()}
        states = {str(s["name"]) for s in client.ticket_states()}
    except ConnectorError as exc:
        return [failed("zammad.agent", exc)]
    full = {groups.get(gid, gid) for gid, rights in access.items() if "full" in rights or "change" in rights}
    wanted = _wanted_groups(host)
    missing = sorted(wanted - set(groups.values()))
    no_rights = sorted((wanted & set(groups.values())) - full)
    if missing:  # a warning: a ticket routed there stays where it is (Zammad refuses the group)
        out.append(warn("zammad.groups", f"Zammad 中没有这些组（[policies.routing] 分派用）：{', '.join(missing)}",
                        f"Zammad has no group(s) {', '.join(missing)} (used by [policies.routing])",
                        "在 Zammad 建立这些组，或修改 [policies.routing.units] 的 group",
                        "create them in Zammad or change group in [policies.routing.units]"))
    elif no_rights:
        out.append(fail("zammad.groups", f"机器人用户对这些组没有修改权限：{', '.join(no_rights)}",
                        f"the bot user may not change tickets of group(s) {', '.join(no_rights)}",
                        "在 Zammad 中给它这些组的 full 权限", "give it full access to them in Zammad"))
    else:
        out.append(ok("zammad.groups", f"机器人用户可修改 {len(full)} 个组的工单，分派用到的组都存在",
                      f"the bot user may change tickets of {len(full)} group(s); every group kesu assigns to exists"))
    hd = settings.helpdesk
    absent = sorted({v for v in hd.priority_map.values() if v not in priorities})
    if absent:
        out.append(fail("zammad.priorities", f"[helpdesk] priority_map 中的优先级在 Zammad 不存在：{', '.join(absent)}",
                        f"[helpdesk] priority_map names priorities Zammad lacks: {', '.join(absent)}",
                        f"Zammad 的优先级：{', '.join(sorted(priorities))}",
                        f"Zammad's priorities: {', '.join(sorted(priorities))}"))
    elif hd.reminder_state not in states:
        out.append(fail("zammad.priorities", f"[helpdesk] reminder_state = {hd.reminder_state!r} 在 Zammad 不存在",
                        f"[helpdesk] reminder_state = {hd.reminder_state!r} is no Zammad state",
                        f"Zammad 的状态：{', '.join(sorted(states))}", f"Zammad's states: {', '.join(sorted(states))}"))
    else:
        out.append(ok("zammad.priorities", "优先级与提醒状态都存在", "priorities and the reminder state exist"))
    return out


def _endpoint(settings: Settings) -> str:
    hd = settings.helpdesk
    return f"{hd.webhook_base_url.rstrip('/')}/webhooks/{hd.kind}"


def _find(rows: list[dict[str, Any]], name: str = "kesu") -> dict[str, Any] | None:
    return next((r for r in rows if str(r.get("name", "")).lower() == name), None)


def _one(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else value
    return str(value)


def _provisioned(settings: Settings, client: Any, me: dict[str, Any]) -> list[Check]:
    admin_zh = "令牌无权查看 webhook 和触发器（需要 admin.webhook 与 admin.trigger 权限）"
    admin_en = "the token may not read webhooks and triggers (needs admin.webhook and admin.trigger)"
    try:
        hook = _find(client.webhooks())
        trigger = _find(client.triggers())
    except PermissionDenied:
        return [fail("zammad.webhook", admin_zh, admin_en, "用管理员令牌运行 kesu doctor 与 kesu zammad setup，"
                     "或给机器人用户 Admin 角色", "run kesu doctor and kesu zammad setup with an admin's token, "
                     "or give the bot user the Admin role", provisioning=True)]
    except ConnectorError as exc:
        return [failed("zammad.webhook", exc, provisioning=True)]
    out: list[Check] = []
    endpoint = _endpoint(settings)
    if hook is None:
        out.append(fail("zammad.webhook", "Zammad 中没有名为 kesu 的 webhook", "Zammad has no webhook named kesu",
                        SETUP_ZH, SETUP_EN, provisioning=True))
    else:
        problems_zh, problems_en = [], []
        if str(hook.get("endpoint") or "") != endpoint:
            problems_zh.append(f"指向 {hook.get('endpoint')}，应为 {endpoint}")
            problems_en.append(f"posts to {hook.get('endpoint')}, should be {endpoint}")
        if not hook.get("active", False):
            problems_zh.append("未启用")
            problems_en.append("is inactive")
        token = hook.get("signature_token")
        if token is not None and token != settings.helpdesk.webhook_secret.get_secret_value():
            problems_zh.append("签名密钥与 [helpdesk] webhook_secret 不同")
            problems_en.append("its signature token differs from [helpdesk] webhook_secret")
        if problems_zh:
            out.append(fail("zammad.webhook", "webhook kesu " + "，".join(problems_zh), "webhook kesu " + ", ".join(problems_en),
                            SETUP_ZH, SETUP_EN, provisioning=True))
        else:
            out.append(ok("zammad.webhook", f"webhook kesu 指向 {endpoint}", f"webhook kesu posts to {endpoint}"))
    if trigger is None:
        out.append(fail("zammad.trigger", "Zammad 中没有名为 kesu 的触发器", "Zammad has no trigger named kesu",
                        SETUP_ZH, SETUP_EN, provisioning=True))
        return out
    problems_zh, problems_en = [], []
    if not trigger.get("active", False):
        problems_zh.append("未启用")
        problems_en.append("is inactive")
    perform = (trigger.get("perform") or {}).get("notification.webhook") or {}
    if hook is not None and _one(perform.get("webhook_id")) != str(hook.get("id")):
        problems_zh.append("没有调用 webhook kesu")
        problems_en.append("does not call webhook kesu")
    updated_by = (trigger.get("condition") or {}).get("ticket.updated_by_id") or {}
    excluded = [str(v) for v in (updated_by.get("value") or [])] if isinstance(updated_by.get("value"), list) \
        else [str(updated_by.get("value"))]
    if updated_by.get("operator") != "is not" or str(me.get("id")) not in excluded:
        problems_zh.append("没有排除机器人用户自己的修改（会形成循环）")
        problems_en.append("does not exclude the bot user's own changes (a loop)")
    if problems_zh:
        out.append(fail("zammad.trigger", "触发器 kesu " + "，".join(problems_zh), "trigger kesu " + ", ".join(problems_en),
                        SETUP_ZH, SETUP_EN, provisioning=True))
    else:
        out.append(ok("zammad.trigger", "触发器 kesu 已启用，排除机器人自己的修改",
                      "trigger kesu active, excluding the bot's own changes"))
    return out
