"""Every ticket field a note names exists in the helpdesk after ``kesu init`` + ``kesu zammad setup``.

The fields come from the effective configuration of the enabled policies (``kesu_ticket_fields``).
Cross-checks: the field names the seed scenarios' notes cite (``字段 <name>``, notes the end-to-end
scenario tests assert kesu writes verbatim) and the fields the scenarios fill in, and the notes
kesu's policies write for tickets that lack every fact, are all declared. Then, through the CLI
against the sandbox Zammad: each declared field is a migrated ticket attribute with its options,
a second run changes nothing, ``--dry-run`` writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connector.zammad.client import ZammadClient
from connector.zammad.sandbox import SandboxZammad
from kesu.cli import app
from kesu.effects import InternalNote, ScheduleTimer, SetState
from kesu.models import Article, EventKind, Party, Ticket, TicketEvent, TicketRef
from kesu.provision import declared_fields, missing_fields
from kesu.settings import load_settings
from kesu.ticket_fields import TicketField
from plugins import hookimpl
from plugins.manager import PluginConfigError, PluginHost, build_plugin_manager
from policies import profiles
from tests.e2e.scenarios import food, insurance, realestate, retail, utility

FIELD_IN_NOTE = re.compile(r"字段 ([a-z][a-z0-9_]*)")
SCENARIOS = {"food": food, "insurance": insurance, "realestate": realestate, "retail": retail, "utility": utility}


def _host(profile: str, pm: Any = None) -> PluginHost:
    return PluginHost(pm or build_plugin_manager(load_entrypoints=False), {}, (), profile)


def _declared(profile: str) -> dict[str, TicketField]:
    return {f.name: f for f in _host(profile).ticket_fields()}


def _walk(value: Any) -> Iterator[Any]:
    """Every object inside a scenario (dataclasses, tuples, dicts)."""
    yield value
    if isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _walk(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from _walk(getattr(value, name))


# ------------------------------------------------------------------------------------------------
# the declaration


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_fields_follow_the_profile_configuration(profile: str) -> None:
    sections = profiles.load(profile)
    fields = _declared(profile)
    facts, severity = sections["facts"], sections["severity"]
    for fact, name in facts["fields"].items():
        assert (name in fields) == bool(name), (fact, name)
    tier = fields[severity["category_field"]]
    assert tier.type == "select" and set(tier.option_values()) == set(severity["tiers"])
    assert {o.label for o in tier.options} == {t["label"] for t in severity["tiers"].values()}
    validity = fields[facts["fields"]["validity"]]
    assert [(o.value, o.label) for o in validity.options] == [("valid", "有效"), ("invalid", "无效")]
    outcome = fields[facts["fields"]["followup_outcome"]]
    assert [o.label for o in outcome.options] == ["满意", "不满意", "未接通"]
    causes = facts.get("causes") or {}
    if causes:
        cause = fields[facts["fields"]["cause"]]
        assert cause.type == "select"
        assert {(o.value, o.label) for o in cause.options} >= {(k, r["label"]) for k, r in causes.items()}
    ext = sections["deadlines"]["extension"]
    assert fields[ext["extended_to"]].type == "text" and fields[ext["customer_consent"]].type == "boolean"
    assert fields[sections["escalation"]["understanding_field"]].option_values() == ("yes", "no")
    for f in fields.values():
        assert f.label and f.label_en and f.named_by, f.name
        assert f.type not in ("select", "multiselect") or f.options, f.name


def test_a_profile_without_a_field_name_declares_no_field() -> None:
    pm = build_plugin_manager(load_entrypoints=False)
    host = PluginHost(pm, {"penalties": {"person_field": ""}, "escalation": {"understanding_field": ""}}, (), "food")
    names = {f.name for f in host.ticket_fields()}
    assert "responsible_person" not in names and "customer_understanding" not in names
    assert "complaint_validity" in names
    disabled = PluginHost(build_plugin_manager(["deadlines"], load_entrypoints=False), {}, ["deadlines"], "food")
    assert "deadline_extended_to" not in {f.name for f in disabled.ticket_fields()}


class VipPlugin:
    """A third-party plugin naming one field of its own and one the facts plugin names too."""

    def __init__(self, kind: str = "select") -> None:
        self.kind = kind

    @hookimpl
    def kesu_ticket_fields(self, config: Any) -> list[TicketField]:
        from kesu.ticket_fields import FieldOption

        opts = (FieldOption(value="unknown_label", label="待定", label_en="Pending"),) if self.kind == "select" else ()
        return [TicketField(name="vip_level", type="integer", label="贵宾等级", label_en="VIP level", named_by=("vip",)),
                TicketField(name="complaint_validity", type=self.kind, label="有效性", label_en="Validity",
                            options=opts, named_by=("vip",))]


def test_plugins_declarations_are_merged_and_conflicts_named() -> None:
    pm = build_plugin_manager(load_entrypoints=False)
    pm.register(VipPlugin(), name="vip")
    fields = {f.name: f for f in _host("food", pm).ticket_fields()}
    assert fields["vip_level"].type == "integer"
    validity = fields["complaint_validity"]
    assert validity.label == "投诉有效性"  # the facts plugin's label (registered first) wins
    assert validity.option_values() == ("valid", "invalid", "unknown_label")
    assert validity.named_by == ("[policies.facts.fields] validity", "vip")
    pm = build_plugin_manager(load_entrypoints=False)
    pm.register(VipPlugin("boolean"), name="vip")
    with pytest.raises(PluginConfigError, match=r"complaint_validity.*select.*\[policies.facts.fields\] validity.*boolean"):
        _host("food", pm).ticket_fields()


def test_every_field_the_scenarios_cite_or_fill_is_declared() -> None:
    seen = 0
    for profile, module in SCENARIOS.items():
        fields = _declared(profile)
        cited: set[str] = set()
        filled: set[str] = set()
        for scenario in module.SCENARIOS:
            for item in _walk(scenario):
                if isinstance(item, str):
                    cited.update(FIELD_IN_NOTE.findall(item))
                elif type(item).__name__ in ("Create", "Update", "Close"):
                    filled.update(n for n in (getattr(item, "fields", None) or {})
                                  if n not in ("owner", "group", "state", "priority", "pending_time", "title"))
        seen += len(cited) + len(filled)
        assert cited <= set(fields), f"{profile}: notes cite undeclared fields: {sorted(cited - set(fields))}"
        assert filled <= set(fields), f"{profile}: scenarios fill undeclared fields: {sorted(filled - set(fields))}"
    assert seen >= 10, "the scan found the fields the scenarios cite and fill"


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_notes_written_for_a_ticket_without_facts_name_declared_fields(profile: str) -> None:
    """Run the policies on tickets that lack everything (no cause, tier, loss, people, owner) at
    creation, closing and after every deadline; every field a note asks for is declared."""
    host = _host(profile)
    fields = _declared(profile)
    now = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
    ticket = Ticket(ref=TicketRef(helpdesk="probe", id="1"), number="1", title="投诉", state="new",
                    articles=[Article(id="1", body="我要投诉，一直没人处理，态度很差", sender="Customer", type="web",
                                      created_at=now)],
                    tags=[], fields={}, created_at=now, updated_at=now,
                    customer=Party(id="9", name="客户", email=None, phone=None))
    cited: set[str] = set()
    states: dict[str, dict[str, Any]] = {}
    record: dict[str, Any] = {}

    def run(event: TicketEvent, t: Ticket, at: datetime) -> list[Any]:
        nonlocal record
        ev = host.evaluate(event, t, states, at, record=record)
        record = ev.record
        for e in ev.effects:
            if isinstance(e, InternalNote):
                cited.update(FIELD_IN_NOTE.findall(e.text))
            if isinstance(e, SetState):
                states.setdefault(e.source or "", {}).update(e.values)
        return [e for e in ev.effects if isinstance(e, ScheduleTimer)]

    closed = ticket.model_copy(update={"closed": True, "state": "closed"})
    for kind, t, at in ((EventKind.created, ticket, now), (EventKind.closed, closed, now + timedelta(days=2))):
        timers = run(TicketEvent(kind=kind, ref=t.ref, received_at=at), t, at)
        for timer in timers:
            fired = TicketEvent(kind=EventKind.timer_fired, ref=t.ref, received_at=timer.due_at,
                                timer_key=timer.key, timer_payload=dict(timer.payload))
            run(fired, t, timer.due_at + timedelta(seconds=1))
    assert cited, "the policies ask for fields"
    assert cited <= set(fields), f"notes cite undeclared fields: {sorted(cited - set(fields))}"


# ------------------------------------------------------------------------------------------------
# Zammad, through the CLI


@pytest.fixture
def zammad() -> Iterator[SandboxZammad]:
    with SandboxZammad() as sb:
        yield sb


def _cli(zammad: SandboxZammad, tmp_path: Path, *args: str) -> Any:
    env = {"KESU_HELPDESK__URL": zammad.url, "KESU_HELPDESK__TOKEN": zammad.token_for(zammad.bot_login),
           "KESU_HELPDESK__BOT_LOGIN": zammad.bot_login, "KESU_HELPDESK__WEBHOOK_SECRET": "s" * 24,
           "KESU_HELPDESK__WEBHOOK_BASE_URL": "http://127.0.0.1:9", "COLUMNS": "250"}
    return CliRunner().invoke(app, [*args, "--config", str(tmp_path / "kesu.toml")], env=env)


@pytest.mark.parametrize("profile", ["food", "insurance"])
def test_kesu_zammad_setup_creates_every_declared_field(zammad: SandboxZammad, tmp_path: Path, profile: str) -> None:
    init = CliRunner().invoke(app, ["init", "--profile", profile, "--path", str(tmp_path / "kesu.toml")])
    assert init.exit_code == 0, init.output
    settings = load_settings(tmp_path / "kesu.toml")
    fields = declared_fields(settings, load_entrypoints=False)
    assert fields == _host(profile).ticket_fields()

    dry = _cli(zammad, tmp_path, "zammad", "setup", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "演练，未写入" in dry.output and f"新建 {len(fields)}" in dry.output
    assert not zammad.state.webhooks and not zammad.state.objects.pending()
    assert all(f.name not in {r["name"] for r in zammad.state.objects.rows.values()} for f in fields)

    client = ZammadClient(zammad.url, zammad.token_for(zammad.bot_login))
    settings.helpdesk.url, settings.helpdesk.token = zammad.url, zammad.token_for(zammad.bot_login)  # type: ignore[assignment]
    assert {m.field.name for m in missing_fields(settings, fields=fields)} == {f.name for f in fields}

    first = _cli(zammad, tmp_path, "zammad", "setup")
    assert first.exit_code == 0, first.output
    assert f"新建 {len(fields)}，更新 0，不变 0，冲突 0；已执行数据库迁移" in first.output
    attributes = {a["name"]: a for a in client.object_attributes()}
    for f in fields:
        row = attributes[f.name]
        assert row["display"] == f.label and not row["to_create"] and not row["to_config"], f.name
        assert f.name in zammad.state.custom_attributes, f.name  # migrated: a ticket column
        if f.options:
            assert row["data_option"]["options"] == {o.value: o.label for o in f.options}, f.name
            assert row["data_type"] == f.type
    assert missing_fields(settings, fields=fields) == []

    second = _cli(zammad, tmp_path, "zammad", "setup")
    assert second.exit_code == 0, second.output
    assert f"新建 0，更新 0，不变 {len(fields)}，冲突 0" in second.output and "迁移" not in second.output
    assert {a["name"]: a for a in client.object_attributes()} == attributes

    # an admin removed an option and relabelled the field: setup puts both back
    tier = next(f for f in fields if f.name == "complaint_tier")
    row = attributes["complaint_tier"]
    opts = dict(row["data_option"]["options"])
    opts.pop(tier.options[0].value)
    client.update_object_attribute(row["id"], {**row, "display": "等级", "data_option": {**row["data_option"], "options": opts}})
    client.execute_migrations()
    assert [m.field.name for m in missing_fields(settings, fields=fields)] == ["complaint_tier"]
    third = _cli(zammad, tmp_path, "zammad", "setup")
    assert "更新     complaint_tier" in third.output and "display" in third.output, third.output
    assert missing_fields(settings, fields=fields) == []
    client.close()


def test_english_output_and_a_conflicting_type_is_left_alone(zammad: SandboxZammad, tmp_path: Path) -> None:
    CliRunner().invoke(app, ["init", "--profile", "food", "--path", str(tmp_path / "kesu.toml")])
    toml = tmp_path / "kesu.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[store]", '[notes]\nlanguage = "en"\n\n[store]', 1),
                    encoding="utf-8")
    zammad.add_custom_attribute("people_count")  # an admin's earlier text attribute
    result = _cli(zammad, tmp_path, "zammad", "setup")
    assert result.exit_code == 0, result.output
    assert "conflict (left alone) people_count (People affected) (input ≠ integer)" in result.output
    attributes = {a["name"]: a for a in ZammadClient(zammad.url, zammad.token_for(zammad.bot_login)).object_attributes()}
    assert attributes["people_count"]["data_type"] == "input"
    assert attributes["complaint_validity"]["display"] == "Complaint validity"
    assert attributes["complaint_validity"]["data_option"]["options"] == {"valid": "Valid", "invalid": "Invalid"}
