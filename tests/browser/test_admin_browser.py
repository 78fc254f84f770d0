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
