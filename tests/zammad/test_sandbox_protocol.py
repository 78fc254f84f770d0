"""The sandbox Zammad speaks Zammad's protocol.

Driven with the third-party client ``zammad_py`` (paths, auth header, pagination conventions) and
plain ``requests`` (status codes, error bodies, transactions, triggers, webhooks), checked against
the researched facts in reference/zammad.md and the saved example payloads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any

import pytest
import requests
from zammad_py import ZammadAPI

from connector.zammad.sandbox import SandboxZammad, signature

from .conftest import Receiver

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Keys of the saved examples (reference/examples/rest_ticket_show_expand_{false,true}.api-docs.json)
PLAIN_KEYS = {
    "id", "group_id", "priority_id", "state_id", "organization_id", "number", "title", "owner_id",
    "customer_id", "note", "first_response_at", "first_response_escalation_at",
    "first_response_in_min", "first_response_diff_in_min", "close_at", "close_escalation_at",
    "close_in_min", "close_diff_in_min", "update_escalation_at", "update_in_min",
    "update_diff_in_min", "last_close_at", "last_contact_at", "last_contact_agent_at",
    "last_contact_customer_at", "last_owner_update_at", "create_article_type_id",
    "create_article_sender_id", "article_count", "escalation_at", "pending_time", "type",
    "time_unit", "preferences", "updated_by_id", "created_by_id", "created_at", "updated_at",
    "checklist_id",
}
EXPAND_EXTRA_KEYS = {
    "referencing_checklist_ids", "article_ids", "ticket_time_accounting_ids",
    "ai_stored_result_ids", "referencing_checklists", "group", "organization",
    "ticket_time_accounting", "state", "priority", "owner", "customer", "created_by",
    "updated_by", "create_article_type", "create_article_sender", "ai_stored_results",
}


def session(sandbox: SandboxZammad, login: str | None = "agent1@example.com") -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    if login:
        s.headers["Authorization"] = f"Token token={sandbox.token_for(login)}"
    return s


def zammad_py(sandbox: SandboxZammad, login: str = "agent1@example.com") -> ZammadAPI:
    api = ZammadAPI(url=f"{sandbox.url}/api/v1/", http_token=sandbox.token_for(login))
    api.session.trust_env = False
    return api


# -------------------------------------------------------------------------- zammad_py client


def test_zammad_py_users_me_and_lookups(sandbox: SandboxZammad) -> None:
    api = zammad_py(sandbox, "kesu-bot@localhost")
    me = api.user.me()
    assert me["login"] == "kesu-bot@localhost"
    assert me["id"] == sandbox.bot_user_id
    assert "password" not in me
    assert [p["name"] for p in api.ticket_priority.all()] == ["1 low", "2 normal", "3 high"]
    states = {s["name"]: s["id"] for s in api.ticket_state.all()}
    assert states == {"new": 1, "open": 2, "pending reminder": 3, "closed": 4, "merged": 5,
                      "removed": 6, "pending close": 7}
    groups = [g["name"] for g in api.group.all()]
    assert groups == ["Users", "Service Desk", "质检部", "生产班组", "营销部"]
    assert api.user.find(1)["login"] == "-"
    found = api.user.search("agent2")
    assert [u["login"] for u in found] == ["agent2@example.com"]


def test_zammad_py_ticket_create_find_update(sandbox: SandboxZammad) -> None:
    api = zammad_py(sandbox)
    created = api.ticket.create({
        "title": "豆腐发霉",
        "group": "质检部",
        "customer": "customer@example.com",
        "tags": "complaint, food",
        "article": {"subject": "豆腐发霉", "body": "打开就发霉", "type": "phone",
                    "sender": "Customer", "internal": False},
    })
    assert set(created) == PLAIN_KEYS
    assert created["number"] == "31001"
    assert created["customer_id"] == sandbox.user_id("customer@example.com")
    assert created["owner_id"] == 1 and created["state_id"] == 1 and created["priority_id"] == 2
    assert created["create_article_type_id"] == 5 and created["create_article_sender_id"] == 2
    assert created["organization_id"] is not None  # the customer's organization
    assert TS.match(created["created_at"]) and created["created_at"] == created["updated_at"]

    found = api.ticket.find(created["id"])
    assert found == created
    assert api.ticket.tags(created["id"]) == {"tags": ["complaint", "food"]}

    updated = api.ticket.update(created["id"], {
        "priority": "3 high", "state": "open", "owner": "agent2@example.com", "group_id": 2,
        "group": "营销部",  # *_id wins over the name
    })
    assert updated["priority_id"] == 3 and updated["state_id"] == 2 and updated["group_id"] == 2
    assert updated["owner_id"] == sandbox.user_id("agent2@example.com")
    assert updated["updated_by_id"] == sandbox.user_id("agent1@example.com")
    assert TS.match(updated["updated_at"]) and updated["updated_at"] > created["updated_at"]
    assert updated["last_owner_update_at"] == updated["updated_at"]

    articles = api.ticket.articles(created["id"])
    assert [a["body"] for a in articles] == ["打开就发霉"]
    assert articles[0]["sender"] == "Customer" and articles[0]["type"] == "phone"
    assert articles[0]["created_by"] == "agent1@example.com"


def test_zammad_py_all_pagination(sandbox: SandboxZammad) -> None:
    for i in range(23):
        sandbox.create_ticket(f"T{i}", "body")
    api = zammad_py(sandbox)
    page = api.ticket.all(filters={"per_page": 10})
    seen = [t["id"] for t in page]
    assert len(page) == 10 and not page.is_last_page()
    assert page[0]["state"] == "new"  # zammad_py asks for expand=true
    while not page.is_last_page():
        page = page.next_page()
        seen += [t["id"] for t in page]
    assert seen == list(range(1, 24))
    assert len(api.ticket.all(filters={"per_page": 500})) == 23
    for i in range(100):
        sandbox.create_ticket(f"U{i}", "body")
    assert len(api.ticket.all(filters={"per_page": 500})) == 100  # capped at 100


def test_zammad_py_tags(sandbox: SandboxZammad) -> None:
    t = sandbox.create_ticket("Tags", "body")
    api = zammad_py(sandbox)
    assert api.ticket.tags(t["id"]) == {"tags": []}
    assert api.ticket_tag.add(t["id"], "vip-complaint") is True
    assert api.ticket_tag.add(t["id"], "vip-complaint") is True  # no-op, no duplicate
    assert api.ticket_tag.add(t["id"], "kesu:v1") is True
    assert api.ticket.tags(t["id"]) == {"tags": ["vip-complaint", "kesu:v1"]}
    assert api.ticket_tag.remove(t["id"], "vip-complaint") is True
    assert api.ticket.tags(t["id"]) == {"tags": ["kesu:v1"]}
    assert sandbox.ticket(t["id"])["tags"] == ["kesu:v1"]


def test_zammad_py_search(sandbox: SandboxZammad) -> None:
    a = sandbox.create_ticket("豆浆里有异物", "发现一根头发")
    sandbox.create_ticket("包装破损", "出水严重")
    sandbox.add_article(a["id"], "孩子也喝了 zebra")
    api = zammad_py(sandbox)
    hits = api.ticket.search("ZEBRA")  # article bodies, case-insensitive
    assert [t["id"] for t in hits] == [a["id"]]
    assert hits[0]["state"] == "new" and hits[0]["customer"] == "customer@example.com"
    assert [t["id"] for t in api.ticket.search("包装")] == [a["id"] + 1]
    assert [t["number"] for t in api.ticket.search(a["number"])] == [a["number"]]


# ------------------------------------------------------------------------------ auth, errors


def test_authentication_errors(sandbox: SandboxZammad) -> None:
    url = f"{sandbox.api_url}/users/me"
    r = session(sandbox, None).get(url)
    # no credentials at all: Zammad raises Exceptions::Forbidden('Authentication required')
    assert r.status_code == 403
    assert r.json() == {"error": "Authentication required", "error_human": "Authentication required"}
    assert r.headers["X-Failure"] == "Authentication required"

    r = requests.get(url, headers={"Authorization": "Token token=nope"})
    assert r.status_code == 401
    assert r.json() == {"error": "Can't find User for Token", "error_human": "Can't find User for Token"}
    assert r.headers["X-Failure"] == "Can't find User for Token"

    r = requests.get(url, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["X-Failure"] == "The provided token is invalid."

    token = sandbox.token_for("agent2@example.com")
    for header in (f"Token token={token}", f'Token token="{token}"', f"Bearer {token}"):
        r = requests.get(url, headers={"Authorization": header})
        assert r.status_code == 200 and r.json()["login"] == "agent2@example.com"


def test_error_bodies_404_422_403(sandbox: SandboxZammad) -> None:
    s = session(sandbox)
    r = s.get(f"{sandbox.api_url}/tickets/99")
    assert r.status_code == 404
    assert r.json() == {"error": "Couldn't find Ticket with 'id'=99",
                        "error_human": "Couldn't find Ticket with 'id'=99"}
    r = s.get(f"{sandbox.api_url}/no_such_thing")
    assert r.status_code == 404 and r.json()["error"] == 'No route matches [GET] "/api/v1/no_such_thing"'

    t = sandbox.create_ticket("Bad priority", "body")
    r = s.put(f"{sandbox.api_url}/tickets/{t['id']}", json={"priority": "9 urgent", "title": "changed"})
    assert r.status_code == 422
    msg = 'No lookup value found for \'priority\': "9 urgent"'
    assert r.json() == {"error": msg, "error_human": msg}
    r = s.put(f"{sandbox.api_url}/tickets/{t['id']}", json={"group": "Nope"})
    assert r.status_code == 422 and r.json()["error"] == 'No lookup value found for \'group\': "Nope"'
    r = s.put(f"{sandbox.api_url}/tickets/{t['id']}", json={"state": "pending reminder"})
    assert r.status_code == 422
    assert r.json()["error_human"] == "Missing required value for field 'pending_time'!"
    r = s.put(f"{sandbox.api_url}/tickets/{t['id']}",
              json={"state": "pending close", "pending_time": "2030-01-01T08:00:00Z"})
    assert r.status_code == 200 and r.json()["pending_time"] == "2030-01-01T08:00:00.000Z"
    r = s.post(f"{sandbox.api_url}/ticket_articles", json={"ticket_id": t["id"], "subject": "x"})
    assert r.status_code == 422 and r.json()["error"] == "Need at least an 'article body' field."
    after = sandbox.ticket(t["id"])
    assert after["title"] == "Bad priority" and after["priority"] == "2 normal"  # 422 wrote nothing

    # another customer's ticket, and admin-only endpoints
    sandbox.add_user("other@example.com", roles=("Customer",))
    other = session(sandbox, "other@example.com")
    r = other.get(f"{sandbox.api_url}/tickets/{t['id']}")
    assert r.status_code == 403
    assert r.json() == {"error": "Not authorized", "error_human": "Not authorized"}
    assert r.headers["X-Failure"] == "Not authorized"
    assert s.get(f"{sandbox.api_url}/webhooks").status_code == 403  # agent1 is no admin


def test_customer_cannot_change_owner_or_see_internal(sandbox: SandboxZammad) -> None:
    t = sandbox.create_ticket("Mine", "body")
    sandbox.update_ticket(t["id"], owner="agent1@example.com",
                          article={"body": "internal note", "internal": True})
    c = session(sandbox, "customer@example.com")
    r = c.put(f"{sandbox.api_url}/tickets/{t['id']}",
              json={"owner": "agent2@example.com", "title": "Mine, edited"})
    assert r.status_code == 200
    assert r.json()["owner_id"] == sandbox.user_id("agent1@example.com")  # stripped for customers
    assert r.json()["title"] == "Mine, edited"
    bodies = [a["body"] for a in c.get(f"{sandbox.api_url}/ticket_articles/by_ticket/{t['id']}").json()]
    assert bodies == ["body"]
    all_ = c.get(f"{sandbox.api_url}/tickets/{t['id']}", params={"all": "true"}).json()
    assert len(all_["ticket_article_ids"]) == 1


# ------------------------------------------------------------------------ shapes (show/all)


def test_show_expand_and_all_shapes(sandbox: SandboxZammad) -> None:
    sandbox.add_custom_attribute("complaint_category")
    t = sandbox.create_ticket("Shapes", "first", tags=["complaint"], fields={"complaint_category": "quality"})
    sandbox.update_ticket(t["id"], article={"body": "agent note", "internal": True, "type": "note"})
    s = session(sandbox)
    plain = s.get(f"{sandbox.api_url}/tickets/{t['id']}").json()
    assert set(plain) == PLAIN_KEYS | {"complaint_category"}
    assert plain["complaint_category"] == "quality"
    expanded = s.get(f"{sandbox.api_url}/tickets/{t['id']}", params={"expand": "true"}).json()
    assert set(expanded) == PLAIN_KEYS | EXPAND_EXTRA_KEYS | {"complaint_category"}
    assert expanded["state"] == "new" and expanded["priority"] == "2 normal"
    assert expanded["group"] == "Users" and expanded["owner"] == "-"
    assert expanded["customer"] == "customer@example.com"
    assert expanded["create_article_type"] == "web" and expanded["create_article_sender"] == "Customer"
    assert len(expanded["article_ids"]) == 2

    all_ = s.get(f"{sandbox.api_url}/tickets/{t['id']}", params={"all": "true"}).json()
    assert set(all_) == {"ticket_id", "ticket_article_ids", "assets", "links", "tags", "mentions", "form_meta"}
    assert all_["ticket_id"] == t["id"] and all_["tags"] == ["complaint"]
    assets = all_["assets"]
    assert assets["Ticket"][str(t["id"])] == plain
    aids = all_["ticket_article_ids"]
    assert len(aids) == 2 and set(assets["TicketArticle"]) == {str(a) for a in aids}
    note = assets["TicketArticle"][str(aids[1])]
    for key in ("id", "ticket_id", "from", "to", "cc", "subject", "body", "content_type", "internal",
                "sender_id", "type_id", "sender", "type", "created_by_id", "updated_by_id",
                "created_at", "updated_at"):
        assert key in note
    assert note["sender"] == "Agent" and note["type"] == "note" and note["internal"] is True
    assert {str(sandbox.user_id("customer@example.com")), str(sandbox.user_id("agent1@example.com")), "1"} \
        <= set(assets["User"])
    assert all("password" not in u for u in assets["User"].values())
    assert assets["Group"]["1"]["name"] == "Users"
    assert assets["TicketPriority"]["3"]["name"] == "3 high"
    assert all_["links"] == [] and all_["mentions"] == [] and all_["form_meta"] == {}


# --------------------------------------------------------------- transactions and triggers


def test_put_with_article_is_one_transaction(sandbox: SandboxZammad, webhook_receiver: Receiver) -> None:
    sandbox.wire_webhook(webhook_receiver.url, exclude_user_ids=[])
    t = sandbox.create_ticket("One PUT", "body")
    assert sandbox.wait_idle(5)
    before_tx, before_deliveries = len(sandbox.transactions), len(sandbox.deliveries)
    r = session(sandbox).put(f"{sandbox.api_url}/tickets/{t['id']}", json={
        "priority": "3 high", "group": "质检部",
        "article": {"subject": "kesu #1", "body": "分派到质检部", "type": "note", "internal": True},
    })
    assert r.status_code == 200
    assert sandbox.wait_idle(5)
    snap = sandbox.ticket(t["id"])
    assert [a["body"] for a in snap["articles"]] == ["body", "分派到质检部"]
    assert len(sandbox.transactions) == before_tx + 1
    tx = sandbox.transactions[-1]
    assert tx.action == "update" and tx.article_id == snap["articles"][1]["id"]
    assert set(tx.changes) == {"priority_id", "group_id", "updated_by_id"}  # customer → agent1
    assert tx.fired == ["kesu: ticket updated"]
    assert len(sandbox.deliveries) == before_deliveries + 1
    payload = webhook_receiver.wait_for(2)[-1].json()
    assert payload["article"]["body"] == "分派到质检部"
    assert payload["ticket"]["priority"]["name"] == "3 high"

    # a PUT that changes nothing is no transaction at all
    r = session(sandbox).put(f"{sandbox.api_url}/tickets/{t['id']}", json={"priority": "3 high"})
    assert r.status_code == 200 and r.json()["updated_at"] == snap["updated_at"]
    assert len(sandbox.transactions) == before_tx + 1


def test_tags_do_not_fire_triggers(sandbox: SandboxZammad, webhook_receiver: Receiver) -> None:
    sandbox.wire_webhook(webhook_receiver.url, exclude_user_ids=[])
    t = sandbox.create_ticket("Tagged", "body")
    assert sandbox.wait_idle(5)
    n_tx, n_deliveries = len(sandbox.transactions), len(sandbox.deliveries)
    s = session(sandbox)
    r = s.post(f"{sandbox.api_url}/tags/add", json={"item": "policy:v3", "object": "Ticket", "o_id": t["id"]})
    assert r.status_code == 201 and r.json() is True
    r = s.delete(f"{sandbox.api_url}/tags/remove", json={"item": "policy:v3", "object": "Ticket", "o_id": t["id"]})
    assert r.status_code == 200 and r.json() is True
    assert sandbox.wait_idle(5)
    assert len(sandbox.transactions) == n_tx and len(sandbox.deliveries) == n_deliveries
    after = sandbox.ticket(t["id"])
    assert after["updated_by_id"] == t["updated_by_id"]  # a tag only touches updated_at
    assert after["updated_at"] > t["updated_at"]


def test_bot_update_fires_nothing(sandbox: SandboxZammad, webhook_receiver: Receiver) -> None:
    wired = sandbox.wire_webhook(webhook_receiver.url)  # "updated by is not <bot>"
    cond = wired["triggers"][1]["condition"]["ticket.updated_by_id"]
    assert cond == {"operator": "is not", "pre_condition": "specific", "value": [str(sandbox.bot_user_id)]}
    t = sandbox.create_ticket("Loop?", "body")
    assert sandbox.wait_idle(5) and len(webhook_receiver.requests) == 1
    bot = session(sandbox, "kesu-bot@localhost")
    r = bot.put(f"{sandbox.api_url}/tickets/{t['id']}", json={
        "priority": "3 high", "article": {"body": "kesu decided", "type": "note", "internal": True},
    })
    assert r.status_code == 200 and r.json()["updated_by_id"] == sandbox.bot_user_id
    bot.post(f"{sandbox.api_url}/ticket_articles", json={"ticket_id": t["id"], "body": "more", "internal": True})
    assert sandbox.wait_idle(5)
    assert len(webhook_receiver.requests) == 1
    assert [tx.fired for tx in sandbox.transactions[-2:]] == [[], []]
    sandbox.add_article(t["id"], "customer again")  # someone else → fires
    assert sandbox.wait_idle(5) and len(webhook_receiver.requests) == 2


def test_selective_mode_needs_a_changed_condition_attribute(sandbox: SandboxZammad) -> None:
    hook = sandbox.add_webhook("http://127.0.0.1:9/unused")
    sandbox.add_trigger("sel", {"ticket.action": {"operator": "is", "value": "update"},
                                "ticket.priority_id": {"operator": "is", "value": ["3"]}},
                        webhook_id=hook["id"], execution_condition_mode="selective")
    sandbox.add_trigger("always", {"ticket.action": {"operator": "is", "value": "update"},
                                   "ticket.priority_id": {"operator": "is", "value": ["3"]}},
                        webhook_id=hook["id"], execution_condition_mode="always")
    t = sandbox.create_ticket("Selective", "body", priority="3 high")
    sandbox.update_ticket(t["id"], title="renamed")  # priority unchanged, no article
    assert sandbox.transactions[-1].fired == ["always"]
    sandbox.update_ticket(t["id"], priority="2 normal")
    sandbox.update_ticket(t["id"], priority="3 high")  # the condition attribute changed
    assert sandbox.transactions[-1].fired == ["always", "sel"]
    sandbox.add_article(t["id"], "an article counts as a change")
    assert sandbox.transactions[-1].fired == ["always", "sel"]


def test_article_conditions(sandbox: SandboxZammad, webhook_receiver: Receiver) -> None:
    hook = sandbox.add_webhook(webhook_receiver.url)
    sandbox.add_trigger("客户来信", {
        "ticket.action": {"operator": "is", "value": "update"},
        "article.sender_id": {"operator": "is", "value": ["2"]},  # Customer
        "article.internal": {"operator": "is", "value": ["false"]},
    }, webhook_id=hook["id"])
    t = sandbox.create_ticket("Articles", "body")
    sandbox.update_ticket(t["id"], priority="3 high")  # no article → article conditions fail
    sandbox.add_article(t["id"], "agent note", as_user="agent1@example.com", internal=True)
    sandbox.add_article(t["id"], "customer follow-up")
    assert [tx.fired for tx in sandbox.transactions] == [[], [], [], ["客户来信"]]
    assert sandbox.wait_idle(5)
    [req] = webhook_receiver.wait_for(1)
    assert req.headers["x-zammad-trigger"].encode("latin-1").decode("utf-8") == "客户来信"
    assert req.json()["article"]["body"] == "customer follow-up"


# ---------------------------------------------------------------------------- condition search


def test_condition_search_inclusive_bounds_and_paging(sandbox: SandboxZammad) -> None:
    ids = [sandbox.create_ticket(f"S{i}", "body")["id"] for i in range(6)]
    stamps = [sandbox.ticket(i)["updated_at"] for i in ids]
    s = session(sandbox)

    def search(**body: Any) -> list[dict[str, Any]]:
        r = s.post(f"{sandbox.api_url}/tickets/search", json=body)
        assert r.status_code == 200, r.text
        assert isinstance(r.json(), list)
        return r.json()

    hits = search(condition={"ticket.updated_at": {"operator": "after (absolute)", "value": stamps[2]}},
                  sort_by="updated_at", order_by="asc")
    assert [t["id"] for t in hits] == ids[2:]  # >= : the boundary ticket is included
    hits = search(condition={"ticket.updated_at": {"operator": "before (absolute)", "value": stamps[3]}},
                  sort_by="updated_at", order_by="asc")
    assert [t["id"] for t in hits] == ids[:4]  # <=
    hits = search(condition={
        "ticket.updated_at": {"operator": "after (absolute)", "value": stamps[1]},
        "ticket.created_at": {"operator": "before (absolute)", "value": stamps[4]},
    })
    assert [t["id"] for t in hits] == ids[1:5][::-1]  # default: updated_at desc
    # the same condition as Rails-style GET params
    r = s.get(f"{sandbox.api_url}/tickets/search", params={
        "condition[ticket.updated_at][operator]": "after (absolute)",
        "condition[ticket.updated_at][value]": stamps[4], "order_by": "asc"})
    assert [t["id"] for t in r.json()] == ids[4:]
    # an update moves a ticket to the end of the ascending poll
    sandbox.update_ticket(ids[0], title="touched")
    hits = search(condition={"ticket.updated_at": {"operator": "after (absolute)", "value": stamps[5]}},
                  sort_by="updated_at", order_by="asc")
    assert [t["id"] for t in hits] == [ids[5], ids[0]]

    for i in range(210):
        sandbox.create_ticket(f"P{i}", "body")
    cond = {"ticket.created_at": {"operator": "after (absolute)", "value": "2000-01-01T00:00:00Z"}}
    assert len(search(condition=cond)) == 50  # default per_page
    assert len(search(condition=cond, per_page=500)) == 200  # capped
    assert len(search(condition=cond, limit=7)) == 7  # alias
    page2 = search(condition=cond, per_page=100, page=3, sort_by="id", order_by="asc")
    assert [t["id"] for t in page2] == list(range(201, 217))
    expanded = search(condition=cond, per_page=1, expand=True)
    assert expanded[0]["state"] == "new"


# ------------------------------------------------------------------------------ webhooks


def test_signature_test_vector() -> None:
    # reference §1.2: checked with openssl and Python
    assert signature("s3cr3t-t0k3n", b'{"ticket":{"id":1},"article":{}}') == \
        "sha1=ab65752a52f8d20d1f0a28408a98cc53ef3ce37a"


def test_webhook_delivery_headers_signature_and_payload(sandbox: SandboxZammad, webhook_receiver: Receiver) -> None:
    secret = "s3cr3t-t0k3n"
    admin = session(sandbox, "admin@example.com")
    webhook = admin.post(f"{sandbox.api_url}/webhooks", json={
        "name": "kesu", "endpoint": webhook_receiver.url, "signature_token": secret, "ssl_verify": False,
    })
    assert webhook.status_code == 201
    trigger = admin.post(f"{sandbox.api_url}/triggers", json={
        "name": "kesu created", "activator": "action", "execution_condition_mode": "selective",
        "condition": {"ticket.action": {"operator": "is", "value": "create"}},
        "perform": {"notification.webhook": {"webhook_id": webhook.json()["id"]}},
    })
    assert trigger.status_code == 201
    assert trigger.json()["active"] is True and trigger.json()["disable_notification"] is True
    t = sandbox.create_ticket("外包装破损 <b>&</b>", "出水严重", tags=["x"])
    assert sandbox.wait_idle(5)
    [req] = webhook_receiver.wait_for(1)
    h = req.headers
    assert h["content-type"] == "application/json; charset=utf-8"
    assert h["user-agent"] == "Zammad User Agent"
    assert h["x-zammad-trigger"] == "kesu created"
    assert re.fullmatch(r"[0-9a-f-]{36}", h["x-zammad-delivery"])
    want = "sha1=" + hmac.new(secret.encode(), req.body, hashlib.sha1).hexdigest()
    assert h["x-hub-signature"] == want
    assert b"\\u003cb\\u003e\\u0026" in req.body  # ActiveSupport escapes <, >, & in JSON
    assert "外包装破损".encode() in req.body  # and sends other characters as raw UTF-8

    payload = req.json()
    assert set(payload) == {"ticket", "article"}
    ticket, article = payload["ticket"], payload["article"]
    assert list(ticket) == sorted(ticket)
    assert ticket["id"] == t["id"] and ticket["title"] == "外包装破损 <b>&</b>"
    assert ticket["state"] == "new" and ticket["state_id"] == 1
    assert ticket["create_article_type"] == "web" and ticket["create_article_sender"] == "Customer"
    assert ticket["customer"]["login"] == "customer@example.com"
    assert ticket["customer"]["roles"] == ["Customer"]
    for user in (ticket["customer"], ticket["owner"], ticket["created_by"], ticket["updated_by"]):
        assert not {"password", "preferences", "group_ids", "last_login", "login_failed"} & set(user)
    assert ticket["owner"]["login"] == "-"  # unassigned = user 1
    assert ticket["priority"]["name"] == "2 normal" and ticket["group"]["name"] == "Users"
    assert ticket["organization"]["name"] == "Example Customer Inc."
    assert "escalation_at" in ticket and ticket["escalation_at"] is None  # null keys included
    assert "tags" not in ticket and ticket["article_ids"] == [article["id"]]
    assert article["body"] == "出水严重" and article["sender"] == "Customer" and article["type"] == "web"
    assert article["created_by"]["login"] == "customer@example.com" and article["attachments"] == []
    record = sandbox.deliveries[-1]
    assert record.ok and record.status == 200 and record.attempt == 1
    assert record.delivery_id == h["x-zammad-delivery"] and record.trigger == "kesu created"


def test_attribute_only_update_has_empty_article(sandbox: SandboxZammad, webhook_receiver: Receiver) -> None:
    sandbox.wire_webhook(webhook_receiver.url, exclude_user_ids=[])
    t = sandbox.create_ticket("No article", "body")
    sandbox.update_ticket(t["id"], state="open")
    reqs = webhook_receiver.wait_for(2)
    assert sandbox.wait_idle(5)
    # deliveries run on a worker pool: no order between them (as in Zammad)
    [update] = [r for r in reqs if r.headers["x-zammad-trigger"] == "kesu: ticket updated"]
    assert "x-hub-signature" not in update.headers  # no signature token → no header
    assert update.json()["article"] == {}
    assert update.json()["ticket"]["state"] == "open"


def test_delivery_id_stable_across_retries_and_payload_reloaded(
    sandbox: SandboxZammad, webhook_receiver: Receiver
) -> None:
    sandbox.wire_webhook(webhook_receiver.url, signature_token="k")
    webhook_receiver.statuses = [500, 500]  # then 200
    t = sandbox.create_ticket("Retry", "body")
    webhook_receiver.wait_for(1)
    sandbox.update_ticket(t["id"], as_user="kesu-bot@localhost", title="changed later")  # no trigger
    assert sandbox.wait_idle(10)
    reqs = webhook_receiver.wait_for(3)
    assert len(reqs) == 3
    assert len({r.headers["x-zammad-delivery"] for r in reqs}) == 1
    assert reqs[0].json()["ticket"]["title"] == "Retry"
    assert reqs[2].json()["ticket"]["title"] == "changed later"  # built at delivery time
    for r in reqs:
        assert r.headers["x-hub-signature"] == signature("k", r.body)
    attempts = [(d.attempt, d.status, d.ok, d.final) for d in sandbox.deliveries]
    assert attempts == [(1, 500, False, False), (2, 500, False, False), (3, 200, True, True)]


def test_retries_stop_after_five_attempts(sandbox: SandboxZammad, webhook_receiver: Receiver) -> None:
    sandbox.wire_webhook(webhook_receiver.url)
    webhook_receiver.default_status = 503
    started = time.monotonic()
    sandbox.create_ticket("Always failing", "body")
    assert sandbox.wait_idle(10)
    elapsed = time.monotonic() - started
    assert len(webhook_receiver.requests) == 5
    records = sandbox.deliveries
    assert [d.attempt for d in records] == [1, 2, 3, 4, 5]
    assert records[-1].final and not records[-1].ok and records[-1].error == "HTTP 503"
    assert elapsed >= (10 + 20 + 30 + 40) * 0.005  # waits scaled by retry_scale


def test_connection_refused_is_retried(webhook_receiver: Receiver) -> None:
    with SandboxZammad(retry_scale=0.002) as zammad:
        zammad.wire_webhook("http://127.0.0.1:9/closed")  # nothing listens on port 9
        zammad.create_ticket("Nobody home", "body")
        assert zammad.wait_idle(10)
        records = zammad.deliveries
        assert len(records) == 5 and all(r.status is None and r.error for r in records)


# ------------------------------------------------------------------ lifecycle and test hooks


def test_stop_and_start_on_the_same_port(sandbox: SandboxZammad) -> None:
    t = sandbox.create_ticket("Survives", "body")
    port = sandbox.port
    s = session(sandbox)
    assert s.get(f"{sandbox.api_url}/tickets/{t['id']}").status_code == 200
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.api_url}/users/me", timeout=2)
    sandbox.start()
    assert sandbox.port == port
    r = session(sandbox).get(f"{sandbox.api_url}/tickets/{t['id']}")
    assert r.status_code == 200 and r.json()["title"] == "Survives"


def test_fault_injection_and_call_counters(sandbox: SandboxZammad) -> None:
    t = sandbox.create_ticket("Faults", "body")
    s = session(sandbox)
    sandbox.reset_calls()
    sandbox.inject("GET", r"^/api/v1/tickets/\d+$", status=503, times=2, retry_after=3)
    for _ in range(2):
        r = s.get(f"{sandbox.api_url}/tickets/{t['id']}")
        assert r.status_code == 503 and r.headers["Retry-After"] == "3"
    assert s.get(f"{sandbox.api_url}/tickets/{t['id']}").status_code == 200
    sandbox.inject("PUT", r"/tickets/", status=502, apply_then_fail=True)
    r = s.put(f"{sandbox.api_url}/tickets/{t['id']}", json={"title": "written anyway"})
    assert r.status_code == 502
    assert sandbox.ticket(t["id"])["title"] == "written anyway"
    sandbox.inject(None, r"/users/me", status=None, delay=0.5)
    with pytest.raises(requests.Timeout):
        s.get(f"{sandbox.api_url}/users/me", timeout=0.1)
    assert sandbox.count() == 5
    assert sandbox.count("GET", "/tickets") == 3
    assert sandbox.count("PUT") == 1 and sandbox.count(path_prefix="/api/v1/users") == 1
    assert sandbox.calls[0] == ("GET", f"/api/v1/tickets/{t['id']}")


def test_webhook_and_trigger_crud(sandbox: SandboxZammad) -> None:
    admin = session(sandbox, "kesu-bot@localhost")  # the bot may provision its own trigger
    api = sandbox.api_url
    w = admin.post(f"{api}/webhooks", json={"name": "w", "endpoint": "https://example.com/hook"}).json()
    assert w["ssl_verify"] is True and w["signature_token"] is None and w["active"] is True
    assert admin.post(f"{api}/webhooks", json={"name": "W", "endpoint": "https://x"}).status_code == 422
    assert admin.post(f"{api}/webhooks", json={"name": "v", "endpoint": "ftp://x"}).status_code == 422
    w2 = admin.put(f"{api}/webhooks/{w['id']}", json={"signature_token": "abc"}).json()
    assert w2["signature_token"] == "abc" and w2["name"] == "w"
    tr = admin.post(f"{api}/triggers", json={
        "name": "t", "condition": {"ticket.action": {"operator": "is", "value": "update"}},
        "perform": {"notification.webhook": {"webhook_id": [w["id"]]}},
    })
    assert tr.status_code == 201 and tr.json()["execution_condition_mode"] == "selective"
    bad = admin.post(f"{api}/triggers", json={
        "name": "u", "condition": {"ticket.action": {"operator": "is", "value": "update"}},
        "perform": {"notification.webhook": {"webhook_id": 999}},
    })
    assert bad.status_code == 422
    assert [x["name"] for x in admin.get(f"{api}/triggers").json()] == ["t"]
    assert admin.delete(f"{api}/webhooks/{w['id']}").status_code == 422  # still used by "t"
    assert admin.put(f"{api}/triggers/{tr.json()['id']}", json={"active": False}).json()["active"] is False
    assert admin.delete(f"{api}/triggers/{tr.json()['id']}").json() == {}
    assert admin.delete(f"{api}/webhooks/{w['id']}").status_code == 200
    assert admin.get(f"{api}/webhooks/{w['id']}").status_code == 404
