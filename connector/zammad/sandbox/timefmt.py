"""Timestamps the way Zammad renders them: ISO 8601, UTC, millisecond precision, ``Z`` suffix.

Zammad's columns are ``timestamp(3)``, so every stored time has exactly millisecond precision and
renders like ``2025-01-22T10:46:58.255Z``. The sandbox stores times as these strings: they sort
lexicographically in chronological order, so search and ordering never need to parse them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

UTC = timezone.utc


def fmt(dt: datetime) -> str:
    """Render an aware (or naive-UTC) datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse(value: object) -> datetime | None:
    """Parse an ISO 8601 string (``Z`` or offset, optional fraction) or a datetime; None if blank.

    Raises ``ValueError`` for garbage.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        if " " in text and "T" not in text:
            text = text.replace(" ", "T", 1)
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def normalize(value: object) -> str | None:
    """Parse and re-render at millisecond precision (truncating, like the DB column)."""
    dt = parse(value)
    if dt is None:
        return None
    return fmt(dt.replace(microsecond=(dt.microsecond // 1000) * 1000))


class Clock:
    """Millisecond clock whose readings strictly increase.

    Two writes in the same millisecond would get the same ``updated_at`` in real Zammad; the
    sandbox bumps the second one by 1 ms so that tests of inclusive time bounds are unambiguous.
    ``source`` may be replaced (e.g. a frozen or fast-forwarded clock in tests).
    """

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self.source = source or (lambda: datetime.now(UTC))
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            dt = self.source()
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            dt = dt.astimezone(UTC)
            dt = dt.replace(microsecond=(dt.microsecond // 1000) * 1000)
            if self._last is not None and dt <= self._last:
                dt = self._last + timedelta(milliseconds=1)
            self._last = dt
            return dt

    def now_str(self) -> str:
        return fmt(self.now())

    def reset(self) -> None:
        """Forget the last reading: a test clock (``source``) was moved back in time."""
        with self._lock:
            self._last = None
