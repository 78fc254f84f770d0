"""A small typed client for the Zammad REST endpoints kesu uses (``/api/v1``).

Everything goes through :class:`connector.http.HttpTransport`, so timeouts, retries and the error
mapping are the shared ones. Zammad answers errors as ``{"error", "error_human"}`` (and puts the
human text in ``X-Failure`` on 401/403); status mapping:

==========  ==========================================================
401         AuthenticationFailed (bad or expired token)
403         PermissionDenied
404         NotFound
422, 4xx    InvalidRequest (validation, Core Workflow, bad condition)
429         RateLimited, retried in-call honouring ``Retry-After``
502/3/4     ConnectorUnavailable, retried in-call
500         HelpdeskError, *not* retried: Zammad answers 500 for its own exceptions
==========  ==========================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from pydantic import SecretStr

from connector.errors import InvalidRequest, ProtocolError
from connector.http import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    HttpTransport,
    default_error_message,
    redact_url,
)
from kesu.settings import HelpdeskSettings

JSON = dict[str, Any]

SEARCH_PER_PAGE_MAX = 200  # Zammad's cap for /tickets/search
INDEX_PER_PAGE = 500  # generic index endpoints (/groups ...) default to 500, max 1000


def zammad_error_message(response: requests.Response) -> str | None:
    """``error_human`` (or ``error``) from the body; ``X-Failure`` when the body has none."""
    return default_error_message(response) or response.headers.get("X-Failure") or None


def _check_id(value: str | int, what: str) -> str:
    """Ids go into URL paths: only plain numbers are allowed there."""
    text = str(value)
    if not text.isdigit():
        raise InvalidRequest(f"{what} id must be a number, got {text!r}")
    return text


class ZammadClient:
    """Typed access to the Zammad endpoints kesu needs; one instance per Zammad.

    :param url: base URL of Zammad, e.g. ``https://zammad.example.com`` (``/api/v1`` is added),
        or the ``[helpdesk]`` settings, which then also give token, timeout and retries.
    :param token: personal access token of kesu's bot user (sent as ``Token token=...``).
    :param sleep: how retry waits are spent (tests pass a recorder).
    """

    def __init__(
        self,
        url: str | HelpdeskSettings,
        token: str | SecretStr | None = None,
        *,
        timeout: float | None = None,
        retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        if isinstance(url, HelpdeskSettings):
            settings = url
            url = settings.url
            token = settings.token if token is None else token
            timeout = settings.timeout if timeout is None else timeout
            retries = settings.retries if retries is None else retries
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Zammad url must start with http:// or https://, got {url!r}")
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        headers = {"Authorization": f"Token token={secret}"} if secret else {}
        self.base_url = url.rstrip("/")
        self.http = HttpTransport(
            f"{self.base_url}/api/v1",
            headers=headers,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            retries=DEFAULT_RETRIES if retries is None else retries,
            error_message=zammad_error_message,
            sleep=sleep,
            session=session,
        )

    def __repr__(self) -> str:
        return f"ZammadClient({redact_url(self.base_url)!r})"

    def url(self, path: str) -> str:
        """The full URL of an API path, without secrets (for error messages)."""
        return redact_url(self.http.url(path))

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.http.request("GET", path, params=params)

    def _expect(self, value: Any, kind: type, method: str, path: str) -> Any:
        if not isinstance(value, kind):
            raise ProtocolError(
                f"expected a JSON {kind.__name__}, got {type(value).__name__}",
                method=method,
                url=self.url(path),
            )
        return value

    def _index(self, path: str) -> list[JSON]:
        """All rows of a generic index endpoint, page by page."""
        rows: list[JSON] = []
        page = 1
        while True:
            batch = self._expect(
                self._get(path, {"page": page, "per_page": INDEX_PER_PAGE}), list, "GET", path
            )
            rows.extend(r for r in batch if isinstance(r, dict))
            if len(batch) < INDEX_PER_PAGE:
                return rows
            page += 1

    # -- users ---------------------------------------------------------------------------------

    def me(self) -> JSON:
        """``GET /users/me``: the user the token belongs to (kesu's bot)."""
        result: JSON = self._expect(self._get("/users/me"), dict, "GET", "/users/me")
        return result

    def user(self, user_id: str | int) -> JSON:
        path = f"/users/{_check_id(user_id, 'user')}"
        result: JSON = self._expect(self._get(path), dict, "GET", path)
        return result

    # -- tickets -------------------------------------------------------------------------------

    def ticket_all(self, ticket_id: str | int) -> JSON:
        """``GET /tickets/{id}?all=true``: ticket, articles, users, tags and links in one call."""
        path = f"/tickets/{_check_id(ticket_id, 'ticket')}"
        result: JSON = self._expect(self._get(path, {"all": "true"}), dict, "GET", path)
        return result

    def update_ticket(
        self,
        ticket_id: str | int,
        fields: Mapping[str, Any],
        article: Mapping[str, Any] | None = None,
        *,
        check: Callable[[], bool] | None = None,
    ) -> JSON:
        """``PUT /tickets/{id}``: fields by name (``group``, ``priority``, ``owner`` login ...)
        and optionally a new article, in one Zammad transaction (one trigger evaluation).

        :param check: whether the PUT took, asked before resending after a lost answer (a PUT
            with an article is not idempotent: a blind resend adds the note twice).
        """
        path = f"/tickets/{_check_id(ticket_id, 'ticket')}"
        body: JSON = dict(fields)
        if article is not None:
            body["article"] = dict(article)
        result = self.http.request("PUT", path, json=body, check=check)
        return result if isinstance(result, dict) else {}

    def add_tag(self, ticket_id: str | int, tag: str, *, check: Callable[[], bool] | None = None) -> None:
        """``POST /tags/add``; adding a present tag is a no-op in Zammad. ``check`` (is the tag
        there?) is asked before resending a call whose answer was lost."""
        self.http.request("POST", "/tags/add", json=self._tag_body(ticket_id, tag), check=check)

    def remove_tag(self, ticket_id: str | int, tag: str, *, check: Callable[[], bool] | None = None) -> None:
        """``DELETE /tags/remove`` (with a JSON body, as Zammad wants); ``check`` as for
        :meth:`add_tag` (is the tag gone?)."""
        self.http.request("DELETE", "/tags/remove", json=self._tag_body(ticket_id, tag), check=check)

    def tags(self, ticket_id: str | int) -> list[str]:
        """``GET /tags?object=Ticket&o_id=``: the ticket's tags."""
        path = "/tags"
        data = self._get(path, {"object": "Ticket", "o_id": int(_check_id(ticket_id, "ticket"))})
        tags = data.get("tags") if isinstance(data, dict) else None
        return [str(t) for t in tags] if isinstance(tags, list) else []

    @staticmethod
    def _tag_body(ticket_id: str | int, tag: str) -> JSON:
        return {"item": tag, "object": "Ticket", "o_id": int(_check_id(ticket_id, "ticket"))}

    def search_tickets(
        self,
        condition: Mapping[str, Any],
        *,
        page: int = 1,
        per_page: int = 100,
        sort_by: str = "updated_at",
        order_by: str = "asc",
    ) -> list[JSON]:
        """One page of ``POST /tickets/search`` with a condition (DB path, no Elasticsearch).

        Zammad answers either a list of tickets (``expand``) or ``{"tickets": [ids], "assets":
        {"Ticket": {...}}}``; both come back as a list of ticket dicts in result order.
        """
        if not 1 <= per_page <= SEARCH_PER_PAGE_MAX:
            raise ValueError(f"per_page must be 1..{SEARCH_PER_PAGE_MAX}, got {per_page}")
        body = {
            "condition": dict(condition),
            "sort_by": sort_by,
            "order_by": order_by,
            "page": page,
            "per_page": per_page,
        }
        result = self.http.request("POST", "/tickets/search", json=body)
        if isinstance(result, list):
            return [r for r in result if isinstance(r, dict)]
        if isinstance(result, dict) and isinstance(result.get("tickets"), list):
            assets = (result.get("assets") or {}).get("Ticket") or {}
            return [
                assets.get(str(tid)) or {"id": tid}
                for tid in result["tickets"]
                if not isinstance(tid, bool)
            ]
        raise ProtocolError(
            "unexpected /tickets/search answer", method="POST", url=self.url("/tickets/search")
        )

    def iter_search(
        self, condition: Mapping[str, Any], *, per_page: int = 100, **kw: Any
    ) -> Iterator[JSON]:
        """Every ticket matching ``condition``, page after page until a short page."""
        page = 1
        while True:
            rows = self.search_tickets(condition, page=page, per_page=per_page, **kw)
            yield from rows
            if len(rows) < per_page:
                return
            page += 1

    # -- lookups -------------------------------------------------------------------------------

    def ticket_priorities(self) -> list[JSON]:
        return self._index("/ticket_priorities")

    def ticket_states(self) -> list[JSON]:
        return self._index("/ticket_states")

    def groups(self) -> list[JSON]:
        return self._index("/groups")

    # -- webhooks and triggers (setup) ---------------------------------------------------------

    def webhooks(self) -> list[JSON]:
        return self._index("/webhooks")

    def create_webhook(self, data: Mapping[str, Any]) -> JSON:
        result: JSON = self._expect(
            self.http.request("POST", "/webhooks", json=dict(data)), dict, "POST", "/webhooks"
        )
        return result

    def update_webhook(self, webhook_id: str | int, data: Mapping[str, Any]) -> JSON:
        path = f"/webhooks/{_check_id(webhook_id, 'webhook')}"
        result: JSON = self._expect(self.http.request("PUT", path, json=dict(data)), dict, "PUT", path)
        return result

    def triggers(self) -> list[JSON]:
        return self._index("/triggers")

    def create_trigger(self, data: Mapping[str, Any]) -> JSON:
        result: JSON = self._expect(
            self.http.request("POST", "/triggers", json=dict(data)), dict, "POST", "/triggers"
        )
        return result

    def update_trigger(self, trigger_id: str | int, data: Mapping[str, Any]) -> JSON:
        path = f"/triggers/{_check_id(trigger_id, 'trigger')}"
        result: JSON = self._expect(self.http.request("PUT", path, json=dict(data)), dict, "PUT", path)
        return result

    # -- object manager (setup: ticket attributes) ---------------------------------------------

    def object_attributes(self) -> list[JSON]:
        """Every object manager attribute (all objects; not paged)."""
        path = "/object_manager_attributes"
        rows = self._expect(self._get(path), list, "GET", path)
        return [r for r in rows if isinstance(r, dict)]

    def create_object_attribute(self, data: Mapping[str, Any]) -> JSON:
        path = "/object_manager_attributes"
        result: JSON = self._expect(self.http.request("POST", path, json=dict(data)), dict, "POST", path)
        return result

    def update_object_attribute(self, attribute_id: str | int, data: Mapping[str, Any]) -> JSON:
        path = f"/object_manager_attributes/{_check_id(attribute_id, 'attribute')}"
        result: JSON = self._expect(self.http.request("PUT", path, json=dict(data)), dict, "PUT", path)
        return result

    def execute_migrations(self) -> None:
        """Apply pending attribute changes (Zammad creates the ticket columns)."""
        self.http.request("POST", "/object_manager_attributes_execute_migrations", json={})

    def close(self) -> None:
        self.http.close()
