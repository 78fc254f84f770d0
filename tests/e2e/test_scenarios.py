"""The seed's regulations, scenario by scenario, end to end through the sandbox Zammad.

Each scenario (``tests/e2e/scenarios/<profile>.py``) cites its clause (篇 and §) and the rule IDs
it exercises; ``tests/e2e/scenario_kit.py`` plays it: signed webhooks in, kesu's writes checked in
the helpdesk, its timers, ledger, complaint record and follow-ups checked in the store. One stack
per profile (SQLite); the scenarios marked ``postgres`` run once more on PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from connector.zammad.sandbox import SandboxZammad
from policies import profiles
from tests.conftest import PG_ADMIN_URL
from tests.e2e.conftest import start_stack
from tests.e2e.scenario_kit import Runner, Scenario, ScenarioClock
from tests.e2e.scenarios import ALL

PARAMS = [pytest.param(s, "sqlite", id=s.id) for s in ALL] + [
    pytest.param(s, "postgresql", id=f"{s.id}-pg") for s in ALL if s.postgres]


def _groups(profile: str) -> list[str]:
    routing = profiles.section(profile, "routing")
    severity = profiles.section(profile, "severity")
    groups = [u["group"] for u in routing.get("units", {}).values() if u.get("group")]
    return list(dict.fromkeys([*groups, severity["special"]["isolate_group"]]))


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[Any]:
    """A factory of throwaway PostgreSQL databases, dropped at the end of the module."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make() -> str:
        name = f"kesu_scenarios_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required and did not answer: {exc}")
        names.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def runners(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    made: dict[tuple[str, str], Runner] = {}

    def get(profile: str, db: str) -> Runner:
        if (profile, db) in made:
            return made[(profile, db)]
        clock = ScenarioClock()
        sandbox = SandboxZammad(retry_scale=0.01, clock=clock)
        sandbox.start()
        clock.sandbox_clock = sandbox.state.clock
        for group in _groups(profile):
            sandbox.add_group(group)
        if db == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp(profile) / 'kesu.db'}"
        else:
            url = request.getfixturevalue("postgres_db")()

        def configure(settings: Any) -> None:
            settings.profile = profile
            settings.helpdesk.name = f"zammad-{profile}"
            settings.worker.timer_interval = 0.05
            if hasattr(settings, "reports"):
                settings.reports.automatic = []

        stack = start_stack(sandbox, url, configure=configure, clock=clock)
        made[(profile, db)] = Runner(stack, clock)
        return made[(profile, db)]

    yield get

    def stop(runner: Runner) -> None:
        runner.stack.stop()
        runner.sandbox.close()

    threads = [threading.Thread(target=stop, args=(r,)) for r in made.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)


@pytest.mark.parametrize(("scenario", "db"), PARAMS)
def test_scenario(scenario: Scenario, db: str, runners: Any) -> None:
    runners(scenario.profile, db).run(scenario)
