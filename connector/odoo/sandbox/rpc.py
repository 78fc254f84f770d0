"""Model methods callable over RPC, with Odoo's signatures, and the two ways of calling them.

* legacy ``execute_kw(db, uid, password, model, method, args, kwargs)`` (``/jsonrpc``,
  ``/web/dataset/call_kw``): positional ``args`` (record methods take the ids first), keyword
  ``kwargs``; a bad call fails with Python's own ``TypeError`` (``builtins.TypeError``);
* JSON-2 (19): named arguments only, ``ids`` for record methods; ``inspect.Signature.bind``
  failures are ``422``, a model-level method called with ``ids`` is ``422``, unknown model or method
  ``404``, a private method ``403`` (AccessError).

Every method is described by a *stub* with Odoo's exact signature (per version where it changed);
the stub binds the arguments, the implementation runs them against ``OdooState`` inside the call's
transaction.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import domain as dom
from . import errors
from .errors import RpcError
from .fields import X2MANY, fmt_date, fmt_datetime
from .model import OdooState, Txn, View

Impl = Callable[[OdooState, Txn, str, list[int], dict[str, Any]], Any]


@dataclass
class Method:
    name: str
    api_model: bool
    impl: Impl
    stubs: list[tuple[frozenset[int] | None, Callable[..., Any]]] = field(default_factory=list)
    applies: Callable[[OdooState, str], bool] = lambda state, model: True
    returns: str = "value"  # "value" | "records" (a recordset: JSON-2 gives ids)

    def stub(self, version: int) -> Callable[..., Any] | None:
        for versions, stub in self.stubs:
            if versions is None or version in versions:
                return stub
        return None


METHODS: dict[str, Method] = {}


def _method(name: str, impl: Impl, *stubs: tuple[frozenset[int] | None, Callable[..., Any]], api_model: bool = False,
            applies: Callable[[OdooState, str], bool] | None = None, returns: str = "value") -> None:
    METHODS[name] = Method(name, api_model, impl, list(stubs), applies or (lambda s, m: True), returns)


def _all(stub: Callable[..., Any]) -> tuple[None, Callable[..., Any]]:
    return (None, stub)


def _only(versions: set[int], stub: Callable[..., Any]) -> tuple[frozenset[int], Callable[..., Any]]:
    return (frozenset(versions), stub)


def _bound(values: dict[str, Any]) -> dict[str, Any]:
    """A stub's ``locals()`` without ``self``; ``**kwargs`` stays under its own name."""
    out = dict(values)
    out.pop("self", None)
    return out


def _rename(fn: Callable[..., Any], name: str) -> None:
    fn.__name__ = fn.__qualname__ = name  # Python's TypeError messages name the function


# -------------------------------------------------------------------------- signatures
# (bodies only collect their arguments; names/defaults are what a client can observe)

def search(self, domain, offset=0, limit=None, order=None):  # noqa: ANN001, ANN201
    return _bound(locals())


def search16(self, domain, offset=0, limit=None, order=None, count=False):  # noqa: ANN001, ANN201
    return _bound(locals())


_rename(search16, "search")


def search_count(self, domain, limit=None):  # noqa: ANN001, ANN201
    return _bound(locals())


def search_read(self, domain=None, fields=None, offset=0, limit=None, order=None, **read_kwargs):  # noqa: ANN001, ANN003, ANN201
    return _bound(locals())


def read(self, fields=None, load="_classic_read"):  # noqa: ANN001, ANN201
    return _bound(locals())


def write(self, vals):  # noqa: ANN001, ANN201
    return _bound(locals())


def create(self, vals_list):  # noqa: ANN001, ANN201
    return _bound(locals())


def unlink(self):  # noqa: ANN001, ANN201
    return _bound(locals())


def fields_get(self, allfields=None, attributes=None):  # noqa: ANN001, ANN201
    return _bound(locals())


def name_search(self, name="", args=None, operator="ilike", limit=100):  # noqa: ANN001, ANN201
    return _bound(locals())


def name_search19(self, name="", domain=None, operator="ilike", limit=100):  # noqa: ANN001, ANN201
    return _bound(locals())


_rename(name_search19, "name_search")


def name_get(self):  # noqa: ANN001, ANN201
    return _bound(locals())


def default_get(self, fields_list):  # noqa: ANN001, ANN201
    return _bound(locals())


def default_get19(self, fields):  # noqa: ANN001, ANN201
    return _bound(locals())


_rename(default_get19, "default_get")


def message_post16(self, *, body="", subject=None, message_type="notification", email_from=None,  # noqa: ANN001, ANN201, PLR0913
                   author_id=None, parent_id=False, subtype_xmlid=None, subtype_id=False, partner_ids=None,
                   attachments=None, attachment_ids=None, **kwargs):  # noqa: ANN003
    return _bound(locals())


_rename(message_post16, "message_post")


def message_post(self, *, body="", subject=None, message_type="notification", email_from=None,  # noqa: ANN001, ANN201, PLR0913
                 author_id=None, parent_id=False, subtype_xmlid=None, subtype_id=False, partner_ids=None,
                 attachments=None, attachment_ids=None, body_is_html=False, **kwargs):  # noqa: ANN003
    return _bound(locals())


def activity_schedule(self, act_type_xmlid="", date_deadline=None, summary="", note="", **act_values):  # noqa: ANN001, ANN003, ANN201
    return _bound(locals())


def check_object_reference(self, module, xml_id, raise_on_access_error=False):  # noqa: ANN001, ANN201
    return _bound(locals())


def context_get(self):  # noqa: ANN001, ANN201
    return _bound(locals())


# ------------------------------------------------------------------------ implementations


def _i_search(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> Any:
    found = st.search(txn, model, a["domain"], a.get("offset") or 0, a.get("limit"), a.get("order"))
    return len(found) if a.get("count") else found


def _i_search_count(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> int:
    return len(st.search(txn, model, a["domain"], 0, a.get("limit"), "id"))


def _i_search_read(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> Any:
    extra = dict(a.get("read_kwargs") or {})
    load = extra.pop("load", "_classic_read")
    if extra:
        raise errors.type_error(f"read() got an unexpected keyword argument '{next(iter(extra))}'")
    md = st.model(model)
    st.check_access(txn, md, "read")
    st.resolve_fields(md, a.get("fields"))  # validate before searching, like Odoo
    found = st.search(txn, model, a.get("domain") or [], a.get("offset") or 0, a.get("limit"), a.get("order"))
    return st.read(txn, model, found, a.get("fields"), load)


def _i_read(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> Any:
    return st.read(txn, model, ids, a.get("fields"), a.get("load"))


def _i_write(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> bool:
    return st.write(txn, model, ids, a["vals"])


def _i_create(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> Any:
    vals_list = a["vals_list"]
    if isinstance(vals_list, dict):
        return st.create(txn, model, [vals_list])
    if not isinstance(vals_list, list) or not all(isinstance(v, dict) for v in vals_list):
        raise errors.value_error(f"Invalid values {vals_list!r} for {model}.create()")
    return st.create(txn, model, vals_list)


def _i_unlink(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> bool:
    return st.unlink(txn, model, ids)


def _i_fields_get(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> dict[str, Any]:
    md = st.model(model)
    allfields = a.get("allfields") or None
    attributes = a.get("attributes") or None
    out = {}
    for name, f in md.fields.items():
        if allfields and name not in allfields:
            continue
        desc = f.describe()
        if attributes:
            desc = {k: v for k, v in desc.items() if k in attributes}
        out[name] = desc
    return out


def _i_name_search(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> list[list[Any]]:
    md = st.model(model)
    base = a.get("args") if "args" in a else a.get("domain")
    found = st.search(txn, model, base or [], 0, None, None)
    view = View(st, txn)
    name = a.get("name") or ""
    operator = (a.get("operator") or "ilike").lower()
    negative = operator.startswith("not ") or operator == "!="
    positive_op = operator.replace("not ", "").replace("!=", "=")
    rx = dom._like_regex(name, positive_op) if "like" in positive_op else None
    limit = a.get("limit")
    out: list[list[Any]] = []
    for rid in found:
        rec = view.get(model, rid)
        if rec is None:
            continue
        disp = view.display(md, rec)
        if name:
            hit = rx.fullmatch(disp) is not None if rx is not None else disp == name
            if hit == negative:
                continue
        out.append([rid, disp])
        if limit and len(out) >= int(limit):
            break
    return out


def _i_name_get(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> list[list[Any]]:
    md = st.model(model)
    st.check_access(txn, md, "read")
    view = View(st, txn)
    return [[r["id"], view.display(md, r)] for r in st._existing(view, md, ids, txn)]


def _i_default_get(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> dict[str, Any]:
    md = st.model(model)
    names = a.get("fields_list") if "fields_list" in a else a.get("fields")
    out: dict[str, Any] = {}
    for name in names or []:
        f = md.fields.get(name)
        if f is None or f.default is None:
            continue
        value = f.default(st, txn) if callable(f.default) else f.default
        if hasattr(value, "strftime"):
            value = fmt_datetime(value) if f.type == "datetime" else fmt_date(value)
        if f.type in X2MANY:
            value = list(value or ())
        out[name] = value
    return out


def _i_message_post(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> int:
    return st.message_post(txn, model, ids, dict(a))


def _i_activity_schedule(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> list[int]:
    return st.activity_schedule(txn, model, ids, dict(a))


def _i_check_object_reference(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> list[Any]:
    xmlid = f"{a['module']}.{a['xml_id']}"
    if xmlid not in st._xmlids:
        raise errors.value_error(f"External ID not found in the system: {xmlid}")
    res_model, res_id = st._xmlids[xmlid]
    return [res_model, res_id]


def _i_context_get(st: OdooState, txn: Txn, model: str, ids: list[int], a: dict[str, Any]) -> dict[str, Any]:
    user = st.tables["res.users"].get(txn.uid) or {}
    return {"lang": user.get("lang") or "en_US", "tz": user.get("tz") or False, "uid": txn.uid}


def _is_thread(st: OdooState, model: str) -> bool:
    return st.models[model].mail_thread


_method("search", _i_search, _only({16}, search16), _all(search), api_model=True)
_method("search_count", _i_search_count, _all(search_count), api_model=True)
_method("search_read", _i_search_read, _all(search_read), api_model=True)
_method("read", _i_read, _all(read))
_method("write", _i_write, _all(write))
_method("create", _i_create, _all(create), api_model=True, returns="records")
_method("unlink", _i_unlink, _all(unlink))
_method("fields_get", _i_fields_get, _all(fields_get), api_model=True)
_method("name_search", _i_name_search, _only({19}, name_search19), _all(name_search), api_model=True)
_method("name_get", _i_name_get, _only({16}, name_get))
_method("default_get", _i_default_get, _only({19}, default_get19), _all(default_get), api_model=True)
_method("message_post", _i_message_post, _only({16}, message_post16), _all(message_post),
        applies=_is_thread, returns="message")
_method("activity_schedule", _i_activity_schedule, _all(activity_schedule), applies=_is_thread, returns="records")
_method("check_object_reference", _i_check_object_reference, _all(check_object_reference), api_model=True,
        applies=lambda st, m: m == "ir.model.data")
_method("context_get", _i_context_get, _all(context_get), api_model=True, applies=lambda st, m: m == "res.users")


# ----------------------------------------------------------------------------- lookup


def lookup(st: OdooState, model: str, name: str, *, json2: bool) -> Method:
    """``get_public_method``: private → AccessError; unknown → AttributeError (JSON-2: NotFound)."""
    if model not in st.models:
        if json2:
            raise errors.not_found(f"the model {model!r} does not exist")
        raise errors.user_error(f"Object {model} doesn't exist")
    if name.startswith("_"):
        if st.version == 16:
            raise errors.access_error(f"Private methods (such as {name}) cannot be called remotely.")
        raise errors.access_error(f"Private methods (such as '{model}.{name}') cannot be called remotely.")
    meth = METHODS.get(name)
    if meth is None or not meth.applies(st, model) or meth.stub(st.version) is None:
        msg = (f"The method '{name}' does not exist on the model '{model}'" if st.version == 16
               else f"The method '{model}.{name}' does not exist")
        if json2:
            raise errors.not_found(msg)
        raise errors.attribute_error(msg)
    return meth


def _ids(value: Any) -> list[int]:
    try:
        return dom.validate_ids(value)
    except RpcError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise errors.type_error(str(exc)) from exc


def legacy_call(st: OdooState, txn: Txn, model: str, name: str, args: Any, kwargs: Any) -> Any:
    """``odoo.service.model.execute_kw`` → ``api.call_kw``."""
    meth = lookup(st, model, name, json2=False)
    args = list(args or [])
    kwargs = dict(kwargs or {})
    kwargs.pop("context", None)
    stub = meth.stub(st.version)
    assert stub is not None
    if meth.api_model:
        ids: list[int] = []
        target: Any = model
    else:
        if not args:
            raise RpcError("builtins.IndexError", "list index out of range")
        ids = _ids(args[0])
        args = args[1:]
        target = ids
    try:
        bound = stub(target, *args, **kwargs)
    except TypeError as exc:
        raise errors.type_error(str(exc)) from None
    bound = _flatten(bound, stub)
    result = meth.impl(st, txn, model, ids, bound)
    if meth.returns == "records" and name == "create" and isinstance(bound.get("vals_list"), dict):
        return result[0]
    if meth.returns == "message":
        return [result] if st.version >= 19 else result
    return result


def json2_call(st: OdooState, txn: Txn, model: str, name: str, params: dict[str, Any]) -> Any:
    """``/json/2/<model>/<method>`` (``addons/rpc/controllers/json2.py``)."""
    meth = lookup(st, model, name, json2=True)
    params = dict(params)
    ids = params.pop("ids", ())
    params.pop("context", None)
    try:
        ids = _ids(ids)
    except RpcError as exc:
        raise errors.unprocessable(exc.message) from None
    if meth.api_model and ids:
        raise errors.unprocessable(f"cannot call {model}.{name} with ids")
    stub = meth.stub(st.version)
    assert stub is not None
    try:
        ba = _signature(stub).bind(ids, **params)
    except TypeError as exc:
        raise errors.unprocessable(exc.args[0]) from None
    ba.apply_defaults()
    bound = _flatten(dict(ba.arguments), stub)
    result = meth.impl(st, txn, model, ids, bound)
    if meth.returns == "message":
        return [result]
    return result


@functools.cache
def _signature(stub: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(stub)


@functools.cache
def _varkw(stub: Callable[..., Any]) -> str | None:
    for p in _signature(stub).parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return p.name
    return None


def _flatten(bound: dict[str, Any], stub: Callable[..., Any]) -> dict[str, Any]:
    bound = dict(bound)
    bound.pop("self", None)
    varkw = _varkw(stub)
    if varkw is not None:
        bound[varkw] = dict(bound.get(varkw) or {})
    return bound


# ------------------------------------------------------------------------------ services


def exp_version(st: OdooState) -> dict[str, Any]:
    """``odoo.service.common.exp_version``; Enterprise builds carry the ``+e`` / ``'e'`` suffix."""
    suffix = "e" if st.flavour == "enterprise" else ""
    return {
        "server_version": f"{st.version}.0" + ("+e" if suffix else ""),
        "server_version_info": [st.version, 0, 0, "final", 0, suffix],
        "server_serie": f"{st.version}.0",
        "protocol_version": 1,
    }


def authenticate(st: OdooState, db: Any, uid: Any, password: Any) -> None:
    """``odoo.service.security.check``: unknown database, then credentials (AccessDenied)."""
    if db != st.database:
        raise errors.operational_error(str(db))
    if isinstance(uid, bool) or not isinstance(uid, int) or not st.check_password(uid, password):
        raise errors.access_denied()


def context_of(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}
