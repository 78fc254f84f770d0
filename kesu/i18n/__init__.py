"""kesu's own words in Chinese and English: one gettext catalogue, read with Babel.

Every fixed string kesu shows people -- tier, channel, flag, outcome, state, ledger and deadline
names, the admin page's words, the note templates, the group bots' words -- is one entry of
``locale/<zh_CN|en>/LC_MESSAGES/kesu.po``, keyed by a context (``msgctxt``: ``tier``, ``flag``,
``admin`` ...) and kesu's internal key (``msgid``: ``A``, ``serious_injury``, ``login``).
``messages.pot`` is the template (``python -m kesu.i18n`` rewrites it from the Chinese catalogue).

The ``.po`` files are read at first use with :func:`babel.messages.pofile.read_po` and kept in
memory: no compiled ``.mo`` file, so a fresh clone works after ``pip install -e .`` with no build
step, and an edited ``.po`` takes effect at the next start.

A site overrides any entry with its own ``kesu.po`` under ``$KESU_LOCALE_DIR/<zh_CN|en>/LC_MESSAGES/``
(only the entries it changes; the rest stay kesu's). Labels a profile defines (causes, categories,
tiers, units) are profile data, overridden in ``[policies.*]`` (``label``, ``label_en``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

DOMAIN = "kesu"
HERE = Path(__file__).resolve().parent
LOCALE_DIR = HERE / "locale"
TEMPLATE = HERE / "messages.pot"
#: kesu's language codes (``[notes] language``, ``--lang``) and their gettext locales
LOCALES = {"zh": "zh_CN", "en": "en"}
LANGS = tuple(LOCALES)
#: where a site's overriding catalogues live (``<dir>/<locale>/LC_MESSAGES/kesu.po``)
SITE_ENV = "KESU_LOCALE_DIR"


def lang_of(value: Any) -> str:
    """``"en"`` for English (``en``, ``en_US``, ``en-GB``), else ``"zh"``."""
    return "en" if str(value or "").lower().replace("-", "_").split("_")[0] == "en" else "zh"


def po_path(lang: str, base: Path = LOCALE_DIR) -> Path:
    return base / LOCALES[lang_of(lang)] / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN, abort_invalid=True)


def _entries(catalog: Catalog) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        out[(message.context or "", str(message.id))] = str(message.string)
    return out


@lru_cache(maxsize=4)
def _table(lang: str) -> dict[tuple[str, str], str]:
    table = _entries(read(po_path(lang), LOCALES[lang]))
    site = os.environ.get(SITE_ENV)
    if site:
        path = po_path(lang, Path(site).expanduser())
        if path.is_file():
            table.update(_entries(read(path, LOCALES[lang])))
    return table


def reload() -> None:
    """Forget the catalogues read so far (the next lookup reads them again)."""
    _table.cache_clear()
    _contexts.cache_clear()


def has(context: str, key: Any) -> bool:
    return (context, str(key)) in _table("zh")


def label(context: str, key: Any, lang: str = "zh", default: str | None = None) -> str:
    """The entry ``key`` of ``context`` in ``lang``; ``default`` (else ``key`` itself) when the
    catalogue has none. English falls back to Chinese for an entry only Chinese has."""
    lang = lang_of(lang)
    found = _table(lang).get((context, str(key)))
    if found is None and lang == "en":
        found = _table("zh").get((context, str(key)))
    if found is not None:
        return found
    return str(key) if default is None else default


def text(context: str, key: str, lang: str = "zh", **values: Any) -> str:
    """An entry with its ``{placeholders}`` filled in."""
    template = label(context, key, lang)
    return template.format(**values) if values else template


class Ref(NamedTuple):
    """A catalogue entry used as a value in another entry, shown in that entry's language
    (``said("not_proposal", status=Ref("ledger_status", "confirmed"))``)."""

    context: str
    key: str


def _in_sentence(word: str, lang: str) -> str:
    return word[:1].lower() + word[1:] if lang_of(lang) == "en" else word


def said(key: str, lang: str = "zh", **values: Any) -> str:
    """The ``error`` entry ``key`` in ``lang`` with ``values`` (a :class:`Ref` in that language,
    lower-case in an English sentence)."""
    shown = {k: _in_sentence(label(v.context, v.key, lang), lang) if isinstance(v, Ref) else v
             for k, v in values.items()}
    return text("error", key, lang, **shown)


class Said(Exception):
    """An error whose message exists in English (``str(exc)``, logs, the API) and Chinese (``zh``)."""

    def __init__(self, message: str, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh

    @classmethod
    def said(cls, key: str, **values: Any) -> Any:
        """The error of catalogue entry ``error/<key>`` in both languages."""
        return cls(said(key, "en", **values), said(key, "zh", **values))

    def text(self, lang: str) -> str:
        return self.zh if lang_of(lang) == "zh" and self.zh else str(self)


@lru_cache(maxsize=1)
def _contexts() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for context, key in _table("zh"):
        out.setdefault(context, []).append(key)
    return {c: tuple(keys) for c, keys in out.items()}


def keys(context: str) -> tuple[str, ...]:
    """The keys of ``context`` in catalogue order (the order in which lists show them)."""
    return _contexts().get(context, ())


def words(context: str, lang: str = "zh") -> dict[str, str]:
    """``{key: entry}`` of a whole context in ``lang``."""
    return {k: label(context, k, lang) for k in keys(context)}


def pick(labels: Mapping[str, str], lang: str, fallback: str = "") -> str:
    """A profile's ``{"zh": label, "en": label_en}``: the one for ``lang``, else Chinese."""
    return (labels.get("en") if lang_of(lang) == "en" else None) or labels.get("zh") or fallback


UNSET_KEY = ("common", "unset")


def unset(lang: str = "zh") -> str:
    """What people read for a value nobody filled in (未填写 / Not Set)."""
    return label(*UNSET_KEY, lang)
