"""OdooConnector against the responses-backed stub: intake, reads, one-write apply, polling."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import SecretStr

from connector.base import Todo, WriteSet, change_delivery_id
from connector.errors import ConnectorUnavailable, InvalidRequest, NotFound, WebhookRejected
from connector.odoo.connector import OdooConnector
from connector.odoo.options import OdooOptions
from connector.odoo.values import html_text, note_html, odoo_time, priority_values
from kesu.models import EventKind, Priority
from kesu.settings import HelpdeskSettings
from tests.odoo.stub import BASE, BOT_UID, OCA_FIELDS, SECRET, settings
from tests.odoo.stub import make_connector, make_stub, protocol, rsps, sleeps  # noqa: F401 (fixtures)

WEBHOOK = {  # reference example: automation rule "Send Webhook Notification" body
    "_action": "kesu: send webhook(#57)", "_id": 42, "_model": "helpdesk.ticket",
    "create_date": "2025-03-04 09:12:44.861034", "id": 42, "name": "Parcel arrived damaged",
    "partner_id": 7, "priority": "2", "stage_id": 1, "tag_ids": [3, 5], "team_id": 1,
    "user_id": False, "write_date": "2025-03-04 09:12:45.102318", "write_uid": 2,
}
T = datetime(2025, 3, 4, 9, 12, 45, tzinfo=timezone.utc)

TICKET_ROW = {
    "id": 42, "name": "Parcel arrived damaged",
    "description": "<p>The box was crushed &amp; the device does not start.</p><p>Order 4711</p>",
    "team_id": [1, "Customer Care"], "user_id": [6, "Marc Demo"], "stage_id": [1, "New"],
    "priority": "2", "tag_ids": [3, 5], "partner_id": [7, "Deco Addict, Jane Doe"],
    "partner_name": "Jane Doe", "partner_email": "jane.doe@example.com", "partner_phone": False,
    "ticket_ref": "00042", "fold": False, "create_date": "2025-03-04 09:12:44",
    "write_date": "2025-03-04 09:12:45", "write_uid": [2, "Mitchell Admin"],
    "x_batch": "20261101",
}


def body(**changes) -> bytes:
    return json.dumps({**WEBHOOK, **changes}).encode()


def ready(stub, conn: OdooConnector) -> None:
    """Prepare outside the counted part of a test."""
    conn.prepare()
    stub.calls.clear()


def with_lookups(stub) -> None:
    stub.on("helpdesk.ticket", "read", [TICKET_ROW])
    stub.on("helpdesk.tag", "read", lambda ids, p: [{"id": i, "name": {3: "damaged", 5: "vip"}[i]} for i in ids])
    stub.on("res.users", "read", lambda ids, p: [{"id": i, "login": "marc"} for i in ids])


# -- options ---------------------------------------------------------------------------------------


def test_options_errors_name_the_allowed_values():
    with pytest.raises(ValueError) as caught:
        OdooConnector(settings("xmlrpc"))
    assert "protocol: Input should be 'auto', 'jsonrpc' or 'json2' (got 'xmlrpc')" in str(caught.value)
    with pytest.raises(ValueError, match="flavour: Input should be 'auto', 'enterprise' or 'oca'"):
        OdooConnector(settings(flavour="community"))
    with pytest.raises(ValueError, match="databse: unknown option.*Allowed options: database, login"):
        OdooConnector(settings(databse="x"))
    with pytest.raises(ValueError, match="database is required with protocol 'jsonrpc'"):
        OdooConnector(HelpdeskSettings(url=BASE, options={"protocol": "jsonrpc"}))
    with pytest.raises(ValueError, match="'json2' needs Odoo 19"):
        OdooOptions.from_settings({"protocol": "json2", "version": 18})


def test_priority_map_zammad_names_fall_back_to_odoo_defaults_and_odoo_values_are_checked():
    zammad_default = HelpdeskSettings().priority_map
    assert priority_values(zammad_default) == {Priority.low: "0", Priority.normal: "1",
                                               Priority.high: "2", Priority.urgent: "3"}
    custom = priority_values({"low": "0", "normal": "0", "high": "1", "urgent": "3"})
    assert custom[Priority.normal] == "0"
    with pytest.raises(ValueError, match="values Odoo priorities '0', '1', '2', '3'"):
        priority_values({"low": "0", "normal": "1", "high": "2", "urgent": "4"})


# -- intake ----------------------------------------------------------------------------------------


def test_webhook_with_token_in_query_gives_the_change_delivery_id(make_connector):
    hint = make_connector().parse_webhook({}, body(), {"token": SECRET})
    assert hint.ref.id == "42" and hint.ref.helpdesk == "odoo"
    assert hint.kind is EventKind.updated and hint.actor == "2" and not hint.self_caused
    # Same key as the poll's row for this change ("2025-03-04 09:12:45" from search_read).
    assert hint.delivery_id == change_delivery_id("42", T)
    assert hint.facts["action"] == "kesu: send webhook(#57)"


def test_webhook_secret_in_a_configured_header(make_connector):
    conn = make_connector(webhook_secret_header="X-Odoo-Secret")
    assert conn.parse_webhook({"x-odoo-secret": SECRET}, body()).ref.id == "42"


@pytest.mark.parametrize(("headers", "query", "reason"), [
    ({}, {}, "missing shared secret: ?token=... in the webhook URL or a x-kesu-token header"),
    ({}, {"token": "guess"}, "shared secret does not match"),
    ({"x-kesu-token": "guess"}, {}, "shared secret does not match"),
])
def test_webhook_without_the_right_secret_is_401(make_connector, headers, query, reason):
    with pytest.raises(WebhookRejected) as caught:
        make_connector().parse_webhook(headers, body(), query)
    assert (caught.value.status, caught.value.reason) == (401, reason)


def test_webhook_secret_not_configured_is_401():
    conn = OdooConnector(settings().model_copy(update={"webhook_secret": SecretStr("")}))
    with pytest.raises(WebhookRejected, match="webhook secret not configured"):
        conn.parse_webhook({}, body(), {"token": ""})


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "body is not valid JSON"),
    (b"[1]", "body must be a JSON object, got list"),
    (json.dumps({**WEBHOOK, "_model": "crm.lead"}).encode(), "_model must be 'helpdesk.ticket', got 'crm.lead'"),
    (json.dumps({**WEBHOOK, "_id": "42"}).encode(), "_id must be a record id, got '42'"),
    (json.dumps({**WEBHOOK, "write_date": "yesterday"}).encode(), "write_date is not an Odoo datetime"),
])
def test_malformed_webhook_is_422_with_the_reason(make_connector, raw, reason):
    with pytest.raises(WebhookRejected) as caught:
        make_connector().parse_webhook({}, raw, {"token": SECRET})
    assert caught.value.status == 422 and reason in caught.value.reason


def test_webhook_by_the_bot_is_self_caused_and_a_new_ticket_is_created(make_connector):
    conn = make_connector(uid=BOT_UID)
    assert conn.parse_webhook({}, body(write_uid=BOT_UID), {"token": SECRET}).self_caused
    created = conn.parse_webhook({}, body(create_date=WEBHOOK["write_date"]), {"token": SECRET})
    assert created.kind is EventKind.created
    no_date = conn.parse_webhook({}, body(write_date=None), {"token": SECRET})
    assert no_date.delivery_id is None


# -- preparation and reads ---------------------------------------------------------------------------


def test_prepare_detects_version_protocol_uid_and_flavour(make_connector, make_stub, protocol):
    stub = make_stub(protocol)
    conn = make_connector("auto")
    assert conn.prepare() == str(BOT_UID) == conn.bot_user_id
    schema = conn.schema
    assert schema.protocol == protocol and schema.flavour.name == "enterprise"
    assert "x_batch" in schema.custom_fields and "x_photo" not in schema.read_fields
    assert [c.method for c in stub.calls] in (["fields_get"], ["context_get", "fields_get"])


def test_oca_flavour_is_detected_from_the_team_relation(make_connector, make_stub):
    make_stub("jsonrpc", fields=OCA_FIELDS)
    conn = make_connector()
    conn.prepare()
    assert conn.schema.flavour.tag == "helpdesk.ticket.tag"
    assert "closed" in conn.schema.read_fields and "number" in conn.schema.read_fields


def test_no_helpdesk_app_says_what_to_install(make_connector, make_stub):
    stub = make_stub("jsonrpc")
    del stub.handlers[("helpdesk.ticket", "fields_get")]
    with pytest.raises(NotFound, match="install Helpdesk \\(Enterprise\\) or helpdesk_mgmt \\(OCA\\)"):
        make_connector().prepare()


def test_get_ticket_is_one_read_plus_cached_names(make_connector, make_stub, protocol):
    stub = make_stub(protocol)
    with_lookups(stub)
    conn = make_connector(protocol)
    ready(stub, conn)
    t = conn.get_ticket("42")
    assert (t.title, t.number, t.group, t.state, t.owner) == (
        "Parcel arrived damaged", "00042", "Customer Care", "New", "marc")
    assert t.priority is Priority.high and t.tags == ["damaged", "vip"] and not t.closed
    assert t.customer.name == "Jane Doe" and t.customer.email == "jane.doe@example.com"
    assert t.articles[0].body == "The box was crushed & the device does not start.\nOrder 4711"
    assert "crushed" in t.text() and t.fields == {"x_batch": "20261101", "batch": "20261101"}  # also under kesu's name
    assert t.updated_at == T and t.updated_by == "2"
    assert [c.method for c in stub.calls] == ["read", "read", "read"]  # ticket, tags, user
    stub.calls.clear()
    conn.get_ticket("42")
    assert [(c.model, c.method) for c in stub.calls] == [("helpdesk.ticket", "read")]


def test_a_missing_ticket_is_not_found(make_connector, make_stub):
    stub = make_stub("jsonrpc")
    stub.on("helpdesk.ticket", "read", [])
    with pytest.raises(NotFound, match="Odoo has no helpdesk.ticket 99"):
        make_connector().get_ticket("99")


def test_a_read_before_odoo_committed_the_announced_change_is_retried(make_connector, make_stub):
    # Odoo 17/18 post the webhook inside the writing transaction: a read may come before the commit.
    stub = make_stub("jsonrpc")
    with_lookups(stub)
    rows: list = [[], [{**TICKET_ROW, "write_date": "2025-03-04 09:12:44"}], [TICKET_ROW], []]
    stub.on("helpdesk.ticket", "read", lambda ids, p: rows.pop(0))
    conn = make_connector()
    conn.parse_webhook({}, body(), {"token": SECRET})
    with pytest.raises(ConnectorUnavailable, match="helpdesk.ticket 42 does not exist yet.*not committed"):
        conn.get_ticket("42")
    with pytest.raises(ConnectorUnavailable, match="still shows write_date 2025-03-04 09:12:44"):
        conn.get_ticket("42")
    assert conn.get_ticket("42").updated_at == T
    with pytest.raises(NotFound):  # nothing announced any more: a missing ticket is gone
        conn.get_ticket("42")


def test_closed_on_16_comes_from_the_stage_fold(make_connector, make_stub):
    fields = {k: v for k, v in OCA_FIELDS.items() if k != "closed"}
    fields["team_id"] = {"type": "many2one", "relation": "helpdesk.team"}
    stub = make_stub("jsonrpc", version=16, fields=fields)
    stub.on("helpdesk.ticket", "read", [{**TICKET_ROW, "stage_id": [4, "Solved"], "tag_ids": [],
                                         "user_id": False}])
    stub.on("helpdesk.stage", "search_read", [{"id": 1, "fold": False}, {"id": 4, "fold": True}])
    assert make_connector().get_ticket("42").closed is True


# -- writes ----------------------------------------------------------------------------------------


def test_empty_write_set_makes_no_call(make_connector, make_stub):
    stub = make_stub("jsonrpc")
    with_lookups(stub)
    conn = make_connector()
    ticket = conn.get_ticket("42")
    stub.calls.clear()
    assert conn.apply(ticket, WriteSet()).calls == 0 and stub.calls == []


def test_apply_is_one_write_then_activities_then_the_note(make_connector, make_stub, protocol):
    stub = make_stub(protocol)
    with_lookups(stub)
    stub.on("helpdesk.team", "search_read", [{"id": 3, "name": "Complaints"}])
    stub.on("res.users", "search_read", lambda ids, p: [{"id": 9, "login": "lead"}]
            if p["domain"][0][2] == ["lead"] else [])
    stub.on("helpdesk.tag", "search_read", [{"id": 5, "name": "vip"}])
    stub.on("helpdesk.tag", "create", lambda ids, p: [11])
    stub.on("helpdesk.ticket", "write", True)
    stub.on("ir.model", "search_read", [{"id": 312, "model": "helpdesk.ticket"}])
    stub.on("ir.model.data", "search_read", [{"id": 1, "res_id": 4}])
    stub.on("mail.activity", "create", lambda ids, p: [57])
    stub.on("helpdesk.ticket", "message_post", 901)
    conn = make_connector(protocol)
    ticket = conn.get_ticket("42")
    stub.calls.clear()
    due = datetime(2025, 3, 6, 9, 0, tzinfo=timezone.utc)
    writes = WriteSet(priority=Priority.urgent, group="Complaints", owner="lead",
                      add_tags=["客诉-A类"], remove_tags=["vip"], fields={"x_batch": "B2"},
                      note="[R-TIER-1.9.1-A] priority → urgent\n<script>x</script>",
                      note_subject="kesu #abc123",
                      todos=[Todo(key="callback", summary="Call the customer back", due_at=due,
                                  rule_id="R-CB-6.36")])
    result = conn.apply(ticket, writes)

    (write,) = stub.called("helpdesk.ticket", "write")
    assert write.ids == [42]
    assert write.params["vals"] == {"x_batch": "B2", "priority": "3", "team_id": 3, "user_id": 9,
                                    "tag_ids": [[4, 11, 0], [3, 5, 0]]}
    (activity,) = stub.called("mail.activity", "create")
    assert activity.params["vals_list"] == [{
        "res_model_id": 312, "res_id": 42, "activity_type_id": 4, "summary": "Call the customer back",
        "note": "<p>Call the customer back</p><p>[R-CB-6.36]</p>", "date_deadline": "2025-03-06",
        "user_id": 9}]
    (post,) = stub.called("helpdesk.ticket", "message_post")
    assert post.params == {
        "body": "<p>[R-TIER-1.9.1-A] priority → urgent</p><p>&lt;script&gt;x&lt;/script&gt;</p>",
        "message_type": "comment", "subtype_xmlid": "mail.mt_note", "subject": "kesu #abc123",
        "body_is_html": True}
    order = [(c.model, c.method) for c in stub.calls]
    assert order.index(("helpdesk.ticket", "write")) < order.index(("mail.activity", "create")) \
        < order.index(("helpdesk.ticket", "message_post")) == len(order) - 1
    assert result.calls == len(stub.calls) == 9  # 3 writes + 6 one-off lookups (now cached)
    stub.calls.clear()
    again = conn.apply(ticket, writes)
    assert again.calls == 3 == len(stub.calls)


def test_on_16_the_note_body_is_sent_without_body_is_html(make_connector, make_stub):
    stub = make_stub("jsonrpc", version=16)
    with_lookups(stub)
    stub.on("helpdesk.ticket", "message_post", 1)
    conn = make_connector()
    conn.apply(conn.get_ticket("42"), WriteSet(note="a & b"))
    assert stub.called(method="message_post")[0].params == {
        "body": "<p>a &amp; b</p>", "message_type": "comment", "subtype_xmlid": "mail.mt_note"}


def test_unknown_team_or_login_is_invalid_request_naming_it(make_connector, make_stub):
    stub = make_stub("jsonrpc")
    with_lookups(stub)
    stub.on("helpdesk.team", "search_read", [])
    stub.on("res.users", "search_read", [])
    conn = make_connector()
    ticket = conn.get_ticket("42")
    with pytest.raises(InvalidRequest, match="no helpdesk team named 'Nobody' \\(helpdesk.team\\)"):
        conn.apply(ticket, WriteSet(group="Nobody"))
    with pytest.raises(InvalidRequest, match="no user with login 'ghost'"):
        conn.apply(ticket, WriteSet(owner="ghost"))


def test_finishing_an_interrupted_write_does_not_duplicate_activities(make_connector, make_stub):
    stub = make_stub("jsonrpc")
    with_lookups(stub)
    stub.on("ir.model", "search_read", [{"id": 312, "model": "helpdesk.ticket"}])
    stub.on("ir.model.data", "search_read", [{"id": 1, "res_id": 4}])
    stub.on("mail.activity", "create", lambda ids, p: [58])
    stub.on("helpdesk.ticket", "message_post", 902)
    due = datetime(2025, 3, 6, 9, 0, tzinfo=timezone.utc)
    todos = [Todo(key="a", summary="Call back", due_at=due, rule_id="R-1"),
             Todo(key="b", summary="Send letter", due_at=due, rule_id="R-2")]
    conn = make_connector()
    ticket = conn.get_ticket("42")

    # The note landed: everything before it did too; only the fields are re-checked.
    stub.on("mail.message", "search_read", [{"id": 901}])
    assert conn.note_marker_present(ticket, "kesu #m1") is True
    conn.apply(ticket, WriteSet(todos=todos))
    assert not stub.called("mail.activity", "create")

    # The note did not land: one search finds the to-do that did.
    stub.on("mail.message", "search_read", [])
    stub.on("mail.activity", "search_read", [{"id": 57, "summary": "Call back", "date_deadline": "2025-03-06"}])
    assert conn.note_marker_present(ticket, "kesu #m2") is False
    conn.apply(ticket, WriteSet(todos=todos, note="x", note_subject="kesu #m2"))
    (created,) = stub.called("mail.activity", "create")
    assert [v["summary"] for v in created.params["vals_list"]] == ["Send letter"]
    (search,) = stub.called("mail.message", "search_read")[-1:]
    assert search.params["domain"] == [["model", "=", "helpdesk.ticket"], ["res_id", "=", 42],
                                       ["subject", "=", "kesu #m2"]]


# -- polling ---------------------------------------------------------------------------------------


def test_poll_pages_by_write_date_and_skips_seen_ids_of_the_last_second(make_connector, make_stub):
    stub = make_stub("json2")
    pages = [
        [{"id": 1, "write_date": "2025-03-04 09:00:00", "write_uid": [2, "A"]},
         {"id": 2, "write_date": "2025-03-04 09:00:01", "write_uid": [7, "kesu"]}],
        [{"id": 3, "write_date": "2025-03-04 09:00:01", "write_uid": [2, "A"]}],
    ]
    stub.on("helpdesk.ticket", "search_read", lambda ids, p: pages.pop(0))
    conn = make_connector("json2", version=19, poll_page_size=2)
    changes = list(conn.poll_updated(datetime(2025, 3, 4, 9, 1, tzinfo=timezone.utc)))
    assert [(c.ref.id, c.updated_by) for c in changes] == [("1", "2"), ("2", "7"), ("3", "2")]
    assert changes[0].updated_at == datetime(2025, 3, 4, 9, 0, tzinfo=timezone.utc)
    first, second = stub.called("helpdesk.ticket", "search_read")
    assert first.params == {"domain": [["write_date", ">=", "2025-03-04 09:00:00"]],
                            "fields": ["write_date", "write_uid"], "limit": 2,
                            "order": "write_date asc, id asc"}  # 60 s overlap before the cursor
    assert second.params["domain"] == [["write_date", ">=", "2025-03-04 09:00:01"], ["id", "not in", [2]]]


# -- values ----------------------------------------------------------------------------------------


def test_value_helpers():
    assert odoo_time("2025-03-04 09:12:45.102318") == T == odoo_time("2025-03-04 09:12:45")
    assert odoo_time(False) is None and odoo_time("soon") is None
    assert note_html("a <b>\n\nc") == "<p>a &lt;b&gt;</p><p>c</p>"
    assert html_text("<p>x&nbsp;y</p><ul><li>1</li><li>2</li></ul>") == "x y\n1\n2"
