"""Facts (事实) every complaint policy decides on: cause, channel, loss, people, batch, flags ...

POLICY_SPEC §2: "Classification uses the ticket's cause/category field when present, else keyword
rules over title and body (configurable lists, Chinese first)". So, for each fact, in order:

1. a configured ticket field (an agent's value always wins);
2. a configured tag (``原因-mould``, ``回访-不满意``, ``标记-media`` ...);
3. keyword rules over the title and the customer's own articles (never internal notes, never
   the agents' replies: "感谢您的反馈" from an agent is not praise).

A fact no rule establishes stays ``None`` -- never guessed; the policies ask the agent. Every
fact found says where it came from in ``evidence``.

Keyword expressions (profile data): ``"虫|异物 + 未开封|没开封"`` -- ``|`` separates alternatives,
``+`` joins groups that must all occur. An occurrence right after a negation ("没有发霉",
"未造成伤害") does not count.

This plugin also copies the facts reports need (batch, loss amount, people, category) into the
complaint record (R-REC-4.15: the record holds the customer's request and the case's facts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kesu.effects import Effect, RecordComplaint
from kesu.facts import FLAG_NAMES, Facts
from kesu.models import EventKind, Ticket, TicketEvent
from plugins import hookimpl

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "facts"

Channel = Literal["consumer", "channel"]
Outcome = Literal["satisfied", "dissatisfied", "unreachable"]
Validity = Literal["valid", "invalid"]

_CLAUSE_BREAKS = "。！？!?；;\n"
_HTML_TAG = re.compile(r"<[^>]+>")
_NON_CUSTOMER_SENDERS = {"agent", "system"}


# ------------------------------------------------------------------------------------------------
# configuration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldNames(_Strict):
    """``[policies.facts.fields]``: ticket attributes an agent fills in ("" = not used)."""

    cause: str
    category: str
    channel: str
    loss_amount: str
    people: str
    batch: str
    flags: str
    validity: str
    followup_outcome: str
    target: str


class TagPrefixes(_Strict):
    """``[policies.facts.tags]``: tag = prefix + value, e.g. ``原因-mould`` ("" = not used)."""

    cause: str
    category: str
    channel: str
    flag: str
    validity: str
    followup_outcome: str


class ValueMaps(_Strict):
    """``[policies.facts.values]``: what a field or tag value means (case-insensitive)."""

    channel: dict[Channel, list[str]]
    validity: dict[Validity, list[str]]
    followup_outcome: dict[Outcome, list[str]]


class CauseRule(_Strict):
    label: str
    channel: Channel
    keywords: list[str]


class KeywordRule(_Strict):
    label: str
    keywords: list[str]


class LossRules(_Strict):
    """An amount counts as the loss only near one of these words (never the product's price)."""

    keywords: list[str]
    window: int = Field(ge=0, description="max characters between the word and the amount")


class FactsConfig(_Strict):
    """``[policies.facts]``; every value comes from the profile (policies/profiles/*/10-facts.toml)."""

    fields: FieldNames
    tags: TagPrefixes
    values: ValueMaps
    negations: list[str]
    negation_window: int = Field(ge=0)
    # Routing-table keys (R-ROUTE-1.10); the first matching channel cause wins, else the first
    # matching consumer cause in table order (keep stricter tiers first).
    causes: dict[str, CauseRule]
    channel_keywords: list[str]
    categories: dict[str, KeywordRule]
    flags: dict[str, KeywordRule]
    target_keywords: list[str]
    contact_patterns: list[str]
    batch_patterns: list[str]
    people_patterns: list[str]
    loss: LossRules

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, v: dict[str, KeywordRule]) -> dict[str, KeywordRule]:
        unknown = sorted(set(v) - set(FLAG_NAMES))
        if unknown:
            raise ValueError(f"unknown flag(s) {', '.join(unknown)}; allowed: {', '.join(FLAG_NAMES)}")
        return v

    @field_validator("contact_patterns", "batch_patterns", "people_patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return v


# ------------------------------------------------------------------------------------------------
# keyword expressions


@lru_cache(maxsize=4096)
def parse_expression(expr: str) -> tuple[tuple[str, ...], ...]:
    """``"虫|异物 + 未开封"`` -> ``(("虫", "异物"), ("未开封",))``."""
    groups = []
    for group in expr.split("+"):
        words = tuple(w.strip() for w in group.split("|") if w.strip())
        if words:
            groups.append(words)
    return tuple(groups)


def _negated(text: str, at: int, negations: Iterable[str], window: int) -> bool:
    """A negation word ends at most ``window`` characters before ``at``, in the same clause."""
    longest = max((len(n) for n in negations), default=0)
    before = text[max(0, at - window - longest):at]
    for brk in _CLAUSE_BREAKS:
        before = before.rsplit(brk, 1)[-1]
    for neg in negations:
        pos = before.rfind(neg)
        while pos != -1:
            if len(before) - (pos + len(neg)) <= window:
                return True
            pos = before.rfind(neg, 0, pos)
    return False


def find_word(text: str, word: str, negations: Iterable[str] = (), window: int = 0) -> int | None:
    """Index of the first occurrence of ``word`` not preceded by a negation, else ``None``.

    A number (a hotline such as ``12345``) counts only as a number of its own, never as digits
    inside a longer one (a phone number ``13812345678``)."""
    number = word.isdigit()
    start = text.find(word)
    while start != -1:
        end = start + len(word)
        inside = number and ((start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit()))
        if not inside and not _negated(text, start, negations, window):
            return start
        start = text.find(word, start + 1)
    return None


def match_expression(text: str, expr: str, negations: Iterable[str] = (), window: int = 0) -> str | None:
    """The words that matched (``"虫+未开封"``) when every group of ``expr`` occurs, else ``None``."""
    groups = parse_expression(expr)
    if not groups:
        return None
    found = []
    for group in groups:
        word = next((w for w in group if find_word(text, w, negations, window) is not None), None)
        if word is None:
            return None
        found.append(word)
    return "+".join(found)


def match_any(text: str, exprs: Iterable[str], negations: Iterable[str] = (), window: int = 0) -> str | None:
    for expr in exprs:
        hit = match_expression(text, expr, negations, window)
        if hit is not None:
            return hit
    return None


# Compiled keyword rules. ``match_any`` re-parses and scans the text once per word of every
# expression; a configuration's rules are compiled once instead (``KeywordMatcher``):
# ``present`` finds, in one pass over the configuration's whole vocabulary (only words whose first
# character occurs in the text are looked for), every word ``find_word`` would find -- not right
# after a negation in the same clause, not digits inside a longer number -- and each expression
# list is then decided by set lookups (``first_match``), in the same order and with the same
# result as ``match_any``.

#: An expression list, compiled: (every word in it, the parsed non-empty expressions in order).
Compiled = tuple[frozenset[str], tuple[tuple[tuple[str, ...], ...], ...]]


def compile_expressions(exprs: Iterable[str]) -> Compiled:
    parsed = tuple(groups for groups in (parse_expression(e) for e in exprs) if groups)
    return frozenset(w for groups in parsed for group in groups for w in group), parsed


def first_match(compiled: Compiled, present: frozenset[str] | set[str]) -> str | None:
    """``match_any`` of the compiled list, given the words ``present`` (un-negated) in the text."""
    words, parsed = compiled
    if words.isdisjoint(present):
        return None
    for groups in parsed:
        found = []
        for group in groups:
            word = next((w for w in group if w in present), None)
            if word is None:
                break
            found.append(word)
        else:
            return "+".join(found)
    return None


class KeywordMatcher:
    """Expression lists compiled together: ``present`` finds their words in a text in one pass,
    ``matches`` gives the index of every list with a word in the text (see ``first_match``)."""

    __slots__ = ("negations", "window", "lists", "_by_first", "_firsts", "_index", "_numbers")

    def __init__(self, lists: Iterable[Iterable[str]], negations: Iterable[str], window: int) -> None:
        self.negations = tuple(negations)
        self.window = window
        self.lists: tuple[Compiled, ...] = tuple(compile_expressions(exprs) for exprs in lists)
        by_first: dict[str, list[str]] = {}
        # word -> (list, expression) of every expression it appears in
        index: dict[str, list[tuple[int, int]]] = {}
        for i, (words, parsed) in enumerate(self.lists):
            for j, groups in enumerate(parsed):
                for group in groups:
                    for word in group:
                        same = by_first.setdefault(word[0], [])
                        if word not in same:
                            same.append(word)
                        if (i, j) not in index.setdefault(word, []):
                            index[word].append((i, j))
        self._by_first = {c: tuple(ws) for c, ws in by_first.items()}
        self._firsts = frozenset(by_first)
        self._index = {w: tuple(ids) for w, ids in index.items()}
        self._numbers = frozenset(w for w in index if w.isdigit())

    def _negated_at(self, text: str) -> set[int]:
        """Positions a word may not start at: at most ``window`` characters after the end of a
        negation, in the same clause (``_negated`` for every position at once)."""
        out: set[int] = set()
        window, size = self.window, len(text)
        for neg in self.negations:
            pos = text.find(neg)
            while pos != -1:
                end = pos + len(neg)
                at = end
                while at <= end + window and at <= size:
                    if at > end and text[at - 1] in _CLAUSE_BREAKS:
                        break
                    out.add(at)
                    at += 1
                pos = text.find(neg, pos + 1)
        return out

    def present(self, text: str, chars: frozenset[str] | None = None) -> frozenset[str]:
        """The words with an occurrence ``find_word`` accepts (not negated, not inside a number);
        ``chars``: ``frozenset(text)`` when the caller has it."""
        found = []
        negated: set[int] | None = None
        numbers = self._numbers
        if chars is not None:
            firsts: Iterable[str] = self._firsts.intersection(chars)
        elif len(self._firsts) < len(text):  # a small vocabulary: look for its first characters
            firsts = [c for c in self._firsts if c in text]
        else:
            firsts = self._firsts.intersection(text)
        for first in firsts:
            for word in self._by_first[first]:
                if word not in text:
                    continue
                if negated is None:
                    negated = self._negated_at(text) if self.negations else set()
                if not negated and word not in numbers:
                    found.append(word)
                    continue
                number, size = word in numbers, len(word)
                start = text.find(word)
                while start != -1:
                    end = start + size
                    inside = number and ((start > 0 and text[start - 1].isdigit())
                                         or (end < len(text) and text[end].isdigit()))
                    if not inside and start not in negated:
                        found.append(word)
                        break
                    start = text.find(word, start + 1)
        return frozenset(found)

    def matches(self, present: frozenset[str]) -> dict[int, str]:
        """``{index into lists: first_match}`` of every list that matches, by index.

        Only expressions with a word present can match; the first of them that does, in list
        order, is the list's answer."""
        index, lists = self._index, self.lists
        candidates: set[tuple[int, int]] = set()
        for word in present:
            candidates.update(index[word])
        out: dict[int, str] = {}
        for i, j in sorted(candidates):
            if i in out:
                continue
            found = []
            for group in lists[i][1][j]:
                word = next((w for w in group if w in present), None)
                if word is None:
                    break
                found.append(word)
            else:
                out[i] = "+".join(found)
        return out


_COMPILED: dict[tuple[int, str], tuple[object, tuple[object, ...], Any]] = {}


def compiled_for(owner: object, kind: str, parts: tuple[object, ...], build: Any) -> Any:
    """``build()``, computed once per configuration object ``owner`` (and ``kind`` of result).

    The cache holds ``owner`` and the values ``parts`` the result is built from, and builds again
    when they differ (a configuration copied with an update, a replaced list). Validated
    configurations are not changed in place (the host validates them once)."""
    key = (id(owner), kind)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is owner and hit[1] == parts:
        return hit[2]
    value = build()
    if len(_COMPILED) >= 128:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[key] = (owner, parts, value)
    return value


# ------------------------------------------------------------------------------------------------
# amounts and counts

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS) + "万"
_NUMBER = rf"(?:\d[\d,]*(?:\.\d+)?|[{_CN_CHARS}]+)"
_AMOUNT = re.compile(rf"(?P<num>{_NUMBER})\s*(?P<unit>万元|万块|万|千元|千块|千|元|块钱|块|圆)")


def chinese_number(s: str) -> float | None:
    """``"三万"`` -> 30000, ``"两万五千"`` -> 25000, ``"一万二"`` -> 12000 (colloquial), else None."""
    if not s or any(c not in _CN_CHARS for c in s):
        return None
    total, section, digit = 0, 0, None
    last_unit = 1
    for c in s:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[c]
            last_unit, digit = _CN_UNITS[c], None
        elif c == "万":
            total += (section + (digit or 0)) * 10000
            section, digit, last_unit = 0, None, 10000
    if digit is not None:
        # "一万二" / "三千五": a trailing digit counts in the next lower unit.
        section += digit * (last_unit // 10 if last_unit >= 10 else 1)
    return float(total + section)


def parse_number(s: str) -> float | None:
    s = s.strip()
    if not s:
        return None
    if s[0].isdigit():
        try:
            return float(s.replace(",", ""))
        except ValueError:
            return None
    return chinese_number(s)


def _amount_value(m: re.Match[str]) -> float | None:
    n = parse_number(m.group("num"))
    if n is None:
        return None
    unit = m.group("unit")
    if unit == "块" and not m.group("num")[0].isdigit():
        return None  # "一块豆腐" is a piece of tofu, not one yuan
    if unit.startswith("万"):
        n *= 10000
    elif unit.startswith("千"):
        n *= 1000
    return round(n, 2)


def _clause(text: str, start: int, end: int) -> tuple[str, str]:
    """The text of the same clause before ``start`` and after ``end``."""
    before, after = text[:start], text[end:]
    for brk in _CLAUSE_BREAKS:
        before = before.rsplit(brk, 1)[-1]
        after = after.split(brk, 1)[0]
    return before, after


def required_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Characters of which every match of ``pattern`` contains one, or ``None`` when the pattern
    does not say (a text without any of them cannot match: ``may_match``)."""
    try:
        from re import _constants as sre, _parser as parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover -- Python < 3.11
        return None
    if pattern.flags & re.IGNORECASE:
        return None

    def sequence(items: Any) -> frozenset[str] | None:
        best = None
        for op, av in items:
            chars = item(op, av)
            if chars is not None and (best is None or len(chars) < len(best)):
                best = chars
        return best

    def item(op: Any, av: Any) -> frozenset[str] | None:
        if op is sre.LITERAL:
            return frozenset(chr(av))
        if op is sre.IN:
            chars: set[str] = set()
            for o, a in av:
                if o is sre.LITERAL:
                    chars.add(chr(a))
                elif o is sre.RANGE and a[1] - a[0] < 256:
                    chars.update(chr(c) for c in range(a[0], a[1] + 1))
                else:
                    return None
            return frozenset(chars)
        if op is sre.SUBPATTERN:
            _, add_flags, _, sub = av
            return None if add_flags & re.IGNORECASE else sequence(sub)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None)):
            low, _, sub = av
            return sequence(sub) if low >= 1 else None
        if op is getattr(sre, "ATOMIC_GROUP", None):
            return sequence(av)
        if op is sre.BRANCH:
            union: set[str] = set()
            for alternative in av[1]:
                chars = sequence(alternative)
                if chars is None:
                    return None
                union |= chars
            return frozenset(union)
        return None

    try:
        parsed = parser.parse(pattern.pattern, pattern.flags)
        if parsed.state.flags & re.IGNORECASE:
            return None
        return sequence(parsed)
    except Exception:  # noqa: BLE001 -- only a shortcut: without it every text is searched
        return None


def may_match(required: frozenset[str] | None, text: str | frozenset[str]) -> bool:
    """Whether a pattern needing one of ``required`` may match a text (or its set of characters)."""
    return required is None or not required.isdisjoint(text)


_AMOUNT_CHARS = required_chars(_AMOUNT)


def loss_amounts(text: str, rules: LossRules, chars: frozenset[str] | None = None) -> list[tuple[float, str]]:
    """Amounts with a loss word (损失, 赔偿 ...) within ``window`` characters, same clause
    (``chars``: ``frozenset(text)`` when the caller has it)."""
    found: list[tuple[float, str]] = []
    if not may_match(_AMOUNT_CHARS, text if chars is None else chars):
        return found
    for m in _AMOUNT.finditer(text):
        value = _amount_value(m)
        if value is None:
            continue
        before, after = _clause(text, m.start(), m.end())
        for word in rules.keywords:
            pos = before.rfind(word)
            if pos != -1 and len(before) - (pos + len(word)) <= rules.window:
                found.append((value, f"{word}…{m.group(0)}"))
                break
            pos = after.find(word)
            if pos != -1 and pos <= rules.window:
                found.append((value, f"{m.group(0)}…{word}"))
                break
    return found


# ------------------------------------------------------------------------------------------------
# reading the ticket


def customer_text(ticket: Ticket) -> str:
    """Title plus the customer's own, public articles (HTML stripped)."""
    parts = [ticket.title]
    for a in ticket.articles:
        if a.internal or (a.sender or "").strip().lower() in _NON_CUSTOMER_SENDERS:
            continue
        body = _HTML_TAG.sub(" ", a.body) if "html" in (a.content_type or "") else a.body
        parts.append(body)
    return "\n".join(p for p in parts if p)


def _field(ticket: Ticket, name: str) -> Any:
    if not name:
        return None
    value = ticket.fields.get(name)
    if value is None or value == "" or value == []:
        return None
    return value


def _tag_values(ticket: Ticket, prefix: str) -> list[str]:
    if not prefix:
        return []
    return [t[len(prefix):].strip() for t in ticket.tags if t.startswith(prefix) and t[len(prefix):].strip()]


def _lookup(value: Any, table: Mapping[str, list[str]]) -> str | None:
    """The canonical key whose aliases (or the key itself) equal ``value``."""
    v = str(value).strip().lower()
    for key, aliases in table.items():
        if v == key.lower() or v in (a.strip().lower() for a in aliases):
            return key
    return None


def _lookup_rule(value: Any, rules: Mapping[str, KeywordRule | CauseRule]) -> str:
    """A field value may name a cause by key (``mould``) or by its label (``产品发酸、发霉变质``)."""
    v = str(value).strip()
    for key, rule in rules.items():
        if v.lower() == key.lower() or v == rule.label:
            return key
    return v  # an unknown key is passed on as given: routing says it is not in its table


def _listish(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in re.split(r"[,，;；、\s]+", str(value)) if p.strip()]


def _flag_name(value: str, rules: Mapping[str, KeywordRule]) -> str | None:
    if value in FLAG_NAMES:
        return value
    return next((k for k, r in rules.items() if r.label == value), None)


class _Rules:
    """A facts configuration's keyword rules and patterns, compiled once (``_rules``).

    The matcher's lists, in this order: causes (channel causes first: R-ROUTE-1.10, a channel
    cause wins over a product symptom), channel keywords, categories, flags, target keywords."""

    def __init__(self, config: FactsConfig) -> None:
        causes = [(k, r) for k, r in config.causes.items() if r.channel == "channel"]
        causes += [(k, r) for k, r in config.causes.items() if r.channel == "consumer"]
        lists: list[list[str]] = []

        def add(exprs: list[str]) -> int:
            lists.append(exprs)
            return len(lists) - 1

        # list index -> cause / category / flag key; lists of one kind are consecutive.
        self.causes = {add(r.keywords): k for k, r in causes}
        self.channel = add(config.channel_keywords)
        self.categories = {add(r.keywords): k for k, r in config.categories.items()}
        self.flags = {add(r.keywords): k for k, r in config.flags.items()}
        self.target = add(config.target_keywords)
        self.matcher = KeywordMatcher(lists, config.negations, config.negation_window)
        # Each pattern with the characters one of which a match needs (most texts skip the search).
        self.people = tuple((c, required_chars(c)) for c in map(re.compile, config.people_patterns))
        self.batch = tuple((c, required_chars(c)) for c in map(re.compile, config.batch_patterns))
        self.contact = tuple((c, required_chars(c)) for c in map(re.compile, config.contact_patterns))


def _rules(config: FactsConfig) -> _Rules:
    return compiled_for(config, "facts", (config.causes, config.channel_keywords, config.categories, config.flags,
                                          config.target_keywords, config.negations, config.negation_window,
                                          config.people_patterns, config.batch_patterns, config.contact_patterns),
                        lambda: _Rules(config))


def extract(ticket: Ticket, config: FactsConfig) -> dict[str, Any]:
    """Every fact the configuration can establish, with evidence."""
    f = config.fields
    tags = config.tags
    rules = _rules(config)
    text = customer_text(ticket)
    chars = frozenset(text)
    # {keyword list: the words that matched}, in list order (= the configuration's order).
    keywords = rules.matcher.matches(rules.matcher.present(text, chars))
    out: dict[str, Any] = {"flags": {}, "evidence": {}}
    ev: dict[str, str] = out["evidence"]

    def first_of(fact: str, field_name: str, prefix: str, convert: Any) -> bool:
        raw = _field(ticket, field_name)
        if raw is not None:
            value = convert(raw)
            if value is not None:
                out[fact], ev[fact] = value, f"field {field_name}={raw}"
                return True
        for raw in _tag_values(ticket, prefix):
            value = convert(raw)
            if value is not None:
                out[fact], ev[fact] = value, f"tag {prefix}{raw}"
                return True
        return False

    # cause / channel ---------------------------------------------------------------------------
    first_of("cause", f.cause, tags.cause, lambda v: _lookup_rule(v, config.causes))
    first_of("channel", f.channel, tags.channel, lambda v: _lookup(v, config.values.channel))
    if "cause" not in out:
        # R-ROUTE-1.10: a channel cause wins over a product symptom (rules.causes: channel first).
        for i, hit in keywords.items():
            if i in rules.causes:
                out["cause"], ev["cause"] = rules.causes[i], f"keyword {hit}"
                break
    if "channel" not in out:
        cause_rule = config.causes.get(out.get("cause", ""))
        if cause_rule is not None:
            out["channel"], ev["channel"] = cause_rule.channel, f"cause {out['cause']}"
        else:
            hit = keywords.get(rules.channel)
            if hit is not None:
                out["channel"], ev["channel"] = "channel", f"keyword {hit}"

    # category ----------------------------------------------------------------------------------
    if not first_of("category", f.category, tags.category, lambda v: _lookup_rule(v, config.categories)):
        for i, hit in keywords.items():
            if i in rules.categories:
                out["category"], ev["category"] = rules.categories[i], f"keyword {hit}"
                break

    # loss amount, people, batch ----------------------------------------------------------------
    raw = _field(ticket, f.loss_amount)
    amount = parse_number(str(raw)) if raw is not None else None
    if amount is not None:
        out["loss_amount"], ev["loss_amount"] = amount, f"field {f.loss_amount}={raw}"
    else:
        amounts = loss_amounts(text, config.loss, chars)
        if amounts:
            value, where = max(amounts)
            out["loss_amount"], ev["loss_amount"] = value, f"text {where}"

    raw = _field(ticket, f.people)
    people = parse_number(str(raw)) if raw is not None else None
    if people is not None:
        out["people"], ev["people"] = int(people), f"field {f.people}={raw}"
    else:
        counts = []
        for pattern, required in rules.people:
            for m in pattern.finditer(text) if may_match(required, chars) else ():
                n = parse_number(m.group("n"))
                if n is not None:
                    counts.append((int(n), m.group(0)))
        if counts:
            n, where = max(counts)
            out["people"], ev["people"] = n, f"text {where}"

    raw = _field(ticket, f.batch)
    if raw is not None:
        out["batch"], ev["batch"] = str(raw).strip(), f"field {f.batch}"
    else:
        for pattern, required in rules.batch:
            m = pattern.search(text) if may_match(required, chars) else None
            if m:
                out["batch"], ev["batch"] = m.group(1), f"text {m.group(0)}"
                break

    # contact and target (R-VALID-1.4.1) --------------------------------------------------------
    c = ticket.customer
    if c is not None and (c.email or c.phone):
        out["has_contact"], ev["has_contact"] = True, "customer " + ("email" if c.email else "phone")
    else:
        m = next((m for p, required in rules.contact if may_match(required, chars) and (m := p.search(text))), None)
        if m is not None:
            out["has_contact"], ev["has_contact"] = True, "text contact"
        elif c is not None:
            out["has_contact"], ev["has_contact"] = False, "customer without email or phone"
    raw = _field(ticket, f.target)
    if raw is not None:
        out["names_target"], ev["names_target"] = True, f"field {f.target}={raw}"
    else:
        hit = keywords.get(rules.target)
        if hit is not None:
            out["names_target"], ev["names_target"] = True, f"keyword {hit}"

    # a person's decisions ----------------------------------------------------------------------
    first_of("validity", f.validity, tags.validity, lambda v: _lookup(v, config.values.validity))
    first_of("followup_outcome", f.followup_outcome, tags.followup_outcome,
             lambda v: _lookup(v, config.values.followup_outcome))

    # flags: field, tags, then keywords -----------------------------------------------------------
    flags: dict[str, bool] = out["flags"]
    raw = _field(ticket, f.flags)
    for value in _listish(raw) if raw is not None else ():
        name = _flag_name(value, config.flags)
        if name is not None:
            flags[name], ev[f"flag:{name}"] = True, f"field {f.flags}"
    for value in _tag_values(ticket, tags.flag):
        name = _flag_name(value, config.flags)
        if name is not None and name not in flags:
            flags[name], ev[f"flag:{name}"] = True, f"tag {tags.flag}{value}"
    for i, hit in keywords.items():
        name = rules.flags.get(i)
        if name is not None and name not in flags:
            flags[name], ev[f"flag:{name}"] = True, f"keyword {hit}"
    return out


# ------------------------------------------------------------------------------------------------
# hooks


@hookimpl
def kesu_policy_config() -> type[BaseModel]:
    return FactsConfig


@hookimpl
def kesu_extract_facts(ticket: Ticket, config: FactsConfig) -> Mapping[str, Any]:
    return extract(ticket, config)


#: Facts copied into the complaint record (its columns or its ``extra``) for reports.
RECORDED = ("category", "batch", "loss_amount", "people")


@hookimpl
def kesu_evaluate(event: TicketEvent, facts: Facts, record: Mapping[str, Any]) -> list[Effect] | None:
    # R-REC-4.15: the record holds the customer's request and the facts of the case.
    if event.kind is EventKind.timer_fired:
        return None
    values = {k: getattr(facts, k) for k in RECORDED
              if getattr(facts, k) is not None and record.get(k) != getattr(facts, k)}
    if not values:
        return None
    return [RecordComplaint(rule_id="R-REC-4.15", values=values,
                            reason="记录客诉事实", reason_en="facts recorded", source=SOURCE)]
