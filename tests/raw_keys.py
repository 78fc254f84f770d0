"""The raw-key check: an internal key of a cause, category, flag, tier, outcome, state, channel or
ledger kind/status (``mould``, ``channel_missing_packs``, ``serious_injury``) where people read.

Rule IDs (``R-SLA-6.18-major``) are cited on purpose and are removed first. Single-letter tier keys
(``A``) are part of their own labels (``A类（重大）``) and are not looked for. In English text a
one-word key is also an English word (``media``, ``general``, ``open``), so English text is
checked for the compound keys (``insect_unopened``); Chinese text for every key, case-sensitive.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kesu.i18n.labels import internal_keys

RULE_ID = re.compile(r"R-[A-Z]+-[0-9][0-9A-Za-z.:\-]*")


@lru_cache(maxsize=2)
def _patterns(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for group, keys in internal_keys().items():
        for key in sorted(keys):
            if len(key) < 2 or (lang == "en" and "_" not in key):
                continue
            out.append((f"{group}:{key}", re.compile(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])")))
    return out


def raw_keys_in(text: str, lang: str = "zh") -> set[str]:
    """The internal keys ``text`` shows as such (``{"causes:mould"}``); ``set()`` when none."""
    text = RULE_ID.sub(" ", text)
    return {name for name, pattern in _patterns("en" if lang == "en" else "zh") if pattern.search(text)}


def where(text: str, found: set[str], width: int = 40) -> list[str]:
    """Each found key in its context, for the failure message."""
    text = RULE_ID.sub(" ", text)
    out = []
    for name in sorted(found):
        key = name.split(":", 1)[1]
        m = re.search(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", text)
        if m:
            out.append(f"{name}: …{text[max(0, m.start() - width):m.end() + width]}…")
    return out
