"""Survival under lost answers: N complaints through a sandbox helpdesk while writes lose answers.

    python bench/survival.py --helpdesk zammad|odoo --store sqlite|postgres \\
        [--complaints 200] [--lost-rate 0.3] [--slow] [--seed 1]

One process holds the sandbox helpdesk (Zammad 6 or Odoo 17 Enterprise, over HTTP on 127.0.0.1)
and kesu as ``kesu serve`` runs it (HTTP intake, worker threads, timers; the Odoo poll), wired
like production: the sandbox's trigger / automation rule posts webhooks to kesu, kesu reads and
writes the sandbox through its API. The complaints are filed in the sandbox (its webhooks fire),
then:

* ``--lost-rate`` of kesu's write calls are applied by the helpdesk and answered 504 (a proxy
  lost the answer): Zammad ``PUT /tickets/{id}``, ``POST /tags/add``, ``DELETE /tags/remove``;
  Odoo ``helpdesk.ticket.write``, ``message_post``, ``mail.activity.create`` and tag creates;
* ``--slow``: of the writes not answered 504, ``--lost-rate`` more are slow beyond kesu's read
  timeout, half of them applied late (Odoo still working when the client gives up) and half
  applied at once but answered late.

It waits until every complaint's events are done, then counts from the sandbox's own state
(its write log, the tickets' notes, to-dos and fields) and kesu's recorded plan (outbox rows):

* duplicate notes: a kesu marker note (``kesu #<id>``) twice on one ticket;
* duplicate field writes: the same value written to the same ticket field more than once
  (Zammad: every applied PUT and tag call by the bot; Odoo: every committed ``write``);
* duplicate to-dos: the same activity (summary, deadline) twice on a ticket (Odoo);
* lost effects: a complaint whose priority, group, owner, state, tags, to-dos, number of notes
  or cited rule IDs differ from a fault-free reference run of the same complaints (SQLite),
  plus every recorded write whose marker note is missing, every outbox row left pending and
  every dead event.

Prints one table (and ``--json`` writes the numbers). :func:`survive` is the library entry
point that ``tests/e2e/test_survival.py`` runs with a smaller N.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, wait_until  # noqa: E402

SECRET = "survival-secret-令牌"
PG_ADMIN_URL = os.environ.get("KESU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RULE_ID = re.compile(r"\[(R-[A-Z0-9.\-]+)\]")

#: Complaints of a soy-food maker (the default food profile): tiers A/B/C and plain questions.
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
    ("外包装破损", "收到的豆腐包装破损，出水严重，箱子都湿了。"),
    ("分量不足", "标称 500 克的豆腐，称了一下只有 430 克，分量不足。"),
    ("豆腐块破碎", "网购的老豆腐到货时全部破碎了，没法做菜。"),
    ("吃出玻璃", "豆腐里吃出一块碎玻璃，嘴被划破了，去医院缝了两针，要求赔偿医药费。"),
    ("想问问营业时间", "你们门店周末几点开门？想去买点新鲜豆浆。"),
    ("发票问题", "上周的订单还没有收到发票，麻烦帮忙开一下，抬头是个人。"),
]


@dataclass
class Timing:
    """Client timeout and the slow answers, in seconds (the slow ones exceed the timeout but land
    within timeout + settle, the time kesu gives a write whose answer timed out)."""

    timeout: float = 1.5
    slow: float = 2.2


@dataclass
class Result:
    helpdesk: str
    store: str
    complaints: int
    lost_rate: float
    slow: bool
    seconds: float = 0.0
    faults_504: int = 0
    faults_slow: int = 0
    write_calls: int = 0
    notes: int = 0
    duplicate_notes: int = 0
    duplicate_field_writes: int = 0
    duplicate_todos: int = 0
    lost_effects: int = 0
    dead_events: int = 0
    pending_writes: int = 0
    missing_marker_notes: int = 0
    differences: list[str] = field(default_factory=list)
    loadavg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def clean(self) -> bool:
        return not (self.duplicate_notes or self.duplicate_field_writes or self.duplicate_todos
                    or self.lost_effects or self.dead_events or self.pending_writes
                    or self.missing_marker_notes)


# ------------------------------------------------------------------------------------ the stack


class Stack:
    """A sandbox helpdesk and a kesu server (intake + workers + timers) on one store."""

    def __init__(self, helpdesk: str, store_url: str, timing: Timing, *, threads: int = 2) -> None:
        import uvicorn
        from pydantic import SecretStr

        from kesu.app import Services, create_app
        from kesu.embedded import provision, start_sandbox
        from kesu.settings import Settings

        self.kind = helpdesk
        port = free_port()
        s = Settings()
        s.store.url = store_url
        s.server.port = port
        s.server.host = "127.0.0.1"
        s.helpdesk.webhook_secret = SecretStr(SECRET)
        self.embedded = start_sandbox(s, retry_scale=0.01, kind=helpdesk)
        self.sandbox = self.embedded.sandbox
        if helpdesk == "zammad":
            self._add_routing_groups(s)
        s.helpdesk.name = helpdesk  # one name per run's database: nothing crosses
        s.helpdesk.timeout = timing.timeout
        s.helpdesk.retries = 2
        s.worker.threads = threads
        s.worker.poll_interval = 0.05
        s.worker.backoff_base = 0.2
        s.worker.backoff_max = 2
        s.worker.lease_seconds = 10
        s.worker.timer_interval = 0.2
        if helpdesk == "odoo":
            # Odoo never retries a webhook (1 s timeout): one lost on a busy machine comes back
            # through the poll, as in production, only sooner than the 30 s default.
            s.worker.sync_interval = 0.5
        self.settings = s
        self.services = Services.build(s, load_entrypoints=False)
        app = create_app(self.services)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="kesu-http", daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 30, what="kesu started")
        if logging.getLogger("kesu").level >= logging.CRITICAL:  # the bench's quiet mode
            # a slow request whose client gave up is logged by uvicorn with a traceback
            logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        provision(s, self.embedded)

    def _add_routing_groups(self, settings: Any) -> None:
        """The groups the profile's routing table names (a real Zammad has its own)."""
        from policies import profiles

        units = profiles.section(settings.profile, "routing").get("units", {})
        have = {g["name"] for g in self.sandbox.state.groups.values()} if hasattr(self.sandbox.state, "groups") else set()
        for name in sorted({u.get("group") for u in units.values() if isinstance(u, dict) and u.get("group")}):
            if name not in have:
                self.sandbox.add_group(name)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.services.close()
        self.sandbox.close()

    # -- the helpdesk side ---------------------------------------------------------------------

    def file(self, n: int, title: str, body: str) -> int:
        """Complaint ``n`` from a customer of its own: one customer's earlier complaints make a
        later one a repeat (escalated), which would depend on the order the workers take them."""
        email = f"customer{n}@example.com"
        if self.kind == "zammad":
            self.sandbox.add_user(email, email=email, roles=("Customer",))
            return int(self.sandbox.create_ticket(title, body, customer=email, group="Users", as_user=email)["id"])
        return int(self.sandbox.create_ticket(title, f"<p>{body}</p>", partner=email))

    def inject(self, lost_rate: float, slow: bool, timing: Timing, seed: int,
               slow_rate: float | None = None) -> list[Any]:
        """The faults; returns them (each counts its hits). ``slow_rate``: share of the writes
        not answered 504 that are slow (``lost_rate`` by default), half applied late, half
        answered late."""
        faults: list[Any] = []
        slow_rate = lost_rate if slow_rate is None else slow_rate
        sb = self.sandbox
        if self.kind == "zammad":
            writes = [("PUT", r"^/api/v1/tickets/\d+$"), ("POST", r"^/api/v1/tags/add$"),
                      ("DELETE", r"^/api/v1/tags/remove$")]
            for n, (method, path) in enumerate(writes):
                if lost_rate:
                    faults.append(("504", sb.inject(method, path, status=504, apply_then_fail=True, times=None,
                                                     rate=lost_rate, seed=seed + n)))
                if slow and slow_rate:
                    faults.append(("slow", sb.inject(method, path, status=None, delay=timing.slow, times=None,
                                                      rate=slow_rate / 2, seed=seed + 10 + n)))
                    faults.append(("slow", sb.inject(method, path, status=None, hold=timing.slow, times=None,
                                                      rate=slow_rate / 2, seed=seed + 20 + n)))
            return faults
        tag_model = sb.state.tag_model
        writes = [("helpdesk.ticket", "write"), ("helpdesk.ticket", "message_post"), ("mail.activity", "create"),
                  (tag_model, "create")]
        for n, (model, method) in enumerate(writes):
            if lost_rate:
                faults.append(("504", sb.inject(None, model, method, status=504, apply_then_fail=True, times=None,
                                                 rate=lost_rate, seed=seed + n)))
            if slow and slow_rate:
                faults.append(("slow", sb.inject(None, model, method, status=None, delay=timing.slow, times=None,
                                                  rate=slow_rate / 2, seed=seed + 10 + n)))
                faults.append(("slow", sb.inject(None, model, method, status=None, hold=timing.slow, times=None,
                                                  rate=slow_rate / 2, seed=seed + 20 + n)))
        return faults

    def wait_done(self, ids: list[int], timeout: float) -> None:
        """Until every complaint has a finished event and nothing is pending or in flight."""
        from sqlalchemy import select

        from kesu.store.tables import inbox

        wanted = {str(i) for i in ids}
        engine = self.services.pipeline.engine

        def finished() -> bool:
            with engine.connect() as conn:
                rows = conn.execute(select(inbox.c.ticket_id, inbox.c.status)).all()
            seen = {tid for tid, status in rows if status in ("done", "dead")}
            busy = any(status in ("pending", "processing") for _, status in rows)
            return wanted <= seen and not busy

        for _ in range(2):  # a webhook or poll pass still under way may queue one more event
            wait_until(finished, timeout, what="every complaint processed")
            self.sandbox.wait_idle(30)
        wait_until(finished, timeout, what="every complaint processed")

    # -- what the helpdesk holds ---------------------------------------------------------------

    def snapshot(self, tid: int) -> dict[str, Any]:
        """The effects kesu is responsible for, comparable across runs."""
        t = self.sandbox.ticket(tid)
        if self.kind == "zammad":
            notes = [a for a in t["articles"] if str(a.get("subject") or "").startswith("kesu #")]
            return {
                "priority": t.get("priority"), "group": t.get("group"), "owner": t.get("owner"),
                "state": t.get("state"), "tags": sorted(t.get("tags") or []),
                "todo": bool(t.get("pending_time")), "notes": len(notes),
                "rules": sorted({r for a in notes for r in RULE_ID.findall(a.get("body") or "")}),
                "subjects": [a["subject"] for a in notes],
            }
        notes = [m for m in t["messages"] if str(m.get("subject") or "").startswith("kesu #")]
        return {
            "priority": t.get("priority"), "group": (t.get("team_id") or [None, None])[1],
            "owner": (t.get("user_id") or [None, None])[1] if t.get("user_id") else None,
            "state": t.get("stage"), "tags": sorted(t.get("tags") or []),
            "todo": sorted(a["summary"] for a in t["activities"]), "notes": len(notes),
            "rules": sorted({r for m in notes for r in RULE_ID.findall(m.get("text") or "")}),
            "subjects": [m["subject"] for m in notes],
            "activities": [(a["summary"], a["date_deadline"]) for a in t["activities"]],
        }

    def field_writes(self) -> Counter[tuple[Any, ...]]:
        """(ticket, field, value) of every write the bot made, as the sandbox logged it."""
        counts: Counter[tuple[Any, ...]] = Counter()
        sb = self.sandbox
        if self.kind == "zammad":
            bot = sb.bot_user_id
            for w in sb.write_log:
                if w["user_id"] != bot:
                    continue
                values = dict(w["values"])
                values.pop("article", None)  # notes are counted by their marker
                for key, value in values.items():
                    counts[(w["ticket_id"], w["op"], key, json.dumps(value, sort_keys=True, default=str))] += 1
            return counts
        bot = sb.bot_uid
        for w in sb.write_log:
            if w.uid != bot or w.model != sb.state.ticket_model or w.operation != "write":
                continue
            for key, value in w.vals.items():
                items = value if key == "tag_ids" else [value]
                for item in items:
                    counts[(w.ids, key, json.dumps(item, sort_keys=True, default=str))] += 1
        return counts

    def write_calls(self) -> int:
        sb = self.sandbox
        if self.kind == "zammad":
            return sum(1 for m, p in sb.calls if m in ("PUT", "POST", "DELETE") and
                       re.match(r"^/api/v1/(tickets/\d+|tags/(add|remove))$", p))
        return sum(1 for c in sb.calls if c.method in ("write", "message_post", "create")
                   and c.model in (sb.state.ticket_model, "mail.activity", sb.state.tag_model))

    def recorded_markers(self) -> tuple[dict[str, list[str]], int]:
        """kesu's own record: the marker of every decided write with a note, per ticket id, and
        how many outbox rows are still pending."""
        from sqlalchemy import select

        from kesu.store.tables import outbox

        markers: dict[str, list[str]] = {}
        pending = 0
        with self.services.pipeline.engine.connect() as conn:
            for key, marker, writes, status in conn.execute(
                    select(outbox.c.ticket_key, outbox.c.marker, outbox.c.writes, outbox.c.status)):
                if status != "applied":
                    pending += 1
                if (writes or {}).get("note"):
                    markers.setdefault(key.split(":", 1)[1], []).append(f"kesu #{marker}")
        return markers, pending

    def dead_events(self) -> int:
        return int(self.services.inbox.depth().get("dead", 0))


# ------------------------------------------------------------------------------------- the run


def complaints(n: int) -> list[tuple[str, str]]:
    return [(f"{COMPLAINTS[i % len(COMPLAINTS)][0]} #{i + 1}", COMPLAINTS[i % len(COMPLAINTS)][1]) for i in range(n)]


def _run(helpdesk: str, store_url: str, n: int, lost_rate: float, slow: bool, timing: Timing, seed: int,
         timeout: float, slow_rate: float | None = None, threads: int = 2,
         ) -> tuple[Stack, list[int], list[tuple[str, Any]], float]:
    stack = Stack(helpdesk, store_url, timing, threads=threads)
    try:
        faults = stack.inject(lost_rate, slow, timing, seed, slow_rate)
        started = time.monotonic()
        ids = [stack.file(i + 1, title, body) for i, (title, body) in enumerate(complaints(n))]
        stack.wait_done(ids, timeout)
        return stack, ids, faults, time.monotonic() - started
    except BaseException:
        stack.close()
        raise


def reference(helpdesk: str, n: int, timing: Timing, *, timeout: float = 600) -> list[dict[str, Any]]:
    """The fault-free run: each complaint's effects, in filing order (SQLite in a temp dir)."""
    with tempfile.TemporaryDirectory(prefix="kesu-survival-ref-") as tmp:
        stack, ids, _, _ = _run(helpdesk, f"sqlite:///{tmp}/kesu.db", n, 0.0, False, timing, 0, timeout)
        try:
            snaps = [stack.snapshot(i) for i in ids]
            dups = sum(c - 1 for c in stack.field_writes().values() if c > 1)
            if dups:
                raise AssertionError(f"the fault-free run itself wrote {dups} value(s) twice")
            return snaps
        finally:
            stack.close()


def survive(helpdesk: str, store_url: str, *, complaints_n: int = 200, lost_rate: float = 0.3,
            slow: bool = False, seed: int = 1, timing: Timing | None = None,
            expected: list[dict[str, Any]] | None = None, timeout: float = 900,
            slow_rate: float | None = None, threads: int = 2) -> Result:
    """One survival run against a fault-free ``expected`` (computed when not given)."""
    timing = timing or Timing()
    if expected is None:
        expected = reference(helpdesk, complaints_n, timing)
    store = "postgres" if store_url.startswith("postgresql") else "sqlite"
    result = Result(helpdesk, store, complaints_n, lost_rate, slow)
    stack, ids, faults, seconds = _run(helpdesk, store_url, complaints_n, lost_rate, slow, timing, seed, timeout,
                                       slow_rate, threads)
    try:
        stack.sandbox.clear_faults()
        result.seconds = round(seconds, 1)
        result.faults_504 = sum(f.hits for kind, f in faults if kind == "504")
        result.faults_slow = sum(f.hits for kind, f in faults if kind == "slow")
        result.write_calls = stack.write_calls()
        markers, result.pending_writes = stack.recorded_markers()
        result.dead_events = stack.dead_events()
        result.duplicate_field_writes = sum(c - 1 for c in stack.field_writes().values() if c > 1)
        ignored = {"subjects", "activities"}
        for i, (tid, want) in enumerate(zip(ids, expected)):
            got = stack.snapshot(tid)
            result.notes += got["notes"]
            result.duplicate_notes += sum(c - 1 for c in Counter(got["subjects"]).values() if c > 1)
            if stack.kind == "odoo":
                result.duplicate_todos += sum(c - 1 for c in Counter(got["activities"]).values() if c > 1)
            for marker in markers.get(str(tid), []):
                if marker not in got["subjects"]:
                    result.missing_marker_notes += 1
            diff = {k: (want.get(k), got.get(k)) for k in got if k not in ignored and got.get(k) != want.get(k)}
            if diff:
                result.lost_effects += 1
                result.differences.append(f"complaint {i + 1} (ticket {tid}): {diff}")
    finally:
        stack.close()
    result.loadavg = os.getloadavg()
    return result


# ------------------------------------------------------------------------------------- output


COLUMNS = [
    ("helpdesk", "helpdesk"), ("store", "store"), ("complaints", "N"), ("lost_rate", "504 rate"),
    ("slow", "slow"), ("faults_504", "504s"), ("faults_slow", "slow answers"), ("write_calls", "write calls"),
    ("notes", "notes"), ("duplicate_notes", "dup notes"), ("duplicate_field_writes", "dup field writes"),
    ("duplicate_todos", "dup to-dos"), ("lost_effects", "lost effects"), ("missing_marker_notes", "missing notes"),
    ("pending_writes", "pending writes"), ("dead_events", "dead events"), ("seconds", "seconds"),
]


def table(results: list[Result]) -> str:
    head = [label for _, label in COLUMNS]
    rows = [[str(getattr(r, key)) for key, _ in COLUMNS] for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


@contextmanager
def _pg_database() -> Iterator[str]:
    """A throwaway database on the PostgreSQL server (dropped afterwards)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kesu_survival_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--helpdesk", choices=("zammad", "odoo"), default="zammad")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--complaints", type=int, default=200)
    parser.add_argument("--lost-rate", type=float, default=0.3, help="share of write calls answered 504 after applying")
    parser.add_argument("--slow", action="store_true", help="also slow answers beyond kesu's read timeout")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=Timing.timeout, help="kesu's helpdesk timeout (s)")
    parser.add_argument("--json", type=Path, help="write the result here as JSON")
    args = parser.parse_args(argv)
    if not 0 <= args.lost_rate < 1 or args.complaints < 1:
        parser.error("--lost-rate must be in [0, 1) and --complaints at least 1")
    logging.basicConfig(level=logging.ERROR)
    for name in ("kesu", "connector", "uvicorn", "alembic"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    timing = Timing(timeout=args.timeout, slow=args.timeout * 1.5)
    print(f"reference run (no faults, SQLite): {args.complaints} complaints through the sandbox {args.helpdesk}",
          file=sys.stderr)
    expected = reference(args.helpdesk, args.complaints, timing)
    print(f"survival run: {args.lost_rate:.0%} of writes answered 504 after applying"
          f"{', slow answers too' if args.slow else ''}, store {args.store}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="kesu-survival-") as tmp:
        if args.store == "postgres":
            with _pg_database() as url:
                result = survive(args.helpdesk, url, complaints_n=args.complaints, lost_rate=args.lost_rate,
                                 slow=args.slow, seed=args.seed, timing=timing, expected=expected)
        else:
            result = survive(args.helpdesk, f"sqlite:///{tmp}/kesu.db", complaints_n=args.complaints,
                             lost_rate=args.lost_rate, slow=args.slow, seed=args.seed, timing=timing,
                             expected=expected)
    print(table([result]))
    print(f"load average (1/5/15 min) at the end: {' '.join(f'{x:.2f}' for x in result.loadavg)}; "
          f"{os.cpu_count()} CPUs")
    for line in result.differences[:20]:
        print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(asdict(result), ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if result.clean else 1


if __name__ == "__main__":
    sys.exit(main())
