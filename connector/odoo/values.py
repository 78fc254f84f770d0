"""How Odoo's values read and write: datetimes, many2one pairs, HTML, priorities."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

from kesu.models import Priority

ODOO_TIME = "%Y-%m-%d %H:%M:%S"
ODOO_PRIORITIES = ("0", "1", "2", "3")  # Enterprise and OCA alike: low, medium, high, urgent
DEFAULT_PRIORITY_MAP = {"low": "0", "normal": "1", "high": "2", "urgent": "3"}


def odoo_time(value: Any) -> datetime | None:
    """Odoo's naive-UTC ``YYYY-MM-DD HH:MM:SS[.ffffff]`` as aware UTC, to the second.

    Reads answer whole seconds, the webhook body ``str(datetime)`` with microseconds; cutting
    both to the second makes the webhook and the poll name one change alike.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        if parsed.tzinfo is not None:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            parsed = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return parsed.replace(tzinfo=timezone.utc, microsecond=0)


def odoo_time_str(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime(ODOO_TIME)


def m2o(value: Any) -> tuple[int, str] | None:
    """A many2one as read answers it: ``[id, "display name"]`` or ``false``."""
    if isinstance(value, list) and value and isinstance(value[0], int):
        return value[0], str(value[1]) if len(value) > 1 else ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, ""
    return None


def note_html(text: str) -> str:
    """kesu's plain-text note as escaped HTML, one line per decision."""
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())


class _TextExtractor(HTMLParser):
    BREAKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(value: Any) -> str:
    """Plain text of an Odoo Html field (keyword rules read text, not markup)."""
    if not isinstance(value, str) or not value:
        return ""
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def priority_values(priority_map: Mapping[str, str]) -> dict[Priority, str]:
    """kesu priority -> Odoo's ``'0'``-``'3'``; a map with no Odoo value gives the default."""
    allowed = [p.name for p in Priority]
    values = {k: str(v) for k, v in priority_map.items()}
    odoo_like = [k for k, v in values.items() if v in ODOO_PRIORITIES]
    if not odoo_like:  # e.g. the Zammad default ("2 normal" ...): not meant for Odoo
        values = dict(DEFAULT_PRIORITY_MAP)
    unknown = sorted(set(values) - set(allowed))
    missing = [p for p in allowed if p not in values]
    wrong = {k: v for k, v in values.items() if v not in ODOO_PRIORITIES}
    if unknown or missing or wrong:
        raise ValueError(
            f"priority_map keys must be exactly {', '.join(allowed)} and values Odoo priorities "
            f"{', '.join(repr(v) for v in ODOO_PRIORITIES)} (low, medium, high, urgent); "
            f"unknown keys: {unknown or 'none'}, missing: {missing or 'none'}, "
            f"bad values: {wrong or 'none'}"
        )
    return {Priority[k]: v for k, v in values.items()}
