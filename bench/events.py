"""Benchmark 2 and 3 -- complete events through the sandbox Zammad, and helpdesk calls per event.

    .venv/bin/python bench/events.py [--tickets 2000] [--threads 2]

Three processes on 127.0.0.1: the sandbox Zammad (``bench/sandbox_server.py``: REST API plus a
control port), ``kesu serve --config kesu.toml`` (HTTP intake + worker threads + timers, SQLite in
a temporary directory on disk) and this driver. The sandbox's trigger posts signed webhooks to kesu
over HTTP; kesu reads each ticket (``GET /tickets/{id}?all=true``), runs the built-in policies and
writes back (one PUT with fields and note, one call per tag). Phases:

1. warm-up (not measured);
2. sequential: one complaint at a time; per-event time inside kesu (webhook stored -> event done)
   and end to end (ticket created -> event done);
3. burst: N complaints filed at once; events/s from the first creation to the last event done;
   per-event latency; helpdesk calls per event (the sandbox counts every API call); CPU per event
   of kesu and of the sandbox; kesu's peak RSS;
4. nothing new: the customer writes again on tickets kesu already handled -> reads, no writes;
5. caused by kesu: a trigger *without* the "not updated by kesu" condition, so kesu's own writes
   come back as webhooks -> they must be recognised and cost no call;
6. baseline: the same ``GET ?all=true`` + ``PUT`` (and + tag) with plain ``requests.Session``
   against the same sandbox (triggers off), sequential and at kesu's worker concurrency.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PYTHON,
    CpuWindow,
    ROOT,
    SECRET,
    Proc,
    free_port,
    machine,
    profile_report,
    start_profile,
    stop_profile,
    summary,
    table,
    verdict,
    wait_port,
    wait_quiet,
    wait_until,
    write_json,
)

TARGET_EPS = 500
TARGET_RATIO = 1.25
TARGET_RSS_MB = 150


def epoch(value: str | datetime) -> float:
    if isinstance(value, datetime):
        dt = value
    else:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class Control:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.s = requests.Session()
        self.s.trust_env = False

    def get(self, path: str) -> Any:
        r = self.s.get(self.base + path, timeout=120)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, data: dict[str, Any]) -> Any:
        r = self.s.post(self.base + path, json=data, timeout=300)
        r.raise_for_status()
        return r.json()


class Inbox:
    """Read-only look at kesu's SQLite inbox (WAL: readers never block kesu)."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def _q(self, sql: str, *params: Any) -> list[Any]:
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def max_id(self) -> int:
        return self._q("SELECT coalesce(max(id), 0) FROM inbox")[0][0]

    def counts_after(self, after: int) -> dict[str, int]:
        return dict(self._q("SELECT status, count(*) FROM inbox WHERE id > ? GROUP BY status", after))

    def kinds_after(self, after: int) -> dict[str, int]:
        return {f"{src}/{kind}/{status}": n for src, kind, status, n in self._q(
            "SELECT source, kind, status, count(*) FROM inbox WHERE id > ? GROUP BY 1, 2, 3", after)}

    def rows_after(self, after: int) -> list[tuple[Any, ...]]:
        return self._q("SELECT id, ticket_id, status, received_at, finished_at, kind FROM inbox "
                       "WHERE id > ? ORDER BY id", after)


def wait_phase(ctl: Control, inbox: Inbox, after: int, expected: int, timeout: float) -> dict[str, int]:
    """Until ``expected`` webhook rows arrived after ``after`` and none is pending or processing."""
    def ready() -> dict[str, int] | None:
        c = inbox.counts_after(after)
        if sum(c.values()) >= expected and not c.get("pending") and not c.get("processing"):
            if ctl.get("/deliveries")["pending"] == 0:
                c2 = inbox.counts_after(after)
                if not c2.get("pending") and not c2.get("processing"):
                    return c2
        return None
    return wait_until(ready, timeout, 0.05)


def calls_table(calls: dict[str, Any]) -> dict[str, int]:
    return {f"{m} {p}": n for m, p, n in calls["by"]}


def per_event_calls(calls: dict[str, Any], events: int) -> dict[str, float]:
    by = calls_table(calls)
    reads = sum(n for k, n in by.items() if k.startswith("GET /api/v1/tickets/"))
    writes = sum(n for k, n in by.items() if not k.startswith("GET "))
    return {"events": events, "total": calls["total"], "reads": reads, "writes": writes,
            "calls_per_event": calls["total"] / events if events else float("nan"),
            "writes_per_event": writes / events if events else float("nan"), "by": by}


# ------------------------------------------------------------------------------------ kesu phases


def own_cpu(*procs: Proc) -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return sum(p.cpu_seconds() for p in procs) + me.ru_utime + me.ru_stime


def sequential(ctl: Control, inbox: Inbox, n: int, offset: int) -> dict[str, Any]:
    ctl.post("/reset", {})
    start_id = inbox.max_id()
    inside, e2e = [], []
    for i in range(n):
        before = inbox.max_id()
        tid, created = ctl.post("/create", {"n": 1, "offset": offset + i})["tickets"][0]
        wait_phase(ctl, inbox, before, 1, 30)
        row = inbox.rows_after(before)[-1]
        inside.append(epoch(row[4]) - epoch(row[3]))
        e2e.append(epoch(row[4]) - epoch(created))
    calls = ctl.get("/calls")
    return {"events": n, "inside_ms": summary([x * 1000 for x in inside]),
            "end_to_end_ms": summary([x * 1000 for x in e2e]),
            "calls": per_event_calls(calls, n), "rows": inbox.counts_after(start_id)}


def burst(ctl: Control, inbox: Inbox, kesu: Proc, sandbox: Proc, n: int, offset: int) -> dict[str, Any]:
    ctl.post("/reset", {})
    before = inbox.max_id()
    k_cpu, s_cpu = kesu.cpu_seconds(), sandbox.cpu_seconds()
    t0 = time.time()
    created = ctl.post("/create", {"n": n, "offset": offset})["tickets"]
    t_created = time.time()
    counts = wait_phase(ctl, inbox, before, n, 600)
    time.sleep(1.5)  # timers the policies set to fire at once are part of the burst's work
    counts = wait_phase(ctl, inbox, before, n, 600)
    rows = inbox.rows_after(before)
    k_cpu, s_cpu = kesu.cpu_seconds() - k_cpu, sandbox.cpu_seconds() - s_cpu
    t_end = max(epoch(r[4]) for r in rows)
    created_at = {str(tid): epoch(c) for tid, c in created}
    e2e = [(epoch(r[4]) - created_at[r[1]]) * 1000 for r in rows if r[1] in created_at]
    inside = [(epoch(r[4]) - epoch(r[3])) * 1000 for r in rows]
    calls = ctl.get("/calls")
    deliveries = ctl.get("/deliveries")
    ids = [tid for tid, _ in created]
    snaps = ctl.post("/tickets", {"ids": ids})["tickets"]
    with_note = sum(1 for t in snaps if t["notes"])
    elapsed = t_end - t0
    return {"events": n, "elapsed_s": elapsed, "events_per_s": n / elapsed,
            "create_s": t_created - t0, "rows": counts, "deliveries": deliveries,
            "tickets_with_note": with_note, "ids": ids,
            "end_to_end_ms": summary(e2e), "inside_ms": summary(inside),
            "kesu_cpu_ms_per_event": k_cpu / n * 1000, "sandbox_cpu_ms_per_event": s_cpu / n * 1000,
            "rows_by_kind": inbox.kinds_after(before),
            "calls_per_processed_event": calls["total"] / len(rows),
            "calls": per_event_calls(calls, n), "note_sample": next((t["notes"][0]["body"] for t in snaps
                                                                    if t["notes"]), "")}


def nothing_new(ctl: Control, inbox: Inbox, ids: list[int]) -> dict[str, Any]:
    """An agent adds an internal note (not customer-visible): a webhook, but no new fact."""
    ctl.post("/reset", {})
    before = inbox.max_id()
    ctl.post("/article", {"ids": ids, "body": "已电话联系客户，等待回复。", "as_user": "agent1@example.com",
                          "internal": True})
    counts = wait_phase(ctl, inbox, before, len(ids), 300)
    return {"events": len(ids), "rows": counts, "calls": per_event_calls(ctl.get("/calls"), len(ids)),
            "rows_by_kind": inbox.kinds_after(before)}


def customer_again(ctl: Control, inbox: Inbox, ids: list[int]) -> dict[str, Any]:
    """The customer writes again (a new fact for the policies: a repeated complaint)."""
    ctl.post("/reset", {})
    before = inbox.max_id()
    ctl.post("/article", {"ids": ids, "body": "请尽快处理，谢谢。"})
    counts = wait_phase(ctl, inbox, before, len(ids), 300)
    return {"events": len(ids), "rows": counts, "calls": per_event_calls(ctl.get("/calls"), len(ids)),
            "rows_by_kind": inbox.kinds_after(before)}


def self_caused(ctl: Control, inbox: Inbox, kesu_url: str, n: int, offset: int) -> dict[str, Any]:
    ctl.post("/wire", {"endpoint": f"{kesu_url}/webhooks/zammad", "secret": SECRET, "exclude_bot": False,
                       "name": "kesu-no-loop-guard"})
    ctl.post("/reset", {})
    before = inbox.max_id()
    created = ctl.post("/create", {"n": n, "offset": offset})["tickets"]
    # Each complaint: its own webhook, then one for kesu's PUT (tags run no trigger).
    counts = wait_phase(ctl, inbox, before, 2 * n, 300)
    time.sleep(1.0)  # anything kesu would still do because of its own writes shows up here
    counts = wait_phase(ctl, inbox, before, 2 * n, 300)
    calls = per_event_calls(ctl.get("/calls"), n)
    skipped = counts.get("skipped", 0)
    snaps = ctl.post("/tickets", {"ids": [tid for tid, _ in created]})["tickets"]
    return {"tickets": n, "rows": counts, "self_caused_deliveries": skipped,
            "reads": calls["reads"], "writes": calls["writes"], "calls": calls,
            "notes_per_ticket": summary([len(t["notes"]) for t in snaps]),
            "rows_by_kind": inbox.kinds_after(before),
            # Skipped deliveries are never claimed: every read belongs to a processed event, so
            # reads beyond the processed events would be calls caused by kesu's own writes.
            "calls_due_to_self_caused": max(0, calls["reads"] - counts.get("done", 0))}


# ------------------------------------------------------------------------------------ baseline


def baseline(api: str, bot_token: str, ids: list[int], threads: int, note: str, with_tag: bool) -> dict[str, Any]:
    """GET ?all=true + PUT (fields + internal note) [+ POST /tags/add], plain requests."""
    lat: list[float] = []
    lock = threading.Lock()

    def work(chunk: list[int]) -> None:
        s = requests.Session()
        s.trust_env = False
        s.headers["Authorization"] = f"Token token={bot_token}"
        mine = []
        for tid in chunk:
            t0 = time.perf_counter()
            r = s.get(f"{api}/tickets/{tid}", params={"all": "true"}, timeout=10)
            r.raise_for_status()
            r.json()
            r = s.put(f"{api}/tickets/{tid}", json={
                "priority": "3 high",
                "article": {"body": note, "type": "note", "internal": True, "content_type": "text/plain",
                            "subject": f"bench #{tid}"}}, timeout=10)
            r.raise_for_status()
            r.json()
            if with_tag:
                r = s.post(f"{api}/tags/add", json={"item": "客诉-A类", "object": "Ticket", "o_id": tid},
                           timeout=10)
                r.raise_for_status()
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)

    chunks = [ids[i::threads] for i in range(threads)]
    ts = [threading.Thread(target=work, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join(600)
    elapsed = time.perf_counter() - t0
    return {"threads": threads, "pairs": len(ids), "with_tag": with_tag, "elapsed_s": elapsed,
            "per_s": len(ids) / elapsed, "latency_ms": summary([x * 1000 for x in lat])}


# ------------------------------------------------------------------------------------ main


def write_config(path: Path, *, api_url: str, bot_token: str, db: Path, port: int, threads: int) -> None:
    path.write_text(f"""# written by bench/events.py
[helpdesk]
kind = "zammad"
name = "bench"
url = "{api_url}"
token = "{bot_token}"
webhook_secret = "{SECRET}"
bot_login = "kesu-bot@localhost"
webhook_base_url = "http://127.0.0.1:{port}"

[store]
url = "sqlite:///{db}"

[server]
host = "127.0.0.1"
port = {port}

[worker]
threads = {threads}
""")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tickets", type=int, default=300, help="burst size (phase 3) and baseline pairs")
    p.add_argument("--sequential", type=int, default=100)
    p.add_argument("--followups", type=int, default=100, help="phases 4, 4b and 5")
    p.add_argument("--threads", type=int, default=2, help="kesu worker threads = baseline concurrency")
    p.add_argument("--delivery-workers", type=int, default=4, help="sandbox webhook delivery threads")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--no-fields", dest="fields", action="store_false",
                   help="do not provision the ticket fields (kesu zammad setup): kesu then writes tags")
    p.add_argument("--profile", action="store_true",
                   help="sample kesu with py-spy during the burst (its numbers then include py-spy's cost)")
    args = p.parse_args(argv)
    if args.tickets > 20000 or args.sequential > 2000 or 2 * args.followups > args.tickets:
        p.error("bounded run: at most 20,000 tickets, 2,000 sequential, 2 × followups <= tickets")

    work = Path(tempfile.mkdtemp(prefix="kesu-bench-events-"))
    print(f"work dir {work}", flush=True)
    sp, cp, kp = free_port(), free_port(), free_port()
    sandbox = Proc("sandbox", [PYTHON, str(ROOT / "bench" / "sandbox_server.py"), "--port", str(sp),
                               "--control-port", str(cp), "--delivery-workers", str(args.delivery_workers)],
                   work)
    kesu: Proc | None = None
    results: dict[str, Any] = {"machine": machine(), "params": {k: str(v) for k, v in vars(args).items()}}
    started = time.monotonic()
    try:
        wait_port(cp, 60, sandbox.popen)
        ctl = Control(cp)
        info = ctl.get("/info")
        api = info["url"] + "/api/v1"
        db = work / "kesu.db"
        cfg = work / "kesu.toml"
        write_config(cfg, api_url=info["url"], bot_token=info["bot_token"], db=db, port=kp,
                     threads=args.threads)
        if args.fields:
            # As a site does at installation: the ticket fields the policies name (kesu then writes
            # the tier into its field, in the same PUT as the note, instead of a tag call).
            setup = subprocess.run([PYTHON, "-m", "kesu.cli", "zammad", "setup", "--config", str(cfg)],
                                   cwd=work, capture_output=True, text=True, timeout=300)
            if setup.returncode != 0:
                raise RuntimeError(f"kesu zammad setup failed: {setup.stderr[-2000:]}")
            results["setup"] = setup.stdout[-4000:]
        # `python -m kesu.cli` = the `kesu` command, run from this tree (ROOT is first on sys.path)
        kesu = Proc("kesu", [PYTHON, "-m", "kesu.cli", "serve", "--config", str(cfg)], work)
        wait_port(kp, 60, kesu.popen)
        kesu_url = f"http://127.0.0.1:{kp}"
        ctl.post("/wire", {"endpoint": f"{kesu_url}/webhooks/zammad", "secret": SECRET, "exclude_bot": True})
        inbox = Inbox(db)
        offset = 0

        print("phase 1: warm-up", flush=True)
        before = inbox.max_id()
        ctl.post("/create", {"n": 50, "offset": offset})
        offset += 50
        wait_phase(ctl, inbox, before, 50, 120)

        print("phase 2: sequential", flush=True)
        results["other_busy_cpus_before_sequential"] = wait_quiet(max_wait=300)
        window, own0 = CpuWindow(), own_cpu(kesu, sandbox)
        results["sequential"] = seq = sequential(ctl, inbox, args.sequential, offset)
        seq["cpu_window"] = window.close(own_cpu(kesu, sandbox) - own0)
        offset += args.sequential
        print(f"  other work during this phase: {seq['cpu_window']['foreign_cpus']:.2f} CPUs", flush=True)
        print(f"  inside kesu p50 {seq['inside_ms']['p50']:.1f} ms, end to end p50 "
              f"{seq['end_to_end_ms']['p50']:.1f} ms, {seq['calls']['calls_per_event']:.2f} calls/event",
              flush=True)

        print(f"phase 3: burst of {args.tickets}", flush=True)
        results["other_busy_cpus_before_burst"] = wait_quiet(max_wait=300)
        window, own0 = CpuWindow(), own_cpu(kesu, sandbox)
        spy = start_profile(kesu.pid, work / "kesu-burst.collapsed") if args.profile else None
        results["burst"] = b = burst(ctl, inbox, kesu, sandbox, args.tickets, offset)
        if spy is not None:
            stop_profile(spy)
            results["profile"] = profile_report(work / "kesu-burst.collapsed", top=40)
            print(results["profile"], flush=True)
        offset += args.tickets
        b["cpu_window"] = window.close(own_cpu(kesu, sandbox) - own0)
        results["kesu_mem_kib_after_burst"] = kesu.status()
        print(f"  other work during the burst: {b['cpu_window']['foreign_cpus']:.2f} CPUs", flush=True)
        print(f"  inbox rows: {b['rows_by_kind']}", flush=True)
        print(f"  {b['events_per_s']:.0f} events/s ({b['elapsed_s']:.2f} s; creating took {b['create_s']:.2f} s), "
              f"e2e p50 {b['end_to_end_ms']['p50']:.0f} ms p99 {b['end_to_end_ms']['p99']:.0f} ms, "
              f"{b['calls']['calls_per_event']:.2f} calls/event, kesu CPU {b['kesu_cpu_ms_per_event']:.2f} ms/event, "
              f"sandbox CPU {b['sandbox_cpu_ms_per_event']:.2f} ms/event, notes {b['tickets_with_note']}/{args.tickets}",
              flush=True)

        print("phase 4: nothing new", flush=True)
        results["nothing_new"] = nn = nothing_new(ctl, inbox, b["ids"][: args.followups])
        print(f"  {nn['calls']['reads']} reads, {nn['calls']['writes']} writes for {nn['events']} events", flush=True)

        print("phase 4b: the customer writes again", flush=True)
        results["customer_again"] = ca = customer_again(ctl, inbox, b["ids"][args.followups: 2 * args.followups])
        print(f"  {ca['calls']['reads']} reads, {ca['calls']['writes']} writes for {ca['events']} events "
              f"({ca['rows_by_kind']})", flush=True)

        print("phase 5: caused by kesu", flush=True)
        results["self_caused"] = sc = self_caused(ctl, inbox, kesu_url, args.followups, offset)
        offset += args.followups
        print(f"  {sc['self_caused_deliveries']} self-caused deliveries, calls due to them: "
              f"{sc['calls_due_to_self_caused']}", flush=True)
        results["kesu_mem_kib"] = kesu.status()
        kesu.stop()

        print("phase 6: baseline (plain requests)", flush=True)
        ctl.post("/wire", {"off": True})
        results["other_busy_cpus_before_baseline"] = wait_quiet(max_wait=300)
        window, own0 = CpuWindow(), own_cpu(sandbox)
        ids = [tid for tid, _ in ctl.post("/create", {"n": args.tickets + args.sequential,
                                                      "offset": offset})["tickets"]]
        note = b["note_sample"] or "kesu: 客诉等级 A类（重大），依据：发霉 [R-TIER-1.9.1-A]"
        base: dict[str, Any] = {}
        base["seq_get_put"] = baseline(api, info["bot_token"], ids[: args.sequential], 1, note, False)
        base["seq_get_put_tag"] = baseline(api, info["bot_token"], ids[: args.sequential], 1, note, True)
        rest = ids[args.sequential:]
        half = len(rest) // 2
        base["conc_get_put"] = baseline(api, info["bot_token"], rest[:half], args.threads, note, False)
        base["conc_get_put_tag"] = baseline(api, info["bot_token"], rest[half:], args.threads, note, True)
        # What the sandbox itself can serve: the same calls from more threads.
        more = [tid for tid, _ in ctl.post("/create", {"n": args.tickets // 2, "offset": offset})["tickets"]]
        base["ceiling_get_put_tag_8_threads"] = baseline(api, info["bot_token"], more, 8, note, True)
        results["baseline"] = base
        results["baseline_cpu_window"] = bw = window.close(own_cpu(sandbox) - own0)
        print(f"  other work during the baseline: {bw['foreign_cpus']:.2f} CPUs", flush=True)
        for k, v in base.items():
            print(f"  {k}: {v['per_s']:.0f}/s, p50 {v['latency_ms']['p50']:.2f} ms, mean "
                  f"{v['latency_ms']['mean']:.2f} ms", flush=True)
    except BaseException:
        for proc in (kesu, sandbox):
            if proc is not None:
                print(f"--- {proc.name} log tail ---\n{proc.tail()}")
        raise
    finally:
        if kesu is not None:
            kesu.stop()
        sandbox.stop()
        results["wall_s"] = time.monotonic() - started
        out = args.out or work / "events-results.json"
        write_json(out, results)
        print(f"results: {out}")

    seq, b, nn, sc, base, ca = (results["sequential"], results["burst"], results["nothing_new"],
                                results["self_caused"], results["baseline"], results["customer_again"])
    ratio_put = seq["inside_ms"]["mean"] / base["seq_get_put"]["latency_ms"]["mean"]
    ratio_tag = seq["inside_ms"]["mean"] / base["seq_get_put_tag"]["latency_ms"]["mean"]
    rss = results["kesu_mem_kib"].get("VmHWM", 0) / 1024
    print()
    print(table(["measure", "kesu", "baseline", "target", "verdict"], [
        ["complete events/s (burst)", f"{b['events_per_s']:.0f}",
         f"{base['conc_get_put']['per_s']:.0f} GET+PUT/s, {base['conc_get_put_tag']['per_s']:.0f} GET+PUT+tag/s "
         f"({args.threads} threads); sandbox ceiling {base['ceiling_get_put_tag_8_threads']['per_s']:.0f} "
         f"GET+PUT+tag/s (8 threads)", f"≥ {TARGET_EPS}/s", verdict(b["events_per_s"] >= TARGET_EPS)],
        ["one event, sequential (mean ms)", f"{seq['inside_ms']['mean']:.2f}",
         f"{base['seq_get_put']['latency_ms']['mean']:.2f} GET+PUT / "
         f"{base['seq_get_put_tag']['latency_ms']['mean']:.2f} GET+PUT+tag",
         f"≤ {TARGET_RATIO}× GET+PUT", f"{verdict(ratio_put <= TARGET_RATIO)} ({ratio_put:.2f}×; "
         f"{ratio_tag:.2f}× of GET+PUT+tag)"],
        ["calls per typical event", f"{b['calls']['calls_per_event']:.2f} "
         f"({b['calls']['writes_per_event']:.2f} writes)", "-", "≤ 2",
         f"{verdict(b['calls']['calls_per_event'] <= 2)} counting the read; "
         f"{verdict(b['calls']['writes_per_event'] <= 2)} counting writes"],
        ["calls per processed event (burst, incl. timers)", f"{b['calls_per_processed_event']:.2f}", "-", "-",
         "-"],
        ["calls per event, customer writes again", f"{ca['calls']['calls_per_event']:.2f} "
         f"({ca['calls']['writes_per_event']:.2f} writes)", "-", "-", "- (a new fact)"],
        ["calls per event, nothing new (agent's internal note)", f"{nn['calls']['calls_per_event']:.2f} "
         f"({nn['calls']['writes_per_event']:.2f} writes)", "-", "0",
         f"{verdict(nn['calls']['calls_per_event'] == 0)} counting the read; "
         f"{verdict(nn['calls']['writes_per_event'] == 0)} counting writes"],
        ["calls due to kesu's own writes", f"{sc['calls_due_to_self_caused']} for "
         f"{sc['self_caused_deliveries']} deliveries", "-", "0", verdict(sc["calls_due_to_self_caused"] == 0)],
        ["kesu peak RSS (MiB)", f"{rss:.0f}", "-", f"≤ {TARGET_RSS_MB}", verdict(rss <= TARGET_RSS_MB)],
    ]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
