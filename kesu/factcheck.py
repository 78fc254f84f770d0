"""``kesu eval facts``: how well kesu reads complaints, measured on a labelled corpus.

Each case (policies/corpus/README.md) is played as a new ticket through the real plugin host with
the classification plugins (facts, severity, routing, escalation) and the profile's
configuration; what kesu decided is compared with the labels:

* per flag: precision and recall (true/false positives and negatives over the cases);
* loss amount: exact yuan -- precision over the amounts kesu read, recall over the labelled ones;
* cause: accuracy and the confusion (labelled → read) of the misses;
* tier, responsible units (the list, in order) and escalation on arrival: accuracy;
* the misses, each with the words kesu used.

``--labels`` plays the *labelled* facts instead of reading the text (they go into the ticket's
fields, as an agent would fill them): it checks that the labels and the policies agree, so a
tier or unit miss in the normal run is the reader's, not the label's.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from kesu.models import Article, EventKind, Party, Ticket, TicketEvent, TicketRef

#: Flags the corpus labels (policies/corpus/README.md); the list of a case is complete for them.
LABELLED_FLAGS = ("injury", "serious_injury", "media", "regulator", "government", "lawsuit", "extortion",
                  "attitude", "timeliness", "leader", "praise", "repeat", "large_scale", "many_people")
#: The flags the issue's acceptance names (≥ 95 % precision and recall on the held-out part).
KEY_FLAGS = ("injury", "media", "regulator", "lawsuit", "extortion", "attitude", "leader")
SPLITS = ("dev", "heldout")
#: Plugins a case is played through: classification and what decides on arrival.
PLUGINS = ("facts", "severity", "routing", "escalation")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # a Monday, 10:00 in Shanghai


class CorpusError(ValueError):
    """A corpus file cannot be read: the message names the file and line."""


@dataclass
class Case:
    id: str
    title: str
    body: str
    facts: dict[str, Any]
    expect: dict[str, Any]
    rules: list[str] = field(default_factory=list)
    why: str = ""

    @property
    def flags(self) -> set[str]:
        return set(self.facts.get("flags") or ())


def corpus_path(profile: str, split: str) -> Path:
    return Path(str(resources.files("policies") / "corpus" / profile / f"{split}.jsonl"))


def load_cases(path: Path | str) -> list[Case]:
    path = Path(path)
    cases: list[Case] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorpusError(f"{path}: {exc.strerror or exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            cases.append(Case(id=str(raw["id"]), title=raw.get("title") or "", body=raw.get("body") or "",
                              facts=dict(raw.get("facts") or {}), expect=dict(raw.get("expect") or {}),
                              rules=list(raw.get("rules") or []), why=raw.get("why") or ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(f"{path}:{n}: not a corpus case ({exc})") from None
    return cases


# ------------------------------------------------------------------------------------------------
# playing a case


def make_host(profile: str, sections: Mapping[str, Any] | None = None) -> Any:
    from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, PluginHost, build_plugin_manager

    disabled = [n for n in BUILTIN_PLUGINS if n not in PLUGINS and n not in ESSENTIAL_PLUGINS]
    pm = build_plugin_manager(disabled, load_entrypoints=False)
    return PluginHost(pm, dict(sections or {}), disabled=disabled, profile=profile)


def case_ticket(case: Case, fields: Mapping[str, Any] | None = None) -> Ticket:
    return Ticket(ref=TicketRef(helpdesk="eval", id=case.id), number=case.id, title=case.title,
                  articles=[Article(id="1", body=case.body, sender="Customer", type="web")],
                  customer=Party(id="1", name="客户", email="customer@example.com"),
                  tags=[], fields=dict(fields or {}), group="Users", created_at=NOW, updated_at=NOW)


def label_fields(host: Any, case: Case) -> dict[str, Any]:
    """The labelled facts as an agent would fill the ticket's fields."""
    names = host.configs["facts"].fields
    fields: dict[str, Any] = {}
    f = case.facts
    if f.get("cause") and names.cause:
        fields[names.cause] = f["cause"]
    if f.get("category") and names.category:
        fields[names.category] = f["category"]
    if f.get("loss_amount") is not None and names.loss_amount:
        fields[names.loss_amount] = str(f["loss_amount"])
    if f.get("people") is not None and names.people:
        fields[names.people] = str(f["people"])
    if case.flags and names.flags:
        fields[names.flags] = ", ".join(sorted(case.flags))
    return fields


@dataclass
class Outcome:
    case: Case
    facts: Any
    tier: str | None
    units: list[str]
    escalation: list[str]


def play(host: Any, case: Case, *, labels: bool = False) -> Outcome:
    fields = label_fields(host, case) if labels else {}
    if labels:
        # The text must not add to the labelled facts: only the fields count.
        case = Case(case.id, "", "", case.facts, case.expect)
    ticket = case_ticket(case, fields)
    result = host.evaluate(TicketEvent(kind=EventKind.created, ref=ticket.ref, received_at=NOW), ticket, {}, NOW)
    record = result.record
    return Outcome(case=case, facts=result.facts, tier=record.get("tier"), units=list(record.get("units") or []),
                   escalation=sorted({e.get("rule_id") for e in record.get("escalations") or [] if e.get("rule_id")}))


# ------------------------------------------------------------------------------------------------
# scoring


@dataclass
class PR:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass
class Report:
    profile: str
    split: str
    cases: int = 0
    flags: dict[str, PR] = field(default_factory=lambda: {f: PR() for f in LABELLED_FLAGS})
    loss: PR = field(default_factory=PR)
    correct: Counter[str] = field(default_factory=Counter)  # tier, units, escalation, cause
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (labelled, read) cause misses
    misses: list[dict[str, Any]] = field(default_factory=list)

    def accuracy(self, what: str) -> float | None:
        return self.correct[what] / self.cases if self.cases else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile, "split": self.split, "cases": self.cases,
            "accuracy": {k: self.accuracy(k) for k in ("tier", "units", "escalation", "cause")},
            "flags": {k: {"precision": v.precision, "recall": v.recall, "tp": v.tp, "fp": v.fp, "fn": v.fn}
                      for k, v in self.flags.items()},
            "loss_amount": {"precision": self.loss.precision, "recall": self.loss.recall, "tp": self.loss.tp,
                            "fp": self.loss.fp, "fn": self.loss.fn},
            "cause_confusion": [{"labelled": a, "read": b, "count": n} for (a, b), n in self.confusion.most_common()],
            "misses": self.misses,
        }


def _same_amount(a: Any, b: Any) -> bool:
    return a is not None and b is not None and abs(float(a) - float(b)) < 0.005


def score(report: Report, outcome: Outcome, original: Case) -> None:
    case, facts = original, outcome.facts
    report.cases += 1
    problems: list[str] = []
    for name in LABELLED_FLAGS:
        want, got = name in case.flags, facts.flag(name)
        pr = report.flags[name]
        if want and got:
            pr.tp += 1
        elif got:
            pr.fp += 1
            problems.append(f"+{name} {facts.evidence.get('flag:' + name, '')}")
        elif want:
            pr.fn += 1
            problems.append(f"-{name}")
    want_loss, got_loss = case.facts.get("loss_amount"), facts.loss_amount
    if want_loss is not None and _same_amount(want_loss, got_loss):
        report.loss.tp += 1
    else:
        if got_loss is not None:
            report.loss.fp += 1
        if want_loss is not None:
            report.loss.fn += 1
        if want_loss is not None or got_loss is not None:
            problems.append(f"loss {want_loss} → {got_loss} {facts.evidence.get('loss_amount', '')}")
    checks = {
        "tier": (case.expect.get("tier"), outcome.tier),
        "units": (list(case.expect.get("units") or []), outcome.units),
        "escalation": (sorted(case.expect.get("escalation") or []), outcome.escalation),
        "cause": (case.facts.get("cause"), facts.cause),
    }
    for what, (want, got) in checks.items():
        if want == got:
            report.correct[what] += 1
        else:
            extra = f" {facts.evidence.get('cause', '')}" if what == "cause" else ""
            problems.append(f"{what} {want} → {got}{extra}")
            if what == "cause":
                report.confusion[(str(want), str(got))] += 1
    if problems:
        report.misses.append({"id": case.id, "text": (case.title + "｜" + case.body)[:160], "problems": problems})


def evaluate(profile: str, cases: Iterable[Case], *, split: str = "", labels: bool = False,
             sections: Mapping[str, Any] | None = None) -> Report:
    host = make_host(profile, sections)
    report = Report(profile, split)
    for case in cases:
        score(report, play(host, case, labels=labels), case)
    return report


def iter_profiles(profile: str | None) -> Iterator[str]:
    from policies.profiles import PROFILES

    yield from ([profile] if profile else PROFILES)


# ------------------------------------------------------------------------------------------------
# printing


def _pct(x: float | None) -> str:
    return "   –  " if x is None else f"{100 * x:5.1f}%"


def render(report: Report, *, misses: bool = True, limit: int = 60) -> str:
    r = report
    lines = [f"== {r.profile} / {r.split or 'file'}: {r.cases} cases",
             f"tier {_pct(r.accuracy('tier'))}   units {_pct(r.accuracy('units'))}   "
             f"escalation {_pct(r.accuracy('escalation'))}   cause {_pct(r.accuracy('cause'))}",
             f"{'fact':<15}{'precision':>10}{'recall':>9}{'tp':>5}{'fp':>5}{'fn':>5}"]
    for name, pr in [*r.flags.items(), ("loss_amount", r.loss)]:
        if pr.tp + pr.fp + pr.fn == 0:
            continue
        lines.append(f"{name:<15}{_pct(pr.precision):>10}{_pct(pr.recall):>9}{pr.tp:>5}{pr.fp:>5}{pr.fn:>5}")
    if r.confusion:
        lines.append("cause confusion (labelled → read): " + "; ".join(
            f"{a} → {b} ×{n}" for (a, b), n in r.confusion.most_common()))
    if misses and r.misses:
        lines.append(f"misses ({len(r.misses)} cases):")
        for m in r.misses[:limit]:
            lines.append(f"  {m['id']}: {'; '.join(m['problems'])}")
            lines.append(f"      {m['text']}")
        if len(r.misses) > limit:
            lines.append(f"  … {len(r.misses) - limit} more (--json shows all)")
    return "\n".join(lines)


def below(report: Report, threshold: float) -> list[str]:
    """What falls below ``threshold``: tier, units, the key flags' precision and recall, loss."""
    out = []
    for what in ("tier", "units"):
        acc = report.accuracy(what)
        if acc is not None and acc < threshold:
            out.append(f"{report.profile} {what} {100 * acc:.1f}%")
    for name in KEY_FLAGS:
        pr = report.flags[name]
        for kind, value in (("precision", pr.precision), ("recall", pr.recall)):
            if value is not None and value < threshold:
                out.append(f"{report.profile} {name} {kind} {100 * value:.1f}%")
    for kind, value in (("precision", report.loss.precision), ("recall", report.loss.recall)):
        if value is not None and value < threshold:
            out.append(f"{report.profile} loss_amount {kind} {100 * value:.1f}%")
    return out


# ------------------------------------------------------------------------------------------------
# agents' corrections as labelled examples


def corrections(engine: Any) -> Iterator[dict[str, Any]]:
    """Every complaint record in which an agent overrode what kesu read from the text, as a
    corpus case (policies/corpus/README.md): the customer's text, the facts as corrected (the
    agent's values, plus the flags kesu read and nobody removed) and the decision the ticket got.
    ``kesu eval facts --file`` measures the current reader on them."""
    from sqlalchemy import select

    from kesu.store.tables import complaints

    with engine.connect() as conn:
        for row in conn.execute(select(complaints).order_by(complaints.c.ticket_key)).mappings():
            extra = row["extra"] or {}
            fixes = extra.get("fact_corrections")
            if not fixes:
                continue
            labels = dict(extra.get("fact_labels") or {})
            record = {**extra, **{k: v for k, v in row.items() if v is not None}}
            yield {
                "id": row["ticket_key"],
                "title": "",
                "body": extra.get("fact_text") or "",
                "facts": {"cause": labels.get("cause"), "category": labels.get("category"),
                          "loss_amount": labels.get("loss_amount"), "people": labels.get("people"),
                          "flags": list(labels.get("flags") or [])},
                "expect": {"tier": record.get("tier"), "units": list(record.get("units") or []),
                           "escalation": sorted({e.get("rule_id") for e in record.get("escalations") or []
                                                 if isinstance(e, dict) and e.get("rule_id")})},
                "rules": [],
                "why": "坐席更正: " + "; ".join(f"{k}: {v.get('text')} → {v.get('agent')}" for k, v in sorted(fixes.items())),
            }
