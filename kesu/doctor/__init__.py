"""``kesu doctor``: is this installation ready? One line per check, ✓ or ✗ with how to fix it.

Order: the configuration (no network), the database, then the helpdesk (token and rights, the
webhook and trigger or automation rule, the ticket fields). ``kesu serve`` and ``kesu worker``
run the same checks at start (``preflight``): a failure stops them with one line; what the
helpdesk's setup creates (webhook, trigger, fields) is only warned about there, since it may be
provisioned after kesu starts (the sandbox is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kesu.doctor.config import check_config, config_problems
from kesu.doctor.model import Check
from kesu.errors import CheckFailed
from kesu.settings import Settings

__all__ = ["Check", "check_config", "config_problems", "preflight", "run_checks"]


def _helpdesk_checks(settings: Settings, host: Any, *, provisioning: bool) -> list[Check]:
    kind = settings.helpdesk.kind
    if kind == "zammad":
        from kesu.doctor.zammad import check_zammad

        return check_zammad(settings, host, provisioning=provisioning)
    if kind == "odoo":
        from kesu.doctor.odoo import check_odoo

        return check_odoo(settings, host, provisioning=provisioning)
    from kesu.doctor.model import skip

    return [skip(f"{kind}.helpdesk", f"服务台 {kind} 没有内置检查", f"no built-in checks for helpdesk {kind}")]


def run_checks(settings: Settings, *, helpdesk: bool = True, provisioning: bool = True,
               on_check: Callable[[Check], None] | None = None) -> list[Check]:
    """Every check in order; ``on_check`` sees each as soon as it is known. The database and the
    helpdesk are skipped when the configuration is broken (their results would only mislead)."""
    from kesu.doctor.store import check_store

    results: list[Check] = []
    # A check asks once: in-call retries would only delay the answer (and log each attempt).
    settings = settings.model_copy(deep=True)
    settings.helpdesk.retries = 0

    def add(checks: list[Check]) -> None:
        for c in checks:
            results.append(c)
            if on_check is not None:
                on_check(c)

    config, host = check_config(settings)
    add(config)
    if any(c.failed and c.key not in ("config.token", "config.webhook_secret") for c in config):
        return results
    add(check_store(settings))
    if helpdesk:
        add(_helpdesk_checks(settings, host, provisioning=provisioning))
    return results


def preflight(settings: Settings, lang: str, *, warn: Callable[[str], None], provisioning: bool = True,
              optional: tuple[str, ...] = ()) -> None:
    """The start-up checks of ``serve`` and ``worker``: raise ``CheckFailed`` with the first
    failure's line; a failed provisioning check, or one whose key is in ``optional``, is passed to
    ``warn`` and does not stop kesu."""
    failures, warnings = [], []
    for c in run_checks(settings, provisioning=provisioning):
        if c.failed:
            (warnings if c.provisioning or c.key in optional else failures).append(c)
    if not failures:  # kesu starts: say what it will miss; else only why it does not
        for c in warnings:
            warn(c.line(lang))
        return
    first = failures[0]
    more_zh = f"（另有 {len(failures) - 1} 项问题，运行 kesu doctor 查看）" if len(failures) > 1 else ""
    more_en = f" ({len(failures) - 1} more: run kesu doctor)" if len(failures) > 1 else ""
    raise CheckFailed(first.text("zh") + more_zh, first.text("en") + more_en)
