"""A ``responses``-backed Odoo for the connector's unit tests: (model, method) handlers for both protocols.

``OdooStub`` answers ``/jsonrpc`` (legacy envelope, HTTP 200 errors) and ``/json/2/...``
(bare JSON, HTTP status errors) from the same handlers, so one test body runs on both
protocols. The end-to-end tests use the sandbox Odoo instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import responses

from connector.odoo.client import OdooClient
from connector.odoo.connector import OdooConnector
from kesu.settings import HelpdeskSettings

BASE = "https://odoo.test"
KEY = "key-SECRET-0815"
DB = "kesu"
BOT_UID = 7
SECRET = "hook-secret"

# Methods decorated @api.model: legacy args carry no ids for them.
API_MODEL = {"search_read", "create", "fields_get", "context_get", "search", "search_count",
             "name_search"}


class StubError(Exception):
    """An Odoo exception as the stub serializes it for either protocol."""

    def __init__(self, name: str, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.name, self.message, self.status = name, message, status


@dataclass
class Call:
    model: str
    method: str
    ids: list[int] | None
    params: dict[str, Any]


@dataclass
class OdooStub:
    protocol: str  # jsonrpc | json2
    version: int = 17
    handlers: dict[tuple[str, str], Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    auth_ok: bool = True

    def on(self, model: str, method: str, result: Any) -> None:
        """Answer ``model.method`` with ``result`` (a value, or a function of (ids, params))."""
        self.handlers[(model, method)] = result

    def called(self, model: str | None = None, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if (model is None or c.model == model)
                and (method is None or c.method == method)]

    def _dispatch(self, model: str, method: str, ids: list[int] | None, params: dict[str, Any]) -> Any:
        self.calls.append(Call(model, method, ids, params))
        if (model, method) not in self.handlers:
            raise StubError("werkzeug.exceptions.NotFound",
                            f"404 Not Found: the model {model!r} does not exist", 404)
        handler = self.handlers[(model, method)]
        return handler(ids, params) if callable(handler) else handler

    def install(self, rsps: responses.RequestsMock) -> None:
        if self.version >= 19:
            rsps.add(responses.GET, f"{BASE}/web/version",
                     json={"version_info": [self.version, 0, 0, "final", 0, ""], "version": f"{self.version}.0"})
        else:
            rsps.add(responses.GET, f"{BASE}/web/version", status=404, body="<html>404</html>")
            rsps.add(responses.POST, f"{BASE}/web/webclient/version_info", json={
                "jsonrpc": "2.0", "id": 1, "result": {
                    "server_version": f"{self.version}.0",
                    "server_version_info": [self.version, 0, 0, "final", 0, ""]}})
        rsps.add_callback(responses.POST, f"{BASE}/jsonrpc", callback=self._jsonrpc)
        rsps.add_callback(responses.POST, re.compile(rf"{re.escape(BASE)}/json/2/[^/]+/[^/]+"),
                          callback=self._json2)

    def _jsonrpc(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        params = body["params"]
        try:
            if params["service"] == "common":
                db, login, key, _ = params["args"]
                result: Any = BOT_UID if (self.auth_ok and key == KEY and db == DB) else False
            else:
                db, uid, key, model, method, args, kwargs = params["args"]
                if key != KEY:
                    raise StubError("odoo.exceptions.AccessDenied", "Access Denied", 403)
                args = list(args)
                ids = None if method in API_MODEL else args.pop(0)
                if method == "create":
                    kwargs = {"vals_list": args.pop(0), **kwargs}
                assert not args, f"unexpected positional args {args}"
                result = self._dispatch(model, method, ids, kwargs)
            answer = {"jsonrpc": "2.0", "id": body["id"], "result": result}
        except StubError as exc:
            answer = {"jsonrpc": "2.0", "id": body["id"], "error": {
                "code": 200, "message": "Odoo Server Error",
                "data": {"name": exc.name, "message": exc.message, "arguments": [exc.message],
                         "context": {}, "debug": "Traceback ..."}}}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer)

    def _json2(self, request: Any) -> tuple[int, dict[str, str], str]:
        model, method = request.url.split("/json/2/")[1].split("/")
        if request.headers.get("Authorization") != f"bearer {KEY}":
            return 401, {}, json.dumps({"name": "werkzeug.exceptions.Unauthorized",
                                        "message": "Invalid apikey", "arguments": ["Invalid apikey", 401],
                                        "context": {}, "debug": ""})
        body = json.loads(request.body or b"{}")
        ids = body.pop("ids", None)
        try:
            if method == "context_get":
                self.calls.append(Call(model, method, ids, body))
                result: Any = {"uid": BOT_UID, "lang": "en_US", "tz": "UTC"}
            else:
                result = self._dispatch(model, method, ids, body)
                if method == "message_post" and isinstance(result, int):
                    result = [result]  # a recordset's ids on JSON-2
        except StubError as exc:
            return exc.status, {}, json.dumps({"name": exc.name, "message": exc.message,
                                               "arguments": [exc.message], "context": {}, "debug": ""})
        return 200, {"Content-Type": "application/json"}, json.dumps(result)


ENTERPRISE_FIELDS = {
    "name": {"type": "char"}, "description": {"type": "html"},
    "team_id": {"type": "many2one", "relation": "helpdesk.team"},
    "user_id": {"type": "many2one", "relation": "res.users"},
    "stage_id": {"type": "many2one", "relation": "helpdesk.stage"},
    "priority": {"type": "selection"}, "tag_ids": {"type": "many2many", "relation": "helpdesk.tag"},
    "partner_id": {"type": "many2one", "relation": "res.partner"},
    "partner_name": {"type": "char"}, "partner_email": {"type": "char"},
    "partner_phone": {"type": "char"}, "ticket_ref": {"type": "char"}, "fold": {"type": "boolean"},
    "create_date": {"type": "datetime"}, "write_date": {"type": "datetime"},
    "write_uid": {"type": "many2one", "relation": "res.users"},
    "x_batch": {"type": "char"}, "x_photo": {"type": "binary"},
}
OCA_FIELDS = {
    **{k: v for k, v in ENTERPRISE_FIELDS.items() if k not in ("ticket_ref", "fold", "partner_phone")},
    "team_id": {"type": "many2one", "relation": "helpdesk.ticket.team"},
    "stage_id": {"type": "many2one", "relation": "helpdesk.ticket.stage"},
    "tag_ids": {"type": "many2many", "relation": "helpdesk.ticket.tag"},
    "number": {"type": "char"}, "closed": {"type": "boolean"},
}


def settings(protocol: str = "jsonrpc", **options: Any) -> HelpdeskSettings:
    opts: dict[str, Any] = {"protocol": protocol, "database": DB, **options}
    return HelpdeskSettings(kind="odoo", name="odoo", url=BASE, token=KEY, webhook_secret=SECRET,
                            bot_login="kesu-bot", retries=2, options=opts)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(params=["jsonrpc", "json2"])
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """The default mock, so tests can read ``responses.calls``."""
    responses.start()
    yield responses.mock
    responses.stop()
    responses.reset()


@pytest.fixture
def make_stub(rsps: responses.RequestsMock) -> Callable[..., OdooStub]:
    def make(protocol: str, version: int | None = None, fields: dict[str, Any] | None = None) -> OdooStub:
        stub = OdooStub(protocol, version or (19 if protocol == "json2" else 17))
        stub.on("helpdesk.ticket", "fields_get", fields or ENTERPRISE_FIELDS)
        stub.install(rsps)
        return stub
    return make


@pytest.fixture
def make_connector(sleeps: Sleeps) -> Iterator[Callable[..., OdooConnector]]:
    made: list[OdooConnector] = []

    def make(protocol: str = "jsonrpc", **options: Any) -> OdooConnector:
        conn = OdooConnector(settings(protocol, **options), sleep=sleeps)
        made.append(conn)
        return conn

    yield make
    for c in made:
        c.close()


@pytest.fixture
def make_client(sleeps: Sleeps) -> Iterator[Callable[..., OdooClient]]:
    made: list[OdooClient] = []

    def make(protocol: str = "jsonrpc", **kw: Any) -> OdooClient:
        kw.setdefault("database", DB)
        kw.setdefault("login", "kesu-bot")
        kw.setdefault("retries", 2)
        client = OdooClient(BASE, KEY, protocol=protocol, sleep=sleeps, **kw)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()
