"""Read-only views of kesu's records that policies may consult (passed as ``history``).

Policies stay free of I/O of their own: the host hands them this object, and every query here is
a read of kesu's own store (never the helpdesk).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, bindparam, func, select

from kesu.store.db import as_utc, transaction
from kesu.store.tables import complaints, ledger


# Built once: policies ask on every event (a ticket key is never "", so "" excludes none).
_COMPLAINTS_OF = (select(complaints)
                  .where(complaints.c.customer == bindparam("customer"),
                         complaints.c.received_at >= bindparam("since"),
                         complaints.c.ticket_key != bindparam("exclude"))
                  .order_by(complaints.c.received_at))


@dataclass(frozen=True)
class PastComplaint:
    ticket_key: str
    received_at: datetime | None
    tier: str | None
    cause: str | None
    units: list[str]
    resolved_at: datetime | None
    batch: str | None


class History:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def complaints_of(self, customer: str, *, since: datetime, exclude: str | None = None) -> list[PastComplaint]:
        """The customer's complaints received since ``since`` (oldest first); ``customer`` is
        :attr:`kesu.models.Ticket.customer_key` (helpdesk-qualified)."""
        with transaction(self.engine, read=True) as conn:
            rows = conn.execute(_COMPLAINTS_OF, {"customer": customer, "since": since,
                                                 "exclude": exclude or ""}).mappings().all()
        return [
            PastComplaint(r["ticket_key"], as_utc(r["received_at"]), r["tier"], r["cause"], list(r["units"] or []),
                          as_utc(r["resolved_at"]), (r["extra"] or {}).get("batch"))
            for r in rows
        ]

    def ledger_count(self, subject: str, rule_id: str, year: int) -> int:
        """Standing entries of ``rule_id`` against ``subject`` created in calendar ``year`` (UTC).

        Counts the policies' own entries (not the rows recording a person's decision on them),
        leaving out proposals a person rejected and entries a reversal corrected -- a fine
        reversed because the complaint was not valid after all does not count towards a yearly
        threshold (R-PEN-5.6.2-admon).
        """
        start = datetime(year, 1, 1, tzinfo=timezone.utc)
        end = datetime(year + 1, 1, 1, tzinfo=timezone.utc)
        decision = ledger.alias("decision")
        undone = select(decision.c.refers_to).where(decision.c.status.in_(("rejected", "reversal")),
                                                    decision.c.refers_to.is_not(None))
        confirmation = ledger.alias("confirmation")
        reversed_confirmations = select(confirmation.c.refers_to).where(
            confirmation.c.status == "confirmed", confirmation.c.refers_to.is_not(None),
            confirmation.c.id.in_(undone))
        q = select(func.count()).select_from(ledger).where(
            ledger.c.subject == subject, ledger.c.rule_id == rule_id,
            ledger.c.created_at >= start, ledger.c.created_at < end,
            ledger.c.status.in_(("proposed", "confirmed")), ledger.c.refers_to.is_(None),
            ledger.c.id.not_in(undone), ledger.c.id.not_in(reversed_confirmations),
        )
        with transaction(self.engine, read=True) as conn:
            return int(conn.execute(q).scalar_one())


class EmptyHistory(History):
    """For evaluating without a store (benchmarks, dry runs)."""

    def __init__(self) -> None:  # noqa: D107 -- no engine
        pass

    def complaints_of(self, customer: str, *, since: datetime, exclude: str | None = None) -> list[PastComplaint]:
        return []

    def ledger_count(self, subject: str, rule_id: str, year: int) -> int:
        return 0


