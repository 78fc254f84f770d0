"""Odoo domains, ``order`` specifications and ``filter_domain`` strings, evaluated in Python.

A domain is compiled once into a predicate over raw records (see ``fields``), so a search is one
pass over the table. Semantics follow the SQL Odoo generates:

* prefix ``&`` / ``|`` / ``!`` with implicit ``&`` between consecutive terms; ``(1, '=', 1)`` and
  ``(0, '=', 1)`` are the TRUE/FALSE leaves;
* ``= False`` means "is NULL" (for booleans: "is not true"; for x2many: "is empty"); ``!=`` and
  ``not in`` also match NULL, comparisons (``<`` …) never do;
* ``like``/``ilike`` wrap the value in ``%…%`` (``=like``/``=ilike`` do not); ``%`` and ``_`` in the
  value stay wildcards; ``not like``/``not ilike`` match NULL;
* many2one/x2many leaves with a string value compare the related records' ``display_name``;
  dotted paths (``stage_id.fold``) and ``any``/``not any`` (17+) follow relations;
* datetimes compare as timestamps at microsecond precision, so ``write_date > '2025-03-04 09:12:45'``
  matches a record written at ``09:12:45.102318`` (as in PostgreSQL).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from . import errors
from .fields import X2MANY, Field, ModelDef, parse_date, parse_datetime

if TYPE_CHECKING:
    from .model import Reader

Predicate = Callable[[dict[str, Any]], bool]

TERM_OPERATORS = {
    "=", "!=", "<>", "<=", "<", ">", ">=", "=?", "=like", "=ilike", "like", "not like", "ilike",
    "not ilike", "in", "not in", "child_of", "parent_of", "any", "not any",
}
_NEGATIVE = {"!=", "<>", "not in", "not like", "not ilike", "not any"}


def _leaf_repr(leaf: Any) -> str:
    if isinstance(leaf, list):
        leaf = tuple(leaf)
    return repr(leaf)


def _like_regex(value: str, operator: str) -> re.Pattern[str]:
    out = []
    for ch in str(value):
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    pattern = "".join(out)
    if not operator.startswith("="):
        pattern = f".*{pattern}.*"
    flags = re.DOTALL | (re.IGNORECASE if "ilike" in operator else 0)
    return re.compile(pattern, flags)


def _is_leaf(item: Any) -> bool:
    return isinstance(item, (list, tuple)) and len(item) == 3


def parse(domain: Any) -> Any:
    """Turn a domain list into a tree: ``("&", a, b)``, ``("|", a, b)``, ``("!", a)``, ``("leaf", …)``."""
    if domain in (None, False):
        return ("true",)
    if not isinstance(domain, (list, tuple)):
        raise errors.value_error(f"Invalid domain: {domain!r}")
    stack: list[Any] = []
    for item in reversed(list(domain)):
        if item in ("&", "|"):
            if len(stack) < 2:
                raise errors.value_error(f"Domain {list(domain)!r} is syntactically not correct.")
            a, b = stack.pop(), stack.pop()
            stack.append((item, a, b))
        elif item == "!":
            if not stack:
                raise errors.value_error(f"Domain {list(domain)!r} is syntactically not correct.")
            stack.append(("!", stack.pop()))
        elif _is_leaf(item):
            left, op, right = item
            if isinstance(left, int) and not isinstance(left, bool) and left in (0, 1):
                stack.append(("true",) if left == 1 and op == "=" and right == 1 else ("false",))
                continue
            if not isinstance(left, str) or not isinstance(op, str) or op.lower() not in TERM_OPERATORS:
                raise errors.value_error(f"Invalid leaf {_leaf_repr(item)}")
            stack.append(("leaf", left, op.lower(), right, item))
        else:
            raise errors.value_error(f"Invalid leaf {_leaf_repr(item)}")
    if not stack:
        return ("true",)
    node = stack.pop()
    while stack:
        node = ("&", node, stack.pop())
    return node


def mentions(tree: Any, fname: str) -> bool:
    kind = tree[0]
    if kind == "leaf":
        return tree[1].split(".", 1)[0] == fname
    if kind in ("&", "|"):
        return mentions(tree[1], fname) or mentions(tree[2], fname)
    if kind == "!":
        return mentions(tree[1], fname)
    return False


def compile_domain(reader: Reader, model: ModelDef, domain: Any, *, active_test: bool = True) -> Predicate:
    return plan(reader, model, domain, active_test=active_test)[0]


def plan(reader: Reader, model: ModelDef, domain: Any, *, active_test: bool = True) -> tuple[Predicate, set[int] | None]:
    """The predicate, plus the candidate ids when the domain pins ``id`` (``=``/``in`` under ``&``)."""
    tree = parse(domain)
    if active_test and model.has_active and not mentions(tree, "active"):
        tree = ("&", ("leaf", "active", "=", True, ("active", "=", True)), tree)
    return _compile(reader, model, tree), _pinned_ids(tree)


def _pinned_ids(tree: Any) -> set[int] | None:
    kind = tree[0]
    if kind == "&":
        a, b = _pinned_ids(tree[1]), _pinned_ids(tree[2])
        if a is None:
            return b
        return a if b is None else a & b
    if kind == "leaf" and tree[1] == "id":
        op, value = tree[2], tree[3]
        if op == "=" and isinstance(value, int) and not isinstance(value, bool):
            return {value}
        if op == "in" and isinstance(value, (list, tuple)) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value):
            return set(value)
    return None


def _compile(reader: Reader, model: ModelDef, tree: Any) -> Predicate:
    kind = tree[0]
    if kind == "true":
        return lambda rec: True
    if kind == "false":
        return lambda rec: False
    if kind == "&":
        a, b = _compile(reader, model, tree[1]), _compile(reader, model, tree[2])
        return lambda rec: a(rec) and b(rec)
    if kind == "|":
        a, b = _compile(reader, model, tree[1]), _compile(reader, model, tree[2])
        return lambda rec: a(rec) or b(rec)
    if kind == "!":
        a = _compile(reader, model, tree[1])
        return lambda rec: not a(rec)
    _, path, op, value, leaf = tree
    return _compile_leaf(reader, model, path, op, value, leaf)


def _field(model: ModelDef, name: str, leaf: Any) -> Field:
    f = model.fields.get(name)
    if f is None:
        raise errors.value_error(f"Invalid field {model.name}.{name} in leaf {_leaf_repr(leaf)}")
    return f


def _compile_leaf(reader: Reader, model: ModelDef, path: str, op: str, value: Any, leaf: Any) -> Predicate:
    if op == "<>":
        op = "!="
    head, _, rest = path.partition(".")
    f = _field(model, head, leaf)
    getter = reader.getter(model, f)

    if op == "=?":
        if value is None or value is False:
            return lambda rec: True
        op = "="

    if rest or op in ("any", "not any"):
        if f.type not in ("many2one", *X2MANY):
            raise errors.value_error(f"Invalid leaf {_leaf_repr(leaf)}: {head} is not relational")
        comodel = reader.model(f.relation or "")
        if rest:
            # ``stage_id.fold = True``: the rest of the path (and the operator, negative ones
            # included) is evaluated on the related records; a record matches if one of them does
            sub = _compile_leaf(reader, comodel, rest, op, value, leaf)
            positive = True
        else:
            sub = compile_domain(reader, comodel, value, active_test=True)
            positive = op == "any"
        fetch = reader.fetcher(comodel)

        def related(rec: dict[str, Any]) -> list[dict[str, Any]]:
            raw = getter(rec)
            if raw is None:
                return []
            ids = (raw,) if isinstance(raw, int) else raw
            return [r for r in (fetch(i) for i in ids) if r is not None]

        if positive:
            return lambda rec: any(sub(r) for r in related(rec))
        return lambda rec: not any(sub(r) for r in related(rec))

    if f.type == "many2one":
        return _relational_leaf(reader, f, getter, op, value, leaf, single=True)
    if f.type in X2MANY:
        return _relational_leaf(reader, f, getter, op, value, leaf, single=False)
    return _scalar_leaf(f, getter, op, value, leaf)


def _coerce(f: Field, value: Any) -> Any:
    if value is None or value is False and f.type != "boolean":
        return None
    if f.type == "datetime":
        return parse_datetime(value, f.name)
    if f.type == "date":
        return parse_date(value, f.name)
    if f.type == "integer" and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if f.type == "float" and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            return value
    if f.type == "boolean":
        return bool(value)
    return value


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime)
    if isinstance(a, date) or isinstance(b, date):
        return isinstance(a, date) and isinstance(b, date)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    return isinstance(a, str) and isinstance(b, str)


_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _scalar_leaf(f: Field, getter: Callable[[dict[str, Any]], Any], op: str, value: Any, leaf: Any) -> Predicate:
    boolean = f.type == "boolean"

    if op in ("=", "!="):
        if isinstance(value, (list, tuple)):
            return _scalar_leaf(f, getter, "in" if op == "=" else "not in", value, leaf)
        target = _coerce(f, value)
        if boolean:
            want = bool(target)
            if op == "=":
                return lambda rec: bool(getter(rec)) == want
            return lambda rec: bool(getter(rec)) != want
        if target is None:
            if op == "=":
                return lambda rec: getter(rec) in (None, "")  if f.type == "char" else getter(rec) is None
            return lambda rec: getter(rec) not in (None, "") if f.type == "char" else getter(rec) is not None
        if op == "=":
            return lambda rec: getter(rec) == target
        return lambda rec: getter(rec) != target

    if op in ("in", "not in"):
        if not isinstance(value, (list, tuple, set)):
            value = [value]
        has_null = any(v is False or v is None for v in value)
        targets = {_coerce(f, v) for v in value if not (v is False or v is None)}
        if boolean:
            want = {bool(v) for v in value}
            if op == "in":
                return lambda rec: bool(getter(rec)) in want
            return lambda rec: bool(getter(rec)) not in want
        if op == "in":
            return lambda rec: (getter(rec) in targets) or (has_null and getter(rec) is None)
        return lambda rec: not ((getter(rec) in targets) or (has_null and getter(rec) is None))

    if op in _CMP:
        cmp = _CMP[op]
        target = _coerce(f, value)
        if target is None:
            return lambda rec: False

        def compare(rec: dict[str, Any]) -> bool:
            v = getter(rec)
            if v is None or not _comparable(v, target):
                if f.type == "datetime" and isinstance(v, datetime) and isinstance(target, date):
                    return cmp(v, datetime(target.year, target.month, target.day))
                return False
            return cmp(v, target)

        return compare

    if op in ("like", "ilike", "=like", "=ilike", "not like", "not ilike"):
        negative = op.startswith("not ")
        rx = _like_regex("" if value is None or value is False else value, op.replace("not ", ""))

        def match(rec: dict[str, Any]) -> bool:
            v = getter(rec)
            if v is None:
                return False
            return rx.fullmatch(v if isinstance(v, str) else str(v)) is not None

        if negative:
            return lambda rec: not match(rec)
        return match

    raise errors.value_error(f"Invalid leaf {_leaf_repr(leaf)}")


def _relational_leaf(
    reader: Reader, f: Field, getter: Callable[[dict[str, Any]], Any], op: str, value: Any, leaf: Any,
    *, single: bool,
) -> Predicate:
    comodel = reader.model(f.relation or "")

    def ids_of(rec: dict[str, Any]) -> tuple[int, ...]:
        raw = getter(rec)
        if raw is None:
            return ()
        return (raw,) if single else tuple(raw)

    names = isinstance(value, str) or (
        isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value)
    )
    if names or op in ("like", "ilike", "=like", "=ilike", "not like", "not ilike"):
        # name_search on the comodel, like Odoo does for a string value
        display = reader.display_getter(comodel)
        fetch = reader.fetcher(comodel)
        base_op = {"=": "=", "!=": "=", "in": "in", "not in": "in"}.get(op, op.replace("not ", ""))
        negative = op in _NEGATIVE
        if base_op == "in":
            wanted = set(value if isinstance(value, (list, tuple)) else [value])

            def name_ok(name: str) -> bool:
                return name in wanted
        elif base_op == "=":
            def name_ok(name: str) -> bool:
                return name == value
        else:
            rx = _like_regex("" if value is None or value is False else value, base_op)

            def name_ok(name: str) -> bool:
                return rx.fullmatch(name) is not None

        def hit(rec: dict[str, Any]) -> bool:
            for i in ids_of(rec):
                r = fetch(i)
                if r is not None and name_ok(display(r)):
                    return True
            return False

        if negative:
            return lambda rec: not hit(rec)
        return hit

    if op in ("=", "!=") and (value is False or value is None):
        if op == "=":
            return lambda rec: not ids_of(rec)
        return lambda rec: bool(ids_of(rec))

    if op in ("=", "!=", "in", "not in"):
        if isinstance(value, (list, tuple, set)):
            wanted_ids = {v for v in value if isinstance(v, int) and not isinstance(v, bool)}
            has_null = any(v is False or v is None for v in value)
        else:
            if not isinstance(value, int) or isinstance(value, bool):
                raise errors.value_error(f"Invalid leaf {_leaf_repr(leaf)}")
            wanted_ids, has_null = {value}, False
        positive = op in ("=", "in")

        def overlap(rec: dict[str, Any]) -> bool:
            ids = ids_of(rec)
            if not ids:
                return has_null
            return any(i in wanted_ids for i in ids)

        if positive:
            return overlap
        return lambda rec: not overlap(rec)

    if op in _CMP and single:
        cmp = _CMP[op]
        if not isinstance(value, int) or isinstance(value, bool):
            return lambda rec: False
        return lambda rec: getter(rec) is not None and cmp(getter(rec), value)

    if op in ("child_of", "parent_of"):
        wanted = set(value if isinstance(value, (list, tuple)) else [value])
        return lambda rec: any(i in wanted for i in ids_of(rec))

    raise errors.value_error(f"Invalid leaf {_leaf_repr(leaf)}")


# ---------------------------------------------------------------------------------- order

_ORDER_TERM = re.compile(r"^\s*([a-z0-9_]+)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$", re.IGNORECASE)


def parse_order(model: ModelDef, order: str | None) -> list[tuple[str, bool, str | None]]:
    """``"write_date asc, id asc"`` → ``[("write_date", False, None), ("id", False, None)]``."""
    spec = order if order else model.order
    terms: list[tuple[str, bool, str | None]] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        m = _ORDER_TERM.match(part)
        if not m:
            raise errors.value_error(
                f'Invalid "order" specified ({spec}). A valid "order" specification is a comma-separated '
                "list of valid field names (optionally followed by asc/desc for the direction)"
            )
        fname = m.group(1)
        f = model.fields.get(fname)
        if f is None or (f.type in X2MANY) or (f.computed and fname != "id"):
            raise errors.value_error(f"Invalid field {fname!r} on model {model.name!r}")
        terms.append((fname, (m.group(2) or "asc").lower() == "desc", (m.group(3) or None)))
    return terms


def sort_records(reader: Reader, model: ModelDef, recs: list[dict[str, Any]], order: str | None) -> list[dict[str, Any]]:
    terms = parse_order(model, order)
    out = list(recs)
    for fname, desc, nulls in reversed(terms):
        f = model.fields[fname]
        key = reader.sort_getter(model, f)
        nulls_first = (nulls == "first") if nulls else desc  # PostgreSQL: NULLS FIRST for DESC

        def k(rec: dict[str, Any], key: Callable[[dict[str, Any]], Any] = key, nf: bool = nulls_first,
              d: bool = desc) -> tuple[bool, Any]:
            v = key(rec)
            # with reverse=True the flag order flips, so encode "null sorts first" per direction
            if d:
                return (v is None) == nf, v
            return (v is None) != nf, v

        out.sort(key=k, reverse=desc)
    return out


# ---------------------------------------------------------------------- filter_domain strings


def literal_domain(text: str | None, uid: int) -> list[Any]:
    """Evaluate a ``filter_domain`` string like Odoo's ``safe_eval`` would, for literal domains.

    Supports literals, ``uid``, ``user.id``, ``True``/``False``/``None`` and unary minus.
    """
    if not text or not str(text).strip():
        return []
    try:
        node = ast.parse(str(text).strip(), mode="eval").body
    except SyntaxError as exc:
        raise errors.value_error(f"Invalid domain {text!r}: {exc}") from exc

    def ev(n: ast.AST) -> Any:
        if isinstance(n, ast.Constant):
            return n.value
        if isinstance(n, (ast.List, ast.Tuple)):
            items = [ev(e) for e in n.elts]
            return items if isinstance(n, ast.List) else tuple(items)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            return -ev(n.operand)
        if isinstance(n, ast.Name):
            if n.id == "uid":
                return uid
            if n.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[n.id]
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "user" and n.attr == "id":
            return uid
        raise errors.value_error(f"unsupported expression in domain {text!r}: {ast.dump(n)[:60]}")

    value = ev(node)
    if not isinstance(value, (list, tuple)):
        raise errors.value_error(f"Invalid domain {text!r}")
    return list(value)


def validate_ids(ids: Any) -> list[int]:
    if ids is None or ids is False:
        return []
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    if isinstance(ids, Sequence) and not isinstance(ids, str):
        out = []
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, int):
                raise errors.type_error(f"unhashable or invalid id {i!r}")
            out.append(i)
        return out
    raise errors.type_error(f"Invalid ids {ids!r}")
