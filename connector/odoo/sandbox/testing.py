"""Test helpers for the sandbox Odoo: pytest fixtures (running sandboxes per version/flavour, a webhook
receiver), a tiny raw JSON-RPC / JSON-2 client and the webhook receiver itself.

Use from a test module or a ``conftest.py``::

    from connector.odoo.sandbox.testing import Receiver, Rpc, make_sandbox, odoo17, odoo19, receiver

(importing a fixture function into a test module registers it for that module).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from .server import SandboxOdoo


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records webhook POSTs; answers ``status`` after ``delay`` seconds; ``on_request`` runs first."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.delay = 0.0
        self.on_request: Callable[[Received], None] | None = None
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
                               time.monotonic())
                if receiver.on_request is not None:
                    receiver.on_request(got)
                with receiver._cond:
                    receiver.requests.append(got)
                    receiver._cond.notify_all()
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up (timeout) and closed the connection

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[Received]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.requests) >= n, timeout)
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Rpc:
    """Minimal legacy JSON-RPC + JSON-2 client on plain ``requests`` (to check raw shapes)."""

    def __init__(self, sandbox: SandboxOdoo, login: str = "kesu-bot") -> None:
        self.sandbox = sandbox
        self.http = requests.Session()
        self.http.trust_env = False
        self.login = login
        self.key = sandbox.api_key_for(login)
        self.uid = sandbox.user_id(login)
        self._id = 0

    def jsonrpc(self, service: str, method: str, *args: Any, path: str = "/jsonrpc") -> dict[str, Any]:
        self._id += 1
        resp = self.http.post(self.sandbox.url + path, json={
            "jsonrpc": "2.0", "method": "call", "id": self._id,
            "params": {"service": service, "method": method, "args": list(args)},
        }, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def execute_kw(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None,
                   *, key: str | None = None, uid: int | None = None) -> dict[str, Any]:
        return self.jsonrpc("object", "execute_kw", self.sandbox.database, self.uid if uid is None else uid,
                            key or self.key, model, method, args, kwargs or {})

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        body = self.execute_kw(model, method, list(args), kwargs)
        assert "error" not in body, body["error"]
        return body.get("result")

    def json2(self, model: str, method: str, body: dict[str, Any] | None = None, *, key: str | None = None,
              headers: dict[str, str] | None = None) -> requests.Response:
        hdrs = {"Authorization": f"bearer {key or self.key}", "X-Odoo-Database": self.sandbox.database,
                "User-Agent": "kesu-tests/1.0"}
        hdrs.update(headers or {})
        return self.http.post(f"{self.sandbox.url}/json/2/{model}/{method}", json=body or {}, headers=hdrs,
                              timeout=10)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxOdoo]]:
    started: list[SandboxOdoo] = []

    def make(version: int = 17, flavour: str = "enterprise", **kwargs: Any) -> SandboxOdoo:
        sb = SandboxOdoo(version=version, flavour=flavour, **kwargs).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.close()


@pytest.fixture
def odoo17(make_sandbox: Callable[..., SandboxOdoo]) -> SandboxOdoo:
    return make_sandbox(17, "enterprise")


@pytest.fixture
def odoo19(make_sandbox: Callable[..., SandboxOdoo]) -> SandboxOdoo:
    return make_sandbox(19, "enterprise")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


__all__ = ["Received", "Receiver", "Rpc", "make_sandbox", "odoo17", "odoo19", "receiver"]
