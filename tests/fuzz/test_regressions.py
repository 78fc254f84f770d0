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


XLSX_PROBE = """
import sys
from kesu.report import runs
from kesu.settings import ReportSettings
from kesu.store.db import make_engine, migrate

engine = make_engine(sys.argv[1])
migrate(engine)
runs.xlsx_in_child = sys.argv[3] == "child"
run = runs.produce(engine, ReportSettings(directory=sys.argv[2]), "monthly", "2026-03", trigger="admin",
                   formats=["xlsx", "md"])
print(run.files["xlsx"])
print("openpyxl" in sys.modules)
"""


@pytest.mark.parametrize("where", ["child", "here"])
def test_a_long_running_process_renders_xlsx_in_a_child_process(tmp_path, where):
    """Before: the first report imported openpyxl into ``kesu serve`` for good (+15-18 MiB), which
    took the server over 150 MB during the fuzzing run. ``kesu serve`` and ``kesu worker`` now
    render XLSX in a short-lived child; a one-shot process (``here``) still renders in place."""
    import subprocess
    import sys

    from openpyxl import load_workbook

    out = subprocess.run([sys.executable, "-c", XLSX_PROBE, f"sqlite:///{tmp_path / 'k.db'}", str(tmp_path / "r"),
                          where], capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    path, imported = out.stdout.split()
    assert imported == ("False" if where == "child" else "True")
    assert load_workbook(path).sheetnames  # a real workbook either way


def test_the_complaints_list_with_units_answers_on_both_stores(admin_client):
    """Before: ``SELECT DISTINCT complaints.units`` -- PostgreSQL has no equality for ``json``, so
    ``GET /admin/api/complaints`` answered 500 there as soon as one complaint had units."""
    from sqlalchemy import insert

    from kesu.store.db import utcnow
    from kesu.store.tables import complaints
    from tests.test_admin_api import RO

    with admin_client.services.engine.begin() as conn:
        for n, units in enumerate([["质量部"], ["质量部", "客服部"], ["质量部"]]):
            conn.execute(insert(complaints).values(ticket_key=f"zammad:{n + 1}", number=str(1000 + n), title="豆腐发霉",
                                                   tier="B", units=units, received_at=utcnow(), updated_at=utcnow()))
    r = admin_client.get("/admin/api/complaints", headers=RO)
    assert r.status_code == 200, r.text
    r = admin_client.get("/admin/api/complaints", params={"unit": "客服部"}, headers=RO)
    assert r.status_code == 200, r.text
