"""Admin surface end to end: catch-up polling, the CLI, disabling a plugin by config."""

from __future__ import annotations

import re

from datetime import datetime, timedelta, timezone

import tomlkit
from typer.testing import CliRunner

from kesu.cli import app as cli
from kesu.store import tickets as store
from kesu.sync import cursor_name, poll_once
from tests.e2e.conftest import SECRET, start_stack, wait_until
from tests.e2e.test_crash import write_config

COMPLAINT = ("豆腐发霉", "打开就发霉变质。")
runner = CliRunner()


def test_catch_up_poll_processes_tickets_whose_webhooks_were_lost(sandbox, db_url):
    stack = start_stack(sandbox, db_url, wire=False)  # no trigger: every webhook is "lost"
    try:
        since = datetime.now(timezone.utc) - timedelta(minutes=1)
        ids = [sandbox.create_ticket(*COMPLAINT)["id"] for _ in range(3)]
        first = poll_once(stack.services, since=since)
        assert (first.seen, first.queued) == (3, 3)
        for tid in ids:
            stack.wait_processed(tid)
        # kesu's own writes bumped updated_at; they are recognised and not queued again.
        second = poll_once(stack.services)
        assert second.queued == 0 and second.own == 3
        assert store.get_cursor(stack.services.engine, cursor_name("zammad")) == second.cursor
        assert all(len(stack.notes(t)) == 1 for t in ids)
    finally:
        stack.stop()


def test_continuous_sync_catches_up_without_any_webhook(sandbox, db_url):
    def configure(s):
        s.worker.sync_interval = 0.3

    stack = start_stack(sandbox, db_url, wire=False, configure=configure)
    try:
        tid = sandbox.create_ticket(*COMPLAINT)["id"]
        note = stack.wait_processed(tid, timeout=15)[0]
        assert "[R-TIER-1.9.1-A]" in note["body"]
    finally:
        stack.stop()


def test_disabling_a_plugin_in_the_config_removes_its_effects(sandbox, db_url):
    def configure(s):
        s.plugins.disabled = ["severity"]

    stack = start_stack(sandbox, db_url, configure=configure)
    try:
        tid = sandbox.create_ticket(*COMPLAINT)["id"]
        wait_until(lambda: stack.services.inbox.depth()["done"] == 1)
        stack.idle()
        ticket = sandbox.ticket(tid)
        # No tier, no tier tag, no priority change; the other policies still work.
        assert not any(t.startswith("客诉-") and t.endswith("类") for t in ticket["tags"])
        assert ticket["priority"] == "2 normal"
        assert all("R-TIER-" not in n["body"] for n in stack.notes(tid))
        assert all(r["plugin"] != "severity" for r in store.audit_for(stack.services.engine, f"zammad:{tid}"))
    finally:
        stack.stop()


def test_cli_plugins_list_disable_enable(tmp_path, sandbox, db_url):
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
    out = runner.invoke(cli, ["plugins", "list", "-c", str(config)])
    assert out.exit_code == 0, out.output
    assert "severity" in out.output and "zammad" in out.output and "essential" in out.output
    assert "kesu_evaluate" in out.output

    out = runner.invoke(cli, ["plugins", "disable", "severity", "-c", str(config)])
    assert out.exit_code == 0, out.output
    assert tomlkit.parse(config.read_text())["plugins"]["disabled"] == ["severity"]
    assert "[helpdesk]" in config.read_text(), "the rest of the file is kept"
    listed = runner.invoke(cli, ["plugins", "list", "-c", str(config)]).output
    assert any("severity" in line and " no " in f" {line} " for line in listed.splitlines())

    refused = runner.invoke(cli, ["plugins", "disable", "zammad", "-c", str(config)])
    assert refused.exit_code == 2 and "essential" in refused.output
    unknown = runner.invoke(cli, ["plugins", "enable", "nosuch", "-c", str(config)])
    assert unknown.exit_code == 2 and "no such plugin" in unknown.output

    assert runner.invoke(cli, ["plugins", "enable", "severity", "-c", str(config)]).exit_code == 0
    assert tomlkit.parse(config.read_text())["plugins"]["disabled"] == []


def test_cli_zammad_setup_is_idempotent(tmp_path, sandbox, db_url):
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
    first = runner.invoke(cli, ["zammad", "setup", "-c", str(config), "--webhook-url", "http://127.0.0.1:9/webhooks/zammad"])
    assert first.exit_code == 0, first.output
    assert "新建     Webhook kesu" in first.output and "新建     触发器 kesu" in first.output
    assert re.search(r"工单字段 \d+ 个：新建 [1-9]\d*，更新 0", first.output)
    second = runner.invoke(cli, ["zammad", "setup", "-c", str(config), "--webhook-url", "http://127.0.0.1:9/webhooks/zammad"])
    assert second.exit_code == 0, second.output
    # the second run changes nothing: no webhook, trigger or field created or updated
    assert "新建     " not in second.output and "更新     " not in second.output, second.output
    assert re.search(r"工单字段 \d+ 个：新建 0，更新 0", second.output), second.output


def test_cli_inbox_list_and_retry_dead_letters(tmp_path, sandbox, db_url):
    stack = start_stack(sandbox, db_url)
    try:
        config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
        sandbox.stop()
        stack.settings.worker.max_attempts = 1  # the running workers read it at each failure
        tid = sandbox.create_ticket(*COMPLAINT)["id"]
        wait_until(lambda: stack.services.inbox.depth()["dead"] == 1, 15)
        listed = runner.invoke(cli, ["inbox", "list", "--status", "dead", "-c", str(config)])
        assert listed.exit_code == 0 and "dead: 1" in listed.output and "Connector" in listed.output
        sandbox.start()
        stack.settings.worker.max_attempts = 10
        retried = runner.invoke(cli, ["inbox", "retry", "--all", "-c", str(config)])
        assert "1 event(s) queued again" in retried.output
        stack.wait_processed(tid, timeout=15)
    finally:
        stack.stop()


def test_cli_config_show_redacts_secrets(tmp_path, sandbox, db_url):
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
    out = runner.invoke(cli, ["config", "show", "-c", str(config)])
    assert out.exit_code == 0
    assert SECRET not in out.output and sandbox.token_for(sandbox.bot_login) not in out.output
    assert "**********" in out.output
