"""Shared fixtures: databases (SQLite and the machine's real PostgreSQL), tickets, plugin hosts.

PostgreSQL tests never skip: when the server does not answer they fail with the reason, because
CI must run them (``.ci/run`` starts PostgreSQL first). Override the server with
``KESU_TEST_PG_URL``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from kesu.models import Article, Ticket, TicketRef
from kesu.store.db import make_engine, migrate
from kesu.store.tables import metadata

PG_ADMIN_URL = os.environ.get("KESU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A throwaway database on the PostgreSQL server, dropped at the end of the session."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"kesu_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required and did not answer: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """Each store test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kesu.db'}"
        return
    url = request.getfixturevalue("pg_server_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:
        # The ledger refuses TRUNCATE by trigger (append-only); replica mode skips user triggers.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        # only the tables the test made (a test that never migrated leaves none)
        existing = set(inspect(conn).get_table_names())
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name in existing)
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def make_ticket() -> Any:
    def make(
        title: str = "豆腐发霉了",
        body: str = "昨天买的豆腐打开就发霉，批号 20261101。",
        *,
        id: str = "1",
        tags: list[str] | None = None,
        fields: dict[str, Any] | None = None,
        priority: Any = None,
        group: str | None = "Users",
        owner: str | None = None,
    ) -> Ticket:
        return Ticket(
            ref=TicketRef(helpdesk="zammad", id=id),
            number=f"1000{id}",
            title=title,
            articles=[Article(id="1", body=body, sender="Customer", type="web")],
            tags=tags or [],
            fields=fields or {},
            priority=priority,
            group=group,
            owner=owner,
            created_at=datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc),
            updated_at=datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc),
        )

    return make
