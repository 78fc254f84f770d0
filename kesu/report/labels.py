"""Labels for stored values (tier codes, channels, rule IDs, causes) shown in reports.

Causes, categories, tiers and units come from the enabled policies, kesu's own words (tiers,
channels, deadline and escalation names, ledger kinds, outcomes) from the gettext catalogue
(:mod:`kesu.i18n`); :class:`Catalogue` is :class:`kesu.i18n.labels.Labels` with the report's
ordering of tiers, so a report never shows a raw key such as ``mould``.
"""

from __future__ import annotations

from kesu import i18n
from kesu.i18n.labels import Labels

UNSET = i18n.unset("zh")

MAJOR_TIERS = frozenset({"A", "major"})


def tier(key: str, lang: str = "zh") -> str:
    return i18n.label("tier", key, lang) if key else i18n.unset(lang)


def channel(key: str, lang: str = "zh") -> str:
    return i18n.label("channel", key, lang) if key else i18n.unset(lang)


def plain(key: str, lang: str = "zh") -> str:
    return key or i18n.unset(lang)


class Catalogue(Labels):
    """What a report shows for a stored key: the label the enabled policies give it.

    Causes and categories are keys of ``[policies.facts.causes]`` / ``[policies.facts.categories]``
    (``mould`` -> "发霉、长毛"), tiers keys of ``[policies.severity.tiers]`` (the profile's own names,
    "重大投诉件" for an insurer), units keys of ``[policies.routing.units]`` (a ``label`` when one is
    configured); in English their ``label_en``. A value no policy names is shown as it was stored
    (a person typed it: "漏包").
    """

    def tier_order(self) -> list[str]:
        own = self.configured("tiers")
        return [*own, *(k for k in i18n.keys("tier") if k not in own)]
