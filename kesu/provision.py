"""The ticket fields a deployment needs, and which of them its helpdesk lacks (connector-neutral).

``declared_fields(settings)`` builds the plugin host from the settings (enabled plugins, profile,
``[policies.*]``) and collects every field their configurations name (``kesu_ticket_fields``).
``missing_fields(settings)`` asks the configured helpdesk which of them it cannot be used for yet;
``kesu doctor`` and ``serve`` can call it. ``kesu zammad setup`` / ``kesu odoo setup`` create them.
"""

from __future__ import annotations

from dataclasses import dataclass

from kesu.settings import Settings
from kesu.ticket_fields import TicketField


@dataclass(frozen=True)
class MissingField:
    field: TicketField
    reason: str  # English, e.g. "no such ticket attribute", "options missing: valid"

    def describe(self, language: str = "zh") -> str:
        named = "、".join(self.field.named_by) if language != "en" else ", ".join(self.field.named_by)
        if language == "en":
            return f"ticket field {self.field.name} ({self.field.label_en}, named by {named}): {self.reason}"
        return f"工单字段 {self.field.name}（{self.field.label}，由 {named} 指定）：{self.reason}"


def declared_fields(settings: Settings, *, load_entrypoints: bool = True) -> list[TicketField]:
    """Every ticket field the enabled plugins' effective configuration names, merged."""
    from plugins.manager import PluginHost, build_plugin_manager

    pm = build_plugin_manager(settings.plugins.disabled, load_entrypoints=load_entrypoints)
    host = PluginHost(pm, settings.policies, settings.plugins.disabled, settings.profile)
    return host.ticket_fields()


def missing_fields(settings: Settings, *, fields: list[TicketField] | None = None,
                   admin_key: str | None = None, admin_login: str | None = None) -> list[MissingField]:
    """The declared fields the configured helpdesk lacks (or has with another type or fewer
    options); ``[]`` when it has them all. Helpdesk errors are raised (``connector.errors``).

    :param admin_key: Odoo only: an administrator's API key when the bot may not read
        ``ir.model.fields`` (Zammad uses the bot's token, which setup needs anyway)."""
    wanted = declared_fields(settings) if fields is None else fields
    hd = settings.helpdesk
    if hd.kind == "odoo":
        from connector.odoo.setup import missing_fields_from_settings

        found = missing_fields_from_settings(hd, wanted, admin_key=admin_key, admin_login=admin_login)
    else:
        from connector.zammad.client import ZammadClient
        from connector.zammad.setup import missing_fields as zammad_missing

        client = ZammadClient(hd)
        try:
            found = zammad_missing(client, wanted)
        finally:
            client.close()
    return [MissingField(f, reason) for f, reason in found]
