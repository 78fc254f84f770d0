"""The ``routing`` plugin: R-ROUTE-1.10, R-ROUTE-5.4, R-ROUTE-6.19, R-ROUTE-5.5.1, R-ROUTE-6.21.

Runs facts + severity + routing from the profiles, so the tier routing sees is the one severity
decided in the same event.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kesu.models import EventKind
from tests.policies.classify_kit import Case, evaluate, make_host, notes, notifications, of, one, ticket

KEEP = ("facts", "severity", "routing")

# POLICY_SPEC §3, R-ROUTE-1.10: cause -> responsible units, exactly.
TABLE = {
    "equipment_part": ["生产班组", "设施保障部"],
    "batch_symptoms": ["生产班组", "煮浆人员", "质检部"],
    "mould": ["煮浆人员", "生产班组"],
    "burnt": ["生产班组"],
    "insect_unopened": ["生产班组"],
    "batch_underweight": ["生产班组", "质检部"],
    "equipment_batch": ["生产班组", "设施保障部", "质检部"],
    "design_standard": ["设计中心"],
    "misaligned_leak": ["生产班组"],
    "seal_missing_pack": ["生产班组"],
    "black_spots": ["生产班组"],
    "machine_unsealed": ["生产班组"],
    "bag_torn": ["生产班组"],
    "date_wrong": ["生产班组"],
    "channel_rain_mould": ["营销部"],
    "channel_date_mismatch": ["营销部"],
    "channel_dealer_storage": ["营销部"],
    "channel_missing_packs": ["营销部"],
    "channel_promotion": ["营销部"],
    "channel_compensation_late": ["营销部"],
    "channel_package_damage": ["营销部"],
    "channel_broken": ["营销部"],
}
TIERS = {"equipment_part": "A", "batch_symptoms": "A", "mould": "A", "burnt": "A", "insect_unopened": "A",
         "batch_underweight": "A", "equipment_batch": "A", "design_standard": "A", "misaligned_leak": "B",
         "seal_missing_pack": "B", "black_spots": "B", "machine_unsealed": "C", "bag_torn": "C", "date_wrong": "C",
         "channel_rain_mould": "A", "channel_date_mismatch": "A", "channel_dealer_storage": "A",
         "channel_missing_packs": "B", "channel_promotion": "B", "channel_compensation_late": "B",
         "channel_package_damage": "C", "channel_broken": "C"}
# The causes' Chinese labels (篇1 §10), as the notes name them.
LABELS = {
    "equipment_part": "生产设备零件脱落造成的异物",
    "batch_symptoms": "多人食用同批号产品出现相同不良症状",
    "mould": "产品发酸、发霉变质、发红",
    "burnt": "油货严重焦糊味或油蛤味",
    "insect_unopened": "虫类或其它异物（包装未打开）",
    "batch_underweight": "批量产品重量偏轻",
    "equipment_batch": "设备原因造成的批量客诉（>20箱）",
    "design_standard": "产品设计标准不符合国家标准",
    "misaligned_leak": "包装严重错位、产品外漏",
    "seal_missing_pack": "封口不严、假封、端封开口、少包",
    "black_spots": "豆腐表面黑星较多",
    "machine_unsealed": "设备调整不良造成端封未封、封口皱褶",
    "bag_torn": "包装袋挂角造成开箱时撕破",
    "date_wrong": "打印日期有误、外膜或外箱无打印日期",
    "channel_rain_mould": "运输中被雨淋湿、霉变或异物进入",
    "channel_date_mismatch": "换纸箱造成的内外打印日期不一致",
    "channel_dealer_storage": "经销商库存环境恶劣造成成品变质、纸箱变形",
    "channel_missing_packs": "整箱缺包",
    "channel_promotion": "促销品、广宣品导致客诉",
    "channel_compensation_late": "补偿的成品未及时配送至客户",
    "channel_package_damage": "非制造原因造成的包装破损",
    "channel_broken": "产品严重破碎",
}
GROUPS = {"生产班组": "生产班组", "煮浆人员": "生产班组", "设施保障部": "设施保障部", "质检部": "质检部",
          "设计中心": "设计中心", "营销部": "营销部"}


@pytest.fixture(scope="module")
def food():
    return make_host("food", keep=KEEP)


@pytest.fixture(scope="module")
def insurance():
    return make_host("insurance", keep=KEEP)


def test_the_food_profile_is_the_spec_table(food):
    cfg = food.configs["routing"]
    assert cfg.causes == TABLE
    assert set(food.configs["facts"].causes) == set(TABLE)
    sev = food.configs["severity"].tiers
    assert {c: t for t in "ABC" for c in sev[t].causes} == TIERS


@pytest.mark.parametrize("cause", sorted(TABLE))
def test_R_ROUTE_1_10_cause_field_routes_by_the_table(food, cause):
    result = evaluate(food, ticket("客诉", "详见附件。", fields={"complaint_cause": cause}))
    units = TABLE[cause]
    group = one(result, "routing", "assign_group")
    assert (group.rule_id, group.group) == ("R-ROUTE-1.10", GROUPS[units[0]])
    assert group.reason == f"责任部门 {'、'.join(units)}（原因 {LABELS[cause]}，字段 complaint_cause）"
    assert result.record["units"] == units and result.record["cause"] == cause
    assert result.record["channel"] == ("channel" if cause.startswith("channel_") else "consumer")
    assert result.record["tier"] == TIERS[cause], "severity classified by the same cause"


def test_R_ROUTE_1_10_channel_cause_wins_over_the_symptom(food):
    # Mould (煮浆人员, 生产班组) -- but the goods were soaked by rain in transport: 营销部.
    result = evaluate(food, ticket("豆腐发霉", "豆腐发霉了，经销商说是运输途中被雨淋湿了。"))
    assert one(result, "routing", "assign_group").group == "营销部"
    assert (result.record["cause"], result.record["channel"], result.record["units"]) == (
        "channel_rain_mould", "channel", ["营销部"])


def test_R_ROUTE_1_10_several_units_first_gets_it_others_copied(food):
    result = evaluate(food, ticket("全家腹泻", "全家吃了同一批豆腐，都腹泻了。"))
    assert one(result, "routing", "assign_group").group == "生产班组"
    # 煮浆人员 shares 生产班组's group: no copy; 质检部 is copied.
    assert ("R-ROUTE-1.10", ("质检部",)) in notifications(result, "routing")
    assert not [n for n in notifications(result, "routing") if n[0] == "R-ROUTE-1.10" and "生产班组" in n[1]]


def test_R_ROUTE_1_10_unmapped_unit_leaves_the_ticket_where_it_is():
    host = make_host("food", keep=KEEP, sections={"routing": {"units": {"设计中心": {"group": ""}}}})
    result = evaluate(host, ticket("配方", "你们的豆奶配方不符合国家标准。"))
    assert not of(result, "routing", "assign_group") and not of(result, "routing", "assign_owner")
    assert ("R-ROUTE-1.10", "责任部门 设计中心 未配置服务组，工单保持原组：请手工分派") in notes(result, "routing")
    assert result.record["units"] == ["设计中心"]
    assert not [n for n in notifications(result, "routing") if n[0] == "R-ROUTE-6.21"], "no handler to tell"


def test_R_ROUTE_1_10_partly_unmapped_units_are_named():
    host = make_host("food", keep=KEEP, sections={"routing": {"units": {"设施保障部": {"group": ""}}}})
    result = evaluate(host, ticket("螺丝", "豆浆里喝到一颗螺丝。"))
    assert one(result, "routing", "assign_group").group == "生产班组"
    assert ("R-ROUTE-1.10", "责任部门 设施保障部 未配置服务组：请手工通知") in notes(result, "routing")


def test_R_ROUTE_1_10_unit_not_in_the_units_table_is_unmapped_too():
    host = make_host("food", keep=KEEP, sections={"routing": {"causes": {"burnt": ["油炸车间"]}}})
    result = evaluate(host, ticket("焦糊", "油豆腐有焦糊味。"))
    assert not of(result, "routing", "assign_group")
    assert ("R-ROUTE-1.10", "责任部门 油炸车间 未配置服务组，工单保持原组：请手工分派") in notes(result, "routing")


def test_R_ROUTE_1_10_missing_cause_asks_the_agent_once(food):
    # 包装破损 alone is a C symptom with no cause: made on the line (挂角撕破, 生产班组) or in the
    # channel (非制造原因, 营销部) -- the agent decides. (A foreign body is a cause by what it is:
    # "异物" reads as 其它异物 -> insect_unopened, policies/corpus/README.md.)
    case = Case(food, ticket("豆浆包装破损", "收到的豆浆包装破损了。"))
    first = case.run()
    assert not of(first, "routing", "assign_group")
    assert notes(first, "routing") == [
        ("R-ROUTE-1.10", "未能确定客诉原因，无法确定责任部门：请在字段 complaint_cause 填写原因（见责任归属表）")]
    assert notes(case.run(EventKind.updated), "routing") == []
    # The agent fills in the cause: routed.
    case.ticket = ticket("豆浆包装破损", "收到的豆浆包装破损了。", fields={"complaint_cause": "bag_torn"})
    routed = case.run(EventKind.updated)
    assert one(routed, "routing", "assign_group").group == "生产班组"


def test_R_ROUTE_1_10_unknown_cause_is_not_guessed(food):
    result = evaluate(food, ticket("客诉", "见附件", fields={"complaint_cause": "外星人"}))
    assert not of(result, "routing", "assign_group")
    assert notes(result, "routing") == [
        ("R-ROUTE-1.10", "原因 外星人 不在责任归属表中，工单保持原组：请核对字段 complaint_cause")]


def test_R_ROUTE_1_10_later_keywords_do_not_move_a_dispatched_ticket_but_an_agent_can(food):
    case = Case(food, ticket("豆腐黑点", "豆腐表面黑点很多。"))
    assert one(case.run(), "routing", "assign_group").group == "生产班组"
    # The customer adds that it came in a rain-soaked box: keywords alone do not re-route.
    case.ticket = ticket("豆腐黑点", "豆腐表面黑点很多。后来听说运输途中被雨淋湿过。")
    assert one(case.run(EventKind.article_added), "routing", "assign_group").group == "生产班组"
    assert case.record["units"] == ["生产班组"]
    # The agent sets the cause: re-routed.
    case.ticket = ticket("豆腐黑点", "豆腐表面黑点很多。", fields={"complaint_cause": "channel_rain_mould"})
    assert one(case.run(EventKind.updated), "routing", "assign_group").group == "营销部"
    assert case.record["units"] == ["营销部"]


# -- R-ROUTE-6.21 handler told at dispatch --------------------------------------------------------------


def test_R_ROUTE_6_21_handler_told_at_dispatch_group_or_owner(food):
    result = evaluate(food, ticket("黑点", "豆腐表面黑点很多。"))
    n = [e for e in of(result, "routing", "notify") if e.rule_id == "R-ROUTE-6.21"]
    assert [(e.recipients, e.message) for e in n] == [(("生产班组",), "新客诉已分派（责任部门 生产班组），请及时处理")]
    host = make_host("food", keep=KEEP, sections={"routing": {"units": {"生产班组": {"owner": "zhang.san@example.com"}}}})
    result = evaluate(host, ticket("黑点", "豆腐表面黑点很多。"))
    assert one(result, "routing", "assign_owner").owner == "zhang.san@example.com"
    assert ("R-ROUTE-6.21", ("zhang.san@example.com",)) in notifications(result, "routing")


def test_R_ROUTE_6_21_told_once(food):
    case = Case(food, ticket("黑点", "豆腐表面黑点很多。"))
    assert notifications(case.run(), "routing")
    assert notifications(case.run(EventKind.updated), "routing") == []


# -- R-ROUTE-6.19 and R-ROUTE-5.5.1 --------------------------------------------------------------------


def test_R_ROUTE_6_19_major_complaint_copies_the_units_leaders(food):
    result = evaluate(food, ticket("全家腹泻", "全家吃了同一批豆腐，都腹泻了。"))
    assert ("R-ROUTE-6.19", ("生产部经理", "质检部经理")) in notifications(result, "routing")
    assert result.record["leaders"][:2] == ["生产部经理", "质检部经理"]


def test_R_ROUTE_6_19_not_for_a_general_complaint(food):
    result = evaluate(food, ticket("黑点", "豆腐表面黑点很多。"))  # B
    assert not [n for n in notifications(result, "routing") if n[0] in ("R-ROUTE-6.19", "R-ROUTE-5.5.1")]
    assert "leaders" not in result.record


def test_R_ROUTE_6_19_when_escalation_raised_the_tier_later(food):
    case = Case(food, ticket("黑点", "豆腐表面黑点很多。"))
    case.run()
    case.record["tier"] = "A"  # the escalation plugin raised it
    result = case.run(EventKind.updated)
    assert ("R-ROUTE-6.19", ("生产部经理",)) in notifications(result, "routing")


def test_R_ROUTE_5_5_1_time_critical_major_media(food):
    result = evaluate(food, ticket("紧急", "十万火急！豆腐发霉，我已经联系了电视台记者。"))
    got = [n for n in notifications(result, "routing") if n[0] == "R-ROUTE-5.5.1"]
    assert got == [("R-ROUTE-5.5.1", ("分管领导",)), ("R-ROUTE-5.5.1", ("分管副总",)),
                   ("R-ROUTE-5.5.1", ("总经理室", "法务"))]
    assert result.record["leaders"] == ["生产部经理", "分管领导", "分管副总", "总经理室", "法务"]


def test_R_ROUTE_5_5_1_insurer_recipients(insurance):
    result = evaluate(insurance, ticket("理赔投诉", "理赔少赔了1000元，我已向银保监投诉。"))
    got = [n for n in notifications(result, "routing") if n[0] == "R-ROUTE-5.5.1"]
    assert got == [("R-ROUTE-5.5.1", ("分公司负责人",)), ("R-ROUTE-5.5.1", ("分公司总经理室", "法务室"))]


# -- R-ROUTE-5.4 insurer: business vs discipline --------------------------------------------------------


@pytest.mark.parametrize("title, body, unit, basis", [
    ("理赔投诉", "车险理赔已经两周没有结果。", "客户服务部", "类别 业务类投诉"),
    ("举报", "举报查勘员吃拿卡要，理赔时索要好处费。", "行政人事部", "类别 纪检监察类信访"),
    ("建议", "希望营业厅周末也开门。", "客户服务部", "默认责任部门"),
])
def test_R_ROUTE_5_4_insurer_routes_by_category(insurance, title, body, unit, basis):
    result = evaluate(insurance, ticket(title, body))
    group = one(result, "routing", "assign_group")
    assert (group.rule_id, group.group, group.reason) == ("R-ROUTE-5.4", unit, f"责任部门 {unit}（{basis}）")
    assert result.record["units"] == [unit]


@pytest.mark.parametrize("profile, group", [("retail", "营运部客服"), ("utility", "供电营业所")])
def test_R_ROUTE_5_4_default_units_of_other_profiles(profile, group):
    host = make_host(profile, keep=KEEP)
    result = evaluate(host, ticket("投诉", "希望改进服务流程。"))
    assert one(result, "routing", "assign_group").group == group


def test_R_ROUTE_1_10_utility_by_complaint_category():
    host = make_host("utility", keep=KEEP)
    result = evaluate(host, ticket("电压低", "夏天晚上电压太低，空调启动不了。"))
    assert result.record["cause"] == "voltage_quality"
    assert result.record["units"] == ["供电营业所", "运维检修部"]
    assert ("R-ROUTE-1.10", ("运维检修部",)) in notifications(result, "routing")


@pytest.mark.parametrize("profile", ["food", "insurance", "realestate", "retail", "utility"])
def test_every_profile_maps_every_unit_it_routes_to(profile):
    cfg = make_host(profile, keep=KEEP).configs["routing"]
    units = {u for us in [*cfg.causes.values(), *cfg.categories.values(), cfg.default_units] for u in us}
    assert units and units <= {u for u, spec in cfg.units.items() if spec.group}


def test_R_ROUTE_1_10_kesus_own_dispatch_is_recorded_for_the_dispatch_deadline(food):
    """kesu's write assigns the unit's group: the record says when (R-SLA-1.4.4 / R-SLA-5.5.1 read it)."""
    case = Case(food, ticket("豆腐发霉", "昨天买的豆腐发霉了。"))
    first = case.run()
    assert one(first, "routing", "assign_group").group == "生产班组"
    assert case.record["dispatched_at"] == "2026-03-02T02:00:00+00:00"
    later = case.run(EventKind.updated, now=datetime(2026, 3, 2, 5, 0, tzinfo=timezone.utc))
    assert case.record["dispatched_at"] == "2026-03-02T02:00:00+00:00", "the first dispatch counts"
    assert not [e for e in of(later, "routing", "record_complaint") if "dispatched_at" in e.values]


def test_R_ROUTE_1_10_no_dispatch_no_dispatch_time(food):
    case = Case(food, ticket("咨询", "你们门店几点开门？"))
    case.run()
    assert "dispatched_at" not in case.record
