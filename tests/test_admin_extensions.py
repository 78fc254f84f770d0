"""Deadline extensions through the admin API, end to end with the sandbox Zammad (R-EXT-6.18).

An agent enters a new deadline on the ticket without the vice-president's approval; the deadlines
plugin ignores it and notes so. The admin surface lists it; approving writes the approval into the
ticket fields the plugin reads and queues an event, after which the deadline is extended; rejecting
leaves an audit entry and an internal note and the original deadline stands.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from connector.zammad.sandbox import SandboxZammad
from kesu.app import Services, create_app
from kesu.store import tickets as store
from kesu.store.db import utcnow
from kesu.store.inbox import NewEvent
from kesu.worker import Worker
from tests.test_admin_api import RO, RW, admin_settings

FIELDS = ("deadline_extended_to", "extension_approved_by", "extension_reason", "extension_customer_consent")


@pytest.fixture
def stack(db_url, tmp_path):
    with SandboxZammad(retry_scale=0.01) as zammad:
        for name in FIELDS:
            zammad.add_custom_attribute(name)
        settings = admin_settings(db_url, tmp_path)
        settings.helpdesk.url = zammad.url
        settings.helpdesk.token = SecretStr(zammad.token_for(zammad.bot_login))
        settings.helpdesk.bot_login = zammad.bot_login
        services = Services.build(settings, load_entrypoints=False)
        services.connector.prepare()  # type: ignore[attr-defined]
        client = TestClient(create_app(services, workers=False))
        yield zammad, services, client
        services.close()


def complaint_with_unapproved_extension(zammad, services) -> tuple[int, str]:
    far = (utcnow() + timedelta(days=40)).date().isoformat()
    t = zammad.create_ticket("豆腐包装破损", "买的豆腐包装破损了，请处理。",
                             fields={"deadline_extended_to": far, "extension_reason": "需第三方检测"})
    process(services, t["id"])
    return t["id"], far


def process(services, ticket_id) -> None:
    services.inbox.add(NewEvent(helpdesk="zammad", ticket_id=str(ticket_id), kind="updated", source="webhook",
                                received_at=utcnow(), delivery_id=f"test:{ticket_id}:{utcnow().isoformat()}"))
    Worker(services.pipeline, services.settings.worker).drain()


def notes(zammad, ticket_id) -> list[str]:
    return [a["body"] for a in zammad.ticket(ticket_id)["articles"] if a.get("internal")]


def test_approve_writes_the_ticket_fields_and_the_policies_extend_the_deadline(stack):
    zammad, services, client = stack
    tid, far = complaint_with_unapproved_extension(zammad, services)
    key = f"zammad:{tid}"
    [pending] = client.get("/admin/api/extensions", headers=RO).json()
    assert (pending["ticket_key"], pending["rule_id"], pending["requested"]) == (
        key, "R-SLA-6.18-general", f"{far} 17:00")
    due = pending["due"]
    r = client.post(f"/admin/api/extensions/{key}/approve", headers=RW, json={
        "rule_id": "R-SLA-6.18-general", "extended_to": far, "approved_by": "李副总裁", "reason": "需第三方检测"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "approved" and body["event_id"] is not None
    assert body["fields"] == {"deadline_extended_to": far, "extension_approved_by": "李副总裁",
                              "extension_reason": "需第三方检测"}
    ticket = zammad.ticket(tid)
    assert ticket["extension_approved_by"] == "李副总裁" and ticket["deadline_extended_to"] == far
    assert any("延期已批准（R-SLA-6.18-general）" in n and "alice" in n for n in notes(zammad, tid))
    # The queued event runs the policies: the deadlines plugin now honours the extension.
    assert services.inbox.depth().get("pending") == 1
    Worker(services.pipeline, services.settings.worker).drain()
    entry = store.get_complaint(services.engine, key)["deadlines"]["R-SLA-6.18-general"]
    assert (entry["approved_by"], entry["extension_rule"], entry["due"]) == ("李副总裁", "R-EXT-6.18", due)
    assert entry["extended_to"] > entry["due"]
    assert client.get("/admin/api/extensions", headers=RO).json() == []
    [audit] = [a for a in store.audit_for(services.engine, key) if a["kind"] == "admin"]
    assert (audit["rule_id"], audit["detail"]["action"], audit["detail"]["by"]) == (
        "R-EXT-6.18", "extension_approved", "alice")


def test_reject_is_audited_and_noted_and_the_deadline_stands(stack):
    zammad, services, client = stack
    tid, _ = complaint_with_unapproved_extension(zammad, services)
    key = f"zammad:{tid}"
    assert client.post(f"/admin/api/extensions/{key}/reject", headers=RW, json={"rule_id": "R-SLA-6.18-general",
                                                                                "reason": ""}).status_code == 422
    r = client.post(f"/admin/api/extensions/{key}/reject", headers=RW,
                    json={"rule_id": "R-SLA-6.18-general", "reason": "未经分管副总裁批准"})
    assert r.status_code == 200 and r.json()["action"] == "rejected" and r.json()["event_id"] is None
    assert any("延期申请未获批准（R-SLA-6.18-general）" in n and "未经分管副总裁批准" in n for n in notes(zammad, tid))
    [audit] = [a for a in store.audit_for(services.engine, key) if a["kind"] == "admin"]
    assert (audit["detail"]["action"], audit["detail"]["reason"]) == ("extension_rejected", "未经分管副总裁批准")
    assert client.get("/admin/api/extensions", headers=RO).json() == []
    process(services, tid)
    entry = store.get_complaint(services.engine, key)["deadlines"]["R-SLA-6.18-general"]
    assert entry["approved_by"] is None and entry["extended_to"] is None


def test_approval_input_is_checked_before_anything_is_written(stack):
    zammad, services, client = stack
    t = zammad.create_ticket("豆腐包装破损", "包装破损。")
    key = f"zammad:{t['id']}"
    bad = client.post(f"/admin/api/extensions/{key}/approve", headers=RW,
                      json={"extended_to": "next week", "approved_by": "李副总裁"})
    assert bad.status_code == 422 and "2026-03-10" in bad.json()["detail"]
    assert client.post("/admin/api/extensions/zammad:9999/approve", headers=RW,
                       json={"extended_to": "2030-01-02", "approved_by": "李副总裁"}).status_code == 404
    assert client.post("/admin/api/extensions/odoo:1/approve", headers=RW,
                       json={"extended_to": "2030-01-02", "approved_by": "李副总裁"}).status_code == 422
    assert zammad.ticket(t["id"]).get("extension_approved_by") in (None, "")
    zammad.stop()  # the helpdesk is down: 502, nothing recorded
    down = client.post(f"/admin/api/extensions/{key}/approve", headers=RW,
                       json={"extended_to": "2030-01-02", "approved_by": "李副总裁"})
    assert down.status_code == 502 and "helpdesk error" in down.json()["detail"]
    assert [a for a in store.audit_for(services.engine, key) if a["kind"] == "admin"] == []
