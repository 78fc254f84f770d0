"""Facts (事实) every complaint policy decides on: cause, channel, loss, people, batch, flags ...

POLICY_SPEC §2: "Classification uses the ticket's cause/category field when present, else keyword
rules over title and body (configurable lists, Chinese first)". So, for each fact, in order:

1. a configured ticket field (an agent's value always wins);
2. a configured tag (``原因-mould``, ``回访-不满意``, ``标记-media`` ...);
3. optionally an LLM's reading of the text (``[policies.facts.llm]``, off by default), each fact
   with the exact words behind it, checked against the text (policies.llm);
4. the customer's own words (title and public articles; never internal notes, never the agents'
   replies: "感谢您的反馈" from an agent is not praise), read as a person reads them
   (policies.text): normalised (traditional → simplified, full-width → half-width), negation
   per clause ("没有受伤", "受伤倒是没有"), hypotheticals per sentence ("万一孩子吃了"), amounts in
   any numeral form ("两万三", "1.2万", "12,800元"); matched against rules over semantic classes
   (policies.lexicon: ``@insect`` is every insect a customer may name).

A fact no rule establishes stays ``None`` -- never guessed; the policies ask the agent. Every
fact found says where it came from in ``evidence`` (in Chinese, quoting the customer's words
「…」), and ``origin`` says whether a person (field, tag) or the text established it.

When an agent's field or tag contradicts what the text says, the agent wins, the note says so
(R-REC-4.15), and the text with the agent's facts is recorded as a labelled example
(``kesu facts corrections export``).

This plugin also copies the facts reports need (batch, loss amount, people, category) into the
complaint record (R-REC-4.15: the record holds the customer's request and the case's facts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kesu.effects import Effect, InternalNote, RecordComplaint
from kesu.facts import FLAG_NAMES, Facts
from kesu import i18n, ticket_fields
from kesu.models import EventKind, Ticket, TicketEvent
from kesu.ticket_fields import TicketField
from plugins import hookimpl
from policies.lexicon import (
    DEFAULT_CLAUSE_NEGATIONS,
    DEFAULT_SIMILE_ENDS,
    DEFAULT_SIMILES,
    DEFAULT_HYPOTHETICALS,
    DEFAULT_POST_NEGATIONS,
    DEFAULT_PSEUDO_NEGATIONS,
    Compiled,
    KeywordMatcher,
    UnknownClass,
    compile_expressions,
    first_match,
    parse_expression,
)
from policies.text import ScopeCues, amounts, clause_of, normalise, number_value, quote, sentence_of

__all__ = ["KeywordMatcher", "Compiled", "compile_expressions", "first_match", "parse_expression",
           "FactsConfig", "extract", "customer_text", "compiled_for"]

#: This plugin's name (plugins.manager.BUILTIN_PLUGINS). Its effects carry it from the start, so the
#: host has nothing to stamp and need not copy them.
SOURCE = "facts"

Channel = Literal["consumer", "channel"]
Outcome = Literal["satisfied", "dissatisfied", "unreachable"]
Validity = Literal["valid", "invalid"]

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
    label_en: str = Field("", description="English label (English notes, reports, admin page)")
    channel: Channel
    keywords: list[str]
    hypothetical: bool = Field(False, description="count words in a hypothetical's scope too")
    #: Expressions that make this the cause only when no other cause's expressions match: how a
    #: clerk behaved while the customer asked about a bill is a complaint about the bill
    #: (the attitude flag still holds); rudeness with no other matter is a conduct complaint.
    secondary: list[str] = Field(default_factory=list)


class KeywordRule(_Strict):
    label: str
    label_en: str = Field("", description="English label (English notes, reports, admin page)")
    keywords: list[str]
    hypothetical: bool = Field(False, description="count words in a hypothetical's scope too (threats)")
    people_only: bool = Field(False, description="harm to a person: words told of an animal do not count")
    own_words: bool = Field(False, description="the customer's own words: quoted speech of others does not count")


class LossRules(_Strict):
    """``[policies.facts.loss]``: which amount in the text is the loss (R-TIER-5.3.2-5.3.4).

    An amount's role comes from the words within ``window`` characters of it in its clause: a
    shortfall or loss (``strong``: 差了, 少赔, 多扣 ...) outranks a cost or a demand (``keywords``:
    花了, 维修费, 赔我 ...), an explicit total (``totals``: 一共, 合计) outranks both, and a
    ``not_loss`` word (a price, a premium, a salary) nearer to the amount than every loss word makes
    it no loss. ``unmarked``: an amount with none of these words still counts, weakest. The
    highest-ranked amount wins; between equals, the one said last (the customer's conclusion)."""

    keywords: list[str]
    window: int = Field(ge=0, description="max characters between a word and the amount")
    strong: list[str] = Field(default_factory=list)
    totals: list[str] = Field(default_factory=list)
    not_loss: list[str] = Field(default_factory=list)
    unmarked: bool = False


class LexClass(_Strict):
    """``[policies.facts.lexicon.<name>]``: the words of one semantic class (``@name`` in rules).

    ``words`` is the profile's vocabulary; ``add`` is for a site's own words (a product, a local
    name) without copying the list; ``except`` are phrases in which a word does not count
    ("虫草" for 虫, "毛巾" for 毛)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    label: str = ""
    words: list[str] = Field(default_factory=list)
    add: list[str] = Field(default_factory=list)
    except_: list[str] = Field(default_factory=list, alias="except")
    #: Things that must be there to count (an insect, a shard): the image of a simile does not
    #: ("字小得跟蚂蚁似的", "跟撒了一把胡椒面似的"); see ``[policies.facts.scope] similes``.
    literal: bool = False

    def all_words(self) -> list[str]:
        return [*self.words, *self.add]

    @field_validator("words", "add")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for word in v:
            if word.startswith("re:"):
                try:
                    re.compile(word[3:])
                except re.error as exc:
                    raise ValueError(f"invalid regular expression {word!r}: {exc}") from None
        return v


class ScopeConfig(_Strict):
    """``[policies.facts.scope]``: cue words for negation and hypotheticals (policies.text)."""

    pseudo_negations: list[str] = Field(default_factory=lambda: list(DEFAULT_PSEUDO_NEGATIONS))
    post_negations: list[str] = Field(default_factory=lambda: list(DEFAULT_POST_NEGATIONS))
    hypotheticals: list[str] = Field(default_factory=lambda: list(DEFAULT_HYPOTHETICALS))
    clause_negations: list[str] = Field(default_factory=lambda: list(DEFAULT_CLAUSE_NEGATIONS))
    similes: list[str] = Field(default_factory=lambda: list(DEFAULT_SIMILES))
    simile_ends: list[str] = Field(default_factory=lambda: list(DEFAULT_SIMILE_ENDS))
    simile_window: int = Field(10, ge=0)
    animals: list[str] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list)
    speech_verbs: list[str] = Field(default_factory=list)


class FactsConfig(_Strict):
    """``[policies.facts]``; every value comes from the profile (policies/profiles/*/10-facts.toml)."""

    fields: FieldNames
    tags: TagPrefixes
    values: ValueMaps
    negations: list[str]
    negation_window: int = Field(ge=0)
    scope: ScopeConfig = Field(default_factory=ScopeConfig)
    lexicon: dict[str, LexClass] = Field(default_factory=dict)
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
    llm: dict[str, Any] = Field(default_factory=dict, description="[policies.facts.llm]: see policies.llm")

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

    @model_validator(mode="after")
    def _classes_exist(self) -> FactsConfig:
        lexicon = self.lexicon_words()
        exprs = [*self.channel_keywords, *self.target_keywords, *self.loss.keywords, *self.loss.strong,
                 *self.loss.totals, *self.loss.not_loss]
        exprs += [e for r in (*self.causes.values(), *self.categories.values(), *self.flags.values()) for e in r.keywords]
        for expr in exprs:
            if "re:" in expr:
                raise ValueError(f"a pattern (re:) belongs in a lexicon class, not in an expression: {expr!r}; "
                                 "add it to [policies.facts.lexicon.<name>] words and write @<name>")
            try:
                parse_expression(expr, lexicon)
            except UnknownClass as exc:
                raise ValueError(f"{exc}; defined classes: {', '.join(sorted(lexicon)) or '(none)'}") from None
        return self

    def lexicon_words(self) -> dict[str, list[str]]:
        return {name: c.all_words() for name, c in self.lexicon.items()}


# ------------------------------------------------------------------------------------------------
# compiled rules

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


def parse_number(s: str) -> float | None:
    """A field's number or a count: ``"12,800"``, ``"1.2万"``, ``"两万三"``, ``"五"``."""
    return number_value(s)


chinese_number = parse_number


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


class _LossWords:
    """A loss configuration's word lists, expanded (``@class``) and normalised once."""

    def __init__(self, rules: LossRules, lexicon: Mapping[str, list[str]]) -> None:
        def words(exprs: list[str]) -> tuple[str, ...]:
            out: list[str] = []
            for e in exprs:
                for cluster in parse_expression(e, lexicon):
                    for group in cluster:
                        out.extend(group)
            return tuple(dict.fromkeys(out))

        self.cost = words(rules.keywords)
        self.strong = words(rules.strong)
        self.totals = words(rules.totals)
        self.not_loss = words(rules.not_loss)


def loss_amounts(norm: str, rules: LossRules, original: str | None = None,
                 words: _LossWords | None = None) -> list[tuple[int, int, float, str]]:
    """(rank, tie-break, value, the customer's words) of every amount that may be the loss (see
    ``LossRules``); the caller takes the highest rank, then the tie-break: among totals and
    shortfalls the last said (the customer's conclusion), among costs the largest."""
    found: list[tuple[int, int, float, str]] = []
    original = original if original is not None and len(original) == len(norm) else norm
    words = words or _LossWords(rules, {})
    window = rules.window
    for amt in amounts(norm, bare=True):
        if amt.approximate:
            continue  # "两万多", "十几万", "三四十万": not an exact figure
        a, b = sentence_of(norm, amt.start, amt.end)
        ca, cb = clause_of(norm, amt.start, amt.end)
        # before: up to ``window`` characters back within the sentence (a cue may end the clause
        # before: "违约金，算到现在是三万七千六百元"); after: the rest of the clause only
        before, after = norm[max(a, amt.start - window - 8):amt.start], norm[amt.end:cb]
        own = norm[max(ca, amt.start - window - 8):amt.start]  # before, this clause only
        loss_words = words.strong + words.cost + words.totals
        mb, ma = _mask(before, loss_words), _mask(after[:4], loss_words)
        # a not-loss word right before the amount ("每月150元", "保费3600") or nearer than every
        # loss word makes it no loss ("赔了我" inside "少赔了我" is masked: no not-loss word)
        d_not_before = _distance(mb, "", words.not_loss, window)
        d_not = _distance(mb, ma, words.not_loss, window)
        ranks = []
        for rank, ws, text_before in ((5, words.totals, own), (4, words.strong, before), (2, words.cost, before)):
            d = _distance(text_before, after if rank != 5 else "", ws, window)
            if d is not None:
                ranks.append((rank, d))
        if amt.bare and not any(_distance(before, "", ws, 4) is not None
                                for ws in (words.strong, words.cost, words.totals)):
            continue  # a bare number only right after a money word ("赔偿金额30000")
        if d_not_before is not None and d_not_before <= 3 and not any(d < d_not_before for _, d in ranks):
            continue
        if d_not_before is not None and ranks and all(r == 5 for r, _ in ranks):
            continue  # "房款一共一百二十六万": a total of prices, not of losses
        # a tie goes to the not-loss word against a cost or a demand ("花了12元买的"), never
        # against a shortfall ("多扣的4,900元保费")
        if d_not is not None and all(d_not < d or (d_not == d and r < 4) for r, d in ranks):
            continue
        rank = max((r for r, _ in ranks), default=1 if rules.unmarked else 0)
        if rank == 0:
            continue
        found.append((rank, amt.start if rank >= 4 else int(amt.value), amt.value,
                      quote(original, amt.start, amt.end, 6)))
    return found


def _mask(text: str, words: Iterable[str]) -> str:
    for w in words:
        if len(w) > 1 and w in text:
            text = text.replace(w, "\0" * len(w))
    return text


def _distance(before: str, after: str, words: Iterable[str], window: int) -> int | None:
    best: int | None = None
    for w in words:
        pos = before.rfind(w)
        if pos != -1:
            d = len(before) - (pos + len(w))
            if d <= window and (best is None or d < best):
                best = d
        pos = after.find(w)
        if pos != -1 and pos <= window and (best is None or pos < best):
            best = pos
    return best


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
    """A facts configuration's rules and patterns, compiled once (``_rules``).

    The matcher's lists, in this order: causes (channel causes first: R-ROUTE-1.10, a channel
    cause wins over a product symptom), channel keywords, categories, flags, target keywords."""

    def __init__(self, config: FactsConfig) -> None:
        causes = [(k, r) for k, r in config.causes.items() if r.channel == "channel"]
        causes += [(k, r) for k, r in config.causes.items() if r.channel == "consumer"]
        lists: list[list[str]] = []
        hypothetical: list[int] = []

        def add(exprs: list[str], hyp: bool = False) -> int:
            lists.append(exprs)
            if hyp:
                hypothetical.append(len(lists) - 1)
            return len(lists) - 1

        # list index -> cause / category / flag key; lists of one kind are consecutive.
        self.causes = {add(r.keywords, r.hypothetical): k for k, r in causes}
        secondary = {add(r.secondary, r.hypothetical): k for k, r in causes if r.secondary}
        self.causes.update(secondary)
        self.secondary_causes = frozenset(secondary)
        self.channel_causes = frozenset(i for i, k in self.causes.items() if config.causes[k].channel == "channel")
        self.channel = add(config.channel_keywords)
        self.categories = {add(r.keywords, r.hypothetical): k for k, r in config.categories.items()}
        self.flags = {add(r.keywords, r.hypothetical): k for k, r in config.flags.items()}
        self.target = add(config.target_keywords)
        self.loss_words = _LossWords(config.loss, config.lexicon_words())
        sc = config.scope
        self.cues = ScopeCues(tuple(normalise(n) for n in config.negations), config.negation_window,
                              tuple(normalise(n) for n in sc.pseudo_negations),
                              tuple(normalise(n) for n in sc.post_negations), 3,
                              tuple(normalise(n) for n in sc.hypotheticals),
                              tuple(normalise(n) for n in sc.clause_negations),
                              tuple(normalise(n) for n in sc.similes),
                              tuple(normalise(n) for n in sc.simile_ends), sc.simile_window,
                              tuple(normalise(n) for n in sc.animals), tuple(normalise(n) for n in sc.persons),
                              tuple(normalise(n) for n in sc.speech_verbs))
        exceptions: dict[str, list[str]] = {}
        for cls in config.lexicon.values():
            for word in cls.all_words():
                if cls.except_:
                    exceptions.setdefault(word, []).extend(cls.except_)
        self.matcher = KeywordMatcher(lists, self.cues, lexicon=config.lexicon_words(), exceptions=exceptions,
                                      hypothetical_lists=hypothetical,
                                      literal=[w for c in config.lexicon.values() if c.literal
                                               for w in c.all_words() if not w.startswith("re:")],
                                      people_only=[w for r in config.flags.values() if r.people_only
                                                   for w in compile_expressions(r.keywords, config.lexicon_words())[0]
                                                   if not w.startswith("re:")],
                                      own_words=[w for r in config.flags.values() if r.own_words
                                                 for w in compile_expressions(r.keywords, config.lexicon_words())[0]
                                                 if not w.startswith("re:")])
        # Each pattern with the characters one of which a match needs (most texts skip the search).
        self.people = tuple((c, required_chars(c)) for c in map(re.compile, config.people_patterns))
        self.batch = tuple((c, required_chars(c)) for c in map(re.compile, config.batch_patterns))
        self.contact = tuple((c, required_chars(c)) for c in map(re.compile, config.contact_patterns))


def _rules(config: FactsConfig) -> _Rules:
    return compiled_for(config, "facts", (config.causes, config.channel_keywords, config.categories, config.flags,
                                          config.target_keywords, config.negations, config.negation_window,
                                          config.scope, config.lexicon, config.loss,
                                          config.people_patterns, config.batch_patterns, config.contact_patterns),
                        lambda: _Rules(config))


def _quoted(original: str, where: Mapping[str, tuple[int, int]], hit: str) -> str:
    """「the customer's words」 behind a hit ``"虫+刚打开"`` (each word in its clause)."""
    parts = []
    words, acc = [], ""
    for token in re.split(r"([+~])", hit):  # a "re:" word may itself hold "+" or "~"
        acc = "" if acc == "" and token in "+~" else acc + token
        if acc in where:
            words.append(acc)
            acc = ""
    for word in words:
        span = where.get(word)
        if span is None:
            continue
        q = quote(original, *span)
        if q and not any(q in p for p in parts):
            parts = [p for p in parts if p not in q] + [q]
    return "".join(f"「{q}」" for q in parts) or f"「{hit}」"


def read_text(text: str, config: FactsConfig) -> dict[str, Any]:
    """The facts the customer's own words establish (no field, no tag): cause, channel,
    category, loss amount, people, batch, target, flags -- each with the words behind it."""
    rules = _rules(config)
    norm = normalise(text)
    original = text if len(text) == len(norm) else norm
    analysis = rules.matcher.analyse(norm, normalised=True)
    where = {**analysis.asserted, **analysis.facts}
    counts: dict[int, int] = {}
    keywords = rules.matcher.matches(analysis.facts, analysis.asserted, analysis, counts)
    out: dict[str, Any] = {"flags": {}, "evidence": {}}
    ev: dict[str, str] = out["evidence"]
    # The cause with the most matching expressions; R-ROUTE-1.10: a channel cause wins over a
    # product symptom whatever the counts; ties go to the table's order (stricter tiers first).
    found = [(i not in rules.channel_causes, -counts.get(i, 1), i) for i in keywords if i in rules.causes]
    if any(i not in rules.secondary_causes for *_, i in found):
        found = [f for f in found if f[2] not in rules.secondary_causes]
    if found:
        i = min(found)[2]
        out["cause"], ev["cause"] = rules.causes[i], _quoted(original, where, keywords[i])
    cause_rule = config.causes.get(out.get("cause", ""))
    if cause_rule is not None:
        out["channel"], ev["channel"] = cause_rule.channel, ev["cause"]
    elif (hit := keywords.get(rules.channel)) is not None:
        out["channel"], ev["channel"] = "channel", _quoted(original, where, hit)
    for i, hit in keywords.items():
        if i in rules.categories:
            out["category"], ev["category"] = rules.categories[i], _quoted(original, where, hit)
            break
    losses = loss_amounts(norm, config.loss, original, rules.loss_words)
    if losses:
        _, _, value, words = max(losses)
        out["loss_amount"], ev["loss_amount"] = value, f"「{words}」"
    counts = []
    chars = frozenset(norm)
    for pattern, required in rules.people:
        for m in pattern.finditer(norm) if may_match(required, chars) else ():
            n = parse_number(m.group("n"))
            if n is not None:
                counts.append((int(n), original[m.start():m.end()]))
    if counts:
        n, words = max(counts)
        out["people"], ev["people"] = n, f"「{words}」"
    for pattern, required in rules.batch:
        m = pattern.search(text) if may_match(required, frozenset(text)) else None
        if m:
            out["batch"], ev["batch"] = m.group(1), f"「{m.group(0)}」"
            break
    m = next((m for p, required in rules.contact if may_match(required, chars) and (m := p.search(norm))), None)
    if m is not None:
        out["has_contact"], ev["has_contact"] = True, "原文中的联系方式"
    if (hit := keywords.get(rules.target)) is not None:
        out["names_target"], ev["names_target"] = True, _quoted(original, where, hit)
    for i, hit in keywords.items():
        name = rules.flags.get(i)
        if name is not None:
            out["flags"][name], ev[f"flag:{name}"] = True, _quoted(original, where, hit)
    return out


_READ: Any = None


def _read_remembered(text: str, config: FactsConfig) -> dict[str, Any]:
    """``read_text``, remembered per text for the configuration's compiled rules: a ticket's later
    events (an agent's reply, a field set) usually add no customer words, so its reading is the
    same. The answer is shared: callers never change it."""
    global _READ
    if _READ is None:
        from cachetools import LRUCache

        _READ = LRUCache(maxsize=2048)
    key = (id(_rules(config)), text)
    hit = _READ.get(key)
    if hit is None:
        hit = _READ[key] = read_text(text, config)
    return hit


#: Facts a person may set that the text also tells (a difference is a correction to learn from).
CORRECTABLE = ("cause", "category", "channel", "loss_amount", "people")


def extract(ticket: Ticket, config: FactsConfig, *, text_facts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every fact the configuration can establish, with evidence: fields, then tags, then the
    text (``text_facts``: another reader's facts of the text, e.g. the LLM's, used before the
    local reading for the facts it has)."""
    f = config.fields
    tags = config.tags
    text = customer_text(ticket)
    if text_facts is None and config.llm.get("enabled"):
        # An LLM reads the text first where a site runs one; None (off, timeout, error, an
        # invalid answer) falls back to the local reading (policies.llm logs why).
        from policies import llm

        text_facts = llm.read(text, config, llm.LLMSettings.model_validate(config.llm))
    local = _read_remembered(text, config)
    read: dict[str, Any] = local
    if text_facts:
        read = {**local, **{k: v for k, v in text_facts.items() if k not in ("flags", "evidence", "origin")},
                "flags": {**local["flags"], **text_facts.get("flags", {})},
                "evidence": {**local["evidence"], **text_facts.get("evidence", {})}}
    text_origin = (text_facts or {}).get("origin", {})
    out: dict[str, Any] = {"flags": {}, "evidence": {}, "origin": {}, "corrections": {}}
    ev: dict[str, str] = out["evidence"]
    origin: dict[str, str] = out["origin"]

    def by_person(fact: str, field_name: str, prefix: str, convert: Any) -> bool:
        raw = _field(ticket, field_name)
        if raw is not None:
            value = convert(raw)
            if value is not None:
                out[fact], ev[fact], origin[fact] = value, f"字段 {field_name}={raw}", "field"
                return True
        for raw in _tag_values(ticket, prefix):
            value = convert(raw)
            if value is not None:
                out[fact], ev[fact], origin[fact] = value, f"标签 {prefix}{raw}", "tag"
                return True
        return False

    def from_text(fact: str, ev_key: str | None = None) -> None:
        if fact in read and read[fact] is not None:
            out[fact] = read[fact]
            ev[ev_key or fact] = read["evidence"].get(ev_key or fact, "")
            origin[fact] = text_origin.get(fact, "text")

    def person_or_text(fact: str, field_name: str, prefix: str, convert: Any) -> None:
        if by_person(fact, field_name, prefix, convert):
            said = read.get(fact)
            if fact in CORRECTABLE and said != out[fact]:
                out["corrections"][fact] = {"text": said, "agent": out[fact],
                                            "words": read["evidence"].get(fact, "")}
        else:
            from_text(fact)

    person_or_text("cause", f.cause, tags.cause, lambda v: _lookup_rule(v, config.causes))
    if not by_person("channel", f.channel, tags.channel, lambda v: _lookup(v, config.values.channel)):
        cause_rule = config.causes.get(out.get("cause", ""))
        if cause_rule is not None and origin.get("cause") in ("field", "tag"):
            out["channel"], ev["channel"], origin["channel"] = cause_rule.channel, f"原因 {cause_rule.label}", origin["cause"]
        else:
            from_text("channel")
    person_or_text("category", f.category, tags.category, lambda v: _lookup_rule(v, config.categories))

    # loss amount, people, batch ----------------------------------------------------------------
    for fact, name, convert in (("loss_amount", f.loss_amount, lambda v: parse_number(str(v))),
                                ("people", f.people, lambda v: None if (n := parse_number(str(v))) is None else int(n))):
        raw = _field(ticket, name)
        value = convert(raw) if raw is not None else None
        if value is not None:
            out[fact], ev[fact], origin[fact] = value, f"字段 {name}={raw}", "field"
            if read.get(fact) is not None and read.get(fact) != value:
                out["corrections"][fact] = {"text": read.get(fact), "agent": value,
                                            "words": read["evidence"].get(fact, "")}
        else:
            from_text(fact)
    raw = _field(ticket, f.batch)
    if raw is not None:
        out["batch"], ev["batch"], origin["batch"] = str(raw).strip(), f"字段 {f.batch}", "field"
    else:
        from_text("batch")

    # contact and target (R-VALID-1.4.1) --------------------------------------------------------
    c = ticket.customer
    if c is not None and (c.email or c.phone):
        out["has_contact"], ev["has_contact"] = True, "客户资料中的" + ("邮箱" if c.email else "电话")
    elif read.get("has_contact"):
        from_text("has_contact")
    elif c is not None:
        out["has_contact"], ev["has_contact"] = False, "客户资料没有邮箱或电话"
    raw = _field(ticket, f.target)
    if raw is not None:
        out["names_target"], ev["names_target"] = True, f"字段 {f.target}={raw}"
    else:
        from_text("names_target")

    # a person's decisions ----------------------------------------------------------------------
    by_person("validity", f.validity, tags.validity, lambda v: _lookup(v, config.values.validity))
    by_person("followup_outcome", f.followup_outcome, tags.followup_outcome,
              lambda v: _lookup(v, config.values.followup_outcome))

    # flags: field, tags, then the text -----------------------------------------------------------
    flags: dict[str, bool] = out["flags"]
    raw = _field(ticket, f.flags)
    for value in _listish(raw) if raw is not None else ():
        name = _flag_name(value, config.flags)
        if name is not None:
            flags[name], ev[f"flag:{name}"], origin[f"flag:{name}"] = True, f"字段 {f.flags}", "field"
    for value in _tag_values(ticket, tags.flag):
        name = _flag_name(value, config.flags)
        if name is not None and name not in flags:
            flags[name], ev[f"flag:{name}"], origin[f"flag:{name}"] = True, f"标签 {tags.flag}{value}", "tag"
    for name in list(flags):
        # only a flag the words can say is a correction of the reading (not a staff finding
        # such as 隐瞒虚报 or 挽回损失, which no rule reads from the text)
        if not read["flags"].get(name) and name in config.flags and config.flags[name].keywords:
            out["corrections"][f"flag:{name}"] = {"text": False, "agent": True, "words": ""}
    for name, value in read["flags"].items():
        if value and name not in flags:
            flags[name], ev[f"flag:{name}"] = True, read["evidence"].get(f"flag:{name}", "")
            origin[f"flag:{name}"] = text_origin.get(f"flag:{name}", "text")
    labels = {}
    named: list[tuple[str, Any]] = []
    if out.get("cause") in config.causes:
        named.append(("cause", config.causes[out["cause"]]))
    if out.get("category") in config.categories:
        named.append(("category", config.categories[out["category"]]))
    named += [(f"flag:{name}", config.flags[name]) for name in flags if name in config.flags]
    for fact, rule in named:
        labels[fact] = rule.label
        if rule.label_en:
            labels[f"en:{fact}"] = rule.label_en  # English notes (Facts.label(fact, "en"))
    out["labels"] = labels
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
#: How much of the customer's text a correction keeps as its labelled example.
CORRECTION_TEXT_LIMIT = 4000
_FACT_ZH = {"cause": "原因", "category": "类别", "channel": "渠道", "loss_amount": "损失金额", "people": "人数"}


@hookimpl
def kesu_evaluate(event: TicketEvent, ticket: Ticket, facts: Facts, record: Mapping[str, Any],
                  config: FactsConfig) -> list[Effect] | None:
    # R-REC-4.15: the record holds the customer's request and the facts of the case.
    if event.kind is EventKind.timer_fired:
        return None
    values = {k: getattr(facts, k) for k in RECORDED
              if getattr(facts, k) is not None and record.get(k) != getattr(facts, k)}
    effects: list[Effect] = []
    corrections = facts.corrections
    if corrections and record.get("fact_corrections") != corrections:
        # An agent's field or tag says otherwise than the customer's words: the agent's value is
        # the fact; the text and the corrected facts become a labelled example
        # (kesu facts corrections export) and the note says whose value won.
        values["fact_corrections"] = corrections
        values["fact_text"] = customer_text(ticket)[:CORRECTION_TEXT_LIMIT]
        values["fact_labels"] = {"cause": facts.cause, "category": facts.category, "loss_amount": facts.loss_amount,
                                 "people": facts.people, "flags": sorted(n for n, v in facts.flags.items() if v)}
        new = {k: v for k, v in corrections.items() if (record.get("fact_corrections") or {}).get(k) != v}
        for fact, c in sorted(new.items()):
            effects.append(InternalNote(rule_id="R-REC-4.15", text=_correction_zh(fact, c, facts, config),
                                        text_en=_correction_en(fact, c, config),
                                        source=SOURCE))
    if values:
        effects.insert(0, RecordComplaint(rule_id="R-REC-4.15", values=values,
                                          reason="记录客诉事实", reason_en="facts recorded", source=SOURCE))
    return effects or None


def _correction_zh(fact: str, c: Mapping[str, Any], facts: Facts, config: FactsConfig) -> str:
    def shown(value: Any) -> str:
        if value is None or value is False:
            return "未读出"
        if fact == "cause" and value in config.causes:
            return config.causes[value].label
        if fact == "category" and value in config.categories:
            return config.categories[value].label
        if fact.startswith("flag:"):
            return "是"
        if fact == "channel":
            return i18n.label("channel", value)
        return f"{value:,.2f} 元" if fact == "loss_amount" else str(value)

    name = _FACT_ZH.get(fact) or (facts.label(fact) if fact.startswith("flag:") else fact)
    words = f"（原话{c['words']}）" if c.get("words") else ""
    return f"以坐席填写为准：{name} = {shown(c['agent'])}；系统从客户原话读取为 {shown(c['text'])}{words}，已记为更正样本"


_FACT_EN = {"cause": "cause", "category": "category", "channel": "channel", "loss_amount": "loss", "people": "people"}


def _correction_en(fact: str, c: Mapping[str, Any], config: FactsConfig) -> str:
    """The English line of a correction: values by their English labels, never kesu's keys."""
    def shown(value: Any) -> str:
        if value is None or value is False:
            return "nothing"
        if fact == "cause" and value in config.causes:
            rule = config.causes[value]
            return rule.label_en or rule.label
        if fact == "category" and value in config.categories:
            rule = config.categories[value]
            return rule.label_en or rule.label
        if fact.startswith("flag:"):
            return "yes"
        if fact == "channel":
            return i18n.label("channel", value, "en")
        return f"{value:,.2f} yuan" if fact == "loss_amount" else str(value)

    if fact.startswith("flag:"):
        rule = config.flags.get(fact[5:])
        name = f"flag {(rule.label_en or rule.label) if rule else fact[5:]}"
    else:
        name = _FACT_EN.get(fact, fact)
    words = f" (words: {c['words']})" if c.get("words") else ""
    return (f"The agent's value wins: {name} = {shown(c['agent'])}; kesu read {shown(c['text'])} from the "
            f"customer's words{words}; kept as a correction example")


# What each configured field holds: (type, Chinese label, English label).
_FIELD_KINDS: dict[str, tuple[str, str, str]] = {
    "cause": ("select", "客诉原因", "Complaint cause"),
    "category": ("select", "客诉类别", "Complaint category"),
    "channel": ("select", "客诉渠道", "Complaint channel"),
    "loss_amount": ("decimal", "直接经济损失（元）", "Direct loss (yuan)"),
    "people": ("integer", "涉及人数", "People affected"),
    "batch": ("text", "批号", "Batch number"),
    "flags": ("multiselect", "客诉标记", "Complaint flags"),
    "validity": ("select", "投诉有效性", "Complaint validity"),
    "followup_outcome": ("select", "回访结果", "Follow-up outcome"),
    "target": ("text", "投诉对象", "Complaint target"),
}
_VALUE_EN = {"consumer": "Consumer", "channel": "Channel", "valid": "Valid", "invalid": "Invalid",
             "satisfied": "Satisfied", "dissatisfied": "Dissatisfied", "unreachable": "Unreachable"}


@hookimpl
def kesu_ticket_fields(config: FactsConfig) -> list[TicketField]:
    """``[policies.facts.fields]``: each named field, its choices from this configuration (the
    causes, categories and flags with their labels; the first word of each value list)."""
    choices: dict[str, list[tuple[str, str, str]]] = {
        "cause": [(k, r.label, r.label_en or k) for k, r in config.causes.items()],
        "category": [(k, r.label, r.label_en or k) for k, r in config.categories.items()],
        "flags": [(k, r.label, r.label_en or k) for k, r in config.flags.items()],
    }
    for fact, table in (("channel", config.values.channel), ("validity", config.values.validity),
                        ("followup_outcome", config.values.followup_outcome)):
        choices[fact] = [(k, (words or [k])[0], _VALUE_EN.get(k, k)) for k, words in table.items()]
    out = []
    for fact, (kind, label, label_en) in _FIELD_KINDS.items():
        name = getattr(config.fields, fact)
        if not name:
            continue
        where = ticket_fields.named("facts.fields", fact)
        if kind in ("select", "multiselect"):
            prefix = getattr(config.tags, "flag" if fact == "flags" else fact, "")
            out.append(ticket_fields.select(name, label, label_en, choices[fact], where, multi=kind == "multiselect",
                                            tag_prefix=prefix))
        else:
            out.append(TicketField(name=name, type=kind, label=label, label_en=label_en, named_by=where))
    return out
