"""The sandbox's object manager (``/api/v1/object_manager_attributes``), as reference §2.8 says:
pending until the migration, then a ticket column; names and data options validated; updates wait
in ``data_option_new``; read with the third-party client ``zammad_py`` too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from zammad_py import ZammadAPI
from zammad_py.api import Resource

from connector.zammad.sandbox import SandboxZammad

SELECT = {
    "object": "Ticket", "name": "complaint_validity", "display": "投诉有效性", "data_type": "select",
    "data_option": {"options": {"valid": "有效", "invalid": "无效"}, "default": "", "null": True},
    "active": True, "position": 1600,
    "screens": {"edit": {"ticket.agent": {"shown": True, "required": False}}},
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxZammad]:
    with SandboxZammad() as sb:
        yield sb


class Api:
    def __init__(self, sandbox: SandboxZammad, login: str = "admin@example.com") -> None:
        self.base = f"{sandbox.url}/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token token={sandbox.token_for(login)}"

    def __call__(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, self.base + path, json=body, timeout=10)


def _attr(api: Api, name: str) -> dict[str, Any] | None:
    return next((a for a in api("GET", "/object_manager_attributes").json() if a["name"] == name), None)


def test_created_attribute_is_pending_until_the_migration(sandbox: SandboxZammad) -> None:
    api = Api(sandbox)
    tid = sandbox.create_ticket("豆腐发霉", "打开就发霉")["id"]
    created = api("POST", "/object_manager_attributes", {**SELECT, "name": "validity_pending"})
    assert created.status_code == 201, created.text
    row = created.json()
    assert row["to_create"] is True and row["to_migrate"] is True and row["editable"] is True
    assert row["data_option"]["options"] == {"valid": "有效", "invalid": "无效"}
    # not a ticket column yet: neither shown nor written
    agent = Api(sandbox, "agent1@example.com")
    put = agent("PUT", f"/tickets/{tid}", {"validity_pending": "invalid"})
    assert put.status_code == 200 and "validity_pending" not in put.json()
    assert "validity_pending" not in agent("GET", f"/tickets/{tid}").json()

    assert api("POST", "/object_manager_attributes_execute_migrations", {}).status_code == 200
    row = _attr(api, "validity_pending")
    assert row is not None and row["to_create"] is False and row["to_migrate"] is False
    assert row["data_option"]["historical_options"] == {"valid": "有效", "invalid": "无效"}
    assert agent("GET", f"/tickets/{tid}").json()["validity_pending"] is None
    put = agent("PUT", f"/tickets/{tid}", {"validity_pending": "invalid"})
    assert put.json()["validity_pending"] == "invalid"


def test_names_data_types_and_data_options_are_validated(sandbox: SandboxZammad) -> None:
    api = Api(sandbox)
    bad = [
        ({"name": "Bad Name"}, "spaces are not allowed"),
        ({"name": "owner_ref_id"}, "*_id and *_ids are not allowed"),
        ({"name": "select"}, "reserved word"),
        ({"name": "123"}, "At least one letters is needed"),
        ({"name": "title"}, "already exists"),
        ({"name": "x_type", "data_type": "dropdown"}, "dropdown is not a valid data type"),
        ({"name": "x_opts", "data_option": {"default": ""}}, "either :options or :relation"),
        ({"name": "x_input", "data_type": "input", "data_option": {"type": "text"}}, "integer for :maxlength"),
        ({"name": "x_int", "data_type": "integer", "data_option": {"min": 0}}, "integer for :max"),
        ({"name": "x_dt", "data_type": "datetime", "data_option": {"future": True, "past": True}}, ":diff"),
        ({"name": "x_bool", "data_type": "boolean", "data_option": {"default": None}}, ":options"),
    ]
    for change, message in bad:
        answer = api("POST", "/object_manager_attributes", {**SELECT, **change})
        assert answer.status_code == 422, (change, answer.text)
        assert message in answer.json()["error"], (change, answer.json())
    assert api("POST", "/object_manager_attributes", {**SELECT, "name": "dup_check"}).status_code == 201
    again = api("POST", "/object_manager_attributes", {**SELECT, "name": "dup_check"})
    assert again.status_code == 422 and again.json()["error"] == "already exists"
    # only administrators (admin.object)
    assert Api(sandbox, "agent1@example.com")("GET", "/object_manager_attributes").status_code == 403


def test_update_waits_for_the_migration_and_the_type_cannot_change(sandbox: SandboxZammad) -> None:
    api = Api(sandbox)
    row = api("POST", "/object_manager_attributes", {**SELECT, "name": "outcome_upd"}).json()
    api("POST", "/object_manager_attributes_execute_migrations", {})
    more = {**SELECT, "name": "outcome_upd", "display": "有效性",
            "data_option": {**SELECT["data_option"], "options": {"valid": "有效", "invalid": "无效", "x": "待定"}}}
    updated = api("PUT", f"/object_manager_attributes/{row['id']}", more)
    assert updated.status_code == 200, updated.text
    got = updated.json()
    assert got["display"] == "有效性" and got["to_config"] is True
    assert "x" not in got["data_option"]["options"] and "x" in got["data_option_new"]["options"]
    api("POST", "/object_manager_attributes_execute_migrations", {})
    got = _attr(api, "outcome_upd")
    assert got is not None and got["to_config"] is False and got["data_option"]["options"]["x"] == "待定"
    as_int = {**SELECT, "name": "outcome_upd", "data_type": "integer", "data_option": {"min": 0, "max": 9}}
    refused = api("PUT", f"/object_manager_attributes/{row['id']}", as_int)
    assert refused.status_code == 422 and "can't be altered after creation" in refused.json()["error"]
    missing = api("PUT", f"/object_manager_attributes/{row['id']}", {**SELECT, "name": "no_such_attr"})
    assert missing.status_code == 422 and missing.json()["error"] == "does not exist"


def test_typed_columns_discard_and_delete(sandbox: SandboxZammad) -> None:
    api = Api(sandbox)
    agent = Api(sandbox, "agent1@example.com")
    for body in ({"name": "people_n", "data_type": "integer", "data_option": {"min": 0, "max": 999, "default": None}},
                 {"name": "reported_at", "data_type": "datetime",
                  "data_option": {"future": True, "past": True, "diff": 0, "default": None}},
                 {"name": "done_flag", "data_type": "boolean",
                  "data_option": {"options": {"true": "是", "false": "否"}, "default": None}}):
        assert api("POST", "/object_manager_attributes", {**SELECT, **body}).status_code == 201
    api("POST", "/object_manager_attributes_execute_migrations", {})
    tid = sandbox.create_ticket("t", "b")["id"]
    got = agent("PUT", f"/tickets/{tid}", {"people_n": "3", "reported_at": "2026-03-10T04:00:00Z",
                                           "done_flag": "true"}).json()
    assert got["people_n"] == 3 and got["done_flag"] is True
    assert got["reported_at"] == "2026-03-10T04:00:00.000Z"
    # Rails' casts: a time without offset is UTC; any word but false/0/f/off is true
    got = agent("PUT", f"/tickets/{tid}", {"reported_at": "2026-03-10 12:00", "done_flag": "已完成"}).json()
    assert got["reported_at"] == "2026-03-10T12:00:00.000Z" and got["done_flag"] is True
    assert agent("PUT", f"/tickets/{tid}", {"done_flag": "false"}).json()["done_flag"] is False
    wrong = agent("PUT", f"/tickets/{tid}", {"people_n": "three"})
    assert wrong.status_code == 422 and "people_n" in wrong.json()["error"]

    pending = api("POST", "/object_manager_attributes", {**SELECT, "name": "discard_me"}).json()
    assert api("POST", "/object_manager_attributes_discard_changes", {}).status_code == 200
    assert _attr(api, "discard_me") is None
    assert api("GET", f"/object_manager_attributes/{pending['id']}").status_code == 404
    row = _attr(api, "people_n")
    assert row is not None
    assert api("DELETE", f"/object_manager_attributes/{row['id']}").status_code == 200
    assert _attr(api, "people_n")["to_delete"] is True  # type: ignore[index]
    assert "people_n" in agent("GET", f"/tickets/{tid}").json()  # the column stays until the migration
    api("POST", "/object_manager_attributes_execute_migrations", {})
    assert _attr(api, "people_n") is None and "people_n" not in agent("GET", f"/tickets/{tid}").json()
    builtin = _attr(api, "title")
    assert builtin is not None and builtin["editable"] is False
    assert api("DELETE", f"/object_manager_attributes/{builtin['id']}").status_code == 422


class ObjectManagerAttributes(Resource):
    """zammad_py has no resource for the object manager; its generic one reads it like any other."""

    path_attribute = "object_manager_attributes"


def test_zammad_py_reads_the_attributes(sandbox: SandboxZammad) -> None:
    api = Api(sandbox)
    row = api("POST", "/object_manager_attributes", {**SELECT, "name": "read_by_zammad_py"}).json()
    client = ZammadAPI(url=f"{sandbox.url}/api/v1/", http_token=sandbox.token_for("admin@example.com"))
    resource = ObjectManagerAttributes(client)
    found = resource.find(row["id"])
    assert found["name"] == "read_by_zammad_py" and found["data_type"] == "select"
    assert found["data_option"]["options"] == {"valid": "有效", "invalid": "无效"}
    assert "read_by_zammad_py" in {a["name"] for a in resource.all()}
