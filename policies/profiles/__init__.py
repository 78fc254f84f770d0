"""Industry profiles: the regulations' numbers and tables as data, never as code.

A profile is a folder of TOML files, one per plugin, each holding that plugin's complete
``[policies.<plugin>]`` section with comments (so ``kesu init --profile X`` can write them out
as they are). ``profile`` in kesu.toml (default ``food``) names the profile whose
values fill every key a deployment does not set itself.

The folder ``common`` is read before every profile: the vocabulary every industry shares (how
customers tell of harm, threats, staff behaviour, leaders, praise) as lexicon classes
(``[policies.facts.lexicon.*]``) and scope cues. A profile's own tables are merged over it key by
key (a class the profile defines replaces the common one).
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from collections.abc import Mapping
from typing import Any

PROFILES = ("food", "insurance", "realestate", "retail", "utility")
DEFAULT_PROFILE = "food"


class UnknownProfile(ValueError):
    pass


def _folder(profile: str) -> Any:
    if profile not in PROFILES:
        raise UnknownProfile(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    return resources.files("policies.profiles") / profile


COMMON = "common"


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s keys on top: tables merge, values (lists included) replace. How a
    profile lies over the common vocabulary, and a deployment's kesu.toml over its profile."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _tomls(folder: Any) -> list[Any]:
    if not folder.is_dir():
        return []
    return [item for item in sorted(folder.iterdir(), key=lambda p: p.name) if item.name.endswith(".toml")]


@lru_cache(maxsize=None)
def load(profile: str) -> dict[str, dict[str, Any]]:
    """``{plugin: section}`` of a profile (the common vocabulary included)."""
    folder = _folder(profile)
    sections: dict[str, dict[str, Any]] = {}
    for item in [*_tomls(resources.files("policies.profiles") / COMMON), *_tomls(folder)]:
        data = tomllib.loads(item.read_text(encoding="utf-8"))
        sections = merge(sections, data.get("policies", {}))
    return sections


def section(profile: str, plugin: str) -> dict[str, Any]:
    return dict(load(profile).get(plugin, {}))


def text(profile: str) -> str:
    """The profile as one commented TOML document (for ``kesu init``)."""
    folder = _folder(profile)
    if not folder.is_dir():
        return ""
    parts = [item.read_text(encoding="utf-8").rstrip() + "\n"
             for item in [*_tomls(resources.files("policies.profiles") / COMMON), *_tomls(folder)]]
    return "\n".join(parts)
