"""Checks of the configuration alone (no network): profile, plugins and their sections, the
helpdesk kind and its options, URLs, paths, time zones, secrets.

``kesu config show`` refuses an invalid configuration with these (secrets aside); ``kesu doctor``,
``serve`` and ``worker`` run them first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kesu.doctor.model import Check, fail, ok, skip
from kesu.settings import Settings, redact_url


def _web_url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if any(c.isspace() for c in url):
        return "contains a space"
    return None


def check_urls(settings: Settings) -> list[Check]:
    out = []
    hd = settings.helpdesk
    for key, url in (("url", hd.url), ("webhook_base_url", hd.webhook_base_url)):
        problem = _web_url_problem(url)
        if problem:
            out.append(fail(f"config.helpdesk.{key}",
                            f"[helpdesk] {key} = {url!r} 不是有效的网址（{problem}）",
                            f"[helpdesk] {key} = {url!r} is not a valid URL ({problem})",
                            "写成 https://主机[:端口]，例如 https://zammad.example.com",
                            "write it as https://host[:port], e.g. https://zammad.example.com"))
    out.append(_store_url(settings.store.url))
    return out


def _store_url(url: str) -> Check:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from kesu.store.db import normalize_url

    shown = redact_url(url)
    fix_zh = "示例：sqlite:///kesu.db 或 postgresql://用户@主机/库名"
    fix_en = "e.g. sqlite:///kesu.db or postgresql://user@host/db"
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        return fail("config.store.url", f"[store] url = {shown!r} 不是数据库地址", f"[store] url = {shown!r} is not a database URL",
                    fix_zh, fix_en)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        return fail("config.store.url", f"[store] url：不支持的数据库 {parsed.get_backend_name()!r}（只支持 SQLite 与 PostgreSQL）",
                    f"[store] url: unsupported database {parsed.get_backend_name()!r} (SQLite and PostgreSQL only)",
                    fix_zh, fix_en)
    if parsed.get_backend_name() == "postgresql" and not parsed.host:
        return fail("config.store.url", f"[store] url = {shown!r} 没有主机名", f"[store] url = {shown!r} has no host",
                    fix_zh, fix_en)
    return ok("config.store.url", f"数据库地址 {shown}", f"database URL {shown}")


def sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    from kesu.store.db import normalize_url

    try:
        parsed = make_url(normalize_url(url))
    except Exception:  # noqa: BLE001 -- reported by check_urls
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def check_paths(settings: Settings) -> list[Check]:
    out = []
    db = sqlite_file(settings.store.url)
    if db is not None:
        folder = db.parent if str(db.parent) else Path(".")
        if not folder.is_dir():
            out.append(fail("config.store.path", f"SQLite 数据库目录不存在：{folder.resolve()}",
                            f"the SQLite database's folder does not exist: {folder.resolve()}",
                            "创建该目录，或修改 [store] url", "create it or change [store] url"))
        elif not os.access(folder, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
            out.append(fail("config.store.path", f"SQLite 数据库不可写：{db.resolve()}",
                            f"the SQLite database is not writable: {db.resolve()}",
                            "检查文件与目录的属主和权限", "check the owner and mode of the file and its folder"))
        else:
            out.append(ok("config.store.path", f"SQLite 数据库文件 {db.resolve()}", f"SQLite database file {db.resolve()}"))
    reports = Path(settings.reports.directory)
    existing = next((p for p in [reports, *reports.resolve().parents] if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        out.append(fail("config.reports.directory", f"[reports] directory 不可写：{reports.resolve()}",
                        f"[reports] directory is not writable: {reports.resolve()}",
                        "修改 [reports] directory 或目录权限", "change [reports] directory or its permissions"))
    for key, zone in (("[notes] timezone", settings.notes.timezone), ("[reports] timezone", settings.reports.timezone)):
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            out.append(fail("config.timezone", f"{key} = {zone!r} 不是时区名称", f"{key} = {zone!r} is not a time zone name",
                            "使用 IANA 名称，例如 Asia/Shanghai", "use an IANA name such as Asia/Shanghai"))
    return out


def check_plugins(settings: Settings) -> tuple[list[Check], Any]:
    """Profile, ``[plugins] disabled``, every ``[policies.*]`` section, the helpdesk kind and its
    options. Returns the checks and the plugin host (None when it could not be built)."""
    from plugins.manager import PluginConfigError, PluginHost, build_plugin_manager, known_plugin_names
    from policies.profiles import PROFILES

    out: list[Check] = []
    if settings.profile not in PROFILES:
        out.append(fail("config.profile", f"未知的行业配置 profile = {settings.profile!r}",
                        f"unknown profile = {settings.profile!r}",
                        f"可选：{', '.join(PROFILES)}", f"allowed: {', '.join(PROFILES)}"))
        return out, None
    out.append(ok("config.profile", f"行业配置 {settings.profile}", f"profile {settings.profile}"))
    unknown = sorted(set(settings.plugins.disabled) - known_plugin_names())
    if unknown:
        out.append(fail("config.plugins", f"[plugins] disabled 中有未安装的插件：{', '.join(unknown)}",
                        f"[plugins] disabled names plugins that are not installed: {', '.join(unknown)}",
                        "用 kesu plugins list 查看插件名称", "see the names with kesu plugins list"))
    try:
        pm = build_plugin_manager(settings.plugins.disabled)
        host = PluginHost(pm, settings.policies, settings.plugins.disabled, settings.profile)
    except PluginConfigError as exc:
        out.append(fail("config.policies", f"策略配置无效：{exc}", f"invalid policy configuration: {exc}",
                        "修改 kesu.toml 中该节", "fix that section of kesu.toml"))
        return out, None
    enabled = [name for name, _ in pm.list_name_plugin() if name in host.configs]
    out.append(ok("config.policies", f"策略配置有效（{', '.join(enabled)}）", f"policy sections valid ({', '.join(enabled)})"))
    kind = settings.helpdesk.kind
    try:
        connector_cls = host.connector_class(kind)
    except PluginConfigError:
        known = sorted({c.identifier for impl in pm.hook.kesu_register_connectors.get_hookimpls()
                        for c in impl.function() or ()})
        out.append(fail("config.helpdesk.kind", f"[helpdesk] kind = {kind!r}：没有这种服务台连接器",
                        f"[helpdesk] kind = {kind!r}: no such helpdesk connector",
                        f"可选：{', '.join(known)}", f"allowed: {', '.join(known)}"))
        return out, host
    try:
        connector_cls(settings.helpdesk).close()  # type: ignore[call-arg]  # validates [helpdesk.options]
    except ValueError as exc:
        out.append(fail("config.helpdesk.options", f"[helpdesk] 设置无效：{exc}", f"invalid [helpdesk] settings: {exc}"))
        return out, host
    out.append(ok("config.helpdesk.kind", f"服务台类型 {kind}", f"helpdesk kind {kind}"))
    return out, host


def check_secrets(settings: Settings) -> list[Check]:
    hd = settings.helpdesk
    out = []
    if hd.token.get_secret_value():
        out.append(ok("config.token", "已设置 API 令牌", "API token set"))
    else:
        out.append(fail("config.token", "未设置 [helpdesk] token：kesu 无法读写工单",
                        "[helpdesk] token is not set: kesu cannot read or write tickets",
                        "设置环境变量 KESU_HELPDESK__TOKEN 为机器人用户的 API 令牌",
                        "set KESU_HELPDESK__TOKEN to the bot user's API token"))
    if hd.webhook_secret.get_secret_value():
        out.append(ok("config.webhook_secret", "已设置 webhook 密钥", "webhook secret set"))
    else:
        out.append(fail("config.webhook_secret", "未设置 [helpdesk] webhook_secret：每个 webhook 都会被拒绝（401）",
                        "[helpdesk] webhook_secret is not set: every webhook will be refused (401)",
                        "设置环境变量 KESU_HELPDESK__WEBHOOK_SECRET（随机长字符串），再运行 "
                        f"kesu {hd.kind} setup",
                        "set KESU_HELPDESK__WEBHOOK_SECRET (a long random string), then run "
                        f"kesu {hd.kind} setup"))
    return out


def check_config(settings: Settings, *, secrets: bool = True) -> tuple[list[Check], Any]:
    """Every configuration check; returns them and the plugin host (None if not built)."""
    where = settings.config_path
    head = (ok("config.file", f"配置文件 {where}", f"configuration file {where}") if where else
            skip("config.file", "没有配置文件：使用内置默认值（沙箱）", "no configuration file: embedded defaults (sandbox)"))
    plugins, host = check_plugins(settings)
    checks = [head, *plugins, *check_urls(settings), *check_paths(settings)]
    if secrets:
        checks += check_secrets(settings)
    return checks, host


def config_problems(settings: Settings) -> list[Check]:
    """What makes the configuration itself invalid (``kesu config show`` refuses it)."""
    checks, _ = check_config(settings, secrets=False)
    return [c for c in checks if c.failed]


__all__ = ["check_config", "config_problems", "sqlite_file"]
