"""``kesu worker --processes N``: several worker processes on one store (SQLite and PostgreSQL).

* Per-ticket order: many events for a few tickets, fed while three worker processes run against
  a sandbox Zammad that answers slowly; a probe plugin (installed for the worker processes through
  an entry point) writes each event's sequence number and its process id into the ticket's note.
  The sandbox's log of applied writes must show, per ticket, the numbers in increasing order,
  every timer event's number (timers are never merged) and the last event's.
* Stopping: SIGTERM to the parent while events are claimed and the helpdesk hangs: the
  processes exit within ``shutdown_seconds`` and hand the claimed events back at once (pending,
  not waiting for the lease); a new worker finishes them, each effect once.
* A killed worker process is reported and started again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kesu.store.db import make_engine, migrate
from kesu.store.inbox import Inbox, NewEvent
from tests.e2e.conftest import free_port, wait_until

PROBE = '''
"""Test plugin: writes the event's sequence number and this process's id into the note."""
import os

from kesu.effects import InternalNote
from plugins import hookimpl


@hookimpl
def kesu_evaluate(event):
    payload = event.timer_payload if event.kind.value == "timer_fired" else event.hint
    seq = payload.get("seq")
    if seq is None:  # a webhook from the helpdesk
        return [InternalNote(rule_id="R-ORDER-1", text=f"顺序探针 webhook pid={os.getpid()}")]
    return [InternalNote(rule_id="R-ORDER-1", text=f"顺序探针 seq={seq} pid={os.getpid()}")]
'''

BUILTIN_POLICIES = ["facts", "severity", "routing", "deadlines", "escalation", "penalties",
                    "followups", "compensation", "notifiers"]
LINE = re.compile(r"seq=(\d+) pid=(\d+)")


@pytest.fixture
def probe_path(tmp_path: Path) -> Path:
    """A directory holding the probe plugin and its distribution metadata (an entry point in the
    ``kesu`` group), put on the worker processes' PYTHONPATH."""
    root = tmp_path / "probe"
    dist = root / "kesu_order_probe-1.0.dist-info"
    dist.mkdir(parents=True)
    (root / "kesu_order_probe.py").write_text(PROBE, encoding="utf-8")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kesu-order-probe\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[kesu]\norder_probe = kesu_order_probe\n")
    return root


def write_config(path: Path, sandbox, db_url: str, *, threads: int = 1, shutdown: float = 10.0,
                 lease: float = 30.0, port: int = 8080) -> Path:
    path.write_text(
        f"""
[server]
port = {port}

[helpdesk]
kind = "zammad"
url = "{sandbox.url}"
token = "{sandbox.token_for(sandbox.bot_login)}"
bot_login = "{sandbox.bot_login}"
webhook_secret = "s"
retries = 0
timeout = 30

[store]
url = "{db_url}"

[worker]
threads = {threads}
lease_seconds = {lease}
shutdown_seconds = {shutdown}
timer_interval = 0.2
poll_interval = 0.05
backoff_base = 0.2
backoff_max = 1

[plugins]
disabled = {json.dumps(BUILTIN_POLICIES)}

[reports]
automatic = []
""",
        encoding="utf-8",
    )
    return path


class Workers:
    """``kesu worker --processes N`` as a child of the test, its log in a file."""

    def __init__(self, config: Path, probe: Path, log: Path, processes: int, *, serve: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(probe), os.environ.get("PYTHONPATH", "")])}
        self.log = log
        self.offset = log.stat().st_size if log.exists() else 0
        command = (["serve", "--worker-processes", str(processes)] if serve
                   else ["worker", "--processes", str(processes)])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kesu.cli", *command, "--config", str(config), "--skip-checks",
             "--log-level", "INFO"],
            stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env,
        )

    def lines(self) -> list[dict]:
        out = []
        for line in self.log.read_bytes()[self.offset:].decode("utf-8", "replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def started(self) -> dict[int, int]:
        """Worker process index -> pid of its latest start."""
        found: dict[int, int] = {}
        for rec in self.lines():
            m = re.match(r"worker process (\d+) \(pid (\d+)\) started", rec.get("msg", ""))
            if m:
                found[int(m[1])] = int(m[2])
        return found

    def wait_started(self, n: int, timeout: float = 60) -> dict[int, int]:
        return wait_until(lambda: len(s := self.started()) >= n and s, timeout, 0.1)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is gone too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def store(db_url: str) -> Inbox:
    engine = make_engine(db_url)
    migrate(engine)
    return Inbox(engine, helpdesk="zammad")


def event(tid: int, seq: int, *, timer: bool) -> NewEvent:
    now = datetime.now(timezone.utc)
    if timer:
        return NewEvent(helpdesk="zammad", ticket_id=str(tid), kind="timer_fired", source="timer",
                        received_at=now, delivery_id=f"timer:probe:{tid}:{seq}",
                        payload={"timer_key": "probe", "payload": {"seq": seq}})
    return NewEvent(helpdesk="zammad", ticket_id=str(tid), kind="updated", source="webhook",
                    received_at=now, delivery_id=f"hook-{tid}-{seq}", payload={"seq": seq})


def applied(sandbox, tid: int) -> list[tuple[int, int]]:
    """(seq, pid) of every probe line in the ticket's applied writes, in the order applied."""
    out = []
    for w in sandbox.write_log:
        if w["ticket_id"] == tid and w["op"] == "update":
            out += [(int(s), int(p)) for s, p in LINE.findall(json.dumps(w["values"], ensure_ascii=False))]
    return out


def test_events_of_a_ticket_apply_in_order_across_worker_processes(sandbox, db_url, tmp_path, probe_path):
    tickets, rounds, processes = 4, 30, 3
    inbox = store(db_url)
    # Each call answers after 20 ms: claims overlap in time, so the processes work side by side.
    sandbox.inject(None, r"^/api/v1/tickets/\d+", status=None, times=None, delay=0.02)
    tids = [sandbox.create_ticket(f"顺序 {i}", "测试事件顺序。")["id"] for i in range(tickets)]
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
    workers = Workers(config, probe_path, tmp_path / "worker.log", processes)
    try:
        pids = set(workers.wait_started(processes).values())
        timers: dict[int, set[int]] = {tid: set() for tid in tids}
        for seq in range(rounds):  # one commit per round: events keep arriving while others run
            batch = []
            for i, tid in enumerate(tids):
                timer = (seq + i) % 4 == 3
                if timer:
                    timers[tid].add(seq)
                batch.append(event(tid, seq, timer=timer))
            inbox.add_many(batch)
        total = tickets * rounds
        wait_until(lambda: inbox.depth()["done"] == total, 60, 0.1)
        assert inbox.depth() == {"pending": 0, "processing": 0, "done": total, "skipped": 0, "dead": 0}
        seen_pids: set[int] = set()
        for tid in tids:
            order = applied(sandbox, tid)
            seqs = [s for s, _ in order]
            assert seqs == sorted(set(seqs)), f"ticket {tid}: writes out of order or repeated: {seqs}"
            assert timers[tid] <= set(seqs), f"ticket {tid}: timer events missing: {timers[tid] - set(seqs)}"
            assert seqs[-1] == rounds - 1
            seen_pids |= {p for _, p in order}
        assert seen_pids <= pids and len(seen_pids) >= 2, (seen_pids, pids)
        assert workers.stop() == 0
        assert all(gone(pid) for pid in pids)
    finally:
        workers.kill()
        inbox.engine.dispose()
        print(workers.log.read_text(errors="replace")[-4000:])


def test_sigterm_hands_claimed_events_back_and_a_new_worker_finishes_them(sandbox, db_url, tmp_path,
                                                                         probe_path):
    inbox = store(db_url)
    tids = [sandbox.create_ticket(f"停止 {i}", "测试停止。")["id"] for i in range(2)]
    # Every read hangs for 20 s: the workers are inside their claims when told to stop.
    hang = sandbox.inject("GET", r"^/api/v1/tickets/\d+", status=None, times=None, delay=20)
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url, shutdown=0.5, lease=120)
    log = tmp_path / "worker.log"
    workers = Workers(config, probe_path, log, 2)
    try:
        pids = workers.wait_started(2)
        inbox.add_many([event(tid, 1, timer=False) for tid in tids])
        wait_until(lambda: inbox.depth()["processing"] == 2 and hang.hits >= 2, 30, 0.05)
        assert workers.stop(timeout=20) == 0
        assert all(gone(pid) for pid in pids.values())
        # Handed back at once: pending, ready now (the 120 s lease would hold them otherwise).
        rows = {r["ticket_id"]: r for r in inbox.list()}
        assert {r["status"] for r in rows.values()} == {"pending"}
        assert all("handed back" in (r["last_error"] or "") for r in rows.values())
        assert any("handed back to the queue" in rec["msg"] for rec in workers.lines())
        sandbox.clear_faults()
        again = Workers(config, probe_path, log, 1)
        try:
            wait_until(lambda: inbox.depth()["done"] == 2, 60, 0.05)
        finally:
            assert again.stop() == 0
        for tid in tids:
            assert [s for s, _ in applied(sandbox, tid)] == [1]
    finally:
        workers.kill()
        inbox.engine.dispose()
        print(log.read_text(errors="replace")[-4000:])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_killed_worker_process_is_reported_and_started_again(sandbox, db_url, tmp_path, probe_path):
    inbox = store(db_url)
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
    workers = Workers(config, probe_path, tmp_path / "worker.log", 2)
    try:
        first = workers.wait_started(2)
        os.kill(first[1], signal.SIGKILL)
        wait_until(lambda: workers.started().get(1, first[1]) != first[1], 60, 0.1)
        assert any(rec["level"] == "error" and "worker process 1" in rec["msg"] and "starting it again" in rec["msg"]
                   for rec in workers.lines())
        assert workers.proc.poll() is None and not gone(first[0])  # the others kept running
        tid = sandbox.create_ticket("重启", "测试重启。")["id"]
        inbox.add_many([event(tid, 7, timer=False)])
        wait_until(lambda: inbox.depth()["done"] == 1, 30, 0.05)
        assert [s for s, _ in applied(sandbox, tid)] == [7]
        assert workers.stop() == 0
    finally:
        workers.kill()
        inbox.engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_serve_with_worker_processes_takes_webhooks_and_processes_them_elsewhere(sandbox, db_url, tmp_path,
                                                                              probe_path):
    """``kesu serve --worker-processes 2``: the intake stores the helpdesk's webhooks, the worker
    processes (not the serving process) decide and write; SIGTERM stops them all."""
    port = free_port()
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url, port=port)
    sandbox.wire_webhook(f"http://127.0.0.1:{port}/webhooks/zammad", signature_token="s")
    serve = Workers(config, probe_path, tmp_path / "serve.log", 2, serve=True)
    inbox = store(db_url)
    try:
        children = serve.wait_started(2)
        tids = [sandbox.create_ticket(f"网页 {i}", "经由 webhook。")["id"] for i in range(3)]
        for tid in tids:
            wait_until(lambda: re.findall(r"webhook pid=(\d+)", json.dumps(
                [w["values"] for w in sandbox.write_log if w["ticket_id"] == tid], ensure_ascii=False)), 60, 0.1)
        wait_until(lambda: inbox.pending_count() == 0, 30, 0.05)
        writers = {int(p) for w in sandbox.write_log
                   for p in re.findall(r"webhook pid=(\d+)", json.dumps(w["values"], ensure_ascii=False))}
        assert writers and writers <= set(children.values()) and serve.proc.pid not in writers
        # uvicorn ends on the signal it stopped on (as kesu serve without worker processes does),
        # after the worker processes were stopped.
        assert serve.stop() == -signal.SIGTERM
        assert all(gone(pid) for pid in children.values())
        assert any("worker process 1 stopped" in rec["msg"] for rec in serve.lines())
    finally:
        serve.kill()
        inbox.engine.dispose()
        print(serve.log.read_text(errors="replace")[-4000:])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_worker_processes_that_cannot_start_stop_kesu_worker_with_one_line(sandbox, db_url, tmp_path,
                                                                          probe_path):
    """A setting only the worker processes trip over (a helpdesk kind no connector serves, with
    the start-up checks skipped): each death is reported, then kesu worker gives up."""
    config = write_config(tmp_path / "kesu.toml", sandbox, db_url)
    config.write_text(config.read_text(encoding="utf-8").replace('kind = "zammad"', 'kind = "no-such-desk"'),
                      encoding="utf-8")
    workers = Workers(config, probe_path, tmp_path / "worker.log", 2)
    try:
        code = workers.proc.wait(120)
        text = workers.log.read_text(encoding="utf-8", errors="replace")
        assert code == 1, text[-3000:]
        last = text.strip().splitlines()[-1]
        assert last.startswith("错误：工作进程") and "连续 5 次退出" in last and "Traceback" not in text
        assert any("could not start" in rec["msg"] and "no-such-desk" in rec["msg"] for rec in workers.lines())
        assert sum("starting it again" in rec["msg"] for rec in workers.lines()) >= 4
    finally:
        workers.kill()
