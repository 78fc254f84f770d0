"""Evaluation of Zammad object conditions ("selectors") against one ticket in memory.

Zammad turns a condition into SQL (``lib/selector/sql.rb``); the sandbox evaluates the same
semantics in Python, one ticket at a time. Used by triggers (with a ticket action, an optional
article and the set of changed attributes) and by condition search (no action, no article).

Supported:

* flat conditions ``{"ticket.state_id": {"operator": "is", "value": ["2"]}}`` and expert mode
  blocks ``{"operator": "AND"|"OR"|"NOT", "conditions": [...]}``;
* ``ticket.action`` / ``article.action``; ``ticket.<column>`` incl. custom attributes;
  ``ticket.tags``; ``article.<column>`` (plus the convenience names ``article.sender`` and
  ``article.type``); ``customer.*``, ``owner.*``, ``organization.*``, ``ticket_state.*``;
  ``execution_time.calendar_id`` (always true: the sandbox has no calendars);
* operators: is, is not (pre_condition specific / not_set / current_user.id /
  current_user.organization_id), is any of, is none of, contains, contains not, starts with (one
  of), ends with (one of), matches regex, does not match regex, is set, not set, has changed,
  contains all / one / all not / one not (tags and arrays), before/after (absolute), before/after
  (relative), within last/next (relative), till/from (relative), today.

Trigger-only rules reproduced from Zammad:

* an article condition never matches when the event has no article (``1 = 0``), except
  ``article.action``;
* *selective* mode (``changes_required``) on an ``update``: the trigger only runs when an article
  was added in the transaction or one of the ticket attributes named in the condition changed
  (``Selector::Base#check_changes`` + ``update_action_requires_changed_attributes?``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import timefmt


class InvalidCondition(ValueError):
    pass


def migrate(selector: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``{name: {...}}`` → expert-mode block ``{"operator": "AND", "conditions": [...]}``."""
    if "conditions" in selector:
        return dict(selector)
    conditions = []
    for name, spec in selector.items():
        if not isinstance(spec, Mapping):
            raise InvalidCondition(f"Invalid condition for {name!r}: {spec!r}")
        conditions.append({"name": name, **spec})
    return {"operator": "AND", "conditions": conditions}


def referenced_names(block: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for cond in block.get("conditions", ()):
        if "conditions" in cond:
            names |= referenced_names(cond)
        elif cond.get("name"):
            names.add(cond["name"])
    return names


@dataclass
class Context:
    """Everything a condition may look at."""

    ticket: Mapping[str, Any]
    tags: list[str]
    lookup: Callable[[str, Mapping[str, Any]], Mapping[str, Any] | None]
    """lookup(table, ticket) → record for customer/owner/organization/ticket_state/group."""
    articles: list[Mapping[str, Any]] = field(default_factory=list)
    """Search context: all articles of the ticket (any article may satisfy an article condition)."""
    article: Mapping[str, Any] | None = None
    trigger: bool = False
    """Trigger context: ``article`` is *the* event's article (or None → article conditions fail)."""
    ticket_action: str | None = None
    changes: Iterable[str] = ()
    changes_required: bool = False
    current_user_id: int | None = None
    current_user_organization_ids: list[int] = field(default_factory=list)
    now: Callable[[], datetime] = lambda: datetime.now(timefmt.UTC)
    article_names: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda a: a


def matches(selector: Mapping[str, Any] | None, ctx: Context) -> bool:
    """True if the ticket in ``ctx`` satisfies ``selector``. Raises InvalidCondition."""
    block = migrate(selector or {})
    changed: set[str] = set()
    if ctx.trigger:
        names = referenced_names(block)
        if ctx.article is not None:
            changed.add("article")
        for key in ctx.changes:
            if f"ticket.{key}" in names:
                changed.add(f"ticket.{key}")
        if ctx.ticket_action == "update" and ctx.changes_required and not changed:
            return False
    return _block(block, ctx, changed)


def _block(block: Mapping[str, Any], ctx: Context, changed: set[str]) -> bool:
    conds = block.get("conditions") or []
    op = str(block.get("operator", "AND")).upper()
    results = (
        _block(c, ctx, changed) if "conditions" in c else _condition(c, ctx, changed) for c in conds
    )
    if not conds:
        return True
    if op == "OR":
        return any(results)
    if op == "NOT":
        return not all(results)
    return all(results)


def _norm(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


_USER_ID_ATTR = re.compile(r"^(created_by|updated_by|owner|customer|user)_id")


def _relative(cond: Mapping[str, Any]) -> timedelta:
    try:
        amount = int(cond.get("value"))
        unit = str(cond.get("range", "day")).rstrip("s")
    except (TypeError, ValueError) as exc:
        raise InvalidCondition("unknown selector") from exc
    if unit == "minute":
        return timedelta(minutes=amount)
    if unit == "hour":
        return timedelta(hours=amount)
    if unit == "day":
        return timedelta(days=amount)
    if unit == "week":
        return timedelta(weeks=amount)
    if unit == "month":
        return timedelta(days=30 * amount)
    if unit == "year":
        return timedelta(days=365 * amount)
    raise InvalidCondition("unknown selector")


def _condition(cond: Mapping[str, Any], ctx: Context, changed: set[str]) -> bool:
    name = cond.get("name") or ""
    operator = cond.get("operator")
    if not operator:
        raise InvalidCondition(f"Invalid condition, operator missing {dict(cond)!r}")
    table, _, attr = name.partition(".")
    if not attr:
        return True  # Zammad skips conditions without "table.attr"

    if operator == "has changed":
        return name in changed
    if operator in ("has reached", "has reached warning"):
        return False  # time events are not simulated
    if table == "ticket" and attr == "action":
        check = ctx.ticket_action == cond.get("value")
        if (
            cond.get("value") == "update"
            and ctx.changes_required
            and ctx.trigger
            and ctx.ticket_action == "update"
            and not changed
        ):
            return False
        return check if operator == "is" else not check
    if table == "article" and attr == "action":
        check = ctx.article is not None
        return check if operator == "is" else not check
    if table == "execution_time":
        return True

    if table == "article":
        if ctx.trigger:
            if ctx.article is None:
                return False
            return _compare(cond, operator, attr, _article_value(ctx, ctx.article, attr), ctx)
        return any(
            _compare(cond, operator, attr, _article_value(ctx, a, attr), ctx) for a in ctx.articles
        )

    if table == "ticket":
        if attr == "tags":
            return _tags(cond, operator, ctx.tags)
        if attr == "mention_user_ids":
            value: Any = None
        else:
            value = ctx.ticket.get(attr)
    elif table in ("customer", "owner", "organization", "ticket_state", "group"):
        record = ctx.lookup(table, ctx.ticket)
        value = None if record is None else record.get(attr)
    else:
        raise InvalidCondition(f"invalid selector {table}, {attr}")
    return _compare(cond, operator, attr, value, ctx)


def _article_value(ctx: Context, article: Mapping[str, Any], attr: str) -> Any:
    if attr in article:
        return article[attr]
    return ctx.article_names(article).get(attr)


def _tags(cond: Mapping[str, Any], operator: str, tags: list[str]) -> bool:
    raw = cond.get("value")
    if isinstance(raw, str):
        wanted = [t.strip() for t in raw.split(",") if t.strip()]
    else:
        wanted = [str(t).strip() for t in _as_list(raw)]
    have = {t.lower() for t in tags}
    wanted_l = [t.lower() for t in wanted]
    if operator == "contains all":
        return all(t in have for t in wanted_l)
    if operator == "contains one":
        return any(t in have for t in wanted_l)
    if operator == "contains all not":
        return not all(t in have for t in wanted_l)
    if operator == "contains one not":
        return not any(t in have for t in wanted_l)
    if operator in ("is set",):
        return bool(have)
    if operator in ("not set",):
        return not have
    raise InvalidCondition(f"Invalid operator '{operator}' for ticket.tags")


def _like(value: Any) -> str:
    return "" if value is None else str(value).lower()


def _compare(cond: Mapping[str, Any], operator: str, attr: str, value: Any, ctx: Context) -> bool:
    pre = cond.get("pre_condition") or ""
    raw = cond.get("value")
    v = _norm(value)

    if operator in ("is", "is not"):
        if pre == "not_set":
            hit = v is None or (bool(_USER_ID_ATTR.match(attr)) and v == "1")
        elif pre == "current_user.id":
            hit = v is not None and v == _norm(ctx.current_user_id)
        elif pre == "current_user.organization_id":
            hit = v is not None and v in {str(i) for i in ctx.current_user_organization_ids}
        elif raw is None:
            hit = v is None
        else:
            values = [_norm(x) for x in _as_list(raw)]
            if isinstance(value, (list, tuple)):
                hit = any(_norm(x) in values for x in value)
            else:
                hit = (v in values) or ("" in values and v is None)
            if operator == "is not":
                # SQL: "(attr IS NULL OR attr NOT IN (?))", or with '' in the list
                # "(attr IS NOT NULL AND attr NOT IN (?))"
                if "" in values:
                    return v is not None and not hit
                return not hit
        return hit if operator == "is" else not hit

    if operator in ("is any of", "is none of"):
        values = [_norm(x) for x in _as_list(raw)] or [""]
        hit = v in values
        return hit if operator == "is any of" else (v is not None and not hit)
    if operator == "is set":
        return v is not None and v != "" and value != []
    if operator == "not set":
        return v is None or v == "" or value == []
    if operator == "contains":
        return v is not None and _like(raw) in v.lower()
    if operator == "contains not":
        return v is None or _like(raw) not in v.lower()
    if operator in ("starts with", "starts with one of"):
        return v is not None and any(v.lower().startswith(_like(x)) for x in _as_list(raw))
    if operator in ("ends with", "ends with one of"):
        return v is not None and any(v.lower().endswith(_like(x)) for x in _as_list(raw))
    if operator in ("matches regex", "does not match regex"):
        try:
            hit = v is not None and re.search(str(raw), v) is not None
        except re.error as exc:
            raise InvalidCondition(f"invalid regex {raw!r}") from exc
        return hit if operator == "matches regex" else not hit
    if operator in ("contains all", "contains one", "contains all not", "contains one not"):
        have = {_norm(x) for x in _as_list(value)}
        want = [_norm(x) for x in _as_list(raw)]
        if operator == "contains all":
            return all(x in have for x in want)
        if operator == "contains one":
            return any(x in have for x in want)
        if operator == "contains all not":
            return not all(x in have for x in want)
        return not any(x in have for x in want)

    # datetime operators: compare normalised millisecond strings
    if operator in (
        "before (absolute)",
        "after (absolute)",
        "before (relative)",
        "after (relative)",
        "within last (relative)",
        "within next (relative)",
        "till (relative)",
        "from (relative)",
        "today",
    ):
        if v is None:
            return False
        try:
            t = timefmt.normalize(v)
        except ValueError:
            return False
        if operator in ("before (absolute)", "after (absolute)"):
            try:
                bound = timefmt.normalize(raw)
            except (ValueError, TypeError) as exc:
                raise InvalidCondition(f"invalid time value {raw!r}") from exc
            if bound is None:
                raise InvalidCondition(f"invalid time value {raw!r}")
            return t <= bound if operator == "before (absolute)" else t >= bound  # type: ignore[operator]
        now = ctx.now()
        if operator == "today":
            start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            return timefmt.fmt(start) <= t <= timefmt.fmt(start + timedelta(days=1, milliseconds=-1))  # type: ignore[operator]
        delta = _relative(cond)
        if operator == "within last (relative)":
            return timefmt.fmt(now - delta) <= t <= timefmt.fmt(now)  # type: ignore[operator]
        if operator == "within next (relative)":
            return timefmt.fmt(now) <= t <= timefmt.fmt(now + delta)  # type: ignore[operator]
        if operator == "before (relative)":
            return t <= timefmt.fmt(now - delta)  # type: ignore[operator]
        if operator == "after (relative)":
            return t >= timefmt.fmt(now + delta)  # type: ignore[operator]
        if operator == "till (relative)":
            return t <= timefmt.fmt(now + delta)  # type: ignore[operator]
        return t >= timefmt.fmt(now - delta)  # type: ignore[operator]  # from (relative)

    raise InvalidCondition(f"Invalid condition, operator '{operator}' is invalid")
