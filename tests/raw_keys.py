"""The raw-key check: an internal key of a cause, category, flag, tier, outcome, state, channel or
ledger kind/status (``mould``, ``channel_missing_packs``, ``serious_injury``) where people read.

Rule IDs (``R-SLA-6.18-major``) are cited on purpose and are removed first. Single-letter tier keys
(``A``) are part of their own labels (``A类（重大）``) and are not looked for. In English text a
one-word key is also an English word (``media``, ``general``, ``open``), so English text is
checked for the compound keys (``insect_unopened``). Chinese text is checked for every key,
case-sensitive; a one-word key inside an English phrase there (the bilingual headings of reports:
"By channel", "Valid vs invalid") is English, not a key. ``none`` (the follow-up state) is the
English half of "（无 / none）" and is not looked for on its own.
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


SKIP = {"none"}
WORD = re.compile(r"[A-Za-z]{2,}")


def _in_english_phrase(text: str, start: int, end: int) -> bool:
    """Whether the ASCII run around ``text[start:end]`` (up to non-ASCII or a line end) holds
    another English word."""
    left = start
    while left > 0 and ord(text[left - 1]) < 128 and text[left - 1] not in "\n|":
        left -= 1
    right = end
    while right < len(text) and ord(text[right]) < 128 and text[right] not in "\n|":
        right += 1
    return len(WORD.findall(text[left:start] + " " + text[end:right])) > 0


def raw_keys_in(text: str, lang: str = "zh") -> set[str]:
    """The internal keys ``text`` shows as such (``{"causes:mould"}``); ``set()`` when none."""
    text = RULE_ID.sub(" ", text)
    found = set()
    for name, pattern in _patterns("en" if lang == "en" else "zh"):
        key = name.split(":", 1)[1]
        if key in SKIP:
            continue
        for m in pattern.finditer(text):
            if "_" in key or not _in_english_phrase(text, m.start(), m.end()):
                found.add(name)
                break
    return found


def where(text: str, found: set[str], width: int = 40) -> list[str]:
    """Each found key in its context, for the failure message."""
    text = RULE_ID.sub(" ", text)
    out = []
    for name in sorted(found):
        key = name.split(":", 1)[1]
        for m in re.finditer(rf"(?<![A-Za-z0-9_]){re.escape(key)}(?![A-Za-z0-9_])", text):
            if "_" in key or not _in_english_phrase(text, m.start(), m.end()):
                out.append(f"{name}: …{text[max(0, m.start() - width):m.end() + width]}…")
                break
    return out
