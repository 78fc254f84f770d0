"""A hand-made complaint month (2026-03, Asia/Shanghai) and the month before it, inserted straight
into the store. ``tests/test_report.py`` asserts every figure of the report, computed by hand."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, insert

from kesu.store.tables import audit_log, complaints, followups, ledger


def t(text: str) -> datetime:
    """An instant in UTC, e.g. ``t("2026-03-02 02:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def iso(text: str) -> str:
    return t(text).isoformat()


def _complaint(key: str, received: str, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ticket_key": key, "number": key.split(":")[1], "title": f"投诉 {key}", "customer": "c-" + key[-3:],
        "received_at": t(received), "scheme": "food", "tier": None, "cause": None, "category": None,
        "channel": None, "units": [], "valid": None, "invalid_proposed": None, "special": None,
        "escalations": [], "deadlines": {}, "resolved_at": None, "followup_outcome": None, "extra": {},
        "updated_at": t(received),
    }
    row.update(kw)
    return row


def deadline(due: str, met: str | None = None, **kw: Any) -> dict[str, Any]:
    return {"start": None, "due": iso(due), "met_at": iso(met) if met else None, "extended_to": None,
            "approved_by": None, "overdue": False, **kw}


COMPLAINTS = [
    # ---- March 2026 (local time) ----
    _complaint("zammad:101", "2026-03-02 02:00", tier="A", cause="发霉", category="质量", channel="consumer",
               units=["生产班组", "煮浆人员"], valid=1, resolved_at=t("2026-03-04 02:00"),
               deadlines={"R-SLA-6.18-major": deadline("2026-03-05 02:00", "2026-03-04 02:00"),
                          "R-SLA-6.36": deadline("2026-03-06 02:00", "2026-03-05 01:00")}),
    _complaint("zammad:102", "2026-03-10 03:00", tier="B", cause="漏包", category="包装", channel="consumer",
               units=["生产班组"], valid=1, resolved_at=t("2026-03-20 03:00"),
               deadlines={"R-SLA-6.18-general": deadline("2026-03-13 03:00", "2026-03-20 03:00", overdue=True)},
               escalations=[{"rule_id": "R-ESC-6.31", "reason": "超时未解释", "at": iso("2026-03-14 02:00"),
                             "from": "B", "to": "A"},
                            {"rule_id": "R-ESC-6.30", "reason": "回访不满意", "at": iso("2026-03-25 02:00"),
                             "from": "A", "to": "A"}],
               updated_at=t("2026-03-25 02:00")),
    _complaint("zammad:103", "2026-03-15 04:00", tier="C", cause="包装破损", category="包装", channel="channel",
               units=["营销部"], valid=0,
               deadlines={"R-SLA-6.18-general": deadline("2026-03-18 04:00")}),
    # 23:30 on 31 March in Shanghai: still March.
    _complaint("zammad:104", "2026-03-31 15:30", tier="A", cause="异物", category="质量", channel="consumer",
               units=["生产班组", "设施保障部"], special=1, invalid_proposed=0,
               deadlines={"R-SLA-6.18-major": deadline("2026-04-03 15:30"),
                          "R-SLA-6.18-resp": deadline("2026-03-31 15:35", "2026-03-31 15:33")},
               escalations=[{"rule_id": "R-ESC-6.31", "reason": "April", "at": iso("2026-04-01 01:00")}],
               updated_at=t("2026-04-01 01:00")),
    _complaint("zammad:105", "2026-03-20 05:00", invalid_proposed=1, resolved_at=t("2026-03-25 05:00")),
    _complaint("zammad:106", "2026-03-05 03:00", tier="B", cause="漏包", category="包装", channel="consumer",
               units=["生产班组"], valid=1, resolved_at=t("2026-03-08 05:00"),
               deadlines={"R-SLA-6.18-general": deadline("2026-03-08 03:00", "2026-03-08 05:00",
                                                         extended_to=iso("2026-03-12 03:00"),
                                                         approved_by="王副总")}),
    # 00:30 on 1 March in Shanghai (still 28 Feb in UTC): March.
    _complaint("zammad:092", "2026-02-28 16:30", tier="C", cause="色差", category="外观", channel="consumer",
               units=["生产班组"], valid=1),
    # 00:30 on 1 April in Shanghai: April, in neither month.
    _complaint("zammad:107", "2026-03-31 16:30", tier="A", cause="异物", category="质量", valid=1),
    # ---- February 2026 ----
    _complaint("zammad:090", "2026-02-20 02:00", tier="B", cause="漏包", category="包装", channel="consumer",
               units=["生产班组"], valid=1, resolved_at=t("2026-02-25 02:00"),
               escalations=[{"rule_id": "R-ESC-6.30", "reason": "重复投诉", "at": iso("2026-03-03 01:00"),
                             "from": "B", "to": "A"}],
               updated_at=t("2026-03-03 01:00")),
    _complaint("zammad:091", "2026-02-10 02:00", tier="A", cause="发霉", category="质量", channel="consumer",
               units=["生产班组"], valid=1, resolved_at=t("2026-02-12 02:00")),
    _complaint("zammad:093", "2026-02-28 15:30", tier="C", cause="色差", category="外观", channel="consumer",
               units=["生产班组"], valid=0),
]


def _followup(key: str, resolved: str, due: str, status: str, outcome: str | None,
              done: str | None = None) -> dict[str, Any]:
    return {"ticket_key": key, "rule_id": "R-CB-6.36", "resolved_at": t(resolved), "due_at": t(due),
            "status": status, "outcome": outcome, "attempts": 1, "created_at": t(resolved),
            "done_at": t(done) if done else None}


FOLLOWUPS = [
    _followup("zammad:101", "2026-03-04 02:00", "2026-03-06 02:00", "done", "satisfied", "2026-03-05 01:00"),
    _followup("zammad:102", "2026-03-20 03:00", "2026-03-22 03:00", "done", "dissatisfied", "2026-03-24 03:00"),
    _followup("zammad:106", "2026-03-08 05:00", "2026-03-10 05:00", "due", "unreachable"),
    _followup("zammad:090", "2026-02-25 02:00", "2026-02-27 02:00", "done", "satisfied", "2026-02-26 02:00"),
    _followup("zammad:091", "2026-02-12 02:00", "2026-02-14 02:00", "done", "satisfied", "2026-02-13 02:00"),
]


def _ledger(at: str, key: str, rule: str, subject: str, kind: str, status: str, amount: float | None = None,
            lo: float | None = None, hi: float | None = None, refers_to: int | None = None,
            by: str | None = None) -> dict[str, Any]:
    return {"created_at": t(at), "ticket_key": key, "rule_id": rule, "plugin": "penalties", "kind": kind,
            "subject": subject, "amount": amount, "amount_min": lo, "amount_max": hi, "status": status,
            "decided_by": by, "refers_to": refers_to, "note": None}


def insert_fixture(engine: Engine) -> dict[str, int]:
    """Insert everything; returns the ledger ids by name."""
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        conn.execute(insert(complaints), COMPLAINTS)
        conn.execute(insert(followups), FOLLOWUPS)

        def add(name: str, row: dict[str, Any]) -> int:
            ids[name] = conn.execute(insert(ledger).returning(ledger.c.id), row).scalar_one()
            return ids[name]

        add("feb", _ledger("2026-02-11 02:00", "zammad:091", "R-PEN-5.6.2", "生产班组", "penalty", "confirmed", 1000))
        add("fixed", _ledger("2026-03-02 02:00", "zammad:101", "R-PEN-5.6.2", "生产班组", "penalty", "confirmed", 1000))
        p = add("p_zhang", _ledger("2026-03-02 02:00", "zammad:101", "R-PEN-6.40", "张三", "penalty", "proposed",
                                   lo=1000, hi=5000))
        add("c_zhang", _ledger("2026-03-06 02:00", "zammad:101", "R-PEN-6.40", "张三", "penalty", "confirmed", 2000,
                               1000, 5000, refers_to=p, by="admin"))
        add("p_open", _ledger("2026-03-10 02:00", "zammad:102", "R-PEN-6.40", "生产班组", "penalty", "proposed",
                              lo=1000, hi=5000))
        p = add("p_li", _ledger("2026-03-12 02:00", "zammad:102", "R-REW-6.43", "李四", "reward", "proposed",
                                lo=100, hi=500))
        add("r_li", _ledger("2026-03-13 02:00", "zammad:102", "R-REW-6.43", "李四", "reward", "rejected",
                            refers_to=p, by="admin"))
        c = add("mkt", _ledger("2026-03-15 02:00", "zammad:101", "R-PEN-5.6.2", "营销部", "penalty", "confirmed", 1000))
        add("rev", _ledger("2026-03-20 02:00", "zammad:101", "R-PEN-5.6.2", "营销部", "penalty", "reversal", -1000,
                           refers_to=c, by="admin"))
        add("rew", _ledger("2026-03-28 02:00", "zammad:106", "R-REW-6.44", "李四", "reward", "confirmed", 300))
        p = add("p_wang", _ledger("2026-03-30 02:00", "zammad:104", "R-PEN-6.39", "王五", "penalty", "proposed",
                                  lo=500, hi=2000))
        add("c_wang", _ledger("2026-04-02 02:00", "zammad:104", "R-PEN-6.39", "王五", "penalty", "confirmed", 800,
                              500, 2000, refers_to=p, by="admin"))
        conn.execute(insert(audit_log), [
            {"at": t("2026-03-31 15:31"), "ticket_key": "zammad:104", "event_id": None, "kind": "decision",
             "plugin": "severity", "rule_id": "R-TIER-1.9.1-A",
             "detail": {"type": "set_priority", "priority": 4, "reason": "A类：异物", "rule_id": "R-TIER-1.9.1-A"}},
            {"at": t("2026-03-31 15:31"), "ticket_key": "zammad:104", "event_id": None, "kind": "write",
             "plugin": None, "rule_id": None, "detail": {"priority": 4, "add_tags": ["A类"], "note": "…"}},
        ])
    return ids
