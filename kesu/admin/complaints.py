"""The complaints kesu knows: a filtered, urgency-sorted list and one ticket's whole story.

Read from kesu's store only (the complaint record, the audit log, the ledger, follow-ups), so the
view works while the helpdesk is down. Shared by the admin API, the admin page and
``kesu complaints``.

Urgency: open complaints past a deadline first (longest overdue first), then open ones by their
next deadline (soonest first, then the higher tier), then resolved ones (latest first), then those
confirmed invalid. State, overdue and units are judged here rather than in SQL: a deadline is
"overdue" against the time of the request, and units are a JSON list.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, func, or_, select

from kesu.admin.labels import TIER_RANK, Labels
from kesu.store.db import as_utc, parse_utc
from kesu.store.tables import audit_log, complaints, followups, ledger

STATES = ("open", "resolved", "invalid")
MAX_PER_PAGE = 200
#: Columns the list reads (not the correction texts kept in ``extra``).
_LIST_COLUMNS = [complaints.c[n] for n in (
    "ticket_key", "number", "title", "customer", "customer_name", "received_at", "tier", "cause", "category",
    "channel", "units", "valid", "invalid_proposed", "special", "escalations", "deadlines", "resolved_at",
    "followup_outcome", "updated_at")]
_QUOTE = re.compile(r"「[^」]{1,200}」")


class FilterError(ValueError):
    """A filter value that cannot be used; ``zh`` says why in Chinese."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh

    def message(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Filters:
    tier: str | None = None
    unit: str | None = None
    state: str | None = None  # open | resolved | invalid
    overdue: bool | None = None
    q: str | None = None  # a ticket number, kesu's key, or the customer (name or helpdesk id)
    page: int = 1
    per_page: int = 25

    def check(self) -> Filters:
        if self.state is not None and self.state not in STATES:
            raise FilterError(f"unknown state {self.state!r}; allowed: {', '.join(STATES)}",
                              f"未知的状态「{self.state}」；可选：处理中 open、已办结 resolved、无效投诉 invalid")
        if self.page < 1:
            raise FilterError("page starts at 1", "页码从 1 开始")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise FilterError(f"per_page must be 1..{MAX_PER_PAGE}", f"每页条数须在 1 到 {MAX_PER_PAGE} 之间")
        if self.q is not None and len(self.q) > 200:
            raise FilterError("the search text is longer than 200 characters", "搜索内容超过 200 个字符")
        return self


@dataclass
class Deadline:
    rule_id: str
    name: str
    due: datetime | None  # the effective deadline (an approved extension moves it)
    met_at: datetime | None
    extended_to: datetime | None
    approved_by: str | None
    overdue: bool


@dataclass
class Complaint:
    ticket_key: str
    number: str | None
    title: str
    customer: str | None
    customer_name: str | None
    received_at: datetime | None
    updated_at: datetime | None
    tier: str | None
    tier_label: str
    cause: str | None
    cause_label: str
    category: str | None
    category_label: str
    channel: str | None
    channel_label: str
    units: list[str]
    units_label: str
    state: str
    state_label: str
    overdue: bool
    overdue_by_hours: float | None
    next_due: datetime | None
    next_due_rule: str | None
    next_due_label: str | None
    followup: str | None
    followup_label: str | None
    flags: list[str]
    flag_labels: list[str]
    resolved_at: datetime | None
    link: str | None
    deadlines: list[Deadline] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrailEntry:
    id: int
    at: datetime
    kind: str  # decision | write | admin | conflict | plugin_error | recovered | skip
    plugin: str | None
    rule_id: str | None
    what: str | None  # the effect type of a decision
    what_label: str
    text: str  # the reason, the note, or what was written, as people read it
    quotes: list[str]  # the customer's words the decision rests on (「…」)


@dataclass
class ComplaintDetail:
    complaint: Complaint
    facts: list[tuple[str, str, str]]  # (field, name, value) as people read them
    quotes: list[str]
    trail: list[TrailEntry]
    ledger: list[dict[str, Any]]
    followups: list[dict[str, Any]]


@dataclass
class ComplaintPage:
    total: int
    page: int
    per_page: int
    items: list[Complaint]
    tiers: list[str]  # every tier and unit in the store, for the filter menus
    units: list[str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def helpdesk_link(kind: str, base_url: str, ticket_key: str, odoo_version: int | None = None) -> str | None:
    """The ticket's page in its helpdesk: Zammad ``/#ticket/zoom/<id>``; Odoo 18+ ``/odoo/helpdesk/<id>``
    and before that ``/web#id=<id>&model=helpdesk.ticket&view_type=form``."""
    _, _, ticket_id = ticket_key.partition(":")
    if not ticket_id.isdigit() or not base_url:
        return None
    base = base_url.rstrip("/")
    if kind == "zammad":
        return f"{base}/#ticket/zoom/{ticket_id}"
    if kind == "odoo":
        if odoo_version is not None and odoo_version >= 18:
            return f"{base}/odoo/helpdesk/{ticket_id}"
        return f"{base}/web#id={ticket_id}&model=helpdesk.ticket&view_type=form"
    return None


class ComplaintViews:
    """Queries over the store; ``link`` turns a key into the helpdesk URL (or None)."""

    def __init__(self, engine: Engine, link: Any = None, helpdesk: str | None = None) -> None:
        self.engine = engine
        self.link = link or (lambda key: None)
        self.helpdesk = helpdesk

    # -- one row -----------------------------------------------------------------------------

    def _complaint(self, row: Any, followup: dict[str, Any] | None, labels: Labels, now: datetime) -> Complaint:
        j = _judge(row, now)
        state, resolved_at, late_by, nxt, overdue = j.state, j.resolved_at, j.late_by, j.next_due, j.overdue
        deadlines = [Deadline(d.rule_id, labels.deadline(d.rule_id), d.due, d.met_at, d.extended_to, d.approved_by,
                              d.overdue) for d in j.deadlines]

        fu_key = None
        if followup is not None:
            if followup["status"] == "done":
                fu_key = followup["outcome"] if followup["outcome"] in ("satisfied", "dissatisfied") else "satisfied"
            elif followup["status"] in ("due", "overdue"):
                fu_key = "overdue" if followup["status"] == "overdue" or as_utc(followup["due_at"]) < now else "due"  # type: ignore[operator]
                if followup["outcome"] == "unreachable" and fu_key == "due":
                    fu_key = "unreachable"
        elif row["followup_outcome"] in ("satisfied", "dissatisfied", "unreachable"):
            fu_key = row["followup_outcome"]

        flags = [k for k in ("special", "invalid_proposed") if row[k]]
        if row["escalations"]:
            flags.append("escalated")
        units = [str(u) for u in row["units"] or []]
        return Complaint(
            ticket_key=row["ticket_key"], number=row["number"], title=row["title"] or "",
            customer=row["customer"], customer_name=row["customer_name"],
            received_at=parse_utc(row["received_at"]), updated_at=parse_utc(row["updated_at"]),
            tier=row["tier"], tier_label=labels.tier(row["tier"]),
            cause=row["cause"], cause_label=labels.cause(row["cause"]),
            category=row["category"], category_label=labels.category(row["category"]),
            channel=row["channel"], channel_label=labels.channel(row["channel"]),
            units=units, units_label=labels.units(units),
            state=state, state_label=labels.state(state), overdue=overdue,
            overdue_by_hours=round(late_by, 1) if late_by is not None else None,
            next_due=nxt.due if nxt else None, next_due_rule=nxt.rule_id if nxt else None,
            next_due_label=labels.deadline(nxt.rule_id) if nxt else None,
            followup=fu_key, followup_label=labels.followup(fu_key) if fu_key else None,
            flags=flags, flag_labels=[labels.marker(f) for f in flags], resolved_at=resolved_at,
            link=self.link(row["ticket_key"]), deadlines=deadlines)

    def _latest_followups(self, conn: Any, keys: list[str] | None) -> dict[str, dict[str, Any]]:
        q = select(followups).order_by(followups.c.id)
        if keys is not None:
            q = q.where(followups.c.ticket_key.in_(keys))
        return {r["ticket_key"]: dict(r) for r in conn.execute(q).mappings()}  # the last row per ticket wins

    # -- the list ----------------------------------------------------------------------------

    def list(self, filters: Filters, labels: Labels, now: datetime | None = None) -> ComplaintPage:
        f = filters.check()
        now = now or datetime.now(timezone.utc)
        # What judging and ordering need; the rest only for the page's rows (JSON costs).
        needed = [complaints.c[n] for n in ("ticket_key", "tier", "valid", "resolved_at", "received_at", "deadlines")]
        q = select(*needed, *([complaints.c.units] if f.unit else []))
        if f.tier:
            q = q.where(complaints.c.tier == f.tier)
        text = (f.q or "").strip().removeprefix("#").strip()
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            q = q.where(or_(complaints.c.number == text, complaints.c.ticket_key == text,
                            complaints.c.customer == text,
                            complaints.c.customer == f"{self.helpdesk}:{text}" if self.helpdesk else False,
                            complaints.c.customer_name.like(like, escape="\\")))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            tiers = [t for t in conn.execute(select(complaints.c.tier).distinct()).scalars() if t]
            # No DISTINCT: PostgreSQL's json type has no equality (the set below dedupes).
            all_units = conn.execute(select(complaints.c.units).where(complaints.c.units.is_not(None))
                                     ).scalars().all()
        # Judge every row (state, overdue, next deadline) for the filters and the order; labels
        # and the rest only for the rows of the page asked for.
        judged = [(r, _judge(r, now)) for r in rows]
        if f.unit:
            judged = [(r, j) for r, j in judged if f.unit in (r["units"] or [])]
        if f.state:
            judged = [(r, j) for r, j in judged if j.state == f.state]
        if f.overdue is not None:
            judged = [(r, j) for r, j in judged if j.overdue == f.overdue]
        judged.sort(key=lambda rj: _urgency(rj[0], rj[1]))
        start = (f.page - 1) * f.per_page
        keys = [r["ticket_key"] for r, _ in judged[start:start + f.per_page]]
        with self.engine.connect() as conn:
            full = {r["ticket_key"]: r for r in conn.execute(
                select(*_LIST_COLUMNS).where(complaints.c.ticket_key.in_(keys))).mappings()} if keys else {}
            fus = self._latest_followups(conn, keys) if keys else {}
        items = [self._complaint(full[k], fus.get(k), labels, now) for k in keys]
        units = sorted({str(u) for us in all_units for u in (us or [])})
        return ComplaintPage(total=len(judged), page=f.page, per_page=f.per_page, items=items,
                             tiers=sorted(tiers, key=lambda t: (TIER_RANK.get(t, 9), t)), units=units)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(complaints)).scalar_one())

    # -- one ticket --------------------------------------------------------------------------

    def detail(self, key: str, labels: Labels, now: datetime | None = None) -> ComplaintDetail | None:
        now = now or datetime.now(timezone.utc)
        with self.engine.connect() as conn:
            row = conn.execute(select(complaints).where(complaints.c.ticket_key == key)).mappings().first()
            audit = conn.execute(select(audit_log).where(audit_log.c.ticket_key == key)
                                 .order_by(audit_log.c.id)).mappings().all()
            entries = conn.execute(select(ledger).where(ledger.c.ticket_key == key)
                                   .order_by(ledger.c.id)).mappings().all()
            fus = conn.execute(select(followups).where(followups.c.ticket_key == key)
                               .order_by(followups.c.id)).mappings().all()
        if row is None:
            return None
        complaint = self._complaint(row, dict(fus[-1]) if fus else None, labels, now)
        record = {**(row["extra"] or {}), **{k: v for k, v in row.items() if k != "extra"}}
        facts = [(name, labels.fact_name(name), labels.fact_value(name, record.get(name)))
                 for name in ("tier", "cause", "category", "channel", "units", "valid", "batch", "loss_amount",
                              "people", "followup_outcome") if record.get(name) not in (None, "", [])]
        flagged = ((record.get("fact_labels") or {}).get("flags") or []) if isinstance(record.get("fact_labels"), dict) else []
        if flagged:
            facts.append(("flags", labels.fact_name("flags"), labels.fact_value("flags", flagged)))
        trail = [t for t in (_trail_entry(a, labels) for a in audit) if t is not None]
        quotes = list(dict.fromkeys(q for t in trail for q in t.quotes))
        followed = {e["refers_to"] for e in entries if e["refers_to"]}
        ledger_rows = [{
            "id": e["id"], "created_at": as_utc(e["created_at"]), "rule_id": e["rule_id"], "plugin": e["plugin"],
            "kind": e["kind"], "kind_label": labels.kind(e["kind"]), "subject": e["subject"],
            "amount": e["amount"], "amount_min": e["amount_min"], "amount_max": e["amount_max"],
            "status": e["status"], "status_label": labels.status(e["status"]), "decided_by": e["decided_by"],
            "refers_to": e["refers_to"], "note": e["note"],
            "open": e["status"] == "proposed" and e["id"] not in followed} for e in entries]
        fu_rows = [{"id": r["id"], "rule_id": r["rule_id"], "resolved_at": as_utc(r["resolved_at"]),
                    "due_at": as_utc(r["due_at"]), "status": r["status"],
                    "status_label": labels.followup("overdue" if r["status"] == "overdue" else
                                                    "due" if r["status"] == "due" else
                                                    (r["outcome"] if r["outcome"] in ("satisfied", "dissatisfied")
                                                     else "unreachable") if r["status"] in ("done", "unreachable")
                                                    else "due"),
                    "outcome": r["outcome"], "outcome_label": labels.outcome(r["outcome"]) if r["outcome"] else None,
                    "attempts": r["attempts"], "done_at": as_utc(r["done_at"]) if r["done_at"] else None}
                   for r in fus]
        return ComplaintDetail(complaint, facts, quotes, trail, ledger_rows, fu_rows)


@dataclass
class _Due:
    rule_id: str
    due: datetime | None
    met_at: datetime | None
    extended_to: datetime | None
    approved_by: str | None
    overdue: bool


@dataclass
class _Judged:
    state: str
    resolved_at: datetime | None
    received_at: datetime | None
    deadlines: list[_Due]
    overdue: bool
    late_by: float | None  # hours past the earliest missed deadline
    next_due: _Due | None


def _judge(row: Any, now: datetime) -> _Judged:
    """A record's state, deadlines and lateness at ``now``."""
    resolved_at = parse_utc(row["resolved_at"])
    state = "invalid" if row["valid"] == 0 else "resolved" if resolved_at else "open"
    deadlines = []
    for rule_id, entry in sorted((row["deadlines"] or {}).items()):
        if not isinstance(entry, dict):
            continue
        extended = parse_utc(entry.get("extended_to"))
        due = extended or parse_utc(entry.get("due"))
        met = parse_utc(entry.get("met_at"))
        late = bool(entry.get("overdue")) or (met is None and due is not None and due < now and state == "open")
        deadlines.append(_Due(rule_id, due, met, extended, entry.get("approved_by"), late))
    pending = [d for d in deadlines if d.met_at is None and d.due is not None]
    running_late = [d.due for d in pending if d.due is not None and d.due < now] if state == "open" else []
    overdue = state == "open" and (bool(running_late) or any(d.overdue and d.met_at is None for d in deadlines))
    nxt = min(pending, key=lambda d: d.due) if pending and state == "open" else None  # type: ignore[arg-type,return-value]
    late_by = (now - min(running_late)).total_seconds() / 3600 if running_late else None
    return _Judged(state, resolved_at, parse_utc(row["received_at"]), deadlines, overdue, late_by, nxt)


def _urgency(row: Any, j: _Judged) -> tuple[Any, ...]:
    far = datetime.max.replace(tzinfo=timezone.utc)
    tier = TIER_RANK.get(row["tier"] or "", 9)
    if j.state == "open" and j.overdue:
        return (0, -(j.late_by or 0), tier, row["ticket_key"])
    if j.state == "open":
        return (1, j.next_due.due if j.next_due else far, tier, j.received_at or far, row["ticket_key"])
    stamp = -(j.resolved_at or j.received_at or datetime.min.replace(tzinfo=timezone.utc)).timestamp()
    return (2 if j.state == "resolved" else 3, stamp, row["ticket_key"])


def _trail_entry(a: Any, labels: Labels) -> TrailEntry | None:
    detail = a["detail"] or {}
    kind, what = a["kind"], detail.get("type") if a["kind"] == "decision" else None
    if what == "set_state":
        return None  # a plugin's own memory, not a decision about the complaint
    en = labels.lang == "en"
    text = ""
    if kind == "decision":
        if what == "internal_note":
            text = (detail.get("text_en") if en else None) or detail.get("text") or ""
        else:
            text = ((detail.get("reason_en") if en else None) or detail.get("reason") or "")
        extra = _effect_text(what, detail, labels)
        text = "；".join(p for p in (text, extra) if p) if not en else "; ".join(p for p in (text, extra) if p)
        if not text:
            return None  # bookkeeping with nothing to read (a record written without a reason)
    elif kind == "write":
        text = str(detail.get("note") or "")
        if not text:
            parts = []
            if detail.get("add_tags"):
                parts.append(labels.word("trail", "tags_added").format(tags=labels.join(detail["add_tags"])))
            if detail.get("group"):
                parts.append(labels.word("trail", "group_assigned").format(group=labels.unit(str(detail["group"]))))
            text = "；".join(parts)
    elif kind == "admin":
        text = str(detail.get("text") or detail.get("action") or "")
    elif kind == "plugin_error":
        text = f"{a['plugin']}: {detail.get('error', '')}"
    elif kind == "conflict":
        text = str(detail.get("what") or "")
    elif kind == "recovered":
        text = f"kesu #{detail.get('marker', '')}"
    else:
        text = str(detail.get("reason") or detail.get("text") or "")
    return TrailEntry(id=a["id"], at=as_utc(a["at"]), kind=kind, plugin=a["plugin"],  # type: ignore[arg-type]
                      rule_id=a["rule_id"], what=what, what_label=labels.effect(kind, what), text=text,
                      quotes=_QUOTE.findall(text))


def _effect_text(what: str | None, detail: dict[str, Any], labels: Labels) -> str:
    """What an effect did, in words, for effects whose reason does not say it."""
    en = labels.lang == "en"
    sep = ", " if en else "、"
    if what in ("add_tags", "remove_tags"):
        return sep.join(str(t) for t in detail.get("tags") or [])
    if what == "assign_group":
        return str(detail.get("group") or "")
    if what == "notify":
        return sep.join(str(r) for r in detail.get("recipients") or [])
    if what == "ledger_entry":
        amount = detail.get("amount")
        span = (f"{amount:g}" if isinstance(amount, (int, float)) else
                f"{detail.get('amount_min') or 0:g}–{detail.get('amount_max') or 0:g}")
        return f"{labels.kind(str(detail.get('kind')))} {detail.get('subject', '')} {span}"
    if what == "record_complaint":
        values = detail.get("values") or {}
        shown = [f"{labels.fact_name(k)} {labels.fact_value(k, v)}" for k, v in values.items()
                 if k in ("tier", "cause", "category", "channel", "units", "valid", "batch", "loss_amount", "people",
                          "followup_outcome") and v not in (None, "", [])]
        return sep.join(shown)
    if what == "set_field":
        name = str(detail.get("name", ""))
        return f"{labels.field(name)} = {labels.field_value(name, detail.get('value'))}"
    return ""
