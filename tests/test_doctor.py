"""``kesu doctor`` against the sandbox Zammad and Odoo (issue 11, item 2): it passes once kesu's
setup has run, and names what is wrong -- a refused token, a missing webhook or trigger, missing
fields, a bot login that is not the token's -- one line per check, with a non-zero exit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.odoo.sandbox.testing import make_sandbox, odoo17  # noqa: F401  (fixtures)
from connector.zammad.sandbox import SandboxZammad
from kesu.cli import app as cli
from kesu.doctor import preflight
from kesu.errors import CheckFailed
from kesu.settings import load_settings

runner = CliRunner()
SECRET = "doctor-secret-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("KESU_"):
            monkeypatch.delenv(name)


@pytest.fixture
def zammad() -> Iterator[SandboxZammad]:
    with SandboxZammad(retry_scale=0.005) as z:
        yield z


def zammad_config(tmp_path: Path, z: SandboxZammad, monkeypatch, *, bot_login: str | None = None) -> Path:
    path = tmp_path / "kesu.toml"
    path.write_text(
        f'[helpdesk]\nurl = "{z.url}"\nbot_login = "{bot_login or z.bot_login}"\n'
        'webhook_base_url = "http://127.0.0.1:8099"\nretries = 0\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "kesu.db"}"\n', encoding="utf-8")
    monkeypatch.setenv("KESU_HELPDESK__TOKEN", z.token_for(z.bot_login))
    monkeypatch.setenv("KESU_HELPDESK__WEBHOOK_SECRET", SECRET)
    return path


def doctor(config: Path, *extra: str) -> tuple[int, dict[str, str]]:
    """Exit code and ``{check text: symbol}``; asserts the output is one line per check."""
    result = runner.invoke(cli, ["doctor", "-c", str(config), *extra])
    assert "Traceback" not in result.output and result.stderr == "", result.output
    lines = result.stdout.strip().splitlines()
    checks = lines[:-1]
    assert checks and all(line[:2] in ("✓ ", "✗ ", "! ", "– ") for line in checks), result.stdout
    return result.exit_code, {line[2:]: line[0] for line in checks}


def failed(checks: dict[str, str]) -> list[str]:
    return [text for text, symbol in checks.items() if symbol == "✗"]


def test_zammad_before_and_after_setup(tmp_path, zammad, monkeypatch):
    config = zammad_config(tmp_path, zammad, monkeypatch)
    code, checks = doctor(config)
    assert code == 1
    bad = failed(checks)
    assert "Zammad 中没有名为 kesu 的 webhook → 运行 kesu zammad setup" in bad
    assert "Zammad 中没有名为 kesu 的触发器 → 运行 kesu zammad setup" in bad
    assert any(t.startswith("服务台缺少 kesu 备注要求填写的字段：工单字段 complaint_cause") for t in bad)
    assert len(bad) == 3, bad
    assert runner.invoke(cli, ["db", "upgrade", "-c", str(config)]).exit_code == 0
    setup = runner.invoke(cli, ["zammad", "setup", "-c", str(config)])
    assert setup.exit_code == 0, setup.output
    code, checks = doctor(config)
    assert code == 0 and failed(checks) == [], checks
    assert checks["webhook kesu 指向 http://127.0.0.1:8099/webhooks/zammad"] == "✓"
    assert checks["触发器 kesu 已启用，排除机器人自己的修改"] == "✓"
    assert any(t.startswith("kesu 用到的") and t.endswith("个工单字段都存在") for t in checks)
    assert any(t.startswith("数据库结构为最新版本") for t in checks)
    # the same in English, and under its other name
    result = runner.invoke(cli, ["config", "check", "-c", str(config), "--lang", "en"])
    assert result.exit_code == 0 and "✓ trigger kesu active, excluding the bot's own changes" in result.stdout


def test_zammad_refused_token_and_missing_webhook(tmp_path, zammad, monkeypatch):
    config = zammad_config(tmp_path, zammad, monkeypatch)
    assert runner.invoke(cli, ["zammad", "setup", "-c", str(config)]).exit_code == 0
    monkeypatch.setenv("KESU_HELPDESK__TOKEN", "wrong-token")
    code, checks = doctor(config)
    assert code == 1
    (bad,) = failed(checks)
    assert bad.startswith("服务台拒绝了 API 令牌") and "401" in bad and "wrong-token" not in bad
    monkeypatch.setenv("KESU_HELPDESK__TOKEN", zammad.token_for(zammad.bot_login))
    admin = zammad.state.find_user("admin@example.com")
    zammad.state.update_webhook(admin, 1, {"active": False})  # someone switched it off
    code, checks = doctor(config)
    assert code == 1 and failed(checks) == ["webhook kesu 未启用 → 运行 kesu zammad setup"]
    zammad.state.delete_trigger(admin, 1)  # ... and then removed both
    zammad.state.delete_webhook(admin, 1)
    code, checks = doctor(config)
    assert code == 1 and failed(checks) == ["Zammad 中没有名为 kesu 的 webhook → 运行 kesu zammad setup",
                                            "Zammad 中没有名为 kesu 的触发器 → 运行 kesu zammad setup"]


def test_zammad_bot_login_must_be_the_tokens_user(tmp_path, zammad, monkeypatch):
    config = zammad_config(tmp_path, zammad, monkeypatch, bot_login="someone@example.com")
    code, checks = doctor(config)
    assert code == 1
    assert any(t.startswith(f"令牌属于 {zammad.bot_login}，但 [helpdesk] bot_login 是 someone@example.com")
               for t in failed(checks))


def test_start_up_checks_stop_on_a_refused_token_and_only_warn_about_setup(tmp_path, zammad, monkeypatch):
    config = zammad_config(tmp_path, zammad, monkeypatch)
    warned: list[str] = []
    preflight(load_settings(config), "zh", warn=warned.append)  # no webhook yet: kesu still starts
    assert "✗ Zammad 中没有名为 kesu 的 webhook → 运行 kesu zammad setup" in warned
    monkeypatch.setenv("KESU_HELPDESK__TOKEN", "wrong-token")
    warned.clear()
    with pytest.raises(CheckFailed) as refused:
        preflight(load_settings(config), "zh", warn=warned.append)
    assert "401" in refused.value.line("zh") and warned == []  # only the reason it stops


def odoo_config(tmp_path: Path, odoo, monkeypatch) -> Path:
    path = tmp_path / "kesu.toml"
    path.write_text(
        f'[helpdesk]\nkind = "odoo"\nname = "odoo"\nurl = "{odoo.url}"\nbot_login = "{odoo.bot_login}"\n'
        'webhook_base_url = "http://127.0.0.1:8099"\nretries = 0\n'
        f'[helpdesk.options]\ndatabase = "{odoo.database}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "kesu.db"}"\n', encoding="utf-8")
    monkeypatch.setenv("KESU_HELPDESK__TOKEN", odoo.api_key_for(odoo.bot_login))
    monkeypatch.setenv("KESU_HELPDESK__WEBHOOK_SECRET", SECRET)
    return path


def test_odoo_before_and_after_setup_and_a_refused_key(tmp_path, odoo17, monkeypatch):
    config = odoo_config(tmp_path, odoo17, monkeypatch)
    code, checks = doctor(config)
    assert code == 1
    bad = failed(checks)
    assert any(t.startswith("Odoo 中没有向 http://127.0.0.1:8099/webhooks/odoo 发送的自动化规则") for t in bad), bad
    assert any(t.startswith("服务台缺少 kesu 备注要求填写的字段") for t in bad), bad
    setup = runner.invoke(cli, ["odoo", "setup", "-c", str(config), "--admin-key", odoo17.api_key_for("admin"),
                                "--admin-login", "admin"])
    assert setup.exit_code == 0, setup.output
    assert runner.invoke(cli, ["db", "upgrade", "-c", str(config)]).exit_code == 0
    code, checks = doctor(config)
    assert code == 0 and failed(checks) == [], checks
    assert any(t.startswith("自动化规则 #") and t.endswith("向 http://127.0.0.1:8099/webhooks/odoo 发送 webhook")
               for t in checks)
    monkeypatch.setenv("KESU_HELPDESK__WEBHOOK_SECRET", "another-secret")
    code, checks = doctor(config)
    assert code == 1 and any("webhook_secret 不同" in t for t in failed(checks))
    monkeypatch.setenv("KESU_HELPDESK__TOKEN", "wrong-key")
    code, checks = doctor(config)
    assert code == 1
    (bad,) = failed(checks)
    assert bad.startswith("服务台拒绝了 API 令牌") and "wrong-key" not in bad
