"""The HTTP transport every connector shares.

One :class:`HttpTransport` owns one ``requests.Session`` and is the only place where kesu talks
HTTP to a helpdesk. It is also the one boundary where ``requests`` exceptions and error statuses
become :mod:`connector.errors` types:

* every call gets the same explicit timeout (requests has none by default);
* tenacity wraps only the single transport call (:meth:`HttpTransport._send`) and retries only
  transient failures: timeouts, connection errors, 429 and 502/503/504. A 500 is *not* retried:
  helpdesks answer 500 for bugs and bad data, which a second try will not fix;
* a ``Retry-After`` header (seconds or an HTTP date) is used as the wait, capped at
  ``retry_after_cap``; otherwise waits grow exponentially;
* a write that is not idempotent (a PUT carrying a note, ``message_post``) is never resent blind:
  when the failure says the request may have been applied (``maybe_applied``: read timeout,
  dropped connection, 502/504), the caller's ``check`` looks at the helpdesk first and the call
  ends there when the write took. A write the helpdesk is still working on (a slow call whose
  answer timed out) may land after that first look: when it shows nothing, the check is made once
  more after ``settle`` seconds before the write is sent again. When the check itself fails, the
  write is not resent in this call at all (the error carries ``resend_unsafe``): the caller's own
  recovery looks again later;
* errors carry the method, the URL without secrets, the status and the helpdesk's own message,
  found by an extractor the connector passes in (each helpdesk words its errors differently).
"""

from __future__ import annotations

import email.utils
import json as _json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from urllib3.exceptions import NewConnectionError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connector.errors import (
    AuthenticationFailed,
    ConnectorError,
    ConnectorTimeout,
    ConnectorUnavailable,
    HelpdeskError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ProtocolError,
    RateLimited,
    TransientError,
)

try:  # orjson is several times faster on the webhook hot path; json is the fallback
    import orjson as _orjson  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds, for every call (connect and read); settings may override
DEFAULT_RETRIES = 3  # extra tries of one transient failure
RETRY_AFTER_CAP = 60.0  # never wait longer than this inside one call, whatever Retry-After says
BACKOFF_BASE = 0.5  # first exponential wait in seconds (0.5, 1, 2, 4 ...)
BACKOFF_MAX = 30.0
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
# Statuses a proxy gives when the helpdesk got the request but its answer did not come back:
# the write may have been applied. 429 and 503 are refusals before any work is done.
MAYBE_APPLIED_STATUSES = frozenset({502, 504})
USER_AGENT = "kesu/0.1"

# Query parameters whose values are never shown (in case a helpdesk takes a key in the URL).
_SECRET_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "password", "secret", "signature"}
)

ErrorExtractor = Callable[[requests.Response], "str | None"]


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``ValueError`` (both parsers' errors derive from it)."""
    if _orjson is not None:
        return _orjson.loads(data)
    return _json.loads(data)


def dumps(obj: Any) -> bytes:
    if _orjson is not None:
        encoded: bytes = _orjson.dumps(obj)
        return encoded
    return _json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def redact_url(url: str) -> str:
    """The URL without user:password and without the values of secret-looking parameters."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _shown(url: str, params: Mapping[str, Any] | None) -> str:
    """The URL as called (with its query), redacted; built only when an error needs it."""
    if params:
        url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
    return redact_url(url)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass  # not a number: try the HTTP-date form below
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        log.debug("ignoring unparsable Retry-After header %r", value)
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def default_error_message(response: requests.Response) -> str | None:
    """The helpdesk's message from a JSON error body (``error_human``/``error``/``message``)."""
    try:
        body = loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict):
        for key in ("error_human", "error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


_STATUS_ERRORS: dict[int, type[ConnectorError]] = {
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    429: RateLimited,
    502: ConnectorUnavailable,
    503: ConnectorUnavailable,
    504: ConnectorUnavailable,
}


def error_class_for(status: int) -> type[ConnectorError]:
    if status in _STATUS_ERRORS:
        return _STATUS_ERRORS[status]
    if 400 <= status < 500:
        return InvalidRequest
    if status >= 500:
        return HelpdeskError
    return ProtocolError  # 1xx/3xx: nothing a JSON API should answer


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Whether the connection was refused or never made (the request cannot have arrived), as
    opposed to dropped after sending (``RemoteDisconnected``, reset): urllib3 then names a
    ``NewConnectionError`` as the reason."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError):
            return True
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException) and id(reason) not in seen:
            cause = reason
            continue
        nested = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
        cause = nested or cause.__cause__ or cause.__context__
    return False


def _may_resend(exc: BaseException) -> bool:
    """In-call retry predicate: transient failures, unless resending could apply a write twice."""
    return isinstance(exc, TransientError) and not exc.resend_unsafe


class HttpTransport:
    """One helpdesk's HTTP session: base URL, auth headers, timeout, retries, error mapping.

    :param base_url: e.g. ``https://helpdesk.example.com/api/v1``; paths are appended to it.
    :param headers: sent with every request (auth goes here; never shown in errors or repr).
    :param sleep: how retry waits are spent; tests pass a recorder so nothing sleeps.
    :param error_message: finds the helpdesk's own message in an error response.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        error_message: ErrorExtractor = default_error_message,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base: float = BACKOFF_BASE,
        backoff_max: float = BACKOFF_MAX,
        retry_after_cap: float = RETRY_AFTER_CAP,
        session: requests.Session | None = None,
        settle: float | None = None,
    ) -> None:
        """:param settle: seconds a write whose answer was lost is given to land before it is
            checked a second time (and only then resent); the timeout by default."""
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._error_message = error_message
        self._sleep = sleep
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._retry_after_cap = retry_after_cap
        self.settle = timeout if settle is None else settle
        if session is None:
            session = requests.Session()
            # No proxy/.netrc lookups from the environment on every request (≈1 ms of CPU per
            # call in bench/diagnose.py); the helpdesk URL is configured explicitly.
            session.trust_env = False
            # Keep a connection for each of many worker threads (requests keeps 10 by default
            # and opens and closes one per call beyond that).
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        if headers:
            self.session.headers.update(headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.base_url)!r}, timeout={self.timeout})"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        check: Callable[[], bool] | None = None,
    ) -> Any:
        """Make one call (with in-call retries of transient failures); return the parsed JSON.

        An empty 2xx body gives ``None``. Raises :class:`~connector.errors.ConnectorError`
        subclasses only.

        :param check: for a write that must not happen twice: called after a failure that may
            have been applied (``maybe_applied``) and before any resend; ``True`` means the write
            took, and the call returns ``None`` (the answer is lost, the effect is there).
        """
        method = method.upper()
        url = self.url(path)
        data = dumps(json) if json is not None else None
        send = self._send if check is None else self._checked_send(check)
        retrying = Retrying(
            sleep=self._sleep,
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=retry_if_exception(_may_resend),
            before_sleep=self._log_retry,
            reraise=True,
        )
        response = retrying(send, method, url, params, data)
        if response is None or not response.content:
            return None
        try:
            return loads(response.content)
        except ValueError as exc:
            raise ProtocolError(
                f"answer is not JSON: {exc}",
                method=method,
                url=_shown(url, params),
                status=response.status_code,
            ) from exc

    def _checked_send(
        self, check: Callable[[], bool]
    ) -> Callable[[str, str, Mapping[str, Any] | None, bytes | None], requests.Response | None]:
        """``_send`` that, after a failure that may have been applied, asks ``check`` whether the
        write took before tenacity may send it again; ``None`` when it took."""

        def send(method: str, url: str, params: Mapping[str, Any] | None,
                 data: bytes | None) -> requests.Response | None:
            try:
                return self._send(method, url, params, data)
            except TransientError as exc:
                if not exc.maybe_applied:
                    raise
                try:
                    took = check()
                    if not took and self.settle > 0:
                        # A slow write may still be under way at the helpdesk: give it time to
                        # land before looking again, never resend while it may be in flight.
                        self._sleep(self.settle)
                        took = check()
                except ConnectorError as failed:
                    exc.resend_unsafe = True  # cannot tell: the caller's recovery looks later
                    log.warning("%s: cannot tell whether the write took (%s); not resent now",
                                exc, failed)
                    raise exc from failed
                if took:
                    log.warning("%s: the write took although its answer was lost", exc)
                    return None
                raise

        return send

    def _send(
        self, method: str, url: str, params: Mapping[str, Any] | None, data: bytes | None
    ) -> requests.Response:
        """The single transport call: the only place ``requests`` exceptions are translated."""
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect would re-send the token somewhere else
            )
        except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
            shown = _shown(url, params)
            raise ConnectorTimeout(
                f"no answer within {self.timeout:g}s ({type(exc).__name__})", method=method,
                url=shown, maybe_applied=not isinstance(exc, requests.ConnectTimeout),
            ) from exc
        except requests.ConnectionError as exc:
            shown = _shown(url, params)
            raise ConnectorUnavailable(
                f"cannot connect ({type(exc).__name__})", method=method, url=shown,
                maybe_applied=not _never_connected(exc),
            ) from exc
        except requests.RequestException as exc:
            shown = _shown(url, params)
            raise ConnectorError(
                f"request failed ({type(exc).__name__})", method=method, url=shown
            ) from exc
        if 200 <= response.status_code < 300:
            return response
        raise self._error_for(method, _shown(url, params), response)

    def _error_for(self, method: str, url: str, response: requests.Response) -> ConnectorError:
        status = response.status_code
        cls = error_class_for(status)
        try:
            said = self._error_message(response)
        except Exception:  # an extractor bug must not hide the real error
            log.exception("error-message extractor failed on %s %s -> %s", method, url, status)
            said = None
        message = f"helpdesk answered {status} {response.reason or ''}".rstrip()
        if 300 <= status < 400:
            message += f" (redirect to {redact_url(response.headers.get('Location', '?'))})"
        kw: dict[str, Any] = {
            "method": method, "url": url, "status": status, "helpdesk_message": said,
        }
        if issubclass(cls, TransientError):
            return cls(
                message, retry_after=parse_retry_after(response.headers.get("Retry-After")),
                maybe_applied=status in MAYBE_APPLIED_STATUSES, **kw
            )
        return cls(message, **kw)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self._retry_after_cap)
        backoff: float = self._backoff_base * 2 ** (state.attempt_number - 1)
        return min(backoff, self._backoff_max)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("retrying after %s (attempt %d), waiting %.1fs", exc, state.attempt_number, wait)

    def close(self) -> None:
        self.session.close()
