"""What people read for stored values in the complaints view: labels, never internal keys.

One place answers "how is this value shown" for the complaints list, the ticket page, their JSON
and ``kesu complaints``: :class:`kesu.i18n.labels.Labels` -- the enabled profile's causes,
categories, flags, tiers and units (``label`` / ``label_en``) and kesu's own words from the
gettext catalogue (:mod:`kesu.i18n`), in Chinese or English.
"""

from __future__ import annotations

from typing import Any

from kesu.i18n.labels import Labels as _Labels
from kesu.i18n.labels import internal_keys

#: The order of tiers in the view's lists (most serious first).
TIER_RANK = {"A": 0, "major": 0, "difficult": 1, "B": 1, "general": 2, "C": 2}


def profile_keys() -> dict[str, set[str]]:
    """Internal keys that must never be shown as such (the raw-key check of the tests)."""
    return internal_keys()


class Labels(_Labels):
    """The complaints view's labels of one configuration in one language."""

    @classmethod
    def for_settings(cls, settings: Any, lang: str) -> Labels:
        return cls.from_settings(settings, lang)

    def deadline(self, rule_id: str) -> str:
        """A deadline by its name and rule (重大投诉办结（R-SLA-6.18-major）)."""
        name = self.deadline_name(rule_id)
        if name == rule_id:
            return rule_id
        return f"{name}（{rule_id}）" if self.lang == "zh" else f"{name} ({rule_id})"
