"""ZammadConnector: webhook verification and parsing, ticket mapping, write-back, polling.

Payloads are trimmed copies of Zammad's documented examples (admin docs webhook payload, API docs
ticket show), kept here as dicts so the tests need nothing outside the repository.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
import responses
from pydantic import SecretStr
from responses import matchers
from responses.registries import OrderedRegistry

from connector.base import Todo, WriteSet
from connector.errors import ProtocolError, WebhookRejected
from connector.zammad import ZammadConnector
from connector.zammad.client import ZammadClient
from kesu.models import EventKind, Priority, TicketRef
from kesu.settings import HelpdeskSettings

BASE = "https://zammad.test"
API = f"{BASE}/api/v1"
SECRET = "s3cr3t-t0k3n"
TOKEN = "tok-SECRET-4711"
BOT_LOGIN = "kesu-bot@localhost"
BOT_ID = 9

# -- fixtures ------------------------------------------------------------------------------------

CHRIS = {"id": 3, "login": "chris@chrispresso.com", "email": "chris@chrispresso.com",
         "firstname": "Christopher", "lastname": "Miller"}
BOT = {"id": BOT_ID, "login": BOT_LOGIN, "email": BOT_LOGIN, "firstname": "kesu", "lastname": "bot"}

# Zammad's default webhook payload (admin docs), trimmed to the keys kesu looks at.
WEBHOOK_PAYLOAD = {
    "ticket": {
        "id": 81, "number": "10081", "title": "Webhook-Test", "article_count": 1,
        "article_ids": [104], "created_at": "2020-11-13T14:34:35.282Z",
        "updated_at": "2020-11-13T14:34:35.333Z", "created_by_id": 3, "created_by": CHRIS,
        "updated_by_id": 3, "updated_by": CHRIS, "state": "open", "state_id": 2,
        "priority_id": 2, "priority": {"id": 2, "name": "2 normal"}, "group_id": 3,
        "owner_id": 5, "customer_id": 8,
    },
    "article": {
        "id": 104, "ticket_id": 81, "body": "This is a simple Webhook Test.",
        "content_type": "text/html", "created_at": "2020-11-13T14:34:35.318Z",
        "created_by_id": 3, "created_by": CHRIS, "updated_by_id": 3, "internal": False,
        "sender": "Customer", "sender_id": 2, "type": "phone", "type_id": 5,
    },
}

# GET /api/v1/tickets/3?all=true, built from the API docs' ticket 3 (expand=false) plus a custom
# attribute, its two articles and the users; Group comes as an asset, priority/state do not.
TICKET_3 = {
    "id": 3, "group_id": 1, "priority_id": 3, "state_id": 4, "organization_id": 3,
    "number": "53003", "title": "Order 787556", "owner_id": 3, "customer_id": 7, "note": None,
    "first_response_at": None, "close_at": None, "last_contact_at": "2025-01-24T08:46:58.510Z",
    "create_article_type_id": 1, "create_article_sender_id": 2, "article_count": 2,
    "escalation_at": None, "pending_time": None, "type": None, "time_unit": None,
    "preferences": {}, "updated_by_id": 4, "created_by_id": 7,
    "created_at": "2025-01-22T10:46:58.255Z", "updated_at": "2025-06-24T10:46:58.554Z",
    "checklist_id": None, "article_ids": [5, 6],
    "complaint_category": "billing", "complaint_severity": 2,
}
TICKET_ALL = {
    "ticket_id": 3,
    "ticket_article_ids": [5, 6],
    "assets": {
        "Ticket": {"3": TICKET_3},
        "TicketArticle": {  # deliberately out of order
            "6": {"id": 6, "ticket_id": 3, "subject": "kesu:plan:abc", "body": "tier 2",
                  "content_type": "text/plain", "internal": True, "sender": "Agent",
                  "sender_id": 1, "type": "note", "type_id": 10, "created_by_id": 4,
                  "created_at": "2025-01-24T08:46:58.510Z"},
            "5": {"id": 5, "ticket_id": 3, "subject": "Order 787556", "body": "My coffee maker broke",
                  "content_type": "text/html", "internal": False, "sender_id": 2, "type_id": 1,
                  "created_by_id": 7, "created_at": "2025-01-22T10:46:58.255Z"},
        },
        "User": {
            "3": CHRIS,
            "7": {"id": 7, "login": "samuel@example.com", "email": "samuel@example.com",
                  "firstname": "Samuel", "lastname": "Lopez", "phone": "", "mobile": "+61 400 111"},
        },
        "Group": {"1": {"id": 1, "name": "Sales"}},
    },
    "links": [], "tags": ["complaint", "vip"], "mentions": [], "form_meta": {},
}
PRIORITIES = [{"id": 1, "name": "1 low"}, {"id": 2, "name": "2 normal"}, {"id": 3, "name": "3 high"}]
STATES = [{"id": 1, "name": "new"}, {"id": 2, "name": "open"}, {"id": 4, "name": "closed"}]


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def request(payload: dict, **headers: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    base = {"x-hub-signature": sign(body), "x-zammad-delivery": "d-1",
            "x-zammad-trigger": "kesu", "content-type": "application/json"}
    return {**base, **headers}, body


@pytest.fixture
def make_connector():
    made: list[ZammadConnector] = []

    def make(**overrides) -> ZammadConnector:
        values = {"url": BASE, "token": SecretStr(TOKEN), "webhook_secret": SecretStr(SECRET),
                  "bot_login": BOT_LOGIN, **overrides}
        settings = HelpdeskSettings(**values)
        client = ZammadClient(settings.url, settings.token, retries=0, sleep=lambda s: None)
        connector = ZammadConnector(settings, client=client)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


def payload(**changes) -> dict:
    data = copy.deepcopy(WEBHOOK_PAYLOAD)
    for key, value in changes.items():
        part, _, field = key.partition("__")
        if value is None:
            data[part].pop(field, None)
        else:
            data[part][field] = value
    return data


# -- options -------------------------------------------------------------------------------------


def test_identifier_and_export():
    assert ZammadConnector.identifier == "zammad"


def test_priority_map_keys_are_validated(make_connector):
    with pytest.raises(ValueError, match="low, normal, high, urgent") as info:
        make_connector(priority_map={"low": "1 low", "normal": "2 normal", "hihg": "3 high",
                                     "urgent": "3 high"})
    assert "hihg" in str(info.value) and "high" in str(info.value)


def test_name_must_fit_ticket_keys(make_connector):
    with pytest.raises(ValueError, match="':'"):
        make_connector(name="zam:mad")


def test_url_scheme_is_validated():
    with pytest.raises(ValueError, match="http:// or https://"):
        ZammadConnector(HelpdeskSettings(url="zammad.test"))


def test_name_defaults_to_settings_and_can_be_given():
    settings = HelpdeskSettings(name="support", url=BASE)
    assert ZammadConnector(settings).name == "support"
    assert ZammadConnector(settings, "eu").name == "eu"


def test_repr_hides_secrets(make_connector):
    connector = make_connector()
    assert TOKEN not in repr(connector) and SECRET not in repr(connector)


# -- signature -----------------------------------------------------------------------------------


def test_reference_signature_vector_is_accepted(make_connector):
    body = b'{"ticket":{"id":1},"article":{}}'
    assert sign(body) == "sha1=ab65752a52f8d20d1f0a28408a98cc53ef3ce37a"
    hint = make_connector().parse_webhook(
        {"x-hub-signature": "sha1=ab65752a52f8d20d1f0a28408a98cc53ef3ce37a"}, body
    )
    assert hint.ref == TicketRef(helpdesk="zammad", id="1")
    assert hint.delivery_id is None and hint.self_caused is False


def test_uppercase_hex_is_accepted(make_connector):
    body = b'{"ticket":{"id":1},"article":{}}'
    make_connector().parse_webhook({"x-hub-signature": sign(body).upper().replace("SHA1", "sha1")}, body)


def test_tampered_body_is_rejected(make_connector):
    body = b'{"ticket":{"id":2},"article":{}}'
    with pytest.raises(WebhookRejected) as info:
        make_connector().parse_webhook(
            {"x-hub-signature": "sha1=ab65752a52f8d20d1f0a28408a98cc53ef3ce37a"}, body
        )
    assert info.value.status == 401 and "does not match" in info.value.reason


def test_missing_signature_is_rejected(make_connector):
    with pytest.raises(WebhookRejected) as info:
        make_connector().parse_webhook({}, b'{"ticket":{"id":1}}')
    assert info.value.status == 401 and "X-Hub-Signature" in info.value.reason


def test_wrong_signature_scheme_is_rejected(make_connector):
    body = b'{"ticket":{"id":1}}'
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRejected) as info:
        make_connector().parse_webhook({"x-hub-signature": f"sha256={digest}"}, body)
    assert info.value.status == 401


def test_non_ascii_signature_is_rejected_not_crashing(make_connector):
    with pytest.raises(WebhookRejected) as info:
        make_connector().parse_webhook({"x-hub-signature": "sha1=ü"}, b"{}")
    assert info.value.status == 401


def test_unsigned_webhooks_are_never_accepted(make_connector):
    connector = make_connector(webhook_secret=SecretStr(""))
    body = b'{"ticket":{"id":1},"article":{}}'
    with pytest.raises(WebhookRejected) as info:
        connector.parse_webhook({"x-hub-signature": sign(body, "")}, body)
    assert info.value.status == 401 and info.value.reason == "webhook secret not configured"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"ticket":', "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"article":{}}', "'ticket'"),
        (b'{"ticket":{"title":"x"}}', "ticket.id"),
        (b'{"ticket":{"id":true}}', "ticket.id"),
        (b'{"ticket":{"id":1},"article":[]}', "'article'"),
    ],
)
def test_malformed_bodies_are_422_with_reason(make_connector, body, reason):
    with pytest.raises(WebhookRejected) as info:
        make_connector().parse_webhook({"x-hub-signature": sign(body)}, body)
    assert info.value.status == 422 and reason in info.value.reason


# -- parsing -------------------------------------------------------------------------------------


def test_documented_payload_is_a_created_event(make_connector):
    headers, body = request(WEBHOOK_PAYLOAD)
    hint = make_connector().parse_webhook(headers, body)
    assert hint.ref.key == "zammad:81"
    assert hint.kind is EventKind.created
    assert hint.delivery_id == "d-1" and hint.actor == "3" and hint.self_caused is False
    assert hint.facts == {"trigger": "kesu", "updated_at": "2020-11-13T14:34:35.333Z",
                          "state": "open", "article_id": "104"}


def test_new_customer_article_is_article_added(make_connector):
    data = payload(ticket__article_ids=[104, 110], ticket__article_count=2, article__id=110)
    hint = make_connector().parse_webhook(*request(data))
    assert hint.kind is EventKind.article_added


def test_attribute_only_update_is_updated(make_connector):
    data = payload(ticket__article_ids=[104, 110])
    data["article"] = {}
    hint = make_connector().parse_webhook(*request(data))
    assert hint.kind is EventKind.updated and "article_id" not in hint.facts


def test_ticket_created_without_article(make_connector):
    data = payload(ticket__updated_at="2020-11-13T14:34:35.282Z", ticket__article_ids=[],
                   ticket__article_count=0)
    data["article"] = {}
    assert make_connector().parse_webhook(*request(data)).kind is EventKind.created


def test_closed_state_is_closed(make_connector):
    data = payload(ticket__state="closed", ticket__article_ids=[104, 110], article__id=110)
    assert make_connector().parse_webhook(*request(data)).kind is EventKind.closed


def test_bot_internal_note_is_not_article_added(make_connector):
    data = payload(ticket__updated_by=BOT, ticket__updated_by_id=BOT_ID,
                   ticket__article_ids=[104, 111], article__id=111, article__internal=True,
                   article__created_by=BOT, article__created_by_id=BOT_ID)
    hint = make_connector().parse_webhook(*request(data))
    assert hint.kind is EventKind.updated and hint.self_caused is True


def test_self_caused_by_login_without_prepare(make_connector):
    data = payload(ticket__updated_by=BOT, ticket__updated_by_id=BOT_ID)
    data["article"] = {}
    connector = make_connector()
    hint = connector.parse_webhook(*request(data))
    assert hint.self_caused is True and hint.actor == str(BOT_ID)
    assert connector.bot_user_id == str(BOT_ID)  # learnt from the payload, no call


def test_bot_update_with_customer_article_is_not_self_caused(make_connector):
    data = payload(ticket__updated_by=BOT, ticket__updated_by_id=BOT_ID,
                   ticket__article_ids=[104, 110], article__id=110)
    assert make_connector().parse_webhook(*request(data)).self_caused is False


def test_other_users_are_not_the_bot(make_connector):
    assert make_connector().parse_webhook(*request(WEBHOOK_PAYLOAD)).self_caused is False


@responses.activate(assert_all_requests_are_fired=True)
def test_prepare_resolves_bot_id_for_payloads_without_user_objects(make_connector):
    responses.get(f"{API}/users/me", json=BOT)
    connector = make_connector()
    data = {"ticket": {"id": 81, "updated_by_id": BOT_ID, "state": "open"}, "article": {}}
    assert connector.parse_webhook(*request(data)).self_caused is False  # unknown bot id yet
    assert connector.prepare() == str(BOT_ID)
    assert connector.parse_webhook(*request(data)).self_caused is True
    data["article"] = {"id": 200, "created_by_id": 3}
    assert connector.parse_webhook(*request(data)).self_caused is False
    assert len(responses.calls) == 1  # parse_webhook never calls Zammad


# -- get_ticket ----------------------------------------------------------------------------------


def register_ticket_all(body: dict = TICKET_ALL) -> None:
    responses.get(f"{API}/tickets/3", json=body,
                  match=[matchers.query_param_matcher({"all": "true"})])


@responses.activate(assert_all_requests_are_fired=True)
def test_get_ticket_maps_the_all_answer(make_connector):
    register_ticket_all()
    responses.get(f"{API}/ticket_priorities", json=PRIORITIES)
    responses.get(f"{API}/ticket_states", json=STATES)
    ticket = make_connector().get_ticket("3")

    assert ticket.ref.key == "zammad:3" and ticket.number == "53003"
    assert ticket.title == "Order 787556"
    assert ticket.group == "Sales" and ticket.state == "closed"
    assert ticket.priority is Priority.high  # "3 high" is high and urgent: the lower wins
    assert ticket.owner == "chris@chrispresso.com"
    assert ticket.customer is not None
    assert ticket.customer.model_dump() == {
        "id": "7", "name": "Samuel Lopez", "login": "samuel@example.com",
        "email": "samuel@example.com", "phone": "+61 400 111",
    }
    assert ticket.tags == ["complaint", "vip"]
    assert ticket.fields == {"complaint_category": "billing", "complaint_severity": 2}
    assert ticket.created_at == datetime(2025, 1, 22, 10, 46, 58, 255000, tzinfo=timezone.utc)
    assert ticket.updated_by == "4"
    assert [a.id for a in ticket.articles] == ["5", "6"]
    first, note = ticket.articles
    assert (first.sender, first.type, first.internal, first.created_by) == (
        "Customer", "email", False, "7")
    assert (note.sender, note.type, note.internal, note.subject) == (
        "Agent", "note", True, "kesu:plan:abc")
    assert ticket.text() == "Order 787556\nMy coffee maker broke"


@responses.activate(assert_all_requests_are_fired=True)
def test_lookups_are_cached_and_assets_need_no_call(make_connector):
    body = copy.deepcopy(TICKET_ALL)
    body["assets"]["TicketPriority"] = {"3": {"id": 3, "name": "3 high"}}
    body["assets"]["TicketState"] = {"4": {"id": 4, "name": "closed"}}
    register_ticket_all(body)
    register_ticket_all(body)
    connector = make_connector()
    assert connector.get_ticket("3").state == "closed"
    assert connector.get_ticket("3").priority is Priority.high
    assert len(responses.calls) == 2  # one call per read, no lookups


@responses.activate(assert_all_requests_are_fired=True)
def test_unknown_id_reloads_the_lookup(make_connector, monkeypatch):
    monkeypatch.setattr("connector.zammad.connector.LOOKUP_REFRESH_SECONDS", 0.0)
    register_ticket_all()
    responses.get(f"{API}/ticket_priorities", json=PRIORITIES)
    responses.get(f"{API}/ticket_states", json=STATES)
    changed = copy.deepcopy(TICKET_ALL)
    changed["assets"]["Ticket"]["3"]["state_id"] = 7
    register_ticket_all(changed)
    responses.get(f"{API}/ticket_states", json=[*STATES, {"id": 7, "name": "escalated"}])
    connector = make_connector()
    assert connector.get_ticket("3").state == "closed"
    assert connector.get_ticket("3").state == "escalated"


@responses.activate(assert_all_requests_are_fired=True)
def test_unassigned_owner_and_missing_owner_asset(make_connector):
    body = copy.deepcopy(TICKET_ALL)
    body["assets"]["Ticket"]["3"].update(owner_id=1, priority="2 normal", state="open")
    register_ticket_all(body)
    other = copy.deepcopy(TICKET_ALL)
    other["assets"]["Ticket"]["3"].update(owner_id=5, priority="2 normal", state="open")
    register_ticket_all(other)
    register_ticket_all(other)
    responses.get(f"{API}/users/5", json={"id": 5, "login": "emma@chrispresso.com"})
    connector = make_connector()
    assert connector.get_ticket("3").owner is None
    assert connector.get_ticket("3").owner == "emma@chrispresso.com"
    assert connector.get_ticket("3").owner == "emma@chrispresso.com"  # cached: no 2nd /users/5


@responses.activate(assert_all_requests_are_fired=True)
def test_missing_ticket_asset_is_protocol_error(make_connector):
    register_ticket_all({"ticket_id": 3, "assets": {}})
    with pytest.raises(ProtocolError, match="Ticket asset"):
        make_connector().get_ticket("3")


def test_note_marker_present(make_connector):
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        body = copy.deepcopy(TICKET_ALL)
        body["assets"]["Ticket"]["3"].update(priority="3 high", state="closed")
        rsps.get(f"{API}/tickets/3", json=body)
        ticket = connector.get_ticket("3")
    assert connector.note_marker_present(ticket, "kesu:plan:abc") is True
    assert connector.note_marker_present(ticket, "kesu:plan:other") is False


# -- apply ---------------------------------------------------------------------------------------


def ticket_ref_only(connector: ZammadConnector):
    from kesu.models import Ticket

    return Ticket(ref=TicketRef(helpdesk=connector.name, id="3"))


@responses.activate(assert_all_requests_are_fired=True)
def test_apply_is_one_put_plus_one_call_per_tag(make_connector):
    connector = make_connector()
    put_body = {
        "complaint_category": "quality",
        "priority": "3 high",
        "group": "Complaints",
        "owner": "emma@chrispresso.com",
        "article": {"subject": "kesu:plan:abc", "body": "R-TIER-1: tier 2", "type": "note",
                    "internal": True, "content_type": "text/plain"},
    }
    responses.put(f"{API}/tickets/3", json={"id": 3}, match=[matchers.json_params_matcher(put_body)])
    for tag in ("complaint", "tier-2"):
        responses.post(f"{API}/tags/add", json=True, status=201, match=[
            matchers.json_params_matcher({"item": tag, "object": "Ticket", "o_id": 3})])
    responses.delete(f"{API}/tags/remove", json=True, match=[
        matchers.json_params_matcher({"item": "new", "object": "Ticket", "o_id": 3})])
    writes = WriteSet(
        priority=Priority.urgent, group="Complaints", owner="emma@chrispresso.com",
        fields={"complaint_category": "quality"}, add_tags=["complaint", "tier-2", "complaint"],
        remove_tags=["new"], note="R-TIER-1: tier 2", note_subject="kesu:plan:abc",
    )
    result = connector.apply(ticket_ref_only(connector), writes)
    assert result.calls == 4 == len(responses.calls)


@responses.activate(assert_all_requests_are_fired=True)
def test_apply_tags_only_makes_no_put(make_connector):
    connector = make_connector()
    responses.post(f"{API}/tags/add", json=True, status=201)
    assert connector.apply(ticket_ref_only(connector), WriteSet(add_tags=["x"])).calls == 1


@responses.activate(assert_all_requests_are_fired=True)
def test_apply_note_only_is_one_put(make_connector):
    connector = make_connector()
    responses.put(f"{API}/tickets/3", json={"id": 3}, match=[matchers.json_params_matcher({
        "article": {"body": "n", "type": "note", "internal": True, "content_type": "text/plain"}})])
    assert connector.apply(ticket_ref_only(connector), WriteSet(note="n")).calls == 1


@responses.activate(assert_all_requests_are_fired=True)
def test_empty_write_set_makes_no_call(make_connector):
    connector = make_connector()
    assert connector.apply(ticket_ref_only(connector), WriteSet()).calls == 0
    assert len(responses.calls) == 0


@responses.activate(assert_all_requests_are_fired=True)
def test_todo_becomes_a_pending_reminder_in_the_same_put(make_connector):
    connector = make_connector()
    due = datetime(2026, 3, 4, 2, 0, tzinfo=timezone.utc)
    responses.put(f"{API}/tickets/3", json={"id": 3}, match=[matchers.json_params_matcher({
        "state": "pending reminder", "pending_time": "2026-03-04T02:00:00Z", "owner": "agent1@example.com",
        "article": {"body": "n", "type": "note", "internal": True, "content_type": "text/plain"}})])
    todos = [Todo(key="cb", summary="回访", due_at=due, assignee="agent1@example.com", rule_id="R-CB-6.36"),
             Todo(key="later", summary="x", due_at=due.replace(day=5), rule_id="R-CB-6.36")]
    assert connector.apply(ticket_ref_only(connector), WriteSet(note="n", todos=todos)).calls == 1


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_fields_put_answered_504_is_checked_by_its_values_not_resent(make_connector):
    connector = make_connector()
    responses.put(f"{API}/tickets/3", status=504)  # applied; the answer was lost
    taken = copy.deepcopy(TICKET_ALL)  # priority_id 3 = "3 high", group "Sales"
    responses.get(f"{API}/tickets/3", json=taken)
    responses.get(f"{API}/ticket_priorities", json=PRIORITIES)
    writes = WriteSet(priority=Priority.urgent, group="Sales", fields={"complaint_category": "billing"})
    assert connector.apply(ticket_ref_only(connector), writes).calls == 1
    assert [c.request.method for c in responses.calls] == ["PUT", "GET", "GET"]


@responses.activate(registry=OrderedRegistry, assert_all_requests_are_fired=True)
def test_note_put_answered_504_is_checked_by_its_marker(make_connector):
    connector = make_connector()
    responses.put(f"{API}/tickets/3", status=504)
    responses.get(f"{API}/tickets/3", json=TICKET_ALL)  # article 6 carries the marker
    assert connector.apply(ticket_ref_only(connector),
                           WriteSet(note="tier 2", note_subject="kesu:plan:abc")).calls == 1
    assert len(responses.calls) == 2


def test_recovery_sends_nothing_the_ticket_already_holds(make_connector):
    """Finishing an interrupted write: the marker note proves the whole PUT landed (to-do state
    included), and a priority two kesu levels share ("3 high") is not written again."""
    connector = make_connector()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        body = copy.deepcopy(TICKET_ALL)
        body["assets"]["Ticket"]["3"].update(priority="3 high", state="open")
        rsps.get(f"{API}/tickets/3", json=body)
        ticket = connector.get_ticket("3")
    assert ticket.priority is Priority.high  # "3 high" reads back as the lower level
    due = datetime(2026, 3, 4, 2, 0, tzinfo=timezone.utc)
    landed = WriteSet(priority=Priority.urgent, note="tier 2", note_subject="kesu:plan:abc",
                      todos=[Todo(key="cb", summary="回访", due_at=due, rule_id="R-CB-6.36")],
                      add_tags=["complaint", "tier-2"])
    rest = connector.unapplied(ticket, landed)
    assert rest.model_dump(exclude_defaults=True) == {"add_tags": ["tier-2"]}
    priority_only = connector.unapplied(ticket, WriteSet(priority=Priority.urgent))
    assert priority_only.is_empty()


def test_apply_refuses_other_helpdesks_tickets(make_connector):
    from kesu.models import Ticket

    with pytest.raises(ValueError, match="does not belong"):
        make_connector().apply(Ticket(ref=TicketRef(helpdesk="odoo", id="3")), WriteSet(note="x"))


# -- poll ----------------------------------------------------------------------------------------


@responses.activate(assert_all_requests_are_fired=True)
def test_poll_updated_pages_until_a_short_page(make_connector):
    def rows(start: int, count: int) -> list[dict]:
        return [{"id": i, "updated_at": "2025-06-01T10:00:00.000Z", "updated_by_id": 3}
                for i in range(start, start + count)]

    condition = {"ticket.updated_at": {"operator": "after (absolute)",
                                       "value": "2025-06-01T10:00:00Z"}}
    for page, batch in ((1, rows(1, 100)), (2, rows(101, 100)), (3, rows(201, 3))):
        responses.post(f"{API}/tickets/search", json=batch, match=[matchers.json_params_matcher(
            {"condition": condition, "sort_by": "updated_at", "order_by": "asc",
             "page": page, "per_page": 100})])
    since = datetime(2025, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))  # 10:00 UTC
    changes = list(make_connector().poll_updated(since))
    assert len(changes) == 203
    assert changes[0].ref.key == "zammad:1" and changes[-1].ref.key == "zammad:203"
    assert changes[0].updated_by == "3"
    assert changes[0].updated_at == datetime(2025, 6, 1, 10, 0, tzinfo=timezone.utc)


@responses.activate(assert_all_requests_are_fired=True)
def test_poll_updated_takes_naive_datetimes_as_utc(make_connector):
    responses.post(f"{API}/tickets/search", json=[], match=[matchers.json_params_matcher(
        {"condition": {"ticket.updated_at": {"operator": "after (absolute)",
                                             "value": "2025-06-01T10:00:00Z"}},
         "sort_by": "updated_at", "order_by": "asc", "page": 1, "per_page": 100})])
    assert list(make_connector().poll_updated(datetime(2025, 6, 1, 10, 0))) == []
