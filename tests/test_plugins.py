"""The plugin host: factory order, enable/disable, config validation, isolation, provenance."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel

from kesu.effects import AddTags, InternalNote
from kesu.models import EventKind, Priority, TicketEvent
from plugins import hookimpl
from plugins.manager import PluginConfigError, PluginHost, build_plugin_manager, list_plugins

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
EXAMPLE_PLUGIN = Path(__file__).parent / "example_plugin"


@pytest.fixture
def pm():
    return build_plugin_manager(load_entrypoints=False)


def event(ticket, kind=EventKind.created):
    return TicketEvent(kind=kind, ref=ticket.ref, received_at=NOW)


def test_builtins_registered_in_order(pm):
    from plugins.manager import BUILTIN_PLUGINS

    names = [name for name, _ in pm.list_name_plugin()]
    canonical = ["zammad", "odoo", "facts", "severity", "routing", "deadlines", "escalation", "penalties",
                 "followups", "compensation", "notifiers"]
    assert names == list(BUILTIN_PLUGINS) and names[:1] == ["zammad"] and "severity" in names
    assert names == [n for n in canonical if n in names], "built-ins must keep the policy order"
    infos = {i.name: i for i in list_plugins(pm)}
    assert infos["severity"].enabled and "kesu_evaluate" in infos["severity"].hooks


def test_disabled_plugin_is_listed_but_gives_no_effects(make_ticket):
    pm = build_plugin_manager(["severity"], load_entrypoints=False)
    infos = {i.name: i for i in list_plugins(pm)}
    assert infos["severity"].enabled is False
    host = PluginHost(pm, {"severity": {"scheme": "food"}}, ["severity"])
    ticket = make_ticket()
    assert [e for e in host.evaluate(event(ticket), ticket, {}, NOW).effects if e.source == "severity"] == []


def test_essential_connector_cannot_be_disabled():
    with pytest.raises(PluginConfigError, match="zammad cannot be disabled"):
        build_plugin_manager(["zammad"], load_entrypoints=False)


def test_config_errors_name_the_key_and_allowed_values(pm):
    with pytest.raises(PluginConfigError) as err:
        PluginHost(pm, {"severity": {"scheme": "banking"}})
    assert "[policies.severity]" in str(err.value) and "scheme" in str(err.value)
    assert "'food'" in str(err.value) and "banking" in str(err.value)
    with pytest.raises(PluginConfigError, match=r"\[policies.nosuch\]: no such plugin"):
        PluginHost(pm, {"nosuch": {}})
    with pytest.raises(PluginConfigError, match="unknown connector 'freshdesk'; allowed: odoo, zammad"):
        PluginHost(pm).connector_class("freshdesk")


def test_severity_tier_a_from_keywords(pm, make_ticket):
    host = PluginHost(pm)
    ticket = make_ticket()
    effects = host.evaluate(event(ticket), ticket, {}, NOW).effects
    prio = next(e for e in effects if e.type == "set_priority")
    assert prio.priority is Priority.urgent and prio.rule_id == "R-TIER-1.9.1-A"
    assert prio.source == "severity"


def test_broken_plugin_does_not_stop_others_and_is_recorded(pm, make_ticket):
    class Broken:
        @hookimpl
        def kesu_evaluate(self, ticket):
            raise RuntimeError("boom")

    class Tagger:
        @hookimpl
        def kesu_evaluate(self, ticket, now):
            # A plugin may claim any source; the host stamps the real one.
            return [AddTags(rule_id="R-ESC-6.32", tags=("t",), source="severity")]

    pm.register(Broken(), name="broken")
    pm.register(Tagger(), name="tagger")
    host = PluginHost(pm)
    ticket = make_ticket()
    result = host.evaluate(event(ticket), ticket, {}, NOW)
    assert [f.plugin for f in result.failures] == ["broken"]
    assert "boom" in result.failures[0].error
    tagger = [e for e in result.effects if e.type == "add_tags" and e.rule_id == "R-ESC-6.32"]
    assert tagger and tagger[0].source == "tagger"
    assert any(e.source == "severity" for e in result.effects)


def test_stamping_copies_the_effect_like_model_copy():
    from pydantic import ConfigDict

    from kesu.effects import RecordComplaint, ScheduleTimer
    from plugins.manager import _stamp

    class Loose(AddTags):  # a plugin's own effect type with extra keys
        model_config = ConfigDict(frozen=True, extra="allow")

    effects = [AddTags(rule_id="R-ESC-6.32", tags=("t",), source="severity"),
               InternalNote(rule_id="R-ESC-6.32", text="说明", reason="x"),
               RecordComplaint(rule_id="R-REC-4.15", values={"batch": "1"}),
               ScheduleTimer(rule_id="R-SLA-6.16", key="k", due_at=NOW, payload={"a": 1}),
               Loose(rule_id="R-ESC-6.32", tags=("t",), note="extra")]
    for effect in effects:
        before = (dict(effect.__dict__), set(effect.model_fields_set))
        stamped, expected = _stamp(effect, "tagger"), effect.model_copy(update={"source": "tagger"})
        assert type(stamped) is type(effect) and stamped is not effect
        assert stamped.source == "tagger" and stamped == expected
        assert stamped.model_fields_set == expected.model_fields_set
        assert stamped.model_dump() == expected.model_dump() and stamped.__pydantic_extra__ == expected.__pydantic_extra__
        assert (dict(effect.__dict__), set(effect.model_fields_set)) == before  # the plugin's own is untouched
    # An effect that already names its plugin is the same as its copy would be: kept as it is.
    named = AddTags(rule_id="R-ESC-6.32", tags=("t",), source="tagger")
    assert _stamp(named, "tagger") is named and _stamp(named, "other").source == "other"


def test_plugin_gets_its_own_config_and_state(pm, make_ticket):
    class Cfg(BaseModel):
        word: str = "默认"

    seen = {}

    class Configured:
        @hookimpl
        def kesu_policy_config(self):
            return Cfg

        @hookimpl
        def kesu_evaluate(self, config, state):
            seen["config"], seen["state"] = config, dict(state)
            return [InternalNote(rule_id="R-REC-6.15", text=config.word)]

    pm.register(Configured(), name="configured")
    host = PluginHost(pm, {"configured": {"word": "你好"}})
    ticket = make_ticket()
    host.evaluate(event(ticket), ticket, {"configured": {"n": 1}, "severity": {"tier": "A"}}, NOW)
    assert seen["config"].word == "你好" and seen["state"] == {"n": 1}


def test_third_party_plugin_installed_through_entry_point(tmp_path, make_ticket, monkeypatch):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE_PLUGIN)],
        check=True, capture_output=True,
    )
    monkeypatch.syspath_prepend(str(target))
    pm = build_plugin_manager()
    infos = {i.name: i for i in list_plugins(pm)}
    assert infos["example"].enabled and infos["example"].version == "0.3.0"
    assert not infos["example"].builtin
    host = PluginHost(pm, {"example": {"tag": "来自示例插件"}})
    ticket = make_ticket()
    effects = host.evaluate(event(ticket), ticket, {}, NOW).effects
    assert any(e.source == "example" and "来自示例插件" in getattr(e, "tags", ()) for e in effects)
    # Disabled through the config: loaded no more, still listed.
    pm2 = build_plugin_manager(["example"])
    assert pm2.get_plugin("example") is None
    assert {i.name: i for i in list_plugins(pm2)}["example"].enabled is False


def test_kesu_register_connectors_picks_by_identifier_and_refuses_duplicates(pm):
    from connector.zammad.connector import ZammadConnector

    class Other(ZammadConnector):
        identifier = "otherdesk"

    class Provides:
        @hookimpl
        def kesu_register_connectors(self):
            return [Other]

    pm.register(Provides(), name="provides")
    host = PluginHost(pm)
    assert host.connector_class("otherdesk") is Other
    assert host.connector_class("zammad") is ZammadConnector

    class Clash(ZammadConnector):
        identifier = "otherdesk"

    class ProvidesClash:
        @hookimpl
        def kesu_register_connectors(self):
            return [Clash]

    pm.register(ProvidesClash(), name="clash")
    with pytest.raises(PluginConfigError, match="two connectors claim identifier 'otherdesk'"):
        host.connector_class("otherdesk")


def test_kesu_register_commands_adds_a_cli_command(pm):
    import typer
    from typer.testing import CliRunner

    class Commands:
        @hookimpl
        def kesu_register_commands(self, cli):
            @cli.command()
            def hello() -> None:
                """Say hello."""
                print("你好 from a plugin")

    pm.register(Commands(), name="commands")
    cli = typer.Typer()

    @cli.command()
    def version() -> None:
        print("0")

    pm.hook.kesu_register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["hello"])
    assert result.exit_code == 0 and "你好 from a plugin" in result.output


def test_builtin_policies_name_themselves_in_their_effects():
    """Each built-in policy's SOURCE is its registered name, so the host keeps its effects as they are."""
    import importlib

    from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS

    for name, module in BUILTIN_PLUGINS.items():
        if name not in ESSENTIAL_PLUGINS:
            assert importlib.import_module(module).SOURCE == name
