"""The HTTP side: a small ASGI app (Starlette request/response objects) speaking Odoo's protocols.

Routes (all versions unless noted):

* ``POST /jsonrpc`` — services ``common`` (``version``, ``login``, ``authenticate``), ``db``
  (``list``, ``db_exist``, ``server_version``) and ``object`` (``execute_kw``, ``execute``).
  Deprecated in 19: still served, each call counted in ``state.deprecation_warnings``.
* ``POST /web/webclient/version_info``, ``/web/database/list`` — JSON-RPC routes (``odoorpc``
  detects the version with the first one).
* ``POST /web/session/authenticate`` / ``get_session_info`` / ``destroy`` and
  ``/web/dataset/call_kw[/…]`` — the cookie-session web client API; a missing/unknown session is
  ``{"code": 100, "message": "Odoo Session Expired"}``.
* 19 only: ``GET /web/version`` and ``/json/version``; ``POST /json/2/<model>/<method>``.

Unknown paths: a JSON request gets the JSON-RPC error envelope ``{"code": 404, "message": "404: Not
Found"}`` (HTTP 200, ``JsonRPCDispatcher.handle_error``), anything else an HTML 404 page.

Request flow: identify (protocol, model, method) → record the call → injected fault → handle.
Handlers touch the in-memory state under its lock (sub-millisecond) on the event loop; webhook
sends and waits for a row lock held by another call are awaited, never blocking the loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from . import errors, rpc
from .errors import RpcError
from .model import Locked, Outcome, Txn

if TYPE_CHECKING:
    from .server import Fault, SandboxOdoo

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
BEARER = re.compile(r"^bearer\s+(.+)$", re.IGNORECASE)
JSON2_HINT = "Did you mean POST /json/2/<model>/<method>?"


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON_TYPE, headers=headers)


def html_response(status: int, text: str | None = None) -> Response:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = text if text is not None else (
        f"<!DOCTYPE html>\n<html><head><title>{status} {phrase}</title></head>"
        f"<body><h1>{status} {phrase}</h1></body></html>\n"
    )
    return Response(body.encode("utf-8"), status_code=status, media_type=HTML_TYPE)


def rpc_error(req_id: Any, exc: RpcError) -> Response:
    """``JsonRPCDispatcher.handle_error``: always HTTP 200."""
    code, message = 200, "Odoo Server Error"
    if exc.name == "werkzeug.exceptions.NotFound":
        code, message = 404, "404: Not Found"
    elif exc.name == "odoo.http.SessionExpiredException":
        code, message = 100, "Odoo Session Expired"
    return json_response({"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message,
                                                                    "data": exc.serialize_legacy()}})


def rpc_result(req_id: Any, result: Any) -> Response:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id}
    if result is not None:  # Odoo omits "result" for None
        body["result"] = result
    return json_response(body)


def json2_error(exc: RpcError) -> Response:
    return json_response(exc.serialize(), exc.http_status, exc.headers or None)


class Handled:
    """A parsed request: who it is for, and how to answer it."""

    def __init__(self, protocol: str, model: str | None, method: str, run: Callable[[], Any],
                 fail: Callable[[RpcError], Response]) -> None:
        self.protocol = protocol
        self.model = model
        self.method = method
        self.run = run  # async () -> Response
        self.fail = fail  # protocol-shaped error answer


class SandboxApp:
    """ASGI callable; ``sandbox`` provides the state, the webhook sender and the test hooks."""

    def __init__(self, sandbox: SandboxOdoo) -> None:
        self.sandbox = sandbox
        self.state = sandbox.state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        try:
            handled = await self.route(request)
        except _Early as early:
            self.sandbox.record_call("http", None, scope["path"])
            await early.response(scope, receive, send)
            return
        self.sandbox.record_call(handled.protocol, handled.model, handled.method)
        fault = self.sandbox.take_fault(handled.protocol, handled.model, handled.method)
        if fault is None:
            response = await handled.run()
        else:
            response = await self.faulty(fault, handled)
        await response(scope, receive, send)

    async def faulty(self, fault: Fault, handled: Handled) -> Response:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is None and fault.error is None:
            response = await handled.run()
            if fault.hold:
                await asyncio.sleep(fault.hold)  # applied; the answer comes late
            return response
        if fault.apply_then_fail:
            await handled.run()  # the call is applied; its answer is lost
        if fault.error is not None:
            return handled.fail(errors.by_name(fault.error, fault.message))
        status = fault.status or 500
        if fault.body is None or isinstance(fault.body, (str, bytes)):
            body = fault.body.decode() if isinstance(fault.body, bytes) else fault.body
            return html_response(status, body)
        return json_response(fault.body, status)

    # ---------------------------------------------------------------------- routing

    async def route(self, request: Request) -> Handled:
        path = request.url.path
        method = request.method
        if path == "/jsonrpc" and method == "POST":
            return await self.jsonrpc(request)
        if path in ("/web/webclient/version_info", "/web/database/list") and method == "POST":
            req_id, _ = await self._rpc_body(request)
            if path.endswith("version_info"):
                return self._simple("web", path, req_id, lambda: rpc.exp_version(self.state))
            return self._simple("web", path, req_id, lambda: [self.state.database])
        if path.startswith("/web/session/") and method == "POST":
            return await self.session_route(request, path)
        if (path == "/web/dataset/call_kw" or path.startswith("/web/dataset/call_kw/")) and method == "POST":
            return await self.call_kw(request)
        if self.state.version >= 19 and path in ("/web/version", "/json/version"):
            info = rpc.exp_version(self.state)
            body = {"version_info": info["server_version_info"], "version": info["server_version"]}
            return self._static("http", path, lambda: json_response(body))
        if self.state.version >= 19 and (path == "/json/2" or path.startswith("/json/2/")):
            return await self.json2(request, path)
        if request.headers.get("content-type", "").split(";")[0].strip() in ("application/json", "application/json-rpc"):
            raw = await request.body()
            try:
                req_id = json.loads(raw).get("id") if raw else None
            except (ValueError, AttributeError):
                req_id = None
            exc = errors.not_found("The requested URL was not found on the server. If you entered the URL manually "
                                   "please check your spelling and try again.")
            return self._static("http", path, lambda: rpc_error(req_id, exc))
        return self._static("http", path, lambda: html_response(404))

    def _static(self, protocol: str, path: str, make: Callable[[], Response]) -> Handled:
        async def run() -> Response:
            return make()

        return Handled(protocol, None, path, run, lambda exc: json2_error(exc))

    def _simple(self, protocol: str, path: str, req_id: Any, make: Callable[[], Any]) -> Handled:
        async def run() -> Response:
            try:
                return rpc_result(req_id, make())
            except RpcError as exc:
                return rpc_error(req_id, exc)

        return Handled(protocol, None, path, run, lambda exc: rpc_error(req_id, exc))

    async def _rpc_body(self, request: Request) -> tuple[Any, dict[str, Any]]:
        raw = await request.body()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise _Early(html_response(400, "Invalid JSON data")) from None
        if not isinstance(data, dict):
            raise _Early(html_response(400, "Invalid JSON-RPC data"))
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise _Early(html_response(400, "Invalid JSON-RPC data"))
        return data.get("id"), params

    # ---------------------------------------------------------------- execution core

    async def execute(self, uid: int, model: str, method: str, fn: Callable[[Txn], Any],
                      context: dict[str, Any] | None) -> Outcome:
        state = self.state
        waited = 0.0
        while True:
            out = state.execute(uid, model, method, fn, su=uid == 1, context=context)
            if isinstance(out, Locked):
                # another call holds the row (17/18: its webhook is in flight); wait like PostgreSQL
                while not out.event.is_set() and waited < 60:
                    await asyncio.sleep(0.002)
                    waited += 0.002
                continue
            break
        if out.deliveries:
            await self.deliver(out)
        if out.txn is not None:
            state.commit(out.txn)
        return out

    async def deliver(self, out: Outcome) -> None:
        sender = self.sandbox.sender
        loop = asyncio.get_running_loop()
        sender.begin(len(out.deliveries))
        try:
            for delivery in out.deliveries:
                await loop.run_in_executor(self.sandbox.executor, sender.send, delivery)
        finally:
            sender.end(len(out.deliveries))

    # --------------------------------------------------------------------- /jsonrpc

    async def jsonrpc(self, request: Request) -> Handled:
        req_id, params = await self._rpc_body(request)
        service = params.get("service")
        method = params.get("method")
        args = params.get("args") or []
        if not isinstance(args, list):
            args = [args]
        state = self.state

        def fail(exc: RpcError) -> Response:
            return rpc_error(req_id, exc)

        if service == "object" and method in ("execute_kw", "execute"):
            model = args[3] if len(args) > 3 and isinstance(args[3], str) else None
            name = args[4] if len(args) > 4 and isinstance(args[4], str) else ""

            async def run_object() -> Response:
                if state.version >= 19:
                    state.deprecation_warnings += 1
                if len(args) < 5:
                    return fail(errors.type_error(
                        f"{method}() missing {5 - len(args)} required positional argument"
                        f"{'s' if 5 - len(args) > 1 else ''}"))
                db, uid, password = args[0], args[1], args[2]
                try:
                    rpc.authenticate(state, db, uid, password)
                except RpcError as exc:
                    return fail(exc)
                if method == "execute_kw":
                    if len(args) > 7:
                        return fail(errors.type_error(f"execute_kw() takes from 6 to 8 positional arguments but "
                                                      f"{len(args) + 1} were given"))
                    call_args = args[5] if len(args) > 5 else []
                    call_kwargs = args[6] if len(args) > 6 else {}
                    if not isinstance(call_kwargs, dict):
                        return fail(errors.type_error("argument after ** must be a mapping"))
                else:
                    call_args, call_kwargs = args[5:], {}
                context = rpc.context_of(call_kwargs.get("context"))
                out = await self.execute(uid, model or "", name,
                                         lambda txn: rpc.legacy_call(state, txn, model or "", name, call_args,
                                                                     call_kwargs), context)
                return fail(out.error) if out.error else rpc_result(req_id, out.result)

            return Handled("jsonrpc", model, name, run_object, fail)

        async def run_service() -> Response:
            if state.version >= 19 and service in ("common", "db", "object"):
                state.deprecation_warnings += 1
            try:
                return rpc_result(req_id, self.service(service, method, args))
            except RpcError as exc:
                return fail(exc)
            except TypeError as exc:
                return fail(errors.type_error(str(exc)))

        return Handled("jsonrpc", None, f"{service}.{method}", run_service, fail)

    def service(self, service: Any, method: Any, args: list[Any]) -> Any:
        state = self.state
        if service == "common":
            if method == "version":
                return rpc.exp_version(state)
            if method == "about":
                return "See http://openerp.com"
            if method in ("login", "authenticate"):
                if method == "login" and len(args) != 3:
                    raise TypeError(f"exp_login() takes 3 positional arguments but {len(args)} were given")
                if method == "authenticate" and len(args) != 4:
                    raise TypeError(f"exp_authenticate() takes 4 positional arguments but {len(args)} were given")
                db, login, password = args[0], args[1], args[2]
                if db != state.database:
                    raise errors.operational_error(str(db))
                with state.lock:
                    uid = state.login(login, password) if isinstance(login, str) else None
                return uid if uid is not None else False
            raise errors.key_error(f"exp_{method}")
        if service == "db":
            if method == "list":
                return [state.database]
            if method == "db_exist":
                return bool(args) and args[0] == state.database
            if method == "server_version":
                return rpc.exp_version(state)["server_version"]
            raise errors.access_denied()
        raise errors.key_error(str(service))

    # ---------------------------------------------------------------- web sessions

    def _session_uid(self, request: Request) -> int | None:
        sid = request.cookies.get("session_id")
        if not sid:
            return None
        with self.state.lock:
            uid = self.state.sessions.get(sid)
            user = self.state.tables["res.users"].get(uid or 0)
            return uid if user is not None and user.get("active") else None

    def session_info(self, uid: int) -> dict[str, Any]:
        state = self.state
        user = state.tables["res.users"][uid]
        partner = state.tables["res.partner"].get(user.get("partner_id") or 0) or {}
        info = rpc.exp_version(state)
        return {
            "uid": uid,
            "is_system": state.is_system(uid),
            "is_admin": state.is_system(uid),
            "is_public": False,
            "is_internal_user": state.is_internal(uid),
            "user_context": {"lang": user.get("lang") or "en_US", "tz": user.get("tz") or False, "uid": uid},
            "db": state.database,
            "registry_hash": "sandbox",
            "server_version": info["server_version"],
            "server_version_info": info["server_version_info"],
            "support_url": "https://www.odoo.com/help",
            "name": user.get("name"),
            "username": user.get("login"),
            "partner_display_name": partner.get("name"),
            "partner_id": user.get("partner_id"),
            "company_id": user.get("company_id") or 1,
            "web.base.url": self.sandbox.url,
            "active_ids_limit": 20000,
        }

    async def session_route(self, request: Request, path: str) -> Handled:
        req_id, params = await self._rpc_body(request)
        state = self.state
        action = path.rsplit("/", 1)[-1]

        def fail(exc: RpcError) -> Response:
            return rpc_error(req_id, exc)

        async def run() -> Response:
            if action == "authenticate":
                db, login, password = params.get("db"), params.get("login"), params.get("password")
                if db != state.database:
                    return fail(errors.operational_error(str(db)))
                with state.lock:
                    uid = state.login(login, password) if isinstance(login, str) else None
                    if uid is None:
                        return fail(errors.access_denied())
                    sid = state.new_session(uid)
                    info = self.session_info(uid)
                response = rpc_result(req_id, info)
                response.set_cookie("session_id", sid, httponly=True, samesite="lax", max_age=7 * 24 * 3600)
                return response
            uid = self._session_uid(request)
            if action == "destroy":
                sid = request.cookies.get("session_id")
                with state.lock:
                    state.sessions.pop(sid or "", None)
                return rpc_result(req_id, None)
            if action == "get_session_info":
                if uid is None:
                    return fail(errors.session_expired())
                with state.lock:
                    return rpc_result(req_id, self.session_info(uid))
            return fail(errors.not_found("The requested URL was not found on the server."))

        return Handled("web", None, path, run, fail)

    async def call_kw(self, request: Request) -> Handled:
        req_id, params = await self._rpc_body(request)
        model = params.get("model") if isinstance(params.get("model"), str) else None
        name = params.get("method") if isinstance(params.get("method"), str) else ""
        state = self.state

        def fail(exc: RpcError) -> Response:
            return rpc_error(req_id, exc)

        async def run() -> Response:
            uid = self._session_uid(request)
            if uid is None:
                return fail(errors.session_expired())
            args = params.get("args") or []
            kwargs = params.get("kwargs") or {}
            if not isinstance(kwargs, dict):
                return fail(errors.type_error("argument after ** must be a mapping"))
            context = rpc.context_of(kwargs.get("context"))
            out = await self.execute(uid, model or "", name,
                                     lambda txn: rpc.legacy_call(state, txn, model or "", name, args, kwargs),
                                     context)
            return fail(out.error) if out.error else rpc_result(req_id, out.result)

        return Handled("web", model, name, run, fail)

    # ------------------------------------------------------------------------ JSON-2

    async def json2(self, request: Request, path: str) -> Handled:
        parts = path.split("/")
        state = self.state
        if request.method != "POST" or len(parts) != 5 or not parts[3] or not parts[4]:
            exc = errors.not_found(JSON2_HINT)
            return Handled("json2", None, path, _const(json2_error(exc)), json2_error)
        model, name = parts[3], parts[4]
        raw = await request.body()
        headers = request.headers

        async def run() -> Response:
            db = headers.get("x-odoo-database")
            if db is not None and db != state.database:
                return json2_error(errors.not_found(f"database {db!r} not found"))
            match = BEARER.match(headers.get("authorization", "").strip())
            if not match:
                return json2_error(errors.unauthorized('User not authenticated, use the "Authorization" header'))
            with state.lock:
                uid = state.uid_for_key(match.group(1).strip())
            if uid is None:
                return json2_error(errors.unauthorized("Invalid apikey"))
            body: Any = {}
            if raw:
                mimetype = headers.get("content-type", "").split(";")[0].strip().lower()
                if mimetype != "application/json":
                    return json2_error(errors.http_error(
                        415, f"Unsupported Media Type: {mimetype or 'none'}; expected application/json"))
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    return json2_error(errors.http_error(400, f"could not parse the body as json: {exc.args[0]}"))
                if not isinstance(body, dict):
                    return json2_error(errors.http_error(400, "could not parse the body, expecting a json object"))
            context = rpc.context_of(body.get("context"))
            out = await self.execute(uid, model, name, lambda txn: rpc.json2_call(state, txn, model, name, body),
                                     context)
            if out.error:
                return json2_error(out.error)
            return json_response(out.result)

        return Handled("json2", model, name, run, json2_error)


def _const(response: Response) -> Callable[[], Any]:
    async def run() -> Response:
        return response

    return run


class _Early(Exception):
    """A request rejected before it could be identified (bad JSON)."""

    def __init__(self, response: Response) -> None:
        super().__init__("early response")
        self.response = response
