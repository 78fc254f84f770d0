"""Profile ``retail`` -- 篇4 客户投诉处理管理办法 of a retail chain: what a complaint asks for (§2 减价、退货、
换货、损害赔偿), the store decides whether it stands (§7), 营运部客服 handles it with 行政人事部 checking
(§25), the record card and investigation report (§15, §17), the case closed within 7 days (§26),
monthly statistics (§27, kesu.report).

Calendar fact: §26 counts 7 *days* -- calendar days, holidays included (Spring Festival 2026 is off
from 02-15 to 02-23; National Day 2025 from 10-01 to 10-08).
"""

from __future__ import annotations

from tests.e2e.scenario_kit import (
    AGENT,
    Close,
    Create,
    Customer,
    Expect,
    Reply,
    Scenario,
    Update,
    Wait,
    cst,
    plus,
    timer,
    utc,
)

REPORT = {"customer_request": "退货退款", "unit_opinion": "同意退货", "report_cause": "临期商品未及时下架",
          "report_course": "顾客购买后发现已过期", "report_responsible": "理货员张某", "report_conclusion": "门店责任",
          "report_countermeasures": "退款并赠送代金券", "report_prevention": "每日检查临期商品"}

SCENARIOS = [
    Scenario(
        id="T01-return-request-seven-days", profile="retail",
        clause="篇4 §2 客户提出退货; §25 以营运部客服为主，行政人事部负责检查、监督、落实与协调; "
               "§26 至接到投诉7天结案; §15 记录卡; §17 调查报告",
        rules=("R-TIER-6.13-general", "R-ROUTE-5.4", "R-SLA-4.26", "R-REC-4.15", "R-CB-6.36"),
        steps=(
            # Received the Friday before the Spring Festival: 7 calendar days end during the holiday.
            Create(at=cst(2026, 2, 13, 10, 0), title="要求退货",
                   body="在门店买的牛奶已经过期了，要求退货退款。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-general', '优先级 → 普通：一般投诉，依据：未见更高等级的事实，按默认等级'),
                        ('R-ROUTE-5.4', '分派至 营运部客服：责任部门 营运部客服、行政人事部（默认责任部门）'),
                        ('R-TIER-6.13-general', '加标签 投诉-一般'),
                        ('R-SLA-4.26', '时限 R-SLA-4.26：2026-02-20 10:00 CST：结案，自受理 2026-02-13 10:00 起 7 天'),
                        ('R-ESC-6.13', '时限 unresolved-month：2026-03-13 10:00 CST：有效投诉 1 个月未解决将升级为重大投诉'),
                        ('R-ROUTE-5.4', '通知 行政人事部：抄送：行政人事部 同为本客诉的责任部门'),
                        ('R-ROUTE-6.21', '通知 营运部客服：新客诉已分派（责任部门 营运部客服、行政人事部），请及时处理'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='营运部客服', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-4.26', cst(2026, 2, 20, 10, 0)),
                        timer('escalation', 'unresolved-month', cst(2026, 3, 13, 10, 0), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'valid': 1, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2026, 2, 20, 10, 0)), 'overdue': False}}},
                    followups=[])),
            Close(at=cst(2026, 2, 19, 15, 0), expect=Expect(
                    note=[
                        ('R-REC-4.15', '投诉记录不完整，请补填：客户要求、受理部门处理意见'),
                        ('R-REC-4.15', '调查报告不完整，请补填：发生原因、具体经过、具体责任者、结论、对策、防范措施'),
                        ('R-CB-6.36', '时限 callback：2026-02-21 15:00 CST'),
                        ('R-CB-6.36', '待办：回访客户：问题是否解决到位；处理时限；服务态度；对处理结果是否满意；其他意见和建议，截止 2026-02-21 15:00 CST'),
                        ('R-PEN-5.6.2', '台账记账：罚款 公司负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.2', '台账记账：罚款 营运部客服负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.2', '台账记账：罚款 行政人事部负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='营运部客服', state='pending reminder',
                    owner='agent1@example.com', pending_time=utc(cst(2026, 2, 21, 15, 0)),
                    timers=[
                        timer('followups', 'callback', cst(2026, 2, 21, 15, 0), 'R-CB-6.36')],
                    ledger=[
                        ('R-PEN-5.6.2', 'penalty', '公司负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.2', 'penalty', '营运部客服负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.2', 'penalty', '行政人事部负责人', 1000.0, None, None, 'confirmed'),
                    ],
                    record={'tier': 'general', 'valid': 1, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2026, 2, 20, 10, 0)), 'overdue': False},
                                      'R-SLA-6.34': {'due': utc(cst(2026, 2, 19, 15, 5)), 'overdue': False}}},
                    followups=[('R-CB-6.36', 'due', utc(cst(2026, 2, 21, 15, 0)), None, 0)])),
        ),
    ),
    Scenario(
        id="T02-not-closed-within-seven-days", profile="retail",
        clause="篇4 §26 至接到投诉7天结案; 篇6 §13 (三) 规定时限内没有处理完成的一般投诉 -> 重大, §31, §40",
        rules=("R-SLA-4.26", "R-ESC-6.13", "R-ESC-6.31", "R-PEN-6.40"),
        steps=(
            Create(at=cst(2025, 9, 29, 9, 0), title="会员卡积分",
                   body="会员卡积分被清零了，门店说要查，一直没结果。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-general', '优先级 → 普通：一般投诉，依据：未见更高等级的事实，按默认等级'),
                        ('R-ROUTE-5.4', '分派至 营运部客服：责任部门 营运部客服、行政人事部（默认责任部门）'),
                        ('R-TIER-6.13-general', '加标签 投诉-一般'),
                        ('R-SLA-4.26', '时限 R-SLA-4.26：2025-10-06 09:00 CST：结案，自受理 2025-09-29 09:00 起 7 天'),
                        ('R-ESC-6.13', '时限 unresolved-month：2025-10-29 09:00 CST：有效投诉 1 个月未解决将升级为重大投诉'),
                        ('R-ROUTE-5.4', '通知 行政人事部：抄送：行政人事部 同为本客诉的责任部门'),
                        ('R-ROUTE-6.21', '通知 营运部客服：新客诉已分派（责任部门 营运部客服、行政人事部），请及时处理'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='营运部客服', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-4.26', cst(2025, 10, 6, 9, 0)),
                        timer('escalation', 'unresolved-month', cst(2025, 10, 29, 9, 0), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'valid': 1, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2025, 10, 6, 9, 0)), 'overdue': False}}},
                    followups=[])),
            Update(at=cst(2025, 9, 29, 9, 30), fields={"owner": AGENT}, expect=Expect(
                    note=[],
                    tags={'投诉-一般'}, priority='2 normal', group='营运部客服', state='new',
                    owner='agent1@example.com', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-4.26', cst(2025, 10, 6, 9, 0)),
                        timer('escalation', 'unresolved-month', cst(2025, 10, 29, 9, 0), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'valid': 1, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2025, 10, 6, 9, 0)), 'overdue': False}}},
                    followups=[])),
            # 7 days later is National Day week: calendar days run on.
            Wait(at=cst(2025, 10, 6, 9, 0), expect=Expect(
                    note=[
                        ('R-ESC-6.13', '优先级 → 紧急：已升级'),
                        ('R-SLA-4.26', '加标签 已超时：时限已过'),
                        ('R-ESC-6.13', '加标签 已升级'),
                        ('R-SLA-4.26', '已超时：结案，时限 2025-10-06 09:00；请向客户解释并在工单中记录客户是否谅解'),
                        ('R-ESC-6.13', '投诉升级：一般投诉超过处理时限（R-SLA-4.26），升级为重大投诉；等级 一般投诉 → 重大投诉'),
                        ('R-ESC-6.31', '投诉升级：超过处理时限（R-SLA-4.26）且未向客户解释；等级已是最高（重大投诉）'),
                        ('R-ESC-6.13', '时限 recompute-deadlines：2025-10-06 09:00 CST：按升级后的等级重算时限'),
                        ('R-ROUTE-5.5.1', '通知 营运部负责人：投诉已升级（一般投诉超过处理时限（R-SLA-4.26），升级为重大投诉；超过处理时限（R-SLA-4.26）且未向客户解释）：投诉升级后重新通知'),
                        ('R-PEN-6.40', '台账提议：罚款 agent1@example.com 1000–5000 元：个人原因致投诉停滞并升级（R-ESC-6.13）'),
                        ('R-PEN-6.40', '台账提议：罚款 营运部客服 1000–5000 元：个人原因致投诉停滞并升级（R-ESC-6.13）'),
                        ('R-PEN-6.40', '台账提议：罚款 行政人事部 1000–5000 元：个人原因致投诉停滞并升级（R-ESC-6.13）'),
                        ('R-TIER-6.13-major', '加标签 投诉-重大'),
                        ('R-TIER-6.13-major', '去标签 投诉-一般'),
                    ],
                    tags={'已升级', '已超时', '投诉-重大'}, priority='3 high', group='营运部客服', state='new',
                    owner='agent1@example.com', pending_time='',
                    timers=[],
                    ledger=[
                        ('R-PEN-6.40', 'penalty', 'agent1@example.com', None, 1000.0, 5000.0, 'proposed'),
                        ('R-PEN-6.40', 'penalty', '营运部客服', None, 1000.0, 5000.0, 'proposed'),
                        ('R-PEN-6.40', 'penalty', '行政人事部', None, 1000.0, 5000.0, 'proposed'),
                    ],
                    record={'tier': 'major', 'valid': 1, 'units': ['营运部客服', '行政人事部'], 'special': 0, 'escalations': [('R-ESC-6.13', 'general', 'major'), ('R-ESC-6.31', 'major', 'major')],
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2025, 10, 6, 9, 0)), 'overdue': True}}},
                    followups=[])),
        ),
    ),
    Scenario(
        id="T03-customers-own-fault-explained", profile="retail",
        clause="篇4 §7 确认其投诉理由是否成立，呈报上级主管裁定；如属客户原因，应迅速答复客户，婉转讲明理由，请客户谅解; "
               "篇5 §6.4 无效投诉纳入当月考核",
        rules=("R-INVALID-6.14", "R-FB-6.35", "R-PEN-5.6.4", "R-VALID-1.4.1"),
        steps=(
            Create(at=cst(2026, 3, 2, 11, 0), title="要求换货",
                   body="买的电饭煲用了两个月，内胆被我自己摔坏了，要求免费换货。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-general', '优先级 → 普通：一般投诉，依据：未见更高等级的事实，按默认等级'),
                        ('R-ROUTE-5.4', '分派至 营运部客服：责任部门 营运部客服、行政人事部（默认责任部门）'),
                        ('R-TIER-6.13-general', '加标签 投诉-一般'),
                        ('R-VALID-1.4.1', '有效性待定：缺少投诉对象（部门/产品），请补充'),
                        ('R-SLA-4.26', '时限 R-SLA-4.26：2026-03-09 11:00 CST：结案，自受理 2026-03-02 11:00 起 7 天'),
                        ('R-ESC-6.13', '时限 unresolved-month：2026-04-02 11:00 CST：有效投诉 1 个月未解决将升级为重大投诉'),
                        ('R-ROUTE-5.4', '通知 行政人事部：抄送：行政人事部 同为本客诉的责任部门'),
                        ('R-ROUTE-6.21', '通知 营运部客服：新客诉已分派（责任部门 营运部客服、行政人事部），请及时处理'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='营运部客服', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-4.26', cst(2026, 3, 9, 11, 0)),
                        timer('escalation', 'unresolved-month', cst(2026, 4, 2, 11, 0), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2026, 3, 9, 11, 0)), 'overdue': False}}},
                    followups=[])),
            Update(at=cst(2026, 3, 2, 14, 0), fields={"complaint_validity": "无效"}, expect=Expect(
                    note=[
                        ('R-INVALID-6.14', '加标签 无效投诉：呼叫中心确认无效'),
                        ('R-FB-6.35', '已确认为无效投诉：请向客户解释无效原因（工单不会自动关闭）'),
                    ],
                    tags={'投诉-一般', '无效投诉'}, priority='2 normal', group='营运部客服', state='new',
                    owner='-', pending_time='',
                    timers=[],
                    ledger=[],
                    record={'tier': 'general', 'valid': 0, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2026, 3, 9, 11, 0)), 'overdue': False}}},
                    followups=[])),
            Close(at=cst(2026, 3, 2, 15, 0), expect=Expect(
                    note=[
                        ('R-REC-4.15', '投诉记录不完整，请补填：客户要求、受理部门处理意见'),
                        ('R-REC-4.15', '调查报告不完整，请补填：发生原因、具体经过、具体责任者、结论、对策、防范措施'),
                        ('R-PEN-5.6.4', '台账提议：考核扣分 agent1@example.com：无效投诉，纳入当月考核扣分'),
                    ],
                    tags={'投诉-一般', '无效投诉'}, priority='2 normal', group='营运部客服', state='closed',
                    owner='agent1@example.com', pending_time='',
                    timers=[],
                    ledger=[
                        ('R-PEN-5.6.4', 'score', 'agent1@example.com', None, None, None, 'proposed'),
                    ],
                    record={'tier': 'general', 'valid': 0, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2026, 3, 9, 11, 0)), 'overdue': False},
                                      'R-SLA-6.34': {'due': utc(cst(2026, 3, 2, 15, 5)), 'overdue': False}}},
                    followups=[])),
        ),
    ),
    Scenario(
        id="T04-food-poisoning-at-the-store", profile="retail",
        clause="篇4 §2 客户提出损害赔偿; POLICY_SPEC R-TIER-6.13-major (篇6 §13 (一) 人身伤害) -> 重大; "
               "§12 呈报总经理",
        rules=("R-TIER-6.13-major", "R-ROUTE-5.4", "R-ROUTE-6.19", "R-ROUTE-5.5.1"),
        steps=(
            Create(at=cst(2026, 3, 3, 20, 0), title="熟食中毒",
                   body="在你们超市买的熟食，全家吃了食物中毒，要求赔偿医药费。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-major', '优先级 → 紧急：重大投诉，依据：严重人身伤害'),
                        ('R-ROUTE-5.4', '分派至 营运部客服：责任部门 营运部客服、行政人事部（默认责任部门）'),
                        ('R-TIER-6.13-major', '加标签 投诉-重大'),
                        ('R-SLA-4.26', '时限 R-SLA-4.26：2026-03-10 20:00 CST：结案，自受理 2026-03-03 20:00 起 7 天'),
                        ('R-ROUTE-5.4', '通知 行政人事部：抄送：行政人事部 同为本客诉的责任部门'),
                        ('R-ROUTE-6.21', '通知 营运部客服：新客诉已分派（责任部门 营运部客服、行政人事部），请及时处理'),
                        ('R-ROUTE-6.19', '通知 营运部经理、行政人事部经理：重大客诉，抄送责任部门负责人'),
                        ('R-ROUTE-5.5.1', '通知 总经理：重大客诉，同时报送分管负责人'),
                    ],
                    tags={'投诉-重大'}, priority='3 high', group='营运部客服', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-4.26', cst(2026, 3, 10, 20, 0))],
                    ledger=[],
                    record={'tier': 'major', 'valid': 1, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2026, 3, 10, 20, 0)), 'overdue': False}}},
                    followups=[])),
        ),
    ),
    Scenario(
        id="T05-record-and-report-complete", profile="retail",
        clause="篇4 §15 记录卡写明客户名称、要求、受理时间和编号、受理部门处理意见; §17 调查报告内容包括发生原因、"
               "具体经过、具体责任者、结论、对策和防范措施",
        rules=("R-REC-4.15", "R-CB-6.36", "R-PEN-5.6.2"),
        steps=(
            Create(at=cst(2026, 3, 4, 10, 0), title="买到过期面包", body="在门店买到过期面包，要求退款。"),
            Close(at=cst(2026, 3, 5, 10, 0), fields=REPORT, expect=Expect(
                    note=[
                        ('R-CB-6.36', '时限 callback：2026-03-07 10:00 CST'),
                        ('R-CB-6.36', '待办：回访客户：问题是否解决到位；处理时限；服务态度；对处理结果是否满意；其他意见和建议，截止 2026-03-07 10:00 CST'),
                        ('R-PEN-5.6.2', '台账记账：罚款 公司负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.2', '台账记账：罚款 营运部客服负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.2', '台账记账：罚款 行政人事部负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='营运部客服', state='pending reminder',
                    owner='agent1@example.com', pending_time=utc(cst(2026, 3, 7, 10, 0)),
                    timers=[
                        timer('followups', 'callback', cst(2026, 3, 7, 10, 0), 'R-CB-6.36')],
                    ledger=[
                        ('R-PEN-5.6.2', 'penalty', '公司负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.2', 'penalty', '营运部客服负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.2', 'penalty', '行政人事部负责人', 1000.0, None, None, 'confirmed'),
                    ],
                    record={'tier': 'general', 'valid': 1, 'units': ['营运部客服', '行政人事部'], 'special': 0,
                        'deadlines': {'R-SLA-4.26': {'due': utc(cst(2026, 3, 11, 10, 0)), 'overdue': False},
                                      'R-SLA-6.34': {'due': utc(cst(2026, 3, 5, 10, 5)), 'overdue': False}}},
                    followups=[('R-CB-6.36', 'due', utc(cst(2026, 3, 7, 10, 0)), None, 0)])),
        ),
    ),
]
