"""Embedded mode: the built-in sandbox Zammad, provisioned exactly like a real one.

``kesu serve`` without a config file (or with ``--sandbox``) starts the sandbox, creates kesu's
webhook and trigger in it through its REST API (the same code as ``kesu zammad setup``) and
points the connector at it. ``run_demo`` then files sample complaints as a customer would and
prints what kesu decided, read back from the sandbox's tickets.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from kesu.settings import Settings

SAMPLE_COMPLAINTS: list[tuple[str, str]] = [
    ("豆腐发霉", "今天在超市买的盒装豆腐，打开就发霉变质，批号 20261101，要求给个说法。"),
    ("豆浆里有异物", "喝豆浆时发现里面有一根头发一样的异物，孩子也喝了。"),
    ("包装里少包", "整箱豆干打开后发现有两袋是空袋，少包了。"),
    ("外包装破损", "收到的豆腐包装破损，出水严重。"),
    ("想问问营业时间", "你们门店周末几点开门？"),
]


@dataclass
class Embedded:
    sandbox: Any  # connector.zammad.sandbox.SandboxZammad or connector.odoo.sandbox.SandboxOdoo
    customer_token: str
    kind: str = "zammad"


SANDBOX_KINDS = ("zammad", "odoo")


def start_sandbox(settings: Settings, *, retry_scale: float = 1.0, kind: str = "zammad") -> Embedded:
    """Start the sandbox and rewrite ``settings.helpdesk`` to use it (bot token, secret)."""
    if kind not in SANDBOX_KINDS:
        raise ValueError(f"no sandbox for {kind!r}; allowed: {', '.join(SANDBOX_KINDS)}")
    if kind == "odoo":
        return _start_odoo(settings)
    from connector.zammad.sandbox import SandboxZammad

    sandbox = SandboxZammad(host=settings.sandbox.host, port=settings.sandbox.port, retry_scale=retry_scale)
    sandbox.start()
    hd = settings.helpdesk
    hd.kind = "zammad"
    # Each sandbox starts empty and reuses ticket ids; a name of its own keeps its tickets apart
    # from earlier runs' state in the same kesu.db.
    hd.name = f"sandbox-{secrets.token_hex(3)}"
    hd.url = sandbox.url
    hd.token = SecretStr(sandbox.token_for(hd.bot_login))
    if not hd.webhook_secret.get_secret_value():
        hd.webhook_secret = SecretStr(secrets.token_hex(20))
    hd.webhook_base_url = f"http://{_connect_host(settings.server.host)}:{settings.server.port}"
    return Embedded(sandbox=sandbox, customer_token=sandbox.token_for("customer@example.com"))


def _start_odoo(settings: Settings) -> Embedded:
    """The sandbox Odoo 17 with Enterprise Helpdesk, provisioned like a real one (automation rule
    and webhook action created through its API by ``provision``)."""
    from connector.odoo.sandbox import SandboxOdoo

    sandbox = SandboxOdoo(host=settings.sandbox.host, port=settings.sandbox.port, version=17,
                          flavour="enterprise")
    sandbox.start()
    # Teams for the responsible units of the profile's routing table (a real Odoo has its own).
    from policies import profiles

    units = profiles.section(settings.profile, "routing").get("units", {})
    for team in sorted({u.get("group") for u in units.values() if isinstance(u, dict) and u.get("group")}):
        sandbox.add_team(team)
    hd = settings.helpdesk
    hd.kind = "odoo"
    hd.name = f"sandbox-odoo-{secrets.token_hex(3)}"
    hd.url = sandbox.url
    hd.token = SecretStr(sandbox.api_key_for(sandbox.bot_login))
    hd.bot_login = sandbox.bot_login
    if not hd.webhook_secret.get_secret_value():
        hd.webhook_secret = SecretStr(secrets.token_hex(20))
    hd.options = {**hd.options, "database": sandbox.database}
    hd.webhook_base_url = f"http://{_connect_host(settings.server.host)}:{settings.server.port}"
    return Embedded(sandbox=sandbox, customer_token="", kind="odoo")


def _connect_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def provision(settings: Settings, embedded: Embedded | None = None, *, dry_run: bool = False,
              admin_key: str | None = None, admin_login: str | None = None) -> Any:
    """Create/update kesu's webhook and trigger and every ticket field the enabled policies name
    (``kesu.provision.declared_fields``) in the helpdesk (idempotent); ``dry_run`` writes nothing."""
    from kesu.provision import declared_fields

    fields = declared_fields(settings)
    language = settings.notes.language
    if settings.helpdesk.kind == "odoo":
        from connector.odoo.setup import setup_from_settings

        if embedded is not None:
            admin_key, admin_login = embedded.sandbox.api_key_for("admin"), "admin"
        return setup_from_settings(settings.helpdesk, admin_key=admin_key, admin_login=admin_login if admin_key else None,
                                   fields=fields, language=language, dry_run=dry_run)
    from connector.zammad.client import ZammadClient
    from connector.zammad.setup import provision as zammad_provision

    hd = settings.helpdesk
    client = ZammadClient(hd)
    try:
        bot_id = client.me()["id"]
        return zammad_provision(
            client,
            webhook_url=f"{hd.webhook_base_url.rstrip('/')}/webhooks/{hd.kind}",
            secret=hd.webhook_secret.get_secret_value(),
            bot_user_id=bot_id,
            fields=fields,
            language=language,
            dry_run=dry_run,
        )
    finally:
        client.close()


def run_demo(embedded: Embedded, *, timeout: float = 30.0, echo: Any = print,
             fields: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """File the sample complaints as the customer; wait for kesu's notes; return the tickets
    (as ``{number, title, priority, tags, fields, notes}``; ``fields``: the values of these ticket
    fields, e.g. the tier kesu writes into its field where setup created it)."""
    if embedded.kind == "odoo":
        return _run_odoo_demo(embedded, timeout=timeout)
    sandbox = embedded.sandbox
    ids = [
        sandbox.create_ticket(title, body, customer="customer@example.com", group="Users",
                              as_user="customer@example.com")["id"]
        for title, body in SAMPLE_COMPLAINTS
    ]
    deadline = time.monotonic() + timeout
    done: dict[int, dict[str, Any]] = {}
    while time.monotonic() < deadline and len(done) < len(ids):
        for tid in ids:
            if tid in done:
                continue
            snap = sandbox.ticket(tid)
            if any(a.get("subject", "").startswith("kesu #") for a in snap.get("articles", [])):
                done[tid] = snap
        time.sleep(0.1)
    tickets = [done.get(tid) or sandbox.ticket(tid) for tid in ids]
    return [{"number": t.get("number"), "title": t.get("title", ""), "priority": t.get("priority"),
             "tags": t.get("tags", []), "fields": {f: t[f] for f in fields if t.get(f)},
             "notes": [a["body"] for a in t.get("articles", []) if str(a.get("subject") or "").startswith("kesu #")]}
            for t in tickets]


def _run_odoo_demo(embedded: Embedded, *, timeout: float) -> list[dict[str, Any]]:
    sandbox = embedded.sandbox
    ids = [sandbox.create_ticket(title, body) for title, body in SAMPLE_COMPLAINTS]

    def notes(t: dict[str, Any]) -> list[str]:
        # Odoo notes are HTML: one <p> per line.
        return [html.unescape(re.sub(r"<[^>]+>", "", str(m.get("body")).replace("</p><p>", "\n")))
                for m in t.get("messages", []) if str(m.get("subject") or "").startswith("kesu #")]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(notes(sandbox.ticket(t)) for t in ids):
        time.sleep(0.1)
    out = []
    for tid in ids:
        t = sandbox.ticket(tid)
        out.append({"number": t.get("ticket_ref") or tid, "title": t.get("name", ""),
                    "priority": t.get("priority"), "tags": t.get("tags", []), "notes": notes(t)})
    return out
