"""Errors raised by connectors.

``requests`` exceptions are translated into these at exactly one boundary (the transport call in
each client); nothing above a connector ever sees a ``requests`` exception.

    ConnectorError
    ├── TransientError            -- worth retrying later: the pipeline backs off and retries
    │   ├── ConnectorTimeout      -- connect or read timeout
    │   ├── ConnectorUnavailable  -- connection refused/reset, 502/503/504
    │   └── RateLimited           -- 429, carries ``retry_after`` seconds when the helpdesk said
    ├── HelpdeskError             -- the helpdesk answered with an error that retrying won't fix
    │   ├── AuthenticationFailed  -- 401 (bad or expired token)
    │   ├── PermissionDenied      -- 403
    │   ├── NotFound              -- 404
    │   └── InvalidRequest        -- 422 and other 4xx
    └── ProtocolError             -- the answer was not what the protocol promises (bad JSON ...)

    WebhookRejected                -- an incoming webhook is not acceptable (carries the HTTP
                                      status to answer with and the reason)

Every ``ConnectorError`` carries the method, the URL (never with secrets), the HTTP status and the
helpdesk's own message (Zammad's ``error_human`` / Odoo's ``message``).
"""

from __future__ import annotations


class ConnectorError(Exception):
    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        helpdesk_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.status = status
        self.helpdesk_message = helpdesk_message

    def __str__(self) -> str:
        where = " ".join(p for p in (self.method, self.url) if p)
        parts = [self.message]
        if where:
            parts.append(f"({where}")
            parts[-1] += f" -> {self.status})" if self.status is not None else ")"
        if self.helpdesk_message and self.helpdesk_message not in self.message:
            parts.append(f"helpdesk said: {self.helpdesk_message}")
        return " ".join(parts)


class TransientError(ConnectorError):
    """A failure that may go away: the event waits and is retried with backoff.

    ``retry_after`` is the helpdesk's own ``Retry-After`` (seconds) when it sent one (429, 503).
    ``maybe_applied`` is true when the request reached the helpdesk and only the answer is
    missing (read timeout, dropped connection, 502/504 from a proxy): a write may have landed,
    so it must not be sent again before checking (issue 10 item 1). ``resend_unsafe`` is set
    when that check could not be made: the transport does not resend such a write in-call.
    """

    def __init__(self, message: str, *, retry_after: float | None = None,
                 maybe_applied: bool = False, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied
        self.resend_unsafe = False


class ConnectorTimeout(TransientError):
    pass


class ConnectorUnavailable(TransientError):
    pass


class RateLimited(TransientError):
    pass


class HelpdeskError(ConnectorError):
    """The helpdesk refused the request; retrying the same request will not help."""


class AuthenticationFailed(HelpdeskError):
    pass


class PermissionDenied(HelpdeskError):
    pass


class NotFound(HelpdeskError):
    pass


class InvalidRequest(HelpdeskError):
    pass


class ProtocolError(ConnectorError):
    pass


class WebhookRejected(Exception):
    """An incoming webhook that kesu will not accept; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
