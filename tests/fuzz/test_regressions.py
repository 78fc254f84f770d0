"""What the fuzzing found (issue 10), each kept fixed at its cause."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from connector.odoo.values import odoo_time
from tests.fuzz.conftest import ODOO_SECRET
from tests.test_admin_page import login


@pytest.mark.parametrize("write_date", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_odoo_write_date_outside_the_calendar_in_utc_is_a_422_about_it(odoo_client, write_date):
    """Before: OverflowError inside the connector, answered 422 by the intake's catch-all with a
    traceback in the log and no word of which field was wrong."""
    assert odoo_time(write_date) is None
    body = json.dumps({"_model": "helpdesk.ticket", "_id": 5, "write_date": write_date}).encode()
    r = odoo_client.post(f"/webhooks/odoo?token={ODOO_SECRET}", content=body)
    assert r.status_code == 422 and "write_date" in r.json()["error"], r.text


@pytest.mark.parametrize("action", ["ledger_confirm", "ledger_reject", "ledger_reverse"])
def test_a_ledger_form_without_an_id_is_refused_with_a_reason(admin_client, action):
    """Before: the page read ``form["id"]`` for its message before checking it: KeyError, 500."""
    csrf = login(admin_client)
    r = admin_client.post(f"/admin/do/{action}", data={"csrf": csrf, "note": "n"})
    assert r.status_code == 303, r.text
    flash = json.loads(unquote(r.cookies.get("kesu_flash")))
    assert flash["ok"] is False and "id" in flash["msg"]
