"""The admin page (/admin): token login into an HttpOnly SameSite=Strict cookie, CSRF-safe forms,
the same operations as the API, Chinese with English available."""

from __future__ import annotations

import re
from html import unescape

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
    assert flash(page).startswith(f"提议 #{pid} 已处理：已确认（alice，第 ")  # in the page's language
    page.post("/admin/do/ledger_confirm?lang=en", data={"csrf": csrf, "id": pid, "amount": "1200"})
    assert f"proposal {pid} was already confirmed by alice" in flash(page)


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
    assert flash(page) == "月报的期间应形如 2026-03，收到「2026/03」"
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


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_action_error_in_the_page_language(page, lang):
    """The dashboard's refusals (ledger, extensions, reports, plugins, the forms' numbers) are shown
    in the page's language: Chinese, English with ?lang=en."""
    csrf = login(page)
    confirmed = page.ids["p_open"]
    page.post("/admin/do/ledger_confirm", data={"csrf": csrf, "id": confirmed, "amount": "1200"})
    cases = [
        ("ledger_reverse", {"id": 999999}, "台账中没有第 999999 条记录", "no ledger entry 999999"),
        ("ledger_confirm", {"id": confirmed, "amount": "1200"}, f"提议 #{confirmed} 已处理：已确认（alice，",
         f"proposal {confirmed} was already confirmed by alice"),
        ("ledger_confirm", {"id": page.ids["p_open"], "amount": "many"}, "金额须为数字，收到「many」",
         "amount must be a number, got 'many'"),
        ("ledger_reject", {"id": "x1"}, "id 须为不超过 19 位的数字", "id must be a number of at most 19 digits"),
        ("ext_reject", {"ticket": "104", "reason": ""}, "驳回须填写原因", "a rejection needs a reason"),
        ("ext_approve", {"ticket": "104", "extended_to": "next week", "approved_by": "王总"},
         "延期时间须为日期（2026-03-10）或日期加时间（2026-03-10 12:00），收到「next week」",
         "extended_to must be a date (2026-03-10) or a date and time (2026-03-10 12:00), got 'next week'"),
        ("report_generate", {"kind": "weekly", "period": "2026-03"}, "未知的报表类型「weekly」", "unknown report kind 'weekly'"),
        ("report_generate", {"kind": "major", "period": "zammad:999"}, "kesu 没有工单 zammad:999 的客诉记录",
         "no complaint record for zammad:999"),
        ("plugin_disable", {"name": "zammad"}, "zammad 是必需插件，不能停用", "zammad is essential and cannot be disabled"),
        ("plugin_enable", {"name": "nope"}, "没有名为「nope」的插件", "no such plugin 'nope'"),
    ]
    for action, form, zh, en in cases:
        r = page.post(f"/admin/do/{action}?lang={lang}", data={"csrf": csrf, **form})
        assert r.status_code == 303, action
        shown = unescape(flash(page))
        expected = zh if lang == "zh" else en
        assert shown.startswith(expected) or expected in shown, (action, shown)
        if lang == "zh":
            assert not re.search(r"\b(must|needs|unknown|already|no such)\b", shown), (action, shown)
