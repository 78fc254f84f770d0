"""Every comparison of issue 12 in one go, one table.

    .venv/bin/python bench/run_all.py            # full runs (~8-12 min)
    .venv/bin/python bench/run_all.py --quick    # short runs (~3 min)

Runs, one after the other and each with its baseline in the same run:

* ``bench/events.py`` -- complete events/s of ``kesu serve`` against the sandbox Zammad beside plain
  ``requests`` GET + PUT at the same concurrency against the same sandbox; one event's time inside
  kesu beside the bare GET + PUT; kesu's CPU per complete event (from ``/proc/<pid>/stat``: the
  process's own CPU time, which other work on the machine hardly changes); helpdesk calls per
  typical complaint and the reads/writes of a no-op event; kesu's peak RSS;
* ``bench/intake.py`` -- durable webhook acks/s and p99 at 32 connections beside a bare FastAPI
  endpoint (httptools + uvloop); server CPU per request; peak RSS of both servers;
* ``bench/policies.py`` -- µs per event of all built-in policies (first and later events).

The machine's load average (``/proc/loadavg``) is read before and after; every script also reports
how many CPUs *other* processes used during its own measurements. Prints one Markdown table and
writes every script's JSON and the table into ``--out`` (default: a temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, git_revision, machine, table, verdict  # noqa: E402

FULL = {
    "events": ["--tickets", "300", "--sequential", "100", "--followups", "100"],
    "intake": ["--configs", "httptools:uvloop", "--requests", "20000", "--warmup", "1000", "--wrk-seconds", "0",
               "--experiment"],
    "policies": ["--profile", "food,realestate", "--tickets", "600", "--rounds", "10"],
}
QUICK = {
    "events": ["--tickets", "120", "--sequential", "40", "--followups", "40"],
    "intake": ["--configs", "httptools:uvloop", "--requests", "4000", "--warmup", "400", "--wrk-seconds", "0",
               "--no-retry", "--experiment"],
    "policies": ["--profile", "food", "--tickets", "200", "--rounds", "3"],
}


def fsync_probe(directory: Path, n: int = 200) -> dict[str, float]:
    """What the disk under the benchmarks' databases takes to write and fsync 4 KiB (ms): the
    floor of a durable commit, so of a group commit's latency."""
    times = []
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = os.urandom(4096)
        for i in range(n):
            t0 = time.perf_counter()
            os.pwrite(fd, block, (i % 16) * 4096)
            os.fsync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return {"p50": times[n // 2], "p99": times[int(n * 0.99)], "mean": sum(times) / n}


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def run(name: str, args: list[str], out: Path, log: Path, env: dict[str, str]) -> dict[str, Any]:
    """One benchmark script in its own process; its JSON results (``--out``/``--json``)."""
    flag = "--json" if name == "policies" else "--out"
    cmd = [PYTHON, str(ROOT / "bench" / f"{name}.py"), *args, flag, str(out)]
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.monotonic()
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        rc = proc.wait()
    print(f"   {time.monotonic() - t0:.0f} s, exit {rc}, log {log}", flush=True)
    if rc != 0 or not out.exists():
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise SystemExit(f"bench/{name}.py failed (exit {rc}):\n" + "\n".join(tail))
    return json.loads(out.read_text())


def rows_for(ev: dict[str, Any], ik: dict[str, Any], po: dict[str, Any]) -> list[list[str]]:
    seq, b, nn, base = ev["sequential"], ev["burst"], ev["nothing_new"], ev["baseline"]
    threads = int(ev["params"]["threads"])
    conc = base["conc_get_put"]
    eps_ratio = b["events_per_s"] / conc["per_s"]
    one = seq["inside_ms"]["mean"]
    bare_one = base["seq_get_put"]["latency_ms"]["mean"]
    cpu = b["kesu_cpu_ms_per_event"]
    calls = b["calls"]
    rows = [
        ["complete events/s (burst)", f"{b['events_per_s']:.0f}",
         f"plain requests GET+PUT, {threads} threads: {conc['per_s']:.0f}/s",
         "≥ 0.5×", f"{verdict(eps_ratio >= 0.5)} ({eps_ratio:.2f}×)"],
        ["one event, sequential: webhook stored → done (mean ms)", f"{one:.2f} (p50 {seq['inside_ms']['p50']:.2f})",
         f"bare GET+PUT {bare_one:.2f} (p50 {base['seq_get_put']['latency_ms']['p50']:.2f})",
         "≤ 2×", f"{verdict(one <= 2 * bare_one)} ({one / bare_one:.2f}×)"],
        ["kesu CPU per complete event (ms, /proc)", f"{cpu:.2f}",
         f"sandbox serving kesu's calls: {b['sandbox_cpu_ms_per_event']:.2f}", "≤ 3", verdict(cpu <= 3)],
        ["helpdesk calls per typical complaint", f"{calls['calls_per_event']:.2f} "
         f"({calls['reads'] / calls['events']:.2f} reads, {calls['writes_per_event']:.2f} writes)", "-", "≤ 2",
         verdict(calls["calls_per_event"] <= 2)],
        ["no-op event (agent's internal note): reads / writes per event",
         f"{nn['calls']['reads'] / nn['events']:.2f} / {nn['calls']['writes_per_event']:.2f}", "-", "≤ 1 / 0",
         verdict(nn["calls"]["reads"] <= nn["events"] and nn["calls"]["writes"] == 0)],
    ]
    for pair in sorted({k.split("-", 1)[1] for k in ik["runs"]}):
        bare, kesu = ik["runs"][f"bare-{pair}"], ik["runs"][f"kesu-{pair}"]
        ratio = kesu["rps"] / bare["rps"]
        p99 = kesu["latency_ms"]["p99"]
        nosync = ik["runs"].get(f"kesu_nosync-{pair}")
        rows += [
            [f"durable acks/s, {ik['params']['connections']} connections ({pair})", f"{kesu['rps']:,.0f}",
             f"bare FastAPI {bare['rps']:,.0f}/s", "≥ 0.5×",
             f"{verdict(ratio >= 0.5)} ({ratio:.2f}×; durable {'ok' if kesu.get('durable_ok') else 'FAILED'})"],
            [f"acks p99 ms ({pair})", f"{p99:.1f} (p50 {kesu['latency_ms']['p50']:.1f})",
             f"bare {bare['latency_ms']['p99']:.1f} (p50 {bare['latency_ms']['p50']:.1f})", "≤ 25", verdict(p99 <= 25)],
            [f"intake server CPU µs per request ({pair})", f"{kesu['server_cpu_us_per_request']:.0f}",
             f"bare {bare['server_cpu_us_per_request']:.0f}", "-", "-"],
        ]
        if nosync is not None:
            rows.append([f"experiment: the same intake without fsync ({pair})",
                         f"{nosync['rps']:,.0f}/s, p99 {nosync['latency_ms']['p99']:.1f} ms",
                         f"durable {kesu['rps']:,.0f}/s = {kesu['rps'] / nosync['rps']:.2f}× of it "
                         f"(≈ 1: fsync is not the limit, the CPU is)", "-", "-"])
    worst = 0.0
    for r in po["runs"]:
        for label, res in r["results"].items():
            worst = max(worst, res["loop_cpu_us"])
            rows.append([f"policies µs per event, {r['profile']}, {label} (loop CPU)", f"{res['loop_cpu_us']:.0f} "
                         f"(p50 {res['per_call_us']['p50']:.0f})", "-", "≤ 100", verdict(res["loop_cpu_us"] <= 100)])
    rss = {"kesu serve (events)": ev["kesu_mem_kib"].get("VmHWM", 0) / 1024}
    for pair in sorted({k.split("-", 1)[1] for k in ik["runs"]}):
        rss[f"kesu intake ({pair})"] = ik["runs"][f"kesu-{pair}"]["server_mem_kib"].get("VmHWM", 0) / 1024
        rss[f"bare FastAPI ({pair})"] = ik["runs"][f"bare-{pair}"]["server_mem_kib"].get("VmHWM", 0) / 1024
    worst_rss = max(v for k, v in rss.items() if k.startswith("kesu"))
    rows.append(["peak RSS per process (MiB)", ", ".join(f"{k} {v:.0f}" for k, v in rss.items() if k.startswith("kesu")),
                 ", ".join(f"{k} {v:.0f}" for k, v in rss.items() if not k.startswith("kesu")), "≤ 150",
                 verdict(worst_rss <= 150)])
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short runs (~3 min), for before/after checks")
    p.add_argument("--out", type=Path, default=None, help="directory for the JSON results and the table")
    p.add_argument("--only", default="events,intake,policies",
                   help="comma-separated subset; the table needs all three (default)")
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="kesu-bench-all-"))
    out.mkdir(parents=True, exist_ok=True)
    plan = QUICK if args.quick else FULL
    env = dict(os.environ)
    env.setdefault("BENCH_QUIET_WAIT", "20" if args.quick else "120")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    wanted = [x.strip() for x in args.only.split(",") if x.strip()]
    started = time.monotonic()
    load_before = loadavg()
    print(f"machine: {machine()}\nrevision {git_revision()}, load average before: {load_before}", flush=True)
    results: dict[str, Any] = {}
    loads: dict[str, list[float]] = {}
    for name in ("events", "intake", "policies"):
        if name in wanted:
            results[name] = run(name, plan[name], out / f"{name}.json", out / f"{name}.log", env)
            loads[name] = loadavg()
    disk = fsync_probe(out)
    load_after = loadavg()
    summary = {"machine": machine(), "revision": git_revision(), "quick": args.quick, "fsync_ms": disk,
               "load_before": load_before, "load_after": load_after, "load_after_each": loads,
               "wall_s": time.monotonic() - started}
    if set(wanted) != {"events", "intake", "policies"}:
        print(json.dumps(summary, indent=2))
        return 0
    ev, ik, po = results["events"], results["intake"], results["policies"]
    rows = rows_for(ev, ik, po)
    other = {"events (burst)": ev["burst"]["cpu_window"]["foreign_cpus"],
             "events (baseline)": ev["baseline_cpu_window"]["foreign_cpus"],
             **{f"intake {k}": r["cpu_window"]["foreign_cpus"] for k, r in ik["runs"].items()}}
    rows.append(["disk: write + fsync of 4 KiB (ms)", f"p50 {disk['p50']:.2f}, p99 {disk['p99']:.2f}", "-", "-", "-"])
    rows.append(["machine: load average (1, 5, 15 min) before → after", f"{load_before} → {load_after}",
                 "other processes' CPUs during runs: " + ", ".join(f"{k} {v:.2f}" for k, v in other.items()),
                 "-", "-"])
    text = table(["measure", "kesu", "baseline (same run)", "target", "verdict"], rows)
    print()
    print(f"bench/run_all.py{' --quick' if args.quick else ''}, revision {summary['revision']}, "
          f"{summary['wall_s']:.0f} s")
    print(text)
    (out / "table.md").write_text(text + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
