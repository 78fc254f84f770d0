"""Budgeted fuzzing of every endpoint of a live ``kesu serve`` (issue 10).

    python bench/fuzz.py --store sqlite|postgres [--helpdesk zammad|odoo] [--requests 10000] [--seed N]

Starts the sandbox helpdesk and ``kesu serve --config kesu.toml`` (webhook intake, workers, timers)
as processes of their own, files a few complaints through the sandbox (Zammad) so the admin
operations have records to act on, then sends at least ``--requests`` generated requests:

* the helpdesk's webhook (about 40 %): ``tests/fuzz/strategies.py`` -- odd ids, nested values,
  UTF-16/BOM/Latin-1/broken UTF-8 bodies, content types, header values, sizes around the cap,
  signed over the body as sent (a small share wrongly);
* every operation of ``/openapi.json`` (about 45 %, split evenly): schemathesis, inputs that fit
  the schema and inputs that break it, with a read-write, read-only, wrong or no admin token;
* the admin page (about 12 %): dashboard, login, logout, every action form (with the form token),
  downloads; and other paths and methods (about 3 %);
* a few bodies over ``[server] max_body_bytes`` (1 MiB), with a Content-Length and chunked.

It counts answers by endpoint and status class, keeps every 5xx (and every answer that breaks a
webhook property, ``answer_problem``) with its request, samples the server's RSS from
``/proc/<pid>/status`` every 100 ms (and reads ``VmHWM``, the kernel's peak, at the end), and
records the machine's load. Exit status 1 when any answer was a 5xx, broke a property, or the
peak RSS reached 150 MB. PostgreSQL: a throwaway database on ``KESU_BENCH_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed as hseed, settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from bench.common import PYTHON, ROOT, CpuWindow, Proc, free_port, machine, table, wait_port, write_json  # noqa: E402
from tests.fuzz.strategies import (  # noqa: E402
    FuzzRequest,
    PageRequest,
    admin_page_requests,
    answer_problem,
    odoo_requests,
    send_case,
    zammad_requests,
)

SECRET = "bench-fuzz-secret-令牌"
ODOO_BOT_KEY = "bench-fuzz-odoo-bot-key"
RW, RO = "fuzz-rw-token-0123456789", "fuzz-ro-token-0123456789"
TOKENS = {"read-write": RW, "read-only": RO, "wrong": "not-a-token-0123456789", "none": None}
PG_ADMIN_URL = os.environ.get("KESU_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_RSS_MB = 150
MAX_BODY = 1_048_576


# ------------------------------------------------------------------------------------ accounting


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.failures: list[dict[str, Any]] = []  # 5xx, with the request
        self.problems: list[dict[str, Any]] = []  # < 500 but a property broken
        self.total = 0

    def record(self, label: str, status: int | None, request: dict[str, Any], problem: str | None = None) -> None:
        self.total += 1
        if status is None:
            self.counts[label]["conn"] += 1
        else:
            self.counts[label][f"{status // 100}xx"] += 1
            self.statuses[label][status] += 1
            if status >= 500:
                self.failures.append({"endpoint": label, "status": status, **request})
        if problem is not None and (status is None or status < 500):
            self.problems.append({"endpoint": label, "status": status, "problem": problem, **request})


def preview(data: bytes | str | None, limit: int = 400) -> str | None:
    if data is None:
        return None
    if isinstance(data, str):
        return data[:limit]
    return data[:limit].decode("utf-8", "backslashreplace")


class RssSampler(threading.Thread):
    """VmRSS of one process every ``interval`` seconds; ``peak_kib`` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid, self.interval = pid, interval
        self.stop = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self.peak_kib = 0

    def read(self, key: str = "VmRSS") -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.stop.wait(self.interval):
            kib = self.read()
            if kib:
                self.samples.append((time.monotonic() - t0, kib))
                self.peak_kib = max(self.peak_kib, kib)


# ------------------------------------------------------------------------------------ driving


def drive(strategy: st.SearchStrategy[Any], n: int, handle: Callable[[Any], None], seed: int) -> int:
    """Draw ``n`` values of ``strategy`` with Hypothesis (generation only) and hand each to
    ``handle``; a small search space is drawn again with the next seed until ``n`` are sent."""
    sent = 0
    for attempt in range(50):
        if sent >= n:
            break

        @hsettings(max_examples=n - sent, phases=[Phase.generate], database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))
        @hseed(seed + attempt)
        @given(strategy)
        def run(value: Any) -> None:
            nonlocal sent
            if sent < n:
                handle(value)
                sent += 1

        try:
            run()
        except Unsatisfiable:
            break
    return sent


def send_webhook(session: requests.Session, base: str, req: FuzzRequest, tally: Tally, label: str) -> None:
    headers = {k.decode("latin-1"): v for k, v in req.headers}
    request = {"method": "POST", "path": req.path, "encoding": req.encoding, "signed": req.signed,
               "headers": {k: preview(v, 120) for k, v in headers.items()}, "body": preview(req.body),
               "body_bytes": len(req.body)}
    try:
        r = session.post(base + req.path, data=req.body, headers=headers, timeout=60, allow_redirects=False)
    except requests.RequestException as exc:
        tally.record(label, None, {**request, "error": str(exc)}, f"connection error: {exc}")
        return
    try:
        data = r.json()
    except ValueError:
        data = r.text
    problem = answer_problem(req, r.status_code, data)
    tally.record(label, r.status_code, {**request, "answer": preview(r.text)}, problem)


def send_page(base: str, req: PageRequest, logged_in: requests.Session, csrf: str, login: Callable[[], None],
              tally: Tally) -> None:
    session = logged_in if req.session else requests.Session()
    form = list(req.form or [])
    if req.session and req.path.startswith("/admin/do/"):
        form = [(k, v) for k, v in form if k != "csrf"] + [("csrf", csrf)]
    headers = dict(req.headers)
    body = None
    if req.form is not None:
        body = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    label = f"{req.method} {page_route(req.path)}"
    request = {"method": req.method, "path": req.path, "form": form, "headers": headers, "session": req.session}
    try:
        r = session.request(req.method, base + req.path, data=body, headers=headers, timeout=60,
                            allow_redirects=False)
    except requests.RequestException as exc:
        tally.record(label, None, {**request, "error": str(exc)}, f"connection error: {exc}")
        return
    finally:
        if session is not logged_in:
            session.close()
    problem = None
    if req.path.startswith("/admin/do/") and "/" not in req.path[len("/admin/do/"):]:
        expected = 303 if req.session else 401
        if r.status_code != expected:
            problem = f"an action answered {r.status_code}, expected {expected}"
    tally.record(label, r.status_code, {**request, "answer": preview(r.text)}, problem)
    if req.session and req.path == "/admin/logout":
        login()


def page_route(path: str) -> str:
    path = path.split("?", 1)[0]
    for prefix, route in (("/admin/do/", "/admin/do/{action}"), ("/admin/reports/", "/admin/reports/{run_id}/{fmt}")):
        if path.startswith(prefix):
            return route
    return path


def oversized(base_port: int, kind: str, query: str, chunked: bool, size: int) -> int | None:
    """POST a body over the cap, by Content-Length or chunked, over a raw socket; the answer's
    status (None when the server closed without one)."""
    head = f"POST /webhooks/{kind}{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    chunk = b"10000\r\n" + b" " * 65_536 + b"\r\n" if chunked else b" " * 65_536
    answer = b""
    with socket.create_connection(("127.0.0.1", base_port), timeout=30) as sock:
        sock.sendall(head.encode())
        sent = 0
        try:
            import select

            while sent < size:
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(chunk)
                sent += 65_536
            if chunked and sent >= size:
                sock.sendall(b"0\r\n\r\n")
            answer = sock.recv(65_536)
        except OSError:
            pass
    if answer.startswith(b"HTTP/1.1 "):
        return int(answer[9:12])
    return None


# ------------------------------------------------------------------------------------ set-up


def write_config(path: Path, *, kind: str, api_url: str, token: str, store: str, port: int, work: Path,
                 bot_login: str) -> None:
    options = '\n[helpdesk.options]\ndatabase = "sandbox"\n' if kind == "odoo" else ""
    path.write_text(f"""# written by bench/fuzz.py
[helpdesk]
kind = "{kind}"
name = "fuzz"
url = "{api_url}"
token = "{token}"
webhook_secret = "{SECRET}"
bot_login = "{bot_login}"
webhook_base_url = "http://127.0.0.1:{port}"
{options}
[store]
url = "{store}"

[server]
host = "127.0.0.1"
port = {port}
max_body_bytes = {MAX_BODY}

[reports]
directory = "{work / 'reports'}"

[admin.tokens.rw]
token = "{RW}"
scopes = ["read", "write"]

[admin.tokens.ro]
token = "{RO}"
scopes = ["read"]
""", encoding="utf-8")
    path.chmod(0o600)


class PgDatabase:
    def __init__(self) -> None:
        from sqlalchemy import create_engine, text

        self.text = text
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.name = f"kesu_fuzz_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(self.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def start_helpdesk(kind: str, work: Path) -> tuple[Proc, dict[str, Any]]:
    port = free_port()
    if kind == "zammad":
        control = free_port()
        proc = Proc("sandbox", [PYTHON, str(ROOT / "bench" / "sandbox_server.py"), "--port", str(port),
                                "--control-port", str(control)], work)
        wait_port(control, 60, proc.popen)
        info = requests.get(f"http://127.0.0.1:{control}/info", timeout=30).json()
        return proc, {"url": info["url"], "token": info["bot_token"], "bot_login": info["bot_login"],
                      "control": f"http://127.0.0.1:{control}"}
    proc = Proc("sandbox", [PYTHON, "-m", "connector.odoo.sandbox", "--port", str(port),
                            "--api-key", f"kesu-bot={ODOO_BOT_KEY}"], work)
    wait_port(port, 60, proc.popen)
    return proc, {"url": f"http://127.0.0.1:{port}", "token": ODOO_BOT_KEY, "bot_login": "kesu-bot"}


def seed_complaints(helpdesk: dict[str, Any], base: str, n: int = 8) -> int:
    """Zammad: customers file ``n`` complaints; the sandbox's trigger posts them to kesu, whose
    workers decide them (ledger proposals, timers, complaint records for the admin operations)."""
    control = helpdesk.get("control")
    if control is None:
        return 0
    requests.post(f"{control}/wire", json={"endpoint": f"{base}/webhooks/zammad", "secret": SECRET,
                                          "exclude_bot": True}, timeout=30).raise_for_status()
    requests.post(f"{control}/create", json={"n": n, "offset": 0}, timeout=60).raise_for_status()
    deadline = time.monotonic() + 120
    auth = {"Authorization": f"Bearer {RO}"}
    while time.monotonic() < deadline:
        depth = requests.get(f"{base}/admin/api/inbox", headers=auth, timeout=30).json()["depth"]
        if depth.get("done", 0) + depth.get("dead", 0) >= n and not depth.get("pending") and not depth.get("processing"):
            break
        time.sleep(0.2)
    requests.post(f"{control}/wire", json={"off": True}, timeout=30)
    return n


# ------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--helpdesk", choices=["zammad", "odoo"], default="zammad")
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=10)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if not 100 <= args.requests <= 200_000:
        p.error("bounded run: 100 to 200,000 requests")

    work = Path(tempfile.mkdtemp(prefix="kesu-bench-fuzz-"))
    print(f"work dir {work}", flush=True)
    tally = Tally()
    results: dict[str, Any] = {"machine": machine(), "params": {k: str(v) for k, v in vars(args).items()}}
    pg = PgDatabase() if args.store == "postgres" else None
    store = pg.url if pg else f"sqlite:///{work / 'kesu.db'}"
    helpdesk_proc, helpdesk = start_helpdesk(args.helpdesk, work)
    kesu: Proc | None = None
    sampler: RssSampler | None = None
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        config = work / "kesu.toml"
        write_config(config, kind=args.helpdesk, api_url=helpdesk["url"], token=helpdesk["token"], store=store,
                     port=port, work=work, bot_login=helpdesk["bot_login"])
        kesu = Proc("kesu", [PYTHON, "-m", "kesu.cli", "serve", "--config", str(config)], work)
        wait_port(port, 90, kesu.popen)
        sampler = RssSampler(kesu.pid)
        sampler.start()
        results["seeded_complaints"] = seed_complaints(helpdesk, base)

        schema = schemathesis.openapi.from_dict(requests.get(f"{base}/openapi.json", timeout=30).json())
        operations = [r.ok() for r in schema.get_all_operations()]
        n = args.requests
        quota_page = n * 12 // 100
        quota_other = n * 3 // 100
        per_op = -(-(n * 45 // 100) // len(operations))
        quota_webhook = n - quota_page - quota_other - per_op * len(operations)
        print(f"{n} requests: webhook {quota_webhook}, {len(operations)} OpenAPI operations × {per_op}, "
              f"admin page {quota_page}, other paths {quota_other}, + oversized bodies", flush=True)

        rss_before = sampler.read() / 1024
        marks: list[tuple[str, float]] = [("start", rss_before)]
        results["rss_after_each_endpoint_mib"] = marks
        window = CpuWindow()
        own0 = kesu.cpu_seconds()
        load_before = os.getloadavg()
        started = time.monotonic()
        session = requests.Session()

        # 1. the helpdesk's webhook
        strategy = (zammad_requests(SECRET, max_size=MAX_BODY) if args.helpdesk == "zammad"
                    else odoo_requests(SECRET, max_size=MAX_BODY))
        label = f"POST /webhooks/{args.helpdesk} (generated)"
        drive(strategy, quota_webhook, lambda req: send_webhook(session, base, req, tally, label), args.seed)
        marks.append((label, round(sampler.read() / 1024, 1)))
        print(f"  webhook done: {tally.total} sent, {len(tally.failures)} 5xx", flush=True)

        # 2. every OpenAPI operation
        for k, op in enumerate(operations):
            def send(value: tuple[Any, str], op: Any = op) -> None:
                case, token = value
                request = {"method": case.method, "path": case.formatted_path, "query": case.query,
                           "headers": case.headers, "body": preview(json.dumps(case.body, default=str))
                           if case.body is not None else None, "token": token}
                try:
                    r = send_case(case, base, session, TOKENS[token], sign_secret=SECRET)
                except requests.RequestException as exc:
                    tally.record(op.label, None, {**request, "error": str(exc)}, f"connection error: {exc}")
                    return
                problem = None
                if 400 <= r.status_code < 500 and r.status_code != 405:
                    try:
                        data = r.json()
                        if not (data.get("detail") or data.get("error")):
                            problem = "4xx without a reason"
                    except ValueError:
                        problem = "4xx answer is not JSON"
                tally.record(op.label, r.status_code, {**request, "answer": preview(r.text)}, problem)

            modes = st.one_of(op.as_strategy(generation_mode=GenerationMode.POSITIVE),
                              op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
            drive(st.tuples(modes, st.sampled_from(list(TOKENS))), per_op, send, args.seed + 1000 * (k + 1))
            marks.append((op.label, round(sampler.read() / 1024, 1)))
        print(f"  OpenAPI done: {tally.total} sent, {len(tally.failures)} 5xx", flush=True)

        # 3. the admin page
        logged_in = requests.Session()
        csrf_box: dict[str, str] = {}

        def login() -> None:
            logged_in.cookies.clear()
            r = logged_in.post(f"{base}/admin/login", data={"token": RW}, allow_redirects=False, timeout=30)
            assert r.status_code == 303, r.text
            html = logged_in.get(f"{base}/admin", timeout=60).text
            csrf_box["csrf"] = html.split('name="csrf" value="', 1)[1].split('"', 1)[0]

        login()
        drive(admin_page_requests(), quota_page,
              lambda req: send_page(base, req, logged_in, csrf_box["csrf"], login, tally), args.seed + 7)
        print(f"  admin page done: {tally.total} sent, {len(tally.failures)} 5xx", flush=True)
        marks.append(("admin page", round(sampler.read() / 1024, 1)))

        # 4. other paths and methods
        other_paths = st.tuples(
            st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "POST"]),
            st.sampled_from(["/webhooks/zammad", "/webhooks/odoo", "/webhooks/", "/webhooks/%C2%B2", "/admin/api",
                             "/admin/api/nope", "/healthz", "/metrics", "/openapi.json", "/docs", "/redoc",
                             "/admin/do", "/", "/%ff", "/admin/api/reports/1/../../etc/passwd"]),
            st.binary(max_size=64))

        def send_other(value: tuple[str, str, bytes]) -> None:
            method, path, body = value
            label = "other paths and methods"
            request = {"method": method, "path": path, "body": preview(body)}
            try:
                r = session.request(method, base + path, data=body or None, timeout=60, allow_redirects=False)
            except requests.RequestException as exc:
                tally.record(label, None, {**request, "error": str(exc)}, None)
                return
            tally.record(label, r.status_code, request)

        drive(other_paths, quota_other, send_other, args.seed + 11)

        # 5. bodies over the cap: Content-Length (refused before reading) and chunked (cut off)
        query = f"?token={SECRET}" if args.helpdesk == "odoo" else ""
        for chunked, size in [(False, 2 * MAX_BODY)] * 5 + [(True, 3 * MAX_BODY)] * 5:
            status = oversized(port, args.helpdesk, "", chunked, size) if not query else \
                oversized(port, args.helpdesk, "?token=x", chunked, size)
            big = f"POST /webhooks/{args.helpdesk} (oversized, {'chunked' if chunked else 'Content-Length'})"
            tally.record(big, status, {"chunked": chunked, "bytes": size},
                         None if status == 413 else f"expected 413, got {status}")

        if tally.total < n:  # a search space drawn out early: top up with webhooks
            drive(strategy, n - tally.total, lambda req: send_webhook(session, base, req, tally, label), args.seed + 99)

        duration = time.monotonic() - started
        results["cpu_window"] = window.close(kesu.cpu_seconds() - own0)
        results["loadavg_before"], results["loadavg_after"] = load_before, os.getloadavg()
        alive = kesu.popen.poll() is None
        results["server_alive_after"] = alive
        step = max(1, len(sampler.samples) // 20)
        results["rss_timeline_mib"] = [(round(t, 1), round(k / 1024, 1)) for t, k in sampler.samples[::step]]
        results["rss"] = {"before_fuzz_mib": rss_before, "peak_sampled_mib": sampler.peak_kib / 1024, "vmhwm_mib": sampler.read("VmHWM") / 1024,
                          "end_mib": sampler.read() / 1024, "samples": len(sampler.samples)}
        results["duration_s"] = duration
    finally:
        if sampler is not None:
            sampler.stop.set()
        if kesu is not None:
            kesu.stop()
        helpdesk_proc.stop()
        if pg is not None:
            pg.drop()

    results["total_requests"] = tally.total
    results["per_endpoint"] = {k: dict(v) for k, v in sorted(tally.counts.items())}
    results["statuses"] = {k: {str(s): c for s, c in sorted(v.items())} for k, v in sorted(tally.statuses.items())}
    results["failures"] = tally.failures
    results["problems"] = tally.problems
    rows = []
    classes = ["2xx", "3xx", "4xx", "5xx", "conn"]
    for label, counts in sorted(tally.counts.items()):
        rows.append([label, sum(counts.values()), *[counts.get(c, 0) for c in classes]])
    totals = Counter[str]()
    for counts in tally.counts.values():
        totals.update(counts)
    rows.append(["**total**", tally.total, *[totals.get(c, 0) for c in classes]])
    print()
    print(table(["endpoint", "requests", *classes], rows))
    rss = results["rss"]
    peak = max(rss["peak_sampled_mib"], rss["vmhwm_mib"])
    peak_mb = peak * 1.048576  # the limit is 150 MB (10^6 bytes): 143 MiB
    print(f"\nstore {args.store}, helpdesk {args.helpdesk}: {tally.total} requests in {results['duration_s']:.0f} s; "
          f"5xx: {len(tally.failures)}; property problems: {len(tally.problems)}; "
          f"kesu RSS before {rss['before_fuzz_mib']:.0f} MiB, peak {peak:.0f} MiB = {peak_mb:.0f} MB (sampled max "
          f"{rss['peak_sampled_mib']:.0f}, VmHWM {rss['vmhwm_mib']:.0f}); "
          f"load {results['loadavg_before'][0]:.1f} → {results['loadavg_after'][0]:.1f}, other work "
          f"{results['cpu_window']['foreign_cpus']:.2f} CPUs; server alive: {results['server_alive_after']}")
    for f in tally.failures[:20]:
        print("5xx:", json.dumps(f, ensure_ascii=False, default=str)[:1500])
    for f in tally.problems[:20]:
        print("problem:", json.dumps(f, ensure_ascii=False, default=str)[:1500])
    out = args.out or work / f"fuzz-{args.store}-{args.helpdesk}.json"
    write_json(out, results)
    print(f"results: {out}")
    ok = not tally.failures and not tally.problems and peak_mb < TARGET_RSS_MB and results["server_alive_after"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
