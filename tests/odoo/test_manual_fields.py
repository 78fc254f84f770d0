"""Custom fields in the sandbox Odoo (``ir.model.fields`` of state ``manual``), driven with
``odoorpc``; then ``kesu odoo setup`` through the CLI: every field a note names exists as
``x_<name>`` with its options, a second run changes nothing, ``--dry-run`` writes nothing, and the
connector reads and writes them under kesu's names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import odoorpc
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from connector.odoo.connector import OdooConnector
from connector.odoo.sandbox import SandboxOdoo
from connector.odoo.setup import missing_fields_from_settings
from connector.base import WriteSet
from kesu.cli import app
from kesu.provision import declared_fields
from kesu.settings import load_settings
from kesu.ticket_fields import convention_tags


def _odoo(sb: SandboxOdoo, login: str = "admin") -> odoorpc.ODOO:
    odoo = odoorpc.ODOO(sb.host, port=sb.port, timeout=10)
    odoo.login(sb.database, login, sb.api_key_for(login))
    return odoo


def _ticket_model_id(odoo: odoorpc.ODOO) -> int:
    return odoo.env["ir.model"].search([("model", "=", "helpdesk.ticket")])[0]


@pytest.mark.parametrize("version", [16, 17, 19])
def test_a_manual_field_becomes_a_ticket_field(make_sandbox: Callable[..., SandboxOdoo], version: int) -> None:
    sb = make_sandbox(version, "enterprise")
    odoo = _odoo(sb)
    Fields = odoo.env["ir.model.fields"]  # noqa: N806 - odoorpc model proxy
    fid = Fields.create({"name": "x_validity", "model_id": _ticket_model_id(odoo), "ttype": "selection",
                         "state": "manual", "field_description": "投诉有效性",
                         "selection_ids": [(0, 0, {"value": "valid", "name": "有效", "sequence": 1}),
                                           (0, 0, {"value": "invalid", "name": "无效", "sequence": 2})]})
    described = odoo.env["helpdesk.ticket"].fields_get(["x_validity"])["x_validity"]
    assert described["type"] == "selection" and described["manual"] is True
    assert described["string"] == "投诉有效性" and described["selection"] == [["valid", "有效"], ["invalid", "无效"]]
    row = Fields.read([fid], ["model", "state", "selection_ids"])[0]
    assert row["model"] == "helpdesk.ticket" and row["state"] == "manual" and len(row["selection_ids"]) == 2
    Ticket = odoo.env["helpdesk.ticket"]  # noqa: N806
    tid = Ticket.create({"name": "豆腐发霉", "x_validity": "invalid"})
    assert Ticket.read([tid], ["x_validity"])[0]["x_validity"] == "invalid"
    with pytest.raises(odoorpc.error.RPCError, match="Wrong value"):
        Ticket.write([tid], {"x_validity": "maybe"})
    # a new option is usable at once
    odoo.env["ir.model.fields.selection"].create({"field_id": fid, "value": "maybe", "name": "待定", "sequence": 3})
    Ticket.write([tid], {"x_validity": "maybe"})
    # the type cannot change; deleting the field removes it from the model
    with pytest.raises(odoorpc.error.RPCError, match="Changing the type of a field is not yet supported"):
        Fields.write([fid], {"ttype": "char"})
    Fields.unlink([fid])
    assert "x_validity" not in odoo.env["helpdesk.ticket"].fields_get([])


def test_names_relations_and_rollback(odoo17: SandboxOdoo) -> None:
    odoo = _odoo(odoo17)
    Fields = odoo.env["ir.model.fields"]  # noqa: N806
    mid = _ticket_model_id(odoo)
    base = {"model_id": mid, "ttype": "char", "state": "manual", "field_description": "x"}
    with pytest.raises(odoorpc.error.RPCError, match="Custom fields must have a name that starts with 'x_'"):
        Fields.create({**base, "name": "batch"})
    with pytest.raises(odoorpc.error.RPCError, match="Field names can only contain"):
        Fields.create({**base, "name": "x_Bad Name"})
    with pytest.raises(odoorpc.error.RPCError, match="Model res.nothing does not exist"):
        Fields.create({**base, "name": "x_who", "ttype": "many2one", "relation": "res.nothing"})
    Fields.create({**base, "name": "x_once"})
    with pytest.raises(odoorpc.error.RPCError, match="unique per model"):
        Fields.create({**base, "name": "x_once"})
    # one call, two fields, the second refused: neither exists afterwards
    with pytest.raises(odoorpc.error.RPCError):
        odoo.execute("ir.model.fields", "create", [{**base, "name": "x_first"}, {**base, "name": "second"}])
    names = set(odoo.env["helpdesk.ticket"].fields_get([]))
    assert "x_once" in names and "x_first" not in names
    # only administrators create fields
    with pytest.raises(odoorpc.error.RPCError, match="not allowed to create"):
        _odoo(odoo17, odoo17.bot_login).env["ir.model.fields"].create({**base, "name": "x_by_bot"})


def _cli(sb: SandboxOdoo, tmp_path: Path, *args: str) -> Any:
    env = {"KESU_HELPDESK__URL": sb.url, "KESU_HELPDESK__TOKEN": sb.api_key_for(sb.bot_login),
           "KESU_HELPDESK__BOT_LOGIN": sb.bot_login, "KESU_HELPDESK__WEBHOOK_SECRET": "s" * 24,
           "KESU_HELPDESK__WEBHOOK_BASE_URL": "http://127.0.0.1:9", "KESU_ODOO_ADMIN_KEY": sb.api_key_for("admin"),
           "COLUMNS": "250"}
    return CliRunner().invoke(app, [*args, "--config", str(tmp_path / "kesu.toml")], env=env)


@pytest.mark.parametrize("profile", ["food", "insurance"])
def test_kesu_odoo_setup_creates_every_declared_field(odoo17: SandboxOdoo, tmp_path: Path, profile: str) -> None:
    sb = odoo17
    init = CliRunner().invoke(app, ["init", "--profile", profile, "--path", str(tmp_path / "kesu.toml")])
    assert init.exit_code == 0, init.output
    toml = tmp_path / "kesu.toml"
    text = toml.read_text(encoding="utf-8").replace('kind = "zammad"', 'kind = "odoo"', 1)
    toml.write_text(text.replace("[store]", f'[helpdesk.options]\ndatabase = "{sb.database}"\n\n[store]', 1),
                    encoding="utf-8")
    settings = load_settings(toml)
    settings.helpdesk.url, settings.helpdesk.token = sb.url, SecretStr(sb.api_key_for(sb.bot_login))
    settings.helpdesk.bot_login = sb.bot_login
    fields = declared_fields(settings, load_entrypoints=False)
    admin = {"admin_key": sb.api_key_for("admin"), "admin_login": "admin"}
    assert len(missing_fields_from_settings(settings.helpdesk, fields, **admin)) == len(fields)

    dry = _cli(sb, tmp_path, "odoo", "setup", "--admin-login", "admin", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "演练，未写入" in dry.output and f"新建 {len(fields)}" in dry.output
    odoo = _odoo(sb)
    ticket_fields = odoo.env["helpdesk.ticket"].fields_get([])
    assert not [n for n in ticket_fields if n.startswith("x_")] and not odoo.env["base.automation"].search([])
    tags = convention_tags(fields)
    assert {"有效性-有效", "有效性-无效", "回访-满意", "标记-媒体曝光"} <= set(tags)
    assert not odoo.env["helpdesk.tag"].search([("name", "in", tags)])

    first = _cli(sb, tmp_path, "odoo", "setup", "--admin-login", "admin")
    assert first.exit_code == 0, first.output
    assert (f"工单字段 {len(fields)} 个：新建 {len(fields)}，更新 0，不变 0，冲突 0；标签 {len(tags)} 个：新建 {len(tags)}，"
            "已有 0；待办活动类型 To-Do：已有") in first.output, first.output
    assert len(odoo.env["helpdesk.tag"].search([("name", "in", tags)])) == len(tags)
    ticket_fields = odoo.env["helpdesk.ticket"].fields_get([])
    for f in fields:
        got = ticket_fields[f"x_{f.name}"]
        assert got["manual"] is True and got["string"] == f.label, f.name
        if f.type == "select":
            assert got["type"] == "selection" and got["selection"] == [[o.value, o.label] for o in f.options]
        if f.type == "multiselect":
            assert got["type"] == "char" and all(o.value in got["help"] for o in f.options)
    assert missing_fields_from_settings(settings.helpdesk, fields, **admin) == []

    second = _cli(sb, tmp_path, "odoo", "setup", "--admin-login", "admin")
    assert f"新建 0，更新 0，不变 {len(fields)}，冲突 0；标签 {len(tags)} 个：新建 0，已有 {len(tags)}" in second.output

    # what is created is what kesu reads and writes, under its own names
    connector = OdooConnector(settings.helpdesk)
    try:
        connector.prepare()
        tid = odoo.env["helpdesk.ticket"].create({"name": "豆腐发霉", "x_complaint_validity": "invalid",
                                                  "x_first_contact_at": "2026-03-02 01:30:00"})
        ticket = connector.get_ticket(str(tid))
        assert ticket.fields["complaint_validity"] == "invalid" == ticket.fields["x_complaint_validity"]
        assert ticket.fields["first_contact_at"] == "2026-03-02T01:30:00+00:00"  # UTC, not a local time
        connector.apply(ticket, WriteSet(fields={"complaint_tier": next(f for f in fields
                                                                         if f.name == "complaint_tier").options[0].value}))
        assert odoo.env["helpdesk.ticket"].read([tid], ["x_complaint_tier"])[0]["x_complaint_tier"]
    finally:
        connector.close()
