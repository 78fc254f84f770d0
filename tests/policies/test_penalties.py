"""The ``penalties`` plugin: R-PEN-5.6.2 … R-PEN-6.42, R-REW-6.43, R-REW-6.44 (POLICY_SPEC §6).

Unit tests run the plugin alone (the other policies disabled) with facts from an inline plugin;
the admonition test runs the real pipeline and store on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kesu.effects import InternalNote, LedgerEntry, SetState
from kesu.history import History
from kesu.ledger import Ledger
from kesu.models import EventKind, TicketEvent
from kesu.pipeline import Pipeline
from kesu.settings import WorkerSettings
from kesu.store import tickets as store
from kesu.worker import Worker
from plugins import hookimpl
from plugins.manager import BUILTIN_PLUGINS, ESSENTIAL_PLUGINS, PluginConfigError, PluginHost, build_plugin_manager
from plugins.plan import NoteRenderer
from policies.profiles import PROFILES
from tests.test_pipeline import MemoryConnector, enqueue

NOW = datetime(2026, 3, 5, 2, 0, tzinfo=timezone.utc)
OTHERS = [n for n in BUILTIN_PLUGINS if n not in ESSENTIAL_PLUGINS and n != "penalties"]


class StubFacts:
    """Facts as a test sets them (the real facts plugin is another plugin's job)."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}

    @hookimpl
    def kesu_extract_facts(self, ticket):
        return self.facts


class History_(History):
    """ledger_count answers from a table: {(subject, rule_id, year): n}."""

    def __init__(self, counts: dict[tuple[str, str, int], int] | None = None) -> None:
        self.counts = counts or {}

    def ledger_count(self, subject: str, rule_id: str, year: int) -> int:
        return self.counts.get((subject, rule_id, year), 0)


def make_host(profile: str = "food", sections: dict | None = None) -> tuple[PluginHost, StubFacts]:
    pm = build_plugin_manager(OTHERS, load_entrypoints=False)
    stub = StubFacts()
    pm.register(stub, name="stubfacts")
    return PluginHost(pm, sections or {}, disabled=OTHERS, profile=profile), stub


class Run:
    """Evaluates one ticket over several events, carrying the plugin's state like the pipeline."""

    def __init__(self, host: PluginHost, stub: StubFacts, ticket, history: History | None = None) -> None:
        self.host, self.stub, self.ticket = host, stub, ticket
        self.state: dict[str, Any] = {}
        self.history = history or History_()

    def __call__(self, record: dict, flags: dict | None = None, kind: EventKind = EventKind.updated,
                 now: datetime = NOW) -> list:
        self.stub.facts = {"flags": flags or {}}
        event = TicketEvent(kind=kind, ref=self.ticket.ref, received_at=now)
        result = self.host.evaluate(event, self.ticket, {"penalties": self.state}, now,
                                    history=self.history, record=record)
        assert not result.failures, result.failures
        mine = [e for e in result.effects if e.source == "penalties"]
        for e in mine:
            if isinstance(e, SetState):
                self.state = {**self.state, **e.values}
        return mine


def ledger(effects) -> list[tuple]:
    return [(e.rule_id, e.kind, e.subject, e.amount, e.amount_min, e.amount_max, e.status)
            for e in effects if isinstance(e, LedgerEntry)]


def notes(effects) -> list[tuple[str, str]]:
    return [(e.rule_id, e.text) for e in effects if isinstance(e, InternalNote)]


@pytest.fixture
def food():
    return make_host("food")


def test_R_PEN_5_6_2_each_valid_resolved_complaint_fines_institution_and_unit_heads_once(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    ticket.closed = True
    run = Run(host, stub, ticket)
    record = {"valid": 1, "units": ["生产班组", "设施保障部"]}
    effects = run(record, kind=EventKind.closed)
    assert ledger(effects) == [
        ("R-PEN-5.6.2", "penalty", "公司负责人", 1000.0, None, None, "confirmed"),
        ("R-PEN-5.6.2", "penalty", "生产班组负责人", 1000.0, None, None, "confirmed"),
        ("R-PEN-5.6.2", "penalty", "设施保障部负责人", 1000.0, None, None, "confirmed"),
    ]
    keys = [e.dedupe_key for e in effects if isinstance(e, LedgerEntry)]
    assert keys[1] == "R-PEN-5.6.2:penalty:zammad:1:生产班组负责人"
    assert ledger(run(record)) == [], "R-PEN-5.6.2 is written once per ticket"


def test_R_PEN_5_6_2_waits_for_resolution_and_validity(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    run = Run(host, stub, ticket)
    assert ledger(run({"valid": 1, "units": ["生产班组"]})) == [], "not resolved yet"
    ticket.closed = True
    effects = run({"valid": None, "units": ["生产班组"]}, kind=EventKind.closed)
    assert ledger(effects) == []
    assert notes(effects) == [("R-PEN-5.6.2", "已解决但投诉有效性未确认：有效投诉罚则待确认有效后记账")]
    assert notes(run({"valid": None, "units": ["生产班组"]})) == [], "asked once"
    ticket.closed = False  # reopened: still counts as resolved once; validity decided later
    assert [e[2] for e in ledger(run({"valid": 1, "units": ["生产班组"]}))] == ["公司负责人", "生产班组负责人"]


def test_R_PEN_5_6_2_when_valid_applies_before_resolution(make_ticket):
    host, stub = make_host("food", {"penalties": {"when": "valid"}})
    run = Run(host, stub, make_ticket())
    assert [e[2] for e in ledger(run({"valid": 1, "units": ["质检部"]}))] == ["公司负责人", "质检部负责人"]


def test_R_PEN_5_6_2_institution_from_a_field_is_asked_for_not_guessed(make_ticket):
    host, stub = make_host("insurance")
    ticket = make_ticket(owner="agent1")
    ticket.closed = True
    run = Run(host, stub, ticket)
    record = {"valid": 1, "units": ["客户服务部"]}
    effects = run(record, kind=EventKind.closed)
    assert ledger(effects) == [("R-PEN-5.6.2", "penalty", "客户服务部负责人", 1000.0, None, None, "confirmed")]
    assert notes(effects) == [("R-PEN-5.6.2", "责任机构未知，罚则暂不记账：请填写字段 branch")]
    ticket.fields["branch"] = "深圳中心支公司"
    assert ledger(run(record)) == [("R-PEN-5.6.2", "penalty", "深圳中心支公司负责人", 1000.0, None, None, "confirmed")]


def test_R_PEN_5_6_2_admon_third_valid_complaint_of_the_year(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    ticket.closed = True
    history = History_({("生产班组负责人", "R-PEN-5.6.2", 2026): 2, ("公司负责人", "R-PEN-5.6.2", 2026): 5,
                        ("公司负责人", "R-PEN-5.6.2-admon", 2026): 1})
    effects = Run(host, stub, ticket, history)({"valid": 1, "units": ["生产班组"]})
    admon = [e for e in effects if e.rule_id == "R-PEN-5.6.2-admon"]
    assert [(e.kind, e.subject, e.status, e.amount, e.dedupe_key) for e in admon] == [
        ("admonition", "生产班组负责人", "confirmed", None, "R-PEN-5.6.2-admon:生产班组负责人:2026")]
    assert admon[0].reason == "2026年第3次有效投诉，给予诫勉处理"
    # Two workers raced past the third without admonishing (both counted 1): the next one does.
    raced = History_({("生产班组负责人", "R-PEN-5.6.2", 2026): 3})
    effects = Run(host, stub, make_ticket(id="2"), raced)({"valid": 1, "units": ["生产班组"]},
                                                          kind=EventKind.closed)
    assert [e.subject for e in effects if e.rule_id == "R-PEN-5.6.2-admon"] == ["生产班组负责人"]


def test_R_PEN_5_6_2_admon_racing_workers_write_one_row(engine, make_ticket):
    # Two workers decide two tickets at once from the same (stale) count: both propose the
    # admonition, the store keeps one row per dedupe key.
    host, stub = make_host("food")
    history = History_({("生产班组负责人", "R-PEN-5.6.2", 2026): 2})
    rows = []
    for tid in ("1", "2"):
        ticket = make_ticket(id=tid)
        ticket.closed = True
        for e in Run(host, stub, ticket, history)({"valid": 1, "units": ["生产班组"]}):
            if isinstance(e, LedgerEntry) and e.rule_id == "R-PEN-5.6.2-admon":
                rows.append({"created_at": NOW, "ticket_key": f"zammad:{tid}", "rule_id": e.rule_id,
                             "plugin": "penalties", "kind": e.kind, "subject": e.subject, "status": e.status,
                             "dedupe_key": e.dedupe_key})
    assert len(rows) == 2
    with engine.begin() as conn:
        assert store.add_ledger(conn, rows[:1]) == 1
    with engine.begin() as conn:
        assert store.add_ledger(conn, rows[1:]) == 0
    assert [e.ticket_key for e in Ledger(engine).entries()] == ["zammad:1"]


def test_R_PEN_5_6_2_admon_counts_standing_entries_only(engine):
    # A reversed R-PEN-5.6.2 fine (e.g. the complaint was not valid after all) and the rows that
    # record decisions do not count towards the yearly threshold.
    def add(**kw):
        with engine.begin() as conn:
            store.add_ledger(conn, [{"created_at": NOW, "ticket_key": "zammad:1", "rule_id": "R-PEN-5.6.2",
                                     "plugin": "penalties", "kind": "penalty", "subject": "生产班组负责人",
                                     "amount": 1000.0, "status": "confirmed", **kw}])
        return Ledger(engine).entries()[-1].id

    first = add()
    add(ticket_key="zammad:2")
    add(created_at=NOW.replace(year=2025), ticket_key="zammad:0")
    history = History(engine)
    assert history.ledger_count("生产班组负责人", "R-PEN-5.6.2", 2026) == 2
    Ledger(engine).reverse(first, "审计", "无效投诉")
    assert history.ledger_count("生产班组负责人", "R-PEN-5.6.2", 2026) == 1
    p = add(amount=None, amount_min=1000.0, amount_max=2000.0, status="proposed", ticket_key="zammad:3")
    decided = Ledger(engine).confirm(p, 1500, "王经理")
    assert history.ledger_count("生产班组负责人", "R-PEN-5.6.2", 2026) == 2, "proposal + its confirmation = 1"
    Ledger(engine).reverse(decided.id, "审计", "更正")
    assert history.ledger_count("生产班组负责人", "R-PEN-5.6.2", 2026) == 1


def test_R_PEN_5_6_2_admon_fires_at_the_third_not_the_fourth_and_again_next_year(engine, make_ticket):
    """The real pipeline and store: admonition exactly once per subject and calendar year."""
    host, _ = make_host("food")
    tickets = {}
    for i in range(1, 8):
        t = make_ticket(id=str(i), owner="agent1")
        t.closed = True
        tickets[str(i)] = t
    connector = MemoryConnector(tickets)
    now = [datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)]
    pipeline = Pipeline(engine=engine, connector=connector, host=host, renderer=NoteRenderer("zh"),
                        clock=lambda: now[0])
    worker = Worker(pipeline, WorkerSettings(max_attempts=1), clock=lambda: now[0])

    def process(tid: str) -> list[str]:
        with engine.begin() as conn:  # a person confirmed the complaint valid; routing named the unit
            store.save_complaint(conn, f"zammad:{tid}", {"valid": 1, "units": ["生产班组"]}, now[0])
        enqueue(engine, tid, f"d{tid}")
        assert worker.drain() == 1
        now[0] += timedelta(days=1)
        return sorted(e.subject for e in Ledger(engine).entries(ticket_key=f"zammad:{tid}")
                      if e.rule_id == "R-PEN-5.6.2-admon")

    assert process("1") == [] and process("2") == []
    assert process("3") == ["公司负责人", "生产班组负责人"], "third valid complaint of 2026"
    assert "诫勉" in connector.notes["3"][0][1] and "[R-PEN-5.6.2-admon]" in connector.notes["3"][0][1]
    assert process("4") == [], "not again at the fourth"
    fines = [e for e in Ledger(engine).entries() if e.rule_id == "R-PEN-5.6.2"]
    assert len(fines) == 8 and {e.amount for e in fines} == {1000.0}
    now[0] = datetime(2027, 1, 10, 2, 0, tzinfo=timezone.utc)
    assert process("5") == [] and process("6") == []
    assert process("7") == ["公司负责人", "生产班组负责人"], "third valid complaint of 2027"
    admons = [(e.subject, e.created_at.year) for e in Ledger(engine).entries() if e.rule_id == "R-PEN-5.6.2-admon"]
    assert sorted(admons) == [("公司负责人", 2026), ("公司负责人", 2027), ("生产班组负责人", 2026),
                              ("生产班组负责人", 2027)]


def test_R_PEN_5_6_3_attitude_or_timeliness_zero_tolerance_against_the_person(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    ticket.closed = True
    effects = Run(host, stub, ticket)({"valid": 1, "units": ["营销部"]}, flags={"attitude": True})
    # The owner is only presumed to be the person complained about: a person confirms the fine.
    assert [e for e in ledger(effects) if e[0] == "R-PEN-5.6.3"] == [
        ("R-PEN-5.6.3", "penalty", "agent1", 1000.0, None, None, "proposed"),
        ("R-PEN-5.6.3", "admonition", "agent1", None, None, None, "proposed"),
    ]
    fine = [e for e in effects if isinstance(e, LedgerEntry) and e.rule_id == "R-PEN-5.6.3" and e.kind == "penalty"][0]
    assert "推定" in fine.reason
    demerit = [e for e in effects if isinstance(e, LedgerEntry) and e.kind == "admonition"][0]
    assert "记过或辞退" in demerit.reason
    assert len([e for e in ledger(effects) if e[0] == "R-PEN-5.6.2"]) == 2


def test_R_PEN_5_6_3_unknown_person_is_asked_for_then_charged(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner=None)
    ticket.closed = True
    run = Run(host, stub, ticket)
    effects = run({"valid": 1, "units": ["营销部"]}, flags={"timeliness": True})
    assert [e for e in ledger(effects) if e[0] == "R-PEN-5.6.3"] == []
    assert notes(effects) == [("R-PEN-5.6.3", "责任人未知，罚则暂不记账：请填写字段 responsible_person 或处理人")]
    assert notes(run({"valid": 1, "units": ["营销部"]}, flags={"timeliness": True})) == []
    ticket.fields["responsible_person"] = "李四"
    assert ledger(run({"valid": 1, "units": ["营销部"]}, flags={"timeliness": True})) == [
        ("R-PEN-5.6.3", "penalty", "李四", 1000.0, None, None, "confirmed"),
        ("R-PEN-5.6.3", "admonition", "李四", None, None, None, "proposed"),
    ]


def test_R_PEN_5_6_4_invalid_complaint_only_a_score_deduction(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    ticket.closed = True
    record = {"valid": 0, "units": ["营销部"], "escalations": [{"rule_id": "R-ESC-6.31"}]}
    effects = Run(host, stub, ticket)(record, flags={"attitude": True, "concealed": True,
                                                     "threatened_customer": True})
    assert ledger(effects) == [("R-PEN-5.6.4", "score", "agent1", None, None, None, "proposed")], \
        "R-INVALID-6.14: no penalty for an invalid complaint beyond R-PEN-5.6.4"


def test_R_PEN_6_39_concealed_is_a_500_to_2000_proposal(food, make_ticket):
    host, stub = food
    effects = Run(host, stub, make_ticket(owner="agent1"))({}, flags={"concealed": True})
    assert ledger(effects) == [("R-PEN-6.39", "penalty", "agent1", None, 500.0, 2000.0, "proposed")]


def test_R_PEN_6_40_stalled_escalation_proposes_1000_to_5000_for_person_and_department(food, make_ticket):
    host, stub = food
    run = Run(host, stub, make_ticket(owner="agent1"))
    record = {"units": ["生产班组"], "escalations": [{"rule_id": "R-ESC-6.31", "at": NOW.isoformat()}]}
    effects = run(record)
    assert ledger(effects) == [
        ("R-PEN-6.40", "penalty", "agent1", None, 1000.0, 5000.0, "proposed"),
        ("R-PEN-6.40", "penalty", "生产班组", None, 1000.0, 5000.0, "proposed"),
    ]
    assert "R-ESC-6.31" in effects[0].reason
    record["escalations"].append({"rule_id": "R-ESC-6.13"})
    assert ledger(run(record)) == [], "once per ticket"
    other = Run(host, stub, make_ticket(id="2", owner="agent2"))
    assert ledger(other({"units": ["质检部"], "escalations": [{"rule_id": "R-ESC-6.13"}]}))[0][4:6] == (1000.0, 5000.0)


def test_R_PEN_6_41_principles_broken_escalation_proposes_500_to_1000(food, make_ticket):
    host, stub = food
    for esc in ("R-ESC-6.32", "R-ESC-6.30"):
        effects = Run(host, stub, make_ticket(owner="agent1"))({"escalations": [{"rule_id": esc}]})
        assert ledger(effects) == [("R-PEN-6.41", "penalty", "agent1", None, 500.0, 1000.0, "proposed")], esc


def test_R_PEN_6_42_threats_propose_5000_to_10000(food, make_ticket):
    host, stub = food
    effects = Run(host, stub, make_ticket(owner="agent1"))({}, flags={"threatened_customer": True})
    assert ledger(effects) == [("R-PEN-6.42", "penalty", "agent1", None, 5000.0, 10000.0, "proposed")]


def test_R_REW_6_43_praise_after_resolution_proposes_a_reward(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    run = Run(host, stub, ticket)
    assert ledger(run({}, flags={"praise": True})) == [], "praise counts after handling"
    ticket.closed = True
    assert ledger(run({}, flags={"praise": True}, kind=EventKind.closed)) == [
        ("R-REW-6.43", "reward", "agent1", None, None, None, "proposed")]


def test_R_REW_6_44_saved_loss_rewards_person_and_unit(food, make_ticket):
    host, stub = food
    ticket = make_ticket(owner="agent1")
    ticket.closed = True
    effects = Run(host, stub, ticket)({"units": ["营销部"]}, flags={"saved_loss": True})
    assert ledger(effects) == [("R-REW-6.44", "reward", "agent1", None, None, None, "proposed"),
                               ("R-REW-6.44", "reward", "营销部", None, None, None, "proposed")]


def test_ledger_entries_of_the_plugin_reach_the_store_and_ranges_are_confirmed_in_range(engine, make_ticket):
    # R-PEN-6.39 through the pipeline: the proposal row, then a person's decision (kesu.ledger).
    host, stub = make_host("food")
    stub.facts = {"flags": {"concealed": True}}
    t = make_ticket(owner="agent1")
    connector = MemoryConnector({"1": t})
    pipeline = Pipeline(engine=engine, connector=connector, host=host, renderer=NoteRenderer("zh"),
                        clock=lambda: NOW)
    Worker(pipeline, WorkerSettings(max_attempts=1), clock=lambda: NOW)
    enqueue(engine)
    Worker(pipeline, WorkerSettings(max_attempts=1), clock=lambda: NOW).drain()
    (p,) = Ledger(engine).open_proposals()
    assert (p.rule_id, p.subject, p.amount_min, p.amount_max, p.note) == (
        "R-PEN-6.39", "agent1", 500.0, 2000.0, "隐瞒、作假或虚报投诉信息")
    assert "台账提议：罚款 agent1 500–2000 元：隐瞒、作假或虚报投诉信息 [R-PEN-6.39]" in connector.notes["1"][0][1]
    from kesu.ledger import LedgerError

    with pytest.raises(LedgerError, match="outside 500–2000"):
        Ledger(engine).confirm(p.id, 2500, "王经理")
    assert Ledger(engine).confirm(p.id, 800, "王经理").amount == 800


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_configures_penalties(profile):
    host, _ = make_host(profile)
    config = host.configs["penalties"]
    assert config.valid_complaint.entries[0].amount == 1000  # R-PEN-5.6.2
    assert config.admonition.threshold == 3  # R-PEN-5.6.2-admon
    assert (config.threats.entries[0].amount_min, config.threats.entries[0].amount_max) == (5000, 10000)


@pytest.mark.parametrize("bad, message", [
    ({"amount": 1000, "amount_min": 1, "amount_max": 2}, "not both"),
    ({"amount_min": 5000, "amount_max": 1000}, "above amount_max"),
    ({"amount_min": 500}, "both amount_min and amount_max"),
])
def test_config_refuses_inconsistent_amounts(bad, message):
    entry = {"kind": "penalty", "against": ["person"], "reason": "x", **bad}
    with pytest.raises(PluginConfigError, match=message) as err:
        make_host("food", {"penalties": {"concealed": {"entries": [entry]}}})
    assert "[policies.penalties]" in str(err.value) and "concealed.entries.0" in str(err.value)
