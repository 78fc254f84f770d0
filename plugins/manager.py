"""Building the plugin manager and running hooks with isolation and provenance.

Order (never at import time): add specs -> block disabled -> register built-ins -> load entry
points (group ``kesu``) -> ``check_pending()``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from types import MappingProxyType
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

import kesu
from connector.base import Connector
from kesu.effects import BaseEffect, Effect, RecordComplaint, effect_adapter
from kesu.facts import Facts, merge_facts
from kesu.history import EmptyHistory, History
from kesu.models import Ticket, TicketEvent
from kesu.ticket_fields import FieldConflict, TicketField, merge_fields
from plugins import hookspecs
from plugins.plan import merge_record
from policies import profiles
from policies.profiles import DEFAULT_PROFILE

log = logging.getLogger(__name__)


#: Built-in plugins, in the order they are registered (which is also the precedence order used
#: when two plugins set the same single-valued field, see plugins.plan).
BUILTIN_PLUGINS: dict[str, str] = {
    "zammad": "connector.zammad.plugin",
    "odoo": "connector.odoo.plugin",
    "facts": "policies.facts",
    "severity": "policies.severity",
    "routing": "policies.routing",
    "deadlines": "policies.deadlines",
    "escalation": "policies.escalation",
    "penalties": "policies.penalties",
    "followups": "policies.followups",
    "compensation": "policies.compensation",
    "notifiers": "kesu.notifiers.plugin",  # group bots (WeCom, DingTalk, Feishu); delivers nothing unconfigured
}
#: Plugins that cannot be disabled (pytest's "essential_plugins"): without a connector, kesu
#: cannot talk to any helpdesk.
ESSENTIAL_PLUGINS = frozenset({"zammad", "odoo"})


class PluginConfigError(ValueError):
    """A ``[policies.<name>]`` or ``[plugins]`` setting is invalid; the message names the key."""


def build_plugin_manager(
    disabled: Iterable[str] = (), *, load_entrypoints: bool = True
) -> pluggy.PluginManager:
    """A fresh plugin manager with built-ins and installed plugins, minus ``disabled``."""
    disabled = set(disabled)
    refused = disabled & ESSENTIAL_PLUGINS
    if refused:
        raise PluginConfigError(
            f"[plugins] disabled: {', '.join(sorted(refused))} cannot be disabled "
            f"(essential: {', '.join(sorted(ESSENTIAL_PLUGINS))})"
        )
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    for name, module_name in BUILTIN_PLUGINS.items():
        if not pm.is_blocked(name):
            pm.register(importlib.import_module(module_name), name=name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    pm.check_pending()
    return pm


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    enabled: bool
    builtin: bool
    essential: bool


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=hookspecs.PROJECT)}


def list_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every known plugin, enabled or not: built-ins first, then installed ones by name."""
    versions: dict[str, str] = {}
    for plugin, dist in pm.list_plugin_distinfo():
        name = pm.get_name(plugin)
        if name is not None:
            versions[name] = dist.version
    eps = _entry_points()
    infos: list[PluginInfo] = []
    names = list(BUILTIN_PLUGINS) + sorted(set(eps) - set(BUILTIN_PLUGINS))
    for name in names:
        plugin = pm.get_plugin(name)
        hooks: tuple[str, ...] = ()
        if plugin is not None:
            hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        version = versions.get(name)
        if version is None:
            version = kesu.__version__ if name in BUILTIN_PLUGINS else _ep_version(eps.get(name))
        infos.append(
            PluginInfo(
                name=name,
                version=version,
                hooks=hooks,
                enabled=plugin is not None,
                builtin=name in BUILTIN_PLUGINS,
                essential=name in ESSENTIAL_PLUGINS,
            )
        )
    return infos


def _ep_version(ep: metadata.EntryPoint | None) -> str:
    if ep is not None and ep.dist is not None:
        return ep.dist.version
    return "?"


def known_plugin_names() -> set[str]:
    return set(BUILTIN_PLUGINS) | set(_entry_points())


@dataclass
class PluginFailure:
    plugin: str
    hook: str
    error: str


@dataclass
class Evaluation:
    effects: list[Effect] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)
    record: dict[str, Any] = field(default_factory=dict)  # the complaint record after this event


class PluginHost:
    """The plugin manager plus each plugin's validated configuration.

    ``evaluate`` calls every ``kesu_evaluate`` implementation on its own, so one broken plugin
    never stops the others, and stamps each effect with the plugin that returned it.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        policy_sections: Mapping[str, Mapping[str, Any]] | None = None,
        disabled: Iterable[str] = (),
        profile: str = DEFAULT_PROFILE,
    ) -> None:
        self.pm = pm
        self.profile = profile
        self.configs = _validate_configs(pm, policy_sections or {}, set(disabled), profile)
        # Registration order is precedence order for single-valued conflicts and facts.
        self.precedence = {name: i for i, (name, _) in enumerate(pm.list_name_plugin())}
        # kesu calls policies in registration order (not pluggy's LIFO): classification
        # (severity, routing) runs before its consequences (deadlines, penalties ...), which see
        # the complaint record as updated by the plugins before them.
        order = lambda i: self.precedence.get(i.plugin_name, 1 << 30)  # noqa: E731
        self._impls = [
            (impl.plugin_name, impl.function, tuple(impl.argnames))
            for impl in sorted(pm.hook.kesu_evaluate.get_hookimpls(), key=order)
        ]
        self._fact_impls = [
            (impl.plugin_name, impl.function, tuple(impl.argnames))
            for impl in sorted(pm.hook.kesu_extract_facts.get_hookimpls(), key=order)
        ]

    def warm_up(self) -> None:
        """Read one empty ticket once, so that what the plugins load on first use (the fact
        reader's lexicon and automata, number parsing) is loaded at start, not inside the first
        event's claim."""
        from datetime import timezone

        from kesu.models import Article, TicketRef

        now = datetime.now(timezone.utc)
        probe = Ticket(ref=TicketRef(helpdesk="warm-up", id="0"), number="0", title="启动",
                       articles=[Article(id="0", body="两万三千元", sender="Customer", type="web")],
                       tags=[], fields={}, created_at=now, updated_at=now)
        self.extract_facts(probe)

    def extract_facts(self, ticket: Ticket) -> tuple[Facts, list[PluginFailure]]:
        parts: list[Mapping[str, Any]] = []
        failures: list[PluginFailure] = []
        for name, function, argnames in self._fact_impls:
            kwargs = {"ticket": ticket, "config": self.configs.get(name)}
            try:
                part = function(**{k: kwargs[k] for k in argnames})
                if part:
                    parts.append(part)
            except Exception as exc:  # noqa: BLE001 -- isolation, recorded like evaluate's
                log.exception("plugin %s failed in kesu_extract_facts", name)
                failures.append(PluginFailure(name, "kesu_extract_facts", f"{type(exc).__name__}: {exc}"))
        try:
            return merge_facts(parts), failures
        except ValidationError as exc:
            failures.append(PluginFailure("facts", "kesu_extract_facts", f"invalid facts: {exc}"))
            return Facts(), failures

    def evaluate(
        self,
        event: TicketEvent,
        ticket: Ticket,
        states: Mapping[str, Mapping[str, Any]],
        now: datetime,
        *,
        history: History | None = None,
        record: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        facts, failures = self.extract_facts(ticket)
        result = Evaluation(failures=failures, facts=facts)
        history = history if history is not None else EmptyHistory()
        working = dict(record or {})
        # What plugins may ask for; ``state`` and ``config`` are each plugin's own.
        kwargs: dict[str, Any] = {"event": event, "ticket": ticket, "now": now, "facts": facts,
                                  "history": history, "record": MappingProxyType(working)}
        configs = self.configs
        for name, function, argnames in self._impls:
            kwargs["state"] = states.get(name, {})
            kwargs["config"] = configs.get(name)
            try:
                returned = function(**{k: kwargs[k] for k in argnames})
                stamped = [_stamp(effect, name) for effect in returned or ()]
            except Exception as exc:  # noqa: BLE001 -- isolation is the point; it is recorded
                log.exception("plugin %s failed in kesu_evaluate", name)
                result.failures.append(PluginFailure(name, "kesu_evaluate", f"{type(exc).__name__}: {exc}"))
                continue
            result.effects.extend(stamped)
            for effect in stamped:
                if isinstance(effect, RecordComplaint):
                    merge_record(working, effect.values)
        result.record = working
        return result

    def ticket_fields(self) -> list[TicketField]:
        """The ticket fields the enabled plugins' configurations name (``kesu_ticket_fields``),
        merged in registration order (the facts plugin's labels first)."""
        declared: list[TicketField] = []
        order = lambda i: self.precedence.get(i.plugin_name, 1 << 30)  # noqa: E731
        for impl in sorted(self.pm.hook.kesu_ticket_fields.get_hookimpls(), key=order):
            kwargs = {"config": self.configs.get(impl.plugin_name)}
            for item in impl.function(**{k: kwargs[k] for k in impl.argnames}) or ():
                if not isinstance(item, TicketField):
                    raise PluginConfigError(f"plugin {impl.plugin_name!r}: kesu_ticket_fields returned "
                                            f"{type(item).__name__}, not a TicketField")
                declared.append(item)
        try:
            return merge_fields(declared)
        except FieldConflict as exc:
            raise PluginConfigError(str(exc)) from None

    def connector_class(self, kind: str) -> type[Connector]:
        classes: dict[str, type[Connector]] = {}
        for impl in self.pm.hook.kesu_register_connectors.get_hookimpls():
            for cls in impl.function() or ():
                if cls.identifier in classes and classes[cls.identifier] is not cls:
                    raise PluginConfigError(f"two connectors claim identifier {cls.identifier!r}")
                classes[cls.identifier] = cls
        try:
            return classes[kind]
        except KeyError:
            raise PluginConfigError(
                f"[helpdesk] kind: unknown connector {kind!r}; allowed: {', '.join(sorted(classes))}"
            ) from None

    def notify(self, ticket: Ticket, notifications: Iterable[Any], now: datetime) -> list[PluginFailure]:
        failures = []
        impls = list(reversed(self.pm.hook.kesu_notify.get_hookimpls()))
        for notification in notifications:
            for impl in impls:
                try:
                    impl.function(**{k: v for k, v in {"ticket": ticket, "notification": notification,
                                                         "now": now}.items() if k in impl.argnames})
                except Exception as exc:  # noqa: BLE001 -- delivery outside the helpdesk is best effort
                    log.exception("plugin %s failed in kesu_notify", impl.plugin_name)
                    failures.append(PluginFailure(impl.plugin_name, "kesu_notify", repr(exc)))
        return failures

    def notify_applied(self, ticket: Ticket, plan: Any, calls: int) -> list[PluginFailure]:
        failures = []
        for impl in reversed(self.pm.hook.kesu_plan_applied.get_hookimpls()):
            kwargs = {"ticket": ticket, "plan": plan, "calls": calls}
            try:
                impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as exc:  # noqa: BLE001 -- observers must not break writes
                log.exception("plugin %s failed in kesu_plan_applied", impl.plugin_name)
                failures.append(PluginFailure(impl.plugin_name, "kesu_plan_applied", repr(exc)))
        return failures


_object_setattr = object.__setattr__
_new = object.__new__
_SOURCE = frozenset({"source"})


def _stamp(effect: Any, source: str) -> Effect:
    """``effect`` with ``source`` set, whatever the plugin put there: a copy, or the effect itself
    when it already names ``source`` (a copy would be identical: effects are frozen)."""
    if isinstance(effect, BaseEffect):
        if effect.__pydantic_extra__ is None and getattr(effect, "__pydantic_private__", None) is None:
            if effect.__dict__.get("source") == source and "source" in effect.__pydantic_fields_set__:
                return effect  # type: ignore[return-value]
            # effect.model_copy(update={"source": source}) without pydantic's generic copying.
            stamped = _new(type(effect))
            _object_setattr(stamped, "__dict__", {**effect.__dict__, "source": source})
            _object_setattr(stamped, "__pydantic_extra__", None)
            _object_setattr(stamped, "__pydantic_fields_set__", effect.__pydantic_fields_set__ | _SOURCE)
            _object_setattr(stamped, "__pydantic_private__", None)
            return stamped  # type: ignore[return-value]
        return effect.model_copy(update={"source": source})  # type: ignore[return-value]
    # Plugins may return plain dicts; validate them like any other effect.
    return effect_adapter.validate_python({**effect, "source": source})


def _validate_configs(
    pm: pluggy.PluginManager,
    sections: Mapping[str, Mapping[str, Any]],
    disabled: set[str],
    profile: str,
) -> dict[str, BaseModel]:
    try:
        defaults = profiles.load(profile)
    except profiles.UnknownProfile as exc:
        raise PluginConfigError(f"[policies] profile: {exc}") from None
    models: dict[str, type[BaseModel]] = {}
    for impl in pm.hook.kesu_policy_config.get_hookimpls():
        model = impl.function()
        if model is not None:
            models[impl.plugin_name] = model
    known = known_plugin_names()
    for name in sections:
        if name not in models and name not in disabled:
            if name in known and pm.get_plugin(name) is not None:
                raise PluginConfigError(f"[policies.{name}]: plugin {name!r} takes no configuration")
            raise PluginConfigError(
                f"[policies.{name}]: no such plugin; installed: {', '.join(sorted(models)) or 'none'}"
            )
    configs: dict[str, BaseModel] = {}
    for name, model in models.items():
        try:
            data = profiles.merge(defaults.get(name, {}), sections.get(name, {}))
            configs[name] = model.model_validate(data)
        except ValidationError as exc:
            raise PluginConfigError(_explain(name, exc)) from None
    return configs


def _explain(plugin: str, exc: ValidationError) -> str:
    lines = [f"invalid configuration in [policies.{plugin}]:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(section)"
        got = redact_secrets(err.get("input"), secret=_is_secret(key.rpartition(".")[2]))
        lines.append(f"  {key}: {err['msg']} (got {got!r})")
    return "\n".join(lines)


_SECRET_WORDS = ("secret", "token", "key", "password", "webhook")


def _is_secret(name: str) -> bool:
    """``secret``, ``webhook``, ``api_key``, ``access_token`` ... (not ``keywords``)."""
    name = name.lower()
    return any(name == w or name.endswith("_" + w) for w in _SECRET_WORDS)


def redact_secrets(value: Any, *, secret: bool = False) -> Any:
    """A rejected value as shown in the error, without secrets (a bot's webhook address carries
    its key; a section that fails as a whole would show every value in it)."""
    if secret and value:
        return "[redacted]"
    if isinstance(value, Mapping):
        return {k: redact_secrets(v, secret=_is_secret(str(k))) for k, v in value.items()}
    return value
