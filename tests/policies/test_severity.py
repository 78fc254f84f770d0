"""The ``severity`` plugin: tiers of the three schemes, special complaints, validity.

R-TIER-1.9.1-A/B/C (food), R-TIER-5.3.2/5.3.3/5.3.4 (loss), R-TIER-6.13-general/-major (service),
R-SPECIAL-1.11, R-VALID-1.4.1, R-INVALID-6.14 and R-FB-6.35 -- on the real facts plugin and the
profiles' data, with the tickets written the way customers write them.
"""

from __future__ import annotations

import pytest

from kesu.models import EventKind, Priority
from plugins.manager import PluginConfigError
from tests.policies.classify_kit import Case, evaluate, make_host, notes, notifications, of, one, ticket


@pytest.fixture(scope="module")
def food():
    return make_host("food")


@pytest.fixture(scope="module")
def insurance():
    return make_host("insurance")


@pytest.fixture(scope="module")
def realestate():
    return make_host("realestate")


def tier_of(result):
    prio = one(result, "severity", "set_priority")
    rec = next(e for e in of(result, "severity", "record_complaint") if "tier" in e.values)
    return prio.rule_id, prio.priority, rec.values["tier"], one(result, "severity", "add_tags").tags if len(
        of(result, "severity", "add_tags")) == 1 else None


# -- scheme food: R-TIER-1.9.1-A / B / C ------------------------------------------------------------


@pytest.mark.parametrize("title, body, evidence", [
    ("豆腐发霉", "昨天买的盒装豆腐，打开就发霉变质了，批号 20261101。", "原因 产品发酸、发霉变质、发红，客户原话「豆腐发霉」"),
    ("豆浆里有螺丝", "喝豆浆时喝到一颗螺丝，应该是设备零件脱落。", "原因 生产设备零件脱落造成的异物，客户原话「豆浆里有螺丝」"),
    ("油豆腐焦糊", "买的油豆腐有很重的焦糊味。", "原因 油货严重焦糊味或油蛤味，客户原话「油豆腐焦糊」"),
    ("全家腹泻", "全家吃了同一批豆干后都腹泻。", "原因 多人食用同批号产品出现相同不良症状，客户原话「全家腹泻」"),
    # A foreign body not named as a metal part is 其它异物: cause insect_unopened (policies/corpus/README.md).
    ("豆浆里有异物", "喝豆浆时发现里面有异物。", "原因 虫类或其它异物（包装未打开），客户原话「豆浆里有异物」"),
])
def test_R_TIER_1_9_1_A(food, title, body, evidence):
    result = evaluate(food, ticket(title, body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority) == ("R-TIER-1.9.1-A", Priority.urgent)
    assert prio.reason == f"A类（重大），依据：{evidence}"
    assert one(result, "severity", "add_tags").tags == ("客诉-A类",)
    assert result.record["tier"] == "A" and result.record["scheme"] == "food"
    assert result.record["tier_order"] == ["C", "B", "A"] and result.record["special"] is False


@pytest.mark.parametrize("title, body, evidence", [
    ("黑点", "豆腐表面有很多黑点。", "原因 豆腐表面黑星较多，客户原话「黑点」"),
    ("空袋", "打开一看是空袋，少包。", "原因 封口不严、假封、端封开口、少包，客户原话「少包」"),
    ("包装错位", "包装严重错位，豆浆漏出来了。", "原因 包装严重错位、产品外漏，客户原话「包装错位」"),
    ("豆干残缺", "豆干残缺不全。", "客户原话「残缺」"),
])
def test_R_TIER_1_9_1_B(food, title, body, evidence):
    result = evaluate(food, ticket(title, body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, prio.reason) == ("R-TIER-1.9.1-B", Priority.high, f"B类（一般），依据：{evidence}")
    assert one(result, "severity", "add_tags").tags == ("客诉-B类",) and result.record["tier"] == "B"


@pytest.mark.parametrize("title, body, evidence", [
    ("包装破损", "收到时包装破损。", "客户原话「包装破损」"),
    ("豆干走刀", "豆干走刀、坍角很严重。", "客户原话「走刀」"),
    ("日期有误", "外箱上的打印日期有误。", "原因 打印日期有误、外膜或外箱无打印日期，客户原话「日期有误」"),
    # The quote keeps at most 8 characters either side of the words read (policies.text.quote).
    ("袋子撕破", "开箱的时候包装袋被挂角撕破了。", "原因 包装袋挂角造成开箱时撕破，客户原话「箱的时候包装袋被挂角撕破了」"),
])
def test_R_TIER_1_9_1_C(food, title, body, evidence):
    result = evaluate(food, ticket(title, body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, prio.reason) == ("R-TIER-1.9.1-C", Priority.normal, f"C类（一般），依据：{evidence}")
    assert result.record["tier"] == "C"


def test_R_TIER_1_9_1_A_highest_matching_tier_wins(food):
    result = evaluate(food, ticket("豆腐问题", "包装破损，豆腐表面有黑点，而且发霉了。"))
    assert one(result, "severity", "set_priority").rule_id == "R-TIER-1.9.1-A"


def test_R_TIER_1_9_1_A_negated_symptom_does_not_classify(food):
    result = evaluate(food, ticket("包装问题", "豆腐没有发霉，只是包装破损。"))
    assert one(result, "severity", "set_priority").rule_id == "R-TIER-1.9.1-C"


def test_R_TIER_1_9_1_unclassified_is_asked_once(food):
    case = Case(food, ticket("咨询", "请问你们的豆浆保质期多久？"))
    first = case.run()
    assert notes(first, "severity")[0] == (
        "R-TIER-1.9.1", "未能判定客诉等级：请在字段 complaint_tier 填写 A/B/C，或补充问题描述")
    assert not of(first, "severity", "set_priority") and "tier" not in first.record
    assert len(notes(first, "severity")) == 1, "validity is not asked about before the tier"
    second = case.run(EventKind.updated)
    assert not [n for n in notes(second, "severity") if n[0] == "R-TIER-1.9.1"]


def test_R_TIER_1_9_1_C_agent_field_overrides_even_downwards(food):
    t = ticket("豆腐发霉", "打开就发霉", fields={"complaint_tier": "C类"}, tags=["客诉-A类"])
    case = Case(food, t, states={"severity": {"tier": "A"}}, record={"scheme": "food", "tier": "A"})
    result = case.run(EventKind.updated)
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority) == ("R-TIER-1.9.1-C", Priority.normal)
    assert prio.reason == "C类（一般），依据：字段 complaint_tier=C类"
    assert one(result, "severity", "remove_tags").tags == ("客诉-A类",)
    assert case.record["tier"] == "C"


def test_R_TIER_1_9_1_A_tier_never_drops_by_itself(food):
    case = Case(food, ticket("豆腐发霉", "打开就发霉"))
    assert case.run().record["tier"] == "A"
    # The customer corrects the text: it was only black spots. The tier stays A.
    case.ticket = ticket("豆腐有黑点", "看错了，其实是表面黑点较多。")
    result = case.run(EventKind.updated)
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.reason) == ("R-TIER-1.9.1-A", "A类（重大），依据：保持已定等级（等级不自动降低）")
    assert case.record["tier"] == "A"


def test_R_TIER_1_9_1_A_escalated_tier_in_the_record_is_kept(food):
    # The escalation plugin raised B to A in an earlier event.
    result = evaluate(food, ticket("黑点", "豆腐表面有很多黑点。"), record={"scheme": "food", "tier": "A"})
    assert one(result, "severity", "set_priority").rule_id == "R-TIER-1.9.1-A"


def test_R_TIER_1_9_1_priority_per_tier_from_config():
    host = make_host("food", sections={"severity": {"tiers": {"A": {"priority": "high"}}}})
    assert one(evaluate(host, ticket("豆腐发霉", "发霉了")), "severity", "set_priority").priority is Priority.high


# -- scheme loss: R-TIER-5.3.2 / 5.3.3 / 5.3.4 --------------------------------------------------------


@pytest.mark.parametrize("amount, rule, tier, label", [
    ("5000", "R-TIER-5.3.2", "general", "一般投诉件"),
    ("5000.01", "R-TIER-5.3.3", "difficult", "疑难投诉件"),
    ("29999.99", "R-TIER-5.3.3", "difficult", "疑难投诉件"),
    ("30000", "R-TIER-5.3.4", "major", "重大投诉件"),
])
def test_R_TIER_5_3_boundary_amounts(insurance, amount, rule, tier, label):
    result = evaluate(insurance, ticket("理赔投诉", "理赔金额有争议。", fields={"loss_amount": amount}))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, result.record["tier"]) == (rule, tier)
    assert prio.reason == f"{label}，依据：损失 {float(amount):,.2f} 元，字段 loss_amount"


@pytest.mark.parametrize("body", [
    "理赔款少算了3000元，请核实。",
    "保单寄送地址写错了，损失了邮费20元。",
    "续保时少赔了1000元差额。",
])
def test_R_TIER_5_3_2_general(insurance, body):
    result = evaluate(insurance, ticket("理赔投诉", body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, result.record["tier"]) == ("R-TIER-5.3.2", Priority.normal, "general")
    assert one(result, "severity", "add_tags").tags == ("投诉-一般",)


def test_R_TIER_5_3_2_unknown_loss_is_general_and_asked_once(insurance):
    case = Case(insurance, ticket("退保手续", "退保手续太繁琐，希望改进。"))
    first = case.run()
    assert one(first, "severity", "set_priority").rule_id == "R-TIER-5.3.2"
    assert ("R-TIER-5.3.2", "未知直接经济损失，暂定一般投诉件：请在字段 loss_amount 填写金额（元）") in notes(first, "severity")
    assert not [n for n in notes(case.run(EventKind.updated), "severity") if "损失" in n[1]]


@pytest.mark.parametrize("body, evidence", [
    ("车损理赔少赔了8000元。", "损失 8,000.00 元，客户原话「损理赔少赔了8000元」"),
    ("定损金额差了1.2万元，要求赔偿1.2万元。", "损失 12,000.00 元，客户原话「要求赔偿1.2万元」"),
    ("你们的处理方式在我们单位造成恶劣影响。", "客户原话「恶劣影响」"),
])
def test_R_TIER_5_3_3_difficult(insurance, body, evidence):
    result = evaluate(insurance, ticket("理赔投诉", body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, prio.reason) == ("R-TIER-5.3.3", Priority.high, f"疑难投诉件，依据：{evidence}")


@pytest.mark.parametrize("body, evidence", [
    ("这次事故损失3万元，你们只赔一半。", "损失 30,000.00 元，客户原话「这次事故损失3万元」"),
    ("我已经联系了电视台记者，准备曝光。", "媒体介入，客户原话「已经联系了电视台记者」"),  # 3.4.1
    ("我已经请了律师，下周起诉你们。", "拟起诉，客户原话「下周起诉你们」"),  # 3.4.2
    ("伤者至今住院抢救，你们不管不问。", "严重人身伤害，客户原话「伤者至今住院抢救」"),  # 3.4.4
    ("我们6人一起投诉理赔问题。", "6 人"),  # 3.4.5
    ("这是群体投诉，请重视。", "客户原话「群体投诉」"),
])
def test_R_TIER_5_3_4_major(insurance, body, evidence):
    result = evaluate(insurance, ticket("理赔投诉", body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, prio.reason) == ("R-TIER-5.3.4", Priority.urgent, f"重大投诉件，依据：{evidence}")
    assert result.record["tier"] == "major" and result.record["tier_order"] == ["general", "difficult", "major"]


@pytest.mark.parametrize("body", ["住院医疗险拒赔，损失医疗费12000元。", "被保险人身故，理赔款12000元迟迟未付。"])
def test_R_TIER_5_3_4_an_insured_hospital_stay_or_death_is_not_harm_caused_by_the_case(insurance, body):
    """3.4.4 is harm the case causes or threatens; 住院 / 身故 in a claim is the insured event."""
    result = evaluate(insurance, ticket("理赔投诉", body))
    assert one(result, "severity", "set_priority").rule_id == "R-TIER-5.3.3"


def test_R_TIER_5_3_4_group_needs_five_people(insurance):
    four = evaluate(insurance, ticket("投诉", "我们4人一起投诉理赔问题。", fields={"loss_amount": "100"}))
    five = evaluate(insurance, ticket("投诉", "我们5人一起投诉理赔问题。", fields={"loss_amount": "100"}))
    assert one(four, "severity", "set_priority").rule_id == "R-TIER-5.3.2"
    assert one(five, "severity", "set_priority").rule_id == "R-TIER-5.3.4"


def test_R_TIER_5_3_agent_value_by_alias(insurance):
    result = evaluate(insurance, ticket("投诉", "损失3万元", fields={"complaint_tier": "疑难"}))
    assert one(result, "severity", "set_priority").rule_id == "R-TIER-5.3.3"


# -- scheme service: R-TIER-6.13-general / -major ---------------------------------------------------


@pytest.mark.parametrize("body", [
    "小区绿化维护不及时，草坪都黄了。",
    "物业费发票开具太慢。",
    "电梯偶尔停运，希望物业尽快维修。",
])
def test_R_TIER_6_13_general(realestate, body):
    result = evaluate(realestate, ticket("物业投诉", body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, result.record["tier"]) == ("R-TIER-6.13-general", Priority.normal, "general")
    assert prio.reason == "一般投诉，依据：未见更高等级的事实，按默认等级"
    assert not notes(result, "severity") or all("损失" not in n[1] for n in notes(result, "severity"))


@pytest.mark.parametrize("body, evidence", [
    ("楼上漏水导致我家装修全部泡坏，造成重大损失。", "客户原话「重大损失」"),  # (一)
    ("全体业主联名投诉开发商延期交房。", "大面积纠纷，客户原话「全体业主联名投诉开发商延期交」"),  # (四)
    ("举报项目经理收受施工队好处。", "反映领导干部，客户原话「举报项目经理收受施工队好处」"),  # (五)
    ("外墙瓷砖脱落砸伤老人，现在住院。", "严重人身伤害，客户原话「现在住院」"),  # (一) 人身伤害
])
def test_R_TIER_6_13_major(realestate, body, evidence):
    result = evaluate(realestate, ticket("业主投诉", body))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, prio.reason) == ("R-TIER-6.13-major", Priority.urgent, f"重大投诉，依据：{evidence}")
    assert result.record["tier_order"] == ["general", "major"]


# -- R-SPECIAL-1.11 ------------------------------------------------------------------------------------


def test_R_SPECIAL_1_11_government_feedback_is_top_tier_and_tells_sales_and_gm(food):
    result = evaluate(food, ticket("质监局通报", "市质监局抽检通报：你们的豆干包装破损率偏高。"))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, prio.reason) == ("R-TIER-1.9.1-A", "A类（重大），依据：特殊客诉（政府部门回馈，客户原话「质监局通报」）")
    assert ("R-SPECIAL-1.11", ("销售经理", "业务员", "总经理")) in notifications(result, "severity")
    assert ("特殊客诉",) in [e.tags for e in of(result, "severity", "add_tags")]
    assert result.record["special"] is True and result.record["tier"] == "A"


def test_R_SPECIAL_1_11_consumer_association_lifts_a_C_complaint_to_A(food):
    result = evaluate(food, ticket("包装破损", "收到时包装破损，我已经打了12315投诉。"))
    assert one(result, "severity", "set_priority").rule_id == "R-TIER-1.9.1-A"
    # No general manager for a 消协 complaint ("when needed": government feedback, extortion).
    assert notifications(result, "severity") == [("R-SPECIAL-1.11", ("销售经理", "业务员"))]


def test_R_SPECIAL_1_11_extortion_is_isolated_and_flagged_for_legal():
    host = make_host("food", keep=("facts", "severity", "routing"))
    result = evaluate(host, ticket("豆腐发霉", "豆腐发霉了，不给钱就发到网上，让你们倒闭。"))
    group = one(result, "severity", "assign_group")
    assert (group.rule_id, group.group) == ("R-SPECIAL-1.11", "客诉-受限")
    tags = [e.tags for e in of(result, "severity", "add_tags")]
    assert ("法务关注",) in tags and ("特殊客诉",) in tags
    assert result.record["isolated"] is True and result.record["special"] is True
    assert ("R-SPECIAL-1.11", ("销售经理", "业务员", "总经理")) in notifications(result, "severity")
    assert not of(result, "routing", "assign_group"), "routing never moves an isolated complaint"


def test_R_SPECIAL_1_11_notifies_once(food):
    case = Case(food, ticket("消协投诉", "豆腐发霉，已投诉到消协。"))
    assert notifications(case.run(), "severity")
    assert notifications(case.run(EventKind.updated), "severity") == []


def test_R_SPECIAL_1_11_insurer_regulator_is_major(insurance):
    result = evaluate(insurance, ticket("理赔投诉", "少赔了1000元，我已经向银保监投诉。"))
    prio = one(result, "severity", "set_priority")
    assert (prio.rule_id, result.record["special"]) == ("R-TIER-5.3.4", True)


# -- validity: R-VALID-1.4.1, R-INVALID-6.14, R-FB-6.35 -------------------------------------------------


def test_R_VALID_1_4_1_target_facts_and_contact_make_it_valid(food):
    result = evaluate(food, ticket("豆腐发霉", "昨天买的豆腐发霉了。"))
    rec = [e for e in of(result, "severity", "record_complaint") if "valid" in e.values]
    assert [(e.rule_id, e.values) for e in rec] == [("R-VALID-1.4.1", {"valid": 1, "invalid_proposed": False})]
    assert result.record["valid"] == 1


def test_R_VALID_1_4_1_missing_contact_leaves_validity_open_and_asks_once(food):
    case = Case(food, ticket("豆腐发霉", "昨天买的豆腐发霉了。", email=None))
    first = case.run()
    assert "valid" not in first.record
    assert ("R-VALID-1.4.1", "有效性待定：缺少客户联系方式，请补充") in notes(first, "severity")
    assert not [n for n in notes(case.run(EventKind.updated), "severity") if n[0] == "R-VALID-1.4.1"]
    # The customer adds a phone number: now valid.
    case.ticket = ticket("豆腐发霉", "昨天买的豆腐发霉了。我的电话 13912345678", email=None)
    assert case.run(EventKind.article_added).record["valid"] == 1


def test_R_INVALID_6_14_proposed_then_confirmed_by_a_person(food):
    case = Case(food, ticket("豆腐发霉", "匿名投诉：豆腐发霉了。"))
    first = case.run()
    assert case.record.get("valid") is None and case.record["invalid_proposed"] is True
    assert ("待确认无效",) in [e.tags for e in of(first, "severity", "add_tags")]
    (rule, text), = [n for n in notes(first, "severity") if n[0] == "R-INVALID-6.14"]
    assert text.startswith("疑似无效投诉（对象或内容不明确、无法查实），仅提议，须人工确认：在字段 complaint_validity")
    # Nothing changes until a person decides.
    again = case.run(EventKind.updated)
    assert case.record.get("valid") is None and not notes(again, "severity")
    # The dispatcher confirms invalid through the field.
    case.ticket = ticket("豆腐发霉", "匿名投诉：豆腐发霉了。", fields={"complaint_validity": "无效"}, tags=["待确认无效"])
    confirmed = case.run(EventKind.updated)
    assert case.record["valid"] == 0 and case.record["invalid_proposed"] is True
    assert ("R-FB-6.35", "已确认为无效投诉：请向客户解释无效原因（工单不会自动关闭）") in notes(confirmed, "severity")
    assert ("无效投诉",) in [e.tags for e in of(confirmed, "severity", "add_tags")]
    assert one(confirmed, "severity", "remove_tags").tags == ("待确认无效",)
    assert {e.type for e in confirmed.effects} <= {"set_priority", "add_tags", "remove_tags", "record_complaint",
                                                   "set_state", "internal_note"}, "never closes the ticket"
    # The explanation line is not repeated.
    assert not [n for n in notes(case.run(EventKind.updated), "severity") if n[0] == "R-FB-6.35"]


def test_R_INVALID_6_14_person_may_decide_valid_instead(food):
    case = Case(food, ticket("豆腐发霉", "豆腐发霉了。", tags=["标记-与事实不符"]))
    case.run()
    assert case.record["invalid_proposed"] is True and "valid" not in case.record
    case.ticket = ticket("豆腐发霉", "豆腐发霉了。", tags=["标记-与事实不符", "待确认无效", "有效性-有效"])
    result = case.run(EventKind.updated)
    assert case.record["valid"] == 1
    assert ("待确认无效",) in [e.tags for e in of(result, "severity", "remove_tags")]


def test_R_INVALID_6_14_flag_after_an_automatic_valid_does_not_flip(food):
    case = Case(food, ticket("豆腐发霉", "豆腐发霉了。"))
    assert case.run().record["valid"] == 1
    case.ticket = ticket("豆腐发霉", "豆腐发霉了。", tags=["标记-unverifiable"])
    case.run(EventKind.updated)
    assert case.record["valid"] == 1 and not case.record.get("invalid_proposed")


# -- configuration ------------------------------------------------------------------------------------


def test_tiers_must_match_the_scheme():
    with pytest.raises(PluginConfigError) as err:
        make_host("food", sections={"severity": {"scheme": "loss"}})
    assert "tiers of scheme 'loss' must be exactly general, difficult, major" in str(err.value)
    with pytest.raises(PluginConfigError, match="unknown flag"):
        make_host("food", sections={"severity": {"special": {"flags": ["vip"]}}})


@pytest.mark.parametrize("profile", ["food", "insurance", "realestate", "retail", "utility"])
def test_every_profile_configures_severity(profile):
    host = make_host(profile)
    cfg = host.configs["severity"]
    assert cfg.scheme == {"food": "food", "insurance": "loss"}.get(profile, "service")
    assert cfg.special.enabled and cfg.validity.enabled


# -- through the real pipeline and store (SQLite and PostgreSQL) ------------------------------------


def test_R_INVALID_6_14_through_the_pipeline_then_R_ROUTE_1_10_group_written(engine):
    from kesu.pipeline import Pipeline
    from kesu.settings import WorkerSettings
    from kesu.store import tickets as store
    from kesu.worker import Worker
    from plugins.plan import NoteRenderer
    from tests.policies.classify_kit import NOW
    from tests.test_pipeline import MemoryConnector, enqueue

    class Recording(MemoryConnector):
        def __init__(self, tickets):
            super().__init__(tickets)
            self.writes = []

        def apply(self, ticket, writes):
            self.writes.append(writes)
            if writes.group is not None:
                self.tickets[ticket.ref.id].group = writes.group
            for tag in writes.remove_tags:
                self.tickets[ticket.ref.id].tags.remove(tag)
            return super().apply(ticket, writes)

    t = ticket("豆腐发霉", "匿名投诉：豆腐打开就发霉了，批号 20261101。", tid="1")
    conn = Recording({"1": t})
    host = make_host("food", keep=("facts", "severity", "routing", "compensation"))
    pipeline = Pipeline(engine=engine, connector=conn, host=host, renderer=NoteRenderer("zh"), clock=lambda: NOW)
    worker = Worker(pipeline, WorkerSettings(max_attempts=1), clock=lambda: NOW)
    enqueue(engine, delivery="a")
    worker.drain()
    first = conn.writes[-1]
    assert first.group == "生产班组" and first.add_tags == ["客诉-A类", "待确认无效"]
    assert "疑似无效投诉（对象或内容不明确、无法查实），仅提议，须人工确认" in first.note
    assert "分派至 生产班组：责任部门 煮浆人员、生产班组（原因 产品发酸、发霉变质、发红，客户原话「豆腐发霉」） [R-ROUTE-1.10]" in first.note
    assert "[R-COMP-1.9.2-A]" in first.note
    rec = store.get_complaint(engine, "zammad:1")
    assert (rec["tier"], rec["scheme"], rec["cause"], rec["units"], rec["valid"], rec["invalid_proposed"]) == (
        "A", "food", "mould", ["煮浆人员", "生产班组"], None, 1)
    assert rec["extra"]["batch"] == "20261101" and rec["extra"]["tier_order"] == ["C", "B", "A"]
    # The dispatcher confirms: invalid. One write; the record says invalid; nothing closes it.
    conn.tickets["1"].fields["complaint_validity"] = "无效"
    enqueue(engine, delivery="b", kind="updated")
    worker.drain()
    second = conn.writes[-1]
    assert second.add_tags == ["无效投诉"] and second.remove_tags == ["待确认无效"]
    assert "已确认为无效投诉：请向客户解释无效原因（工单不会自动关闭） [R-FB-6.35]" in second.note
    assert not conn.tickets["1"].closed
    rec = store.get_complaint(engine, "zammad:1")
    assert (rec["valid"], rec["invalid_proposed"], rec["tier"]) == (0, 1, "A")
    # Nothing new: read once, write nothing.
    writes = len(conn.writes)
    conn.calls.clear()
    enqueue(engine, delivery="c", kind="updated")
    worker.drain()
    assert conn.calls == ["GET"] and all(w.is_empty() for w in conn.writes[writes:])


def test_R_TIER_1_9_1_an_escalated_tier_shows_on_the_ticket_at_the_escalations_timer(food):
    """R-ESC-6.13 raised B -> A in the record on a timer event: severity shows the A tier (tag,
    priority) at the next timer event (the escalation's recompute timer), not at the next change."""
    case = Case(food, ticket("黑点", "豆腐表面有很多黑点。", tags=["客诉-B类"]))
    case.run()
    assert case.states["severity"]["tier"] == "B"
    assert case.run(EventKind.timer_fired).effects == [], "nothing changed: timers leave it alone"
    case.record["tier"] = "A"  # what the escalation plugin records
    shown = case.run(EventKind.timer_fired)
    prio = one(shown, "severity", "set_priority")
    assert (prio.rule_id, prio.priority, prio.reason) == ("R-TIER-1.9.1-A", Priority.urgent,
                                                        "A类（重大），依据：保持已定等级（等级不自动降低）")
    assert one(shown, "severity", "add_tags").tags == ("客诉-A类",)
    assert one(shown, "severity", "remove_tags").tags == ("客诉-B类",)
    assert case.states["severity"]["tier"] == "A"
    assert case.run(EventKind.timer_fired).effects == []
