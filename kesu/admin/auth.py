"""Admin tokens (``[admin.tokens.<name>]``) and their scopes: ``read`` sees, ``write`` also acts.

The API takes ``Authorization: Bearer <token>``; the page keeps a session value derived from the
token (never the token itself: a cookie leaked from a browser or a log is no bearer token) in an
HttpOnly, SameSite=Strict cookie and adds a per-token form token to every form (CSRF). The token's name is
recorded as who decided (ledger ``decided_by``, audit entries).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from kesu.settings import AdminSettings

SCOPES = ("read", "write")


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def authenticate(settings: AdminSettings, token: str | None) -> Principal | None:
    """The token's owner, or None. Every configured token is compared (in constant time)."""
    if not token:
        return None
    found = None
    for name, entry in sorted(settings.tokens.items()):
        secret = entry.token.get_secret_value()
        if secret and hmac.compare_digest(secret.encode("utf-8"), token.encode("utf-8")) and found is None:
            found = Principal(name, frozenset(entry.scopes))
    return found


def session_value(token: str) -> str:
    """What the page's login cookie holds for ``token``: an HMAC of it, not the token."""
    return hmac.new(token.encode("utf-8"), b"kesu-admin-session", hashlib.sha256).hexdigest()


def authenticate_session(settings: AdminSettings, value: str | None) -> tuple[Principal | None, str]:
    """The owner of the token whose session value is ``value``, and that token; (None, "")."""
    found: tuple[Principal | None, str] = (None, "")
    if not value:
        return found
    for name, entry in sorted(settings.tokens.items()):
        secret = entry.token.get_secret_value()
        if secret and hmac.compare_digest(session_value(secret), value) and found[0] is None:
            found = (Principal(name, frozenset(entry.scopes)), secret)
    return found


def form_token(token: str) -> str:
    """The CSRF token of the page's forms: derived from the login token, useless without it."""
    return hmac.new(token.encode("utf-8"), b"kesu-admin-form", hashlib.sha256).hexdigest()


def form_token_ok(token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(form_token(token), submitted or "")
