"""Keyword expressions over semantic classes, matched with scope (policies.text).

Expressions (profile data): ``"虫|异物 + 未开封|没开封"`` -- ``|`` separates alternatives, ``+``
joins groups that must all occur somewhere in the text, ``~`` joins groups that must occur in the
same sentence (``"@leader_title ~ @misconduct"``: the manager *and* what he did, not a manager
asked for in one sentence and rudeness of a clerk in another). ``@name`` stands for every word of the
lexicon class ``name`` (``[policies.facts.lexicon.name]``): ``"@insect|@hair + @opened_just_now"``.
A word written ``re:<pattern>`` is a regular expression over the normalised text
(``"re:[一二两三四五六七八九十几半\\d]+个?多?(天|月)了"``: any "N days/months" that have passed).
A class is a fact's vocabulary -- synonyms, hyponyms (the fly, the cockroach, the maggot for
"insect") and colloquial forms -- so an admin extends a class once and every rule using it
follows.

An occurrence counts only when it is

* not inside one of the word's ``except`` phrases ("虫草" is no insect, "毛巾" no hair);
* not in a negation's scope ("没有受伤", "还好没吃", "受伤倒是没有");
* not in a hypothetical's scope ("万一孩子吃了", "要是发霉了") -- unless the expression list
  counts hypotheticals (threats: "再不处理我就发抖音" is a threat of exposure all the same).

``KeywordMatcher`` compiles many expression lists together and finds, in one pass over the
vocabulary (only words whose first character is in the text are looked for), the words that
count and where they first occur, then decides each list by set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
import re
from bisect import bisect_right
from dataclasses import dataclass, field

from policies.text import SENTENCE_BREAKS, ScopeCues, Scopes, normalise
from policies.text import occurrences as occurrences_of

#: An expression, parsed: clusters (all must match) of groups (in one sentence) of alternative words.
Parsed = tuple[tuple[tuple[str, ...], ...], ...]
#: An expression list, compiled: (every word in it, the parsed non-empty expressions in order).
Compiled = tuple[frozenset[str], tuple[Parsed, ...]]


class UnknownClass(ValueError):
    pass


def _words(token_group: str, expr: str, lexicon: Mapping[str, Sequence[str]] | None) -> tuple[str, ...]:
    words: list[str] = []
    for token in token_group.split("|"):
        token = token.strip()
        if not token:
            continue
        if token.startswith("@"):
            name = token[1:]
            if lexicon is None or name not in lexicon:
                raise UnknownClass(f"unknown lexicon class @{name} in {expr!r}")
            words.extend(w if w.startswith("re:") else normalise(w) for w in lexicon[name])
        else:
            words.append(token if token.startswith("re:") else normalise(token))
    return tuple(dict.fromkeys(w for w in words if w))


def parse_expression(expr: str, lexicon: Mapping[str, Sequence[str]] | None = None) -> Parsed:
    """``"虫|@hair + 未开封"`` -> ``((("虫", <hair words>...),), (("未开封",),))``: clusters (joined by
    ``+``, anywhere in the text) of groups (joined by ``~``, in one sentence) of alternative words;
    words normalised. An expression with an empty group can never match and parses to ``()``."""
    clusters = []
    for part in expr.split("+"):
        groups = tuple(g for g in (_words(t, expr, lexicon) for t in part.split("~")) if g)
        if groups:
            clusters.append(groups)
    return tuple(clusters)


def compile_expressions(exprs: Iterable[str], lexicon: Mapping[str, Sequence[str]] | None = None) -> Compiled:
    parsed = tuple(c for c in (parse_expression(e, lexicon) for e in exprs) if c)
    return frozenset(w for clusters in parsed for groups in clusters for g in groups for w in g), parsed


def _cluster_hit(groups: tuple[tuple[str, ...], ...], pool: Mapping[str, object] | frozenset[str] | set[str],
                 analysis: Analysis | None, factual: bool) -> str | None:
    if len(groups) == 1:
        return next((w for w in groups[0] if w in pool), None)
    if analysis is None:
        # without positions: every group present (used only by callers without near-rules)
        found = [next((w for w in g if w in pool), None) for g in groups]
        return None if None in found else "~".join(found)  # type: ignore[arg-type]
    # sentence -> per group the first word seen in it
    per_sentence: dict[int, list[str | None]] = {}
    for gi, group in enumerate(groups):
        for w in group:
            if w not in pool:
                continue
            for start, _end, is_fact in analysis.spans.get(w, ()):
                if factual and not is_fact:
                    continue
                slots = per_sentence.setdefault(analysis.sentence(start), [None] * len(groups))
                if slots[gi] is None:
                    slots[gi] = w
    for slots in per_sentence.values():
        if None not in slots:
            return "~".join(slots)  # type: ignore[arg-type]
    return None


def first_match(compiled: Compiled, present: frozenset[str] | set[str] | Mapping[str, object],
                analysis: Analysis | None = None, factual: bool = True) -> str | None:
    """The first expression of ``compiled`` whose every cluster has its words ``present``, as the
    words that matched (``"虫+未开封"``), else ``None``."""
    words, parsed = compiled
    if words.isdisjoint(present):
        return None
    for clusters in parsed:
        found = []
        for groups in clusters:
            hit = _cluster_hit(groups, present, analysis, factual)
            if hit is None:
                break
            found.append(hit)
        else:
            return "+".join(found)
    return None


@dataclass
class Analysis:
    """What a matcher found in one text: each counted word with its first occurrence, factual
    (``facts``) or also hypothetical (``asserted``), in the normalised text."""

    text: str
    facts: dict[str, tuple[int, int]] = field(default_factory=dict)
    asserted: dict[str, tuple[int, int]] = field(default_factory=dict)
    # every counted (not negated) occurrence: word -> [(start, end, factual)]
    spans: dict[str, list[tuple[int, int, bool]]] = field(default_factory=dict)
    _sentence_starts: list[int] | None = None

    def sentence(self, at: int) -> int:
        """Index of the sentence holding position ``at``."""
        if self._sentence_starts is None:
            self._sentence_starts = [0] + [i + 1 for i, c in enumerate(self.text) if c in SENTENCE_BREAKS]
        return bisect_right(self._sentence_starts, at) - 1


class KeywordMatcher:
    """Expression lists compiled together (see the module docstring)."""

    __slots__ = ("cues", "lists", "hypothetical_lists", "_by_first", "_firsts", "_index", "_numbers", "_except",
                 "_patterns", "_automaton", "_literal", "_people_only", "_own_words")

    def __init__(
        self,
        lists: Iterable[Iterable[str]],
        negations: Iterable[str] | ScopeCues,
        window: int = 0,
        *,
        lexicon: Mapping[str, Sequence[str]] | None = None,
        exceptions: Mapping[str, Sequence[str]] | None = None,
        hypothetical_lists: Iterable[int] = (),
        literal: Iterable[str] = (),
        people_only: Iterable[str] = (),
        own_words: Iterable[str] = (),
    ) -> None:
        self.cues = negations if isinstance(negations, ScopeCues) else ScopeCues(
            tuple(normalise(n) for n in negations), window, *_DEFAULTS, DEFAULT_CLAUSE_NEGATIONS)
        self.lists: tuple[Compiled, ...] = tuple(compile_expressions(exprs, lexicon) for exprs in lists)
        self.hypothetical_lists = frozenset(hypothetical_lists)
        by_first: dict[str, list[str]] = {}
        index: dict[str, list[tuple[int, int]]] = {}
        for i, (_, parsed) in enumerate(self.lists):
            for j, clusters in enumerate(parsed):
                for word in (w for groups in clusters for g in groups for w in g):
                    if True:
                        same = by_first.setdefault(word[0], [])
                        if word not in same:
                            same.append(word)
                        if (i, j) not in index.setdefault(word, []):
                            index[word].append((i, j))
        self._by_first = {c: tuple(ws) for c, ws in by_first.items()}
        self._firsts = frozenset(by_first)
        self._index = {w: tuple(ids) for w, ids in index.items()}
        self._numbers = frozenset(w for w in index if w.isdigit())
        # "re:" words are patterns, searched on their own (not by first character)
        self._patterns = tuple((w, re.compile(w[3:])) for w in index if w.startswith("re:"))
        for w, _ in self._patterns:
            same = self._by_first.get(w[0], ())
            self._by_first[w[0]] = tuple(x for x in same if x != w)
        # word -> phrases containing it in which it does not count. ``exceptions`` maps a word
        # (or "*" for every word) to its phrases.
        excepted: dict[str, list[str]] = {}
        everywhere = [normalise(p) for p in (exceptions or {}).get("*", ())]
        for owner, phrases in (exceptions or {}).items():
            if owner == "*":
                continue
            word = owner if owner.startswith("re:") else normalise(owner)
            if word not in index:
                continue
            for phrase in phrases:
                p = normalise(phrase)
                if word.startswith("re:") or word in p:
                    excepted.setdefault(word, []).append(p)
        for word in index:
            for p in everywhere:
                if word in p:
                    excepted.setdefault(word, []).append(p)
        self._except = {w: tuple(ps) for w, ps in excepted.items()}
        self._automaton = _automaton(w for w in index if not w.startswith("re:"))
        # words of things that must be there: the image of a simile does not count ("跟蚂蚁似的")
        self._literal = frozenset(normalise(w) for w in literal) & frozenset(index)
        # words of harm to a person: told of an animal they do not count ("狗吃了还吐了")
        self._people_only = frozenset(people_only) & frozenset(index)
        # the customer's own threats: quoted words of staff or others do not count
        self._own_words = frozenset(own_words) & frozenset(index)

    # -- finding words -----------------------------------------------------------------------------

    def analyse(self, text: str, *, normalised: bool = False) -> Analysis:
        """Every vocabulary word that counts in ``text``, with its first occurrence."""
        norm = text if normalised else normalise(text)
        out = Analysis(norm)
        scopes: Scopes | None = None
        numbers = self._numbers
        firsts = self._firsts.intersection(norm) if len(self._firsts) > 64 else [c for c in self._firsts if c in norm]
        size = len(norm)
        for word, pattern in self._patterns:
            for m in pattern.finditer(norm):
                if m.end() == m.start():
                    continue
                if scopes is None:
                    scopes = Scopes(norm, self.cues)
                excepts = self._except.get(word, ())
                if excepts and _inside_phrase(norm, m.start(), m.end(), excepts):
                    continue
                # a pattern may start inside its own cue ("叫我|去工商"): negated when either end is
                if not scopes.negated(m.start(), m.end()) and not scopes.negation_within(m.start(), m.end()):
                    factual = not scopes.hypothetical(m.start())
                    out.spans.setdefault(word, []).append((m.start(), m.end(), factual))
                    out.asserted.setdefault(word, (m.start(), m.end()))
                    if factual:
                        out.facts.setdefault(word, (m.start(), m.end()))
        if self._automaton is not None:
            occurrences: Iterable[tuple[str, int]] = (
                (word, last - len(word) + 1) for last, word in self._automaton.iter(norm))
        else:  # pyahocorasick missing: look for the words whose first character is in the text
            occurrences = ((word, start) for first in firsts for word in self._by_first[first]
                           for start in occurrences_of(norm, word))
        for word, start in occurrences:
            if scopes is None:
                scopes = Scopes(norm, self.cues)
            end = start + len(word)
            if word in numbers and ((start > 0 and norm[start - 1].isdigit()) or (end < size and norm[end].isdigit())):
                continue
            excepts = self._except.get(word)
            if excepts and _inside_phrase(norm, start, end, excepts):
                continue
            if scopes.negated(start, end):
                continue
            if word in self._literal and scopes.figurative(start):
                continue
            if word in self._people_only and scopes.of_animal(start):
                continue
            if word in self._own_words and scopes.others_words(start):
                continue
            factual = not scopes.hypothetical(start)
            out.spans.setdefault(word, []).append((start, end, factual))
            if word not in out.asserted or start < out.asserted[word][0]:
                out.asserted[word] = (start, end)
            if factual and (word not in out.facts or start < out.facts[word][0]):
                out.facts[word] = (start, end)
        return out

    def present(self, text: str, chars: object = None) -> frozenset[str]:
        """The words that count as facts in ``text`` (not negated, not hypothetical)."""
        return frozenset(self.analyse(text).facts)

    def matches(self, present: Mapping[str, object] | frozenset[str] | set[str],
                asserted: Mapping[str, object] | frozenset[str] | set[str] | None = None,
                analysis: Analysis | None = None, counts: dict[int, int] | None = None) -> dict[int, str]:
        """``{index into lists: first_match}`` of every list that matches. Lists named in
        ``hypothetical_lists`` are decided on ``asserted`` words (hypotheticals included).
        ``counts``, when given, receives how many of each list's expressions match (the strength
        of the evidence: policies.facts picks the cause with the most)."""
        index, lists = self._index, self.lists
        hyp = self.hypothetical_lists
        if asserted is None:
            asserted = present
        candidates: set[tuple[int, int]] = set()
        for word in asserted if hyp else present:
            candidates.update(index[word])
        out: dict[int, str] = {}
        for i, j in sorted(candidates):
            if i in out and counts is None:
                continue
            factual = i not in hyp
            pool = present if factual else asserted
            found = []
            for groups in lists[i][1][j]:
                hit = _cluster_hit(groups, pool, analysis, factual)
                if hit is None:
                    break
                found.append(hit)
            else:
                if i not in out:
                    out[i] = "+".join(found)
                if counts is not None:
                    counts[i] = counts.get(i, 0) + 1
        return out


def _automaton(words: Iterable[str]) -> Any:
    """An Aho-Corasick automaton over ``words`` (pyahocorasick): every occurrence of every word in
    one pass over a text, whatever the vocabulary's size. ``None`` when the library is missing."""
    try:
        import ahocorasick  # noqa: PLC0415
    except ImportError:  # pragma: no cover -- a dependency; the slower search still works
        return None
    automaton = ahocorasick.Automaton()
    for word in words:
        automaton.add_word(word, word)
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def _inside_phrase(text: str, start: int, end: int, phrases: Sequence[str]) -> bool:
    for phrase in phrases:
        lo = max(0, end - len(phrase))
        pos = text.find(phrase, lo, start + len(phrase))
        while pos != -1 and pos <= start:
            if pos + len(phrase) >= end:
                return True
            pos = text.find(phrase, pos + 1, start + len(phrase))
    return False


#: Scope cues used where a configuration names only its negations (policies.severity): phrases
#: that contain a negation but negate nothing, negations that follow what they negate, and
#: hypothetical cues. Profiles override them in ``[policies.facts.scope]``.
DEFAULT_PSEUDO_NEGATIONS = (
    "没想到", "没想", "没过", "没多久", "没几天", "没两天", "不到", "不久", "不一会", "没一会", "不仅", "不但", "不光",
    "无论", "不管", "不得不", "没办法", "不知道", "不清楚", "不然", "不行", "不了", "不停", "不断", "无故", "无缘无故",
    "不少", "不一样", "无语", "没完", "不对劲", "不对", "不好", "不能", "不敢", "不放心", "不舒服", "不适",
    "不满", "没人", "无人", "并没有人", "不合格", "不新鲜", "不负责", "不作为", "不耐烦", "不理", "不搭理", "无法",
    "没法", "不予", "没给", "不给", "未果", "未经", "不及时", "未及时", "无良", "不闻不问", "不管不顾", "没完没了",
    "不到位", "不解决", "未解决", "没解决", "没处理", "未处理", "不处理", "没回复", "未回复", "没有回复", "没有人",
    "没有任何", "不认", "不承认", "不赔", "不退", "不换", "无效", "无理", "不讲理", "不讲道理", "不像话",
)
DEFAULT_POST_NEGATIONS = ("倒没有", "倒是没有", "倒没", "倒不至于", "倒是没事", "没事", "倒还好")
DEFAULT_HYPOTHETICALS = ("如果", "假如", "要是", "万一", "若是", "倘若", "假设", "如若", "差点", "差一点", "险些",
                         "会不会", "担心", "可能会", "否则", "不然", "要不然", "再不")
DEFAULT_CLAUSE_NEGATIONS = ("不想", "不打算", "不愿意", "不愿", "不会", "不准备", "不至于", "没打算", "没想过", "不要",
                            "不用", "不必", "无需", "不需要", "并没有", "从来没", "从没", "也没有", "都没有", "没有出现",
                            "未出现", "未发生", "没发生", "没有发生", "不是要", "并不是", "不是想", "绝不会", "也不会",
                            "不可能")
#: A simile's opener and end ("跟蚂蚁似的", "像石头一样", "如同刀割一般").
DEFAULT_SIMILES = ("跟", "像", "好像", "好似", "如同", "仿佛", "宛如", "犹如", "和", "同")
DEFAULT_SIMILE_ENDS = ("似的", "一样", "一般", "般")
_DEFAULTS = (DEFAULT_PSEUDO_NEGATIONS, DEFAULT_POST_NEGATIONS, 3, DEFAULT_HYPOTHETICALS)
