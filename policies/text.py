"""Reading a customer's text the way a person reads it: normalised, in clauses, with scope.

Customers write traditional characters, full-width letters and digits, numbers in Chinese
(``两万三``, ``1.2万``, ``12,800元``, ``六千块``) and say what did *not* happen ("没有受伤", "还好没吃")
or what *might* ("万一孩子吃了", "如果再不处理我就……"). This module turns a text into:

* a normalised string (``normalise``): traditional → simplified (OpenCC ``t2s``), full-width →
  half-width and compatibility forms folded (Unicode NFKC), Latin letters lower-cased. The
  normalised text keeps one character per input character wherever the folding allows, so the
  words quoted back to the agent are the customer's own;
* ``Scopes``: for every position, whether it lies in the scope of a negation cue (per clause:
  up to the next comma or stop) or of a hypothetical cue (per sentence: "如果……，就……" spans a
  comma);
* money amounts (``amounts``) with their value in yuan, read by ``cn2an`` (Chinese and mixed
  numerals) and this module (thousands separators, ``万``/``千``/``k``/``w`` multipliers).

Which words are cues is profile data (``[policies.facts.scope]``); nothing here knows a product.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

#: Characters that end a clause (negation scope) and those that end a sentence (hypothetical scope).
CLAUSE_BREAKS = frozenset("。！？!?；;\n，,：:（）()【】[]「」“”\"…~～")  # "、" joins a list: one clause
SENTENCE_BREAKS = frozenset("。！？!?；;\n")


@lru_cache(maxsize=1)
def _converter() -> object | None:
    try:
        import opencc  # noqa: PLC0415 -- optional at import time, loaded once
    except ImportError:  # pragma: no cover -- a dependency; kept working without it
        return None
    return opencc.OpenCC("t2s")


def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    return folded if len(folded) == 1 else ch


_ASCII_FAST = frozenset(map(chr, range(0x20, 0x7F)))


def normalise(text: str) -> str:
    """Simplified, half-width, lower-case text of the same length as ``text`` (when OpenCC keeps
    the length, which ``t2s`` does for characters; a changed length falls back to the input)."""
    if not text:
        return text
    conv = _converter()
    out = text
    if conv is not None and not out.isascii():
        converted = conv.convert(out)  # type: ignore[attr-defined]
        if len(converted) == len(out):
            out = converted
    if not out.isascii():
        out = "".join(ch if ch in _ASCII_FAST or "\u4e00" <= ch <= "\u9fff" else _fold_char(ch) for ch in out)
    return out.lower()


# ------------------------------------------------------------------------------------------------
# scope: negation per clause, hypotheticals per sentence


@dataclass(frozen=True)
class ScopeCues:
    """Cue words (profile data). ``negations`` negate what follows them in the same clause within
    ``negation_window`` characters; ``pseudo_negations`` contain a negation but negate nothing
    ("没想到", "没过两天"); ``post_negations`` negate the words just before them when they end the
    clause ("受伤倒是没有"); ``hypotheticals`` make the rest of their sentence hypothetical
    ("万一", "如果", "要是"); ``factual`` cues end a hypothetical ("结果", "果然")."""

    negations: tuple[str, ...]
    negation_window: int
    pseudo_negations: tuple[str, ...] = ()
    post_negations: tuple[str, ...] = ()
    post_window: int = 3
    hypotheticals: tuple[str, ...] = ()
    clause_negations: tuple[str, ...] = ()  # negate to the end of their clause ("不想", "不会")
    #: A figure of speech: "小得跟蚂蚁似的", "硬得像石头一样". Between an opener (``similes``) and
    #: an end (``simile_ends``) in the same clause, within ``simile_window`` characters, words
    #: describe, they do not report: the thing is not there. "像石子一样的东西" (the end
    #: followed by 的) names a thing that is there, and stays literal.
    similes: tuple[str, ...] = ()
    simile_ends: tuple[str, ...] = ()
    simile_window: int = 10
    #: Harm told of an animal ("狗吃了两口，下午吐了一地") is no harm to a person: from an animal word
    #: (``animals``) to the end of its sentence, unless a person word (``persons``) comes between,
    #: people-only words do not count ("物业的狗把我孩子咬了" still does).
    animals: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    #: Others' words, quoted: inside “…” after a speech verb (``speech_verbs``: 说, 讲, 问 …) whose
    #: clause does not start with the customer (我, 本人), the words are what staff or a third
    #: party said ("她说“拍了我们要告你侵权”") -- no threat of the customer's.
    speech_verbs: tuple[str, ...] = ()


class Scopes:
    """Negated and hypothetical character ranges of one normalised text."""

    __slots__ = ("text", "_neg", "_hyp", "_fig", "_ani", "_oth", "_neg_starts", "_hyp_starts", "_fig_starts",
                 "_ani_starts", "_oth_starts", "_fwd_starts", "_post")

    def __init__(self, text: str, cues: ScopeCues) -> None:
        self.text = text
        found = _Cues(text, cues)
        forward: list[int] = []
        ranges = _negated_ranges(text, cues, found, forward)
        # forward scopes (after their cue) and post-negation scopes (before their cue, which
        # they end at): a word running into a post cue ("连句对不起都没有") is not negated by it
        self._neg = _merge(ranges[:len(forward)])
        self._post = sorted(ranges[len(forward):])
        self._fwd_starts = sorted(forward)
        self._hyp = _merge(_hypothetical_ranges(text, cues, found))
        self._fig = _merge(_figurative_ranges(text, cues, found))
        self._neg_starts = [a for a, _ in self._neg]
        self._hyp_starts = [a for a, _ in self._hyp]
        self._fig_starts = [a for a, _ in self._fig]
        self._ani = _merge(_animal_ranges(text, cues, found))
        self._ani_starts = [a for a, _ in self._ani]
        self._oth = _others_speech(text, cues)
        self._oth_starts = [a for a, _ in self._oth]

    @staticmethod
    def _inside(ranges: list[tuple[int, int]], starts: list[int], at: int) -> bool:
        i = bisect_right(starts, at) - 1
        return i >= 0 and ranges[i][0] <= at < ranges[i][1]

    def negated(self, start: int, end: int) -> bool:
        """A word at ``start:end`` is negated when its first character is in a negation's scope
        (after a cue, or before a post-negation closing its clause). A cue inside the word itself
        ("没电", "没做好", "连句对不起都没有") negates nothing of it."""
        if self._inside(self._neg, self._neg_starts, start):
            return True
        return any(a <= start < b and end <= b for a, b in self._post) if self._post else False

    def negation_within(self, start: int, end: int) -> bool:
        """A negation's scope begins inside ``start:end`` -- a pattern that starts inside its own
        cue ("叫我|去工商", "可以|去消协") is negated all the same."""
        i = bisect_right(self._fwd_starts, start)
        return i < len(self._fwd_starts) and self._fwd_starts[i] < end

    def hypothetical(self, start: int) -> bool:
        return self._inside(self._hyp, self._hyp_starts, start)

    def figurative(self, start: int) -> bool:
        """A word at ``start`` is the image of a simile ("跟蚂蚁似的"), not a thing that is there."""
        return bool(self._fig) and self._inside(self._fig, self._fig_starts, start)

    def of_animal(self, start: int) -> bool:
        """A word at ``start`` tells of an animal, not of a person ("金毛…后腿骨折")."""
        return bool(self._ani) and self._inside(self._ani, self._ani_starts, start)

    def others_words(self, start: int) -> bool:
        """A word at ``start`` is inside what someone else is quoted saying."""
        return bool(self._oth) and self._inside(self._oth, self._oth_starts, start)


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def occurrences(text: str, word: str) -> Iterable[int]:
    pos = text.find(word)
    while pos != -1:
        yield pos
        pos = text.find(word, pos + 1)


@lru_cache(maxsize=64)
def _cue_automaton(cues: ScopeCues) -> object | None:
    """One Aho-Corasick automaton over every cue word (pyahocorasick), or None without it."""
    try:
        import ahocorasick  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        return None
    automaton = ahocorasick.Automaton()
    for word in {*cues.negations, *cues.pseudo_negations, *cues.post_negations, *cues.hypotheticals,
                 *cues.clause_negations, *cues.similes, *cues.simile_ends, *cues.animals, *cues.persons}:
        if word:
            automaton.add_word(word, word)
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


class _Cues:
    """Where each cue word occurs in one text: found in one pass, asked for per cue."""

    __slots__ = ("_at",)

    def __init__(self, text: str, cues: ScopeCues) -> None:
        automaton = _cue_automaton(cues)
        self._at: dict[str, list[int]] | None = None
        if automaton is not None:
            at: dict[str, list[int]] = {}
            for last, word in automaton.iter(text):  # type: ignore[attr-defined]
                at.setdefault(word, []).append(last - len(word) + 1)
            self._at = at

    def of(self, text: str, word: str) -> Iterable[int]:
        if self._at is None:
            return occurrences(text, word)
        return self._at.get(word, ())

    def present(self, words: tuple[str, ...]) -> Iterable[str]:
        """The cue words of ``words`` that occur (all of them without the automaton)."""
        if self._at is None:
            return words
        at = self._at
        return [w for w in words if w in at] if len(words) < len(at) else [w for w in at if w in set(words)]


def _masked(text: str, cues: ScopeCues, found: _Cues) -> set[int]:
    """Positions covered by a pseudo-negation ("没想到"): a negation starting there is no negation."""
    covered: set[int] = set()
    for phrase in found.present(cues.pseudo_negations):
        for pos in found.of(text, phrase):
            covered.update(range(pos, pos + len(phrase)))
    return covered


def _negated_ranges(text: str, cues: ScopeCues, found: _Cues, forward: list[int] | None = None) -> list[tuple[int, int]]:
    """Negated ranges; ``forward`` receives where the scopes of cues that precede what they negate
    begin (post-negations, "受伤倒是没有", negate backwards and are left out)."""
    ranges: list[tuple[int, int]] = []
    size = len(text)
    masked: set[int] | None = None
    for neg in found.present(cues.negations):
        for pos in found.of(text, neg):
            if masked is None:
                masked = _masked(text, cues, found)
            if pos in masked:
                continue
            # the scope covers words *starting* within the window after the cue
            ranges.append(_scope_after(text, pos + len(neg), cues.negation_window + 1))
    for neg in found.present(cues.clause_negations):
        for pos in found.of(text, neg):
            ranges.append(_scope_after(text, pos + len(neg), size))
    if forward is not None:
        forward.extend(a for a, _ in ranges)
    for post in found.present(cues.post_negations):
        for pos in found.of(text, post):
            end = pos + len(post)
            # only when the cue closes its clause ("受伤倒是没有。"), optionally with a particle
            rest = end
            while rest < size and text[rest] in "的了啊呀吧呢":
                rest += 1
            if rest < size and text[rest] not in CLAUSE_BREAKS:
                continue
            start = pos
            while start > 0 and text[start - 1] not in CLAUSE_BREAKS and pos - start < cues.post_window + 6:
                start -= 1
            ranges.append((start, pos))
    return ranges


def _scope_after(text: str, end: int, width: int) -> tuple[int, int]:
    """From ``end`` to the end of its clause, at most ``width`` characters."""
    stop, limit = end, min(len(text), end + width)
    while stop < limit and text[stop] not in CLAUSE_BREAKS:
        stop += 1
    return end, stop


def _hypothetical_ranges(text: str, cues: ScopeCues, found: _Cues) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    size = len(text)
    for cue in found.present(cues.hypotheticals):
        for pos in found.of(text, cue):
            stop = pos + len(cue)
            while stop < size and text[stop] not in SENTENCE_BREAKS:
                stop += 1
            ranges.append((pos, stop))
    return ranges


def _figurative_ranges(text: str, cues: ScopeCues, found: _Cues) -> list[tuple[int, int]]:
    """From a simile's opener to its end in the same clause ("跟|蚂蚁|似的"), when the end is near
    and does not make the image a noun phrase ("像石子一样的东西")."""
    if not cues.similes:
        return []
    ends = sorted((pos, len(word)) for word in found.present(cues.simile_ends) for pos in found.of(text, word))
    if not ends:
        return []
    ranges: list[tuple[int, int]] = []
    size = len(text)
    for opener in found.present(cues.similes):
        for pos in found.of(text, opener):
            start = pos + len(opener)
            for at, length in ends[bisect_right(ends, (start, 0)):]:
                if at - start > cues.simile_window or any(c in CLAUSE_BREAKS for c in text[start:at]):
                    break
                if at > 0 and text[at - 1] in "不没":  # "跟以前不一样" compares, it is no image
                    continue
                if at + length < size and text[at + length] == "的":
                    break
                ranges.append((start, at))
                break
    return ranges


def _animal_ranges(text: str, cues: ScopeCues, found: _Cues) -> list[tuple[int, int]]:
    """From each animal word to the end of its sentence or the next person word."""
    if not cues.animals:
        return []
    people = sorted(pos for word in found.present(cues.persons) for pos in found.of(text, word))
    ranges: list[tuple[int, int]] = []
    size = len(text)
    for animal in found.present(cues.animals):
        for pos in found.of(text, animal):
            before = text[max(0, pos - 10):pos]
            if "被" in before and not any(c in CLAUSE_BREAKS for c in before[before.rindex("被"):]):
                continue  # "被一只金毛咬了小腿": the animal did it, the harm is a person's
            start = pos + len(animal)
            stop = start
            while stop < size and text[stop] not in SENTENCE_BREAKS:
                stop += 1
            i = bisect_right(people, start - 1)
            if i < len(people) and people[i] < stop:
                stop = people[i]
            ranges.append((start, stop))
    return ranges


_QUOTES = {"“": "”", "「": "」", "『": "』", '"': '"', "‘": "’"}
_CUSTOMER = ("我", "本人")


def _others_speech(text: str, cues: ScopeCues) -> list[tuple[int, int]]:
    """Quoted speech of someone other than the customer: (start, end) inside the quotes."""
    if not cues.speech_verbs or not any(q in text for q in _QUOTES):
        return []
    ranges: list[tuple[int, int]] = []
    i, size = 0, len(text)
    while i < size:
        close = _QUOTES.get(text[i])
        if close is None:
            i += 1
            continue
        end = text.find(close, i + 1)
        if end == -1:
            break
        # the speech verb just before the quote ("说：“", "说，“", "骂道“")
        j = i
        while j > 0 and text[j - 1] in "，,：: ":
            j -= 1
        verb = next((v for v in cues.speech_verbs if text.endswith(v, max(0, j - len(v) - 1), j)
                     or text.endswith(v, 0, j)), None)
        if verb is not None:
            # the speaker: the clause before the verb; the customer when it starts with 我
            k = j
            while k > 0 and text[k - 1] not in CLAUSE_BREAKS:
                k -= 1
            if not text.startswith(_CUSTOMER, k):
                ranges.append((i + 1, end))
        i = end + 1
    return ranges


def _around(text: str, start: int, end: int, breaks: frozenset[str]) -> tuple[int, int]:
    a = start
    while a > 0 and text[a - 1] not in breaks:
        a -= 1
    b = end
    while b < len(text) and text[b] not in breaks:
        b += 1
    return a, b


def clause_of(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause (between clause breaks) around ``start:end``."""
    return _around(text, start, end, CLAUSE_BREAKS)


def sentence_of(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (between sentence breaks) around ``start:end``."""
    return _around(text, start, end, SENTENCE_BREAKS)


def quote(original: str, start: int, end: int, context: int = 8) -> str:
    """The customer's own words around ``start:end`` (same clause, at most ``context`` characters
    either side), for 「…」 in notes."""
    a, b = clause_of(original, start, end)
    a = max(a, start - context)
    b = min(b, end + context)
    return original[a:b].strip()


# ------------------------------------------------------------------------------------------------
# money amounts

_CN_NUM = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟"
_CN_CLASS = f"[{_CN_NUM}]"
#: A number: 12,800 / 1.2 / 3万5 / 两万三 / 1.2万 / 十几万 / 两万多; then an optional currency unit.
_AMOUNT = re.compile(
    r"(?P<sym>[￥¥]\s*)?"
    rf"(?P<num>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?(?:[万千kw](?:零?\d{{2,4}}|零\d|[一二两三四五六七八九]|\d(?!\d))?)?(?:多)?"
    rf"|{_CN_CLASS}*[一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟]{_CN_CLASS}*(?:几{_CN_CLASS}*)?(?:多)?)"
    r"\s*(?P<unit>万元|万块钱|万块|元|块钱|块|圆|rmb|人民币)?"
    r"(?P<jiao>(?<=[元块])[一二两三四五六七八九\d](?=[\s,.，。!！?？;；、的钱]|$))?"
)
#: After a number, words that make it a count, not money ("两千箱", "一万多人", "三千五百斤").
_NOT_MONEY_AFTER = tuple("个人位名户箱盒袋包件瓶斤克米度天年月日号次台辆张份桶条只层栋楼套间口期岁分秒点") + (
    "公斤", "千克", "平方", "平米", "小时", "分钟", "毫升", "升", "吨", "kg", "g", "ml", "m", "%", "％", "倍")


@dataclass(frozen=True)
class Amount:
    value: float
    start: int
    end: int
    approximate: bool  # "两万多", "十几万": a lower bound, not an exact figure
    bare: bool = False  # a plain number without unit ("赔偿金额30000"): money only in a money context


@lru_cache(maxsize=4096)
def _cn_value(s: str) -> float | None:
    try:
        import cn2an  # noqa: PLC0415 -- loaded on first use (its import takes ~0.1 s)
    except ImportError:  # pragma: no cover
        return None
    try:
        return float(cn2an.cn2an(s, "smart"))
    except Exception:  # noqa: BLE001 -- cn2an raises bare Exceptions on forms it does not know
        return None


#: "三四十万", "五六千": a range, not a figure.
_RANGE = re.compile("一两|两三|二三|三四|四五|五六|六七|七八|八九")
_MULT = {"万": 10000.0, "w": 10000.0, "千": 1000.0, "k": 1000.0}


def number_value(s: str) -> float | None:
    """``"12,800"`` → 12800, ``"1.2万"`` → 12000, ``"两万三"`` → 23000, ``"3万5"`` → 35000."""
    s = s.strip().replace(",", "").rstrip("多")
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        pass
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([万千kw])(零?\d{2,4}|零\d)", s)
    if m:  # "5千零80" = 5080, "1万2000" = 12000: the digits after the unit are said as they are
        return float(m.group(1)) * _MULT[m.group(2)] + float(m.group(3).lstrip("零"))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([万千kw])(\d|[一二两三四五六七八九])?", s)
    if m:
        base = float(m.group(1)) * _MULT[m.group(2)]
        tail = m.group(3)
        if tail:
            digit = float(tail) if tail.isdigit() else _cn_value(tail) or 0.0
            base += digit * _MULT[m.group(2)] / 10
        return base
    if "几" in s:
        s = s.replace("几", "")  # "十几万" -> at least "十万"
        if s.endswith("十") or s.startswith("十"):
            pass
    return _cn_value(s)


def amounts(text: str, bare: bool = False) -> list[Amount]:
    """Money amounts in a normalised text: a number with a currency unit or sign, or a number in
    万/千 not followed by a measure word ("赔了两万三" is money, "两千箱" is not; a bare "500" is
    never money: it may be a quantity, a date or part of a phone number)."""
    out: list[Amount] = []
    size = len(text)
    for m in _AMOUNT.finditer(text):
        num, unit, sym = m.group("num"), m.group("unit"), m.group("sym")
        start, end = m.start(), m.end()
        jiao = m.group("jiao")
        if start > 0 and (text[start - 1].isdigit() or text[start - 1] in ".,"):
            continue  # inside a longer number (a phone number, an id)
        if not (unit or sym):
            if bare and "百" in num and len(num) >= 2 and not num[0].isdigit():
                rest = text[end:end + 2]
                if not rest.startswith(_NOT_MONEY_AFTER) and rest[:1] not in "多几余":
                    value = number_value(num)
                    if value is not None:
                        out.append(Amount(value, start, end, "多" in num or _RANGE.search(num) is not None, True))
                continue
            if re.fullmatch(r"\d+\.\d\d", num) and not text[end:end + 1].isdigit():
                value = number_value(num)  # "368.40": cents say money, even without a unit
                if value is not None:
                    out.append(Amount(value, start, end, False, False))
                continue
            if not any(c in num for c in "万千kw"):
                digits = num.replace(",", "").split(".")[0]
                if not (bare and digits.isdigit() and 3 <= len(digits) <= 7 and digits[0] != "0"):
                    continue
                rest = text[end:end + 2]
                if rest.startswith(_NOT_MONEY_AFTER) or rest.startswith(("年", "-", "/")):
                    continue
                value = number_value(num)
                if value is not None:
                    out.append(Amount(value, start, end, False, True))
                continue
            if num[-1] in "kw" and end < size and text[end].isascii() and text[end].isalpha():
                continue  # "5kg", "3w4"
            rest = text[end:end + 2]
            if rest.startswith(_NOT_MONEY_AFTER) or rest[:1] in "多几余" and text[end + 1:end + 2] in _NOT_MONEY_AFTER:
                continue
        elif unit in ("元", "块", "块钱", "圆") and len(num) == 1 and num in "几多":
            continue
        value = number_value(num)
        while value is None and len(num) > 1 and not num[-1].isdigit():
            num = num[:-1]  # "一万一千五一直没人管": the last character belongs to the next word
            end -= 1
            value = number_value(num)
        if value is None or value <= 0:
            continue
        if jiao:
            value += (float(jiao) if jiao.isdigit() else (_cn_value(jiao) or 0.0)) / 10
        if unit == "块" and not num[0].isdigit() and value < 10:
            continue  # "一块豆腐", "两块玻璃": pieces, not yuan
        if unit and unit.startswith("万") and not any(c in num for c in "万千"):
            value *= 10000.0
        approximate = ("多" in num or "几" in num or (end < size and text[end] in "多余")
                       or _RANGE.search(num) is not None)
        out.append(Amount(round(value, 2), start, end, approximate))
    return out
