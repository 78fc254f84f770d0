"""The object manager of the sandbox: custom ticket attributes (``/api/v1/object_manager_attributes``).

As in Zammad 6.x (``ObjectManager::Attribute``, ``ObjectManagerAttributesController``):

* create stores the attribute with ``to_create``/``to_migrate`` and answers 201; the ticket column
  exists only after ``POST /object_manager_attributes_execute_migrations`` -- until then the
  attribute is neither shown on tickets nor written by ticket updates;
* update (``PUT …/{id}``, found by ``object`` + ``name``) keeps the live ``data_option`` and puts the
  new one in ``data_option_new`` with ``to_config`` until the migration runs; display, position,
  active and screens change at once; the data type can only move within select/input/tree_select/
  checkbox;
* names: lower-case letters, digits and ``_``, at least one letter, not ``*_id``/``*_ids``, not a
  reserved word, not an existing ticket column;
* ``data_option`` per data type (``input``: type and maxlength; ``select``/``multiselect``: default
  and options; ``boolean``: default and options; ``integer``: min and max; ``datetime``: future,
  past and diff; ``date``: diff);
* delete removes an attribute still ``to_create`` at once, else marks ``to_delete`` (the column goes
  with the migration); ``…_discard_changes`` forgets what is pending.

Ticket values of migrated attributes are stored like their column: integers, booleans (Rails' cast:
``0``/``f``/``false``/``off`` are false, any other value true), datetimes normalised to Zammad's ``…Z``
form (a time without offset is UTC, the application's zone), dates ``YYYY-MM-DD``; an integer or a
time that does not parse is a 422.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from . import seeds, timefmt

if TYPE_CHECKING:
    from .model import ZammadState

DATA_TYPES = (
    "input", "user_autocompletion", "checkbox", "select", "multiselect", "tree_select", "multi_tree_select",
    "datetime", "date", "tag", "richtext", "textarea", "integer", "autocompletion_ajax", "boolean",
    "user_permission", "active",
)
RESERVED = frozenset(
    "destroy true false integer select drop create alter index table varchar blob date datetime timestamp url "
    "icon initials avatar permission validate subscribe unsubscribe translate search _type _doc _id id "
    "article".split()
)
CHANGEABLE_TYPES = frozenset({"tree_select", "select", "input", "checkbox"})
INPUT_TYPES = ("text", "password", "tel", "fax", "email", "url")
DEFAULT_POSITION = 1550
_FALSE_WORDS = frozenset({"0", "f", "F", "false", "FALSE", "off", "OFF"})
# Built-in ticket attributes, listed like Zammad's seeds (not editable).
BUILTIN = (
    ("title", "Title", "input", 8), ("customer_id", "Customer", "user_autocompletion", 10),
    ("organization_id", "Organization", "autocompletion_ajax", 12), ("group_id", "Group", "select", 25),
    ("owner_id", "Owner", "select", 30), ("state_id", "State", "select", 40),
    ("pending_time", "Pending till", "datetime", 41), ("priority_id", "Priority", "select", 80),
    ("tags", "Tags", "tag", 900),
)


def _error(message: str) -> Exception:
    from .model import unprocessable

    return unprocessable(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, str) and value.isdigit())


class ObjectManager:
    """Ticket attributes of one sandbox; the caller holds ``state.lock``."""

    def __init__(self, state: ZammadState) -> None:
        self.state = state
        self.rows: dict[int, dict[str, Any]] = {}
        self._next = 1
        now = state.clock.now_str()
        for name, display, data_type, position in BUILTIN:
            self._insert({"name": name, "display": display, "data_type": data_type, "data_option": {"null": False},
                          "editable": False, "active": True, "position": position, "screens": {}}, now)

    # -- records ---------------------------------------------------------------------------

    def _insert(self, values: Mapping[str, Any], now: str, uid: int = 1) -> dict[str, Any]:
        row = {
            "id": self._next, "object_lookup_id": 2, "object": "Ticket", "name": values["name"],
            "display": values.get("display") or values["name"], "data_type": values["data_type"],
            "data_option": copy.deepcopy(values.get("data_option") or {}), "data_option_new": {},
            "editable": values.get("editable", True), "active": values.get("active", True),
            "screens": copy.deepcopy(values.get("screens") or {}), "to_create": False, "to_migrate": False,
            "to_delete": False, "to_config": False, "position": values.get("position", DEFAULT_POSITION),
            "created_by_id": uid, "updated_by_id": uid, "created_at": now, "updated_at": now,
        }
        self.rows[row["id"]] = row
        self._next += 1
        return row

    def by_name(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.rows.values() if r["name"] == name), None)

    def out(self, row: Mapping[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(dict(row))
        data["deletable"] = bool(row["editable"])
        return data

    def list(self) -> list[dict[str, Any]]:
        return [self.out(r) for r in sorted(self.rows.values(), key=lambda r: (r["position"], r["name"]))]

    def get(self, ident: Any) -> dict[str, Any]:
        from .model import not_found

        try:
            row = self.rows.get(int(ident))
        except (TypeError, ValueError):
            row = None
        if row is None:
            raise not_found("ObjectManager::Attribute", ident)
        return row

    # -- validation ------------------------------------------------------------------------

    def _check_name(self, name: Any, *, new: bool) -> str:
        if not isinstance(name, str) or not name:
            raise _error("Validation failed: Name can't be blank")
        name = name.lower()
        problems = []
        if re.search(r".+?_(id|ids)$", name):
            problems.append("Name can't get used because *_id and *_ids are not allowed")
        if re.search(r"\s", name):
            problems.append("Name spaces are not allowed")
        if not re.fullmatch(r"[a-z0-9_]+", name):
            problems.append("Name Only letters from a-z because numbers from 0-9 and _ are allowed")
        if not re.search(r"[a-z]", name):
            problems.append("Name At least one letters is needed")
        if name in RESERVED:
            problems.append(f"Name {name} is a reserved word")
        if new and (name in seeds.TICKET_COLUMNS or name in seeds.TICKET_WRITABLE):
            problems.append(f"Name {name} already exists!")
        if problems:
            raise _error("Validation failed: " + ", ".join(problems))
        return name

    @staticmethod
    def _data_option(params: Mapping[str, Any]) -> dict[str, Any]:
        """The controller's ``permitted_params``: boolean keys, default/null/options/relation filled in."""
        data_type = str(params.get("data_type") or "")
        option = params.get("data_option")
        if not isinstance(option, Mapping):
            return {"default": "", "options": {}, "relation": "", "null": True}
        option = copy.deepcopy(dict(option))
        if data_type == "boolean":
            opts = option.get("options")
            if isinstance(opts, Mapping):
                option["options"] = {(True if str(k) == "true" else False if str(k) == "false" else k): v
                                     for k, v in opts.items()}
            if option.get("default") in ("true", "false"):
                option["default"] = option["default"] == "true"
        if "default" not in option:
            option["default"] = "" if re.fullmatch(r"input|select|tree_select", data_type) else None
        if option.get("null") is None:
            option["null"] = True
        if not isinstance(option.get("options"), (Mapping, list)):
            option["options"] = {}
        if not isinstance(option.get("relation"), str):
            option["relation"] = ""
        return option

    @staticmethod
    def _validate(data_type: str, option: dict[str, Any]) -> None:
        if data_type not in DATA_TYPES:
            raise _error(f"Validation failed: Data type {data_type} is not a valid data type")
        if re.fullmatch(r"(tree_|multi_tree_|multi)?select|checkbox", data_type):
            option.setdefault("nulloption", True)
            option.setdefault("maxlength", 255)
        failed = []
        if data_type == "input":
            if option.get("type") not in INPUT_TYPES:
                failed.append("must have one of text/password/tel/fax/email/url for :type")
            if not re.fullmatch(r"\d+", str(option.get("maxlength", ""))):
                failed.append("must have integer for :maxlength")
        elif data_type == "integer":
            if not _is_int(option.get("min")):
                failed.append("must have integer for :min")
            if not _is_int(option.get("max")):
                failed.append("must have integer for :max")
        elif re.fullmatch(r"(tree_|multi_tree_|multi)?select|checkbox", data_type):
            if "default" not in option:
                failed.append("must have value for :default")
            if not option.get("options") and not option.get("relation"):
                failed.append("must have non-nil value for either :options or :relation")
        elif data_type == "boolean":
            if "default" not in option:
                failed.append("must have boolean/undefined value for :default")
            if not option.get("options"):
                failed.append("must have non-nil value for :options")
        elif data_type == "datetime":
            for key, what in (("future", "boolean"), ("past", "boolean"), ("diff", "integer")):
                if option.get(key) is None:
                    failed.append(f"must have {what} value for :{key}" + (" (in hours)" if key == "diff" else ""))
        elif data_type == "date":
            if option.get("diff") is None:
                failed.append("must have integer value for :diff (in days)")
        if failed:
            raise _error("Validation failed: " + ", ".join(f"Data option {m}" for m in failed))

    # -- API -------------------------------------------------------------------------------

    def create(self, uid: int, params: Mapping[str, Any]) -> dict[str, Any]:
        if str(params.get("object") or "") != "Ticket":
            raise _error(f"Validation failed: unknown object {params.get('object')!r} (the sandbox has Ticket)")
        name = self._check_name(params.get("name"), new=True)
        if self.by_name(name) is not None:
            raise _error("already exists")
        data_type = str(params.get("data_type") or "")
        option = self._data_option(params)
        self._validate(data_type, option)
        row = self._insert({**{k: params[k] for k in ("display", "active", "screens", "position") if k in params},
                            "name": name, "data_type": data_type, "data_option": option}, self.state.clock.now_str(),
                           uid)
        row.update(to_create=True, to_migrate=True)
        return self.out(row)

    def update(self, uid: int, ident: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        self.get(ident)  # 404 for an unknown id, like the controller's lookup
        name = str(params.get("name") or "").lower()
        row = self.by_name(name) if str(params.get("object") or "") == "Ticket" else None
        if row is None:
            raise _error("does not exist")
        if not row["editable"]:
            raise _error("Validation failed: Name Attribute not editable!")
        data_type = str(params.get("data_type") or row["data_type"])
        if data_type != row["data_type"] and not {data_type, row["data_type"]} <= CHANGEABLE_TYPES:
            raise _error("Validation failed: Data type can't be altered after creation (delete the attribute "
                         "and create another with the desired value)")
        option = self._data_option({**params, "data_type": data_type})
        self._validate(data_type, option)
        changed_meta = any(k in params and params[k] != row[k] for k in ("display", "data_type", "position", "active"))
        for key in ("display", "active", "screens", "position"):
            if key in params:
                row[key] = copy.deepcopy(params[key])
        row["data_type"] = data_type
        if changed_meta or option != row["data_option"]:
            row["data_option_new"] = option
            row["to_config"] = True
        row["updated_by_id"] = uid
        row["updated_at"] = self.state.clock.now_str()
        return self.out(row)

    def delete(self, ident: Any) -> None:
        row = self.get(ident)
        if not row["editable"]:
            raise _error(f"Ticket.{row['name']} can't be removed!")
        if row["to_create"]:
            del self.rows[row["id"]]
        else:
            row["to_delete"] = True

    def discard_changes(self) -> None:
        for row in list(self.rows.values()):
            if row["to_create"]:
                del self.rows[row["id"]]
            elif row["to_delete"] or row["to_config"]:
                row.update(to_migrate=False, to_delete=False, to_config=False, data_option_new={})

    def pending(self) -> list[dict[str, Any]]:
        return [r for r in self.rows.values() if r["to_create"] or r["to_migrate"] or r["to_delete"] or r["to_config"]]

    def execute_migrations(self) -> None:
        """Create, change and drop the ticket columns of what is pending."""
        for row in sorted(self.pending(), key=lambda r: r["id"]):
            if row["to_delete"]:
                self.state.drop_custom_attribute(row["name"])
                del self.rows[row["id"]]
                continue
            if row["to_config"]:
                if row["data_type"] in ("select", "multiselect") and row["data_option"].get("options"):
                    history = dict(row["data_option"].get("historical_options") or {})
                    history.update(row["data_option"].get("options") or {})
                    history.update(row["data_option_new"].get("options") or {})
                    row["data_option_new"]["historical_options"] = history
                row["data_option"] = row["data_option_new"]
                row["data_option_new"] = {}
                row["to_config"] = False
            if row["data_type"] in ("select", "multiselect") and isinstance(row["data_option"].get("options"), Mapping):
                row["data_option"].setdefault("historical_options", dict(row["data_option"]["options"]))
            if row["to_create"] or row["name"] not in self.state.custom_attributes:
                self.state.add_custom_attribute(row["name"], self.column_default(row), _managed=True)
            row.update(to_create=False, to_migrate=False)

    # -- columns ---------------------------------------------------------------------------

    def register_migrated(self, name: str) -> None:
        """An attribute an admin created earlier (test helper ``add_custom_attribute``): a text input."""
        if self.by_name(name) is None:
            self._insert({"name": name, "data_type": "input",
                          "data_option": {"type": "text", "maxlength": 255, "default": "", "null": True}},
                         self.state.clock.now_str())

    @staticmethod
    def column_default(row: Mapping[str, Any]) -> Any:
        default = row["data_option"].get("default")
        if row["data_type"] in ("integer", "boolean", "date", "datetime", "user_autocompletion"):
            return default if default not in ("",) else None
        return None  # string columns: Zammad adds them without a default

    def cast(self, name: str, value: Any) -> Any:
        """A ticket value for the column of attribute ``name``, as its column stores it."""
        row = self.by_name(name)
        if row is None or value is None or value == "":
            return None if value == "" and row is not None and row["data_type"] in (
                "integer", "boolean", "date", "datetime") else value
        kind = row["data_type"]
        if kind == "integer":
            try:
                return int(value)
            except (TypeError, ValueError):
                raise _error(f"Invalid value {value!r} for field '{name}'!") from None
        if kind == "boolean":
            # ActiveModel's boolean cast: a few words are false, any other value is true
            return not (value is False or value == 0 or str(value) in _FALSE_WORDS)
        if kind == "datetime":
            try:
                return timefmt.normalize(value)
            except (TypeError, ValueError):
                raise _error(f"Invalid value {value!r} for field '{name}'!") from None
        if kind == "date":
            try:
                return date.fromisoformat(str(value)[:10]).isoformat()
            except ValueError:
                raise _error(f"Invalid value {value!r} for field '{name}'!") from None
        if kind == "multiselect":
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return value
