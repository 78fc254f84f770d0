"""The penalty/reward ledger (罚则, 奖惩): append-only.

Policies propose entries (``LedgerEntry`` effects); fixed amounts are written ``confirmed``,
ranges ``proposed``. A person decides a proposal by adding a row that refers to it: ``confirmed``
with an amount inside the range, or ``rejected``. A correction is a ``reversal`` row with the
negated amount. Nothing is ever updated or deleted -- the database refuses it (migration 0002).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from kesu.i18n import Ref, Said
from kesu.store.db import utcnow
from kesu.store.tables import ledger


class LedgerError(Said, ValueError):
    """A decision the ledger refuses; the message says why."""


@dataclass(frozen=True)
class Entry:
    id: int
    created_at: datetime
    ticket_key: str
    rule_id: str
    kind: str
    subject: str
    amount: float | None
    amount_min: float | None
    amount_max: float | None
    status: str
    decided_by: str | None
    refers_to: int | None
    note: str | None


def _entry(row: Any) -> Entry:
    return Entry(row.id, row.created_at, row.ticket_key, row.rule_id, row.kind, row.subject, row.amount,
                 row.amount_min, row.amount_max, row.status, row.decided_by, row.refers_to, row.note)


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def entries(self, *, status: str | None = None, subject: str | None = None,
                ticket_key: str | None = None, limit: int = 200) -> list[Entry]:
        q = select(ledger).order_by(ledger.c.id).limit(limit)
        if status:
            q = q.where(ledger.c.status == status)
        if subject:
            q = q.where(ledger.c.subject == subject)
        if ticket_key:
            q = q.where(ledger.c.ticket_key == ticket_key)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q)]

    def get(self, entry_id: int) -> Entry:
        with self.engine.connect() as conn:
            row = conn.execute(select(ledger).where(ledger.c.id == entry_id)).first()
        if row is None:
            raise LedgerError.said("no_entry", id=entry_id)
        return _entry(row)

    def open_proposals(self) -> list[Entry]:
        """Proposals nobody has confirmed or rejected yet."""
        decided = select(ledger.c.refers_to).where(ledger.c.status.in_(("confirmed", "rejected")),
                                                  ledger.c.refers_to.is_not(None))
        q = select(ledger).where(ledger.c.status == "proposed", ledger.c.id.not_in(decided)).order_by(ledger.c.id)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q)]

    def _decision_of(self, conn: Any, entry_id: int) -> Any:
        return conn.execute(select(ledger).where(ledger.c.refers_to == entry_id,
                                                 ledger.c.status.in_(("confirmed", "rejected")))).first()

    def confirm(self, proposal_id: int, amount: float | None, decided_by: str, note: str = "") -> Entry:
        """Confirm a proposal; a range needs an ``amount`` inside it."""
        if not decided_by.strip():
            raise LedgerError.said("confirm_who")
        with self.engine.begin() as conn:
            p = self._proposal(conn, proposal_id)
            if p.amount_min is not None or p.amount_max is not None:
                if amount is None:
                    raise LedgerError.said("needs_amount", id=proposal_id, rule=p.rule_id,
                                           low=f"{p.amount_min:g}", high=f"{p.amount_max:g}")
                if not (p.amount_min or 0) <= amount <= (p.amount_max if p.amount_max is not None else amount):
                    raise LedgerError.said("amount_outside", amount=f"{amount:g}", low=f"{p.amount_min:g}",
                                           high=f"{p.amount_max:g}", rule=p.rule_id)
            elif amount is not None and p.amount is not None and amount != p.amount:
                raise LedgerError.said("amount_fixed", rule=p.rule_id, amount=f"{p.amount:g}")
            return self._append(conn, p, status="confirmed", amount=amount if amount is not None else p.amount,
                                decided_by=decided_by, note=note)

    def reject(self, proposal_id: int, decided_by: str, note: str = "") -> Entry:
        if not decided_by.strip():
            raise LedgerError.said("reject_who")
        with self.engine.begin() as conn:
            p = self._proposal(conn, proposal_id)
            return self._append(conn, p, status="rejected", amount=None, decided_by=decided_by, note=note)

    def reverse(self, entry_id: int, decided_by: str, note: str) -> Entry:
        """Correct a confirmed entry with a reversing entry (negated amount)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(ledger).where(ledger.c.id == entry_id)).first()
            if row is None:
                raise LedgerError.said("no_entry", id=entry_id)
            e = _entry(row)
            if e.status != "confirmed":
                raise LedgerError.said("not_confirmed", id=entry_id, status=Ref("ledger_status", e.status))
            if conn.execute(select(ledger.c.id).where(ledger.c.refers_to == entry_id,
                                                      ledger.c.status == "reversal")).first():
                raise LedgerError.said("already_reversed", id=entry_id)
            return self._append(conn, e, status="reversal", amount=-(e.amount or 0), decided_by=decided_by, note=note)

    def _proposal(self, conn: Any, proposal_id: int) -> Entry:
        row = conn.execute(select(ledger).where(ledger.c.id == proposal_id)).first()
        if row is None:
            raise LedgerError.said("no_entry", id=proposal_id)
        p = _entry(row)
        if p.status != "proposed":
            raise LedgerError.said("not_proposal", id=proposal_id, status=Ref("ledger_status", p.status))
        decided = self._decision_of(conn, proposal_id)
        if decided is not None:
            raise LedgerError.said("already_decided", id=proposal_id, status=Ref("ledger_status", decided.status),
                                   who=decided.decided_by, entry=decided.id)
        return p

    @staticmethod
    def _append(conn: Any, base: Entry, *, status: str, amount: float | None, decided_by: str, note: str) -> Entry:
        row = conn.execute(
            insert(ledger).returning(*ledger.c),
            {"created_at": utcnow(), "ticket_key": base.ticket_key, "rule_id": base.rule_id, "plugin": "admin",
             "kind": base.kind, "subject": base.subject, "amount": amount, "amount_min": base.amount_min,
             "amount_max": base.amount_max, "status": status, "decided_by": decided_by, "refers_to": base.id,
             "note": note or None},
        ).first()
        return _entry(row)
