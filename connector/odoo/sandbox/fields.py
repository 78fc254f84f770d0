"""Field and model definitions, value conversion and rendering (Odoo's ``convert_to_*``).

Raw (stored) values: ``None`` for empty, ``int`` ids for many2one, ``tuple`` of ids for many2many,
naive-UTC ``datetime`` (microsecond precision, like PostgreSQL ``timestamp``) and ``date`` objects.
One2many values are never stored: they are computed from the inverse many2one.

Rendering follows Odoo: ``read()`` gives ``False`` for empty values, ``[id, display_name]`` for a
many2one (``load='_classic_read'``, the default) or the bare id (any other ``load``), id lists for
x2many; the JSON layer renders datetimes as ``"YYYY-MM-DD HH:MM:SS"`` (``DEFAULT_SERVER_DATETIME_FORMAT``,
no fraction) and dates as ``"YYYY-MM-DD"``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from . import errors

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"

RELATIONAL = ("many2one", "one2many", "many2many")
X2MANY = ("one2many", "many2many")
TEXTUAL = ("char", "text", "html", "selection")

# magic columns every model has (ORM "automatic fields"); never writable
LOG_ACCESS = ("create_uid", "create_date", "write_uid", "write_date")


@dataclass
class Field:
    name: str
    type: str
    string: str
    required: bool = False
    readonly: bool = False
    store: bool = True
    relation: str | None = None
    inverse_name: str | None = None  # one2many: the many2one on the comodel
    selection: list[tuple[str, str]] | None = None
    default: Any = None  # value or callable(state, uid) -> value
    compute: Callable[..., Any] | None = None  # (state, model, rec, txn) -> raw value
    help: str = ""
    groups: str | None = None
    related: str | None = None  # dotted path, for fields_get only
    sortable: bool = True
    ondelete: str = "set null"  # many2one: "cascade" deletes the record with its target
    owner: str | None = None  # model named in conversion errors (delegated fields)
    manual: bool = False  # a custom field (``ir.model.fields`` state ``manual``, see manual.py)

    @property
    def computed(self) -> bool:
        return self.compute is not None

    def describe(self) -> dict[str, Any]:
        """One entry of ``fields_get()``."""
        out: dict[str, Any] = {
            "type": self.type,
            "string": self.string,
            "help": self.help or False,
            "required": self.required,
            "readonly": self.readonly or (self.computed and self.name not in ("display_name",)),
            "store": self.store and not self.computed,
            "searchable": True,
            "sortable": self.store and not self.computed and self.type not in X2MANY and self.sortable,
            "groupable": self.store and not self.computed and self.type not in ("one2many", "text", "html"),
            "manual": self.manual,
            "company_dependent": False,
            "change_default": False,
            "exportable": True,
            "depends": [],
            "name": self.name,
        }
        if self.type in RELATIONAL:
            out["relation"] = self.relation
            out["domain"] = []
            out["context"] = {}
        if self.type == "one2many":
            out["relation_field"] = self.inverse_name
        if self.type == "selection":
            out["selection"] = [list(item) for item in (self.selection or [])]
        if self.type in ("char", "text", "html"):
            out["translate"] = False
        if self.type == "char":
            out["trim"] = True
        if self.type == "html":
            out["sanitize"] = True
        if self.related:
            out["related"] = self.related
        return out


@dataclass
class ModelDef:
    name: str
    description: str
    fields: dict[str, Field] = field(default_factory=dict)
    order: str = "id"
    rec_name: str | None = "name"
    module: str = "base"
    mail_thread: bool = False
    display: Callable[..., str] | None = None  # (state, rec, txn) -> display_name
    acl: dict[str, str] = field(default_factory=dict)  # group -> letters of "rwcu"
    on_create: Callable[..., None] | None = None  # (state, txn, rec, vals) before insert
    on_write: Callable[..., None] | None = None  # (state, txn, old, new, vals) before commit of a write
    constrains: Callable[..., None] | None = None  # (state, txn, rec) after create/write (``@api.constrains``)
    transient: bool = False

    def add(self, *fields: Field) -> ModelDef:
        for f in fields:
            self.fields[f.name] = f
        return self

    @property
    def has_active(self) -> bool:
        return "active" in self.fields


# ------------------------------------------------------------------------------ rendering


def fmt_datetime(value: datetime) -> str:
    return value.isoformat(" ", "seconds")  # == strftime(DATETIME_FORMAT), 5x faster


def fmt_date(value: date) -> str:
    return value.isoformat()


def to_utc_naive(dt: datetime) -> datetime:
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def parse_datetime(value: Any, fname: str = "") -> datetime | None:
    """``Datetime.to_datetime``: ``"YYYY-MM-DD[ HH:MM:SS[.ffffff]]"`` (``T`` tolerated)."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc_naive(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise errors.value_error(f"Invalid datetime value {value!r} for {fname}")
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.strptime(text, DATE_FORMAT)
        return to_utc_naive(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise errors.value_error(
            f"time data {value!r} does not match format '{DATETIME_FORMAT}'"
        ) from exc


def parse_date(value: Any, fname: str = "") -> date | None:
    if value is None or value is False or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise errors.value_error(f"Invalid date value {value!r} for {fname}")
    try:
        return datetime.strptime(value.strip()[:10], DATE_FORMAT).date()
    except ValueError as exc:
        raise errors.value_error(f"time data {value!r} does not match format '{DATE_FORMAT}'") from exc


_HTML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}
_HTML_ESCAPE_RE = re.compile(r"[&<>\"']")


def html_escape(text: str) -> str:
    """``markupsafe.escape`` for a plain ``str``."""
    return _HTML_ESCAPE_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], text)


def html_sanitize(value: str) -> str:
    """The part of ``tools.html_sanitize`` a client can observe here: plain text gets a ``<p>``."""
    stripped = value.strip()
    if not stripped:
        return value
    if not stripped.startswith("<"):
        return f"<p>{value}</p>"
    return value


def plaintext(html: str | None) -> str:
    if not html:
        return ""
    text = re.sub(r"<br\s*/?>", "\n", html)
    text = re.sub(r"</p>\s*<p[^>]*>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&#34;", '"'), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text.strip()
