"""Every expected failure is one line on stderr and a non-zero exit, never a traceback (issue 11,
item 2): bad configuration, bad database URL, database down, helpdesk unreachable, token refused,
a missing token; and the small things of item 7 (help text, kesu.toml's mode, /docs, the demo).
Each failure goes through the real command line (typer's runner; the entry point once by
subprocess)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connector.zammad.sandbox import SandboxZammad
from kesu.cli import app as cli
from kesu.settings import load_settings

runner = CliRunner()
SECRET = "webhook-secret-0123456789"


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("KESU_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def zammad() -> Iterator[SandboxZammad]:
    with SandboxZammad(retry_scale=0.005) as z:
        yield z


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def helpdesk_section(url: str, token: str = "tok", kind: str = "zammad") -> str:
    return (f'[helpdesk]\nkind = "{kind}"\nurl = "{url}"\ntoken = "{token}"\nwebhook_secret = "{SECRET}"\n'
            f'bot_login = "kesu-bot@localhost"\nretries = 0\ntimeout = 3\n')


def one_line_failure(result, *, code: int | None = None) -> str:
    """Assert the shape every expected failure has, and return its line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0, result.output
    if code is not None:
        assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------------
# bad configuration, for every command that reads it

COMMANDS = [
    ["serve", "--skip-checks"], ["worker"], ["zammad", "setup"], ["odoo", "setup"], ["sync"],
    ["report", "monthly", "--month", "2026-03"], ["config", "show"], ["doctor"],
]
BAD_CONFIGS = {
    "toml_syntax": ("[worker\nthreads = 2\n", "TOML"),
    "unknown_key": ("[worker]\nthred = 2\n", "[worker] thred"),
    "bad_value": ("[worker]\nthreads = 0\n", "[worker] threads"),
}


@pytest.mark.parametrize("bad", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_bad_config_is_one_line_for_every_command(tmp_path, command, bad):
    text, named = BAD_CONFIGS[bad]
    config = write(tmp_path / "kesu.toml", text)
    line = one_line_failure(runner.invoke(cli, [*command, "-c", str(config)]), code=2)
    assert line.startswith("错误：") and named in line


@pytest.mark.parametrize("text, named", [
    ('[policies.routng]\nx = 1\n', "[policies.routng]"),
    ('profile = "bank"\n', "'bank'"),
    ('[helpdesk]\nkind = "jira"\n', "'jira'"),
    ('[helpdesk]\nurl = "zammad.example.com"\n', "zammad.example.com"),
    ('[helpdesk]\nwebhook_base_url = "http//kesu"\n', "webhook_base_url"),
    ('[store]\nurl = "nonsense"\n', "nonsense"),
    ('[policies.severity]\nscheme = "banking"\n', "banking"),
], ids=["policy", "profile", "kind", "helpdesk_url", "webhook_url", "store_url", "policy_value"])
def test_config_show_refuses_an_invalid_configuration(tmp_path, text, named):
    config = write(tmp_path / "kesu.toml", text)
    line = one_line_failure(runner.invoke(cli, ["config", "show", "-c", str(config)]), code=2)
    assert named in line


def test_config_show_still_shows_a_valid_configuration(tmp_path):
    config = write(tmp_path / "kesu.toml", '[store]\nurl = "postgresql://kesu:pw@127.0.0.1:1/kesu"\n')
    result = runner.invoke(cli, ["config", "show", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert '"profile": "food"' in result.stdout and "pw@" not in result.stdout


def test_a_missing_config_file_is_one_line(tmp_path):
    line = one_line_failure(runner.invoke(cli, ["config", "show", "-c", str(tmp_path / "nope.toml")]), code=2)
    assert "nope.toml" in line


# ------------------------------------------------------------------------------------------------
# the database


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["sync"], ["db", "upgrade"],
                                     ["report", "monthly", "--month", "2026-03"], ["inbox", "list"]],
                         ids=lambda c: c[0])
def test_a_bad_database_url_is_one_line(tmp_path, zammad, command):
    config = write(tmp_path / "kesu.toml", helpdesk_section(zammad.url, zammad.token_for(zammad.bot_login))
                   + '[store]\nurl = "mysql+nodriver://kesu@db/kesu"\n')
    line = one_line_failure(runner.invoke(cli, [*command, "-c", str(config)]))
    assert "[store] url" in line and "mysql" in line


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["sync"], ["db", "upgrade"],
                                     ["report", "monthly", "--month", "2026-03"]], ids=lambda c: c[0])
def test_a_database_that_is_down_is_one_line(tmp_path, zammad, command):
    port = closed_port()
    config = write(tmp_path / "kesu.toml", helpdesk_section(zammad.url, zammad.token_for(zammad.bot_login))
                   + f'[store]\nurl = "postgresql://kesu:pa55word@127.0.0.1:{port}/kesu"\n')
    line = one_line_failure(runner.invoke(cli, [*command, "-c", str(config)]))
    assert "数据库" in line and f"127.0.0.1:{port}" in line
    assert "pa55word" not in line  # the password never reaches the line


def test_doctor_reports_the_database_down_as_its_line(tmp_path, zammad):
    port = closed_port()
    config = write(tmp_path / "kesu.toml", helpdesk_section(zammad.url, zammad.token_for(zammad.bot_login))
                   + f'[store]\nurl = "postgresql://kesu@127.0.0.1:{port}/kesu"\n')
    result = runner.invoke(cli, ["doctor", "-c", str(config)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert any(line.startswith("✗ 无法连接数据库") for line in result.stdout.splitlines()), result.stdout


# ------------------------------------------------------------------------------------------------
# the helpdesk


def sqlite(tmp_path: Path) -> str:
    return f'[store]\nurl = "sqlite:///{tmp_path / "kesu.db"}"\n'


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["zammad", "setup"], ["sync"]],
                         ids=lambda c: " ".join(c))
def test_an_unreachable_helpdesk_is_one_line(tmp_path, command):
    url = f"http://127.0.0.1:{closed_port()}"
    config = write(tmp_path / "kesu.toml", helpdesk_section(url) + sqlite(tmp_path))
    line = one_line_failure(runner.invoke(cli, [*command, "-c", str(config)]))
    assert url in line


def test_an_unreachable_odoo_is_one_line(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    config = write(tmp_path / "kesu.toml", helpdesk_section(url, kind="odoo") + sqlite(tmp_path)
                   + '[helpdesk.options]\ndatabase = "odoo"\n')
    line = one_line_failure(runner.invoke(cli, ["odoo", "setup", "-c", str(config)]))
    assert "127.0.0.1" in line


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["zammad", "setup"], ["sync"]],
                         ids=lambda c: " ".join(c))
def test_a_refused_token_is_one_line(tmp_path, zammad, command):
    config = write(tmp_path / "kesu.toml", helpdesk_section(zammad.url, "not-a-token") + sqlite(tmp_path))
    line = one_line_failure(runner.invoke(cli, [*command, "-c", str(config)]))
    assert "401" in line and "not-a-token" not in line


def test_a_missing_token_is_reported_at_start(tmp_path, zammad):
    config = write(tmp_path / "kesu.toml", f'[helpdesk]\nurl = "{zammad.url}"\nwebhook_secret = "{SECRET}"\n'
                   + sqlite(tmp_path))
    line = one_line_failure(runner.invoke(cli, ["worker", "-c", str(config)]))
    assert "KESU_HELPDESK__TOKEN" in line


def test_a_missing_webhook_secret_stops_serve(tmp_path, zammad):
    config = write(tmp_path / "kesu.toml", f'[helpdesk]\nurl = "{zammad.url}"\n'
                   f'token = "{zammad.token_for(zammad.bot_login)}"\n' + sqlite(tmp_path))
    line = one_line_failure(runner.invoke(cli, ["serve", "-c", str(config)]))
    assert "KESU_HELPDESK__WEBHOOK_SECRET" in line


# ------------------------------------------------------------------------------------------------
# language, --debug, the real entry point


def test_english_on_request(tmp_path):
    config = write(tmp_path / "kesu.toml", '[worker]\nthreads = 0\n')
    line = one_line_failure(runner.invoke(cli, ["--lang", "en", "config", "show", "-c", str(config)]))
    assert line.startswith("error: ") and "[worker] threads" in line
    config = write(tmp_path / "kesu.toml", '[notes]\nlanguage = "en"\n[store]\nurl = "nonsense"\n')
    assert one_line_failure(runner.invoke(cli, ["config", "show", "-c", str(config)])).startswith("error: ")


def test_debug_shows_the_traceback(tmp_path):
    config = write(tmp_path / "kesu.toml", '[worker]\nthreads = 0\n')
    result = runner.invoke(cli, ["--debug", "config", "show", "-c", str(config)])
    assert result.exit_code != 0
    assert result.exception is not None and not isinstance(result.exception, SystemExit)


def test_the_installed_command_prints_one_line_and_no_traceback(tmp_path):
    port = closed_port()
    config = write(tmp_path / "kesu.toml", helpdesk_section(f"http://127.0.0.1:{closed_port()}")
                   + f'[store]\nurl = "postgresql://kesu@127.0.0.1:{port}/kesu"\n')
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("KESU_")}
    out = subprocess.run([sys.executable, "-m", "kesu.cli", "worker", "-c", str(config)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "无法连接数据库" in lines[0], out.stderr
    debug = subprocess.run([sys.executable, "-m", "kesu.cli", "--debug", "worker", "-c", str(config)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


# ------------------------------------------------------------------------------------------------
# paths and small things


def test_a_relative_sqlite_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    config = write(site / "kesu.toml", '[store]\nurl = "sqlite:///data/kesu.db"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings(config).store.url == f"sqlite:///{site / 'data' / 'kesu.db'}"
    monkeypatch.setenv("KESU_STORE__URL", "sqlite:///env.db")  # the environment's stays as given
    assert load_settings(config).store.url == "sqlite:///env.db"


def test_a_missing_sqlite_folder_is_named(tmp_path):
    config = write(tmp_path / "kesu.toml", '[store]\nurl = "sqlite:///no/such/dir/kesu.db"\n')
    line = one_line_failure(runner.invoke(cli, ["config", "show", "-c", str(config)]))
    assert str(tmp_path / "no" / "such" / "dir") in line


def test_kesu_init_writes_an_owner_only_file(tmp_path):
    path = tmp_path / "kesu.toml"
    result = runner.invoke(cli, ["init", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert runner.invoke(cli, ["init", "--path", str(path), "--force"]).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_help_shows_toml_sections_literally():
    assert "[plugins] disabled" in runner.invoke(cli, ["plugins", "--help"], env={"COLUMNS": "200"}).stdout
    assert "[reports] formats" in runner.invoke(cli, ["report", "monthly", "--help"], env={"COLUMNS": "200"}).stdout


def test_docs_are_served_without_a_cdn(tmp_path):
    import re

    from fastapi.testclient import TestClient

    from kesu.app import Services, create_app
    from kesu.settings import Settings

    settings = Settings()
    settings.store.url = f"sqlite:///{tmp_path / 'kesu.db'}"
    services = Services.build(settings, load_entrypoints=False)
    try:
        with TestClient(create_app(services, workers=False)) as client:
            page = client.get("/docs")
            assert page.status_code == 200
            assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
            for asset in assets:
                assert asset.startswith("/"), asset  # nothing from another host
                assert client.get(asset).status_code == 200, asset
            assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
            assert client.get("/redoc").url.path == "/docs"
    finally:
        services.close()


def test_the_demo_table_is_not_cut_when_piped(capsys):
    from kesu.cli import _print_demo

    note = "kesu 客诉策略决定\n• 时限 R-SLA-6.18-major：2026-12-14 21:27 CST：重大投诉处理解决，自受理之日起 7 个工作日内办结 [R-SLA-6.18-major]"
    _print_demo([{"number": "31001", "title": "豆腐发霉", "priority": "3 high", "tags": ["客诉-A类"], "notes": [note]}])
    out = capsys.readouterr().out
    assert "…" not in out
    assert "[R-SLA-6.18-major]" in out and "7 个工作日内办结" in out
