"""Shared helpers for the benchmark scripts: processes, ports, payloads, statistics, tables.

Nothing here talks to anything but 127.0.0.1. Every process a benchmark starts is started
through :class:`Proc`, which ends it (by its own pid) when the benchmark stops.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "bench-webhook-secret-令牌"

#: Realistic complaints (豆制品 food company): A/B/C tiers by the severity policy's keywords, plus
#: questions that match no tier. Each is (title, first article body).
COMPLAINTS: list[tuple[str, str]] = [
    ("豆腐发霉", "今天在超市买的盒装豆腐，打开就发霉变质，批号 20261101，要求给个说法。"),
    ("豆浆里有异物", "喝豆浆时发现里面有一根头发一样的异物，孩子也喝了，现在有点担心。"),
    ("豆干有虫", "打开真空包装的五香豆干，里面有一条小虫，太恶心了，请尽快处理。"),
    ("腐竹发酸", "昨天买的腐竹泡开以后发酸，有一股变质的味道，同一批次买了三包都这样。"),
    ("多人吃后不适", "家里多人吃了你们的卤豆腐后拉肚子，想知道这批产品有没有问题。"),
    ("豆皮颜色异常", "豆皮颜色异常，发红，和以前买的完全不一样，不敢吃。"),
    ("包装里少包", "整箱豆干打开后发现有两袋是空袋，少包了，请补发。"),
    ("没有生产日期", "买的豆腐乳瓶子上没有生产日期，不知道还能不能吃。"),
    ("封口不严", "千张的包装封口不严，拿回家就漏出汤汁了。"),
    ("豆腐表面有黑点", "嫩豆腐表面有几个黑点，不知道是什么东西。"),
    ("外包装破损", "收到的豆腐包装破损，出水严重，箱子都湿了。"),
    ("分量不足", "标称 500 克的豆腐，称了一下只有 430 克，分量不足。"),
    ("日期打印错误", "包装上的日期打印错误，生产日期比今天还晚一个月。"),
    ("豆腐块破碎", "网购的老豆腐到货时全部破碎了，没法做菜。"),
    ("想问问营业时间", "你们门店周末几点开门？想去买点新鲜豆浆。"),
    ("发票问题", "上周的订单还没有收到发票，麻烦帮忙开一下，抬头是个人。"),
    ("合作咨询", "我们是一家连锁餐厅，想批量采购你们的豆腐，请问怎么联系销售？"),
    ("配送时间", "请问下单后一般几天能送到？我在上海浦东。"),
]


# ------------------------------------------------------------------------------------ machine


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "loadavg": os.getloadavg(),
        "git": git_revision(),
    }


def git_revision() -> str:
    """HEAD, with ``+dirty`` when kesu's own sources differ from it (bench/ and docs/ aside);
    ``BENCH_REVISION`` when set (a ``git archive`` copy has no .git)."""
    if os.environ.get("BENCH_REVISION"):
        return os.environ["BENCH_REVISION"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kesu", "connector", "plugins",
                                "policies"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def busy_cpus(seconds: float = 1.0) -> float:
    """CPUs' worth of work done on the machine during ``seconds`` (from /proc/stat)."""
    def read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle
    t0, i0 = read()
    time.sleep(seconds)
    t1, i1 = read()
    total = t1 - t0
    return (os.cpu_count() or 1) * (1 - (i1 - i0) / total) if total else 0.0


def wait_quiet(limit: float = 0.3, max_wait: float = 90.0) -> float:
    """Wait (bounded) until the machine is nearly idle, so other work does not skew a run; returns
    the busy CPUs seen last (reported beside the results)."""
    max_wait = float(os.environ.get("BENCH_QUIET_WAIT", max_wait))
    deadline = time.monotonic() + max_wait
    while True:
        busy = busy_cpus()
        if busy <= limit or time.monotonic() > deadline:
            if busy > limit:
                print(f"  (machine still busy: {busy:.2f} CPUs in use by other work; measuring anyway)")
            return busy
        time.sleep(2)


def versions(*names: str) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# ------------------------------------------------------------------------------------ processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s") from None
            time.sleep(0.05)


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:g}s")
        time.sleep(interval)


class Proc:
    """A child process with its output in a log file; ended by its own pid."""

    def __init__(self, name: str, args: Sequence[str], log_dir: Path, env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 -- closed in stop()
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.popen = subprocess.Popen(list(args), stdout=self._log, stderr=subprocess.STDOUT,
                                      env=full_env, cwd=str(cwd))

    @property
    def pid(self) -> int:
        return self.popen.pid

    def status(self) -> dict[str, int]:
        """VmRSS / VmHWM (peak RSS) in KiB, from /proc/<pid>/status."""
        out = {}
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
        except OSError:
            pass
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process (all its threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ------------------------------------------------------------------------------------ payloads


def zammad_payloads(count: int) -> list[bytes]:
    """``count`` Zammad default webhook bodies (``{"ticket": ..., "article": ...}``) for distinct
    tickets with Chinese complaints, built by the sandbox Zammad's own payload code (the shape of
    Zammad's ``webhook_default_payload``; 6-9 KB each)."""
    from connector.zammad.sandbox import SandboxZammad
    from connector.zammad.sandbox.model import ruby_json

    zammad = SandboxZammad()  # never started: only its in-memory model is used
    bodies = []
    state = zammad.state
    for i in range(count):
        title, body = COMPLAINTS[i % len(COMPLAINTS)]
        t = zammad.create_ticket(title, body + f"\n订单号 DD{20260000 + i}，联系电话 138{i:08d}。")
        with state.lock:
            ticket = state.tickets[t["id"]]
            article = state.articles[state.ticket_article_ids[t["id"]][0]]
            bodies.append(ruby_json(state.webhook_payload(ticket, article)))
    zammad.close()
    return bodies


def sign(body: bytes, secret: str = SECRET) -> str:
    import hashlib
    import hmac

    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


# ------------------------------------------------------------------------------------ statistics


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (p in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summary(values: Sequence[float]) -> dict[str, float]:
    s = sorted(values)
    if not s:
        return {"n": 0}
    return {"n": len(s), "mean": sum(s) / len(s), "p50": percentile(s, 50), "p90": percentile(s, 90),
            "p99": percentile(s, 99), "max": s[-1], "min": s[0]}


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join([line, sep, *body])


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# ------------------------------------------------------------------------------------ profiling


def py_spy() -> str | None:
    import shutil

    found = shutil.which("py-spy") or (Path(PYTHON).parent / "py-spy")
    return str(found) if found and Path(found).exists() else None


def start_profile(pid: int, out: Path, rate: int = 250) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` with py-spy (collapsed stacks, per thread, GIL-holding or not)."""
    exe = py_spy()
    if exe is None:
        print("  (py-spy not found: `pip install py-spy` into the venv to profile)")
        return None
    return subprocess.Popen([exe, "record", "-p", str(pid), "-r", str(rate), "-f", "raw", "--threads",
                             "--nonblocking", "-o", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop_profile(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def profile_report(path: Path, top: int = 25, only_thread: str | None = None) -> str:
    """Inclusive and self sample shares per function from py-spy's raw (collapsed) output."""
    from collections import Counter

    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith(("thread", "process")) else "?"
        if frames[0].startswith("process"):
            frames = frames[1:]
            thread = frames[0] if frames and frames[0].startswith("thread") else thread
        if frames and frames[0].startswith("thread"):
            frames = frames[1:]
        if only_thread and only_thread not in thread:
            continue
        total += n
        threads[thread] += n
        seen = set()
        for f in frames:
            name = _short(f)
            if name not in seen:
                inclusive[name] += n
                seen.add(name)
        if frames:
            own[_short(frames[-1])] += n
    if not total:
        return "(no samples)"
    lines = [f"{total} samples; by thread: " + ", ".join(f"{t} {c / total:.0%}" for t, c in threads.most_common(6))]
    lines.append("inclusive:")
    lines += [f"  {c / total:6.1%}  {name}" for name, c in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {c / total:6.1%}  {name}" for name, c in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = file.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{name} ({short})"


def _proc_stat() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


class CpuWindow:
    """How much CPU the whole machine used during a measurement, and how much of it was not ours
    (``foreign_cpus``: other processes' work, in CPUs, averaged over the window)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.total0, self.idle0 = _proc_stat()

    def close(self, own_cpu_seconds: float) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        total1, idle1 = _proc_stat()
        ticks = os.sysconf("SC_CLK_TCK")
        busy_s = ((total1 - self.total0) - (idle1 - self.idle0)) / ticks
        return {"wall_s": wall, "machine_busy_cpus": busy_s / wall if wall else 0.0,
                "own_cpus": own_cpu_seconds / wall if wall else 0.0,
                "foreign_cpus": max(0.0, busy_s - own_cpu_seconds) / wall if wall else 0.0}
