"""Errors the way Odoo reports them over its external APIs.

Every failure inside the sandbox is an ``RpcError`` carrying what Odoo's ``serialize_exception``
puts on the wire (``name`` = ``module.ClassName``, ``message``, ``arguments``, ``context``,
``debug``) plus the HTTP status the JSON-2 dispatcher (Odoo 19) derives from the exception class:

=====================================  =======  ============================================
exception                              JSON-2   where it comes from in Odoo
=====================================  =======  ============================================
odoo.exceptions.UserError              422      ``UserError.http_status``
odoo.exceptions.ValidationError        422      subclass of UserError
odoo.exceptions.AccessError            403      ``AccessError.http_status``
odoo.exceptions.AccessDenied           403      ``AccessDenied.http_status``
odoo.exceptions.MissingError           404      ``MissingError.http_status``
werkzeug.exceptions.<HTTPException>    code     ``exc.code``; arguments = [description, code]
builtins.* / psycopg2.* (server bug)   500      "anything else"
=====================================  =======  ============================================

Legacy JSON-RPC always answers HTTP 200 with ``{"code": 200, "message": "Odoo Server Error",
"data": <serialized>}`` (``code`` 100 / "Odoo Session Expired" for an expired web session,
``code`` 404 / "404: Not Found" for werkzeug's NotFound).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class RpcError(Exception):
    """One Odoo exception as seen by an RPC client."""

    def __init__(
        self,
        name: str,
        message: str,
        *,
        http_status: int = 500,
        arguments: tuple[Any, ...] | list[Any] | None = None,
        traceback: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.http_status = http_status
        self.arguments = list(arguments) if arguments is not None else [message]
        self.traceback = traceback
        self.headers = dict(headers or {})

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def is_http(self) -> bool:
        return self.name.startswith("werkzeug.exceptions.")

    def debug(self) -> str:
        if not self.traceback:
            # AccessDenied.suppress_traceback(): only the exception line is left
            return f"{self.name}: {self.message}\n"
        return (
            "Traceback (most recent call last):\n"
            '  File "/opt/odoo/odoo/service/model.py", line 156, in retrying\n'
            "    result = func()\n"
            f"{self.name}: {self.message}\n"
        )

    def serialize(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "message": self.message,
            "arguments": list(self.arguments),
            "context": {},
            "debug": self.debug(),
        }

    def serialize_legacy(self) -> dict[str, Any]:
        """JSON-RPC ``data``: werkzeug exceptions are serialized from ``str(exc)`` with empty args."""
        if not self.is_http:
            return self.serialize()
        phrase = HTTPStatus(self.http_status).phrase if self.http_status in HTTPStatus._value2member_map_ else ""
        out = self.serialize()
        out["message"] = f"{self.http_status} {phrase}: {self.message}"
        out["arguments"] = []
        out["debug"] = out["debug"].replace(f"{self.name}: {self.message}", f"{self.name}: {out['message']}")
        return out

    def __repr__(self) -> str:
        return f"RpcError({self.name!r}, {self.message!r})"


# ------------------------------------------------------------------------ odoo.exceptions


def user_error(message: str) -> RpcError:
    return RpcError("odoo.exceptions.UserError", message, http_status=422)


def validation_error(message: str) -> RpcError:
    return RpcError("odoo.exceptions.ValidationError", message, http_status=422)


def access_error(message: str) -> RpcError:
    return RpcError("odoo.exceptions.AccessError", message, http_status=403)


def access_denied(message: str = "Access Denied") -> RpcError:
    return RpcError("odoo.exceptions.AccessDenied", message, http_status=403, traceback=False)


def missing_error(model: str, ids: list[int], uid: int) -> RpcError:
    msg = (
        "Record does not exist or has been deleted.\n"
        f"(Record: {model}({', '.join(str(i) for i in ids[:6])}{',' if len(ids) == 1 else ''}), User: {uid})"
    )
    return RpcError("odoo.exceptions.MissingError", msg, http_status=404)


def session_expired() -> RpcError:
    return RpcError("odoo.http.SessionExpiredException", "Session expired", http_status=403)


# --------------------------------------------------------------------------- python errors


def value_error(message: str) -> RpcError:
    return RpcError("builtins.ValueError", message)


def type_error(message: str) -> RpcError:
    return RpcError("builtins.TypeError", message)


def attribute_error(message: str) -> RpcError:
    return RpcError("builtins.AttributeError", message)


def key_error(key: str) -> RpcError:
    return RpcError("builtins.KeyError", repr(key))


def operational_error(database: str) -> RpcError:
    return RpcError(
        "psycopg2.OperationalError",
        f'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
        f'FATAL:  database "{database}" does not exist\n',
    )


# ------------------------------------------------------------------------ werkzeug (JSON-2)


def http_error(code: int, description: str, headers: dict[str, str] | None = None) -> RpcError:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        415: "UnsupportedMediaType",
        422: "UnprocessableEntity",
    }
    return RpcError(
        f"werkzeug.exceptions.{names.get(code, 'HTTPException')}",
        description,
        http_status=code,
        arguments=[description, code],
        headers=headers,
    )


def not_found(description: str) -> RpcError:
    return http_error(404, description)


def unprocessable(description: str) -> RpcError:
    return http_error(422, description)


def unauthorized(description: str = "Invalid apikey") -> RpcError:
    return http_error(401, description, {"WWW-Authenticate": "Bearer"})


# ------------------------------------------------------------------------- fault shorthands

_NAMED = {
    "UserError": user_error,
    "ValidationError": validation_error,
    "AccessError": access_error,
    "MissingError": lambda message: RpcError("odoo.exceptions.MissingError", message, http_status=404),
    "AccessDenied": access_denied,
}


def by_name(name: str, message: str | None = None) -> RpcError:
    """``"UserError"``, ``"odoo.exceptions.AccessError"``, ``"psycopg2.errors.SerializationFailure"`` …"""
    short = name.rsplit(".", 1)[-1]
    if short in _NAMED:
        return _NAMED[short](message or f"sandbox fault: {short}")
    full = name if "." in name else f"builtins.{name}"
    return RpcError(full, message or f"sandbox fault: {short}")
