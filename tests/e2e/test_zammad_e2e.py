"""Webhook in -> policies -> written back, through the sandbox Zammad over HTTP; SQLite and PostgreSQL."""

from __future__ import annotations

import time

import requests

from tests.e2e.conftest import start_stack, wait_until

COMPLAINT = ("豆腐发霉", "今天买的盒装豆腐打开就发霉变质，批号 20261101。")


def test_customer_complaint_gets_priority_tag_and_note_citing_the_rule(stack):
    sandbox = stack.sandbox
    sandbox.reset_calls()
    tid = sandbox.create_ticket(*COMPLAINT, as_user="customer@example.com")["id"]
    note = stack.wait_processed(tid)[0]
    ticket = sandbox.ticket(tid)
    assert ticket["priority"] == "3 high"  # urgent -> "3 high" by the default priority_map
    # The tier field is provisioned (setup): the tier goes into it in the same PUT, not a tag.
    assert ticket["complaint_tier"] == "A" and "客诉-A类" not in ticket["tags"]
    assert note["internal"] is True and note["type"] == "note"
    assert "[R-TIER-1.9.1-A]" in note["body"] and "优先级 → 紧急" in note["body"]
    assert "客诉等级 → A类（重大） [R-TIER-1.9.1-A]" in note["body"]
    assert note["created_by_id"] == sandbox.bot_user_id
    stack.idle()
    # Two calls: one read, one PUT (priority, tier field and note together); no tag call.
    assert sandbox.count("GET", "/api/v1/tickets/") == 1
    assert sandbox.count("PUT") == 1 and sandbox.count("POST", "/api/v1/tags") == 0
    # kesu's own write fired no trigger (the provisioned "updated by is not kesu" condition).
    assert len({d.delivery_id for d in sandbox.deliveries}) == 1


def test_the_same_delivery_again_changes_nothing(stack):
    sandbox = stack.sandbox
    tid = sandbox.create_ticket(*COMPLAINT)["id"]
    stack.wait_processed(tid)
    stack.idle()
    delivery = next(d for d in sandbox.deliveries if d.ok)
    sandbox.reset_calls()
    r = requests.post(f"{stack.url}/webhooks/zammad", data=delivery.request_body,
                      headers=delivery.request_headers, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    time.sleep(0.3)
    assert sandbox.calls == [] and len(stack.notes(tid)) == 1


def test_a_new_event_with_nothing_new_reads_once_and_writes_nothing(stack):
    sandbox = stack.sandbox
    tid = sandbox.create_ticket(*COMPLAINT)["id"]
    stack.wait_processed(tid)
    stack.idle()
    sandbox.reset_calls()
    sandbox.add_article(tid, "请尽快处理。")  # customer writes again: a new webhook
    wait_until(lambda: sandbox.count("GET") >= 1)
    stack.idle()
    assert sandbox.count("PUT") == 0 and sandbox.count("POST", "/api/v1/tags") == 0
    assert len(stack.notes(tid)) == 1


def test_webhook_caused_by_kesus_own_write_leads_to_no_further_write(sandbox, db_url):
    # A trigger without the "updated by is not kesu" condition: kesu's write fires a webhook.
    stack = start_stack(sandbox, db_url, wire=False)
    try:
        sandbox.wire_webhook(f"{stack.url}/webhooks/zammad", signature_token="e2e-secret-令牌",
                             exclude_user_ids=[])
        tid = sandbox.create_ticket(*COMPLAINT)["id"]
        stack.wait_processed(tid)
        wait_until(lambda: any(r["status"] == "skipped" for r in stack.services.inbox.list()))
        stack.idle()
        puts = sandbox.count("PUT")
        time.sleep(0.5)
        assert sandbox.count("PUT") == puts == 1
        assert len(stack.notes(tid)) == 1
    finally:
        stack.stop()


def test_helpdesk_503_then_success_is_retried_inside_the_call(stack):
    sandbox = stack.sandbox
    sandbox.inject("GET", r"^/api/v1/tickets/\d+$", status=503, times=1)
    tid = sandbox.create_ticket(*COMPLAINT)["id"]
    stack.wait_processed(tid)
    assert sandbox.count("GET", "/api/v1/tickets/") == 2


def test_429_with_retry_after_is_honoured(stack):
    sandbox = stack.sandbox
    sandbox.inject("PUT", r"^/api/v1/tickets/\d+$", status=429, times=1, retry_after=1)
    started = time.monotonic()
    tid = sandbox.create_ticket(*COMPLAINT)["id"]
    stack.wait_processed(tid)
    assert time.monotonic() - started >= 1.0
    assert len(stack.notes(tid)) == 1


def test_helpdesk_down_event_waits_retries_and_is_applied_later(stack):
    sandbox = stack.sandbox
    sandbox.stop()  # connection refused from now on; its trigger still delivers webhooks
    tid = sandbox.create_ticket(*COMPLAINT)["id"]
    wait_until(lambda: any(r["last_error"] and r["status"] == "pending" for r in stack.services.inbox.list()))
    row = stack.services.inbox.list()[0]
    assert "ConnectorUnavailable" in row["last_error"] or "ConnectorTimeout" in row["last_error"]
    sandbox.start()
    note = stack.wait_processed(tid, timeout=15)[0]
    assert "[R-TIER-1.9.1-A]" in note["body"]
    wait_until(lambda: stack.services.inbox.list()[0]["status"] == "done")


# -- a write applied but its answer lost (issue 10 item 1) -------------------------------------


def test_put_applied_but_answered_504_is_checked_not_resent(stack):
    """Zammad committed the PUT (fields + note) but the proxy answered 504: kesu must see the
    note marker on the ticket instead of sending the note again."""
    sandbox = stack.sandbox
    sandbox.inject("PUT", r"^/api/v1/tickets/\d+$", status=504, times=1, apply_then_fail=True)
    tid = sandbox.create_ticket(*COMPLAINT)["id"]
    stack.wait_processed(tid)
    stack.idle()
    assert len(stack.notes(tid)) == 1
    assert sandbox.count("PUT") == 1  # the applied PUT only: nothing resent blind
    assert sandbox.ticket(tid)["priority"] == "3 high"


def test_slow_put_that_times_out_after_applying_is_not_resent(sandbox, db_url):
    """A read timeout on a slow PUT: the write may have landed, so kesu looks before resending."""
    stack = start_stack(sandbox, db_url, configure=lambda s: setattr(s.helpdesk, "timeout", 1))
    try:
        sandbox.inject("PUT", r"^/api/v1/tickets/\d+$", status=None, hold=1.5, times=1)
        tid = sandbox.create_ticket(*COMPLAINT)["id"]
        stack.wait_processed(tid)
        stack.idle()
        assert len(stack.notes(tid)) == 1
        assert sandbox.count("PUT") == 1
    finally:
        stack.stop()
