"""The admin page in a real browser (headless Chromium): sign in with a token, confirm a ledger
proposal with an amount in its range, see it confirmed. Leaves ``test-artifacts/admin.png``."""

from __future__ import annotations

from sqlalchemy import select

from kesu.app import Services
from kesu.store.tables import ledger
from tests.browser.conftest import ARTIFACTS
from tests.test_admin_api import ALICE, admin_settings
from tests.test_report_fixture import insert_fixture


def test_sign_in_and_confirm_a_proposal(browser, served_kesu, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    services = Services.build(admin_settings(f"sqlite:///{tmp_path / 'kesu.db'}", tmp_path), load_entrypoints=False)
    ids = insert_fixture(services.engine)
    kesu = served_kesu(services)
    wait = WebDriverWait(browser, 15)

    browser.get(f"{kesu.url}/admin")
    assert browser.find_element(By.ID, "login-form").is_displayed()
    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.ID, "login").click()
    assert wait.until(ec.visibility_of_element_located((By.ID, "flash"))).text == "令牌无效。"
    browser.find_element(By.ID, "token").send_keys(ALICE)
    browser.find_element(By.ID, "login").click()
    assert wait.until(ec.visibility_of_element_located((By.ID, "who"))).text == "alice"
    cookie = browser.get_cookie("kesu_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    assert ALICE not in browser.execute_script("return document.cookie")  # out of scripts' reach

    pid = ids["p_open"]
    row = browser.find_element(By.ID, f"ledger-{pid}")
    assert "生产班组" in row.text and "1000–5000" in row.text
    amount = row.find_element(By.NAME, "amount")
    amount.send_keys("2500")
    row.find_element(By.ID, f"confirm-{pid}").click()

    message = wait.until(ec.visibility_of_element_located((By.ID, "flash"))).text
    assert message.startswith(f"已完成：确认 #{pid} → #") and message.endswith("(2500)")
    with services.engine.connect() as conn:
        decision = conn.execute(select(ledger).where(ledger.c.refers_to == pid)).mappings().one()
    assert (decision["status"], decision["amount"], decision["decided_by"]) == ("confirmed", 2500, "alice")
    assert not browser.find_elements(By.ID, f"ledger-{pid}")  # no longer waiting for a decision
    done = browser.find_element(By.ID, f"decision-{decision['id']}")
    assert done.get_attribute("data-status") == "confirmed"
    assert "已确认" in done.text and "2500" in done.text and "alice" in done.text
    assert browser.find_element(By.ID, "card-open_proposals").text.startswith("0")

    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, max(1000, int(height) + 160))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(ARTIFACTS / "admin.png"))
    assert (ARTIFACTS / "admin.png").stat().st_size > 10_000


def test_complaints_view_filter_search_and_a_ticket(browser, served_kesu, tmp_path):
    """The complaints list: filter by tier, search by the number agents see, open a ticket, read its
    decision trail with rule IDs, its ledger and the link to the helpdesk. Leaves
    ``test-artifacts/admin-complaints.png`` and ``admin-complaint.png``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from tests.test_admin_complaints import insert_complaints

    settings = admin_settings(f"sqlite:///{tmp_path / 'kesu.db'}", tmp_path)
    settings.helpdesk.url = "https://zammad.example.com"
    services = Services.build(settings, load_entrypoints=False)
    insert_complaints(services.engine)
    kesu = served_kesu(services)
    wait = WebDriverWait(browser, 15)

    browser.get(f"{kesu.url}/admin")
    browser.find_element(By.ID, "token").send_keys(ALICE)
    browser.find_element(By.ID, "login").click()
    wait.until(ec.visibility_of_element_located((By.ID, "nav-complaints"))).click()
    wait.until(ec.visibility_of_element_located((By.ID, "complaint-list")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#complaint-list tbody tr")
    assert [r.get_attribute("id") for r in rows][:2] == ["c-31002", "c-31001"]  # the most overdue first
    assert "整箱缺包" in rows[0].text and "channel_missing_packs" not in browser.page_source
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "admin-complaints.png"))

    Select(browser.find_element(By.ID, "f-tier")).select_by_visible_text("A类（重大）")
    browser.find_element(By.ID, "f-go").click()
    wait.until(ec.url_contains("tier=A"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#complaint-list tbody tr")
    assert [r.get_attribute("data-tier") for r in rows] == ["A", "A"]
    assert browser.find_element(By.ID, "found").text.startswith("共 2 条")

    browser.find_element(By.ID, "f-clear").click()
    wait.until(ec.visibility_of_element_located((By.ID, "f-q"))).send_keys("#31001")
    browser.find_element(By.ID, "f-go").click()
    wait.until(ec.url_contains("q="))
    rows = browser.find_elements(By.CSS_SELECTOR, "#complaint-list tbody tr")
    assert [r.get_attribute("id") for r in rows] == ["c-31001"]
    rows[0].find_element(By.CLASS_NAME, "open-ticket").click()

    assert wait.until(ec.visibility_of_element_located((By.ID, "ticket-number"))).text == "#31001"
    assert browser.find_element(By.ID, "cause").text == "产品发酸、发霉变质、发红"
    trail = browser.find_element(By.ID, "trail-table")
    assert "R-TIER-1.9.1-A" in trail.text and "R-ROUTE-1.10" in trail.text and "「豆腐发霉了」" in trail.text
    entries = browser.find_elements(By.CSS_SELECTOR, "#ticket-ledger tbody tr")
    assert [e.get_attribute("data-status") for e in entries] == ["proposed", "confirmed"]
    assert "R-PEN-6.40" in entries[0].text and "罚款" in entries[0].text and "1000–5000" in entries[0].text
    link = browser.find_element(By.ID, "helpdesk-link")
    assert link.get_attribute("href") == "https://zammad.example.com/#ticket/zoom/1"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, max(1000, int(height) + 160))
    browser.save_screenshot(str(ARTIFACTS / "admin-complaint.png"))
    browser.set_window_size(1280, 1000)

    # an unknown ticket: the message is on screen, in Chinese
    browser.get(f"{kesu.url}/admin/complaints/zammad:99")
    flash = wait.until(ec.visibility_of_element_located((By.ID, "flash")))
    assert flash.text == "kesu 没有工单 zammad:99 的客诉记录"
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", flash)
    assert 0 <= top < 1000
    # English is one click away and keeps the page
    browser.get(f"{kesu.url}/admin/complaints/31001")
    browser.find_element(By.ID, "lang").click()
    wait.until(ec.url_contains("lang=en"))
    assert browser.find_element(By.ID, "tier").text == "Class A (major)"
    assert (ARTIFACTS / "admin-complaint.png").stat().st_size > 10_000
