"""The append-only ledger (R-PEN-*, R-REW-*): decisions are new rows; edits are refused."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from kesu.ledger import Ledger, LedgerError
from kesu.store import tickets as store
from kesu.store.tables import ledger

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


def propose(engine, **kw):
    row = {"created_at": T0, "ticket_key": "zammad:1", "rule_id": "R-PEN-6.40", "plugin": "penalties",
           "kind": "penalty", "subject": "张三", "amount": None, "amount_min": 1000.0, "amount_max": 5000.0,
           "status": "proposed", "note": None, **kw}
    with engine.begin() as conn:
        store.add_ledger(conn, [row])
    return Ledger(engine).entries()[-1]


def test_confirm_inside_the_range_appends_a_decision(engine):
    p = propose(engine)
    done = Ledger(engine).confirm(p.id, 2000, "王经理")
    assert (done.status, done.amount, done.refers_to, done.decided_by) == ("confirmed", 2000, p.id, "王经理")
    assert Ledger(engine).open_proposals() == []
    assert Ledger(engine).get(p.id).status == "proposed", "the proposal row itself is untouched"


@pytest.mark.parametrize("amount", [999.99, 5000.01, None])
def test_amount_outside_the_range_is_refused_with_a_clear_error(engine, amount):
    p = propose(engine)
    with pytest.raises(LedgerError) as err:
        Ledger(engine).confirm(p.id, amount, "王经理")
    assert "R-PEN-6.40" in str(err.value) and "1000" in str(err.value) and "5000" in str(err.value)
    assert len(Ledger(engine).entries()) == 1


def test_a_proposal_is_decided_once(engine):
    p = propose(engine)
    Ledger(engine).reject(p.id, "王经理", "证据不足")
    with pytest.raises(LedgerError, match="already rejected by 王经理"):
        Ledger(engine).confirm(p.id, 2000, "李总")
    with pytest.raises(LedgerError, match="must name the person"):
        Ledger(engine).reject(propose(engine).id, " ")


def test_correction_is_a_reversing_entry(engine):
    p = propose(engine, rule_id="R-PEN-5.6.2", amount=1000.0, amount_min=None, amount_max=None, status="confirmed")
    rev = Ledger(engine).reverse(p.id, "审计", "重复计罚")
    assert rev.status == "reversal" and rev.amount == -1000 and rev.refers_to == p.id
    with pytest.raises(LedgerError, match="already reversed"):
        Ledger(engine).reverse(p.id, "审计", "again")


def test_the_database_refuses_any_edit_or_delete(engine):
    p = propose(engine)
    for stmt in (update(ledger).where(ledger.c.id == p.id).values(amount=1),
                 delete(ledger).where(ledger.c.id == p.id)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(stmt)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE ledger CASCADE"))
    assert Ledger(engine).get(p.id).amount_min == 1000


def test_ledger_module_has_no_update_or_delete_path():
    import inspect

    import kesu.ledger

    source = inspect.getsource(kesu.ledger)
    assert "update(" not in source and "delete(" not in source
