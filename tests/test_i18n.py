"""kesu's one catalogue (kesu/i18n): complete in both languages, the template up to date, every
fixed vocabulary covered, a site's overrides applied; profile labels in English by label_en."""

from __future__ import annotations

import re
import string
import typing
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from kesu import effects, i18n
from kesu.facts import FLAG_NAMES, Facts
from kesu.i18n.__main__ import problems, template
from kesu.i18n.labels import Labels, internal_keys
from kesu.models import Priority
from policies import profiles
from tests.raw_keys import raw_keys_in


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogues_hold_every_entry_of_the_template_translated():
    assert problems() == []
    assert template() == i18n.TEMPLATE.read_bytes(), "messages.pot is stale: run python -m kesu.i18n"
    zh, en = i18n.read(i18n.po_path("zh")), i18n.read(i18n.po_path("en"))
    assert len(zh) > 300
    for m in zh:
        if not m.id:
            continue
        other = en.get(m.id, context=m.context)
        assert other is not None and other.string, (m.context, m.id)
        # the same placeholders in both languages: a template never loses a value
        assert _fields(m.string) == _fields(other.string), (m.context, m.id, m.string, other.string)
        # the English entry is English: no Chinese character (a Chinese name in quotes aside)
        if m.context not in ("admin",):
            assert not re.search(r"[\u4e00-\u9fff]", other.string), (m.context, m.id, other.string)


def test_every_fixed_vocabulary_is_in_the_catalogue():
    tiers = {t for p in profiles.PROFILES for t in profiles.load(p)["severity"]["tiers"]}
    assert tiers <= set(i18n.keys("tier"))
    assert set(FLAG_NAMES) == set(i18n.keys("flag"))
    outcomes = typing.get_args(typing.get_args(Facts.model_fields["followup_outcome"].annotation)[0])
    assert set(outcomes) == set(i18n.keys("outcome"))
    assert set(typing.get_args(effects.LedgerEntry.model_fields["kind"].annotation)) == set(i18n.keys("ledger_kind"))
    types = {typing.get_args(cls.model_fields["type"].annotation)[0] for cls in effects.BaseEffect.__subclasses__()}
    assert types <= set(i18n.keys("effect")), types - set(i18n.keys("effect"))
    assert {p.name for p in Priority} == set(i18n.keys("priority"))
    assert {"open", "resolved", "invalid"} == set(i18n.keys("state"))


def test_lookups_and_fallbacks():
    assert i18n.label("tier", "A") == "A类（重大）" and i18n.label("tier", "A", "en") == "Class A (major)"
    assert i18n.label("flag", "serious_injury", "en_US") == "Serious Injury"
    assert i18n.text("admin", "found", "zh", n=3) == "共 3 条" and i18n.text("admin", "found", "en", n=3) == "3 found"
    assert i18n.label("tier", "no-such-tier") == "no-such-tier"
    assert i18n.label("tier", "no-such-tier", default="") == ""
    assert i18n.unset("en") == "Not Set" and i18n.unset() == "未填写"


def test_a_site_overrides_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for locale, text in (("zh_CN", "甲类（重大）"), ("en", "Grade A")):
        catalog = Catalog(locale=locale, domain="kesu")
        catalog.add("A", text, context="tier")
        folder = tmp_path / locale / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with open(folder / "kesu.po", "wb") as f:
            write_po(f, catalog)
    monkeypatch.setenv(i18n.SITE_ENV, str(tmp_path))
    i18n.reload()
    try:
        assert i18n.label("tier", "A") == "甲类（重大）" and i18n.label("tier", "A", "en") == "Grade A"
        assert i18n.label("tier", "B") == "B类（一般）"  # what the site leaves alone stays kesu's
        assert Labels().tier("A") == "甲类（重大）"
    finally:
        monkeypatch.delenv(i18n.SITE_ENV)
        i18n.reload()
    assert i18n.label("tier", "A") == "A类（重大）"


def test_profile_labels_in_both_languages():
    for name in profiles.PROFILES:
        data = profiles.load(name)
        tables = [data["facts"].get(t) or {} for t in ("causes", "categories", "flags")] + [data["severity"]["tiers"]]
        for table in tables:
            for key, rule in table.items():
                assert rule.get("label") and rule.get("label_en"), (name, key)
                assert not re.search(r"[\u4e00-\u9fff]", rule["label_en"]), (name, key, rule["label_en"])
    food, insurer = Labels.from_policies("food"), Labels.from_policies("insurance", lang="en")
    assert food.cause("mould") == "产品发酸、发霉变质、发红"
    assert food.in_lang("en").cause("mould") == "Sour, mouldy, spoiled or reddened product"
    assert insurer.tier("major") == "Major complaint" and insurer.in_lang("zh").tier("major") == "重大投诉件"
    assert insurer.category("discipline") == "Discipline and supervision petition"
    # a deployment's own label wins (the profile's label_en stays until it gives its own); a cause
    # of its own without label_en shows its Chinese label in English too
    site = Labels.from_policies("food", {"facts": {"causes": {"mould": {"label": "霉变"},
                                                              "skin_torn": {"label": "豆皮破损"}}},
                                         "routing": {"units": {"生产班组": {"group": "P", "label": "生产一班",
                                                                            "label_en": "Production line 1"}}}})
    assert site.cause("mould") == "霉变" and site.in_lang("en").cause("mould") == "Sour, mouldy, spoiled or reddened product"
    assert site.in_lang("en").cause("skin_torn") == "豆皮破损"
    assert site.unit("生产班组") == "生产一班" and site.in_lang("en").unit("生产班组") == "Production line 1"
    # a record from another profile still reads well; a person's own words stay as they are
    assert food.cause("outage") == "停复电" and food.cause("漏包") == "漏包"
    # helpdesk fields by their display names and option labels
    assert food.field("complaint_cause") == "客诉原因" and food.field_value("complaint_tier", "A") == "A类（重大）"
    assert food.in_lang("en").field_value("complaint_cause", "mould") == "Sour, mouldy, spoiled or reddened product"


def test_the_raw_key_check_has_teeth():
    keys = internal_keys()
    assert {"mould", "insect_unopened", "channel_missing_packs"} <= keys["causes"]
    assert {"serious_injury", "media"} <= keys["flags"] and {"satisfied"} <= keys["outcomes"]
    assert raw_keys_in("原因 mould") == {"causes:mould"}
    assert raw_keys_in("flags: serious_injury", "en") == {"flags:serious_injury"}
    assert raw_keys_in("The media came", "en") == set()  # an English word in English prose
    assert raw_keys_in("时限 R-SLA-6.18-major：A类（重大）") == set()  # rule IDs are cited on purpose


def test_facts_and_english_notes_name_values_by_their_labels():
    from kesu.facts import Facts
    from tests.policies.classify_kit import evaluate, make_host, one, ticket

    bare = Facts(cause="漏包", channel="consumer", flags={"serious_injury": True})
    assert bare.label("flag:serious_injury") == "严重伤害" and bare.label("flag:serious_injury", "en") == "Serious Injury"
    assert bare.label("cause") == "漏包" and bare.label("channel", "en") == "Consumer complaint"
    result = evaluate(make_host("food", keep=("facts", "severity", "routing")), ticket("豆腐发霉", "盒装豆腐打开就发霉了"))
    priority, group = one(result, "severity", "set_priority"), one(result, "routing", "assign_group")
    assert priority.reason.startswith("A类（重大），依据：原因 产品发酸、发霉变质、发红")
    assert priority.reason_en.startswith("Class A (major), evidence: cause Sour, mouldy, spoiled or reddened product")
    assert "the customer's words 「" in priority.reason_en
    assert group.reason_en.startswith("responsible unit(s) 煮浆人员, 生产班组 (cause Sour, mouldy")
    for text in (priority.reason, priority.reason_en, group.reason, group.reason_en):
        assert raw_keys_in(text) == set(), text
