"""The HTTP side of the sandbox: a small ASGI app (Starlette request/response objects, own router).

Request flow: record the call → injected fault (delay / error / apply-then-fail) → route →
authenticate → handler → JSON. Handlers are synchronous and sub-millisecond (they only touch the
in-memory state under its lock), so they run directly on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from .model import ApiError, ZammadState, ruby_json, unprocessable

if TYPE_CHECKING:
    from .server import Fault

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Ctx:
    uid: int
    params: dict[str, Any]
    method: str
    path: str


Handler = Callable[[ZammadState, Ctx], tuple[int, Any]]


# ------------------------------------------------------------------------------- params


def _assign(target: dict[str, Any], key: str, value: Any) -> None:
    """Rails-style nested params: ``a[b][c]=1`` → {"a": {"b": {"c": "1"}}}, ``a[]=1`` → list."""
    if "[" not in key:
        target[key] = value
        return
    head, _, rest = key.partition("[")
    parts = [head] + [p.rstrip("]") for p in ("[" + rest).split("[")[1:]]
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt_is_list = not last and parts[i + 1] == ""
        if last:
            if part == "":
                continue
            if isinstance(node, dict):
                node[part] = value
            return
        if part == "":
            continue
        if nxt_is_list:
            lst = node.setdefault(part, []) if isinstance(node, dict) else []
            if isinstance(lst, list):
                lst.append(value)
            return
        child = node.setdefault(part, {}) if isinstance(node, dict) else {}
        node = child


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        _assign(out, k, v)
    return out


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _int_param(params: Mapping[str, Any], *names: str, default: int) -> int:
    for name in names:
        v = params.get(name)
        if v in (None, ""):
            continue
        try:
            return int(v)
        except (TypeError, ValueError):
            return default
    return default


def _paging(params: Mapping[str, Any], *, default: int, maximum: int, aliases: tuple[str, ...] = ("per_page",)) -> tuple[int, int]:
    page = max(1, _int_param(params, "page", default=1))
    per_page = _int_param(params, *aliases, default=default)
    if per_page < 1:
        per_page = default
    return page, min(per_page, maximum)


# ----------------------------------------------------------------------------- handlers


def h_users_me(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.me(c.uid, expand=_truthy(c.params.get("expand")))


def h_users_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    page, per_page = _paging(c.params, default=100, maximum=500)
    return 200, s.list_users(c.uid, page, per_page, expand=_truthy(c.params.get("expand")))


def h_users_search(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    _, limit = _paging(c.params, default=100, maximum=500, aliases=("limit", "per_page"))
    query = c.params.get("query") or c.params.get("term") or ""
    return 200, s.search_users(c.uid, str(query), limit, expand=_truthy(c.params.get("expand")))


def h_users_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_user(c.uid, c.params["id"], expand=_truthy(c.params.get("expand")))


def h_groups_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    page, per_page = _paging(c.params, default=500, maximum=1000)
    items = s.list_groups(c.uid, expand=_truthy(c.params.get("expand")))
    return 200, items[(page - 1) * per_page: page * per_page]


def h_groups_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_group(c.uid, c.params["id"], expand=_truthy(c.params.get("expand")))


def h_priorities_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.list_priorities(expand=_truthy(c.params.get("expand")))


def h_priorities_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_priority(c.params["id"], expand=_truthy(c.params.get("expand")))


def h_states_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.list_states(expand=_truthy(c.params.get("expand")))


def h_states_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_state(c.params["id"], expand=_truthy(c.params.get("expand")))


def _ticket_mode(params: Mapping[str, Any]) -> str:
    if _truthy(params.get("all")):
        return "all"
    if _truthy(params.get("full")):
        return "full"
    if _truthy(params.get("expand")):
        return "expand"
    return "plain"


def h_tickets_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    page, per_page = _paging(c.params, default=50, maximum=100)
    return 200, s.list_tickets(c.uid, page, per_page, expand=_truthy(c.params.get("expand")))


def h_tickets_create(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    t = s.create_ticket(c.uid, c.params)
    return 201, s.render_ticket(c.uid, t["id"], _ticket_mode(c.params))


def h_tickets_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.render_ticket(c.uid, c.params["id"], _ticket_mode(c.params))


def h_tickets_update(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    params = {k: v for k, v in c.params.items() if k not in ("id", "expand", "all", "full")}
    t = s.update_ticket(c.uid, c.params["id"], params)
    return 200, s.render_ticket(c.uid, t["id"], _ticket_mode(c.params))


def h_tickets_destroy(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    s.delete_ticket(c.uid, c.params["id"])
    return 200, {}


def h_tickets_search(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    p = c.params
    page, per_page = _paging(p, default=50, maximum=200, aliases=("per_page", "limit"))
    condition = p.get("condition")
    if isinstance(condition, str):
        try:
            condition = json.loads(condition)
        except ValueError as exc:
            raise unprocessable("Invalid condition") from exc
    if condition is not None and not isinstance(condition, Mapping):
        raise unprocessable("Invalid condition")
    with s.lock:
        hits = s.search_tickets(
            c.uid,
            query=p.get("query") if isinstance(p.get("query"), str) else None,
            condition=condition,
            sort_by=p.get("sort_by"),
            order_by=p.get("order_by"),
            page=page,
            per_page=per_page,
        )
        if _truthy(p.get("full")):
            assets: dict[str, Any] = {}
            for t in hits:
                s._ticket_assets(c.uid, t, assets)
            return 200, {"tickets": [t["id"] for t in hits], "tickets_count": len(hits), "assets": assets}
        if _truthy(p.get("expand")):
            return 200, [s.ticket_expanded(t) for t in hits]
        return 200, [s.ticket_plain(t) for t in hits]


def h_articles_create(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    a = s.create_article(c.uid, c.params)
    with s.lock:
        return 201, s.article_out(a, expand=_truthy(c.params.get("expand")))


def h_articles_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_article(c.uid, c.params["id"], expand=_truthy(c.params.get("expand")))


def h_articles_by_ticket(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.articles_by_ticket(c.uid, c.params["id"], expand=_truthy(c.params.get("expand")))


def h_tags_list(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, {"tags": s.tag_list(c.uid, str(c.params.get("object") or ""), c.params.get("o_id"))}


def h_tags_add(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    p = c.params
    return 201, s.tag_add(c.uid, str(p.get("object") or ""), p.get("o_id"), p.get("item"))


def h_tags_remove(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    p = c.params
    return 200, s.tag_remove(c.uid, str(p.get("object") or ""), p.get("o_id"), p.get("item"))


def h_webhooks_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.list_webhooks(c.uid)


def h_webhooks_create(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 201, s.create_webhook(c.uid, c.params)


def h_webhooks_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_webhook(c.uid, c.params["id"])


def h_webhooks_update(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    params = {k: v for k, v in c.params.items() if k != "id"}
    return 200, s.update_webhook(c.uid, c.params["id"], params)


def h_webhooks_destroy(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    s.delete_webhook(c.uid, c.params["id"])
    return 200, {}


def h_triggers_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.list_triggers(c.uid)


def h_triggers_create(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 201, s.create_trigger(c.uid, c.params)


def h_triggers_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_trigger(c.uid, c.params["id"])


def h_triggers_update(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    params = {k: v for k, v in c.params.items() if k != "id"}
    return 200, s.update_trigger(c.uid, c.params["id"], params)


def h_triggers_destroy(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    s.delete_trigger(c.uid, c.params["id"])
    return 200, {}


def h_attributes_index(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.list_object_attributes(c.uid)


def h_attributes_show(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.get_object_attribute(c.uid, c.params["id"])


def h_attributes_create(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 201, s.create_object_attribute(c.uid, c.params)


def h_attributes_update(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    return 200, s.update_object_attribute(c.uid, c.params["id"], {k: v for k, v in c.params.items() if k != "id"})


def h_attributes_destroy(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    s.delete_object_attribute(c.uid, c.params["id"])
    return 200, {}


def h_attributes_migrate(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    s.execute_migrations(c.uid)
    return 200, {}


def h_attributes_discard(s: ZammadState, c: Ctx) -> tuple[int, Any]:
    s.discard_attribute_changes(c.uid)
    return 200, {}


_ID = r"(?P<id>[^/]+)"
ROUTES: list[tuple[tuple[str, ...], str, Handler]] = [
    (("GET",), r"/users/me", h_users_me),
    (("GET", "POST"), r"/users/search", h_users_search),
    (("GET",), rf"/users/{_ID}", h_users_show),
    (("GET",), r"/users", h_users_index),
    (("GET",), r"/groups", h_groups_index),
    (("GET",), rf"/groups/{_ID}", h_groups_show),
    (("GET",), r"/ticket_priorities", h_priorities_index),
    (("GET",), rf"/ticket_priorities/{_ID}", h_priorities_show),
    (("GET",), r"/ticket_states", h_states_index),
    (("GET",), rf"/ticket_states/{_ID}", h_states_show),
    (("GET", "POST"), r"/tickets/search", h_tickets_search),
    (("GET",), r"/tickets", h_tickets_index),
    (("POST",), r"/tickets", h_tickets_create),
    (("GET",), rf"/tickets/{_ID}", h_tickets_show),
    (("PUT", "PATCH"), rf"/tickets/{_ID}", h_tickets_update),
    (("DELETE",), rf"/tickets/{_ID}", h_tickets_destroy),
    (("POST",), r"/ticket_articles", h_articles_create),
    (("GET",), rf"/ticket_articles/by_ticket/{_ID}", h_articles_by_ticket),
    (("GET",), rf"/ticket_articles/{_ID}", h_articles_show),
    (("GET",), r"/tags", h_tags_list),
    (("GET", "POST"), r"/tags/add", h_tags_add),
    (("GET", "DELETE"), r"/tags/remove", h_tags_remove),
    (("GET",), r"/webhooks", h_webhooks_index),
    (("POST",), r"/webhooks", h_webhooks_create),
    (("GET",), rf"/webhooks/{_ID}", h_webhooks_show),
    (("PUT", "PATCH"), rf"/webhooks/{_ID}", h_webhooks_update),
    (("DELETE",), rf"/webhooks/{_ID}", h_webhooks_destroy),
    (("GET",), r"/triggers", h_triggers_index),
    (("POST",), r"/triggers", h_triggers_create),
    (("GET",), rf"/triggers/{_ID}", h_triggers_show),
    (("PUT", "PATCH"), rf"/triggers/{_ID}", h_triggers_update),
    (("DELETE",), rf"/triggers/{_ID}", h_triggers_destroy),
    (("GET",), r"/object_manager_attributes", h_attributes_index),
    (("POST",), r"/object_manager_attributes", h_attributes_create),
    (("GET",), rf"/object_manager_attributes/{_ID}", h_attributes_show),
    (("PUT", "PATCH"), rf"/object_manager_attributes/{_ID}", h_attributes_update),
    (("DELETE",), rf"/object_manager_attributes/{_ID}", h_attributes_destroy),
    (("POST",), r"/object_manager_attributes_execute_migrations", h_attributes_migrate),
    (("POST",), r"/object_manager_attributes_discard_changes", h_attributes_discard),
]

API_PREFIX = "/api/v1"


class Router:
    def __init__(self) -> None:
        self.by_method: dict[str, list[tuple[re.Pattern[str], Handler]]] = {}
        for methods, pattern, handler in ROUTES:
            rx = re.compile(API_PREFIX + pattern + r"/?$")
            for m in methods:
                self.by_method.setdefault(m, []).append((rx, handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for rx, handler in self.by_method.get(method, ()):
            m = rx.match(path)
            if m:
                return handler, m.groupdict()
        return None


# ---------------------------------------------------------------------------------- auth


def _parse_token(value: str) -> str:
    # Rails: 'Token token="abc", foo="bar"' or 'Token token=abc' or 'Token abc'
    rest = value.strip()
    m = re.search(r'token="?([^",\s]+)"?', rest)
    if m:
        return m.group(1)
    return rest.split(",")[0].strip().strip('"')


def authenticate(s: ZammadState, headers: Mapping[str, str]) -> int:
    auth = headers.get("authorization") or ""
    scheme, _, rest = auth.strip().partition(" ")
    scheme_l = scheme.lower()
    uid: int | None = None
    if scheme_l == "token":
        uid = s.user_for_token(_parse_token(rest))
        if uid is None:
            raise ApiError(401, "Can't find User for Token")
    elif scheme_l == "bearer":
        uid = s.user_for_token(rest.strip())
        if uid is None:
            # the personal-token check fails first, then Doorkeeper rejects the OAuth token
            raise ApiError(401, "The provided token is invalid.")
    elif scheme_l == "basic":
        try:
            login, _, password = base64.b64decode(rest.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            login, password = "", ""
        uid = s.user_for_password(login, password)
        if uid is None:
            raise ApiError(401, "Invalid BasicAuth credentials")
    else:
        raise ApiError(403, "Authentication required")
    user = s.users.get(uid)
    if not user or not user["active"]:
        raise ApiError(
            401,
            "Login failed. Have you double-checked your credentials and completed the email "
            "verification step?",
        )
    # acting on behalf of another user
    behalf = headers.get("from") or headers.get("x-on-behalf-of")
    if behalf:
        if not s.is_admin(uid):
            raise ApiError(403, "Current user has no permission to use 'From'/'X-On-Behalf-Of'!")
        other = s.find_user(behalf)
        if other is None:
            raise ApiError(403, f"No such user '{behalf}'")
        uid = other
    return uid


# ----------------------------------------------------------------------------------- app


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(ruby_json(body), status_code=status, media_type=JSON_TYPE, headers=dict(headers or {}))


def error_response(err: ApiError) -> Response:
    return json_response(err.status, err.body(), err.headers)


class SandboxApp:
    """ASGI callable. ``hooks`` provides ``record_call(method, path)`` and
    ``take_fault(method, path) -> Fault | None`` (the SandboxZammad instance)."""

    def __init__(self, state: ZammadState, hooks: Any) -> None:
        self.state = state
        self.hooks = hooks
        self.router = Router()

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
        method = scope["method"]
        path = scope["path"]
        self.hooks.record_call(method, path)
        fault: Fault | None = self.hooks.take_fault(method, path)
        if fault is None:
            response = await self.handle(scope, receive)
            await response(scope, receive, send)
            return
        if fault.delay:
            if fault.status is None:
                # A slow Zammad has the whole request and works on it however long it takes:
                # it applies it even if the client gave up waiting meanwhile.
                receive = await _buffered(receive)
            await asyncio.sleep(fault.delay)
        if fault.status is None:
            response = await self.handle(scope, receive)
            if fault.hold:
                await asyncio.sleep(fault.hold)
        elif fault.apply_then_fail:
            await self.handle(scope, receive)  # the write happens, the answer is lost
            response = fault.response()
        else:
            response = fault.response()
        await response(scope, receive, send)

    async def handle(self, scope: dict[str, Any], receive: Any) -> Response:
        request = Request(scope, receive)
        method = scope["method"]
        path = scope["path"]
        matched = self.router.match(method, path)
        if matched is None:
            msg = f'No route matches [{method}] "{path}"'
            return json_response(404, {"error": msg, "error_human": msg})
        handler, path_params = matched
        try:
            uid = authenticate(self.state, request.headers)
            params: dict[str, Any] = parse_pairs(
                parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            )
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                raw = await request.body()
                if raw.strip():
                    ctype = request.headers.get("content-type", "")
                    if "application/x-www-form-urlencoded" in ctype:
                        params.update(parse_pairs(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
                    else:
                        try:
                            data = json.loads(raw)
                        except ValueError:
                            return json_response(400, {"error": "Invalid JSON in request body"})
                        if isinstance(data, dict):
                            params.update(data)
            params.update(path_params)
            status, result = handler(self.state, Ctx(uid, params, method, path))
            return json_response(status, result)
        except ApiError as err:
            return error_response(err)
        except Exception as exc:  # pragma: no cover - a sandbox bug; answer like Zammad would
            traceback.print_exc()
            return json_response(500, {"error": f"{type(exc).__name__}: {exc}"})


async def _buffered(receive: Any) -> Any:
    """Read the request body now; the returned ``receive`` replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away before sending everything
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replayed() -> dict[str, Any]:
        return replay.pop() if replay else {"type": "http.disconnect"}

    return replayed


def fault_response(status: int, retry_after: float | None, body: Any | None) -> Response:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
    if body is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        body = {"error": phrase, "error_human": phrase}
    if isinstance(body, (bytes, str)):
        data = body.encode() if isinstance(body, str) else body
        return Response(data, status_code=status, headers=headers, media_type="text/html")
    return json_response(status, body, headers)
