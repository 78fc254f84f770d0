"""The admin page (/admin): token login into an HttpOnly SameSite=Strict cookie, CSRF-safe forms,
the same operations as the API, Chinese with English available."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kesu.admin.auth import session_value
from kesu.app import Services, create_app
from kesu.store.tables import ledger
from tests.test_admin_api import ALICE, BOB, admin_settings
from tests.test_report_fixture import insert_fixture


@pytest.fixture
def page(tmp_path):
    services = Services.build(admin_settings(f"sqlite:///{tmp_path / 'kesu.db'}", tmp_path), load_entrypoints=False)
    ids = insert_fixture(services.engine)
    client = TestClient(create_app(services, workers=False), follow_redirects=False)
    client.services, client.ids = services, ids  # type: ignore[attr-defined]
    yield client
    services.close()


def login(client: TestClient, token: str = ALICE) -> str:
    r = client.post("/admin/login", data={"token": token})
    assert r.status_code == 303 and r.headers["location"] == "/admin"
    html = client.get("/admin").text
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


def flash(client: TestClient) -> str:
    return re.search(r'id="flash">([^<]*)<', client.get("/admin").text).group(1)


def test_login_sets_an_httponly_strict_cookie(page):
    first = page.get("/admin")
    assert first.status_code == 200 and 'id="login-form"' in first.text and "管理令牌" in first.text
    assert "<script" not in first.text and "Content-Security-Policy" in first.headers
    bad = page.post("/admin/login", data={"token": "wrong"})
    assert bad.status_code == 401 and "令牌无效" in bad.text and "kesu_admin" not in bad.headers.get("set-cookie", "")
    ok = page.post("/admin/login", data={"token": ALICE})
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith(f"kesu_admin={session_value(ALICE)};") and ALICE not in cookie  # no raw token
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    dash = page.get("/admin").text
    assert 'id="who">alice<' in dash and 'id="ledger-' in dash
    assert page.post("/admin/logout").status_code == 303
    assert 'id="login-form"' in page.get("/admin").text


def test_confirm_a_proposal_from_the_page(page):
    csrf = login(page)
    pid = page.ids["p_open"]
    html = page.get("/admin").text
    assert f'id="ledger-{pid}"' in html and 'min="1000" max="5000"' in html
    r = page.post("/admin/do/ledger_confirm", data={"csrf": csrf, "id": pid, "amount": "1200"})
    assert r.status_code == 303 and r.headers["location"] == "/admin#ledger"
    assert flash(page).startswith("已完成：确认 #")
    with page.services.engine.connect() as conn:
        row = conn.execute(select(ledger).where(ledger.c.refers_to == pid)).mappings().one()
    assert (row["status"], row["amount"], row["decided_by"]) == ("confirmed", 1200, "alice")
    html = page.get("/admin").text
    assert f'id="ledger-{pid}"' not in html and f'id="decision-{row["id"]}" data-status="confirmed"' in html
    # Errors come back as a message, nothing is recorded.
    page.post("/admin/do/ledger_confirm", data={"csrf": csrf, "id": pid, "amount": "1200"})
    assert "already confirmed by alice" in flash(page)


def test_forms_without_the_form_token_or_from_another_site_are_refused(page):
    csrf = login(page)
    pid = page.ids["p_open"]
    page.post("/admin/do/ledger_reject", data={"id": pid})
    assert flash(page) == "表单已过期，请重试。"
    page.post("/admin/do/ledger_reject", data={"csrf": "0" * 64, "id": pid})
    page.post("/admin/do/ledger_reject", data={"csrf": csrf, "id": pid},
              headers={"Origin": "https://evil.example"})
    assert flash(page) == "表单已过期，请重试。"
    with page.services.engine.connect() as conn:
        assert conn.execute(select(ledger).where(ledger.c.refers_to == pid)).first() is None
    fresh = TestClient(page.app, follow_redirects=False)  # no cookie at all
    assert fresh.post("/admin/do/ledger_reject", data={"csrf": csrf, "id": pid}).status_code == 401


def test_a_read_only_token_sees_but_cannot_act(page):
    csrf = login(page, BOB)
    html = page.get("/admin").text
    assert "只读令牌" in html and f'id="confirm-{page.ids["p_open"]}" disabled' in html
    page.post("/admin/do/ledger_reject", data={"csrf": csrf, "id": page.ids["p_open"]})
    assert flash(page) == "只读令牌：只能查看，不能操作。"


def test_reports_plugins_and_inbox_from_the_page(page, tmp_path):
    csrf = login(page)
    page.post("/admin/do/report_generate", data={"csrf": csrf, "kind": "monthly", "period": "2026-03",
                                                 "formats": ["md", "xlsx"]})
    assert flash(page).startswith("已完成：生成 #")
    html = page.get("/admin").text
    link = re.search(r'href="(/admin/reports/\d+/md)"', html).group(1)
    assert 'href="/admin/reports/1/xlsx"' in html and "/admin/reports/1/json" not in html
    assert page.get(link).text.startswith("# 客诉统计月报 2026年3月")
    assert TestClient(page.app).get(link).status_code == 401
    page.post("/admin/do/report_generate", data={"csrf": csrf, "kind": "monthly", "period": "2026/03"})
    assert "monthly period must look like 2026-03" in flash(page)
    page.post("/admin/do/plugin_disable", data={"csrf": csrf, "name": "compensation"})
    assert flash(page) == "已完成：停用 compensation"
    assert 'disabled = ["compensation"]' in (tmp_path / "kesu.toml").read_text()
    assert 'id="plugin-compensation"' in page.get("/admin").text
    page.post("/admin/do/inbox_retry", data={"csrf": csrf, "all": "1"})
    assert flash(page) == "已完成：重试 0"


def test_english_is_one_click_away(page):
    login(page)
    en = page.get("/admin?lang=en")
    assert "Penalties and rewards" in en.text and "kesu complaint admin" in en.text
    assert "kesu_lang=en" in en.headers["set-cookie"]
    assert "Proposals to decide" in page.get("/admin").text  # remembered
    assert "待确认奖惩" in page.get("/admin?lang=zh").text
