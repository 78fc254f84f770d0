"""Business facts about a complaint, as the policies need them.

Facts come from ``kesu_extract_facts`` implementations (the built-in ``facts`` plugin reads
configurable ticket fields and tags first, then keyword rules over title and body). Unknown facts
stay ``None``; a plugin that needs one says so in the note (``missing``) instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FLAG_NAMES = (
    "media",  # media involved or likely exposure (R-TIER-5.3.4 3.4.1)
    "lawsuit",  # customer about to sue (3.4.2)
    "regulator",  # lodged with a regulator / consumer association (3.4.3, R-SPECIAL-1.11)
    "government",  # feedback from government / supervision / FDA / health authority (R-SPECIAL-1.11)
    "injury",  # personal injury happened or possible (3.4.4)
    "serious_injury",  # serious health harm (R-COMP-1.9.2-A)
    "extortion",  # suspected malicious extortion (R-SPECIAL-1.11)
    "attitude",  # about a handler's attitude, language or behaviour (R-ESC-6.32, R-PEN-5.6.3)
    "timeliness",  # about slow handling (R-PEN-5.6.3)
    "praise",  # the customer praises the handler (R-REW-6.43)
    "leader",  # about company leaders or cadres (R-TIER-6.13-major)
    "time_critical",  # time-critical (R-ROUTE-5.5.1)
    "ongoing_loss",  # ongoing serious loss: emergency measures first (R-EMERG-6.28)
    "large_scale",  # raised by > 50 % of customers (R-TIER-6.13-major)
    "discipline",  # discipline / letters complaint (R-ROUTE-5.4)
    "beyond_commitment",  # beyond the company's service commitment (R-INVALID-6.14)
    "unverifiable",  # target or content unclear, cannot be verified (R-INVALID-6.14)
    "contradicts_facts",  # seriously contradicts the facts (R-INVALID-6.14)
    "unlawful_demand",  # not consistent with laws and regulations (R-INVALID-6.14)
    "concealed",  # concealed, falsified or misreported (R-PEN-6.39)
    "threatened_customer",  # threatening, bribing or retaliating (R-PEN-6.42)
    "saved_loss",  # timely handling saved reputation or major loss (R-REW-6.44)
    "repeat",  # the customer says this is a repeat complaint on the same matter (R-ESC-6.30)
    "many_people",  # several people affected, count unknown ("多人"; R-TIER-1.9.1-A, R-TIER-5.3.4)
)


class Facts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: str | None = None  # a key of the routing table, e.g. "mould", "channel_rain"
    category: str | None = None  # business / discipline (insurer), product / service ...
    channel: Literal["consumer", "channel"] | None = None
    loss_amount: float | None = None  # yuan
    people: int | None = None
    batch: str | None = None  # 批号
    has_contact: bool | None = None  # customer contact present (R-VALID-1.4.1)
    names_target: bool | None = None  # names a department / product (R-VALID-1.4.1)
    followup_outcome: Literal["satisfied", "dissatisfied", "unreachable"] | None = None
    # A person's validity decision (R-VALID-1.4.1 / R-INVALID-6.14): only people decide invalid.
    validity: Literal["valid", "invalid"] | None = None
    flags: dict[str, bool] = Field(default_factory=dict)
    evidence: dict[str, str] = Field(default_factory=dict)  # fact -> where it came from (Chinese, 「quoted」)
    # fact -> who established it: "field" / "tag" (a person), "text" (kesu's reading), "llm"
    origin: dict[str, str] = Field(default_factory=dict)
    # fact -> the Chinese label agents see ("cause" -> "产品发酸、发霉变质、发红", "flag:media" -> "媒体曝光");
    # "en:<fact>" -> its English label when the configuration has one (label_en)
    labels: dict[str, str] = Field(default_factory=dict)
    # fact -> {"text": what the words said, "agent": the person's value, "words": 「…」}: a person
    # overrode the reading of the text; the agent's value is the fact (and a labelled example)
    corrections: dict[str, Any] = Field(default_factory=dict)

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name))

    def label(self, fact: str, lang: str = "zh") -> str:
        """What agents read for a fact's value: its label ("产品发酸、发霉变质、发红"; in English the
        configured ``label_en``, else the Chinese label), never the internal key: a flag without a
        configured label by kesu's catalogue; a value no configuration names as it was given."""
        from kesu import i18n

        found = (self.labels.get(f"en:{fact}") if lang == "en" else None) or self.labels.get(fact)
        if found:
            return found
        if fact.startswith("flag:"):
            return i18n.label("flag", fact[5:], lang)
        value = str(getattr(self, fact, "") or "")
        if fact == "channel" and value:
            return i18n.label("channel", value, lang)
        return value

    def source(self, fact: str, lang: str = "zh") -> str:
        """Where a fact came from, for notes: "，客户原话「…」" when read from the customer's words,
        "，字段 complaint_cause" / "，标签 原因-mould" when a person set it; "" when unknown.
        In English: ", the customer's words「…」", ", field complaint_cause" ..."""
        where = self.evidence.get(fact, "")
        if not where:
            return ""
        en = lang == "en"
        if self.origin.get(fact) == "llm":
            return f", read by the model from the customer's words {where}" if en else f"，模型读取客户原话{where}"
        if where.startswith("「"):
            return f", the customer's words {where}" if en else f"，客户原话{where}"
        if where.startswith("字段 "):
            field = where.split("=", 1)[0]
            return f", field {field[3:]}" if en else "，" + field
        if en and where.startswith("标签 "):
            return f", tag {where[3:]}"
        return f", {where}" if en else f"，{where}"


def merge_facts(parts: Iterable[Mapping[str, Any]]) -> Facts:
    """First value wins per fact (plugins in registration order); flags, evidence, origin, labels
    and corrections are unioned."""
    merged: dict[str, Any] = {"flags": {}, "evidence": {}, "origin": {}, "labels": {}, "corrections": {}}
    for part in parts:
        for key, value in part.items():
            if key in ("flags", "evidence", "origin", "labels", "corrections"):
                for k, v in (value or {}).items():
                    merged[key].setdefault(k, v)
            elif value is not None and key not in merged:
                merged[key] = value
    return Facts.model_validate(merged)
