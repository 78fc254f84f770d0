"""Monthly/quarterly/yearly statistics (R-RPT-4.27, R-RPT-5.4.5.6, R-RPT-6.38.7), computed once.

What is counted where (documented in ``docs/reports.md``):

* **Complaints of the period** -- the complaint records whose ``received_at`` falls in the period
  (local time). Tier, cause, unit, channel, validity, deadlines and follow-ups are about them.
  A complaint with two responsible units counts once for each unit.
* **Deadlines** -- each deadline of those complaints: *on time* when met no later than its due
  time (the approved extension when there is one), *late* when met later, or unmet although its
  due time has passed; *open* ("due later", 未到期) when unmet and not yet due. "Passed" is judged
  at the end of the period, or at the report's ``as_of`` moment (now) while the period is still
  running: a report of the current month never calls a deadline late before it is.
* **Follow-ups** (R-CB-6.36) -- valid complaints of the period that were resolved; followed up
  when a follow-up ended satisfied or dissatisfied.
* **Escalations and the ledger** are events: counted in the period they happened in
  (``escalations[].at``, ``ledger.created_at``), whatever month the complaint came in.
* **Trend** (the charts) -- month by month over the period's months (a monthly report: the six
  months ending with it), each month counted as its own monthly report counts it.
* **R-PEN-5.6.5** -- the period's complaints per 100 million yuan of premium and per 100 million
  policies, from inputs a person gives (``kesu.report.ratios``).

Stored keys are shown with the labels of the enabled policies (:class:`~kesu.report.labels.Catalogue`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, or_, select

from kesu.report import labels, ratios
from kesu.report.labels import Catalogue
from kesu.report.model import (
    Change,
    Count,
    DeadlineStat,
    EscalationStat,
    FollowupStat,
    LedgerStat,
    PeriodReport,
    RatioInputs,
    Series,
    Summary,
    Trend,
    Validity,
)
from kesu.report.period import Period
from kesu.store.db import as_utc, utcnow
from kesu.store.tables import complaints, followups, ledger


@dataclass
class Rows:
    """What one period's statistics read from the store."""

    complaints: list[dict[str, Any]] = field(default_factory=list)  # cohort + possibly escalated later
    followups: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)  # rows created in the period
    decided: set[int] = field(default_factory=set)  # proposals that have a decision (any time)


def load_rows(engine: Engine, period: Period) -> Rows:
    start, end = period.start_utc, period.end_utc
    rows = Rows()
    with engine.connect() as conn:
        # A record escalated in the period was saved at or after the escalation: updated_at >= start.
        q = (select(complaints)
             .where(complaints.c.received_at < end,
                    or_(complaints.c.received_at >= start, complaints.c.updated_at >= start))
             .order_by(complaints.c.ticket_key))
        rows.complaints = [dict(r) for r in conn.execute(q).mappings()]
        keys = [c["ticket_key"] for c in rows.complaints]
        for chunk in _chunks(keys, 500):
            rows.followups += [dict(r) for r in conn.execute(
                select(followups).where(followups.c.ticket_key.in_(chunk)).order_by(followups.c.id)).mappings()]
        rows.ledger = [dict(r) for r in conn.execute(
            select(ledger).where(ledger.c.created_at >= start, ledger.c.created_at < end)
            .order_by(ledger.c.id)).mappings()]
        proposals = [r["id"] for r in rows.ledger if r["status"] == "proposed"]
        for chunk in _chunks(proposals, 500):
            rows.decided |= set(conn.execute(
                select(ledger.c.refers_to).where(ledger.c.refers_to.in_(chunk),
                                                 ledger.c.status.in_(("confirmed", "rejected")))).scalars())
    return rows


def load_window(engine: Engine, start: datetime, end: datetime) -> Rows:
    """The complaints received in ``[start, end)`` and their follow-ups (for the trend)."""
    rows = Rows()
    with engine.connect() as conn:
        rows.complaints = [dict(r) for r in conn.execute(
            select(complaints).where(complaints.c.received_at >= start, complaints.c.received_at < end)
            .order_by(complaints.c.ticket_key)).mappings()]
        keys = [c["ticket_key"] for c in rows.complaints]
        for chunk in _chunks(keys, 500):
            rows.followups += [dict(r) for r in conn.execute(
                select(followups).where(followups.c.ticket_key.in_(chunk)).order_by(followups.c.id)).mappings()]
    return rows


TREND_MONTHS = 6  # a monthly report's trend: the month and the five before it
TREND_CAUSES = 7  # causes drawn one by one; the rest are 其他


def trend_months(period: Period) -> list[Period]:
    """The months a report's trend shows: a quarter's or a year's own months; for a month, the
    ``TREND_MONTHS`` months ending with it."""
    if period.kind == "monthly":
        months = [period]
        while len(months) < TREND_MONTHS:
            months.insert(0, months[0].previous())
        return months
    first = period.start.month
    count = 3 if period.kind == "quarterly" else 12
    return [Period("monthly", period.year, first + i, period.tz) for i in range(count)]


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def build_report(engine: Engine, period: Period, *, generated_at: datetime | None = None,
                 as_of: datetime | None = None, catalogue: Catalogue | None = None,
                 inputs: RatioInputs | None = None, language: str = "zh") -> PeriodReport:
    """The report of ``period`` with the change against the period before it.

    ``as_of`` is the moment deadlines are judged at (default: ``generated_at``, else now); it
    only matters while the period is still running. ``catalogue`` gives the labels of stored keys
    (the enabled policies'); ``inputs`` the period's premium and policy count (R-PEN-5.6.5);
    ``language`` that of the charts' titles and axes.
    """
    months = trend_months(period)
    return compute(load_rows(engine, period), period, load_rows(engine, period.previous()),
                   generated_at=generated_at, as_of=as_of, catalogue=catalogue, inputs=inputs, language=language,
                   trend_rows=load_window(engine, months[0].start_utc, months[-1].end_utc))


def compute(rows: Rows, period: Period, previous_rows: Rows, *,
            generated_at: datetime | None = None, as_of: datetime | None = None,
            catalogue: Catalogue | None = None, inputs: RatioInputs | None = None, language: str = "zh",
            trend_rows: Rows | None = None) -> PeriodReport:
    moment = as_of or generated_at or utcnow()
    if moment.tzinfo is None:
        raise ValueError(f"as_of must carry a time zone, got {moment!r}")
    cat = (catalogue or Catalogue()).in_lang(language)
    current = _sections(rows, period, moment, cat)
    before = _sections(previous_rows, period.previous(), moment, cat)
    return PeriodReport(
        kind=period.kind, period=period.label, period_zh=period.label_zh,
        start=period.start.isoformat(), end=period.end.isoformat(), timezone=period.tz,
        previous_period=period.previous().label,
        generated_at=generated_at.isoformat() if generated_at else None,
        changes=_changes(current["summary"], before["summary"]),
        trend=_trend(trend_rows if trend_rows is not None else rows, trend_months(period), moment, cat),
        ratios=ratios.compute(current["summary"].total, inputs),
        language="en" if language == "en" else "zh",
        **current,
    )


# -------------------------------------------------------------------------------------------------


def _sections(rows: Rows, period: Period, as_of: datetime, cat: Catalogue) -> dict[str, Any]:
    cohort = [c for c in rows.complaints if period.contains(as_utc(c["received_at"]))]
    total = len(cohort)

    def counts(values: Iterable[str], label: Any, order: list[str] | None = None) -> list[Count]:
        counter = Counter(values)
        if order is not None:
            rank = {k: i for i, k in enumerate(order)}
            keys = sorted(counter, key=lambda k: (k == "", rank.get(k, len(rank)), k))
        else:
            keys = sorted(counter, key=lambda k: (k == "", -counter[k], k))
        return [Count(key=k, label=label(k), count=counter[k], share=counter[k] / total if total else None)
                for k in keys]

    by_tier = counts((c["tier"] or "" for c in cohort), cat.tier, cat.tier_order())
    by_cause = counts((c["cause"] or "" for c in cohort), cat.cause)
    by_unit = counts((u for c in cohort for u in (_units(c) or [""])), cat.unit)
    by_channel = counts((c["channel"] or "" for c in cohort), cat.channel)
    main_causes = counts((c["category"] or c["cause"] or "" for c in cohort), cat.category)
    validity = Validity(
        valid=sum(1 for c in cohort if c["valid"] == 1),
        invalid=sum(1 for c in cohort if c["valid"] == 0),
        undecided=sum(1 for c in cohort if c["valid"] is None),
        invalid_proposed=sum(1 for c in cohort if c["valid"] is None and c["invalid_proposed"] == 1),
    )
    deadlines = _deadlines(cohort, period, as_of, cat)
    follow = _followups(cohort, rows.followups)
    escalations = _escalations(rows.complaints, period, cat)
    ledger_stats = _ledger(rows.ledger, rows.decided)
    on_time = sum(d.on_time for d in deadlines)
    late = sum(d.late for d in deadlines)
    summary = Summary(
        total=total, valid=validity.valid, invalid=validity.invalid,
        major=sum(1 for c in cohort if (c["tier"] or "") in labels.MAJOR_TIERS),
        special=sum(1 for c in cohort if c["special"] == 1),
        resolved=sum(1 for c in cohort if c["resolved_at"] is not None),
        escalations=sum(e.count for e in escalations),
        overdue_rate=late / (on_time + late) if on_time + late else None,
        followup_rate=follow.rate, satisfaction=follow.satisfaction,
        penalties_confirmed=sum(s.confirmed_amount for s in ledger_stats if s.kind == "penalty"),
        rewards_confirmed=sum(s.confirmed_amount for s in ledger_stats if s.kind == "reward"),
    )
    return {"summary": summary, "by_tier": by_tier, "by_cause": by_cause, "by_unit": by_unit,
            "by_channel": by_channel, "validity": validity, "deadlines": deadlines, "followups": follow,
            "escalations": escalations, "ledger": ledger_stats, "main_causes": main_causes}


def _trend(rows: Rows, months: list[Period], as_of: datetime, cat: Catalogue) -> Trend:
    cohorts = [[c for c in rows.complaints if m.contains(as_utc(c["received_at"]))] for m in months]
    tiers = [Counter(c["tier"] or "" for c in cohort) for cohort in cohorts]
    causes = [Counter(c["cause"] or "" for c in cohort) for cohort in cohorts]
    overdue, follow = [], []
    for m, cohort in zip(months, cohorts, strict=True):
        deadlines = _deadlines(cohort, m, as_of, cat)
        on_time, late = sum(d.on_time for d in deadlines), sum(d.late for d in deadlines)
        overdue.append(late / (on_time + late) if on_time + late else None)
        follow.append(_followups(cohort, rows.followups).rate)

    rank = {k: i for i, k in enumerate(cat.tier_order())}
    tier_keys = sorted({k for t in tiers for k in t}, key=lambda k: (k == "", rank.get(k, len(rank)), k))
    window = sum(causes, Counter())
    named = sorted((k for k in window if k), key=lambda k: (-window[k], k))
    shown, rest = named[:TREND_CAUSES], set(named[TREND_CAUSES:])
    if len(rest) == 1:  # one cause left over: draw it rather than call it 其他
        shown, rest = named, set()
    cause_series = [Series(key=k, label=cat.cause(k), values=[c[k] for c in causes]) for k in shown]
    if rest:
        cause_series.append(Series(key="*", label=cat.word("report", "other"), values=[sum(c[k] for k in rest) for c in causes]))
    if "" in window:
        cause_series.append(Series(key="", label=cat.unset(), values=[c[""] for c in causes]))
    return Trend(
        months=[m.label for m in months], months_zh=[m.label_zh for m in months],
        total=[len(cohort) for cohort in cohorts],
        tiers=[Series(key=k, label=cat.tier(k), values=[t[k] for t in tiers]) for k in tier_keys],
        causes=cause_series, overdue_rate=overdue, followup_rate=follow)


def _units(c: Mapping[str, Any]) -> list[str]:
    units = c.get("units") or []
    return sorted({str(u) for u in units}) if isinstance(units, list) else [str(units)]


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _deadlines(cohort: list[dict[str, Any]], period: Period, as_of: datetime, cat: Catalogue) -> list[DeadlineStat]:
    cutoff = min(period.end_utc, as_of)  # a running period is judged now, not at its future end
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for c in cohort:
        for rule_id, entry in (c["deadlines"] or {}).items():
            if not isinstance(entry, Mapping):
                continue
            due = _time(entry.get("extended_to")) or _time(entry.get("due"))
            if due is None:
                continue
            met = _time(entry.get("met_at"))
            if met is not None:
                outcome = "on_time" if met <= due else "late"
            elif due <= cutoff:  # the policy's "overdue" flag is not consulted: the due time decides
                outcome = "late"
            else:
                outcome = "open"
            tally[rule_id][outcome] += 1
    stats = []
    for rule_id in sorted(tally):
        t = tally[rule_id]
        closed = t["on_time"] + t["late"]
        stats.append(DeadlineStat(
            rule_id=rule_id, label=cat.deadline_name(rule_id), total=sum(t.values()),
            on_time=t["on_time"], late=t["late"], open=t["open"],
            on_time_rate=t["on_time"] / closed if closed else None))
    return stats


def _followups(cohort: list[dict[str, Any]], rows: list[dict[str, Any]]) -> FollowupStat:
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:  # ordered by id: the last one wins
        latest[r["ticket_key"]] = r
    resolved = [c for c in cohort if c["valid"] == 1 and c["resolved_at"] is not None]
    outcomes: Counter[str] = Counter()
    on_time = 0
    for c in resolved:
        row = latest.get(c["ticket_key"])
        if row is not None and row["status"] == "done" and row["outcome"] in ("satisfied", "dissatisfied"):
            outcomes[row["outcome"]] += 1
            done, due = as_utc(row["done_at"]), as_utc(row["due_at"])
            on_time += done is not None and due is not None and done <= due
        elif c["followup_outcome"] in ("satisfied", "dissatisfied"):
            outcomes[c["followup_outcome"]] += 1  # recorded without a follow-up row: time unknown
        elif (row is not None and row["outcome"] == "unreachable") or c["followup_outcome"] == "unreachable":
            outcomes["unreachable"] += 1
    followed = outcomes["satisfied"] + outcomes["dissatisfied"]
    return FollowupStat(
        resolved_valid=len(resolved), followed_up=followed, on_time=on_time,
        unreachable=outcomes["unreachable"], satisfied=outcomes["satisfied"],
        dissatisfied=outcomes["dissatisfied"],
        rate=followed / len(resolved) if resolved else None,
        satisfaction=outcomes["satisfied"] / followed if followed else None)


def _escalations(records: list[dict[str, Any]], period: Period, cat: Catalogue) -> list[EscalationStat]:
    counter: Counter[str] = Counter()
    for c in records:
        for esc in c["escalations"] or []:
            if isinstance(esc, Mapping) and period.contains(_time(esc.get("at"))):
                counter[str(esc.get("rule_id") or "")] += 1
    return [EscalationStat(rule_id=k, label=cat.escalation(k), count=counter[k])
            for k in sorted(counter, key=lambda k: (-counter[k], k))]


def _ledger(rows: list[dict[str, Any]], decided: set[int]) -> list[LedgerStat]:
    tally: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        t = tally[(r["subject"], r["kind"])]
        status = r["status"]
        if status == "proposed":
            t["proposed"] += 1
            t["open"] += r["id"] not in decided
        elif status == "confirmed":
            t["confirmed"] += 1
            t["amount"] += r["amount"] or 0.0
        elif status == "rejected":
            t["rejected"] += 1
        elif status == "reversal":
            t["reversed"] += 1
            t["amount"] += r["amount"] or 0.0
    return [LedgerStat(subject=s, kind=k, proposed=int(t["proposed"]), open=int(t["open"]),
                       confirmed=int(t["confirmed"]), confirmed_amount=t["amount"],
                       rejected=int(t["rejected"]), reversed=int(t["reversed"]))
            for (s, k), t in sorted(tally.items())]


CHANGE_ROWS = [
    ("total", "投诉总量", "int"),
    ("valid", "有效投诉", "int"),
    ("invalid", "无效投诉", "int"),
    ("major", "重大投诉", "int"),
    ("escalations", "投诉升级", "int"),
    ("overdue_rate", "超时率", "pct"),
    ("followup_rate", "回访率", "pct"),
    ("satisfaction", "满意率", "pct"),
    ("penalties_confirmed", "已确认罚款", "yuan"),
    ("rewards_confirmed", "已确认奖励", "yuan"),
]


def _changes(current: Summary, previous: Summary) -> list[Change]:
    out = []
    for key, label, unit in CHANGE_ROWS:
        cur, prev = getattr(current, key), getattr(previous, key)
        delta = cur - prev if cur is not None and prev is not None else None
        pct = delta / prev if unit != "pct" and delta is not None and prev else None
        out.append(Change(key=key, label=label, unit=unit, current=cur, previous=prev, delta=delta, delta_pct=pct))
    return out
