"""Report periods: a month (``2026-03``), a quarter (``2026-Q1``) or a year (``2026``).

Boundaries are local midnight in the report's time zone (Asia/Shanghai by default): a complaint
received 2026-03-31 23:30 in Shanghai belongs to March although it is 15:30 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal
from zoneinfo import ZoneInfo

from kesu.i18n import Ref, Said

PeriodKind = Literal["monthly", "quarterly", "yearly"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("monthly", "quarterly", "yearly")

_PATTERNS = {
    "monthly": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarterly": re.compile(r"^(\d{4})-Q([1-4])$"),
    "yearly": re.compile(r"^(\d{4})$"),
}
_EXAMPLES = {"monthly": "2026-03", "quarterly": "2026-Q1", "yearly": "2026"}


class PeriodError(Said, ValueError):
    """A period label that does not parse; the message shows the expected shape."""


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    year: int
    index: int  # month 1-12, quarter 1-4, or 1 for a year
    tz: str = "Asia/Shanghai"

    @classmethod
    def parse(cls, kind: str, label: str, tz: str = "Asia/Shanghai") -> Period:
        if kind not in _PATTERNS:
            raise PeriodError.said("report_kind", kind=kind, allowed=", ".join(PERIOD_KINDS))
        m = _PATTERNS[kind].match(label.strip())
        if not m:
            raise PeriodError.said("period_format", kind=Ref("admin", kind), example=_EXAMPLES[kind], label=label)
        year = int(m.group(1))
        index = int(m.group(2)) if kind != "yearly" else 1
        if kind == "monthly" and not 1 <= index <= 12:
            raise PeriodError.said("period_month", label=label)
        return cls(kind, year, index, tz)  # type: ignore[arg-type]

    @classmethod
    def containing(cls, kind: PeriodKind, moment: datetime, tz: str = "Asia/Shanghai") -> Period:
        local = moment.astimezone(ZoneInfo(tz))
        index = {"monthly": local.month, "quarterly": (local.month - 1) // 3 + 1, "yearly": 1}[kind]
        return cls(kind, local.year, index, tz)

    @property
    def label(self) -> str:
        if self.kind == "monthly":
            return f"{self.year}-{self.index:02d}"
        if self.kind == "quarterly":
            return f"{self.year}-Q{self.index}"
        return str(self.year)

    @property
    def label_zh(self) -> str:
        if self.kind == "monthly":
            return f"{self.year}年{self.index}月"
        if self.kind == "quarterly":
            return f"{self.year}年第{self.index}季度"
        return f"{self.year}年"

    def _first_month(self) -> int:
        return {"monthly": self.index, "quarterly": 3 * self.index - 2, "yearly": 1}[self.kind]

    def _months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "yearly": 12}[self.kind]

    @property
    def start(self) -> datetime:
        """Local midnight at the first day, as an aware datetime in the report's zone."""
        return datetime(self.year, self._first_month(), 1, tzinfo=ZoneInfo(self.tz))

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight at the first day of the next period."""
        months = self._first_month() - 1 + self._months()
        return datetime(self.year + months // 12, months % 12 + 1, 1, tzinfo=ZoneInfo(self.tz))

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(timezone.utc)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(timezone.utc)

    def previous(self) -> Period:
        if self.kind == "yearly":
            return Period("yearly", self.year - 1, 1, self.tz)
        count = 12 if self.kind == "monthly" else 4
        if self.index == 1:
            return Period(self.kind, self.year - 1, count, self.tz)
        return Period(self.kind, self.year, self.index - 1, self.tz)

    def contains(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return self.start <= moment < self.end
