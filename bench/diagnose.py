"""Why the intake and event targets are missed: the measurements behind docs/benchmarks.md's advice.

    .venv/bin/python bench/diagnose.py

In-process, except the sandbox Zammad (its own process, as in ``bench/events.py``). Bounded, about
a minute. Measures:

1. ``Inbox.claim``: the cost of building its statement, and of its candidate query against a
   backlog of pending events, with the current plan and with an index on ``(status, id)`` plus a
   unary ``+`` on ``available_at`` (so SQLite walks pending rows in id order and stops at the first);
2. ``Inbox.add_many`` per event: one statement per event (now) vs one multi-row statement;
3. one ``requests`` call to the sandbox with ``trust_env`` on (as kesu's session) and off;
4. one event through ``Worker.run_once`` against the sandbox, one at a time, with each part's wall
   and CPU time (CPU = this thread's ``thread_time``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, Proc, free_port, machine, table, wait_port, wait_quiet  # noqa: E402
from bench.events import Control  # noqa: E402
from kesu.store.db import make_engine, migrate, utcnow  # noqa: E402
from kesu.store.inbox import Inbox, NewEvent  # noqa: E402

CANDIDATE = """SELECT e.id, e.ticket_key, e.source FROM inbox AS e
WHERE e.status = 'pending' AND {avail}e.available_at <= '2999-01-01'
AND NOT (EXISTS (SELECT * FROM inbox AS inbox_1 WHERE inbox_1.ticket_key = e.ticket_key
  AND inbox_1.id < e.id AND inbox_1.status IN ('pending', 'processing')))
AND NOT (EXISTS (SELECT * FROM inbox AS inbox_2 WHERE inbox_2.ticket_key = e.ticket_key
  AND inbox_2.status = 'processing'))
ORDER BY e.id LIMIT 1"""


def per_call(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per call."""
    t, c = time.perf_counter(), time.thread_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e3, (time.thread_time() - c) / n * 1e3


def new_event(i: int, tag: str) -> NewEvent:
    return NewEvent(helpdesk="zammad", ticket_id=str(i), kind="created", source="webhook",
                    received_at=utcnow(), delivery_id=f"{tag}-{i}",
                    payload={"actor": "5", "trigger": "kesu", "updated_at": "2026-03-02T02:00:00.051Z",
                             "state": "new", "article_id": str(i)})


def claim_costs(work: Path) -> list[list[str]]:
    rows = []
    engine = make_engine(f"sqlite:///{work}/claim.db")
    migrate(engine)
    inbox = Inbox(engine)
    wall, cpu = per_call(lambda: inbox.claim(utcnow(), 60), 100)
    rows.append(["Inbox.claim(), empty inbox (statement built every call)", f"{wall:.2f}", f"{cpu:.2f}"])
    done = 0
    for backlog in (100, 1000, 3000):
        inbox.add_many([new_event(i, f"b{backlog}") for i in range(done, done + backlog)])
        done += backlog
        with engine.connect() as conn:
            wall, cpu = per_call(lambda: conn.exec_driver_sql(CANDIDATE.format(avail="")).all(), 20)
        rows.append([f"candidate query, {backlog} pending (current plan: temp B-tree sort)", f"{wall:.2f}",
                     f"{cpu:.2f}"])
        with engine.begin() as conn:  # drain this backlog for the next size
            conn.exec_driver_sql("UPDATE inbox SET status='done' WHERE status='pending'")
    inbox.add_many([new_event(i, "last") for i in range(done, done + 3000)])
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_bench_status_id ON inbox (status, id)")
    with engine.connect() as conn:
        plan = " / ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN "
                                                             + CANDIDATE.format(avail="+")).all())
        wall, cpu = per_call(lambda: conn.exec_driver_sql(CANDIDATE.format(avail="+")).all(), 200)
    rows.append(["candidate query, 3000 pending, index (status, id) + `+e.available_at`", f"{wall:.3f}",
                 f"{cpu:.3f}"])
    print(f"  plan with the index: {plan}")
    engine.dispose()
    return rows


def insert_costs(work: Path) -> list[list[str]]:
    from kesu.store.inbox import _row_values

    engine = make_engine(f"sqlite:///{work}/insert.db")
    migrate(engine)
    inbox = Inbox(engine)
    rows = []
    batch = 32
    k = [0]

    def per_event_stmt() -> None:
        inbox.add_many([new_event(i, "one") for i in range(k[0], k[0] + batch)])
        k[0] += batch

    stmt = inbox._insert.returning(inbox._insert.table.c.delivery_id)  # type: ignore[attr-defined]

    def multi_row() -> None:
        with engine.begin() as conn:
            conn.execute(stmt, [_row_values(new_event(i, "many")) for i in range(k[0], k[0] + batch)]).all()
        k[0] += batch

    for label, fn in (("Inbox.add_many, 32 events, one INSERT each (now)", per_event_stmt),
                      ("one multi-row INSERT ... RETURNING for the 32", multi_row)):
        wall, cpu = per_call(fn, 60)
        rows.append([label + " — per event", f"{wall / batch:.3f}", f"{cpu / batch:.3f}"])
    engine.dispose()
    return rows


def http_and_event_costs(work: Path) -> tuple[list[list[str]], list[list[str]]]:
    import connector.http as transport
    from kesu.app import Services
    from kesu.settings import Settings
    from kesu.store import tickets as store
    from kesu.worker import Worker
    from plugins.manager import PluginHost

    sp, cp = free_port(), free_port()
    sandbox = Proc("sandbox", [PYTHON, str(ROOT / "bench" / "sandbox_server.py"), "--port", str(sp),
                               "--control-port", str(cp)], work)
    try:
        wait_port(cp, 60, sandbox.popen)
        ctl = Control(cp)
        info = ctl.get("/info")
        api = info["url"] + "/api/v1"
        ids = [t for t, _ in ctl.post("/create", {"n": 360, "offset": 0})["tickets"]]
        http_rows = []
        s = requests.Session()
        s.headers["Authorization"] = f"Token token={info['bot_token']}"
        for trust in (True, False):
            s.trust_env = trust
            for _ in range(20):
                s.get(f"{api}/tickets/{ids[0]}", params={"all": "true"}).json()
            wall, cpu = per_call(lambda: s.get(f"{api}/tickets/{ids[0]}", params={"all": "true"}).json(), 200)
            http_rows.append([f"requests GET /tickets/{{id}}?all=true, trust_env={trust}", f"{wall:.2f}",
                              f"{cpu:.2f}"])

        settings = Settings()
        settings.store.url = f"sqlite:///{work}/event.db"
        settings.helpdesk.url = info["url"]
        settings.helpdesk.token = SecretStr(info["bot_token"])
        settings.helpdesk.webhook_secret = SecretStr("x")
        services = Services.build(settings, load_entrypoints=False)
        services.connector.prepare()  # type: ignore[attr-defined]
        worker = Worker(services.pipeline, settings.worker)
        parts: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])

        def timed(owner: Any, name: str, label: str) -> None:
            fn = getattr(owner, name)

            def wrapper(*a: Any, **kw: Any) -> Any:
                t, c = time.perf_counter(), time.thread_time()
                try:
                    return fn(*a, **kw)
                finally:
                    p = parts[label]
                    p[0] += time.perf_counter() - t
                    p[1] += time.thread_time() - c
                    p[2] += 1
            setattr(owner, name, wrapper)

        timed(transport.HttpTransport, "request", "helpdesk HTTP calls (requests + tenacity)")
        timed(Inbox, "claim", "Inbox.claim")
        timed(PluginHost, "evaluate", "PluginHost.evaluate (all policies)")
        for fn in ("pending_outbox", "load_state", "save_state", "add_audit", "add_outbox", "mark_outbox",
                   "add_ledger", "load_complaint", "schedule_timer"):
            if hasattr(store, fn):
                timed(store, fn, "kesu.store.tickets.* (state, audit, outbox ...)")

        for tid in ids[:40]:  # warm-up
            services.inbox.add_many([new_event(tid, "warm")])
            worker.run_once()
        parts.clear()
        n = 300
        t, c = time.perf_counter(), time.thread_time()
        for tid in ids[60:60 + n]:
            services.inbox.add_many([new_event(tid, "one")])
            worker.run_once()
        wall, cpu = (time.perf_counter() - t) / n * 1e3, (time.thread_time() - c) / n * 1e3
        event_rows = [["one event, in all (incl. storing its webhook)", f"{wall:.2f}", f"{cpu:.2f}", "1"]]
        for label, (w, cc, cnt) in sorted(parts.items(), key=lambda kv: -kv[1][1]):
            event_rows.append([label, f"{w / n * 1e3:.2f}", f"{cc / n * 1e3:.2f}", f"{cnt / n:.2f}"])
        services.close()
        return http_rows, event_rows
    finally:
        sandbox.stop()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="kesu-bench-diagnose-"))
    print(f"machine: {machine()}")
    print(f"other work before: {wait_quiet(max_wait=300):.2f} CPUs")
    print("\n1. Inbox.claim")
    rows = claim_costs(work)
    print(table(["what", "wall ms", "CPU ms"], rows))
    print("\n2. Inbox.add_many")
    print(table(["what", "wall ms", "CPU ms"], insert_costs(work)))
    print("\n3-4. helpdesk calls and one event (sandbox in its own process)")
    http_rows, event_rows = http_and_event_costs(work)
    print(table(["what", "wall ms", "CPU ms"], http_rows))
    print()
    print(table(["part of one event", "wall ms", "CPU ms", "calls"], event_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
