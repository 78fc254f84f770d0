"""`kesu odoo setup`: the automation rule and its webhook action, idempotent; 16 polls."""

from __future__ import annotations

from typing import Any

import pytest

from connector.odoo.setup import (
    SetupResult,
    action_spec,
    automation_spec,
    provision,
    webhook_url_with_token,
)
from tests.odoo.stub import BOT_UID
from tests.odoo.stub import make_client, make_stub, protocol, rsps, sleeps  # noqa: F401 (fixtures)

HOOK = "https://kesu.example.com/webhooks/odoo"


class Records:
    """A tiny table per model for the stub: search_read by the equality terms, create, write."""

    def __init__(self, stub: Any) -> None:
        self.tables: dict[str, dict[int, dict[str, Any]]] = {"base.automation": {}, "ir.actions.server": {}}
        self.next_id = 100
        for model in self.tables:
            stub.on(model, "search_read", lambda ids, p, m=model: self._search(m, p["domain"]))
            stub.on(model, "create", lambda ids, p, m=model: [self._create(m, v) for v in p["vals_list"]])
            stub.on(model, "write", lambda ids, p, m=model: self._write(m, ids, p["vals"]))
        stub.on("ir.model", "search_read", [{"id": 312, "model": "helpdesk.ticket"}])
        stub.on("ir.model.fields", "search_read", lambda ids, p: [
            {"id": i, "name": n} for i, n in enumerate(p["domain"][1][2], start=900)])

    def _search(self, model: str, domain: list[list[Any]]) -> list[dict[str, Any]]:
        rows = self.tables[model].values()
        return [self._read(r) for r in rows if all(r.get(f) == v for f, _, v in domain)]

    @staticmethod
    def _read(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        if "webhook_field_ids" in out:
            out["webhook_field_ids"] = out["webhook_field_ids"][0][2]  # read answers ids
        if "model_id" in out:
            out["model_id"] = [out["model_id"], "Helpdesk Ticket"]
        return out

    def _create(self, model: str, vals: dict[str, Any]) -> int:
        self.next_id += 1
        self.tables[model][self.next_id] = {"id": self.next_id, **vals}
        return self.next_id

    def _write(self, model: str, ids: list[int], vals: dict[str, Any]) -> bool:
        for i in ids:
            self.tables[model][i].update(vals)
        return True


def test_setup_creates_the_rule_and_action_then_changes_nothing(make_client, make_stub, protocol):
    stub = make_stub(protocol)
    records = Records(stub)
    client = make_client(protocol)
    first = provision(client, HOOK, "s3cret", BOT_UID)
    assert (first.mode, first.created, first.updated) == ("webhook", ["automation", "action"], [])
    (rule,) = records.tables["base.automation"].values()
    assert rule == {"id": first.automation_id, "name": "kesu", "model_id": 312,
                    "trigger": "on_create_or_write", "filter_domain": f"[('write_uid', '!=', {BOT_UID})]",
                    "active": True}
    (action,) = records.tables["ir.actions.server"].values()
    assert action["state"] == "webhook" and action["base_automation_id"] == first.automation_id
    assert action["webhook_url"] == f"{HOOK}?token=s3cret"
    assert action["webhook_field_ids"] == [[6, 0, [900, 901, 902, 903]]]
    assert first.webhook_url == f"{HOOK}?token=***"

    stub.calls.clear()
    second = provision(client, HOOK, "s3cret", BOT_UID)
    assert (second.created, second.updated, second.unchanged) == ([], [], ["automation", "action"])
    assert not second.changed and not [c for c in stub.calls if c.method in ("create", "write")]

    third = provision(client, HOOK, "rotated", BOT_UID)
    assert (third.updated, third.unchanged) == (["action"], ["automation"])
    assert action["webhook_url"] == f"{HOOK}?token=rotated"
    assert "posting to https://kesu.example.com/webhooks/odoo?token=***" in third.describe(30)


def test_setup_on_16_creates_nothing_and_says_kesu_polls(make_client, make_stub):
    stub = make_stub("jsonrpc", version=16)
    result = provision(make_client("jsonrpc"), HOOK, "s3cret", BOT_UID)
    assert result.mode == "polling" and not result.changed
    assert [c for c in stub.calls if c.method != "fields_get"] == []
    text = result.describe(30)
    assert "Odoo 16.0 has no 'Send Webhook Notification' action" in text
    assert "polling helpdesk.ticket on write_date every 30 s" in text


def test_setup_refuses_without_a_secret_or_with_a_bad_url(make_client):
    client = make_client("json2", version=19)
    with pytest.raises(ValueError, match="a webhook secret is required"):
        provision(client, HOOK, "", BOT_UID)
    with pytest.raises(ValueError, match="must start with http"):
        provision(client, "kesu.example.com/webhooks/odoo", "x", BOT_UID)


def test_specs_and_token_url():
    assert webhook_url_with_token(f"{HOOK}?token=old&a=1", "n w") == f"{HOOK}?a=1&token=n+w"
    assert automation_spec("kesu", 1, 7)["filter_domain"] == "[('write_uid', '!=', 7)]"
    assert action_spec("kesu", 1, 2, HOOK, [5, 3])["webhook_field_ids"] == [[6, 0, [3, 5]]]
    assert isinstance(SetupResult, type)
