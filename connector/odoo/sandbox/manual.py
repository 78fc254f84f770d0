"""Custom fields of the sandbox Odoo: ``ir.model.fields`` records of state ``manual`` become fields.

As in Odoo (``base/models/ir_model.py``): a manual field's name starts with ``x_`` (SQL constraint
*"Custom fields must have a name that starts with 'x_'!"*) and is a valid column name; names are
unique per model; a many2one names an existing model; a selection's values are
``ir.model.fields.selection`` records (``value``, ``name``, ``sequence``), written with x2many
commands on ``selection_ids``; the type and the model cannot be changed afterwards. Once created
(or changed, or deleted) the model's fields follow at once, like Odoo's registry reload:
``fields_get`` shows the field with ``manual: true`` and reads and writes accept it. A rolled-back
transaction takes its fields with it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import errors
from .fields import Field, ModelDef

if TYPE_CHECKING:
    from .model import OdooState, Txn

MODELS = frozenset({"ir.model.fields", "ir.model.fields.selection"})
MANUAL_TYPES = frozenset({"boolean", "char", "date", "datetime", "float", "html", "integer", "many2one",
                          "monetary", "selection", "text"})
_PG_NAME = re.compile(r"^[a-z_][a-z0-9_$]*$")


def install(state: OdooState) -> None:
    """Register ``ir.model.fields.selection`` and the manual-field rules on ``ir.model.fields``."""
    from .seeds import READ_INTERNAL, F, m2o, o2m

    state.register(ModelDef("ir.model.fields.selection", "Fields Selection", order="sequence, id",
                            acl=READ_INTERNAL, constrains=lambda st, txn, rec: sync(st)).add(
        m2o("field_id", "ir.model.fields", "Field", required=True, ondelete="cascade"),
        F("value", "char", "Value", required=True),
        F("name", "char", "Name", required=True),
        F("sequence", "integer", "Sequence", default=1000),
    ))
    md = state.models["ir.model.fields"]
    md.add(o2m("selection_ids", "ir.model.fields.selection", "field_id", "Selection Options"))
    md.on_create = _on_create
    md.on_write = _on_write
    md.constrains = _constrains


def _on_create(state: OdooState, txn: Txn, rec: dict[str, Any], vals: dict[str, Any]) -> None:
    model = state.tables["ir.model"].get(rec.get("model_id") or 0)
    if model is None:
        raise errors.validation_error("The model of a field is required.")
    rec["model"] = model["model"]
    if rec.get("state") != "manual":
        return
    if rec.get("ttype") not in MANUAL_TYPES:
        raise errors.user_error(f"Custom fields of type {rec.get('ttype')!r} are not supported here.")
    if rec.get("ttype") == "many2one":
        target = rec.get("relation")
        if not target or not any(m["model"] == target for m in state.tables["ir.model"].values()):
            raise errors.user_error(f"Model {target} does not exist!")


def _on_write(state: OdooState, txn: Txn, old: dict[str, Any], new: dict[str, Any], vals: dict[str, Any]) -> None:
    if new.get("model_id") != old.get("model_id"):
        raise errors.user_error("Changing the model of a field is forbidden!")
    if new.get("ttype") != old.get("ttype"):
        raise errors.user_error("Changing the type of a field is not yet supported. "
                                "Please drop it and create it again!")


def _constrains(state: OdooState, txn: Txn, rec: dict[str, Any]) -> None:
    name = str(rec.get("name") or "")
    if rec.get("state") == "manual" and not name.startswith("x_"):
        raise errors.validation_error("Custom fields must have a name that starts with 'x_'!")
    if not _PG_NAME.match(name) or len(name) > 63:
        raise errors.validation_error("Field names can only contain characters, digits and underscores (up to 63).")
    same = [f for f in state.tables["ir.model.fields"].values()
            if f["id"] != rec["id"] and f.get("model") == rec.get("model") and f.get("name") == name]
    if same:
        raise errors.validation_error("Field names must be unique per model.")
    sync(state)


def sync(state: OdooState) -> None:
    """Make every model's manual fields what the ``ir.model.fields`` records say."""
    options: dict[int, list[dict[str, Any]]] = {}
    for s in state.tables["ir.model.fields.selection"].values():
        options.setdefault(s.get("field_id") or 0, []).append(s)
    wanted: dict[str, dict[str, Field]] = {}
    for rec in state.tables["ir.model.fields"].values():
        if rec.get("state") != "manual" or rec.get("model") not in state.models:
            continue
        selection = None
        if rec.get("ttype") == "selection":
            rows = sorted(options.get(rec["id"], []), key=lambda s: (s.get("sequence") or 0, s["id"]))
            selection = [(str(s["value"]), str(s["name"])) for s in rows]
        wanted.setdefault(rec["model"], {})[rec["name"]] = Field(
            rec["name"], rec["ttype"], rec.get("field_description") or rec["name"], relation=rec.get("relation"),
            selection=selection, help=rec.get("help") or "", required=bool(rec.get("required")), manual=True)
    for name, md in state.models.items():
        for fname in [n for n, f in md.fields.items() if f.manual and n not in wanted.get(name, {})]:
            del md.fields[fname]
        md.fields.update(wanted.get(name, {}))
