"""A small client for Odoo's external API: legacy JSON-RPC (16-18) and JSON-2 (19+).

Both protocols go through :class:`connector.http.HttpTransport`, so the timeout, the in-call
retries of transient failures (timeouts, connection errors, 429, 502/503/504, ``Retry-After``)
and the redaction are the shared ones. Callers use named arguments only (JSON-2 accepts nothing
else); the legacy transport turns them into ``execute_kw`` arguments.

==============  =====================================================  ===========================
protocol        request                                                auth
==============  =====================================================  ===========================
``jsonrpc``     ``POST /jsonrpc`` ``{"service": "object", "method":    ``[db, uid, api key, ...]``
                "execute_kw", "args": [...]}``; errors come as HTTP    (uid from ``common.
                200 with an ``error`` envelope                         authenticate``)
``json2``       ``POST /json/2/<model>/<method>`` with the named       ``Authorization: bearer
                arguments (+ ``ids``); errors are real HTTP statuses   <key>``, ``X-Odoo-Database``
==============  =====================================================  ===========================

One error mapping for both (:func:`error_class`), by Odoo's exception name first, then status:

=========================================  ==================================================
``AccessError``                            PermissionDenied
``MissingError``                           NotFound (the record is gone)
``ValidationError``/``UserError``          InvalidRequest
``AccessDenied``, session expired, 401     AuthenticationFailed (bad/expired API key, login)
404, unknown model or method               NotFound, naming the model and method
422 (arguments do not bind)                InvalidRequest
serialization failure, lock not available  ConnectorUnavailable (transient: retried later)
other server errors                        HelpdeskError, not retried
=========================================  ==================================================

Every error carries Odoo's own message (``data.message`` / ``message``) as ``helpdesk_message``.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import requests
from pydantic import SecretStr

from connector.errors import (
    AuthenticationFailed,
    ConnectorError,
    ConnectorUnavailable,
    HelpdeskError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProtocolError,
    TransientError,
)
from connector.http import DEFAULT_RETRIES, DEFAULT_TIMEOUT, HttpTransport, loads, redact_url

log = logging.getLogger(__name__)

JSON = dict[str, Any]
Protocol = Literal["jsonrpc", "json2"]
PROTOCOLS = ("auto", "jsonrpc", "json2")
JSON2_SINCE = 19  # first major version with /json/2

# Model and method names go into URL paths (JSON-2): only Odoo's own spelling is allowed there.
_MODEL_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
_METHOD_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")  # no leading "_": private methods are refused

# Odoo's exception class (last part of ``data.name``/``name``) -> ours.
_BY_NAME: dict[str, type[ConnectorError]] = {
    "AccessError": PermissionDenied,
    "Forbidden": PermissionDenied,
    "AccessDenied": AuthenticationFailed,
    "SessionExpiredException": AuthenticationFailed,
    "Unauthorized": AuthenticationFailed,
    "MissingError": NotFound,
    "NotFound": NotFound,
    "ValidationError": InvalidRequest,
    "UserError": InvalidRequest,
    "RedirectWarning": InvalidRequest,
    "UnprocessableEntity": InvalidRequest,
    "BadRequest": InvalidRequest,
    "ValueError": InvalidRequest,
    "TypeError": InvalidRequest,
    # Odoo retries these itself a few times, then gives up: worth another try later.
    "SerializationFailure": ConnectorUnavailable,
    "LockNotAvailable": ConnectorUnavailable,
    "TransactionRollbackError": ConnectorUnavailable,
}
# Legacy RPC words "no such model/method" as a UserError / AttributeError.
_UNKNOWN_MODEL_OR_METHOD = re.compile(
    r"Object \S+ doesn't exist|does not exist on the model|the model .* does not exist", re.I
)


def error_class(name: str | None, status: int | None, message: str | None = None) -> type[ConnectorError]:
    """Our error class for one Odoo error: by exception name, else by HTTP status."""
    short = (name or "").rsplit(".", 1)[-1]
    if message and _UNKNOWN_MODEL_OR_METHOD.search(message):
        return NotFound
    if short in _BY_NAME:
        return _BY_NAME[short]
    if status == 401:
        return AuthenticationFailed
    if status == 403:
        return PermissionDenied
    if status == 404:
        return NotFound
    if status is not None and 400 <= status < 500:
        return InvalidRequest
    return HelpdeskError


def _odoo_error_body(response: requests.Response) -> JSON:
    """JSON-2 error body ``{"name", "message", "arguments", "debug"}``; {} when not JSON."""
    try:
        body = loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def odoo_error_message(response: requests.Response) -> str | None:
    body = _odoo_error_body(response)
    message = body.get("message")
    if isinstance(message, str) and message:
        return message
    data = body.get("error", {}).get("data") if isinstance(body.get("error"), dict) else None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return None


class _OdooTransport(HttpTransport):
    """The shared transport, classifying JSON-2 errors by Odoo's exception name as well.

    Odoo answers e.g. 403 for an ``AccessError`` but also 500-ish statuses for some exceptions;
    the name in the body is the reliable part. Transient statuses keep their retry handling.
    """

    def _error_for(self, method: str, url: str, response: requests.Response) -> ConnectorError:
        error = super()._error_for(method, url, response)
        if isinstance(error, TransientError):
            return error
        name = _odoo_error_body(response).get("name")
        name = name if isinstance(name, str) and name else None
        cls = error_class(name, response.status_code, error.helpdesk_message)
        # Like the legacy envelope's errors: Odoo's exception name, the status stays in the URL part.
        message = f"failed: {name.rsplit('.', 1)[-1]}" if name else error.message
        return cls(message, method=error.method, url=error.url, status=error.status,
                   helpdesk_message=error.helpdesk_message)


@dataclass(frozen=True)
class OdooVersion:
    major: int
    minor: int
    text: str  # as Odoo says it: "17.0", "saas~17.2", "19.0+e"

    @classmethod
    def parse(cls, info: Any, text: Any) -> OdooVersion:
        """From ``version_info`` (``[17, 0, 0, "final", 0, ""]`` or ``["saas~17", 2, ...]``)."""
        if isinstance(info, list) and info:
            major = _leading_int(info[0])
            minor = _leading_int(info[1]) if len(info) > 1 else 0
            if major is not None:
                return cls(major, minor or 0, str(text or f"{major}.{minor or 0}"))
        if isinstance(text, str):
            numbers = re.findall(r"\d+", text)
            if numbers:
                return cls(int(numbers[0]), int(numbers[1]) if len(numbers) > 1 else 0, text)
        raise ValueError(f"cannot read an Odoo version from {info!r} / {text!r}")

    def __str__(self) -> str:
        return self.text


def _leading_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.search(r"\d+", str(value))
    return int(match.group()) if match else None


class OdooClient:
    """Odoo's external API as named-argument calls; one instance per Odoo database.

    :param url: base URL of Odoo, e.g. ``https://odoo.example.com``.
    :param api_key: API key of kesu's bot user (Preferences -> Account Security -> New API Key).
    :param database: database name; required by legacy JSON-RPC, sent as ``X-Odoo-Database``
        on JSON-2 (needed only when several databases share the host).
    :param login: the bot's login, to get its uid with ``common.authenticate`` (legacy only).
    :param uid: the bot's user id, when known (saves the authenticate call).
    :param protocol: ``jsonrpc``, ``json2`` or ``auto`` (JSON-2 from Odoo 19 on).
    :param version: the major version, when known (skips detection).
    """

    def __init__(
        self,
        url: str,
        api_key: str | SecretStr,
        *,
        database: str | None = None,
        login: str | None = None,
        uid: int | None = None,
        protocol: str = "auto",
        version: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Odoo url must start with http:// or https://, got {url!r}")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        self.base_url = url.rstrip("/")
        self.database = database or None
        self.login = login
        self._key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        self._uid = uid
        self._wanted = protocol
        self._protocol: Protocol | None = None if protocol == "auto" else protocol  # type: ignore[assignment]
        self._version = OdooVersion(version, 0, f"{version}.0") if version else None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._local = threading.local()  # calls made by the current thread (ApplyResult.calls)
        self.http = _OdooTransport(
            self.base_url, timeout=timeout, retries=retries, error_message=odoo_error_message,
            sleep=sleep, session=session,
        )
        # Same session, no in-call retries: for calls that must not run twice (see ``call``).
        self._http_once = _OdooTransport(
            self.base_url, timeout=timeout, retries=0, error_message=odoo_error_message,
            sleep=sleep, session=self.http.session,
        )
        if self._protocol == "json2":
            self._use_json2_headers()

    def __repr__(self) -> str:
        return f"OdooClient({redact_url(self.base_url)!r}, protocol={self._protocol or self._wanted})"

    # -- version and protocol ------------------------------------------------------------------

    def server_version(self) -> OdooVersion:
        """Odoo's version (cached): ``GET /web/version`` (17.x/19+), else the web client's
        ``/web/webclient/version_info`` JSON-RPC route (every version)."""
        if self._version is not None:
            return self._version
        try:
            self._count()
            data = self.http.request("GET", "/web/version")
            if not isinstance(data, dict) or "version_info" not in data:
                raise ProtocolError("no version_info", method="GET", url=self.http.url("/web/version"))
            version = OdooVersion.parse(data.get("version_info"), data.get("version"))
        except (NotFound, InvalidRequest, ProtocolError) as exc:
            log.debug("GET /web/version unavailable (%s); asking version_info", exc)
            data = self._envelope("/web/webclient/version_info", {}, "web.version_info")
            if not isinstance(data, dict):
                raise ProtocolError(
                    "version_info answered no object", method="POST",
                    url=self.http.url("/web/webclient/version_info"),
                ) from exc
            version = OdooVersion.parse(data.get("server_version_info"), data.get("server_version"))
        self._version = version
        return version

    @property
    def protocol(self) -> Protocol:
        """The protocol in use; ``auto`` is resolved on first use from the server version."""
        if self._protocol is None:
            with self._lock:
                if self._protocol is None:
                    major = self.server_version().major
                    self._protocol = "json2" if major >= JSON2_SINCE else "jsonrpc"
                    if self._protocol == "json2":
                        self._use_json2_headers()
                    log.info("Odoo %s: using %s", self._version, self._protocol)
        return self._protocol

    def _use_json2_headers(self) -> None:
        self.http.session.headers["Authorization"] = f"bearer {self._key}"
        if self.database:
            self.http.session.headers["X-Odoo-Database"] = self.database

    # -- identity ------------------------------------------------------------------------------

    def uid(self) -> int:
        """The API key's user id: ``common.authenticate`` (legacy) or ``context_get`` (JSON-2)."""
        if self._uid is not None:
            return self._uid
        if self.protocol == "json2":
            context = self.call("res.users", "context_get")
            uid = context.get("uid") if isinstance(context, dict) else None
        else:
            if not self.login:
                raise AuthenticationFailed(
                    "JSON-RPC needs the bot's login (or uid) to authenticate the API key",
                    method="POST", url=self.http.url("/jsonrpc"),
                )
            uid = self._envelope("/jsonrpc", {
                "service": "common", "method": "authenticate",
                "args": [self._require_db(), self.login, self._key, {}],
            }, "common.authenticate")
            if not uid:
                raise AuthenticationFailed(
                    f"Odoo refused login {self.login!r} with this API key on database "
                    f"{self.database!r} (wrong, expired or revoked key, or wrong login)",
                    method="POST", url=self.http.url("/jsonrpc"),
                    helpdesk_message="authenticate returned false",
                )
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise ProtocolError(f"expected a user id, got {uid!r}", url=self.http.url("/"))
        self._uid = uid
        return uid

    def _require_db(self) -> str:
        if not self.database:
            raise InvalidRequest(
                "[helpdesk.options] database is required with protocol jsonrpc (Odoo 16-18)"
            )
        return self.database

    # -- calls ---------------------------------------------------------------------------------

    def call(
        self, model: str, method: str, ids: Sequence[int] | None = None, *,
        positional: Sequence[str] = (), retry: bool = True,
        check: Callable[[], bool] | None = None, **params: Any,
    ) -> Any:
        """Call ``model.method`` with named arguments; ``ids`` for record methods only.

        :param positional: names of ``params`` the legacy protocol must pass positionally
            (``create``'s ``vals_list``: Odoo <= 18 reads it from ``args[0]``).
        :param retry: whether a timeout may be retried inside the call. ``False`` for calls
            that are not idempotent (``create``, ``message_post``): a timed-out call may have
            been applied, so the pipeline's own retry (which first checks the note marker)
            decides instead.
        :param check: for a write that must not be applied twice: after a failure that may have
            been applied (a 502/504 or a read timeout), whether the write took, asked before any
            resend (see :meth:`connector.http.HttpTransport.request`). When it took, the call
            answers ``None``. With a check, in-call retries are safe and ``retry`` is ignored.
        """
        if not _MODEL_RE.match(model):
            raise InvalidRequest(f"not an Odoo model name: {model!r}")
        if not _METHOD_RE.match(method):
            raise InvalidRequest(f"not a public Odoo method name: {method!r}")
        if self.protocol == "json2":
            return self._json2(model, method, ids, params, retry, check)
        args: list[Any] = [list(ids)] if ids is not None else []
        args.extend(params.pop(name) for name in positional)
        return self._envelope("/jsonrpc", {
            "service": "object", "method": "execute_kw",
            "args": [self._require_db(), self.uid(), self._key, model, method, args, params],
        }, f"{model}.{method}", retry=retry, check=check)

    def _json2(
        self, model: str, method: str, ids: Sequence[int] | None, params: JSON, retry: bool,
        check: Callable[[], bool] | None = None,
    ) -> Any:
        body = dict(params)
        if ids is not None:
            body["ids"] = list(ids)
        transport = self.http if retry or check is not None else self._http_once
        self._count()
        try:
            return transport.request("POST", f"/json/2/{model}/{method}", json=body, check=check)
        except HelpdeskError as exc:
            raise _named(exc, model, method) from exc

    def thread_calls(self) -> int:
        """How many calls the current thread has made through this client (for call counts)."""
        return int(getattr(self._local, "calls", 0))

    def _count(self) -> None:
        self._local.calls = self.thread_calls() + 1

    def _envelope(self, path: str, params: JSON, what: str, *, retry: bool = True,
                  check: Callable[[], bool] | None = None) -> Any:
        """One JSON-RPC 2.0 call; Odoo's ``error`` envelope (HTTP 200) becomes our error.
        ``None`` when ``check`` found that a call whose answer was lost took."""
        self._count()
        body = {"jsonrpc": "2.0", "method": "call", "id": next(self._ids), "params": params}
        transport = self.http if retry or check is not None else self._http_once
        try:
            answer = transport.request("POST", path, json=body, check=check)
        except NotFound as exc:
            if path != "/jsonrpc":
                raise
            raise NotFound(
                f"{what}: Odoo does not serve {path} (legacy RPC switched off? try protocol json2)",
                method=exc.method, url=exc.url, status=exc.status, helpdesk_message=exc.helpdesk_message,
            ) from exc
        if answer is None and check is not None:
            return None  # the answer was lost and the check found the call applied
        if not isinstance(answer, dict):
            raise ProtocolError(f"{what}: expected a JSON-RPC object", method="POST",
                                url=self.http.url(path))
        error = answer.get("error")
        if error is not None:
            raise _envelope_error(error, what, self.http.url(path))
        return answer.get("result")

    # -- typed helpers -------------------------------------------------------------------------

    def search_read(
        self, model: str, domain: Sequence[Any], fields: Sequence[str], *,
        offset: int = 0, limit: int | None = None, order: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[JSON]:
        params: JSON = {"domain": list(domain), "fields": list(fields)}
        if offset:
            params["offset"] = offset
        if limit is not None:
            params["limit"] = limit
        if order:
            params["order"] = order
        if context:
            params["context"] = dict(context)
        return self._rows(self.call(model, "search_read", **params), model, "search_read")

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str]) -> list[JSON]:
        return self._rows(self.call(model, "read", list(ids), fields=list(fields)), model, "read")

    def write(self, model: str, ids: Sequence[int], vals: Mapping[str, Any], *,
              check: Callable[[], bool] | None = None) -> None:
        """``write``; ``check`` (whether the values are there) is asked before resending a write
        whose answer was lost, so one write is never applied twice."""
        self.call(model, "write", list(ids), vals=dict(vals), check=check)

    def create(self, model: str, vals_list: Sequence[Mapping[str, Any]], *,
               check: Callable[[], bool] | None = None) -> list[int]:
        """Create records; both protocols answer the new ids as a list for a list argument.

        Without ``check`` a create whose answer is lost is not retried in-call (it may have been
        applied); with one, ``check`` decides, and ``[]`` means the records were found created.
        """
        result = self.call(model, "create", vals_list=[dict(v) for v in vals_list],
                           positional=("vals_list",), retry=False, check=check)
        if result is None and check is not None:
            return []
        ids = [result] if isinstance(result, int) else result
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise ProtocolError(f"{model}.create: expected ids, got {result!r}")
        return ids

    def fields_get(self, model: str, attributes: Sequence[str] = ("type", "relation")) -> JSON:
        result = self.call(model, "fields_get", attributes=list(attributes))
        if not isinstance(result, dict):
            raise ProtocolError(f"{model}.fields_get: expected an object, got {type(result).__name__}")
        return result

    def message_post(self, model: str, record_id: int, *, check: Callable[[], bool] | None = None,
                     **params: Any) -> int | None:
        """Post a message; legacy answers the id, JSON-2 ``[id]`` (a recordset's ids). ``None``
        also when the answer was lost and ``check`` found the message posted."""
        result = self.call(model, "message_post", [record_id], retry=False, check=check, **params)
        if isinstance(result, list):
            result = result[0] if result else None
        return result if isinstance(result, int) and not isinstance(result, bool) else None

    @staticmethod
    def _rows(result: Any, model: str, method: str) -> list[JSON]:
        if not isinstance(result, list):
            raise ProtocolError(f"{model}.{method}: expected a list, got {type(result).__name__}")
        return [r for r in result if isinstance(r, dict)]

    def close(self) -> None:
        self.http.close()


def _named(exc: HelpdeskError, model: str, method: str) -> HelpdeskError:
    """The same error with a message naming ``model.method`` (JSON-2's URL alone is terse)."""
    if isinstance(exc, NotFound) and exc.status == 404 and not _is_missing_record(exc):
        message = (f"{model}.{method}: Odoo has no such model or public method "
                   "(is the helpdesk app installed? right flavour?)")
    elif exc.message.startswith("failed: "):
        message = f"{model}.{method} {exc.message}"
    else:
        message = f"{model}.{method}: {exc.message}"
    return type(exc)(message, method=exc.method, url=exc.url, status=exc.status,
                     helpdesk_message=exc.helpdesk_message)


def _is_missing_record(exc: HelpdeskError) -> bool:
    said = (exc.helpdesk_message or "").lower()
    return "does not exist or has been deleted" in said or "missing" in said


def _envelope_error(error: Any, what: str, url: str) -> ConnectorError:
    """Map ``{"code", "message", "data": {"name", "message", ...}}`` to our error tree."""
    if not isinstance(error, dict):
        return ProtocolError(f"{what}: malformed JSON-RPC error {error!r}", method="POST", url=url)
    data: JSON = error["data"] if isinstance(error.get("data"), dict) else {}
    name = data.get("name") if isinstance(data.get("name"), str) else None
    said = data.get("message") or error.get("message")
    said = str(said) if said else None
    code = error.get("code")
    if code == 100:
        cls: type[ConnectorError] = AuthenticationFailed
    elif code == 404:
        cls = NotFound
    else:
        cls = error_class(name, None, said)
    short = (name or "error").rsplit(".", 1)[-1]
    if cls is NotFound and code != 404 and short not in ("MissingError",):
        message = f"{what}: Odoo has no such model or public method"
    elif cls is AuthenticationFailed:
        message = f"{what}: Odoo refused the API key ({short})"
    else:
        message = f"{what} failed: {short}"
    return cls(message, method="POST", url=url, helpdesk_message=said)
