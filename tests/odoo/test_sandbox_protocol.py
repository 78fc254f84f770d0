"""The sandbox Odoo speaks Odoo's protocols.

Driven with the third-party client ``odoorpc`` (version detection via
``/web/webclient/version_info``, ``common.login``, ``object.execute``/``execute_kw``, its field
descriptors and x2many commands) and plain ``requests`` (error envelopes, JSON-2 statuses and
bodies, webhooks), checked against reference/odoo.md and the saved example payloads.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import odoorpc
import pytest
import requests

from connector.odoo.sandbox import SandboxOdoo
from connector.odoo.sandbox.testing import (  # noqa: F401 - fixtures used by name
    Receiver,
    Received,
    Rpc,
    make_sandbox,
    odoo17,
    odoo19,
    receiver,
)

EXAMPLES = Path("/work/shared/reference/examples")
ERROR_KEYS = {"name", "message", "arguments", "context", "debug"}
TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def odoorpc_client(sandbox: SandboxOdoo, login: str = "kesu-bot", secret: str | None = None) -> odoorpc.ODOO:
    odoo = odoorpc.ODOO(sandbox.host, port=sandbox.port, timeout=10)
    odoo.login(sandbox.database, login, secret or sandbox.api_key_for(login))
    return odoo


def rpc_error(body: dict[str, Any]) -> dict[str, Any]:
    assert "result" not in body
    err = body["error"]
    assert err["code"] == 200 and err["message"] == "Odoo Server Error"
    assert set(err["data"]) == ERROR_KEYS
    return err["data"]


# ------------------------------------------------------------------------------ odoorpc


@pytest.mark.parametrize("flavour", ["enterprise", "oca"])
def test_odoorpc_reads_and_writes_tickets(make_sandbox: Callable[..., SandboxOdoo], flavour: str) -> None:
    sb = make_sandbox(17, flavour)
    tid = sb.create_ticket("Parcel arrived damaged", "<p>The box was crushed.</p>", tags=["Complaint"],
                           priority="2")
    odoo = odoorpc_client(sb)
    assert odoo.version == ("17.0+e" if flavour == "enterprise" else "17.0")
    assert odoo.env.uid == sb.bot_uid and odoo.env.user.name == "Kesu Bot"
    # flavour detection: which models exist
    team_model = "helpdesk.team" if flavour == "enterprise" else "helpdesk.ticket.team"
    other = "helpdesk.ticket.team" if flavour == "enterprise" else "helpdesk.team"
    assert team_model in odoo.env and other not in odoo.env
    Ticket = odoo.env["helpdesk.ticket"]  # noqa: N806 - odoorpc model proxy
    assert Ticket.search([("name", "ilike", "parcel")]) == [tid]
    ticket = Ticket.browse(tid)
    assert ticket.name == "Parcel arrived damaged"
    assert ticket.priority == "2"
    assert [t.name for t in ticket.tag_ids] == ["Complaint"]
    assert ticket.partner_id.email == "jane.doe@example.com"
    assert ticket.stage_id.name == "New"
    if flavour == "oca":
        assert re.fullmatch(r"HT\d{5}", ticket.number)
    # attribute writes become write() calls; x2many through odoorpc's commands
    ticket.priority = "3"
    Tag = odoo.env[sb.state.tag_model]  # noqa: N806
    vip = Tag.create({"name": "VIP"})
    ticket.tag_ids += Tag.browse(vip)  # (4, id)
    assert sorted(t.name for t in Ticket.browse(tid).tag_ids) == ["Complaint", "VIP"]
    ticket.tag_ids -= Tag.browse(vip)  # (3, id)
    snap = sb.ticket(tid)
    assert snap["priority"] == "3" and snap["tags"] == ["Complaint"]
    assert snap["write_uid"] == [sb.bot_uid, "Kesu Bot"]
    # priority selection per flavour (reference §1a/§1b)
    sel = Ticket.fields_get(["priority"], attributes=["type", "selection"])["priority"]
    assert sel["type"] == "selection"
    assert [k for k, _ in sel["selection"]] == ["0", "1", "2", "3"]
    assert sel["selection"][3][1] == ("Urgent" if flavour == "enterprise" else "Very High")
    # xml ids (odoorpc uses ir.model.data.check_object_reference)
    assert odoo.env.ref("mail.mail_activity_data_todo").name == "To-Do"


def test_odoorpc_login_password_and_bad_credentials(odoo17: SandboxOdoo) -> None:
    odoo = odoorpc_client(odoo17, "admin", "admin")
    assert odoo.env.uid == 2
    with pytest.raises(odoorpc.error.RPCError, match="Wrong login ID or password"):
        odoorpc_client(odoo17, "kesu-bot", "not-a-key")
    # the wrong key on an object call is AccessDenied (no traceback)
    rpc = Rpc(odoo17)
    err = rpc_error(rpc.execute_kw("helpdesk.ticket", "search", [[]], key="nope"))
    assert err["name"] == "odoo.exceptions.AccessDenied" and err["message"] == "Access Denied"
    assert "Traceback" not in err["debug"]
    err = rpc_error(rpc.jsonrpc("common", "login", "otherdb", "admin", "admin"))
    assert err["name"] == "psycopg2.OperationalError"
    assert rpc.jsonrpc("db", "list")["result"] == ["sandbox"]
    assert rpc.jsonrpc("common", "version")["result"]["server_version_info"] == [17, 0, 0, "final", 0, "e"]


# -------------------------------------------------------------------- legacy error envelope


def test_legacy_error_envelope(make_sandbox: Callable[..., SandboxOdoo]) -> None:
    sb = make_sandbox(17, "enterprise")
    tid = sb.create_ticket("Broken", "<p>x</p>")
    bot = Rpc(sb)
    portal = Rpc(sb, "portal")
    # AccessError, exactly like the saved example
    example = json.loads((EXAMPLES / "jsonrpc_search_read_helpdesk_ticket.json").read_text())["error_response_example"]
    body = portal.execute_kw("helpdesk.ticket", "write", [[tid], {"priority": "3"}])
    err = rpc_error(body)
    assert err["name"] == example["error"]["data"]["name"] == "odoo.exceptions.AccessError"
    assert err["message"] == example["error"]["data"]["message"]
    assert err["arguments"] == [err["message"]] and err["context"] == {}
    assert err["debug"].startswith("Traceback (most recent call last):")
    assert body["jsonrpc"] == "2.0" and isinstance(body["id"], int)
    assert rpc_error(portal.execute_kw("helpdesk.ticket", "search_read", [[]]))["message"] == \
        "You are not allowed to access 'Helpdesk Ticket' (helpdesk.ticket) records."
    # MissingError
    err = rpc_error(bot.execute_kw("helpdesk.ticket", "read", [[999], ["name"]]))
    assert err["name"] == "odoo.exceptions.MissingError"
    assert err["message"].startswith("Record does not exist or has been deleted.")
    # invalid selection value: Selection.convert_to_cache raises ValueError (not ValidationError)
    err = rpc_error(bot.execute_kw("helpdesk.ticket", "write", [[tid], {"priority": "7"}]))
    assert err["name"] == "builtins.ValueError"
    assert err["message"] == "Wrong value for helpdesk.ticket.priority: '7'"
    # NOT NULL → ValidationError
    err = rpc_error(bot.execute_kw("helpdesk.ticket", "create", [{"description": "<p>no subject</p>"}]))
    assert err["name"] == "odoo.exceptions.ValidationError"
    assert "Field: Subject (name)" in err["message"]
    # unknown model / method / private method / bad arguments
    assert rpc_error(bot.execute_kw("helpdesk.ticket.team", "search", [[]]))["name"] == "odoo.exceptions.UserError"
    assert rpc_error(bot.execute_kw("helpdesk.ticket", "frobnicate", [[]]))["message"] == \
        "The method 'helpdesk.ticket.frobnicate' does not exist"
    err = rpc_error(bot.execute_kw("ir.model.data", "_xmlid_to_res_id", ["mail.mt_note"]))
    assert err["name"] == "odoo.exceptions.AccessError" and "Private methods" in err["message"]
    err = rpc_error(bot.execute_kw("helpdesk.ticket", "search_read", [[]], {"bogus": 1}))
    assert err["name"] == "builtins.TypeError" and "bogus" in err["message"]
    err = rpc_error(bot.execute_kw("helpdesk.ticket", "search_read", [[["nope", "=", 1]]]))
    assert err["name"] == "builtins.ValueError" and "Invalid field helpdesk.ticket.nope" in err["message"]
    # an error rolls the whole call back
    before = sb.ticket(tid)["write_date"]
    rpc_error(bot.execute_kw("helpdesk.ticket", "write", [[tid], {"name": "changed", "priority": "9"}]))
    assert sb.ticket(tid)["name"] == "Broken" and sb.ticket(tid)["write_date"] == before


def test_oca_validation_error_and_legacy_web_session(make_sandbox: Callable[..., SandboxOdoo]) -> None:
    sb = make_sandbox(17, "oca")
    bot = Rpc(sb)
    err = rpc_error(bot.execute_kw("helpdesk.ticket", "create", [{"name": "No description"}]))
    assert err["name"] == "odoo.exceptions.ValidationError" and "(description)" in err["message"]
    # web client API: session cookie, "Odoo Session Expired" without one
    s = requests.Session()
    s.trust_env = False
    call = {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"model": "helpdesk.ticket", "method": "search_count", "args": [[]], "kwargs": {}}}
    body = s.post(sb.url + "/web/dataset/call_kw/helpdesk.ticket/search_count", json=call, timeout=5).json()
    assert body["error"]["code"] == 100 and body["error"]["message"] == "Odoo Session Expired"
    assert body["error"]["data"]["name"] == "odoo.http.SessionExpiredException"
    auth = s.post(sb.url + "/web/session/authenticate", json={"jsonrpc": "2.0", "method": "call", "params": {
        "db": "sandbox", "login": "agent1", "password": "agent1"}}, timeout=5).json()
    assert auth["result"]["uid"] == sb.user_id("agent1") and "session_id" in s.cookies
    assert s.post(sb.url + "/web/dataset/call_kw", json=call, timeout=5).json()["result"] == 0


# ---------------------------------------------------------------------------- JSON-2 (19)


def test_json2_calls_and_shapes(odoo19: SandboxOdoo) -> None:
    sb = odoo19
    rpc = Rpc(sb)
    tid = sb.create_ticket("Parcel arrived damaged", "<p>crushed</p>", tags=["Complaint", "Shipping"], priority="2")
    example = json.loads((EXAMPLES / "json2_helpdesk_calls.json").read_text())
    r = rpc.json2("helpdesk.ticket", "search_read", {**example["search_read"]["body"], "domain": [["id", "=", tid]]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    (row,) = r.json()
    assert set(row) == set(example["search_read"]["response_200"][0])
    assert row["team_id"] == [1, "Customer Care"] and row["stage_id"] == [1, "New"] and row["user_id"] is False
    assert row["partner_id"] == [7, "Deco Addict, Jane Doe"] and row["tag_ids"] == [3, 5]
    assert TS.match(row["write_date"])
    r = rpc.json2("helpdesk.ticket", "write", {"ids": [tid], "vals": {"priority": "3", "user_id": 6}})
    assert r.status_code == 200 and r.json() is True
    r = rpc.json2("helpdesk.ticket", "message_post", example["message_post_internal_note"]["body"] | {"ids": [tid]})
    assert r.status_code == 200 and isinstance(r.json(), list) and len(r.json()) == 1
    model_id = rpc.json2("ir.model", "search_read", {"domain": [["model", "=", "helpdesk.ticket"]],
                                                     "fields": ["id"]}).json()[0]["id"]
    todo = rpc.json2("ir.model.data", "search_read", {"domain": [["module", "=", "mail"],
                                                                 ["name", "=", "mail_activity_data_todo"]],
                                                      "fields": ["res_id"]}).json()[0]["res_id"]
    vals = example["create_todo_activity"]["body"]["vals_list"][0] | {"res_model_id": model_id, "res_id": tid,
                                                                     "activity_type_id": todo}
    r = rpc.json2("mail.activity", "create", {"vals_list": [vals]})
    assert r.status_code == 200 and isinstance(r.json(), list)
    snap = sb.ticket(tid)
    assert snap["priority"] == "3" and snap["user_id"] == [6, "Marc Demo"]
    assert snap["messages"][-1]["internal"] and snap["messages"][-1]["subtype"] == "mail.mt_note"
    assert snap["activities"][0]["summary"] == "Call customer back"
    # own uid
    assert rpc.json2("res.users", "context_get").json()["uid"] == sb.bot_uid
    # version endpoint (19)
    info = requests.get(sb.url + "/web/version", timeout=5).json()
    assert info == {"version_info": [19, 0, 0, "final", 0, "e"], "version": "19.0+e"}


def test_json2_errors(odoo19: SandboxOdoo) -> None:
    sb = odoo19
    rpc = Rpc(sb)
    tid = sb.create_ticket("T", "<p>x</p>")
    example = json.loads((EXAMPLES / "json2_helpdesk_calls.json").read_text())["error_401"]

    def check(r: requests.Response, status: int, name: str, message: str | None = None) -> dict[str, Any]:
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == ERROR_KEYS and body["name"] == name
        if message is not None:
            assert body["message"] == message
        return body

    body = check(rpc.json2("helpdesk.ticket", "search_read", {"domain": []}, key="wrong"), 401,
                 example["body"]["name"], "Invalid apikey")
    assert body["arguments"] == example["body"]["arguments"] == ["Invalid apikey", 401]
    r = rpc.http.post(sb.url + "/json/2/helpdesk.ticket/search_read", json={}, timeout=5)
    check(r, 401, "werkzeug.exceptions.Unauthorized", 'User not authenticated, use the "Authorization" header')
    check(rpc.json2("helpdesk.nope", "search_read"), 404, "werkzeug.exceptions.NotFound",
          "the model 'helpdesk.nope' does not exist")
    check(rpc.json2("helpdesk.ticket", "frobnicate"), 404, "werkzeug.exceptions.NotFound",
          "The method 'helpdesk.ticket.frobnicate' does not exist")
    check(rpc.json2("helpdesk.ticket", "_read"), 403, "odoo.exceptions.AccessError")
    check(rpc.json2("helpdesk.ticket", "search_count", {"domain": [], "bogus": 1}), 422,
          "werkzeug.exceptions.UnprocessableEntity", "got an unexpected keyword argument 'bogus'")
    # search_read takes **read_kwargs: a typo binds, then fails inside read() → 500 TypeError
    check(rpc.json2("helpdesk.ticket", "search_read", {"domian": []}), 500, "builtins.TypeError",
          "read() got an unexpected keyword argument 'domian'")
    check(rpc.json2("helpdesk.ticket", "write", {"ids": [tid]}), 422, "werkzeug.exceptions.UnprocessableEntity",
          "missing a required argument: 'vals'")
    check(rpc.json2("helpdesk.ticket", "search_read", {"ids": [tid], "domain": []}), 422,
          "werkzeug.exceptions.UnprocessableEntity", "cannot call helpdesk.ticket.search_read with ids")
    check(rpc.json2("helpdesk.ticket", "write", {"ids": [tid], "vals": {"priority": "3"}}, key=sb.api_key_for("portal")),
          403, "odoo.exceptions.AccessError")
    check(rpc.json2("helpdesk.ticket", "read", {"ids": [999], "fields": ["name"]}), 404, "odoo.exceptions.MissingError")
    check(rpc.json2("helpdesk.ticket", "write", {"ids": [tid], "vals": {"priority": "7"}}), 500, "builtins.ValueError")
    check(rpc.json2("helpdesk.ticket", "create", {"vals_list": [{"description": "x"}]}), 422,
          "odoo.exceptions.ValidationError")
    check(rpc.http.get(sb.url + "/json/2/helpdesk.ticket/search", timeout=5), 404, "werkzeug.exceptions.NotFound",
          "Did you mean POST /json/2/<model>/<method>?")
    r = rpc.json2("helpdesk.ticket", "search", {"domain": []}, headers={"X-Odoo-Database": "other"})
    assert r.status_code == 404
    # legacy RPC is still served by 19, deprecated
    assert Rpc(sb).call("helpdesk.ticket", "search_count", [])
    assert sb.deprecation_warnings >= 1


def test_json2_not_served_before_19(odoo17: SandboxOdoo) -> None:
    rpc = Rpc(odoo17)
    r = rpc.json2("helpdesk.ticket", "search_read", {"domain": []})
    # a JSON request to an unknown route: JSON-RPC error envelope with code 404, HTTP 200
    assert r.status_code == 200 and r.json()["error"]["code"] == 404
    assert requests.get(odoo17.url + "/web/version", timeout=5).status_code == 404


# ------------------------------------------------------------------ ORM semantics over RPC


def test_x2many_commands_and_write_log_fields(odoo17: SandboxOdoo) -> None:
    sb = odoo17
    rpc = Rpc(sb)
    tid = sb.create_ticket("Tags", "<p>x</p>", tags=["Service"])
    before = rpc.call("helpdesk.ticket", "read", [tid], ["write_date", "write_uid", "create_uid"])[0]
    assert before["write_uid"] == [1, "OdooBot"] and before["create_uid"] == [1, "OdooBot"]

    def tags() -> list[str]:
        return sb.ticket(tid)["tags"]

    repair, refund = sb.tag_id("Repair"), sb.tag_id("Refund")
    assert rpc.call("helpdesk.ticket", "write", [tid], {"tag_ids": [(4, repair)]}) is True
    assert tags() == ["Service", "Repair"]
    rpc.call("helpdesk.ticket", "write", [tid], {"tag_ids": [(3, sb.tag_id("Service"))]})
    assert tags() == ["Repair"]
    rpc.call("helpdesk.ticket", "write", [tid], {"tag_ids": [(6, 0, [refund, repair])]})
    assert tags() == ["Refund", "Repair"]
    rpc.call("helpdesk.ticket", "write", [tid], {"tag_ids": [(0, 0, {"name": "Escalated"})]})
    assert tags() == ["Refund", "Repair", "Escalated"]
    rpc.call("helpdesk.ticket", "write", [tid], {"tag_ids": [(5,)]})
    assert tags() == []
    after = rpc.call("helpdesk.ticket", "read", [tid], ["write_date", "write_uid"])[0]
    assert after["write_uid"] == [sb.bot_uid, "Kesu Bot"]
    assert TS.match(after["write_date"]) and after["write_date"] >= before["write_date"]
    # microsecond precision: the truncated cursor still matches the record written in that second
    assert rpc.call("helpdesk.ticket", "search", [("write_date", ">", after["write_date"])]) == [tid]
    assert rpc.call("helpdesk.ticket", "search", [("write_date", ">", "2099-01-01 00:00:00")]) == []


def test_domain_operators_order_and_paging(odoo17: SandboxOdoo) -> None:
    sb = odoo17
    rpc = Rpc(sb)
    a = sb.create_ticket("Alpha damaged", "<p>a</p>", priority="0", tags=["Repair"])
    b = sb.create_ticket("Beta late", "<p>b</p>", priority="2", partner="brandon.freeman55@example.com")
    c = sb.create_ticket("Gamma damaged", "<p>c</p>", priority="3", user="agent1")
    sb.close_ticket(a)

    def ids(domain: list[Any], **kw: Any) -> list[int]:
        return rpc.call("helpdesk.ticket", "search", domain, **kw)

    assert ids([("priority", "=", "2")]) == [b]
    assert sorted(ids([("priority", "!=", "2")])) == [a, c]
    assert sorted(ids([("priority", ">", "0")])) == [b, c]
    assert sorted(ids([("priority", ">=", "2")])) == [b, c]
    assert ids([("priority", "<", "2")]) == [a]
    assert sorted(ids([("priority", "<=", "2")])) == [a, b]
    assert sorted(ids([("id", "in", [a, c])])) == [a, c]
    assert ids([("id", "not in", [a, c])]) == [b]
    assert sorted(ids([("name", "ilike", "DAMAGED")])) == [a, c]
    assert ids([("name", "like", "DAMAGED")]) == []
    assert sorted(ids([("name", "=like", "%damaged")])) == [a, c]
    assert ids([("user_id", "=", False)]) == [b, a] or sorted(ids([("user_id", "=", False)])) == [a, b]
    assert ids([("user_id", "!=", False)]) == [c]
    assert ids(["|", ("priority", "=", "3"), ("name", "ilike", "beta")]) == [c, b]  # _order priority desc, id desc
    assert ids(["!", ("priority", "in", ["2", "3"])]) == [a]
    assert ids(["&", ("name", "ilike", "damaged"), ("stage_id.fold", "=", True)]) == [a]
    assert ids([("tag_ids", "in", [sb.tag_id("Repair")])]) == [a]
    assert ids([("tag_ids.name", "=", "Repair")]) == [a]
    assert ids([("partner_id.parent_id", "ilike", "azure")]) == [b]
    assert ids([("partner_id", "ilike", "Jane")]) == [c, a]
    # order / limit / offset
    assert ids([], order="id asc") == [a, b, c]
    assert ids([], order="write_date asc, id asc") == [b, c, a]  # a was closed last
    assert ids([], order="id asc", limit=2, offset=1) == [b, c]
    assert rpc.call("helpdesk.ticket", "search_count", [("priority", "in", ["2", "3"])]) == 2
    rows = rpc.call("helpdesk.ticket", "search_read", [], fields=["name"], order="write_date asc, id asc", limit=1)
    assert rows == [{"id": b, "name": "Beta late"}]
    closed = sb.ticket(a)
    assert closed["stage"] == "Solved" and closed["fold"] is True and TS.match(closed["close_date"])


# ----------------------------------------------------------------------- mail & activities


@pytest.mark.parametrize("version", [16, 17])
def test_message_post_internal_note(make_sandbox: Callable[..., SandboxOdoo], version: int) -> None:
    sb = make_sandbox(version, "enterprise")
    rpc = Rpc(sb)
    tid = sb.create_ticket("Note me", "<p>x</p>")
    html = "<p>Severity tier 2; deadline <b>2025-03-06</b>.</p>"
    mid = rpc.call("helpdesk.ticket", "message_post", [tid], body=html, body_is_html=True, message_type="comment",
                   subtype_xmlid="mail.mt_note")
    assert isinstance(mid, int)  # @api.returns('mail.message'): the id over legacy RPC
    rpc.call("helpdesk.ticket", "message_post", [tid], body="<p>plain</p>", message_type="comment",
             subtype_xmlid="mail.mt_comment")
    note, comment = sb.ticket(tid)["messages"]
    assert note["id"] == mid and note["body"] == html
    assert note["internal"] is True and note["subtype"] == "mail.mt_note" and note["message_type"] == "comment"
    assert note["author_id"] == sb.state.tables["res.users"][sb.bot_uid]["partner_id"]
    assert note["create_uid"] == sb.bot_uid
    assert comment["internal"] is False and comment["subtype"] == "mail.mt_comment"
    # 17+: a str body is escaped unless body_is_html; 16 stores it as given
    assert comment["body"] == ("<p>plain</p>" if version == 16 else "<p>&lt;p&gt;plain&lt;/p&gt;</p>")
    # posting does not touch the ticket's write_date
    assert sb.ticket(tid)["write_uid"] == [1, "OdooBot"]


def test_activity_create_visible_in_snapshot(odoo17: SandboxOdoo) -> None:
    sb = odoo17
    rpc = Rpc(sb)
    tid = sb.create_ticket("Call back", "<p>x</p>")
    (model,) = rpc.call("ir.model", "search_read", [("model", "=", "helpdesk.ticket")], fields=["id", "model"])
    (todo,) = rpc.call("ir.model.data", "search_read", [("module", "=", "mail"), ("name", "=", "mail_activity_data_todo")],
                       fields=["res_id", "model"])
    assert todo["model"] == "mail.activity.type"
    aid = rpc.call("mail.activity", "create", {
        "res_model_id": model["id"], "res_id": tid, "activity_type_id": todo["res_id"], "summary": "Call customer back",
        "note": "<p>Follow-up call required by complaint policy.</p>", "date_deadline": "2025-03-06",
        "user_id": sb.user_id("agent1")})
    assert isinstance(aid, int)
    (act,) = sb.ticket(tid)["activities"]
    assert act["id"] == aid and act["summary"] == "Call customer back" and act["activity_type"] == "To-Do"
    assert act["date_deadline"] == "2025-03-06" and act["user_id"] == [6, "Marc Demo"] and act["state"] == "overdue"
    assert rpc.call("helpdesk.ticket", "read", [tid], ["activity_ids"])[0]["activity_ids"] == [aid]
    err = rpc_error(rpc.execute_kw("mail.activity", "create", [{"res_model_id": model["id"], "res_id": 999}]))
    assert err["name"] == "odoo.exceptions.MissingError"


# --------------------------------------------------------------------------------- webhooks


def provision(sb: SandboxOdoo, url: str, **kwargs: Any) -> dict[str, int]:
    """Provision through the API like a client: ir.model, ir.model.fields, base.automation."""
    rpc = Rpc(sb, "admin")
    model_id = rpc.call("ir.model", "search", [("model", "=", "helpdesk.ticket")])[0]
    example = json.loads((EXAMPLES / "automation_webhook_body_helpdesk_ticket.json").read_text())
    names = [k for k in example if not k.startswith("_") and k != "id"]
    field_ids = rpc.call("ir.model.fields", "search", [("model", "=", "helpdesk.ticket"), ("name", "in", names)])
    vals = {"name": "Send ticket to complaint service", "model_id": model_id, "trigger": "on_create_or_write",
            "action_server_ids": [(0, 0, {"name": "Send ticket to complaint service", "model_id": model_id,
                                          "state": "webhook", "webhook_url": url,
                                          "webhook_field_ids": [(6, 0, field_ids)]})], **kwargs}
    automation = rpc.call("base.automation", "create", vals)
    (auto,) = rpc.call("base.automation", "read", [automation], ["action_server_ids"])
    return {"automation_id": automation, "action_id": auto["action_server_ids"][0]}


def test_webhook_sent_once_with_the_documented_body(odoo17: SandboxOdoo, receiver: Receiver) -> None:
    sb = odoo17
    ids = provision(sb, receiver.url)
    tid = sb.create_ticket("Parcel arrived damaged", "<p>x</p>", tags=["Complaint", "Shipping"], priority="2")
    (got,) = receiver.wait_for(1)
    body = got.json()
    example = json.loads((EXAMPLES / "automation_webhook_body_helpdesk_ticket.json").read_text())
    assert set(body) == set(example)
    assert body["_model"] == "helpdesk.ticket" and body["_id"] == body["id"] == tid
    assert body["_action"] == f"Send ticket to complaint service(#{ids['action_id']})"
    assert body["partner_id"] == 7 and body["stage_id"] == 1 and body["team_id"] == 1  # bare ids (load=None)
    assert body["tag_ids"] == [3, 5] and body["user_id"] is False and body["priority"] == "2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?", body["write_date"])
    assert got.body == json.dumps(body, sort_keys=True).encode()  # json.dumps(sort_keys=True, default=str)
    assert got.headers["content-type"] == "application/json"
    assert not any(h.startswith("x-") or h == "authorization" for h in got.headers)  # no signature, no auth
    # a write sends one more; posting a message does not (no write on the ticket)
    Rpc(sb).call("helpdesk.ticket", "write", [tid], {"priority": "3"})
    Rpc(sb).call("helpdesk.ticket", "message_post", [tid], body="note", subtype_xmlid="mail.mt_note")
    assert len(receiver.wait_for(2)) == 2 and receiver.requests[1].json()["priority"] == "3"
    assert sb.wait_idle() and len(sb.deliveries) == 2 and all(d.ok for d in sb.deliveries)


def test_webhook_never_retried_on_error_or_timeout(odoo17: SandboxOdoo, receiver: Receiver) -> None:
    sb = odoo17
    provision(sb, receiver.url)
    receiver.status = 500
    tid = sb.create_ticket("Failing receiver", "<p>x</p>")
    receiver.status, receiver.delay = 200, 1.5
    started = time.monotonic()
    Rpc(sb).call("helpdesk.ticket", "write", [tid], {"priority": "1"})
    took = time.monotonic() - started
    assert 0.9 < took < 1.45  # 17: sent inline; the caller waits for the 1 s timeout
    time.sleep(0.7)  # the receiver finishes; nothing is retried
    assert len(receiver.requests) == 2
    first, second = sb.deliveries
    assert first.status == 500 and not first.ok and first.error and "500" in first.error
    assert second.status is None and second.error == "ReadTimeout" and not second.ok
    assert sb.ticket(tid)["priority"] == "1"  # the write itself succeeded


@pytest.mark.parametrize("version", [17, 19])
def test_webhook_timing_inline_vs_postcommit(make_sandbox: Callable[..., SandboxOdoo], receiver: Receiver,
                                             version: int) -> None:
    """17/18 send inside the transaction: a receiver reading back sees the previous version.
    19 sends after commit: it sees the new one."""
    sb = make_sandbox(version, "enterprise")
    provision(sb, receiver.url, filter_domain=f"[('write_uid', '!=', {sb.bot_uid})]")
    seen: list[str] = []
    reader = Rpc(sb)

    def read_back(got: Received) -> None:
        seen.append(reader.call("helpdesk.ticket", "read", [got.json()["_id"]], ["priority"])[0]["priority"])

    tid = sb.create_ticket("Timing", "<p>x</p>", priority="1")
    receiver.on_request = read_back
    sb.write_ticket(tid, priority="3")
    receiver.wait_for(2)
    assert seen == (["1"] if version == 17 else ["3"])
    # filter_domain skips the bot's own writes (loop prevention)
    reader.call("helpdesk.ticket", "write", [tid], {"priority": "0"})
    assert len(receiver.requests) == 2


def test_drop_webhooks_share(odoo17: SandboxOdoo, receiver: Receiver) -> None:
    sb = odoo17
    provision(sb, receiver.url)
    sb.drop_webhooks(rate=0.5, seed=7)
    tid = sb.create_ticket("Drops", "<p>x</p>")
    for i in range(39):
        sb.write_ticket(tid, priority=str(i % 4))
    sb.wait_idle()
    dropped = sum(d.dropped for d in sb.deliveries)
    assert len(sb.deliveries) == 40 and 10 <= dropped <= 30
    assert len(receiver.requests) == 40 - dropped
    sb.drop_webhooks(0.0)


def test_webhook_not_available_on_16(make_sandbox: Callable[..., SandboxOdoo]) -> None:
    sb = make_sandbox(16, "enterprise")
    rpc = Rpc(sb, "admin")
    model_id = rpc.call("ir.model", "search", [("model", "=", "helpdesk.ticket")])[0]
    err = rpc_error(rpc.execute_kw("ir.actions.server", "create", [{"name": "x", "model_id": model_id,
                                                                     "state": "webhook"}]))
    assert err["name"] == "builtins.ValueError" and "'webhook'" in err["message"]
    err = rpc_error(Rpc(sb).execute_kw("base.automation", "create", [{"name": "x"}]))
    assert err["name"] == "odoo.exceptions.AccessError"  # only Settings users manage automation rules


# ------------------------------------------------------------------------- faults, lifecycle


def test_faults_and_call_log(odoo17: SandboxOdoo) -> None:
    sb = odoo17
    rpc = Rpc(sb)
    tid = sb.create_ticket("Faults", "<p>x</p>")
    sb.reset_calls()
    sb.inject("jsonrpc", "helpdesk.ticket", "write", status=502)
    r = rpc.http.post(sb.url + "/jsonrpc", json={"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "object", "method": "execute_kw",
        "args": ["sandbox", rpc.uid, rpc.key, "helpdesk.ticket", "write", [[tid], {"priority": "2"}]]}}, timeout=5)
    assert r.status_code == 502 and sb.ticket(tid)["priority"] == "0"
    sb.inject("jsonrpc", "helpdesk.ticket", "write", error="odoo.exceptions.UserError", message="busy")
    err = rpc_error(rpc.execute_kw("helpdesk.ticket", "write", [[tid], {"priority": "2"}]))
    assert err["name"] == "odoo.exceptions.UserError" and err["message"] == "busy"
    sb.inject("jsonrpc", "helpdesk.ticket", "write", status=504, apply_then_fail=True)
    r = rpc.http.post(sb.url + "/jsonrpc", json={"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "object", "method": "execute_kw",
        "args": ["sandbox", rpc.uid, rpc.key, "helpdesk.ticket", "write", [[tid], {"priority": "2"}]]}}, timeout=5)
    assert r.status_code == 504 and sb.ticket(tid)["priority"] == "2"  # applied, answer lost
    sb.inject(None, "helpdesk.ticket", "search_read", status=None, delay=0.2)
    started = time.monotonic()
    rpc.call("helpdesk.ticket", "search_read", [], fields=["name"])
    assert time.monotonic() - started >= 0.2
    assert sb.count(model="helpdesk.ticket", method="write") == 3
    assert sb.count(method="search_read", protocol="jsonrpc") == 1


def test_stop_start_same_port(odoo17: SandboxOdoo) -> None:
    sb = odoo17
    tid = sb.create_ticket("Survives restarts", "<p>x</p>")
    port = sb.port
    sb.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(sb.url + "/jsonrpc", json={}, timeout=2)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    sb.start()
    assert sb.port == port
    assert Rpc(sb).call("helpdesk.ticket", "search", [("id", "=", tid)]) == [tid]


def test_concurrent_writer_waits_for_inline_webhook(odoo17: SandboxOdoo, receiver: Receiver) -> None:
    """17: the row stays locked while its webhook is in flight; a second writer waits for the commit."""
    sb = odoo17
    provision(sb, receiver.url)
    tid = sb.create_ticket("Locked", "<p>x</p>")
    receiver.delay = 0.4
    done: list[float] = []

    def agent_write() -> None:
        sb.write_ticket(tid, priority="2")
        done.append(time.monotonic())

    t = threading.Thread(target=agent_write)
    started = time.monotonic()
    t.start()
    receiver.wait_for(2)
    Rpc(sb).call("helpdesk.ticket", "write", [tid], {"priority": "3"})  # waits for the agent's commit
    finished = time.monotonic()
    t.join()
    assert done and done[0] <= finished and finished - started >= 0.35
    assert sb.ticket(tid)["priority"] == "3"
