"""The README's Quickstart command 1 (the demo on embedded defaults) and `kesu init` profiles."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from kesu.cli import app as cli
from kesu.settings import load_settings
from plugins.manager import PluginHost, build_plugin_manager
from policies.profiles import PROFILES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("helpdesk", ["zammad", "odoo"])
def test_demo_processes_sample_complaints_end_to_end(tmp_path, helpdesk):
    out = subprocess.run(
        [sys.executable, "-m", "kesu.cli", "serve", "--demo", "--exit-after-demo", "--helpdesk", helpdesk,
         "--port", str(free_port())],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    text = out.stdout
    assert "Complaints processed by kesu" in text
    for rule in ("R-TIER-1.9.1-A", "R-TIER-1.9.1-B", "R-TIER-1.9.1-C", "R-TIER-1.9.1]"):
        assert rule in text, rule
    assert "(no decision)" not in text
    assert "(temporary, for this demo)" in text
    assert "…" not in text  # piped output: the table is not cut at 80 columns (issue 11)
    assert not list(tmp_path.glob("kesu.db*"))  # the demo's data does not pile up across runs (issue 11)


@pytest.mark.parametrize("profile", PROFILES)
def test_init_writes_a_valid_commented_config_for_every_profile(tmp_path, profile):
    path = tmp_path / "kesu.toml"
    result = CliRunner().invoke(cli, ["init", "--profile", profile, "--path", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert text.count("#") > 20 and "[policies.severity]" in text and "[policies.routing]" in text
    settings = load_settings(path)
    assert settings.profile == profile
    host = PluginHost(build_plugin_manager(load_entrypoints=False), settings.policies, profile=settings.profile)
    assert {"severity", "routing", "deadlines", "penalties", "followups"} <= set(host.configs)
    again = CliRunner().invoke(cli, ["init", "--profile", profile, "--path", str(path)])
    assert again.exit_code == 2 and "exists" in again.output
    unknown = CliRunner().invoke(cli, ["init", "--profile", "bank", "--path", str(tmp_path / "x.toml")])
    assert unknown.exit_code == 2 and "food" in unknown.output
