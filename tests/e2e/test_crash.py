"""A worker process killed (SIGKILL) mid-event: the event is processed again, effects appear once.

Two moments: while the worker waits for the ticket read (nothing decided yet), and after the
helpdesk applied kesu's write but before the worker learnt it (the dangerous one: a naive retry
would write the note twice). Runs on SQLite and PostgreSQL with real ``kesu worker`` processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kesu.store import tickets as store
from tests.e2e.conftest import SECRET, start_stack, wait_until

COMPLAINT = ("豆浆里有异物", "喝豆浆时发现里面有异物，孩子也喝了。")


def write_config(path: Path, sandbox, db_url: str) -> Path:
    path.write_text(
        f"""
[helpdesk]
kind = "zammad"
url = "{sandbox.url}"
token = "{sandbox.token_for(sandbox.bot_login)}"
bot_login = "{sandbox.bot_login}"
webhook_secret = "{SECRET}"
retries = 0

[store]
url = "{db_url}"

[worker]
threads = 1
lease_seconds = 3
timer_interval = 0.2
poll_interval = 0.05
backoff_base = 0.2
""",
        encoding="utf-8",
    )
    return path


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kesu.cli", "worker", "--config", str(config), "--log-level", "INFO"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("moment", ["during_read", "after_write_applied"])
def test_worker_killed_mid_event_effects_appear_exactly_once(sandbox, db_url, tmp_path, moment):
    intake = start_stack(sandbox, db_url, workers=False)  # webhooks in; no worker in this process
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
    log = tmp_path / "worker.log"
    try:
        if moment == "during_read":
            sandbox.inject("GET", r"^/api/v1/tickets/\d+$", status=None, delay=30)
        else:
            sandbox.inject("PUT", r"^/api/v1/tickets/\d+$", status=None, hold=30)
        first = start_worker(config, log)
        tid = sandbox.create_ticket(*COMPLAINT)["id"]
        if moment == "during_read":
            wait_until(lambda: sandbox.count("GET", "/api/v1/tickets/") >= 1, 20)
        else:
            wait_until(lambda: sandbox.count("PUT") >= 1, 20)
            # The sandbox logs the call before applying it: wait for the write itself.
            wait_until(lambda: len(intake.notes(tid)) == 1, 20)
        first.kill()
        first.wait(10)
        depth = intake.services.inbox.depth()
        # Claimed and unfinished (still "processing", or already handed back by a lease that ran
        # out while the machine was busy): in no case done.
        assert depth["processing"] + depth["pending"] == 1 and depth["done"] == 0

        second = start_worker(config, log)
        try:
            wait_until(lambda: intake.services.inbox.depth()["done"] == 1, 30)
        finally:
            second.terminate()
            second.wait(10)
        ticket = sandbox.ticket(tid)
        assert len(intake.notes(tid)) == 1
        # The tier field is provisioned: the tier is in it (same PUT as the note), not a tag.
        assert ticket["complaint_tier"] == "A" and "客诉-A类" not in ticket["tags"]
        assert ticket["priority"] == "3 high"
        assert "[R-TIER-1.9.1-A]" in intake.notes(tid)[0]["body"]
        kinds = [r["kind"] for r in store.audit_for(intake.services.engine, f"zammad:{tid}")]
        if moment == "after_write_applied":
            assert "recovered" in kinds  # the second worker finished the interrupted write
        row = intake.services.inbox.list()[0]
        assert row["attempts"] >= 2 and row["status"] == "done"
    finally:
        intake.stop()
        print(log.read_text(errors="replace")[-3000:] if log.exists() else "")
