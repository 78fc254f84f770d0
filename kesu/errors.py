"""Failures an operator causes and can fix, shown as one line in their language.

    OperatorError                 -- expected; the CLI prints ``line(lang)`` on stderr, no traceback
    ├── ConfigError               -- kesu.toml / KESU_* (syntax, unknown key, bad value, unknown
    │                                policy, profile or helpdesk kind, malformed URL); exit 2
    ├── StoreError                -- the database: bad URL, unreachable, schema newer than kesu
    ├── HelpdeskUnreachable       -- (from connector.errors) wrapped with what to check
    └── CheckFailed               -- a start-up check of ``kesu doctor`` failed

``explain(exc)`` turns the exceptions the layers below raise for such failures (pydantic,
tomllib, SQLAlchemy, alembic, ``connector.errors``, plugin configuration) into an
``OperatorError``; anything else is a bug and keeps its traceback. Messages never carry secrets:
database URLs are redacted and connector errors carry no tokens (``connector.http``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from typing import Any

Lang = str  # "zh" or "en"


class OperatorError(Exception):
    """An expected failure: ``zh``/``en`` say what is wrong and how to fix it, in one line."""

    exit_code = 1

    def __init__(self, zh: str, en: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(en or zh)
        self.zh = _one_line(zh)
        self.en = _one_line(en or zh)
        if exit_code is not None:
            self.exit_code = exit_code

    def line(self, lang: Lang = "zh") -> str:
        return ("错误：" + self.zh) if lang != "en" else ("error: " + self.en)


class ConfigError(OperatorError, ValueError):
    exit_code = 2


class StoreError(OperatorError):
    pass


class HelpdeskFailure(OperatorError):
    pass


class CheckFailed(OperatorError):
    pass


def _one_line(text: str, limit: int = 600) -> str:
    text = re.sub(r"\s*\n\s*", "; ", text.strip())
    text = re.sub(r"[ \t]+", " ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------------
# configuration


def _where(loc: Sequence[Any]) -> str:
    """``("worker", "threads")`` -> ``[worker] threads``; ``("profile",)`` -> ``profile``."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2:
        return f"[{parts[0]}] {'.'.join(parts[1:])}"
    return parts[0] if parts else "(file)"


def validation_error(exc: Any, source: str) -> ConfigError:
    """A pydantic ``ValidationError`` of the settings, every bad key named, on one line."""
    zh, en = [], []
    for err in exc.errors():
        where = _where(err.get("loc", ()))
        if err.get("type") == "extra_forbidden":
            zh.append(f"{where}：未知的设置项（拼写错误？）")
            en.append(f"{where}: unknown key (a typo?)")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            zh.append(f"{where}：{err['msg']}{shown}")
            en.append(f"{where}: {err['msg']}{shown}")
    return ConfigError(f"{source} 配置无效：" + "；".join(zh), f"invalid configuration in {source}: " + "; ".join(en))


def toml_error(exc: tomllib.TOMLDecodeError, source: str) -> ConfigError:
    return ConfigError(f"{source} 不是有效的 TOML：{exc}（请修正该行后重试）",
                       f"{source} is not valid TOML: {exc} (fix that line and retry)")


# ------------------------------------------------------------------------------------------------
# translation of the layers' exceptions


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip() or type(orig).__name__
    return _one_line(text.splitlines()[0] if text else text, 300)


def _store_where(store_url: str | None) -> str:
    from kesu.settings import redact_url

    return f" {redact_url(store_url)}" if store_url else "（[store] url）"


def explain(exc: BaseException, *, store_url: str | None = None) -> OperatorError | None:
    """The one-line form of an expected failure, or None for a bug (keep its traceback).
    ``store_url`` is named (password hidden) when the database cannot be reached."""
    if isinstance(exc, OperatorError):
        return exc
    if isinstance(exc, tomllib.TOMLDecodeError):
        return toml_error(exc, "kesu.toml")
    try:
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover
        ValidationError = ()  # type: ignore[assignment,misc]  # noqa: N806
    if isinstance(exc, ValidationError):
        return validation_error(exc, "kesu.toml")
    from plugins.manager import PluginConfigError
    from policies.profiles import UnknownProfile

    if isinstance(exc, (PluginConfigError, UnknownProfile)):
        return ConfigError(f"配置无效：{exc}", f"invalid configuration: {exc}")
    found = _store_failure(exc, store_url)
    if found is not None:
        return found
    found = _helpdesk_failure(exc)
    if found is not None:
        return found
    if isinstance(exc, FileNotFoundError):
        name = exc.filename or str(exc)
        return OperatorError(f"文件不存在：{name}", f"no such file: {name}")
    if isinstance(exc, PermissionError):
        name = exc.filename or str(exc)
        return OperatorError(f"没有权限访问 {name}（检查文件属主和权限）",
                             f"permission denied: {name} (check its owner and mode)")
    return None


def _store_failure(exc: BaseException, store_url: str | None) -> OperatorError | None:
    try:
        from sqlalchemy import exc as sa
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (sa.ArgumentError, sa.NoSuchModuleError)):
        return StoreError(
            f"数据库地址 [store] url 无效：{_first_line(exc)}。示例：sqlite:///kesu.db 或 "
            "postgresql://用户@主机/库名（也可用 KESU_STORE__URL 设置）",
            f"[store] url is not a database URL: {_first_line(exc)}. Examples: sqlite:///kesu.db, "
            "postgresql://user@host/db (or set KESU_STORE__URL)", exit_code=2)
    if isinstance(exc, (sa.OperationalError, sa.InterfaceError)) or (
            isinstance(exc, sa.DBAPIError) and exc.connection_invalidated):
        where = _store_where(store_url)
        return StoreError(
            f"无法连接数据库{where}：{_first_line(exc)}。请检查 [store] url、数据库是否在运行、用户与密码",
            f"cannot reach the database{where.replace('（', ' (').replace('）', ')')}: {_first_line(exc)}. "
            "Check [store] url, that the "
            "database is running, the user and password")
    try:
        from alembic.util import CommandError
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, CommandError):
        return StoreError(
            f"数据库结构与此版本 kesu 不符：{_first_line(exc)}（数据库可能由更新版本的 kesu 升级过）",
            f"the database schema does not match this kesu: {_first_line(exc)} "
            "(was it upgraded by a newer kesu?)")
    return None


def _helpdesk_failure(exc: BaseException) -> OperatorError | None:
    from connector import errors as ce

    if not isinstance(exc, ce.ConnectorError):
        return None
    said = str(exc)
    if isinstance(exc, ce.AuthenticationFailed):
        return HelpdeskFailure(
            f"服务台拒绝了 API 令牌：{said}。请检查 KESU_HELPDESK__TOKEN（kesu 机器人用户的令牌）是否正确、未过期",
            f"the helpdesk refused the API token: {said}. Check KESU_HELPDESK__TOKEN (the kesu bot "
            "user's token): right and not expired")
    if isinstance(exc, ce.PermissionDenied):
        return HelpdeskFailure(
            f"服务台拒绝了此操作（权限不足）：{said}。请给 kesu 机器人用户所需的权限（见 kesu doctor）",
            f"the helpdesk refused this (missing permission): {said}. Give kesu's bot user the "
            "rights it needs (see kesu doctor)")
    if isinstance(exc, ce.TransientError):
        return HelpdeskFailure(
            f"无法连接服务台：{said}。请检查 [helpdesk] url、网络和服务台是否在运行",
            f"cannot reach the helpdesk: {said}. Check [helpdesk] url, the network and that the "
            "helpdesk is running")
    return HelpdeskFailure(f"服务台返回错误：{said}", f"the helpdesk answered with an error: {said}")
