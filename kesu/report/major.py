"""The special report of one major complaint (R-RPT-6.38.7): its record, deadlines, escalations,
ledger entries and the timeline of everything kesu decided and wrote (from the audit log)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, select

from kesu import i18n
from kesu.i18n import Said
from kesu.models import Priority
from kesu.report import labels
from kesu.report.labels import Catalogue
from kesu.report.document import Cell, Column, Document, Table, cells
from kesu.store.db import as_utc
from kesu.store.tables import audit_log, complaints, ledger


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeadlineRow(_Model):
    rule_id: str
    label: str
    start: str | None
    due: str | None
    extended_to: str | None
    approved_by: str | None
    met_at: str | None
    status: str  # on_time | late | overdue | open


class EscalationRow(_Model):
    at: str | None
    rule_id: str
    reason: str
    from_tier: str | None
    to_tier: str | None


class LedgerRow(_Model):
    id: int
    at: str
    rule_id: str
    subject: str
    kind: str
    amount: float | None
    amount_min: float | None
    amount_max: float | None
    status: str
    decided_by: str | None
    refers_to: int | None
    note: str | None


class TimelineItem(_Model):
    at: str
    kind: str
    plugin: str | None
    rule_id: str | None
    summary: str


class MajorReport(_Model):
    ticket_key: str
    timezone: str
    generated_at: str | None
    is_major: bool
    record: dict[str, Any]
    deadlines: list[DeadlineRow]
    escalations: list[EscalationRow]
    ledger: list[LedgerRow]
    timeline: list[TimelineItem]
    shown: dict[str, str] = {}  # record field -> what the report shows for its stored key ("mould" -> "发霉…")
    language: str = "zh"  # of the labels of stored values and of the timeline's lines


class NoComplaint(Said, LookupError):
    """No complaint record for this ticket."""


def _local(value: Any, tz: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = as_utc(value)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    assert moment is not None
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def build_major(engine: Engine, ticket_key: str, *, tz: str = "Asia/Shanghai",
                generated_at: datetime | None = None, catalogue: Catalogue | None = None,
                language: str = "zh") -> MajorReport:
    cat = (catalogue or Catalogue()).in_lang(language)
    with engine.connect() as conn:
        row = conn.execute(select(complaints).where(complaints.c.ticket_key == ticket_key)).mappings().first()
        if row is None:
            raise NoComplaint.said("no_complaint", ticket=ticket_key)
        audit = conn.execute(select(audit_log).where(audit_log.c.ticket_key == ticket_key)
                             .order_by(audit_log.c.at, audit_log.c.id)).mappings().all()
        entries = conn.execute(select(ledger).where(ledger.c.ticket_key == ticket_key)
                               .order_by(ledger.c.id)).mappings().all()
    rec = dict(row)
    record: dict[str, Any] = {}
    for k, v in rec.items():
        if k in ("deadlines", "escalations", "updated_at") or v is None or v == {} or v == []:
            continue
        record[k] = _local(v, tz) if isinstance(v, datetime) else v
    deadlines = []
    for rule_id, e in sorted((rec["deadlines"] or {}).items()):
        if not isinstance(e, Mapping):
            continue
        due = e.get("extended_to") or e.get("due")
        met = e.get("met_at")
        if met:
            status = "on_time" if due and _cmp(met) <= _cmp(due) else "late"
        else:
            status = "overdue" if e.get("overdue") else "open"
        deadlines.append(DeadlineRow(
            rule_id=rule_id, label=cat.deadline_name(rule_id), start=_local(e.get("start"), tz),
            due=_local(e.get("due"), tz), extended_to=_local(e.get("extended_to"), tz),
            approved_by=e.get("approved_by"), met_at=_local(met, tz), status=status))
    escalations = [
        EscalationRow(at=_local(x.get("at"), tz), rule_id=str(x.get("rule_id") or ""), reason=str(x.get("reason") or ""),
                      from_tier=x.get("from"), to_tier=x.get("to"))
        for x in rec["escalations"] or [] if isinstance(x, Mapping)
    ]
    ledger_rows = [
        LedgerRow(id=e["id"], at=_local(e["created_at"], tz) or "", rule_id=e["rule_id"], subject=e["subject"],
                  kind=e["kind"], amount=e["amount"], amount_min=e["amount_min"], amount_max=e["amount_max"],
                  status=e["status"], decided_by=e["decided_by"], refers_to=e["refers_to"], note=e["note"])
        for e in entries
    ]
    timeline = [TimelineItem(at=_local(a["at"], tz) or "", kind=a["kind"], plugin=a["plugin"], rule_id=a["rule_id"],
                             summary=summarize(a["kind"], a["detail"] or {}, tz, cat))
                for a in audit]
    return MajorReport(
        ticket_key=ticket_key, timezone=tz, generated_at=generated_at.isoformat() if generated_at else None,
        is_major=(rec["tier"] or "") in labels.MAJOR_TIERS or rec["special"] == 1, record=record,
        deadlines=deadlines, escalations=escalations, ledger=ledger_rows, timeline=timeline,
        shown=_shown(record, [t for e in escalations for t in (e.from_tier, e.to_tier) if t], cat),
        language=cat.lang)


def _shown(record: Mapping[str, Any], tiers: list[str], cat: Catalogue) -> dict[str, str]:
    """The labels of the record's keys (tier, cause, category, units, channel, follow-up outcome) and
    of the tiers its escalations went from and to (``tier:A``)."""
    out = {f"tier:{t}": cat.tier(t) for t in sorted(set(tiers))}
    for key, label in (("tier", cat.tier), ("cause", cat.cause), ("category", cat.category),
                       ("channel", cat.channel), ("followup_outcome", cat.outcome)):
        if record.get(key):
            out[key] = label(str(record[key]))
    if isinstance(record.get("units"), list):
        out["units"] = cat.units(record["units"])
    return out


def _cmp(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def summarize(kind: str, detail: Mapping[str, Any], tz: str, catalogue: Catalogue | None = None) -> str:
    """One line for an audit entry: what was decided or done, in the catalogue's language; values
    by their labels (原因=产品发酸…, not cause=mould; 优先级 → 紧急, not priority=4; a helpdesk
    field by its display name and option label)."""
    cat = catalogue or Catalogue()
    zh = cat.lang == "zh"
    sep, semi = ("，", "；") if zh else (", ", "; ")

    def line(entry: str, **values: Any) -> str:
        return cat.word("timeline", entry).format(**values)

    def tags(value: Any) -> str:
        return ", ".join(str(t) for t in value or [])

    if kind == "decision":
        t = detail.get("type", "")
        values = detail.get("values") or {}
        reason = (detail.get("reason_en") if not zh else None) or detail.get("reason") or ""
        what = {
            "internal_note": lambda: str((detail.get("text_en") if not zh else None) or detail.get("text", "")),
            "set_priority": lambda: line("set_priority", value=_priority(detail.get("priority"), cat)),
            "assign_group": lambda: line("assign_group", value=cat.unit(str(detail.get("group") or ""))),
            "assign_owner": lambda: line("assign_owner", value=detail.get("owner")),
            "add_tags": lambda: line("add_tags", value=tags(detail.get("tags"))),
            "remove_tags": lambda: line("remove_tags", value=tags(detail.get("tags"))),
            "set_field": lambda: line("set_field", name=cat.field(str(detail.get("name"))),
                                      value=cat.field_value(str(detail.get("name")), detail.get("value"))),
            "schedule_timer": lambda: line("schedule_timer", key=detail.get("key"), due=_local(detail.get("due_at"), tz)),
            "cancel_timer": lambda: line("cancel_timer", key=detail.get("key")),
            "follow_up_todo": lambda: line("follow_up_todo", summary=detail.get("summary"),
                                           due=_local(detail.get("due_at"), tz)),
            "notify": lambda: line("notify", value=", ".join(detail.get("recipients") or []), message=detail.get("message")),
            "ledger_entry": lambda: f"{cat.kind(str(detail.get('kind')))} {detail.get('subject')} {_amount(detail, cat)}",
            "record_complaint": lambda: line("record_complaint", values=sep.join(
                _extra({k: v}, cat) if k in EXAMPLE_KEYS else
                f"{cat.word('major_record', k)}={_shown(values, [], cat).get(k) or _value(k, v, cat)}"
                for k, v in sorted(values.items()) if k not in ("deadlines",))),
            "set_state": lambda: "",
        }.get(t, lambda: cat.effect("decision", t))()
        parts = [what] if what else []
        if reason and reason != what:
            parts.append(reason)
        return semi.join(parts) or cat.effect("decision", t)
    if kind == "write":
        parts = []
        if detail.get("priority") is not None:
            parts.append(line("set_priority", value=_priority(detail["priority"], cat)))
        if detail.get("group") is not None:
            parts.append(line("assign_group", value=cat.unit(str(detail["group"]))))
        if detail.get("owner") is not None:
            parts.append(line("assign_owner", value=detail["owner"]))
        for name, value in sorted((detail.get("fields") or {}).items()):
            parts.append(line("set_field", name=cat.field(name), value=cat.field_value(name, value)))
        if detail.get("add_tags"):
            parts.append(line("add_tags", value=tags(detail["add_tags"])))
        if detail.get("remove_tags"):
            parts.append(line("remove_tags", value=tags(detail["remove_tags"])))
        if detail.get("note"):
            parts.append(line("note"))
        return line("write", parts=semi.join(parts))
    if kind == "conflict":
        return line("conflict", what=detail.get("what"))
    if kind == "plugin_error":
        return line("plugin_error", hook=detail.get("hook"), error=detail.get("error"))
    if "text" in detail:
        return str(detail["text"])
    return ", ".join(f"{k}={v}" for k, v in sorted(detail.items()))


def _priority(value: Any, cat: Catalogue) -> str:
    """A priority by name (紧急), whether stored as its number or its name."""
    try:
        p = Priority(int(value)) if str(value).isdigit() else Priority[str(value)]
    except (KeyError, ValueError):
        return str(value)
    return cat.word("priority", p.name)


def _amount(d: Mapping[str, Any], cat: Catalogue) -> str:
    if d.get("amount") is not None:
        return cat.word("timeline", "yuan").format(amount=f"{d['amount']:g}")
    if d.get("amount_min") is not None or d.get("amount_max") is not None:
        return cat.word("timeline", "range").format(low=f"{d.get('amount_min') or 0:g}", high=f"{d.get('amount_max') or 0:g}")
    return ""


def _value(key: str, v: Any, cat: Catalogue) -> str:
    if key == "tier":
        return cat.tier(str(v))
    if key == "channel":
        return cat.channel(str(v))
    if key in ("valid", "invalid_proposed", "special"):
        return cat.yes_no(v == 1)
    if key == "units" and isinstance(v, list):
        return cat.units(v)
    if key == "tier_order" and isinstance(v, list):
        return " < ".join(cat.tier(str(t)) for t in v)
    if key == "extra" and isinstance(v, Mapping):
        return _extra(v, cat)
    if isinstance(v, list):
        return cat.join(str(x) for x in v)
    if isinstance(v, dict):
        return ("；" if cat.lang == "zh" else "; ").join(f"{k}={x}" for k, x in sorted(v.items()))
    return str(v)


#: what the facts plugin keeps of an agent's corrections (a labelled example, R-REC-4.15)
EXAMPLE_KEYS = ("fact_corrections", "fact_labels")


def _fact_value(fact: str, value: Any, cat: Catalogue) -> str:
    """A fact's value in a record's extras or corrections, by its label (mould -> 发霉…)."""
    if value is None or value is False and not fact.startswith("flag:"):
        return cat.word("major_record", "not_read")
    if fact.startswith("flag:"):
        return cat.yes_no(bool(value))
    if fact == "flags" and isinstance(value, list):
        return cat.join(cat.flag(str(f)) for f in value) or cat.unset()
    return cat.fact_value(fact, value)


def _fact_name(fact: str, cat: Catalogue) -> str:
    if fact.startswith("flag:"):
        return cat.flag(fact[5:])
    for context in ("fact", "major_record"):
        if i18n.has(context, fact):
            return cat.word(context, fact)
    return fact


def _extra(extra: Mapping[str, Any], cat: Catalogue) -> str:
    """A record's other facts: batch, loss, people ... by their names; the agent's corrections and
    the facts kept as a labelled example by their labels, never by kesu's keys."""
    semi = "；" if cat.lang == "zh" else "; "
    parts = []
    for k, v in sorted(extra.items()):
        if v in (None, "", [], {}):
            continue
        if k == "fact_corrections" and isinstance(v, Mapping):
            parts += [cat.word("major_record", "corrected").format(
                fact=_fact_name(str(fact), cat), agent=_fact_value(str(fact), c.get("agent"), cat),
                text=_fact_value(str(fact), c.get("text"), cat)) for fact, c in sorted(v.items()) if isinstance(c, Mapping)]
        elif k == "fact_labels" and isinstance(v, Mapping):
            shown = [f"{_fact_name(str(f), cat)}={_fact_value(str(f), x, cat)}" for f, x in sorted(v.items())
                     if x not in (None, "", [], False)]
            if shown:
                parts.append(f"{cat.word('major_record', 'fact_labels')}：" + cat.join(shown) if cat.lang == "zh"
                             else f"{cat.word('major_record', 'fact_labels')}: " + cat.join(shown))
        else:
            parts.append(f"{_fact_name(k, cat)}={_value(k, v, cat) if not isinstance(v, Mapping) else v}")
    return semi.join(parts) or cat.unset()


def _heading(key: str, context: str = "major_table") -> tuple[str, str]:
    """A heading in both languages (the report shows both), from kesu's catalogue."""
    return i18n.label(context, key, "zh"), i18n.label(context, key, "en")


def document(r: MajorReport) -> Document:
    cat = Catalogue(lang=r.language)
    record = Table("record", *_heading("record"), (Column("项目", 14), Column("内容", 50)),
                   tuple(cells(cat.word("major_record", k), r.shown.get(k) or _value(k, v, cat)) for k, v in r.record.items()))
    deadlines = Table("deadlines", *_heading("deadlines"), (
        Column("时限类型", 22), Column("规则", 18), Column("起算", 17), Column("时限", 17), Column("延期至", 17),
        Column("批准人", 12), Column("完成时间", 17), Column("状态", 10)),
        tuple(cells(d.label, d.rule_id, d.start, d.due, d.extended_to, d.approved_by, d.met_at, cat.word("deadline_status", d.status))
              for d in r.deadlines))
    escalations = Table("escalations", *_heading("escalations"), (
        Column("时间", 17), Column("规则", 14), Column("原因", 30), Column("原等级", 10), Column("新等级", 10)),
        tuple(cells(e.at, e.rule_id, e.reason, _tier(r, e.from_tier, cat), _tier(r, e.to_tier, cat)) for e in r.escalations))
    ledger_t = Table("ledger", *_heading("ledger"), (
        Column("编号", 6), Column("时间", 17), Column("规则", 16), Column("对象", 16), Column("类别", 8),
        Column("金额（元）", 12), Column("范围（元）", 14), Column("状态", 8), Column("决定人", 12),
        Column("关联", 6), Column("备注", 30)),
        tuple((Cell(e.id, "int"), Cell(e.at), Cell(e.rule_id), Cell(e.subject), Cell(cat.kind(e.kind)),
               Cell(e.amount, "yuan"), Cell(_range(e)), Cell(cat.status(e.status)),
               Cell(e.decided_by), Cell(e.refers_to, "int") if e.refers_to is not None else Cell(""), Cell(e.note))
              for e in r.ledger))
    timeline = Table("timeline", *_heading("timeline"), (
        Column("时间", 17), Column("类型", 10), Column("插件", 12), Column("规则", 18), Column("内容", 60)),
        tuple(cells(t.at, cat.effect(t.kind, None), t.plugin, t.rule_id, t.summary) for t in r.timeline))
    title = r.record.get("title") or r.ticket_key
    flag = "" if r.is_major else "（注意：该投诉未定为重大投诉）"
    return Document(
        title=f"{_heading('major', 'report_title')[0]} {r.ticket_key}",
        title_en=f"{_heading('major', 'report_title')[1]} {r.ticket_key}",
        subtitle=f"{title}{flag}；时区 {r.timezone}；依据 R-RPT-6.38.7",
        tables=(record, deadlines, escalations, ledger_t, timeline),
        file_stem=f"kesu-major-{r.ticket_key.replace(':', '-')}")


def _tier(r: MajorReport, key: str | None, cat: Catalogue) -> str:
    return r.shown.get(f"tier:{key}") or cat.tier(key or "")


def _range(e: LedgerRow) -> str:
    if e.amount_min is None and e.amount_max is None:
        return ""
    return f"{e.amount_min or 0:g}–{e.amount_max or 0:g}"
