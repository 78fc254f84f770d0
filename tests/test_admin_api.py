"""The admin API (/admin/api): bearer tokens with scopes, every operation, the OpenAPI schema."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import tomlkit
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import insert, select

from kesu.app import Services, create_app
from kesu.report import Period, build_report, render
from kesu.settings import AdminSettings, AdminToken, Settings
from kesu.store.db import utcnow
from kesu.store.inbox import NewEvent
from kesu.store.tables import followups, ledger
from tests.test_report_fixture import insert_fixture

ALICE, BOB = "alice-token-0123456789", "bob-token-0123456789"  # alice: read+write, bob: read
RW = {"Authorization": f"Bearer {ALICE}"}
RO = {"Authorization": f"Bearer {BOB}"}


def admin_settings(db_url: str, tmp_path: Path) -> Settings:
    s = Settings()
    s.store.url = db_url
    s.admin = AdminSettings(tokens={"alice": AdminToken(token=SecretStr(ALICE), scopes=["read", "write"]),
                                    "bob": AdminToken(token=SecretStr(BOB), scopes=["read"])})
    s.reports.directory = str(tmp_path / "reports")
    config = tmp_path / "kesu.toml"
    config.write_text("# my settings\n[plugins]\ndisabled = []  # keep this comment\n", encoding="utf-8")
    s.config_path = str(config)
    return s


@pytest.fixture
def api(db_url, tmp_path):
    services = Services.build(admin_settings(db_url, tmp_path), load_entrypoints=False)
    client = TestClient(create_app(services, workers=False))
    client.services = services  # type: ignore[attr-defined]
    yield client
    services.close()


def admin_routes(client):
    """Every admin API operation, as the OpenAPI schema lists them."""
    for path, item in client.get("/openapi.json").json()["paths"].items():
        if path.startswith("/admin/api"):
            for method in item:
                yield method.upper(), path


SAMPLE = {"name": "severity", "entry_id": "1", "ticket_key": "zammad:1", "run_id": "1", "fmt": "md", "ticket": "zammad:1"}


def test_every_route_needs_a_token_and_acting_needs_the_write_scope(api):
    routes = sorted(admin_routes(api))
    assert len(routes) == 18
    for method, path in routes:
        url = re.sub(r"{(\w+)}", lambda m: SAMPLE[m.group(1)], path)
        missing = api.request(method, url, json={})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer", (method, path)
        wrong = api.request(method, url, json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json() == {"detail": "invalid token"}, (method, path)
        if method == "POST":
            ro = api.request(method, url, json={}, headers=RO)
            assert ro.status_code == 403, (method, path)
            assert ro.json() == {"detail": "token 'bob' lacks the 'write' scope"}
    assert api.get("/admin/api/plugins", headers=RO).status_code == 200
    assert api.get("/admin/api/plugins", headers={"Authorization": f"Basic {ALICE}"}).status_code == 401


def test_no_configured_token_means_no_access(tmp_path):
    s = Settings()
    s.store.url = f"sqlite:///{tmp_path / 'kesu.db'}"
    s.admin = AdminSettings(tokens={"empty": AdminToken(token=SecretStr(""), scopes=["read"])})
    services = Services.build(s, load_entrypoints=False)
    try:
        client = TestClient(create_app(services, workers=False))
        assert client.get("/admin/api/plugins", headers={"Authorization": "Bearer "}).status_code == 401
        assert client.get("/admin/api/inbox").status_code == 401
    finally:
        services.close()


def test_openapi_documents_every_admin_operation(api):
    schema = api.get("/openapi.json").json()
    ops = [(m, p, op) for p, item in schema["paths"].items() if p.startswith("/admin/api") for m, op in item.items()]
    assert len(ops) == 18
    for method, path, op in ops:
        assert op.get("summary") and op["tags"] == ["admin"], (method, path)
        assert op["security"] == [{"HTTPBearer": []}], (method, path)
        assert {"401", "403"} <= set(op["responses"]), (method, path)
        ok = op["responses"].get("200") or op["responses"]["201"]
        if not path.endswith("{fmt}"):
            assert "$ref" in str(ok["content"]["application/json"]["schema"]), (method, path)
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "/admin" not in schema["paths"]  # the page is not part of the API


def test_plugins_list_enable_disable(api, tmp_path):
    listed = {p["name"]: p for p in api.get("/admin/api/plugins", headers=RO).json()}
    assert listed["severity"]["running"] and listed["severity"]["enabled_in_config"]
    assert listed["zammad"]["essential"] and "kesu_evaluate" in listed["severity"]["hooks"]
    r = api.post("/admin/api/plugins/severity/disable", headers=RW)
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["running"], body["enabled_in_config"], body["restart_required"]) == (
        "severity", True, False, True)
    text = (tmp_path / "kesu.toml").read_text(encoding="utf-8")
    assert tomlkit.parse(text)["plugins"]["disabled"] == ["severity"] and "# keep this comment" in text
    assert api.post("/admin/api/plugins/severity/enable", headers=RW).json()["enabled_in_config"] is True
    assert tomlkit.parse((tmp_path / "kesu.toml").read_text())["plugins"]["disabled"] == []
    assert api.post("/admin/api/plugins/zammad/disable", headers=RW).status_code == 409
    missing = api.post("/admin/api/plugins/nope/disable", headers=RW)
    assert missing.status_code == 404 and "no such plugin 'nope'" in missing.json()["detail"]


def test_ledger_list_confirm_reject_reverse(api):
    ids = insert_fixture(api.services.engine)
    open_ = api.get("/admin/api/ledger", params={"open": "true"}, headers=RO).json()
    assert [e["id"] for e in open_] == [ids["p_open"]]
    assert open_[0]["open"] and (open_[0]["amount_min"], open_[0]["amount_max"]) == (1000, 5000)
    url = f"/admin/api/ledger/{ids['p_open']}"
    out = api.post(f"{url}/confirm", json={"amount": 9000}, headers=RW)
    assert out.status_code == 409 and "outside 1000–5000" in out.json()["detail"]
    assert api.post(f"{url}/confirm", json={}, headers=RW).status_code == 409  # a range needs an amount
    ok = api.post(f"{url}/confirm", json={"amount": 1500, "note": "会议决定"}, headers=RW)
    assert ok.status_code == 200
    c = ok.json()
    assert (c["status"], c["amount"], c["decided_by"], c["refers_to"], c["note"]) == (
        "confirmed", 1500, "alice", ids["p_open"], "会议决定")
    again = api.post(f"{url}/confirm", json={"amount": 1500}, headers=RW)
    assert again.status_code == 409 and "already confirmed by alice" in again.json()["detail"]
    assert api.get("/admin/api/ledger", params={"open": "true"}, headers=RO).json() == []
    # reverse the confirmation
    rev = api.post(f"/admin/api/ledger/{c['id']}/reverse", json={"note": "复核撤销"}, headers=RW)
    assert rev.status_code == 200 and (rev.json()["status"], rev.json()["amount"]) == ("reversal", -1500)
    assert api.post(f"/admin/api/ledger/{c['id']}/reverse", json={"note": "x"}, headers=RW).status_code == 409
    assert api.post(f"/admin/api/ledger/{c['id']}/reverse", json={"note": ""}, headers=RW).status_code == 422
    listed = {e["id"]: e for e in api.get("/admin/api/ledger", headers=RO).json()}
    assert listed[c["id"]]["reversed"] and not listed[ids["p_open"]]["open"]
    # reject a new proposal
    with api.services.engine.begin() as conn:
        pid = conn.execute(insert(ledger).returning(ledger.c.id), {
            "created_at": utcnow(), "ticket_key": "zammad:103", "rule_id": "R-REW-6.43", "plugin": "penalties",
            "kind": "reward", "subject": "赵六", "amount_min": 100, "amount_max": 500, "status": "proposed"}).scalar()
    rej = api.post(f"/admin/api/ledger/{pid}/reject", json={"note": "不符合条件"}, headers=RW)
    assert rej.status_code == 200 and (rej.json()["status"], rej.json()["decided_by"]) == ("rejected", "alice")
    assert api.post(f"/admin/api/ledger/{pid}/confirm", json={"amount": 200}, headers=RW).status_code == 409
    assert api.post("/admin/api/ledger/99999/confirm", json={}, headers=RW).status_code == 404
    assert [e["status"] for e in api.get("/admin/api/ledger", params={"ticket": "zammad:103"}, headers=RO).json()] == [
        "rejected", "proposed"]


def test_followups_due_and_overdue(api):
    now = utcnow()
    with api.services.engine.begin() as conn:
        conn.execute(insert(followups), [
            {"ticket_key": "zammad:1", "rule_id": "R-CB-6.36", "resolved_at": now - timedelta(days=3),
             "due_at": now - timedelta(days=1), "status": "due", "attempts": 1, "created_at": now},
            {"ticket_key": "zammad:2", "rule_id": "R-CB-6.36", "resolved_at": now,
             "due_at": now + timedelta(days=2), "status": "due", "attempts": 0, "created_at": now},
            {"ticket_key": "zammad:3", "rule_id": "R-CB-6.36", "resolved_at": now, "due_at": now,
             "status": "done", "outcome": "satisfied", "attempts": 1, "created_at": now},
        ])
    assert [f["ticket_key"] for f in api.get("/admin/api/followups", headers=RO).json()] == ["zammad:2"]
    overdue = api.get("/admin/api/followups", params={"which": "overdue"}, headers=RO).json()
    assert [(f["ticket_key"], f["attempts"]) for f in overdue] == [("zammad:1", 1)]


def test_inbox_depth_dead_letters_and_retry(api):
    inbox = api.services.inbox
    ids = [inbox.add(NewEvent(helpdesk="zammad", ticket_id=str(i), kind="updated", source="webhook",
                              received_at=utcnow(), delivery_id=f"d{i}")) for i in (1, 2, 3)]
    inbox.dead(ids[:2], "ticket not found: 404", utcnow())
    got = api.get("/admin/api/inbox", headers=RO).json()
    assert got["depth"]["dead"] == 2 and got["depth"]["pending"] == 1
    assert sorted((e["id"], e["last_error"]) for e in got["dead"]) == [(ids[0], "ticket not found: 404"),
                                                                  (ids[1], "ticket not found: 404")]
    assert api.post("/admin/api/inbox/retry", json={}, headers=RW).status_code == 422
    assert api.post("/admin/api/inbox/retry", json={"ids": [ids[0]]}, headers=RW).json() == {"queued": 1}
    assert api.post("/admin/api/inbox/retry", json={"all": True}, headers=RW).json() == {"queued": 1}
    assert api.get("/admin/api/inbox", headers=RO).json()["depth"].get("dead", 0) == 0


def test_reports_generate_list_and_download(api, tmp_path):
    insert_fixture(api.services.engine)
    made = api.post("/admin/api/reports", json={"kind": "monthly", "period": "2026-03"}, headers=RW)
    assert made.status_code == 201
    run = made.json()
    assert (run["kind"], run["period"], run["trigger"], run["status"], run["requested_by"]) == (
        "monthly", "2026-03", "admin", "done", "alice")
    assert run["formats"] == ["xlsx", "html", "md", "json"]
    assert (tmp_path / "reports" / "on-demand" / "kesu-monthly-2026-03.xlsx").is_file()
    expected = render(build_report(api.services.engine, Period.parse("monthly", "2026-03")), "xlsx")
    got = api.get(run["downloads"]["xlsx"], headers=RO)
    assert got.status_code == 200 and got.content == expected
    assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="kesu-monthly-2026-03.xlsx"' in got.headers["content-disposition"]
    md = api.get(f"/admin/api/reports/{run['id']}/md", headers=RO)
    assert md.text.startswith("# 客诉统计月报 2026年3月")
    major = api.post("/admin/api/reports", json={"kind": "major", "period": "104", "formats": ["md"]}, headers=RW)
    assert major.status_code == 201 and major.json()["period"] == "zammad:104" and major.json()["formats"] == ["md"]
    assert [r["period"] for r in api.get("/admin/api/reports", headers=RO).json()] == ["zammad:104", "2026-03"]
    bad = api.post("/admin/api/reports", json={"kind": "monthly", "period": "March"}, headers=RW)
    assert bad.status_code == 422 and "2026-03" in bad.json()["detail"]
    assert api.post("/admin/api/reports", json={"kind": "major", "period": "zammad:999"}, headers=RW).status_code == 404
    assert api.get(f"/admin/api/reports/{major.json()['id']}/xlsx", headers=RO).status_code == 404
    assert api.get("/admin/api/reports/999/md", headers=RO).status_code == 404
    assert api.get(f"/admin/api/reports/{run['id']}/pdf", headers=RO).status_code == 422


def test_extension_routes_answer_409_without_the_deadlines_plugin(db_url, tmp_path):
    s = admin_settings(db_url, tmp_path)
    s.plugins.disabled = ["deadlines"]
    services = Services.build(s, load_entrypoints=False)
    try:
        client = TestClient(create_app(services, workers=False))
        r = client.post("/admin/api/extensions/zammad:1/approve",
                        json={"extended_to": "2026-03-10", "approved_by": "李副总裁"}, headers=RW)
        assert r.status_code == 409 and "deadlines plugin is not enabled" in r.json()["detail"]
        assert client.get("/admin/api/extensions", headers=RO).json() == []
    finally:
        services.close()
    with services.engine.connect() as conn:
        assert conn.execute(select(ledger)).first() is None
