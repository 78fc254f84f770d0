"""The ``compensation`` plugin: R-COMP-1.9.2-A / -B / -C guidance as an internal note only.

Runs facts + severity + compensation from the food profile: the guidance follows the tier
severity decided and the harm flags the facts found.
"""

from __future__ import annotations

import pytest

from kesu.models import EventKind
from plugins.manager import PluginConfigError
from tests.policies.classify_kit import Case, evaluate, make_host, notes, of, ticket

KEEP = ("facts", "severity", "compensation")
NO_HARM_A = "赔付参考（内部，勿向客户承诺）：致电或致函道歉；原则上可按 1:10 赠送礼品豆制品（特例可机动考虑）"
HARM_A = "赔付参考（内部，勿向客户承诺）：【需审批】诚挚拜访；必要时支付实际医疗检查费用（需由公司同意后方可执行）"
SERIOUS_A = ("赔付参考（内部，勿向客户承诺）：【需审批】诚挚拜访；必要时支付实际医疗检查费用；赠送慰问品"
             "（需由公司同意后方可执行）")
B = "赔付参考（内部，勿向客户承诺）：致电或致函道歉；原则上可按 1:2 赠送礼品豆制品（特例可机动考虑）"
C = "赔付参考（内部，勿向客户承诺）：致电或致函道歉；原则上可按 1:1 赠送礼品豆制品（特例可机动考虑）"
ASK_BATCH = "请客户提供产品批号，以便内部责任落实（篇1 §8.6 f）"


@pytest.fixture(scope="module")
def food():
    return make_host("food", keep=KEEP)


def guidance(result):
    return [(r, t) for r, t in notes(result, "compensation") if t.startswith("赔付参考")]


@pytest.mark.parametrize("body, expected", [
    ("批号 20261101，豆腐打开就发霉了，还好没吃。", NO_HARM_A),  # §9.2.1 c)
    ("批号 20261101，孩子吃了发霉的豆腐后腹泻。", HARM_A),  # §9.2.1 b)
    ("批号 20261101，老人吃了发霉的豆腐，呕吐后住院了。", SERIOUS_A),  # §9.2.1 a)
])
def test_R_COMP_1_9_2_A_by_harm(food, body, expected):
    result = evaluate(food, ticket("豆腐发霉", body))
    assert guidance(result) == [("R-COMP-1.9.2-A", expected)]


@pytest.mark.parametrize("title, body", [
    ("豆腐黑点", "批号 20261101，豆腐表面黑点很多。"),
    ("空袋", "批号 20261101，打开一看是空袋。"),
    ("包装错位", "批号 20261101，包装严重错位，豆浆漏出来了。"),
])
def test_R_COMP_1_9_2_B(food, title, body):
    assert guidance(evaluate(food, ticket(title, body))) == [("R-COMP-1.9.2-B", B)]


@pytest.mark.parametrize("title, body", [
    ("包装破损", "批号 20261101，收到时包装破损。"),
    ("豆干走刀", "批号 20261101，豆干走刀、坍角。"),
    ("日期有误", "批号 20261101，外箱上的打印日期有误。"),
])
def test_R_COMP_1_9_2_C(food, title, body):
    assert guidance(evaluate(food, ticket(title, body))) == [("R-COMP-1.9.2-C", C)]


def test_R_COMP_1_9_2_A_asks_for_the_batch_number_once(food):
    case = Case(food, ticket("豆腐发霉", "豆腐打开就发霉了。"))
    first = case.run()
    assert ("R-COMP-1.9.2-A", ASK_BATCH) in notes(first, "compensation")
    assert notes(case.run(EventKind.updated), "compensation") == []


def test_R_COMP_1_9_2_C_no_batch_question_when_the_batch_is_known(food):
    result = evaluate(food, ticket("包装破损", "包装破损。", fields={"batch_number": "20261101"}))
    assert ASK_BATCH not in [t for _, t in notes(result, "compensation")]


def test_R_COMP_1_9_2_guidance_is_internal_only_and_promises_nothing(food):
    result = evaluate(food, ticket("豆腐发霉", "老人吃了发霉的豆腐，住院了。"))
    mine = of(result, "compensation")
    assert mine and {e.type for e in mine} <= {"internal_note", "set_state"}
    assert all("勿向客户承诺" in e.text for e in mine if e.type == "internal_note" and e.text.startswith("赔付"))


def test_R_COMP_1_9_2_A_follows_an_escalated_tier(food):
    case = Case(food, ticket("豆腐黑点", "批号 20261101，豆腐表面黑点很多。"))
    assert guidance(case.run()) == [("R-COMP-1.9.2-B", B)]
    case.record["tier"] = "A"  # raised by the escalation plugin
    assert guidance(case.run(EventKind.updated)) == [("R-COMP-1.9.2-A", NO_HARM_A)]
    assert guidance(case.run(EventKind.updated)) == []


def test_R_COMP_1_9_2_A_harm_seen_once_stays(food):
    case = Case(food, ticket("豆腐发霉", "批号 20261101，吃了发霉的豆腐后住院了。"))
    assert guidance(case.run()) == [("R-COMP-1.9.2-A", SERIOUS_A)]
    case.ticket = ticket("豆腐发霉", "批号 20261101，豆腐发霉。")
    assert guidance(case.run(EventKind.updated)) == []


def test_R_COMP_1_9_2_no_guidance_for_a_confirmed_invalid_complaint(food):
    t = ticket("豆腐发霉", "批号 20261101，豆腐发霉。", fields={"complaint_validity": "无效"})
    assert of(evaluate(food, t), "compensation") == []


def test_R_COMP_1_9_2_no_guidance_without_a_tier(food):
    assert of(evaluate(food, ticket("咨询", "请问保质期多久？")), "compensation") == []


@pytest.mark.parametrize("profile", ["insurance", "realestate", "retail", "utility"])
def test_R_COMP_1_9_2_disabled_where_the_regulation_has_no_standard(profile):
    host = make_host(profile, keep=KEEP)
    assert host.configs["compensation"].enabled is False
    result = evaluate(host, ticket("投诉", "损失3万元，已经住院了。"))
    assert of(result, "compensation") == []


def test_R_COMP_1_9_2_enabled_needs_standards():
    with pytest.raises(PluginConfigError, match="compensation standards are required"):
        make_host("retail", keep=KEEP, sections={"compensation": {"enabled": True}})
