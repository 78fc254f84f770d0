"""End-to-end harness: the sandbox Zammad and a real kesu HTTP server, wired like production.

The sandbox's trigger posts signed webhooks over HTTP to kesu's ``/webhooks/zammad``; kesu reads
and writes the sandbox through its REST API. Nothing is mocked.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr

from connector.zammad.sandbox import SandboxZammad
from kesu.app import Services, create_app
from kesu.embedded import provision
from kesu.settings import Settings

SECRET = "e2e-secret-令牌"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def kesu_settings(sandbox: SandboxZammad, db_url: str, port: int) -> Settings:
    s = Settings()
    s.store.url = db_url
    s.helpdesk.url = sandbox.url
    s.helpdesk.token = SecretStr(sandbox.token_for(sandbox.bot_login))
    s.helpdesk.bot_login = sandbox.bot_login
    s.helpdesk.webhook_secret = SecretStr(SECRET)
    s.helpdesk.webhook_base_url = f"http://127.0.0.1:{port}"
    s.helpdesk.retries = 1
    s.helpdesk.timeout = 5
    s.server.port = port
    s.worker.poll_interval = 0.05
    s.worker.backoff_base = 0.2
    s.worker.backoff_max = 2
    s.worker.lease_seconds = 3
    s.worker.timer_interval = 0.2
    return s


@dataclass
class Stack:
    sandbox: SandboxZammad
    services: Services
    settings: Settings
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        return [a for a in self.sandbox.ticket(ticket_id)["articles"]
                if str(a.get("subject") or "").startswith("kesu #")]

    def wait_processed(self, ticket_id: int, n: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait for ``n`` kesu notes on the ticket and for kesu to finish (tags come after the note)."""
        notes = wait_until(lambda: len(self.notes(ticket_id)) >= n and self.notes(ticket_id), timeout)
        wait_until(lambda: self.services.inbox.pending_count() == 0, timeout)
        return notes

    def idle(self) -> None:
        """Wait until the sandbox has delivered everything and kesu has nothing left to do."""
        self.sandbox.wait_idle(10)
        wait_until(lambda: self.services.inbox.pending_count() == 0)
        self.sandbox.wait_idle(10)
        wait_until(lambda: self.services.inbox.pending_count() == 0)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.services.close()


def start_stack(sandbox: SandboxZammad, db_url: str, *, workers: bool = True,
                configure: Callable[[Settings], None] | None = None, wire: bool = True,
                clock: Callable[[], datetime] | None = None) -> Stack:
    """``clock``: kesu's "now" (pass the sandbox's clock too, to run tickets at chosen instants)."""
    port = free_port()
    settings = kesu_settings(sandbox, db_url, port)
    if configure is not None:
        configure(settings)
    services = Services.build(settings, load_entrypoints=False, **({"clock": clock} if clock else {}))
    app = create_app(services, workers=workers)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10)
    if wire:
        provision(settings)
    return Stack(sandbox, services, settings, f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def sandbox() -> Iterator[SandboxZammad]:
    with SandboxZammad(retry_scale=0.01) as zammad:
        yield zammad


@pytest.fixture
def stack(sandbox: SandboxZammad, db_url: str) -> Iterator[Stack]:
    s = start_stack(sandbox, db_url)
    yield s
    s.stop()
