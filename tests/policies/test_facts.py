"""The ``facts`` plugin: fields, then tags, then keyword rules over the customer's own text.

Facts feed every classification rule: R-TIER-1.9.1-A/B/C, R-TIER-5.3.x, R-ROUTE-1.10 (the cause
and "a channel cause wins over the symptom"), R-VALID-1.4.1 (target, contact), R-INVALID-6.14
(the dispatcher's validity decision), R-CB-6.36 (follow-up outcome) and R-REC-4.15 (recorded).
"""

from __future__ import annotations

import pytest

from kesu.models import Article
from plugins.manager import PluginConfigError
import random
import re

from policies import profiles
from policies.facts import KeywordMatcher, chinese_number, may_match, required_chars
from tests.policies.classify_kit import evaluate, make_host, one, ticket


@pytest.fixture(scope="module")
def food():
    return make_host("food", keep=("facts",))


@pytest.fixture(scope="module")
def insurance():
    return make_host("insurance", keep=("facts",))


def facts_of(host, t):
    return host.extract_facts(t)[0]


# -- R-ROUTE-1.10 causes: field, tag, keywords; channel over symptom ---------------------------------


def test_R_ROUTE_1_10_cause_from_keywords_with_evidence(food):
    f = facts_of(food, ticket("豆腐发霉", "昨天在超市买的盒装豆腐，打开就发霉变质了。"))
    assert (f.cause, f.channel) == ("mould", "consumer")
    # The customer's own words, quoted; the Chinese label for agents; who established it.
    assert f.evidence["cause"] == "「豆腐发霉」" and f.evidence["channel"] == f.evidence["cause"]
    assert (f.origin["cause"], f.label("cause")) == ("text", "产品发酸、发霉变质、发红")


@pytest.mark.parametrize("title, body, cause", [
    ("豆浆里有螺丝", "喝豆浆时喝到一颗螺丝，应该是设备零件脱落。", "equipment_part"),
    ("全家腹泻", "我们全家吃了同一批豆腐，晚上都腹泻了。", "batch_symptoms"),
    ("油豆腐焦糊", "买的油豆腐有很重的焦糊味，没法吃。", "burnt"),
    ("豆干里有虫", "豆干包装还没开封，就看到里面有虫子。", "insect_unopened"),
    ("整箱偏轻", "这批豆干整箱都偏轻，每包都不够秤。", "batch_underweight"),
    ("设备问题", "因为设备故障，整批三十箱豆腐都有问题。", "equipment_batch"),
    ("不符合国标", "你们的豆奶配方不符合国家标准。", "design_standard"),
    ("包装错位", "包装严重错位，豆浆漏出来了。", "misaligned_leak"),
    ("封口不严", "豆腐封口不严，还少包。", "seal_missing_pack"),
    ("黑点", "豆腐表面有很多黑点。", "black_spots"),
    ("封口褶皱", "袋子封口皱褶严重，有一袋未封口。", "machine_unsealed"),
    ("袋子撕破", "开箱的时候包装袋被挂角撕破了。", "bag_torn"),
    ("日期有误", "外箱上的打印日期有误。", "date_wrong"),
    ("淋雨", "经销商说运输途中被雨淋湿了，豆腐都霉变了。", "channel_rain_mould"),
    ("日期不一致", "换纸箱以后，箱子内外日期不一致。", "channel_date_mismatch"),
    ("经销商库存", "经销商库存的地方太潮，豆干发霉，纸箱变形。", "channel_dealer_storage"),
    ("整箱缺包", "整箱缺包，少了五包。", "channel_missing_packs"),
    ("促销品", "促销品和宣传的不一样。", "channel_promotion"),
    ("补偿未送", "上次答应补偿的产品至今没送到。", "channel_compensation_late"),
    ("运输破损", "物流运输过程中包装压坏了。", "channel_package_damage"),
    ("严重破碎", "收到的豆腐严重破碎。", "channel_broken"),
])
def test_R_ROUTE_1_10_every_cause_of_the_table_has_keywords(food, title, body, cause):
    assert facts_of(food, ticket(title, body)).cause == cause


def test_R_ROUTE_1_10_channel_cause_wins_over_the_product_symptom(food):
    # Mould after the goods were soaked by rain in transport: the channel decides (营销部).
    f = facts_of(food, ticket("豆腐发霉", "豆腐发霉了，听经销商说运输途中被雨淋湿过。"))
    assert (f.cause, f.channel) == ("channel_rain_mould", "channel")
    assert "雨淋" in f.evidence["cause"]


def test_R_ROUTE_1_10_channel_keyword_without_cause_marks_a_channel_complaint(food):
    f = facts_of(food, ticket("促销", "这个月的促销活动规则看不懂。"))
    assert (f.cause, f.channel) == ("channel_promotion", "channel")
    # A channel word without a cause still makes it a channel complaint.
    g = facts_of(food, ticket("咨询", "仓储条件是什么？"))
    assert (g.cause, g.channel, g.evidence["channel"]) == (None, "channel", "「仓储条件是什么」")


def test_R_ROUTE_1_10_negated_symptom_does_not_count(food):
    f = facts_of(food, ticket("包装问题", "豆腐没有发霉，也未变质，只是包装破损。"))
    assert f.cause is None and f.channel is None


@pytest.mark.parametrize("body, cause", [
    ("喝豆浆时发现里面有异物，孩子也喝了。", "insect_unopened"),
    ("豆腐里夹着一根长头发，恶心死了。", "insect_unopened"),
    ("豆干里吃出一只小飞虫。", "insect_unopened"),
    ("腐竹里有一小片碎玻璃。", "insect_unopened"),
    ("素鸡里吃出一截钢丝球的丝。", "equipment_part"),
    ("豆腐干里有个螺丝帽。", "equipment_part"),
])
def test_R_ROUTE_1_10_a_foreign_body_named_by_what_it_is(food, body, cause):
    """A foreign body found in the product is presumed to have been in the pack (虫类或其它异物,
    包装未打开) unless the text says it got in later; metal parts are equipment parts
    (policies/corpus/README.md)."""
    assert facts_of(food, ticket("投诉", body)).cause == cause


def test_R_ROUTE_1_10_cause_field_wins_over_keywords(food):
    f = facts_of(food, ticket("豆腐发霉", "打开就发霉", fields={"complaint_cause": "channel_dealer_storage"}))
    assert f.cause == "channel_dealer_storage" and f.channel == "channel"
    assert (f.evidence["cause"], f.origin["cause"]) == ("字段 complaint_cause=channel_dealer_storage", "field")


def test_R_ROUTE_1_10_cause_field_accepts_the_label(food):
    f = facts_of(food, ticket("投诉", "见附件", fields={"complaint_cause": "豆腐表面黑星较多"}))
    assert f.cause == "black_spots"


def test_R_ROUTE_1_10_cause_tag_when_no_field(food):
    f = facts_of(food, ticket("投诉", "见附件", tags=["原因-burnt"]))
    assert (f.cause, f.evidence["cause"], f.origin["cause"]) == ("burnt", "标签 原因-burnt", "tag")


def test_R_ROUTE_1_10_channel_field_overrides_the_cause_channel(food):
    f = facts_of(food, ticket("豆腐发霉", "发霉了", fields={"complaint_channel": "通路"}))
    assert (f.cause, f.channel, f.evidence["channel"]) == ("mould", "channel", "字段 complaint_channel=通路")


# -- R-ROUTE-5.4 categories (insurer) -----------------------------------------------------------------


def test_R_ROUTE_5_4_discipline_before_business(insurance):
    f = facts_of(insurance, ticket("举报", "举报查勘员吃拿卡要，理赔时索要好处费。"))
    assert f.category == "discipline" and f.flag("discipline")
    g = facts_of(insurance, ticket("理赔慢", "车险理赔已经两周还没结果。"))
    assert (g.category, g.label("category")) == ("business", "业务类投诉") and "理赔" in g.evidence["category"]
    h = facts_of(insurance, ticket("投诉", "见附件", fields={"complaint_category": "纪检监察类信访"}))
    assert h.category == "discipline"


# -- loss amounts (R-TIER-5.3.2 / 5.3.3 / 5.3.4) ----------------------------------------------------


@pytest.mark.parametrize("body, amount", [
    ("这次事故给我造成损失 3万元。", 30000.0),
    ("要求赔偿5000元。", 5000.0),
    ("损失约三万元，必须处理。", 30000.0),
    ("索赔两万五千元。", 25000.0),
    ("直接经济损失30,000元。", 30000.0),
    ("理赔少赔了5000.01元。", 5000.01),
    ("少赔了29999.99元", 29999.99),
    ("3万元的损失谁来承担？", 30000.0),
    ("要求赔偿5000元，实际损失两万元", 20000.0),  # the largest amount next to a loss word
])
def test_R_TIER_5_3_loss_amount_next_to_a_loss_word(insurance, body, amount):
    f = facts_of(insurance, ticket("理赔投诉", body))
    assert f.loss_amount == amount


@pytest.mark.parametrize("body", [
    "花了12元买的，保费3000元已交。",  # prices are not losses
    "2026年3月2日打过电话，保单号 20261101。",
    "给了我一块毛巾当赔偿",  # "一块" is a piece, not one yuan
])
def test_R_TIER_5_3_prices_dates_and_numbers_are_not_losses(insurance, body):
    assert facts_of(insurance, ticket("投诉", body)).loss_amount is None


def test_R_TIER_5_3_loss_field_wins(insurance):
    f = facts_of(insurance, ticket("投诉", "损失3万元", fields={"loss_amount": "4,800"}))
    assert (f.loss_amount, f.evidence["loss_amount"]) == (4800.0, "字段 loss_amount=4,800")


def test_chinese_numbers():
    assert [chinese_number(s) for s in ("三万", "两万五千", "一万二", "三千五", "十五", "二十", "十万")] == \
        [30000, 25000, 12000, 3500, 15, 20, 100000]
    assert [chinese_number(s) for s in ("3万", "1.2万", "12,800", "两万三", "3万5", "一万一千五")] == \
        [30000, 12000, 12800, 23000, 35000, 11500]


# -- people, batch, contact, target ---------------------------------------------------------------------


def test_R_TIER_5_3_4_people_counted_and_many_people_flagged(insurance, food):
    assert facts_of(insurance, ticket("集体投诉", "我们6人一起投诉理赔问题。")).people == 6
    assert facts_of(insurance, ticket("投诉", "五位客户都遇到了同样的问题")).people == 5
    assert facts_of(insurance, ticket("投诉", "我一次付了5000人民币")).people is None
    f = facts_of(food, ticket("多人腹泻", "多人吃了以后拉肚子。"))
    assert f.people is None and f.flag("many_people")


def test_R_COMP_1_9_2_batch_number_from_text_or_field(food):
    assert facts_of(food, ticket("豆腐发霉", "批号 20261101，打开就发霉。")).batch == "20261101"
    assert facts_of(food, ticket("豆腐发霉", "生产批号：B2026-11A")).batch == "B2026-11A"
    f = facts_of(food, ticket("豆腐发霉", "批号 111", fields={"batch_number": "X-9"}))
    assert (f.batch, f.evidence["batch"]) == ("X-9", "字段 batch_number")
    assert facts_of(food, ticket("豆腐发霉", "打开就发霉")).batch is None


def test_R_VALID_1_4_1_contact_and_target(food):
    f = facts_of(food, ticket("豆腐发霉", "打开就发霉"))
    assert (f.has_contact, f.evidence["has_contact"], f.names_target) == (True, "客户资料中的邮箱", True)
    g = facts_of(food, ticket("发霉", "电话 13812345678", email=None))
    assert (g.has_contact, g.evidence["has_contact"]) == (True, "原文中的联系方式")
    h = facts_of(food, ticket("发霉", "打开就坏了", email=None))
    assert (h.has_contact, h.names_target) == (False, None)
    assert facts_of(food, ticket("发霉", "打开就坏了", customer=False)).has_contact is None
    i = facts_of(food, ticket("投诉", "打开就坏了", fields={"complaint_target": "质检部"}))
    assert i.names_target is True


# -- a person's decisions: validity (R-INVALID-6.14) and the follow-up outcome (R-CB-6.36) ----------


@pytest.mark.parametrize("fields, tags, outcome", [
    ({"followup_outcome": "满意"}, [], "satisfied"),
    ({}, ["回访-不满意"], "dissatisfied"),
    ({}, ["回访-未接通"], "unreachable"),
    ({"followup_outcome": "dissatisfied"}, ["回访-满意"], "dissatisfied"),  # field before tag
    ({}, ["回访-再说"], None),
])
def test_R_CB_6_36_followup_outcome_from_field_or_tag(food, fields, tags, outcome):
    assert facts_of(food, ticket("回访", "", fields=fields, tags=tags)).followup_outcome == outcome


def test_R_INVALID_6_14_validity_decision_from_field_or_tag(food):
    assert facts_of(food, ticket("x", "", fields={"complaint_validity": "无效"})).validity == "invalid"
    assert facts_of(food, ticket("x", "", tags=["有效性-有效"])).validity == "valid"
    assert facts_of(food, ticket("x", "")).validity is None


# -- flags ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, flag", [
    ("再不处理我就找记者曝光。", "media"),
    ("我已经请了律师，准备起诉。", "lawsuit"),
    ("已经打了12315投诉。", "regulator"),
    ("市质监局抽检通报了这批豆腐。", "government"),
    ("孩子吃完一直呕吐。", "injury"),
    ("老人吃完住院了。", "serious_injury"),
    ("不给钱就发到网上去。", "extortion"),
    ("客服态度恶劣，还骂人。", "attitude"),
    ("投诉一周了至今没人处理。", "timeliness"),
    ("送锦旗表扬你们的业务员。", "praise"),
    ("再次投诉，上次的问题还在。", "repeat"),
])
def test_flags_from_keywords(food, body, flag):
    f = facts_of(food, ticket("投诉", body))
    assert f.flag(flag), (flag, f.flags)
    assert f.evidence[f"flag:{flag}"].startswith("「")  # the customer's words


def test_flags_ignore_agents_replies_and_internal_notes(food):
    t = ticket("豆腐发霉", "打开就发霉", articles=[
        Article(id="2", body="非常感谢您的耐心，我们会处理。", sender="Agent", type="email"),
        Article(id="3", body="客户说要找记者曝光", internal=True, sender="Agent", type="note"),
    ])
    f = facts_of(food, t)
    assert not f.flag("praise") and not f.flag("media")


def test_flags_from_tag_and_field_by_name_or_label(food):
    f = facts_of(food, ticket("投诉", "见附件", tags=["标记-媒体曝光"],
                              fields={"complaint_flags": "lawsuit, 严重伤害"}))
    assert f.flag("media") and f.flag("lawsuit") and f.flag("serious_injury")
    assert f.evidence["flag:media"] == "标签 标记-媒体曝光"
    assert f.evidence["flag:lawsuit"] == "字段 complaint_flags"


def test_negated_injury_is_not_a_flag(food):
    f = facts_of(food, ticket("豆腐发霉", "发霉了，好在没有住院，也没腹泻。"))
    assert not f.flag("serious_injury") and not f.flag("injury")


def test_html_bodies_are_stripped(food):
    body = '<p>豆腐<b>发霉</b>了</p><a href="https://example.com/媒体曝光">图片</a>'
    t = ticket("投诉", "", articles=[Article(id="1", body=body, content_type="text/html", sender="Customer")])
    f = facts_of(food, t)
    assert f.cause == "mould" and not f.flag("media")  # markup is not text


def _hit(text, expr, negations=(), window=0, lexicon=None, hypothetical=False):
    m = KeywordMatcher([[expr]], negations, window, lexicon=lexicon, hypothetical_lists=[0] if hypothetical else [])
    a = m.analyse(text)
    return m.matches(a.facts, a.asserted, a).get(0)


def test_expression_syntax():
    assert _hit("包装未开封，里面有虫", "虫|蛆 + 未开封|没开封") == "虫+未开封"
    assert _hit("里面有虫", "虫|蛆 + 未开封") is None
    assert _hit("没有发霉", "发霉", ["没有"], 2) is None
    assert _hit("没几天就发霉", "发霉", ["没"], 2) == "发霉"  # a pseudo-negation negates nothing
    # "~": in one sentence; "@class": every word of a lexicon class
    lex = {"title": ["经理", "店长"], "bad": ["骂", "推"]}
    assert _hit("店长当众骂我。", "@title ~ @bad", lexicon=lex) == "店长~骂"
    assert _hit("叫你们经理来。店员骂我。", "@title ~ @bad", lexicon=lex) is None
    assert _hit("叫你们经理来。店员骂我。", "@title + @bad", lexicon=lex) == "经理+骂"
    # "re:" words are regular expressions
    assert _hit("现在都二十天了", "re:[一二两三四五六七八九十]+天了") == "re:[一二两三四五六七八九十]+天了"


@pytest.mark.parametrize("text, found", [
    ("孩子吃了以后吐了", True),
    ("孩子没有吐", False),                 # negated in its clause
    ("没过两天孩子就吐了", True),          # "没过" negates nothing
    ("吐倒是没有", False),                 # a negation after the word, closing the clause
    ("万一孩子吃了吐了怎么办", False),      # hypothetical
    ("我不想说孩子吐了的事", False),         # an intent negation covers its clause
    ("孩子没吃，我吐了", True),            # the negation's clause ends at the comma
])
def test_negation_and_hypothetical_scope(text, found):
    from policies.lexicon import DEFAULT_CLAUSE_NEGATIONS, DEFAULT_HYPOTHETICALS, DEFAULT_POST_NEGATIONS, DEFAULT_PSEUDO_NEGATIONS
    from policies.text import ScopeCues

    cues = ScopeCues(("没有", "没", "未"), 2, DEFAULT_PSEUDO_NEGATIONS, DEFAULT_POST_NEGATIONS, 3, DEFAULT_HYPOTHETICALS,
                     DEFAULT_CLAUSE_NEGATIONS)
    assert (_hit(text, "吐", cues) is not None) is found


@pytest.mark.parametrize("title, body, cause", [
    ("配料表字太小", "配料表那几行字小得跟蚂蚁似的，根本看不清。", None),   # an image, not an ant
    ("豆腐里有蚂蚁", "打开盒子，豆腐上爬着一只蚂蚁。", "insect_unopened"),
    ("豆干里有硬东西", "咬到一个像石子一样的东西，硌得牙疼。", "insect_unopened"),  # "像…一样的东西" is a thing
])
def test_a_simile_names_no_foreign_body(food, title, body, cause):
    """policies.text figurative scope: a ``literal`` class's word inside "跟…似的" does not count."""
    f = facts_of(food, ticket(title, body))
    assert f.cause == cause


@pytest.mark.parametrize("body, injured", [
    ("豆腐皮发霉了，扔垃圾桶里，家里的狗翻出来吃了两口，下午吐了一地，带它去看了兽医。", False),
    ("快递把箱子扔进院子，我家金毛被砸到，后腿骨折了。", False),
    ("豆腐发霉了，我家孩子吃了两口，下午吐了一地。", True),
    ("物业的狗没拴绳，扑上来把我孩子咬了，缝了三针。", True),       # a person word ends the animal's scope
    ("门口被一只没拴绳的大金毛扑上来咬了小腿，流了血。", True),       # "被…金毛": the animal did it
    ("听说楼下邻居吃了你们的豆腐上吐下泻。我这盒还没吃，发霉了。", False),  # hearsay is no fact of this customer
])
def test_harm_told_of_an_animal_or_by_hearsay_is_no_injury(food, body, injured):
    f = facts_of(food, ticket("投诉", body))
    assert f.flag("injury") is injured


@pytest.mark.parametrize("body, lawsuit", [
    ("店长抢我手机，说“不许拍，拍了我们要告你侵权”，还推了我一下。", False),   # staff's words, quoted
    ("你们业务员打电话来说，“你再不删我们就告你，让法院传你”。", False),
    ("我跟她说：“再不给说法我就去法院起诉你们。”", True),                     # the customer's own threat
    ("豆腐发霉了，再不处理我就去法院起诉你们。", True),
])
def test_threats_quoted_from_others_are_not_the_customers(food, body, lawsuit):
    """own_words rules: words inside others' quoted speech do not count (policies.text)."""
    f = facts_of(food, ticket("投诉", body))
    assert f.flag("lawsuit") is lawsuit


@pytest.mark.parametrize("body, regulator", [
    ("店员说“有本事你去工商告啊”，旁边的人都在看笑话。", False),
    ("我儿子说可以去消协投诉，我觉得没必要，给换一件就行。", False),     # a pattern starting inside its cue
    ("再不给换我就去消协投诉。", True),
])
def test_others_suggestions_are_no_regulator_threat(food, body, regulator):
    assert facts_of(food, ticket("投诉", body)).flag("regulator") is regulator


@pytest.mark.parametrize("body, cause", [
    ("这个月电费突然从一百多涨到四百多，去营业厅问，柜员甩脸子让我自己看。", "billing"),   # the matter is the bill
    ("去营业厅办事，柜员一直甩脸子，爱答不理。", "service_conduct"),                      # rudeness alone
])
def test_secondary_cause_expressions_give_way_to_the_matter(body, cause):
    """CauseRule.secondary (utility service_conduct: @rude) counts only when no other cause matches."""
    host = make_host("utility", keep=("facts",))
    f = facts_of(host, ticket("投诉", body))
    assert f.cause == cause and f.flag("attitude")


def test_a_word_holding_a_post_negation_cue_is_not_negated_by_it():
    """"连句对不起都没有" holds the post-negation "都没有"; "受伤倒是没有" is still negated."""
    from policies.lexicon import DEFAULT_CLAUSE_NEGATIONS, DEFAULT_HYPOTHETICALS, DEFAULT_PSEUDO_NEGATIONS
    from policies.text import ScopeCues

    cues = ScopeCues(("没有", "没"), 2, DEFAULT_PSEUDO_NEGATIONS, ("都没有", "倒是没有"), 3, DEFAULT_HYPOTHETICALS,
                     DEFAULT_CLAUSE_NEGATIONS)
    assert _hit("他把材料往桌上一摔，连句对不起都没有。", "连句对不起都没", cues) is not None
    assert _hit("孩子吃了，受伤倒是没有。", "受伤", cues) is None


def test_threats_count_when_conditional_harm_does_not(food):
    f = facts_of(food, ticket("投诉", "豆腐发霉了。要是孩子吃了住院怎么办？再不处理我就发抖音。"))
    assert f.flag("media") and not f.flag("injury") and not f.flag("serious_injury")


@pytest.mark.parametrize("body, amount", [
    ("修车花了两万三，你们只认八千。", 23000.0),
    ("损失1.2万元。", 12000.0),
    ("医药费12,800元。", 12800.0),
    ("赔我六千块。", 6000.0),
    ("医药费三百二，打车八十，一共四百。", 400.0),  # the stated total
    ("4S店报价一万四千二，你们少赔了我八千。", 8000.0),  # the shortfall over the quote
    ("買的豆腐壞了，損失３千元。", 3000.0),  # traditional characters, full-width digits
])
def test_loss_amounts_in_every_numeral_form(insurance, body, amount):
    assert facts_of(insurance, ticket("投诉", body)).loss_amount == amount


@pytest.mark.parametrize("body", ["保费3600一年，续保涨到4200了。", "车价15万，保额50万。", "两万多的损失。"])
def test_premiums_prices_and_inexact_sums_are_no_loss(insurance, body):
    assert facts_of(insurance, ticket("投诉", body)).loss_amount is None


def test_required_chars_only_skip_texts_that_cannot_match():
    patterns = [r"(?P<n>\d{1,4}|[一二两三]{1,3})\s*(?:个|位)?\s*(?:人(?![民身])|顾客|消费者)", r"批[号次]\s*(\w+)",
                r"[\w.+-]+@[\w-]+", r"(?i)abc", r"a*", r"(?=a)b|c", r"1[3-9]\d{9}"]
    assert required_chars(re.compile(patterns[0])) == frozenset("人顾消")
    assert required_chars(re.compile(patterns[3])) is None and required_chars(re.compile(patterns[4])) is None
    rnd = random.Random(3)
    alphabet = "人顾客消费者批号次一二三个位民身@a.bcABC1395 "
    for _ in range(3000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        for pattern in map(re.compile, patterns):
            if not may_match(required_chars(pattern), text):
                assert pattern.search(text) is None, (pattern.pattern, text)


# -- R-REC-4.15: facts recorded for reports --------------------------------------------------------------


def test_R_REC_4_15_facts_are_recorded(food):
    host = make_host("food", keep=("facts",))
    result = evaluate(host, ticket("豆腐发霉", "批号 20261101，我们3人吃了都腹泻，医药费损失5000元。"))
    rec = one(result, "facts", "record_complaint")
    assert rec.rule_id == "R-REC-4.15"
    assert rec.values == {"batch": "20261101", "loss_amount": 5000.0, "people": 3}
    # Nothing new: nothing recorded again.
    again = evaluate(host, ticket("豆腐发霉", "批号 20261101，我们3人吃了都腹泻，医药费损失5000元。"),
                     record=dict(result.record))
    assert [e for e in again.effects if e.source == "facts"] == []


# -- configuration ------------------------------------------------------------------------------------


def test_unknown_flag_and_bad_regex_are_config_errors():
    with pytest.raises(PluginConfigError) as err:
        make_host("food", keep=("facts",), sections={"facts": {"flags": {"vip": {"label": "贵宾", "keywords": []}}}})
    assert "[policies.facts]" in str(err.value) and "unknown flag(s) vip" in str(err.value)
    with pytest.raises(PluginConfigError, match="invalid regular expression"):
        make_host("food", keep=("facts",), sections={"facts": {"batch_patterns": ["批号(("]}})


def test_R_SPECIAL_1_11_a_hotline_number_inside_a_phone_number_is_not_a_regulator(food):
    """12345 (government hotline) is a regulator keyword; the digits inside 13812345678 are not."""
    f = facts_of(food, ticket("油豆腐焦糊", "油豆腐有焦糊味，我的电话 13812345678。"))
    assert not f.flag("regulator"), f.evidence
    f = facts_of(food, ticket("油豆腐焦糊", "油豆腐有焦糊味，我已经打了12345投诉。"))
    assert f.flag("regulator") and "12345" in f.evidence["flag:regulator"]


def test_R_ROUTE_1_10_an_exceeded_limit_is_not_taken_for_a_design_fault(food):
    """§10.1.1.1 h) is about the product's design standard; a spot check's 菌落总数超标 names no cause."""
    assert facts_of(food, ticket("抽检通报", "抽检的豆干菌落总数超标。")).cause is None
    assert facts_of(food, ticket("配料", "豆奶的蛋白质含量不符合国家标准。")).cause == "design_standard"


@pytest.mark.parametrize("body", ["3号楼电梯又停了，没人管。", "开发商延期交房三个月。", "交房两年房产证还没办。"])
def test_R_VALID_1_4_1_real_estate_complaints_name_their_target(body):
    """篇6 / R-VALID-1.4.1: the elevator, the developer, the title deed name who is complained about."""
    realestate = make_host("realestate", keep=("facts",))
    assert facts_of(realestate, ticket("投诉", body)).names_target is True


def test_R_INVALID_6_14_staff_who_cannot_explain_do_not_make_a_complaint_unverifiable(insurance):
    """篇6 §14 (一) is about the complainant's unclear target or content, not "客服也说不清楚"."""
    f = facts_of(insurance, ticket("续保保费", "续保保费无故上涨，客服也说不清楚。"))
    assert not f.flag("unverifiable")
    assert facts_of(insurance, ticket("投诉", "匿名投诉：理赔太慢。")).flag("unverifiable")


def test_an_admin_adds_words_to_a_class_in_kesu_toml():
    """docs/facts.md: ``[policies.facts.lexicon.<class>] add = [...]`` extends a class without
    copying it -- the profile's words still count, the site's word now counts too."""
    body = "豆腐里有只小咬在爬。"
    assert facts_of(make_host("food", keep=("facts",)), ticket("投诉", body)).cause is None
    site = make_host("food", keep=("facts",),
                     sections={"facts": {"lexicon": {"food_insect": {"add": ["小咬"]}}}})
    assert facts_of(site, ticket("投诉", body)).cause == "insect_unopened"
    assert facts_of(site, ticket("投诉", "豆腐里有只苍蝇。")).cause == "insect_unopened"


def test_a_pattern_in_an_expression_or_an_unknown_class_is_a_config_error():
    with pytest.raises(PluginConfigError, match="belongs in a lexicon class"):
        make_host("food", keep=("facts",), sections={"facts": {"channel_keywords": ["re:运.+"]}})
    with pytest.raises(PluginConfigError, match="unknown lexicon class @nope"):
        make_host("food", keep=("facts",), sections={"facts": {"channel_keywords": ["@nope"]}})
