"""Record ids out of any column's range (issue 10, item 9): 404 or 422 with a reason, never 500.

A 20-digit id overflows SQLite's INTEGER and PostgreSQL's BIGINT; before the fix the report
download (API and page), the ledger actions and the inbox retry answered 500.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from kesu.app import Services, create_app
from tests.test_admin_api import RO, RW, admin_settings
from tests.test_admin_page import login

HUGE = [2**63, 10**30, 0, -1]


@pytest.fixture
def client(db_url, tmp_path):
    services = Services.build(admin_settings(db_url, tmp_path), load_entrypoints=False)
    with TestClient(create_app(services, workers=False), raise_server_exceptions=False,
                    follow_redirects=False) as c:
        yield c
    services.close()


@pytest.mark.parametrize("run_id", HUGE)
def test_report_download_with_an_out_of_range_id_is_404(client, run_id):
    r = client.get(f"/admin/api/reports/{run_id}/md", headers=RO)
    assert r.status_code in (404, 422), r.text
    login(client)
    r = client.get(f"/admin/reports/{run_id}/md")
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("entry_id", HUGE)
def test_ledger_actions_with_an_out_of_range_id_are_404(client, entry_id):
    for action, body in (("confirm", {"amount": 10}), ("reject", {}), ("reverse", {"note": "wrong"})):
        r = client.post(f"/admin/api/ledger/{entry_id}/{action}", json=body, headers=RW)
        assert r.status_code in (404, 422), (action, r.status_code, r.text)


def test_page_forms_with_an_out_of_range_id_are_refused_with_a_reason(client):
    csrf = login(client)
    for action in ("ledger_confirm", "ledger_reject", "ledger_reverse", "inbox_retry"):
        for bad in (str(10**30), "٣", "9" * 5000):
            r = client.post(f"/admin/do/{action}", data={"id": bad, "csrf": csrf, "note": "n", "amount": "1"})
            assert r.status_code == 303, (action, r.status_code, r.text)
            assert '"ok": false' in unquote(r.cookies.get("kesu_flash") or r.headers["set-cookie"]), action


def test_inbox_retry_with_an_out_of_range_id_is_not_a_500(client):
    r = client.post("/admin/api/inbox/retry", json={"ids": [2**63]}, headers=RW)
    assert r.status_code in (200, 404, 422), r.text
