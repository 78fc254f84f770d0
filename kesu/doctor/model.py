"""One check's result and how it is shown: ``✓``/``✗`` (``!`` a warning, ``–`` not checked),
what was found, and for a problem how to fix it, in Chinese or English."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kesu.errors import explain

Status = Literal["ok", "warn", "fail", "skip"]
SYMBOLS: dict[str, str] = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "–"}


@dataclass(frozen=True)
class Check:
    """``key`` names the check (``store.schema``, ``zammad.webhook`` ...) for tests and machines;
    ``provisioning`` marks what ``kesu zammad setup`` / ``kesu odoo setup`` create (webhook,
    trigger, fields): ``serve`` and ``worker`` only warn about those at start."""

    key: str
    status: Status
    zh: str
    en: str
    fix_zh: str = ""
    fix_en: str = ""
    provisioning: bool = False

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def text(self, lang: str = "zh") -> str:
        what, fix = (self.en, self.fix_en) if lang == "en" else (self.zh, self.fix_zh)
        if not fix:
            return what
        return f"{what} → {fix}"

    def line(self, lang: str = "zh") -> str:
        return f"{SYMBOLS[self.status]} {self.text(lang)}"


def ok(key: str, zh: str, en: str) -> Check:
    return Check(key, "ok", zh, en)


def fail(key: str, zh: str, en: str, fix_zh: str = "", fix_en: str = "", *, provisioning: bool = False) -> Check:
    return Check(key, "fail", zh, en, fix_zh, fix_en, provisioning)


def warn(key: str, zh: str, en: str, fix_zh: str = "", fix_en: str = "", *, provisioning: bool = False) -> Check:
    return Check(key, "warn", zh, en, fix_zh, fix_en, provisioning)


def skip(key: str, zh: str, en: str) -> Check:
    return Check(key, "skip", zh, en)


def failed(key: str, exc: BaseException, *, provisioning: bool = False) -> Check:
    """A failed check from a helpdesk error ``kesu.errors.explain`` knows (every ConnectorError)."""
    failure = explain(exc)
    assert failure is not None  # every ConnectorError is explained
    return fail(key, failure.zh, failure.en, provisioning=provisioning)
