"""Odoo writes whose answer is lost are checked, never resent blind (issue 10 item 1).

The connector talks to the sandbox Odoo over HTTP; the sandbox's fault switches lose the answer
of a call it applied (504 after commit), answer late after applying (``hold``) or apply late
(``delay`` beyond the client's read timeout). The sandbox's own write log and records say what
reached Odoo: one ``write``, one activity, one note per ticket, whatever the faults.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

from connector.base import Todo, WriteSet
from connector.odoo.connector import OdooConnector
from connector.odoo.sandbox import SandboxOdoo
from kesu.models import Priority
from kesu.settings import HelpdeskSettings

TEAM = "投诉处理组"
# (version, flavour, protocol): legacy JSON-RPC and JSON-2.
SERVERS = [(17, "enterprise", "jsonrpc"), (19, "oca", "json2")]
WRITE_CALLS = [("helpdesk.ticket", "write"), ("mail.activity", "create"), ("helpdesk.ticket", "message_post")]


@pytest.fixture(params=SERVERS, ids=[f"{p}-{v}" for v, _, p in SERVERS])
def odoo(request: pytest.FixtureRequest, make_sandbox: Callable[..., SandboxOdoo]) -> tuple[SandboxOdoo, str]:
    version, flavour, protocol = request.param
    sandbox = make_sandbox(version, flavour)
    sandbox.add_team(TEAM)
    return sandbox, protocol


def connector_for(sandbox: SandboxOdoo, protocol: str, *, timeout: float = 5.0) -> OdooConnector:
    settings = HelpdeskSettings(
        kind="odoo", name="odoo", url=sandbox.url, token=SecretStr(sandbox.api_key_for(sandbox.bot_login)),
        bot_login=sandbox.bot_login, options={"database": sandbox.database, "protocol": protocol},
        timeout=timeout, retries=2,
    )
    conn = OdooConnector(settings)
    conn.prepare()
    return conn


def writes(subject: str = "kesu #0123456789ab") -> WriteSet:
    due = datetime.now(timezone.utc) + timedelta(days=2)
    return WriteSet(
        priority=Priority.urgent, group=TEAM, add_tags=["客诉-A类"],
        todos=[Todo(key="callback", summary="回访客户：是否满意", due_at=due, assignee="agent1",
                    rule_id="R-CB-6.36")],
        note="A 类投诉 [R-TIER-1.9.1-A]", note_subject=subject,
    )


def bot_writes(sandbox: SandboxOdoo, tid: int) -> list[dict]:
    bot = sandbox.bot_uid
    return [w.vals for w in sandbox.write_log
            if w.uid == bot and w.model == "helpdesk.ticket" and w.operation == "write" and tid in w.ids]


def assert_applied_once(sandbox: SandboxOdoo, tid: int, subject: str = "kesu #0123456789ab") -> None:
    ticket = sandbox.ticket(tid)
    assert ticket["priority"] == "3" and ticket["team_id"][1] == TEAM and "客诉-A类" in ticket["tags"]
    assert len(bot_writes(sandbox, tid)) == 1, bot_writes(sandbox, tid)
    assert [m["subject"] for m in ticket["messages"] if m["subject"] == subject] == [subject]
    assert [a["summary"] for a in ticket["activities"]] == ["回访客户：是否满意"]


@pytest.mark.parametrize("model,method", WRITE_CALLS, ids=[f"{m}.{c}" for m, c in WRITE_CALLS])
def test_a_call_applied_but_answered_504_is_checked_not_sent_again(odoo, model, method):
    sandbox, protocol = odoo
    conn = connector_for(sandbox, protocol)
    tid = sandbox.create_ticket("豆腐发霉", "<p>打开就发霉</p>")
    ticket = conn.get_ticket(str(tid))
    sandbox.inject(None, model, method, status=504, apply_then_fail=True, times=1)
    conn.apply(ticket, writes())
    assert sandbox.count(model, method) == 1  # the applied call only: nothing resent blind
    assert_applied_once(sandbox, tid)


def test_a_write_answered_late_after_applying_is_not_sent_again(odoo):
    sandbox, protocol = odoo
    conn = connector_for(sandbox, protocol, timeout=1.0)
    tid = sandbox.create_ticket("豆腐发霉", "<p>打开就发霉</p>")
    ticket = conn.get_ticket(str(tid))
    sandbox.inject(None, "helpdesk.ticket", "write", status=None, hold=1.5, times=1)
    conn.apply(ticket, writes())
    assert sandbox.count("helpdesk.ticket", "write") == 1
    assert_applied_once(sandbox, tid)


def test_a_slow_write_that_lands_after_the_timeout_is_not_sent_again(odoo):
    """Odoo is still working on the write when the read timeout fires: the first look finds
    nothing, and the write is given the settle time (the timeout) to land before a second look,
    instead of being sent again while the first one is under way."""
    sandbox, protocol = odoo
    conn = connector_for(sandbox, protocol, timeout=1.0)
    tid = sandbox.create_ticket("豆腐发霉", "<p>打开就发霉</p>")
    ticket = conn.get_ticket(str(tid))
    sandbox.inject(None, "helpdesk.ticket", "write", status=None, delay=1.3, times=1)
    sandbox.inject(None, "helpdesk.ticket", "message_post", status=None, delay=1.3, times=1)
    conn.apply(ticket, writes())
    assert sandbox.count("helpdesk.ticket", "write") == 1
    assert sandbox.count("helpdesk.ticket", "message_post") == 1
    assert_applied_once(sandbox, tid)


def test_a_lost_write_that_did_not_take_is_sent_again_once(odoo):
    """A 504 from a proxy that never reached Odoo: the look finds nothing, the write is sent
    again, and it lands once."""
    sandbox, protocol = odoo
    conn = connector_for(sandbox, protocol, timeout=1.0)
    tid = sandbox.create_ticket("豆腐发霉", "<p>打开就发霉</p>")
    ticket = conn.get_ticket(str(tid))
    sandbox.inject(None, "helpdesk.ticket", "write", status=504, times=1)
    conn.apply(ticket, writes())
    assert sandbox.count("helpdesk.ticket", "write") == 2
    assert_applied_once(sandbox, tid)
