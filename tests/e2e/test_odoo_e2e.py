"""Webhook in -> policies -> written back, through the sandbox Odoo over HTTP.

Enterprise and OCA, each over legacy JSON-RPC (17/18) and JSON-2 (19): the sandbox's automation
rule (provisioned by ``kesu odoo setup``) posts to a real kesu server, which reads and writes the
sandbox through the API. The checks read the sandbox's own state: priority, tags, the internal
note and the To-Do activity in the agent's name. Nothing is mocked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests
import uvicorn
from pydantic import SecretStr
from typer.testing import CliRunner

from connector.odoo.sandbox import SandboxOdoo
from connector.odoo.setup import setup_from_settings
from kesu.app import Services, create_app
from kesu.cli import app as cli
from kesu.effects import FollowUpTodo
from kesu.settings import Settings
from plugins import hookimpl
from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, PluginHost
from tests.e2e.conftest import free_port, wait_until

SECRET = "odoo-e2e-密钥"
COMPLAINT = ("豆腐发霉", "<p>今天买的盒装豆腐打开就发霉变质，批号 20261101。</p>")
# (flavour, protocol, Odoo version): every flavour over both protocols.
COMBOS = [("enterprise", "jsonrpc", 17), ("enterprise", "json2", 19),
          ("oca", "jsonrpc", 18), ("oca", "json2", 19)]
COMBO_IDS = [f"{f}-{p}-{v}" for f, p, v in COMBOS]
# The policies under test here: severity (with the facts it reads) and the to-do plugin below.
KEPT = ESSENTIAL_PLUGINS | {"facts", "severity"}


class CallbackTodo:
    """A tiny policy that also asks for a follow-up call, so activities can be checked.

    It also records every pass kesu makes over a ticket (``kesu_plan_applied``): the background
    reconciliation poll may queue a pass of its own, and a test counts only the calls it owns.
    """

    def __init__(self) -> None:
        self.passes: list[tuple[str, int]] = []  # (ticket id, helpdesk calls of the pass)

    @hookimpl
    def kesu_plan_applied(self, ticket, calls):
        self.passes.append((ticket.ref.id, calls))

    @hookimpl
    def kesu_evaluate(self, ticket):
        if ticket.created_at is None:
            return None
        return [FollowUpTodo(rule_id="R-E2E-TODO", key="callback", summary="回访客户：是否满意",
                             due_at=ticket.created_at + timedelta(days=2), assignee="agent1")]


@dataclass
class OdooStack:
    sandbox: SandboxOdoo
    services: Services
    settings: Settings
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sandbox.ticket(ticket_id)["messages"]
                if str(m.get("subject") or "").startswith("kesu #")]

    def wait_processed(self, ticket_id: int, n: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        notes = wait_until(lambda: len(self.notes(ticket_id)) >= n and self.notes(ticket_id), timeout)
        wait_until(lambda: self.services.inbox.pending_count() == 0, timeout)
        return notes

    def idle(self) -> None:
        for _ in range(2):
            self.sandbox.wait_idle(10)
            wait_until(lambda: self.services.inbox.pending_count() == 0, 15)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.services.close()

    def passes(self, ticket_id: int) -> int:
        """How many times kesu processed this ticket (each pass reads it once)."""
        recorder = self.services.host.pm.get_plugin("e2e-todo")
        return sum(1 for tid, _ in recorder.passes if tid == str(ticket_id))


def odoo_settings(sandbox: SandboxOdoo, db_url: str, port: int, protocol: str) -> Settings:
    s = Settings()
    s.store.url = db_url
    h = s.helpdesk
    h.kind = h.name = "odoo"
    h.url = sandbox.url
    h.token = SecretStr(sandbox.api_key_for(sandbox.bot_login))
    h.bot_login = sandbox.bot_login
    h.webhook_secret = SecretStr(SECRET)
    h.webhook_base_url = f"http://127.0.0.1:{port}"
    h.options = {"database": sandbox.database, "protocol": protocol}
    h.retries = 1
    h.timeout = 5
    s.server.port = port
    s.worker.poll_interval = 0.05
    s.worker.backoff_base = 0.2
    s.worker.backoff_max = 2
    s.worker.lease_seconds = 3
    s.worker.timer_interval = 0.2
    # Odoo never retries a webhook (1 s timeout): a loaded test machine can lose one, and the poll
    # must bring it back, as in production -- only much sooner than the 30 s default.
    s.worker.sync_interval = 0.5
    s.plugins.disabled = [n for n in BUILTIN_PLUGINS if n not in KEPT]
    return s


def start_odoo_stack(sandbox: SandboxOdoo, db_url: str, protocol: str, *, wire: bool = True,
                     configure: Callable[[Settings], None] | None = None) -> OdooStack:
    port = free_port()
    settings = odoo_settings(sandbox, db_url, port, protocol)
    if configure is not None:
        configure(settings)
    services = Services.build(settings, load_entrypoints=False)
    pm = services.host.pm
    pm.register(CallbackTodo(), name="e2e-todo")
    services.host = services.pipeline.host = PluginHost(pm, settings.policies, settings.plugins.disabled,
                                                        settings.profile)
    app = create_app(services)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10)
    if wire:
        setup_from_settings(settings.helpdesk, admin_key=sandbox.api_key_for("admin"), admin_login="admin")
    return OdooStack(sandbox, services, settings, f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'kesu.db'}"


@pytest.fixture(params=COMBOS, ids=COMBO_IDS)
def combo(request: pytest.FixtureRequest) -> tuple[str, str, int]:
    return request.param


@pytest.fixture
def odoo(combo) -> Iterator[SandboxOdoo]:
    flavour, _, version = combo
    with SandboxOdoo(version=version, flavour=flavour) as sandbox:
        yield sandbox


@pytest.fixture
def stack(odoo, combo, sqlite_url) -> Iterator[OdooStack]:
    s = start_odoo_stack(odoo, sqlite_url, combo[1])
    yield s
    s.stop()


def check_written_back(stack: OdooStack, tid: int) -> None:
    sandbox = stack.sandbox
    (note,) = stack.wait_processed(tid)
    ticket = sandbox.ticket(tid)
    assert ticket["priority"] == "3"  # urgent
    assert "客诉-A类" in ticket["tags"]
    assert note["subtype"] == "mail.mt_note" and note["internal"] and note["message_type"] == "comment"
    assert "[R-TIER-1.9.1-A]" in note["text"] and "[R-E2E-TODO]" in note["text"]
    assert note["create_uid"] == sandbox.bot_uid
    (activity,) = ticket["activities"]
    assert activity["activity_type"] == "To-Do" and activity["summary"] == "回访客户：是否满意"
    assert activity["user_id"][0] == sandbox.user_id("agent1")  # in the agent's activity view
    assert activity["date_deadline"] == (ticket_created(ticket) + timedelta(days=2)).date().isoformat()


def ticket_created(ticket: dict[str, Any]):
    from connector.odoo.values import odoo_time

    return odoo_time(ticket["create_date"])


def test_complaint_gets_priority_tag_note_and_activity_in_one_write(stack, combo):
    sandbox = stack.sandbox
    flavour, protocol, version = combo
    assert stack.services.connector.schema.flavour.name == flavour
    assert stack.services.connector.schema.protocol == protocol
    sandbox.reset_calls()
    tid = sandbox.create_ticket(*COMPLAINT)
    check_written_back(stack, tid)
    stack.idle()
    assert_one_write(stack, tid)
    # kesu's own write sent no webhook (the rule's "last updated by is not the bot" filter).
    assert len([d for d in sandbox.deliveries if d.res_id == tid]) == 1
    if protocol == "json2":
        assert sandbox.deprecation_warnings == 0  # nothing went over the legacy API on 19


def assert_one_write(stack: OdooStack, tid: int) -> None:
    """One write, one note, one activity, and one read per pass kesu made over the ticket: the
    background poll may queue a pass of its own (it reads, finds nothing new, writes nothing),
    so reads are counted against kesu's passes, not against a fixed 1."""
    sandbox, model = stack.sandbox, "helpdesk.ticket"
    assert sandbox.count(model, "write") == 1 and sandbox.count(model, "message_post") == 1
    assert sandbox.count("mail.activity", "create") == 1
    # A pass marks its events done before it reports itself applied (kesu_plan_applied): a pass
    # that has just read may not be counted yet. Wait until every read is one of kesu's passes; a
    # read outside a pass never catches up and fails here.
    try:
        wait_until(lambda: sandbox.count(model, "read") == stack.passes(tid), 10)
    except AssertionError:
        pass
    assert sandbox.count(model, "read") == stack.passes(tid) >= 1
    assert sandbox.count(model, "write") == 1 and sandbox.count(model, "message_post") == 1


def test_a_poll_pass_over_the_written_ticket_is_not_a_second_write(stack):
    """The flaky case made certain: after the write, the reconciliation poll queues the same
    ticket once more (as it does when its change id differs from the webhook's)."""
    from kesu.store.db import utcnow
    from kesu.store.inbox import NewEvent

    sandbox = stack.sandbox
    sandbox.reset_calls()
    tid = sandbox.create_ticket(*COMPLAINT)
    check_written_back(stack, tid)
    stack.idle()
    passes = stack.passes(tid)
    stack.services.inbox.add_many([NewEvent(
        helpdesk="odoo", ticket_id=str(tid), kind="updated", source="poll", received_at=utcnow(),
        delivery_id=f"change:{tid}:poll-overlap")])
    wait_until(lambda: stack.passes(tid) == passes + 1, 15)
    stack.idle()
    assert_one_write(stack, tid)


def test_an_agent_change_is_read_once_and_writes_nothing_new(stack):
    sandbox = stack.sandbox
    tid = sandbox.create_ticket(*COMPLAINT)
    stack.wait_processed(tid)
    stack.idle()
    sandbox.reset_calls()
    time.sleep(1.05)  # a change id is (ticket, write_date to the second): see docs/odoo.md
    sandbox.write_ticket(tid, name="豆腐发霉（已联系）")  # a new webhook, nothing new to decide
    wait_until(lambda: sandbox.count("helpdesk.ticket", "read") >= 1)
    stack.idle()
    assert sandbox.count("helpdesk.ticket", "write") == 0
    assert sandbox.count("helpdesk.ticket", "message_post") == 0
    assert len(stack.notes(tid)) == 1 and len(sandbox.ticket(tid)["activities"]) == 1


def test_the_same_webhook_again_is_a_duplicate_and_a_bad_secret_is_401(stack):
    sandbox = stack.sandbox
    tid = sandbox.create_ticket(*COMPLAINT)
    stack.wait_processed(tid)
    stack.idle()
    delivery = next(d for d in sandbox.deliveries if d.res_id == tid and d.ok)
    r = requests.post(delivery.url, data=delivery.body, headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    bad = requests.post(f"{stack.url}/webhooks/odoo?token=guess", data=delivery.body, timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "shared secret does not match"
    assert len(stack.notes(tid)) == 1


def test_with_a_fifth_of_webhooks_lost_the_poll_processes_every_ticket_exactly_once(odoo, combo, sqlite_url):
    odoo.drop_webhooks(0.2, seed=7)
    stack = start_odoo_stack(odoo, sqlite_url, combo[1],
                             configure=lambda s: setattr(s.worker, "sync_interval", 0.3))
    try:
        ids = [odoo.create_ticket(f"{COMPLAINT[0]} #{i}", COMPLAINT[1]) for i in range(15)]
        odoo.wait_idle(10)
        dropped = [d for d in odoo.deliveries if d.dropped]
        assert dropped, "the seed drops some webhooks"
        for tid in ids:
            stack.wait_processed(tid, timeout=20)
        time.sleep(1.0)  # a few more polls: nothing may be applied twice
        stack.idle()
        for tid in ids:
            assert len(stack.notes(tid)) == 1, f"ticket {tid}"
            assert len(odoo.ticket(tid)["activities"]) == 1
        sources = {r["source"] for r in stack.services.inbox.list(limit=500)}
        assert {"webhook", "poll"} <= sources
    finally:
        stack.stop()


def test_odoo_16_is_served_by_polling_alone(sqlite_url):
    with SandboxOdoo(version=16, flavour="enterprise") as sandbox:
        stack = start_odoo_stack(sandbox, sqlite_url, "jsonrpc", wire=False,
                                 configure=lambda s: setattr(s.worker, "sync_interval", 0.3))
        try:
            tid = sandbox.create_ticket(*COMPLAINT)
            (note,) = stack.wait_processed(tid)
            ticket = sandbox.ticket(tid)
            assert "[R-TIER-1.9.1-A]" in note["text"] and ticket["priority"] == "3"
            assert sandbox.deliveries == []
            assert all(r["source"] == "poll" for r in stack.services.inbox.list())
        finally:
            stack.stop()


def test_over_postgresql_too(db_url):
    with SandboxOdoo(version=19, flavour="oca") as sandbox:
        stack = start_odoo_stack(sandbox, db_url, "json2")
        try:
            check_written_back(stack, sandbox.create_ticket(*COMPLAINT))
        finally:
            stack.stop()


def test_odoo_down_then_back_the_event_waits_and_is_applied(stack):
    sandbox = stack.sandbox
    sandbox.inject(None, "helpdesk.ticket", "read", status=503, times=3)
    tid = sandbox.create_ticket(*COMPLAINT)
    check_written_back(stack, tid)
    assert sandbox.count("helpdesk.ticket", "read") >= 2


def test_cli_odoo_setup_is_idempotent(odoo, combo, sqlite_url, tmp_path, monkeypatch):
    settings = odoo_settings(odoo, sqlite_url, 9, combo[1])
    config = tmp_path / "kesu.toml"
    config.write_text(
        "[helpdesk]\nkind = \"odoo\"\nname = \"odoo\"\n"
        f"url = \"{odoo.url}\"\nbot_login = \"{odoo.bot_login}\"\n"
        f"[helpdesk.options]\ndatabase = \"{odoo.database}\"\nprotocol = \"{combo[1]}\"\n"
        f"[store]\nurl = \"{sqlite_url}\"\n", encoding="utf-8")
    monkeypatch.setenv("KESU_HELPDESK__TOKEN", settings.helpdesk.token.get_secret_value())
    monkeypatch.setenv("KESU_HELPDESK__WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("KESU_ODOO_ADMIN_KEY", odoo.api_key_for("admin"))
    args = ["odoo", "setup", "-c", str(config), "--webhook-url", "http://127.0.0.1:9/webhooks/odoo",
            "--admin-login", "admin"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "created: automation, action" in first.output and "token=***" in first.output
    second = CliRunner().invoke(cli, args)
    assert "unchanged: automation, action" in second.output
    monkeypatch.setenv("KESU_ODOO_ADMIN_KEY", "")
    refused = CliRunner().invoke(cli, args)  # the bot has no Settings rights
    assert refused.exit_code == 1
    assert "AccessError" in refused.output and "base.automation" in refused.output


def test_an_odoo_refusal_shows_odoos_own_words_in_the_inbox(odoo, combo, sqlite_url):
    said = "You are not allowed to modify 'Helpdesk Ticket' (helpdesk.ticket) records."
    odoo.inject(None, "helpdesk.ticket", "write", error="AccessError", message=said, times=None)
    stack = start_odoo_stack(odoo, sqlite_url, combo[1],
                             configure=lambda s: setattr(s.worker, "max_attempts", 2))
    try:
        odoo.create_ticket(*COMPLAINT)
        row = wait_until(lambda: next((r for r in stack.services.inbox.list() if r["status"] == "dead"), None), 15)
        assert "helpdesk.ticket.write failed: AccessError" in row["last_error"]
        assert f"helpdesk said: {said}" in row["last_error"]
        assert "PermissionDenied" in row["last_error"]
    finally:
        stack.stop()
