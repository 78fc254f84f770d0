"""ZammadClient and the shared transport: auth, timeouts, retries, error mapping, redaction."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from connector.errors import (
    AuthenticationFailed,
    ConnectorTimeout,
    ConnectorUnavailable,
    HelpdeskError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProtocolError,
    RateLimited,
    TransientError,
)
from connector.http import DEFAULT_TIMEOUT, HttpTransport, parse_retry_after, redact_url
from connector.zammad.client import ZammadClient

BASE = "https://zammad.test"
API = f"{BASE}/api/v1"
TOKEN = "tok-SECRET-4711"


class Sleeps(list[float]):
    """Records retry waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(sleeps: Sleeps):
    clients: list[ZammadClient] = []

    def make(**kw) -> ZammadClient:
        kw.setdefault("retries", 3)
        client = ZammadClient(BASE, TOKEN, sleep=sleeps, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def zammad_error(status: int, text: str, **kw) -> responses.Response:
    return responses.Response(
        responses.GET, f"{API}/users/me", json={"error": text, "error_human": text},
        status=status, **kw,
    )


# -- success path --------------------------------------------------------------------------------


@responses.activate(assert_all_requests_are_fired=True)
def test_me_sends_token_and_the_one_timeout(make_client):
    responses.get(
        f"{API}/users/me",
        json={"id": 9, "login": "kesu-bot@localhost"},
        match=[matchers.header_matcher({"Authorization": f"Token token={TOKEN}"})],
    )
    assert make_client().me() == {"id": 9, "login": "kesu-bot@localhost"}
    assert responses.calls[0].request.req_kwargs["timeout"] == DEFAULT_TIMEOUT


@responses.activate(assert_all_requests_are_fired=True)
def test_timeout_setting_is_applied(make_client):
    responses.get(f"{API}/users/me", json={"id": 9})
    make_client(timeout=2.5).me()
    assert responses.calls[0].request.req_kwargs["timeout"] == 2.5


@responses.activate(assert_all_requests_are_fired=True)
def test_ticket_all_asks_for_all(make_client):
    responses.get(
        f"{API}/tickets/3",
        json={"ticket_id": 3, "assets": {}},
        match=[matchers.query_param_matcher({"all": "true"})],
    )
    assert make_client().ticket_all("3")["ticket_id"] == 3


@responses.activate(assert_all_requests_are_fired=True)
def test_update_ticket_puts_fields_and_article_together(make_client):
    body = {"priority": "3 high", "article": {"body": "x", "type": "note", "internal": True}}
    responses.put(f"{API}/tickets/3", json={"id": 3}, match=[matchers.json_params_matcher(body)])
    make_client().update_ticket(3, {"priority": "3 high"}, {"body": "x", "type": "note",
                                                             "internal": True})


@responses.activate(assert_all_requests_are_fired=True)
def test_tags_add_and_remove_bodies(make_client):
    body = {"item": "vip", "object": "Ticket", "o_id": 3}
    responses.post(f"{API}/tags/add", json=True, status=201,
                   match=[matchers.json_params_matcher(body)])
    responses.delete(f"{API}/tags/remove", json=True,
                     match=[matchers.json_params_matcher(body)])
    client = make_client()
    client.add_tag("3", "vip")
    client.remove_tag("3", "vip")


@responses.activate(assert_all_requests_are_fired=True)
def test_lookups_page_through_index(make_client, monkeypatch):
    monkeypatch.setattr("connector.zammad.client.INDEX_PER_PAGE", 2)
    responses.get(f"{API}/groups", json=[{"id": 1, "name": "Users"}, {"id": 2, "name": "Sales"}],
                  match=[matchers.query_param_matcher({"page": "1", "per_page": "2"})])
    responses.get(f"{API}/groups", json=[{"id": 3, "name": "Service Desk"}],
                  match=[matchers.query_param_matcher({"page": "2", "per_page": "2"})])
    assert [g["name"] for g in make_client().groups()] == ["Users", "Sales", "Service Desk"]


@responses.activate(assert_all_requests_are_fired=True)
def test_search_accepts_both_answer_shapes(make_client):
    condition = {"ticket.updated_at": {"operator": "after (absolute)", "value": "2025-01-01T00:00:00Z"}}
    expected = {"condition": condition, "sort_by": "updated_at", "order_by": "asc",
                "page": 1, "per_page": 100}
    responses.post(f"{API}/tickets/search", json=[{"id": 5, "updated_at": "x"}],
                   match=[matchers.json_params_matcher(expected)])
    responses.post(f"{API}/tickets/search",
                   json={"tickets": [7, 6], "tickets_count": 2,
                         "assets": {"Ticket": {"6": {"id": 6}, "7": {"id": 7}}}})
    client = make_client()
    assert client.search_tickets(condition) == [{"id": 5, "updated_at": "x"}]
    assert client.search_tickets(condition) == [{"id": 7}, {"id": 6}]


def test_ids_in_paths_must_be_numbers(make_client):
    with pytest.raises(InvalidRequest, match="must be a number"):
        make_client().ticket_all("../users")


@responses.activate(assert_all_requests_are_fired=True)
def test_non_json_answer_is_protocol_error(make_client):
    responses.get(f"{API}/users/me", body="<html>proxy</html>", status=200)
    with pytest.raises(ProtocolError) as info:
        make_client().me()
    assert info.value.status == 200 and info.value.method == "GET"


@responses.activate(assert_all_requests_are_fired=True)
def test_redirect_is_not_followed(make_client):
    responses.get(f"{API}/users/me", status=302, headers={"Location": "https://evil.test/x"})
    with pytest.raises(ProtocolError, match="redirect"):
        make_client().me()


# -- retries -------------------------------------------------------------------------------------


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_503_then_200_is_retried(make_client, sleeps):
    responses.get(f"{API}/users/me", status=503)
    responses.get(f"{API}/users/me", json={"id": 9})
    assert make_client().me() == {"id": 9}
    assert sleeps == [0.5]


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_backoff_is_exponential(make_client, sleeps):
    for status in (502, 503, 504):
        responses.get(f"{API}/users/me", status=status)
    responses.get(f"{API}/users/me", json={"id": 9})
    make_client().me()
    assert sleeps == [0.5, 1.0, 2.0]


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_429_waits_for_retry_after(make_client, sleeps):
    responses.get(f"{API}/users/me", status=429, headers={"Retry-After": "2"})
    responses.get(f"{API}/users/me", json={"id": 9})
    assert make_client().me() == {"id": 9}
    assert sleeps == [2.0]


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_retry_after_is_capped(make_client, sleeps):
    responses.get(f"{API}/users/me", status=429, headers={"Retry-After": "3600"})
    responses.get(f"{API}/users/me", json={"id": 9})
    make_client().me()
    assert sleeps == [60.0]


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_429_exhausted_raises_rate_limited(make_client, sleeps):
    for _ in range(2):
        responses.get(f"{API}/users/me", status=429, headers={"Retry-After": "1"})
    with pytest.raises(RateLimited) as info:
        make_client(retries=1).me()
    assert info.value.retry_after == 1.0 and info.value.status == 429
    assert sleeps == [1.0]


def test_retry_after_http_date():
    now = datetime(2025, 6, 1, 10, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Sun, 01 Jun 2025 10:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("Sun, 01 Jun 2025 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_timeouts_are_retried_then_raise_connector_timeout(make_client, sleeps):
    for _ in range(3):
        responses.get(f"{API}/users/me", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ConnectorTimeout) as info:
        make_client(retries=2).me()
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)
    assert info.value.method == "GET" and info.value.url == f"{API}/users/me"
    assert len(sleeps) == 2 and len(responses.calls) == 3


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_connection_error_is_retried_then_unavailable(make_client):
    for _ in range(2):
        responses.get(f"{API}/users/me", body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(ConnectorUnavailable):
        make_client(retries=1).me()


# -- writes that are not idempotent: checked, never resent blind (issue 10 item 1) -------------


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_put_with_note_answered_504_is_checked_and_not_resent_when_it_took(make_client, sleeps):
    responses.put(f"{API}/tickets/7", status=504)  # applied by Zammad, answer lost at the proxy
    checks: list[int] = []
    result = make_client().update_ticket(7, {"priority": "3 high"}, {"body": "n", "subject": "kesu #a"},
                                         check=lambda: checks.append(1) or True)
    assert result == {} and checks == [1]
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_write_whose_check_says_missing_is_sent_again(make_client, sleeps):
    """Not there at once nor after the settle wait (the timeout: a slow write gets that long to
    land): only then is it sent again."""
    responses.put(f"{API}/tickets/7", body=requests.exceptions.ReadTimeout("read timed out"))
    responses.put(f"{API}/tickets/7", json={"id": 7})
    checks: list[int] = []
    result = make_client().update_ticket(7, {}, {"body": "n", "subject": "kesu #a"},
                                         check=lambda: bool(checks.append(1)))
    assert result == {"id": 7} and len(responses.calls) == 2
    assert checks == [1, 1] and sleeps == [DEFAULT_TIMEOUT, 0.5]


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_a_slow_write_that_lands_after_the_first_look_is_not_resent(make_client, sleeps):
    """Timed out, still under way at Zammad: the first look finds nothing, the second (after the
    settle wait) finds it, and it is not sent a second time."""
    responses.put(f"{API}/tickets/7", body=requests.exceptions.ReadTimeout("read timed out"))
    looks = iter([False, True])
    result = make_client().update_ticket(7, {}, {"body": "n", "subject": "kesu #a"},
                                         check=lambda: next(looks))
    assert result == {} and len(responses.calls) == 1 and sleeps == [DEFAULT_TIMEOUT]


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_a_write_whose_check_fails_is_not_resent_in_the_call(make_client, sleeps):
    """The look itself fails: whether the write took is unknown, so it is not sent again here;
    the error says so and goes to the caller (the pipeline's recovery looks again later)."""
    responses.put(f"{API}/tickets/7", status=504)

    def check() -> bool:
        raise ConnectorUnavailable("cannot connect", method="GET", url=f"{API}/tickets/7")

    with pytest.raises(ConnectorUnavailable) as lost:
        make_client().update_ticket(7, {}, {"body": "n", "subject": "kesu #a"}, check=check)
    assert lost.value.status == 504 and lost.value.resend_unsafe
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_refusals_before_any_work_are_retried_without_a_check(make_client, sleeps):
    responses.put(f"{API}/tickets/7", status=503)
    responses.put(f"{API}/tickets/7", status=429, headers={"Retry-After": "1"})
    responses.put(f"{API}/tickets/7", body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.put(f"{API}/tickets/7", json={"id": 7})

    def check() -> bool:
        raise AssertionError("nothing reached Zammad: no check needed")

    assert make_client().update_ticket(7, {}, {"body": "n"}, check=check) == {"id": 7}


def test_maybe_applied_is_set_only_when_the_request_may_have_arrived():
    transport = HttpTransport("http://127.0.0.1:1", retries=0)  # nothing listens on port 1
    with pytest.raises(ConnectorUnavailable) as refused:
        transport.request("PUT", "/x", json={})
    assert refused.value.maybe_applied is False
    with responses.RequestsMock() as rsps:
        rsps.put("http://127.0.0.1:1/x", status=504)
        with pytest.raises(ConnectorUnavailable) as lost:
            transport.request("PUT", "/x", json={})
    assert lost.value.maybe_applied is True


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_500_is_not_retried(make_client, sleeps):
    responses.get(f"{API}/users/me", status=500,
                  json={"error": "Error ID abc123: Please contact your administrator."})
    with pytest.raises(HelpdeskError) as info:
        make_client().me()
    assert not isinstance(info.value, TransientError)
    assert info.value.status == 500 and "Error ID abc123" in str(info.value)
    assert sleeps == [] and len(responses.calls) == 1


# -- error mapping -------------------------------------------------------------------------------


@responses.activate(assert_all_requests_are_fired=True)
def test_401_is_authentication_failed_with_error_human(make_client):
    responses.add(zammad_error(401, "Not authorized (token expired)!"))
    with pytest.raises(AuthenticationFailed) as info:
        make_client().me()
    err = info.value
    assert err.status == 401 and err.helpdesk_message == "Not authorized (token expired)!"
    assert "Not authorized (token expired)!" in str(err) and "GET" in str(err)


@responses.activate(assert_all_requests_are_fired=True)
def test_403_uses_x_failure_when_body_is_empty(make_client):
    responses.get(f"{API}/users/me", status=403, body="",
                  headers={"X-Failure": "API token access disabled!"})
    with pytest.raises(PermissionDenied) as info:
        make_client().me()
    assert info.value.helpdesk_message == "API token access disabled!"


@responses.activate(assert_all_requests_are_fired=True)
def test_404_is_not_found(make_client):
    responses.get(f"{API}/tickets/99", status=404,
                  json={"error": "Couldn't find Ticket with 'id'=99",
                        "error_human": "Couldn't find Ticket with 'id'=99"})
    with pytest.raises(NotFound) as info:
        make_client().ticket_all(99)
    assert info.value.url == f"{API}/tickets/99?all=true"
    assert "Couldn't find Ticket" in str(info.value)


@responses.activate(assert_all_requests_are_fired=True)
def test_422_is_invalid_request_with_message(make_client):
    text = "Missing required value for field 'pending_time'!"
    responses.put(f"{API}/tickets/3", status=422, json={"error": text, "error_human": text})
    with pytest.raises(InvalidRequest) as info:
        make_client().update_ticket(3, {"state": "pending reminder"})
    assert info.value.helpdesk_message == text and info.value.status == 422


@responses.activate(assert_all_requests_are_fired=True)
def test_secrets_never_appear_in_errors_or_reprs(make_client):
    responses.get(f"{API}/users/me", status=401,
                  json={"error": "Can't find User for Token", "error_human": "Can't find User for Token"})
    client = make_client()
    with pytest.raises(AuthenticationFailed) as info:
        client.me()
    shown = " ".join([str(info.value), repr(info.value), repr(client), repr(client.http),
                      str(info.value.url)])
    assert TOKEN not in shown


def test_urls_are_redacted():
    assert redact_url("https://bot:pw@z.test/api?token=abc&page=2") == (
        "https://z.test/api?token=***&page=2"
    )
    transport = HttpTransport("https://bot:pw@z.test/api/v1")
    assert "pw" not in repr(transport)
    transport.close()


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_transient_error_message_has_no_secret_in_query(sleeps):
    responses.get("https://z.test/api/things", body=requests.exceptions.ConnectTimeout("x"))
    transport = HttpTransport("https://z.test/api", retries=0, sleep=sleeps)
    with pytest.raises(ConnectorTimeout) as info:
        transport.request("GET", "/things?token=abc")
    assert "abc" not in str(info.value)
    transport.close()


def test_transport_rejects_bad_options():
    with pytest.raises(ValueError, match="timeout"):
        HttpTransport("https://z.test", timeout=0)
    with pytest.raises(ValueError, match="retries"):
        HttpTransport("https://z.test", retries=-1)


@responses.activate(assert_all_requests_are_fired=True)
def test_json_body_is_sent_as_json(make_client):
    responses.post(f"{API}/webhooks", json={"id": 1, "name": "kesu"}, status=201)
    make_client().create_webhook({"name": "kesu", "endpoint": "https://k.test/h"})
    request = responses.calls[0].request
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.body) == {"name": "kesu", "endpoint": "https://k.test/h"}


@responses.activate(assert_all_requests_are_fired=True)
def test_client_from_helpdesk_settings(sleeps):
    from pydantic import SecretStr

    from kesu.settings import HelpdeskSettings

    settings = HelpdeskSettings(url=BASE + "/", token=SecretStr(TOKEN), timeout=4.0, retries=0)
    responses.get(f"{API}/users/me", status=503,
                  match=[matchers.header_matcher({"Authorization": f"Token token={TOKEN}"})])
    client = ZammadClient(settings, sleep=sleeps)
    with pytest.raises(ConnectorUnavailable):
        client.me()
    assert responses.calls[0].request.req_kwargs["timeout"] == 4.0 and sleeps == []
    client.close()
