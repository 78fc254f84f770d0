"""Secrets stay secret (issue 10, item 6): no password in ``kesu config show`` or the start-up
log, ``kesu.toml`` with an admin token readable by its owner only, a warning at start when the
webhook secret or the API token is missing, a switch that puts /metrics, /docs and /openapi.json
behind an admin token, and an admin cookie that holds no raw token and is Secure behind TLS.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from kesu.admin.config_file import add_admin_token, set_plugin_disabled
from kesu.app import Services, create_app
from kesu.cli import app as cli
from kesu.settings import AdminSettings, AdminToken, Settings, redact_url

PASSWORD = "pa55-w0rd-xyz"
TOKEN = "admin-token-0123456789abcdef"
runner = CliRunner()


def test_redact_url_hides_only_the_password():
    assert redact_url(f"postgresql+psycopg://kesu:{PASSWORD}@db:5432/kesu") == \
        "postgresql+psycopg://kesu:***@db:5432/kesu"
    assert redact_url("sqlite:///kesu.db") == "sqlite:///kesu.db"
    assert PASSWORD not in redact_url(f"postgres://u:{PASSWORD}@h/d")


def test_config_show_prints_no_password(tmp_path: Path):
    config = tmp_path / "kesu.toml"
    config.write_text(f'[store]\nurl = "postgresql://kesu:{PASSWORD}@127.0.0.1:1/kesu"\n'
                      f'[helpdesk]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    result = runner.invoke(cli, ["config", "show", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "127.0.0.1:1/kesu" in result.output
    assert PASSWORD not in result.output and TOKEN not in result.output


def test_kesu_toml_with_an_admin_token_is_owner_only(tmp_path: Path):
    path = tmp_path / "kesu.toml"
    path.write_text("[plugins]\ndisabled = []\n", encoding="utf-8")
    path.chmod(0o644)
    add_admin_token(path, "wang-li", ["read"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fresh = tmp_path / "new.toml"
    add_admin_token(fresh, "li", ["read"])
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    path.chmod(0o644)  # an edit keeps a file holding secrets private
    set_plugin_disabled(path, "severity", True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _settings(tmp_path: Path, **server) -> Settings:
    s = Settings()
    s.store.url = f"sqlite:///{tmp_path / 'kesu.db'}"
    s.helpdesk.url = "http://127.0.0.1:9"
    s.helpdesk.retries = 0
    s.helpdesk.timeout = 0.2
    s.admin = AdminSettings(tokens={"alice": AdminToken(token=SecretStr(TOKEN), scopes=["read", "write"])})
    for k, v in server.items():
        setattr(s.server, k, v)
    return s


def _start_once(settings, caplog) -> str:
    """Start the app once and return what it warned about."""
    services = Services.build(settings, load_entrypoints=False)
    try:
        with caplog.at_level(logging.WARNING, logger="kesu.app"):
            with TestClient(create_app(services, workers=False)):
                pass
    finally:
        services.close()
    return caplog.text


def test_start_warns_when_the_webhook_secret_or_api_token_is_missing(tmp_path, caplog):
    text = _start_once(_settings(tmp_path), caplog)
    assert "webhook_secret" in text and "token" in text


def test_no_warning_when_both_are_set(tmp_path, caplog):
    s = _settings(tmp_path)
    s.helpdesk.webhook_secret = SecretStr("x" * 20)
    s.helpdesk.token = SecretStr("y" * 20)
    assert "webhook_secret" not in _start_once(s, caplog)


@pytest.mark.parametrize("path", ["/metrics", "/docs", "/openapi.json", "/redoc"])
def test_protect_switch_puts_metrics_and_docs_behind_a_token(tmp_path, path):
    services = Services.build(_settings(tmp_path, protect_meta=True), load_entrypoints=False)
    try:
        with TestClient(create_app(services, workers=False)) as c:
            assert c.get(path).status_code == 401
            assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            assert c.get("/healthz").status_code == 200  # health stays open for probes
    finally:
        services.close()


def test_metrics_and_docs_stay_open_by_default(tmp_path):
    services = Services.build(_settings(tmp_path), load_entrypoints=False)
    try:
        with TestClient(create_app(services, workers=False)) as c:
            assert c.get("/metrics").status_code == 200 and c.get("/openapi.json").status_code == 200
    finally:
        services.close()


def test_admin_cookie_holds_no_raw_token_and_is_secure_behind_tls(tmp_path):
    services = Services.build(_settings(tmp_path), load_entrypoints=False)
    try:
        app = create_app(services, workers=False)
        with TestClient(app, follow_redirects=False) as c:
            r = c.post("/admin/login", data={"token": TOKEN})
            assert r.status_code == 303
            cookie = r.headers["set-cookie"]
            assert TOKEN not in cookie and "secure" not in cookie.lower()
            assert 'id="login-form"' not in c.get("/admin").text  # the session works
        with TestClient(app, base_url="https://kesu.example", follow_redirects=False) as c:
            r = c.post("/admin/login", data={"token": TOKEN})
            assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
        with TestClient(app, follow_redirects=False) as c:  # behind a TLS-terminating proxy
            r = c.post("/admin/login", data={"token": TOKEN}, headers={"X-Forwarded-Proto": "https"})
            assert "secure" in r.headers["set-cookie"].lower()
            c.cookies.set("kesu_admin", TOKEN, path="/admin")  # the raw token is no session
            assert 'id="login-form"' in c.get("/admin").text
    finally:
        services.close()


def test_login_from_another_site_is_refused(tmp_path):
    """Login CSRF: a page elsewhere must not sign the browser in (to someone else's token)."""
    services = Services.build(_settings(tmp_path), load_entrypoints=False)
    try:
        with TestClient(create_app(services, workers=False), follow_redirects=False) as c:
            r = c.post("/admin/login", data={"token": TOKEN}, headers={"Origin": "https://evil.example"})
            assert r.status_code == 403 and "kesu_admin" not in r.headers.get("set-cookie", "")
            r = c.post("/admin/login", data={"token": TOKEN}, headers={"Origin": "http://testserver"})
            assert r.status_code == 303 and "kesu_admin" in r.headers["set-cookie"]
    finally:
        services.close()
