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


def loss_amounts(text: str, rules: LossRules) -> list[tuple[float, str]]:
    """Amounts with a loss word (损失, 赔偿 ...) within ``window`` characters, same clause."""
    found = []
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


def extract(ticket: Ticket, config: FactsConfig) -> dict[str, Any]:
    """Every fact the configuration can establish, with evidence."""
    f = config.fields
    tags = config.tags
    neg, win = config.negations, config.negation_window
    text = customer_text(ticket)
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
        # R-ROUTE-1.10: a channel cause wins over a product symptom.
        ordered = [(k, r) for k, r in config.causes.items() if r.channel == "channel"]
        ordered += [(k, r) for k, r in config.causes.items() if r.channel == "consumer"]
        for key, rule in ordered:
            hit = match_any(text, rule.keywords, neg, win)
            if hit is not None:
                out["cause"], ev["cause"] = key, f"keyword {hit}"
                break
    if "channel" not in out:
        cause_rule = config.causes.get(out.get("cause", ""))
        if cause_rule is not None:
            out["channel"], ev["channel"] = cause_rule.channel, f"cause {out['cause']}"
        else:
            hit = match_any(text, config.channel_keywords, neg, win)
            if hit is not None:
                out["channel"], ev["channel"] = "channel", f"keyword {hit}"

    # category ----------------------------------------------------------------------------------
    if not first_of("category", f.category, tags.category, lambda v: _lookup_rule(v, config.categories)):
        for key, rule in config.categories.items():
            hit = match_any(text, rule.keywords, neg, win)
            if hit is not None:
                out["category"], ev["category"] = key, f"keyword {hit}"
                break

    # loss amount, people, batch ----------------------------------------------------------------
    raw = _field(ticket, f.loss_amount)
    amount = parse_number(str(raw)) if raw is not None else None
    if amount is not None:
        out["loss_amount"], ev["loss_amount"] = amount, f"field {f.loss_amount}={raw}"
    else:
        amounts = loss_amounts(text, config.loss)
        if amounts:
            value, where = max(amounts)
            out["loss_amount"], ev["loss_amount"] = value, f"text {where}"

    raw = _field(ticket, f.people)
    people = parse_number(str(raw)) if raw is not None else None
    if people is not None:
        out["people"], ev["people"] = int(people), f"field {f.people}={raw}"
    else:
        counts = []
        for pattern in config.people_patterns:
            for m in re.finditer(pattern, text):
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
        for pattern in config.batch_patterns:
            m = re.search(pattern, text)
            if m:
                out["batch"], ev["batch"] = m.group(1), f"text {m.group(0)}"
                break

    # contact and target (R-VALID-1.4.1) --------------------------------------------------------
    c = ticket.customer
    if c is not None and (c.email or c.phone):
        out["has_contact"], ev["has_contact"] = True, "customer " + ("email" if c.email else "phone")
    else:
        m = next((m for p in config.contact_patterns if (m := re.search(p, text))), None)
        if m is not None:
            out["has_contact"], ev["has_contact"] = True, "text contact"
        elif c is not None:
            out["has_contact"], ev["has_contact"] = False, "customer without email or phone"
    raw = _field(ticket, f.target)
    if raw is not None:
        out["names_target"], ev["names_target"] = True, f"field {f.target}={raw}"
    else:
        hit = match_any(text, config.target_keywords, neg, win)
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
    for name, rule in config.flags.items():
        if name in flags:
            continue
        hit = match_any(text, rule.keywords, neg, win)
        if hit is not None:
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
                            reason="记录客诉事实", reason_en="facts recorded")]
