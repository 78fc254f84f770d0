"""Scenarios from the seed regulations, played end to end at chosen instants.

A :class:`Scenario` is a complaint's life written from one clause of the seed
(``/work/shared/seed/000_*.txt``, 篇1-篇8): the ticket a customer (or an agent taking a call) files,
then what people do in the helpdesk (reply, close, fill in a follow-up outcome ...) or simply
time passing (timers fire), each step at an exact instant. After every step the helpdesk ticket
(tags, priority, group, state, pending time, kesu's note lines) and kesu's store (timers, ledger,
complaint record, follow-ups) are compared with what the clause demands.

One :class:`ScenarioClock` is shared by the sandbox Zammad (ticket ``created_at``, article and
update times) and kesu (``Services.build(clock=...)``: intake, pipeline ``now``, workers, timer
loop), so deadlines are counted from the instant the scenario names, and setting the clock past
a due time makes kesu's timer loop fire the timer exactly as in production.

Scenarios of one profile share one stack (sandbox + kesu server + store). They are kept apart:
each has its own customer (R-ESC-6.30 repeat complaints are per customer), and when it ends its
timers are cancelled and its standing R-PEN-5.6.2 entries reversed through the ledger's public API
(``Ledger.reverse``), so that every scenario starts a fresh count for the yearly admonition
threshold (R-PEN-5.6.2-admon).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from kesu.ledger import Ledger
from kesu.store import tickets as store
from kesu.store.db import as_utc

UTC = timezone.utc
CST = ZoneInfo("Asia/Shanghai")
AGENT = "agent1@example.com"


def cst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A local (Asia/Shanghai) instant."""
    return datetime(y, mo, d, h, mi, s, tzinfo=CST)


def utc(moment: datetime) -> str:
    """The store's form of an instant: UTC ISO 8601."""
    return moment.astimezone(UTC).isoformat()


class ScenarioClock:
    """A frozen, settable "now" shared by the sandbox Zammad and kesu."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 1, 5, tzinfo=UTC)).astimezone(UTC)
        self.sandbox_clock: Any = None  # the sandbox's millisecond Clock, reset on every set()

    def __call__(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)
        if self.sandbox_clock is not None:
            self.sandbox_clock.reset()  # the next sandbox reading is exactly this instant


# ------------------------------------------------------------------------------------------------
# steps


@dataclass(frozen=True)
class Expect:
    """What must hold after a step. ``None`` = not checked; everything given is compared exactly.

    * ``note`` -- the lines of kesu's note(s) written by this step, in order, each as
      ``(rule ID, fragment of the line)``; ``()`` = no note at all.
    * ``tags`` -- the ticket's whole tag set; ``priority`` / ``group`` / ``state`` / ``owner`` --
      Zammad's names; ``pending_time`` -- UTC ISO (or ``""`` for none).
    * ``timers`` -- every scheduled timer of the ticket: ``(plugin, key, rule ID, due UTC ISO)``.
    * ``ledger`` -- every ledger row of the ticket: ``(rule ID, kind, subject, amount, min, max, status)``.
    * ``record`` -- keys of the complaint record; ``escalations`` as ``(rule ID, from, to)``,
      ``deadlines`` as ``{rule: {key: value}}`` (only the keys given).
    * ``followups`` -- rows of the ticket: ``(rule ID, status, due UTC ISO, outcome, attempts)``.
    """

    note: Sequence[tuple[str, str]] | None = None
    tags: frozenset[str] | set[str] | None = None
    priority: str | None = None
    group: str | None = None
    state: str | None = None
    owner: str | None = None
    pending_time: str | None = None
    timers: Sequence[tuple[str, str, str, str]] | None = None
    ledger: Sequence[tuple[Any, ...]] | None = None
    record: Mapping[str, Any] | None = None
    followups: Sequence[tuple[Any, ...]] | None = None


@dataclass(frozen=True)
class Step:
    at: datetime
    expect: Expect | None = None
    ticket: str = "main"

    def describe(self) -> str:
        return f"{type(self).__name__} at {self.at.astimezone(CST):%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class Create(Step):
    """A complaint is filed: by the customer on the web, or by an agent logging the call."""

    title: str = ""
    body: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    agent: bool = False  # an agent records a phone call (first article type "phone")
    customer: str = ""  # "" = the scenario's own customer; "anonymous" = no contact at all


@dataclass(frozen=True)
class Customer(Step):
    """The customer writes again (a new public article)."""

    body: str = ""


@dataclass(frozen=True)
class Reply(Step):
    """An agent answers the customer (public e-mail), or logs a call (``phone``) / a note."""

    body: str = "您好，我们已收到您的反馈，正在处理。"
    type: str = "email"
    internal: bool = False


@dataclass(frozen=True)
class Update(Step):
    """An agent changes the ticket: fields, state, owner ... (one PUT, like the UI)."""

    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Close(Step):
    """An agent resolves the complaint: optionally tells the customer the result, then closes."""

    reply: str | None = "您好，问题已处理完毕，处理结果如下……"
    fields: Mapping[str, Any] = field(default_factory=dict)
    owner: bool = True  # the closing agent becomes the owner (the person responsible)


@dataclass(frozen=True)
class Wait(Step):
    """Nobody acts; time passes to ``at`` and kesu's timer loop fires what is due."""


@dataclass(frozen=True)
class Scenario:
    id: str
    profile: str
    clause: str  # 篇 and § / article of the seed
    rules: tuple[str, ...]  # rule IDs of POLICY_SPEC.md it exercises
    steps: tuple[Step, ...]
    postgres: bool = False  # also run on PostgreSQL

    def __post_init__(self) -> None:
        assert isinstance(self.steps[0], Create), f"{self.id}: the first step files the complaint"
        assert self.clause.startswith("篇"), f"{self.id}: cite the clause (篇n §...)"
        assert self.rules, f"{self.id}: name the rule IDs it exercises"


# ------------------------------------------------------------------------------------------------
# running


_LINE = re.compile(r"^• (?P<text>.*?)(?: \[(?P<rule>R-[A-Z]+-[0-9][0-9.]*[0-9](?:-[A-Za-z]+)?)\])?$")


def note_lines(body: str) -> list[tuple[str | None, str]]:
    out = []
    for line in body.splitlines():
        m = _LINE.match(line.strip())
        if m:
            out.append((m.group("rule"), m.group("text")))
    return out


def _wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Runner:
    """Plays scenarios on one stack (``tests.e2e.conftest.Stack``) driven by ``clock``."""

    def __init__(self, stack: Any, clock: ScenarioClock) -> None:
        self.stack, self.clock = stack, clock
        self.sandbox = stack.sandbox
        self.engine = stack.services.engine
        self.helpdesk = stack.settings.helpdesk.name
        self._n = 0

    # -- helpers ---------------------------------------------------------------------------------

    def key(self, tid: int) -> str:
        return f"{self.helpdesk}:{tid}"

    def settle(self) -> None:
        """Until the sandbox delivered everything, kesu processed it and no due timer is left."""
        for _ in range(50):
            self.sandbox.wait_idle(10)
            try:
                _wait(lambda: self.stack.services.inbox.pending_count() == 0, 15, "kesu's inbox to drain")
            except AssertionError:
                rows = [(r["id"], r["status"], r["kind"], r["attempts"], r["available_at"], r["last_error"])
                        for r in self.stack.services.inbox.list() if r["status"] != "done"]
                raise AssertionError(f"kesu's inbox did not drain at {self.clock()}: {rows}") from None
            now = self.clock()
            due = [t for t in store.list_timers(self.engine) if as_utc(t["due_at"]) <= now]
            if not due:
                self.sandbox.wait_idle(10)
                if self.stack.services.inbox.pending_count() == 0:
                    return
            time.sleep(0.02)  # the timer loop fires them on its next tick
        raise AssertionError("kesu did not settle (timers keep firing)")

    def customer(self, scenario: Scenario, spec: str) -> str:
        if spec == "anonymous":
            login = f"anon-{scenario.id}"
            self.sandbox.add_user(login, roles=("Customer",), firstname="匿名")
            return login
        login = spec or f"{scenario.id}@example.com"
        if self.sandbox.state.find_user(login) is not None:
            return login  # the same customer again
        self.sandbox.add_user(login, roles=("Customer",), firstname="客户", lastname=scenario.id)
        return login

    # -- one scenario ----------------------------------------------------------------------------

    def run(self, scenario: Scenario, observe: Callable[..., None] | None = None) -> dict[str, int]:
        """Play ``scenario``; ``observe(step, ticket id, notes before)`` sees each step settled."""
        tickets: dict[str, int] = {}
        try:
            for i, step in enumerate(scenario.steps):
                where = f"{scenario.id} step {i + 1} ({step.describe()}, ticket {step.ticket})"
                # Everything kesu writes from the previous step on counts for this one, timers
                # fired on the way included.
                before = len(self.stack.notes(tickets[step.ticket])) if step.ticket in tickets else 0
                self.advance(step.at)
                self._act(scenario, step, tickets)
                self.settle()
                if observe is not None:
                    observe(step, tickets[step.ticket], before)
                if step.expect is not None:
                    self.check(where, tickets[step.ticket], before, tier_in_field(scenario.profile, step.expect))
        finally:
            self.cleanup(tickets.values())
        return tickets

    def advance(self, to: datetime) -> None:
        """Move the clock to ``to`` the way time passes: each timer due on the way fires at its
        due time (kesu's timer loop), and kesu finishes with it before the clock moves on."""
        if to < self.clock():
            # A scenario of its own, earlier than the last one. Time never runs backwards in
            # production: let a timer-loop tick that read the old "now" finish before anything is
            # scheduled at the earlier time (it would fire the new timers as long overdue).
            self.clock.set(to)
            time.sleep(3 * self.stack.settings.worker.timer_interval + 0.05)
            return
        while True:
            due = [as_utc(t["due_at"]) for t in store.list_timers(self.engine)]
            due = [d for d in due if d is not None and self.clock() < d <= to]
            if not due:
                break
            self.clock.set(min(due))
            self.settle()
        self.clock.set(to)
        self.settle()

    def _act(self, scenario: Scenario, step: Step, tickets: dict[str, int]) -> None:
        sb = self.sandbox
        if isinstance(step, Create):
            who = self.customer(scenario, step.customer)
            self._attributes(step.fields)
            self.clock.set(step.at)  # the ticket's created_at is exactly the step's instant
            if step.agent:
                t = sb.create_ticket(step.title, step.body, customer=who, as_user=AGENT, fields=dict(step.fields))
            else:
                t = sb.create_ticket(step.title, step.body, customer=who, as_user=who, fields=dict(step.fields))
            tickets[step.ticket] = t["id"]
            return
        tid = tickets[step.ticket]
        if isinstance(step, Customer):
            sb.add_article(tid, step.body)
        elif isinstance(step, Reply):
            sb.add_article(tid, step.body, as_user=AGENT, type=step.type, internal=step.internal)
        elif isinstance(step, Update):
            self._attributes(step.fields)
            sb.update_ticket(tid, as_user=AGENT, **dict(step.fields))
        elif isinstance(step, Close):
            if step.reply is not None:
                sb.add_article(tid, step.reply, as_user=AGENT, type="email")
            fields = {"owner": AGENT, **dict(step.fields)} if step.owner else dict(step.fields)
            self._attributes(fields)
            sb.update_ticket(tid, as_user=AGENT, state="closed", **fields)
        elif not isinstance(step, Wait):
            raise TypeError(step)

    def _attributes(self, fields: Mapping[str, Any]) -> None:
        """Custom ticket attributes the scenario fills (an admin creates them in Zammad)."""
        known = self.sandbox.state.custom_attributes
        for name in fields:
            if name not in known and name not in ("owner", "group", "state", "priority", "pending_time",
                                                  "customer", "title"):
                self.sandbox.add_custom_attribute(name)

    def cleanup(self, tids: Any) -> None:
        """Keep the next scenario apart: cancel timers, reverse standing R-PEN-5.6.2* entries."""
        keys = {self.key(t) for t in tids}
        scheduled = [t for t in store.list_timers(self.engine) if t["ticket_key"] in keys]
        with self.engine.begin() as conn:
            for t in scheduled:
                store.cancel_timer(conn, key=t["ticket_key"], plugin=t["plugin"], timer_key=t["key"])
        ledger = Ledger(self.engine)
        for key in keys:
            for e in ledger.entries(ticket_key=key):
                if e.rule_id.startswith("R-PEN-5.6.2") and e.status == "confirmed" and e.refers_to is None:
                    ledger.reverse(e.id, decided_by="scenario-cleanup", note="scenario ended")

    # -- checks ----------------------------------------------------------------------------------

    def check(self, where: str, tid: int, notes_before: int, exp: Expect | tuple[Expect, dict[str, str]]) -> None:
        exp, fields = exp if isinstance(exp, tuple) else (exp, {})
        t = self.sandbox.ticket(tid)
        key = self.key(tid)
        problems: list[str] = []

        def same(what: str, actual: Any, expected: Any) -> None:
            if actual != expected:
                problems.append(f"{what}:\n    expected {expected!r}\n    actual   {actual!r}")

        if exp.note is not None:
            new = self.stack.notes(tid)[notes_before:]
            lines = [ln for n in new for ln in note_lines(n["body"])]
            if [r for r, _ in lines] != [r for r, _ in exp.note] or any(
                    frag not in text for (_, text), (_, frag) in zip(lines, exp.note)):
                problems.append("note lines:\n    expected " + "\n             ".join(map(repr, exp.note))
                                + "\n    actual   " + "\n             ".join(map(repr, lines)))
            for n in new:
                if not (n["internal"] and n["type"] == "note"):
                    problems.append(f"kesu's note must be internal: {n}")
        if exp.tags is not None:
            same("tags", set(t["tags"]), set(exp.tags))
        for name, value in fields.items():
            same(f"field {name}", t.get(name), value)
        if exp.priority is not None:
            same("priority", t["priority"], exp.priority)
        if exp.group is not None:
            same("group", t["group"], exp.group)
        if exp.state is not None:
            same("state", t["state"], exp.state)
        if exp.owner is not None:
            same("owner", (t.get("owner") or "-"), exp.owner)
        if exp.pending_time is not None:
            pt = t.get("pending_time")
            same("pending_time", utc(datetime.fromisoformat(pt.replace("Z", "+00:00"))) if pt else "",
                 exp.pending_time)
        if exp.timers is not None:
            actual = sorted((r["plugin"], r["key"], r["rule_id"], utc(as_utc(r["due_at"])))
                            for r in store.list_timers(self.engine, key))
            same("timers", actual, sorted(exp.timers))
        if exp.ledger is not None:
            rows = [(e.rule_id, e.kind, e.subject, e.amount, e.amount_min, e.amount_max, e.status)
                    for e in Ledger(self.engine).entries(ticket_key=key)]
            same("ledger", rows, list(exp.ledger))
        if exp.record is not None:
            with self.engine.connect() as conn:
                record = store.load_complaint(conn, key)
            for k, v in exp.record.items():
                got = record.get(k)
                if k == "escalations":
                    got = [(e["rule_id"], e["from"], e["to"]) for e in got or []]
                    v = list(v)
                elif k == "deadlines":
                    got = {r: {kk: (got or {}).get(r, {}).get(kk) for kk in d} for r, d in v.items()}
                elif k in ("received_at", "resolved_at") and got is not None:
                    got = utc(as_utc(got))
                same(f"record[{k}]", got, v)
        if exp.followups is not None:
            rows = [(r["rule_id"], r["status"], utc(as_utc(r["due_at"])), r["outcome"], r["attempts"])
                    for r in store.list_followups(self.engine) if r["ticket_key"] == key]
            same("followups", rows, list(exp.followups))
        if problems:
            raise AssertionError(f"{where}:\n  " + "\n  ".join(problems))


def tier_in_field(profile: str, exp: Expect) -> tuple[Expect, dict[str, str]]:
    """The scenarios name kesu's tier by its tag. The stacks provision the ticket fields (like
    ``kesu zammad setup``), so kesu writes the tier into the tier field instead (issue 12): an
    expected tier tag is that field's value, its note line ``加标签 <tag>`` is ``<field label> →
    <tier label>``, and the stale tier tag kesu never wrote is not removed (no ``去标签`` line)."""
    from policies import profiles

    severity = profiles.section(profile, "severity")
    tiers = {spec["tag"]: (tier, spec["label"]) for tier, spec in severity["tiers"].items() if spec.get("tag")}
    if not tiers or not severity.get("category_field"):
        return exp, {}
    fields: dict[str, str] = {}
    tags = exp.tags
    if tags is not None:
        named = [t for t in tags if t in tiers]
        if len(named) == 1:
            fields[severity["category_field"]] = tiers[named[0]][0]
        tags = {t for t in tags if t not in tiers}
    note = exp.note
    if note is not None:
        lines = []
        for rule, frag in note:
            words = frag.split("：", 1)
            if words[0].startswith("去标签 ") and words[0][4:] in tiers:
                continue
            if words[0].startswith("加标签 ") and words[0][4:] in tiers:
                frag = f"客诉等级 → {tiers[words[0][4:]][1]}" + ("：" + words[1] if len(words) > 1 else "")
            lines.append((rule, frag))
        note = lines
    return Expect(**{**exp.__dict__, "tags": tags, "note": note}), fields


def timer(plugin: str, key: str, due: datetime, rule: str | None = None) -> tuple[str, str, str, str]:
    """A scheduled timer as the store keeps it; the rule ID defaults to the key."""
    return (plugin, key, rule or key.split(":")[0], utc(due))


def plus(moment: datetime, **kw: float) -> datetime:
    return moment + timedelta(**kw)


def snapshot(runner: Runner, tid: int, notes_before: int) -> dict[str, Any]:
    """What :meth:`Runner.check` compares, as it is now (for writing and debugging scenarios)."""
    t = runner.sandbox.ticket(tid)
    key = runner.key(tid)
    with runner.engine.connect() as conn:
        record = store.load_complaint(conn, key)
    return {
        "note": [ln for n in runner.stack.notes(tid)[notes_before:] for ln in note_lines(n["body"])],
        "tags": sorted(t["tags"]), "priority": t["priority"], "group": t["group"], "state": t["state"],
        "owner": t.get("owner"), "pending_time": t.get("pending_time"),
        "timers": sorted((r["plugin"], r["key"], r["rule_id"], utc(as_utc(r["due_at"])))
                         for r in store.list_timers(runner.engine, key)),
        "ledger": [(e.rule_id, e.kind, e.subject, e.amount, e.amount_min, e.amount_max, e.status)
                   for e in Ledger(runner.engine).entries(ticket_key=key)],
        "record": {k: v for k, v in record.items() if k not in ("title", "number", "customer")},
        "followups": [(r["rule_id"], r["status"], utc(as_utc(r["due_at"])), r["outcome"], r["attempts"])
                      for r in store.list_followups(runner.engine) if r["ticket_key"] == key],
    }
