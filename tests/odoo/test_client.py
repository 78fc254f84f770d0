"""OdooClient: both protocols, version detection, and the one error mapping with Odoo's words."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from connector.errors import (
    AuthenticationFailed,
    ConnectorTimeout,
    ConnectorUnavailable,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from connector.http import DEFAULT_TIMEOUT
from connector.odoo.client import OdooClient, OdooVersion, error_class
from tests.odoo.stub import BASE, BOT_UID, DB, KEY, StubError
from tests.odoo.stub import make_client, make_stub, protocol, rsps, sleeps  # noqa: F401 (fixtures)

# -- requests on the wire ------------------------------------------------------------------------


def test_jsonrpc_sends_execute_kw_with_db_uid_key_and_named_arguments(make_client, make_stub):
    stub = make_stub("jsonrpc")
    stub.on("helpdesk.ticket", "search_read", [{"id": 42, "name": "x"}])
    client = make_client("jsonrpc")
    rows = client.search_read("helpdesk.ticket", [("id", "=", 42)], ["name"], limit=1,
                              order="id asc")
    assert rows == [{"id": 42, "name": "x"}]
    auth, call = _jsonrpc_bodies()
    assert auth["params"] == {"service": "common", "method": "authenticate",
                              "args": [DB, "kesu-bot", KEY, {}]}
    assert call["params"]["args"][:5] == [DB, BOT_UID, KEY, "helpdesk.ticket", "search_read"]
    assert call["params"]["args"][5:] == [[], {"domain": [["id", "=", 42]], "fields": ["name"],
                                              "limit": 1, "order": "id asc"}]
    assert client.protocol == "jsonrpc" and client.server_version().major == 17


def _jsonrpc_bodies() -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.url.endswith("/jsonrpc")]


def test_jsonrpc_passes_ids_and_create_vals_positionally(make_client, make_stub):
    stub = make_stub("jsonrpc")
    stub.on("helpdesk.ticket", "write", True)
    stub.on("helpdesk.tag", "create", [5, 6])
    client = make_client("jsonrpc", uid=BOT_UID)
    client.write("helpdesk.ticket", [42], {"priority": "3"})
    assert client.create("helpdesk.tag", [{"name": "a"}, {"name": "b"}]) == [5, 6]
    write, create = _jsonrpc_bodies()
    assert write["params"]["args"][5:] == [[[42]], {"vals": {"priority": "3"}}]
    assert create["params"]["args"][5:] == [[[{"name": "a"}, {"name": "b"}]], {}]


def test_json2_posts_named_arguments_with_bearer_key_and_database_header(make_client, make_stub):
    stub = make_stub("json2")
    stub.on("helpdesk.ticket", "write", True)
    client = make_client("auto")
    client.write("helpdesk.ticket", [42], {"priority": "3", "tag_ids": [[4, 5, 0]]})
    post = responses.calls[-1].request
    assert post.url == f"{BASE}/json/2/helpdesk.ticket/write"
    assert post.headers["Authorization"] == f"bearer {KEY}"
    assert post.headers["X-Odoo-Database"] == DB
    assert json.loads(post.body) == {"vals": {"priority": "3", "tag_ids": [[4, 5, 0]]}, "ids": [42]}
    assert responses.calls[-1].request.req_kwargs["timeout"] == DEFAULT_TIMEOUT
    assert client.protocol == "json2" and client.uid() == BOT_UID  # from res.users/context_get


def test_message_post_answers_an_id_on_both_protocols(make_client, make_stub, protocol):
    stub = make_stub(protocol)
    stub.on("helpdesk.ticket", "message_post", 901)
    client = make_client(protocol)
    assert client.message_post("helpdesk.ticket", 42, body="<p>x</p>") == 901
    assert stub.called("helpdesk.ticket", "message_post")[0].ids == [42]


def test_version_from_web_version_or_version_info_or_the_setting(make_client, make_stub):
    make_stub("jsonrpc", version=16)
    assert make_client("auto").server_version() == OdooVersion(16, 0, "16.0")
    assert make_client("auto").protocol == "jsonrpc"
    assert make_client("auto", version=18).server_version().major == 18
    assert OdooVersion.parse(["saas~17", 2, 0, "final", 0, ""], "saas~17.2") == OdooVersion(17, 2, "saas~17.2")
    assert OdooVersion.parse(None, "19.0+e").major == 19


def test_model_and_method_names_are_checked_before_they_go_into_a_url(make_client):
    client = make_client("json2", version=19)
    with pytest.raises(InvalidRequest, match="not a public Odoo method"):
        client.call("helpdesk.ticket", "_private")
    with pytest.raises(InvalidRequest, match="not an Odoo model"):
        client.call("../web", "read")


# -- errors a user sees ----------------------------------------------------------------------------


def _raise(exc: StubError):
    def handler(ids, params):
        raise exc
    return handler


@pytest.mark.parametrize(("odoo_name", "status", "ours"), [
    ("odoo.exceptions.AccessError", 403, PermissionDenied),
    ("odoo.exceptions.MissingError", 404, NotFound),
    ("odoo.exceptions.ValidationError", 422, InvalidRequest),
    ("odoo.exceptions.UserError", 422, InvalidRequest),
])
def test_odoo_exceptions_map_to_our_errors_with_odoos_message(make_client, make_stub, protocol,
                                                              odoo_name, status, ours):
    stub = make_stub(protocol)
    said = {
        "AccessError": "You are not allowed to modify 'Helpdesk Ticket' (helpdesk.ticket) records.",
        "MissingError": "Record does not exist or has been deleted.",
        "ValidationError": "The priority must be one of 0, 1, 2, 3",
        "UserError": "You cannot move a ticket to a stage of another team.",
    }[odoo_name.rsplit(".", 1)[1]]
    stub.on("helpdesk.ticket", "write", _raise(StubError(odoo_name, said, status)))
    with pytest.raises(ours) as caught:
        make_client(protocol).write("helpdesk.ticket", [42], {"priority": "3"})
    shown = str(caught.value)
    assert said in shown and "helpdesk.ticket.write" in shown
    assert KEY not in shown
    assert caught.value.helpdesk_message == said


def test_access_error_as_a_user_sees_it_on_jsonrpc(make_client, make_stub):
    stub = make_stub("jsonrpc")
    stub.on("helpdesk.ticket", "write", _raise(StubError(
        "odoo.exceptions.AccessError",
        "You are not allowed to modify 'Helpdesk Ticket' (helpdesk.ticket) records.")))
    with pytest.raises(PermissionDenied) as caught:
        make_client("jsonrpc").write("helpdesk.ticket", [42], {"priority": "3"})
    assert str(caught.value) == (
        f"helpdesk.ticket.write failed: AccessError (POST {BASE}/jsonrpc) helpdesk said: "
        "You are not allowed to modify 'Helpdesk Ticket' (helpdesk.ticket) records.")


def test_access_error_as_a_user_sees_it_on_json2(make_client, make_stub):
    stub = make_stub("json2")
    stub.on("helpdesk.ticket", "write", _raise(StubError(
        "odoo.exceptions.AccessError",
        "You are not allowed to modify 'Helpdesk Ticket' (helpdesk.ticket) records.", 403)))
    with pytest.raises(PermissionDenied) as caught:
        make_client("json2").write("helpdesk.ticket", [42], {"priority": "3"})
    assert str(caught.value) == (
        f"helpdesk.ticket.write failed: AccessError (POST {BASE}/json/2/helpdesk.ticket/write -> 403) "
        "helpdesk said: You are not allowed to modify 'Helpdesk Ticket' (helpdesk.ticket) records.")


@responses.activate
def test_session_expired_is_authentication_failed(make_client):
    responses.post(f"{BASE}/jsonrpc", json={"jsonrpc": "2.0", "id": 1, "error": {
        "code": 100, "message": "Odoo Session Expired",
        "data": {"name": "odoo.http.SessionExpiredException", "message": "Session expired"}}})
    with pytest.raises(AuthenticationFailed) as caught:
        make_client("jsonrpc", version=17, uid=BOT_UID).read("helpdesk.ticket", [1], ["name"])
    assert "Session expired" in str(caught.value) and "refused the API key" in str(caught.value)


def test_invalid_api_key_on_json2_is_authentication_failed_with_odoos_words(make_client, make_stub):
    make_stub("json2")
    client = OdooClient(BASE, "wrong-key", protocol="json2", version=19)
    with pytest.raises(AuthenticationFailed) as caught:
        client.read("helpdesk.ticket", [1], ["name"])
    assert caught.value.status == 401
    assert str(caught.value).endswith("helpdesk said: Invalid apikey")
    assert "wrong-key" not in str(caught.value)
    client.close()


def test_refused_login_on_jsonrpc_names_login_and_database(make_client, make_stub):
    stub = make_stub("jsonrpc")
    stub.auth_ok = False
    with pytest.raises(AuthenticationFailed, match="refused login 'kesu-bot' with this API key on database 'kesu'"):
        make_client("jsonrpc").uid()


def test_unknown_model_or_method_is_not_found_naming_both(make_client, make_stub, protocol):
    make_stub(protocol)
    with pytest.raises(NotFound) as caught:
        make_client(protocol).call("helpdesk.ticket", "frobnicate", [1])
    assert "helpdesk.ticket.frobnicate" in str(caught.value)
    assert "no such model or public method" in str(caught.value)
    assert "does not exist" in (caught.value.helpdesk_message or "")


@responses.activate
def test_arguments_that_do_not_bind_are_invalid_request_422(make_client):
    responses.post(f"{BASE}/json/2/helpdesk.ticket/write", status=422, json={
        "name": "werkzeug.exceptions.UnprocessableEntity",
        "message": "422 Unprocessable Entity: missing a required argument: 'vals'"})
    with pytest.raises(InvalidRequest) as caught:
        make_client("json2", version=19).call("helpdesk.ticket", "write", [1], vals_list=[])
    assert caught.value.status == 422
    assert "missing a required argument: 'vals'" in str(caught.value)


@responses.activate
def test_legacy_rpc_switched_off_says_so(make_client):
    responses.post(f"{BASE}/jsonrpc", json={"jsonrpc": "2.0", "id": 1, "error": {
        "code": 404, "message": "404: Not Found",
        "data": {"name": "werkzeug.exceptions.NotFound", "message": "404 Not Found"}}})
    with pytest.raises(NotFound, match="helpdesk.ticket.read"):
        make_client("jsonrpc", version=18, uid=BOT_UID).read("helpdesk.ticket", [1], ["name"])


def test_error_class_by_name_then_status():
    assert error_class("odoo.exceptions.AccessDenied", 403) is AuthenticationFailed
    assert error_class("psycopg2.errors.SerializationFailure", 500) is ConnectorUnavailable
    assert error_class(None, 401) is AuthenticationFailed
    assert error_class("builtins.AttributeError", 500,
                       "The method 'x' does not exist on the model 'helpdesk.ticket'") is NotFound


# -- transient failures --------------------------------------------------------------------------


@responses.activate(registry=OrderedRegistry)
def test_503_then_success_is_retried_inside_the_call(make_client, sleeps):
    url = f"{BASE}/json/2/helpdesk.ticket/read"
    responses.post(url, status=503, body="busy")
    responses.post(url, status=429, headers={"Retry-After": "2"}, json={"message": "slow down"})
    responses.post(url, json=[{"id": 1}])
    assert make_client("json2", version=19).read("helpdesk.ticket", [1], ["name"]) == [{"id": 1}]
    assert sleeps == [0.5, 2.0]


@responses.activate
def test_a_timed_out_message_post_is_not_retried_in_call(make_client, sleeps):
    url = f"{BASE}/json/2/helpdesk.ticket/message_post"
    responses.post(url, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ConnectorTimeout):
        make_client("json2", version=19).message_post("helpdesk.ticket", 1, body="x")
    assert len(responses.calls) == 1 and sleeps == []  # the pipeline retries after the marker check


@responses.activate
def test_rate_limited_after_retries_carries_retry_after(make_client):
    responses.post(f"{BASE}/json/2/helpdesk.ticket/read", status=429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        make_client("json2", version=19, retries=0).read("helpdesk.ticket", [1], ["name"])
    assert caught.value.retry_after == 7


@responses.activate
def test_json2_requests_carry_the_key_only_in_the_header(make_client):
    responses.post(f"{BASE}/json/2/helpdesk.ticket/read", json=[],
                   match=[matchers.header_matcher({"Authorization": f"bearer {KEY}"})])
    make_client("json2", version=19).read("helpdesk.ticket", [1], ["name"])
    assert KEY not in responses.calls[0].request.url and KEY not in responses.calls[0].request.body.decode()
