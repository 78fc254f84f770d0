"""The tier in its ticket field (issue 12): two helpdesk calls per typical complaint.

Where the helpdesk has the tier field (``kesu zammad setup`` created it), kesu writes its tier into
the field in the same PUT as the note instead of a tag call; an agent's value in the field still
overrides kesu's, and kesu's own value is not mistaken for an agent's (a later fact raises it).
Where the fields were never provisioned, kesu keeps writing the tier tag.
"""

from __future__ import annotations

from tests.e2e.conftest import SECRET, start_stack, wait_until

MINOR = ("封口不严", "千张的包装封口不严，拿回家就漏出汤汁了。")


def test_without_provisioned_fields_the_tier_is_a_tag(sandbox, db_url):
    stack = start_stack(sandbox, db_url, wire=False)
    try:
        # Only the webhook and trigger, as a site that never ran the field provisioning.
        sandbox.wire_webhook(f"{stack.url}/webhooks/zammad", signature_token=SECRET,
                             exclude_user_ids=[sandbox.bot_user_id])
        tid = sandbox.create_ticket("豆腐发霉", "今天买的盒装豆腐打开就发霉变质，批号 20261101。")["id"]
        stack.wait_processed(tid)
        stack.idle()
        ticket = sandbox.ticket(tid)
        assert "客诉-A类" in ticket["tags"] and "complaint_tier" not in ticket
        assert sandbox.count("POST", "/api/v1/tags/add") == 1
    finally:
        stack.stop()


def test_kesus_tier_in_the_field_rises_with_new_facts_and_yields_to_an_agent(stack):
    sandbox = stack.sandbox
    tid = sandbox.create_ticket(*MINOR)["id"]
    stack.wait_processed(tid)
    stack.idle()
    first = sandbox.ticket(tid)["complaint_tier"]
    assert first in ("B", "C"), first
    assert not any(t.startswith("客诉-") for t in sandbox.ticket(tid)["tags"])

    # A new fact (the customer goes to the regulator: a special complaint, the top tier). The field
    # holds kesu's own value, which must not read as an agent's decision that pins the tier.
    sandbox.add_article(tid, "你们再不处理，我就去市场监管局投诉，也会向消协反映。")
    stack.wait_processed(tid, 2)
    stack.idle()
    assert sandbox.ticket(tid)["complaint_tier"] == "A"

    # An agent lowers the tier in the field: the agent's value wins, kesu leaves it and follows it.
    sandbox.reset_calls()
    sandbox.update_ticket(tid, complaint_tier="C", as_user="agent1@example.com")
    wait_until(lambda: sandbox.count("GET", "/api/v1/tickets/") >= 1)
    stack.idle()
    assert sandbox.ticket(tid)["complaint_tier"] == "C"
    sandbox.add_article(tid, "请尽快处理，谢谢。")
    wait_until(lambda: sandbox.count("GET", "/api/v1/tickets/") >= 2)
    stack.idle()
    assert sandbox.ticket(tid)["complaint_tier"] == "C"
