"""Fixtures of the fuzzing tests: a kesu app per intake (Zammad, Odoo) and one with admin tokens,
each on SQLite and on PostgreSQL (``db_url`` from ``tests/conftest.py``; PostgreSQL never skips).

No helpdesk is reachable (the URL is a closed port, no retries) and no worker runs: these tests
exercise what kesu answers, not what it later does with an accepted event.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr

from kesu.app import Services, create_app
from kesu.settings import Settings

ZAMMAD_SECRET = "fuzz-zammad-secret-令牌"
ODOO_SECRET = "fuzz-odoo-secret"
ODOO_BOT_UID = 2
MAX_BODY = 4096  # small, so that the size cap is crossed by a share of the generated bodies
KEPT_BODY = 1024  # rejected bodies are kept up to this many bytes (the budget is exercised too)


def intake_settings(db_url: str, kind: str) -> Settings:
    s = Settings()
    s.store.url = db_url
    s.helpdesk.kind = kind
    s.helpdesk.url = "http://127.0.0.1:9"  # never answers; no worker runs here
    s.helpdesk.retries = 0
    s.helpdesk.timeout = 0.2
    s.helpdesk.webhook_secret = ZAMMAD_SECRET if kind == "zammad" else ODOO_SECRET  # type: ignore[assignment]
    if kind == "odoo":
        s.helpdesk.options = {"uid": ODOO_BOT_UID, "database": "fuzz", "version": 17}
    s.server.max_body_bytes = MAX_BODY
    s.server.rejected_body_bytes = KEPT_BODY
    return s


def _client(settings: Settings) -> Iterator[TestClient]:
    services = Services.build(settings, load_entrypoints=False)
    with TestClient(create_app(services, workers=False), raise_server_exceptions=False,
                    follow_redirects=False) as client:
        client.services = services  # type: ignore[attr-defined]
        yield client
    services.close()


@pytest.fixture
def zammad_client(db_url: str) -> Iterator[TestClient]:
    yield from _client(intake_settings(db_url, "zammad"))


@pytest.fixture
def odoo_client(db_url: str) -> Iterator[TestClient]:
    yield from _client(intake_settings(db_url, "odoo"))


@pytest.fixture
def admin_client(db_url: str, tmp_path: Path) -> Iterator[TestClient]:
    from tests.test_admin_api import admin_settings

    settings = admin_settings(db_url, tmp_path)
    settings.helpdesk.url = "http://127.0.0.1:9"
    settings.helpdesk.retries = 0
    settings.helpdesk.timeout = 0.2
    yield from _client(settings)


@contextmanager
def live_server(services: Services) -> Iterator[str]:
    """kesu's app on a real uvicorn server in a thread (no workers); yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(services, workers=False), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="fuzz-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


SEED_COMPLAINTS = [("豆腐发霉", "昨天买的豆腐打开就发霉，孩子吃了拉肚子，要求赔偿 500 元。"),
                   ("豆浆有异物", "豆浆里有头发，太恶心了，我要投诉到市场监管局。")]


@pytest.fixture
def live_admin(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Services]]:
    """A live kesu (Zammad intake) with the admin tokens of ``tests/test_admin_api.py``, beside the
    sandbox Zammad (so that operations which ask the helpdesk get an answer, not a 502), with two
    complaints already processed (ledger entries, timers, a complaint record to act on)."""
    from connector.zammad.sandbox import SandboxZammad
    from kesu.store.inbox import NewEvent
    from kesu.store.db import utcnow
    from kesu.worker import Worker
    from tests.test_admin_api import admin_settings
    from tests.test_admin_extensions import FIELDS

    with SandboxZammad(retry_scale=0.01) as zammad:
        for name in FIELDS:
            zammad.add_custom_attribute(name)
        settings = admin_settings(db_url, tmp_path)
        settings.helpdesk = intake_settings(db_url, "zammad").helpdesk
        settings.helpdesk.url = zammad.url
        settings.helpdesk.token = SecretStr(zammad.token_for(zammad.bot_login))
        settings.helpdesk.bot_login = zammad.bot_login
        settings.helpdesk.retries = 0
        settings.helpdesk.timeout = 10
        settings.server.max_body_bytes = MAX_BODY
        services = Services.build(settings, load_entrypoints=False)
        try:
            services.connector.prepare()  # type: ignore[attr-defined]
            for title, body in SEED_COMPLAINTS:
                t = zammad.create_ticket(title, body)
                services.inbox.add(NewEvent(helpdesk=settings.helpdesk.name, ticket_id=str(t["id"]),
                                            kind="created", source="webhook", received_at=utcnow(),
                                            delivery_id=f"seed-{t['id']}"))
            Worker(services.pipeline, settings.worker).drain()
            with live_server(services) as url:
                yield url, services
        finally:
            services.close()
