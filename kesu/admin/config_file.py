"""Edits of ``kesu.toml`` made by admins (CLI and admin page alike), keeping their comments.

Changes take effect when kesu restarts: the running plugin host is never changed in place.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

import tomlkit

from kesu.i18n import Said
from plugins.manager import ESSENTIAL_PLUGINS, known_plugin_names


class ConfigEditError(Said, ValueError):
    """The edit is refused; the message says why."""


def _write(path: Path, doc: tomlkit.TOMLDocument) -> None:
    """Write ``kesu.toml`` readable by its owner only (0600): it holds admin tokens and the
    helpdesk's secrets. Written beside and renamed, so it is never readable in between."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode only applies to a new file
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(tomlkit.dumps(doc))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _load(path: Path) -> tomlkit.TOMLDocument:
    return tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()


def disabled_in(path: Path) -> list[str]:
    """``[plugins] disabled`` as the file says now (may differ from the running process)."""
    section = _load(path).get("plugins", {})
    return [str(x) for x in section.get("disabled", [])]


def set_plugin_disabled(path: Path, name: str, disable: bool) -> None:
    """Add ``name`` to ``[plugins] disabled`` (or remove it)."""
    known = known_plugin_names()
    if name not in known:
        raise ConfigEditError.said("no_plugin", name=name, known=", ".join(sorted(known)))
    if disable and name in ESSENTIAL_PLUGINS:
        raise ConfigEditError.said("essential_plugin", name=name)
    doc = _load(path)
    section = doc.setdefault("plugins", tomlkit.table())
    disabled = [str(x) for x in section.get("disabled", [])]
    if disable and name not in disabled:
        disabled.append(name)
    if not disable:
        disabled = [x for x in disabled if x != name]
    section["disabled"] = disabled
    _write(path, doc)


def add_admin_token(path: Path, name: str, scopes: Iterable[str], token: str | None = None) -> str:
    """Write ``[admin.tokens.<name>]`` with a new random token (or ``token``); returns the token."""
    scopes = list(dict.fromkeys(scopes))
    bad = [s for s in scopes if s not in ("read", "write")]
    if bad or not scopes:
        raise ConfigEditError(f"scopes must be read and/or write, got {scopes}")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigEditError(f"token name {name!r}: use letters, digits, '-' and '_'")
    token = token or secrets.token_urlsafe(32)
    doc = _load(path)
    admin = doc.setdefault("admin", tomlkit.table())
    tokens = admin.setdefault("tokens", tomlkit.table())
    entry = tomlkit.table()
    entry["token"] = token
    entry["scopes"] = scopes
    tokens[name] = entry
    _write(path, doc)
    return token
