"""What people read for a stored value, in Chinese or English: never kesu's internal key.

Two sources, one answer:

* **Profile data** -- causes, categories and flags (``[policies.facts.causes.<key>]``), tiers
  (``[policies.severity.tiers.<key>]``) and units (``[policies.routing.units.<name>]``) carry a
  Chinese ``label`` and an optional English ``label_en``; the running configuration first, then the
  built-in profiles (a record written under another profile still reads well).
* **kesu's own words** -- tiers, channels, flags, outcomes, states, ledger kinds and statuses,
  deadline and escalation names ... -- from the gettext catalogue (:mod:`kesu.i18n`).

:class:`Labels` answers both for one language; reports, the admin page, ``kesu complaints`` and
the group bots use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from kesu import i18n

#: the profile tables that name stored keys: (section, table) -> our name
TABLES = {("facts", "causes"): "causes", ("facts", "categories"): "categories", ("facts", "flags"): "flags",
          ("severity", "tiers"): "tiers", ("routing", "units"): "units"}

Named = dict[str, dict[str, tuple[str, str]]]  # table -> key -> (label, label_en)


def _named(sections: Mapping[str, Any]) -> Named:
    out: Named = {t: {} for t in TABLES.values()}
    for (section, table), name in TABLES.items():
        container = sections.get(section)
        rules = container.get(table) if isinstance(container, Mapping) else getattr(container, table, None)
        if not isinstance(rules, Mapping):
            continue
        for key, rule in rules.items():
            if isinstance(rule, Mapping):
                label, label_en = str(rule.get("label") or ""), str(rule.get("label_en") or "")
            else:  # a validated plugin config (pydantic model)
                label, label_en = str(getattr(rule, "label", "") or ""), str(getattr(rule, "label_en", "") or "")
            if label or label_en:
                out[name][str(key)] = (label, label_en)
    return out


def profile_sections(profile: str, sections: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A built-in profile's ``[policies.*]`` with a deployment's sections on top."""
    from policies import profiles

    sections = sections or {}
    try:
        defaults = profiles.load(profile)
    except profiles.UnknownProfile:
        defaults = {}
    return {name: profiles.merge(defaults.get(name, {}), sections.get(name) or {})
            for name in ("facts", "severity", "routing")}


@lru_cache(maxsize=1)
def builtin() -> Named:
    """The labels of every built-in profile (the first profile naming a key wins)."""
    from policies import profiles

    out: Named = {t: {} for t in TABLES.values()}
    for name in profiles.PROFILES:
        for table, named in _named(profiles.load(name)).items():
            for key, pair in named.items():
                out[table].setdefault(key, pair)
    return out


def internal_keys() -> dict[str, set[str]]:
    """Every internal key a person must never read as such: profile keys (causes, categories,
    flags, tiers) and kesu's own (outcomes, states, follow-up states, channels, ledger kinds and
    statuses). Units are not here: their keys are the names people call them (生产班组)."""
    known = builtin()
    return {"causes": set(known["causes"]), "categories": set(known["categories"]),
            "flags": set(known["flags"]) | set(i18n.keys("flag")), "tiers": set(known["tiers"]) | set(i18n.keys("tier")),
            "outcomes": set(i18n.keys("outcome")), "states": set(i18n.keys("state")),
            "followups": set(i18n.keys("followup")), "channels": {"consumer", "channel"},
            "kinds": set(i18n.keys("ledger_kind")), "statuses": set(i18n.keys("ledger_status"))}


@lru_cache(maxsize=8)
def _declared(profile: str | None) -> dict[str, Any]:
    """The ticket fields a built-in profile's policies name (every profile's when ``None``)."""
    from policies import profiles

    out: dict[str, Any] = {}
    for name in [profile] if profile else profiles.PROFILES:
        out.update({k: v for k, v in declared_fields(name, {}).items() if k not in out})
    return out


def declared_fields(profile: str, sections: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{field name: TicketField}`` the enabled built-in policies name under this configuration."""
    from plugins.manager import PluginHost, build_plugin_manager

    try:
        host = PluginHost(build_plugin_manager([], load_entrypoints=False), sections or {}, (), profile)
        return {f.name: f for f in host.ticket_fields()}
    except Exception:  # noqa: BLE001 -- an invalid configuration is reported by kesu doctor, not here
        return {}


class Labels:
    """Labels in one language (``zh`` or ``en``): a configuration's own profile labels first."""

    def __init__(self, sections: Mapping[str, Any] | None = None, lang: str = "zh",
                 profile: str | None = None) -> None:
        self.lang = i18n.lang_of(lang)
        self.own = _named(sections or {})
        self.profile = profile
        self._sections = sections
        self._fields: dict[str, Any] | None = None

    @classmethod
    def from_policies(cls, profile: str, sections: Mapping[str, Any] | None = None, lang: str = "zh") -> Labels:
        """The labels of ``profile`` with a deployment's ``[policies.*]`` sections on top."""
        labels = cls(profile_sections(profile, sections), lang, profile)
        labels._sections = sections
        return labels

    @classmethod
    def from_settings(cls, settings: Any, lang: str | None = None) -> Labels:
        return cls.from_policies(settings.profile, settings.policies, lang or "zh")

    def in_lang(self, lang: str) -> Labels:
        """The same labels in another language."""
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        other.lang = i18n.lang_of(lang)
        return other

    # -- building blocks ---------------------------------------------------------------------------

    def word(self, context: str, key: Any, default: str | None = None) -> str:
        """kesu's own word ``key`` of ``context`` (the key itself if the catalogue has none)."""
        return i18n.label(context, key, self.lang, default)

    def unset(self) -> str:
        return i18n.unset(self.lang)

    def _profile(self, table: str, key: str, *, others: bool = True) -> str | None:
        """The configuration's label of ``key``, else (``others``) a built-in profile's."""
        pair = self.own[table].get(key) or (builtin()[table].get(key) if others else None)
        if pair is None:
            return None
        zh, en = pair
        return (en or zh) if self.lang == "en" else (zh or en)

    def table(self, table: str) -> dict[str, str]:
        """``{key: label}`` of one of the configuration's own tables (causes, categories, flags,
        tiers, units) in this language."""
        return {k: self._profile(table, k) or k for k in self.own[table]}

    @property
    def causes(self) -> dict[str, str]:
        return self.table("causes")

    @property
    def categories(self) -> dict[str, str]:
        return self.table("categories")

    @property
    def tiers(self) -> dict[str, str]:
        return self.table("tiers")

    @property
    def units_named(self) -> dict[str, str]:
        return self.table("units")

    def configured(self, table: str) -> list[str]:
        """The keys the configuration itself names in ``table`` (its order)."""
        return list(self.own[table])

    def join(self, values: Iterable[str]) -> str:
        return ("、" if self.lang == "zh" else ", ").join(values)

    # -- helpdesk fields ----------------------------------------------------------------------------

    def _field_table(self) -> dict[str, Any]:
        if self._fields is None:
            own = declared_fields(self.profile, self._sections) if self.profile and self._sections else {}
            self._fields = {**_declared(self.profile), **own}
        return self._fields

    def field(self, name: str) -> str:
        """A helpdesk ticket field by its display name (complaint_cause -> 投诉原因)."""
        found = self._field_table().get(name)
        return found.shown(self.lang) if found is not None else self.word("helpdesk_field", name)

    def field_value(self, name: str, value: Any) -> str:
        """A value written to a helpdesk field, by its option's label (A -> A类（重大）)."""
        if value is None or value == "":
            return self.unset()
        if isinstance(value, (list, tuple)):
            return self.join(self.field_value(name, v) for v in value)
        found = self._field_table().get(name)
        for option in getattr(found, "options", ()) or ():
            if option.value == str(value):
                return option.shown(self.lang)
        if isinstance(value, bool):
            return self.yes_no(value)
        return str(value)

    # -- stored values -----------------------------------------------------------------------------

    def tier(self, key: str | None) -> str:
        if not key:
            return self.unset()
        found = self._profile("tiers", key, others=False)
        if found:
            return found
        return self.word("tier", key) if i18n.has("tier", key) else (self._profile("tiers", key) or key)

    def cause(self, key: str | None) -> str:
        if not key:
            return self.unset()
        return self._profile("causes", key) or self._profile("categories", key) or key

    def category(self, key: str | None) -> str:
        """Main causes group by category, else by cause (a key of either table)."""
        if not key:
            return self.unset()
        return self._profile("categories", key) or self._profile("causes", key) or key

    def flag(self, name: str) -> str:
        return self._profile("flags", name) or self.word("flag", name)

    def unit(self, name: str | None) -> str:
        if not name:
            return self.unset()
        return self._profile("units", name) or name  # units are named as people call them (生产班组)

    def units(self, names: Any) -> str:
        return self.join(self.unit(str(n)) for n in names or []) or self.unset()

    def channel(self, key: str | None) -> str:
        return self.word("channel", key) if key else self.unset()

    def outcome(self, key: str | None) -> str:
        return self.word("outcome", key) if key else self.unset()

    def state(self, key: str) -> str:
        return self.word("state", key)

    def followup(self, key: str) -> str:
        return self.word("followup", key)

    def validity(self, value: Any) -> str:
        if value in (1, True, "valid"):
            return self.word("validity", "valid")
        if value in (0, False, "invalid"):
            return self.word("validity", "invalid")
        return self.unset()

    def yes_no(self, value: Any) -> str:
        return self.word("common", "yes" if value in (1, True) else "no")

    def kind(self, key: str) -> str:
        return self.word("ledger_kind", key)

    def status(self, key: str) -> str:
        return self.word("ledger_status", key)

    def deadline_name(self, rule_id: str) -> str:
        """The name of a deadline rule (``R-SLA-6.18-major`` -> 重大投诉办结), else the rule ID."""
        return self.word("deadline", rule_id.split(":")[0], rule_id)

    def escalation(self, rule_id: str) -> str:
        return self.word("escalation", rule_id, rule_id or self.unset())

    def marker(self, key: str) -> str:
        return self.word("marker", key)

    def fact_name(self, field: str) -> str:
        return self.word("fact", field)

    def effect(self, kind: str, effect_type: str | None) -> str:
        if kind == "decision" and effect_type and i18n.has("effect", effect_type):
            return self.word("effect", effect_type)
        return self.word("trail", kind)

    def fact_value(self, field: str, value: Any) -> str:
        """A record value as people read it."""
        if field == "tier":
            return self.tier(value)
        if field == "cause":
            return self.cause(value)
        if field == "category":
            return self.category(value)
        if field == "channel":
            return self.channel(value)
        if field == "units":
            return self.units(value)
        if field == "valid":
            return self.validity(value)
        if field == "followup_outcome":
            return self.outcome(value)
        if field == "flags":
            return self.join(self.flag(str(n)) for n in value or []) or self.unset()
        if field == "loss_amount" and isinstance(value, (int, float)):
            return f"{value:g}"
        return self.unset() if value in (None, "") else str(value)
