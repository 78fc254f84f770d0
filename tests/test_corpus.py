"""The labelled corpus (policies/corpus) and ``kesu eval facts``.

* every case is well-formed and names only causes, categories, flags, tiers and units the profile
  has (a label the policies cannot produce is a broken label);
* the labels agree with the policies: played as an agent's fields, the labelled facts give the
  labelled tier, units and escalation (R-TIER-*, R-ROUTE-*, R-ESC-6.30) -- so a miss in the
  normal run is the reader's, not the label's;
* the reader meets its floor on the held-out part (HELDOUT_FLOOR, measured and recorded in
  docs/facts-accuracy.md; the target is 95 %);
* ``kesu eval facts`` prints the numbers and the misses, fails below ``--threshold``, reads any
  JSONL file, and ``kesu facts corrections export`` writes agents' corrections in the same format.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kesu import factcheck
from kesu.cli import app
from kesu.facts import FLAG_NAMES
from policies import profiles

CORPUS = Path(factcheck.corpus_path("food", "dev")).parent.parent
TIERS = {"food": {"A", "B", "C", None}, "insurance": {"general", "difficult", "major"},
         "realestate": {"general", "major"}, "retail": {"general", "major"}, "utility": {"general", "major"}}


def _cases(profile: str, split: str) -> list[factcheck.Case]:
    return factcheck.load_cases(factcheck.corpus_path(profile, split))


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_every_profile_has_150_cases_split_in_two(profile):
    dev, heldout = _cases(profile, "dev"), _cases(profile, "heldout")
    assert len(dev) + len(heldout) >= 150 and len(heldout) >= 70
    ids = [c.id for c in dev + heldout]
    assert len(ids) == len(set(ids))
    assert all(c.id.startswith(f"{profile}-d-") for c in dev) and all(c.id.startswith(f"{profile}-h-") for c in heldout)


@pytest.mark.parametrize("profile", profiles.PROFILES)
@pytest.mark.parametrize("split", factcheck.SPLITS)
def test_labels_name_only_what_the_profile_has(profile, split):
    data = profiles.load(profile)
    causes, categories = set(data["facts"].get("causes") or {}), set(data["facts"].get("categories") or {})
    units = set(data["routing"].get("units") or {})
    for c in _cases(profile, split):
        assert c.body.strip(), c.id
        assert c.facts.get("cause") in causes | {None}, c.id
        assert c.facts.get("category") in categories | {None}, c.id
        assert set(c.flags) <= set(factcheck.LABELLED_FLAGS) <= set(FLAG_NAMES), c.id
        assert "serious_injury" not in c.flags or "injury" in c.flags, c.id
        assert c.expect.get("tier") in TIERS[profile], c.id
        assert set(c.expect.get("units") or []) <= units, c.id
        assert c.expect.get("escalation") == (["R-ESC-6.30"] if "repeat" in c.flags else []), c.id
        amount = c.facts.get("loss_amount")
        assert amount is None or (isinstance(amount, (int, float)) and amount > 0), c.id


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_labels_agree_with_the_policies(profile):
    """The labelled facts, filled in as an agent would, give the labelled decision. Food cases
    whose tier comes from a symptom word alone (no cause, no special flag) need the text: they are
    played with it."""
    host = factcheck.make_host(profile)
    disagree = []
    for split in factcheck.SPLITS:
        for case in _cases(profile, split):
            keyword_tier = profile == "food" and case.facts.get("cause") is None and case.expect.get("tier")
            out = factcheck.play(host, case, labels=not keyword_tier)
            got = (out.tier, out.units, out.escalation) if not keyword_tier else (out.tier,)
            want = (case.expect.get("tier"), list(case.expect.get("units") or []),
                    sorted(case.expect.get("escalation") or []))[:len(got)]
            if got != want:
                disagree.append((case.id, want, got))
    assert not disagree, disagree


#: The held-out floors the reader must keep (fractions): measured on this corpus and recorded in
#: docs/facts-accuracy.md; a change that drops below them fails CI. The target is 0.95 everywhere.
HELDOUT_FLOOR = tomllib.loads((CORPUS / "floors.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_heldout_accuracy_keeps_its_floor(profile):
    report = factcheck.evaluate(profile, _cases(profile, "heldout"), split="heldout")
    floor = HELDOUT_FLOOR[profile]
    got = {"tier": report.accuracy("tier"), "units": report.accuracy("units")}
    for name in factcheck.KEY_FLAGS:
        pr = report.flags[name]
        got[f"{name}.precision"], got[f"{name}.recall"] = pr.precision, pr.recall
    got["loss_amount.precision"], got["loss_amount.recall"] = report.loss.precision, report.loss.recall
    below = {k: (round(v, 4), floor[k]) for k, v in got.items() if v is not None and k in floor and v < floor[k]}
    assert not below, f"{profile} held-out below its floor: {below}\n{factcheck.render(report, limit=20)}"


def test_eval_cli_prints_numbers_and_misses_and_fails_below_the_threshold(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no kesu.toml here: the built-in profile
    cases = tmp_path / "mine.jsonl"
    cases.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in [
        {"id": "x-1", "title": "豆腐发霉", "body": "打开就长了白毛。", "facts": {"cause": "mould", "flags": []},
         "expect": {"tier": "A", "units": ["煮浆人员", "生产班组"], "escalation": []}},
        {"id": "x-2", "title": "豆腐", "body": "孩子吃了吐了一晚上，再不处理我就找记者。",
         "facts": {"cause": None, "flags": ["injury", "media", "lawsuit"]},
         "expect": {"tier": None, "units": ["设计中心"], "escalation": []}},  # a unit the text cannot give
    ]) + "\n", encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(app, ["eval", "facts", "--profile", "food", "--file", str(cases)])
    assert ok.exit_code == 0, ok.output
    assert "== food / mine.jsonl: 2 cases" in ok.output
    assert "x-2: -lawsuit" in ok.output  # a miss, with what went wrong
    low = runner.invoke(app, ["eval", "facts", "--profile", "food", "--file", str(cases), "--threshold", "0.95"])
    assert low.exit_code == 1 and "below 95%: food units 50.0%; food lawsuit recall 0.0%" in low.output
    as_json = runner.invoke(app, ["eval", "facts", "--profile", "food", "--file", str(cases), "--json"])
    report = json.loads(as_json.output)["reports"][0]
    assert report["flags"]["lawsuit"] == {"precision": None, "recall": 0.0, "tp": 0, "fp": 0, "fn": 1}
    assert report["flags"]["media"]["tp"] == 1 and report["accuracy"]["tier"] == 1.0
    assert report["accuracy"]["units"] == 0.5
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    broken = runner.invoke(app, ["eval", "facts", "--profile", "food", "--file", str(bad)])
    assert broken.exit_code == 2 and "bad.jsonl:1" in broken.output


def test_corrections_are_recorded_and_exported_as_cases(tmp_path, monkeypatch):
    """An agent's cause field overrides the words: the note says the agent's value won, the record
    keeps the text and the corrected facts, the export writes them as a corpus case."""
    from datetime import datetime, timezone

    from kesu.store.db import make_engine, migrate
    from kesu.store.tickets import save_complaint
    from tests.policies.classify_kit import evaluate, make_host, notes, ticket

    host = make_host("food", keep=("facts", "severity", "routing"))
    t = ticket("豆腐发霉了", "昨天买的豆腐，今天打开就长了一层白毛", fields={"complaint_cause": "channel_rain_mould"})
    result = evaluate(host, t)
    lines = [text for rule, text in notes(result, "facts")]
    assert lines == ["以坐席填写为准：原因 = 运输中被雨淋湿、霉变或异物进入；系统从客户原话读取为 产品发酸、发霉变质、发红"
                     "（原话「豆腐发霉了」），已记为更正样本"]
    assert result.record["fact_corrections"] == {"cause": {"text": "mould", "agent": "channel_rain_mould",
                                                            "words": "「豆腐发霉了」"}}
    # Evaluated again with the same correction: no second note.
    again = evaluate(host, t, record=dict(result.record))
    assert notes(again, "facts") == []

    engine = make_engine(f"sqlite:///{tmp_path / 'kesu.db'}")
    migrate(engine)
    with engine.begin() as conn:
        save_complaint(conn, "zammad:7", dict(result.record), datetime(2026, 3, 2, tzinfo=timezone.utc))
    (tmp_path / "kesu.toml").write_text(f'[store]\nurl = "sqlite:///{tmp_path / "kesu.db"}"\n', encoding="utf-8")
    out = tmp_path / "corrections.jsonl"
    run = CliRunner().invoke(app, ["facts", "corrections", "export", "-c", str(tmp_path / "kesu.toml"), "-o", str(out)])
    assert run.exit_code == 0, run.output
    [case] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert case["id"] == "zammad:7" and "长了一层白毛" in case["body"]
    assert case["facts"]["cause"] == "channel_rain_mould" and case["expect"]["units"] == ["营销部"]
    assert case["expect"]["tier"] == "A"
    # ... and the eval reads it like any corpus file.
    check = CliRunner().invoke(app, ["eval", "facts", "--profile", "food", "--file", str(out)])
    assert check.exit_code == 0 and "1 cases" in check.output


def test_kesu_version():
    from kesu import __version__

    run = CliRunner().invoke(app, ["--version"])
    assert run.exit_code == 0 and run.output.strip() == f"kesu {__version__}"


def test_eval_uses_the_sites_own_words(tmp_path, monkeypatch):
    """docs/facts.md: an admin adds a word in kesu.toml, then re-checks with ``kesu eval facts``."""
    monkeypatch.chdir(tmp_path)
    cases = tmp_path / "ours.jsonl"
    cases.write_text(json.dumps({"id": "s-1", "title": "豆腐", "body": "豆腐里有只小咬在爬。",
                                 "facts": {"cause": "insect_unopened", "flags": []},
                                 "expect": {"tier": "A", "units": ["生产班组"], "escalation": []}},
                                ensure_ascii=False) + "\n", encoding="utf-8")
    runner = CliRunner()
    before = json.loads(runner.invoke(app, ["eval", "facts", "--profile", "food", "--file", str(cases),
                                            "--json"]).output)["reports"][0]
    assert before["accuracy"]["cause"] == 0.0
    (tmp_path / "kesu.toml").write_text('profile = "food"\n\n[policies.facts.lexicon.food_insect]\n'
                                        'add = ["小咬"]\n', encoding="utf-8")
    after = json.loads(runner.invoke(app, ["eval", "facts", "--file", str(cases), "--json"]).output)["reports"][0]
    assert after["profile"] == "food" and after["accuracy"] == {"tier": 1.0, "units": 1.0, "escalation": 1.0,
                                                                "cause": 1.0}
