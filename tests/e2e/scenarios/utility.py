"""Profile ``utility`` -- 篇7 电力客户投诉分析与管理探讨 and 篇8 客户投诉处理办法 of power utilities: the
complaint categories (篇7 §1: 电压质量 52 %, 供电服务 14 %, 电费电价 14 %, 停复电 12 %, 电网建设 8 %),
the 供电营业所 that solves what the 客户经理 passes on (篇7 §3 (3)), zero tolerance for attitude
(篇7 §3 (4)); deadlines, escalation and follow-ups are POLICY_SPEC's defaults (篇6).

Calendar facts: National Day 2026 is off from Thu 2026-10-01 to Wed 10-07, with make-up working
Sun 09-20 and Sat 10-10 (Mid-Autumn is Fri 09-25).
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

SCENARIOS = [
    Scenario(
        id="U01-low-voltage-national-day-2026", profile="utility",
        clause="篇7 §1 (1) 夏季用电高峰期造成电压偏低，家用电器无法正常启动 -> 电压质量; 篇7 §3 (3) 传递至所在供电营业所; "
               "篇6 §18 响应5分钟、一般投诉1-3个工作日",
        rules=("R-TIER-6.13-general", "R-ROUTE-1.10", "R-SLA-6.18-resp", "R-SLA-6.18-general"),
        steps=(
            # The day before National Day 2026: day 1 is 10-08, day 3 the make-up Saturday 10-10.
            Create(at=cst(2026, 9, 30, 9, 30), title="电压偏低",
                   body="这几天晚上电压太低，灯很暗，空调启动不了。户号 0123456789。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-general', '优先级 → 普通：一般投诉，依据：未见更高等级的事实，按默认等级'),
                        ('R-ROUTE-1.10', '分派至 供电营业所：责任部门 供电营业所、运维检修部（原因 电压质量，客户原话「电压偏低」）'),
                        ('R-TIER-6.13-general', '加标签 投诉-一般'),
                        ('R-SLA-6.18-resp', '时限 R-SLA-6.18-resp：2026-09-30 09:35 CST：首次响应，自受理 2026-09-30 09:30 起 5 分钟'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general：2026-10-10 09:30 CST：一般投诉处理解决，自受理 2026-09-30 09:30 起 3 个工作日，目标 2026-10-08 09:30'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general:target：2026-10-08 09:30 CST：一般投诉处理解决目标时限（最迟 2026-10-10 09:30）'),
                        ('R-ESC-6.13', '时限 unresolved-month：2026-10-30 09:30 CST：有效投诉 1 个月未解决将升级为重大投诉'),
                        ('R-ROUTE-1.10', '通知 运维检修部：抄送：运维检修部 同为本客诉的责任部门'),
                        ('R-ROUTE-6.21', '通知 供电营业所：新客诉已分派（责任部门 供电营业所、运维检修部），请及时处理'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='供电营业所', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-6.18-general', cst(2026, 10, 10, 9, 30)),
                        timer('deadlines', 'R-SLA-6.18-general:target', cst(2026, 10, 8, 9, 30)),
                        timer('deadlines', 'R-SLA-6.18-resp', cst(2026, 9, 30, 9, 35)),
                        timer('escalation', 'unresolved-month', cst(2026, 10, 30, 9, 30), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'valid': 1, 'units': ['供电营业所', '运维检修部'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 9, 30, 9, 35)), 'overdue': False},
                                      'R-SLA-6.18-general': {'due': utc(cst(2026, 10, 10, 9, 30)), 'overdue': False}}},
                    followups=[])),
            Reply(at=cst(2026, 9, 30, 9, 33), body="您好，已通知供电所今天上门检测。", expect=Expect(
                    note=[],
                    tags={'投诉-一般'}, priority='2 normal', group='供电营业所', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-6.18-general', cst(2026, 10, 10, 9, 30)),
                        timer('deadlines', 'R-SLA-6.18-general:target', cst(2026, 10, 8, 9, 30)),
                        timer('escalation', 'unresolved-month', cst(2026, 10, 30, 9, 30), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'valid': 1, 'units': ['供电营业所', '运维检修部'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 9, 30, 9, 35)), 'overdue': False},
                                      'R-SLA-6.18-general': {'due': utc(cst(2026, 10, 10, 9, 30)), 'overdue': False}}},
                    followups=[])),
        ),
    ),
    Scenario(
        id="U02-outage-without-notice-time-critical", profile="utility",
        clause="篇7 §1 (1) 线路、设备故障检修造成的停电事件；停复电通知不到位 -> 停复电; 篇7 §3 (1) 紧急通道; "
               "R-ROUTE-5.5.1 对于时效性要求较高的投诉同时发送分管领导 (篇5 §5.1)",
        rules=("R-ROUTE-1.10", "R-ROUTE-5.5.1", "R-TIER-6.13-general"),
        steps=(
            Create(at=cst(2026, 3, 2, 7, 0), title="突然停电",
                   body="小区突然停电，事先没有停电通知，家里有病人需要用制氧机，今天之内必须恢复！", expect=Expect(
                    note=[
                        ('R-TIER-6.13-general', '优先级 → 普通：一般投诉，依据：未见更高等级的事实，按默认等级'),
                        ('R-ROUTE-1.10', '分派至 供电营业所：责任部门 供电营业所、运维检修部（原因 停复电，客户原话「突然停电」）'),
                        ('R-TIER-6.13-general', '加标签 投诉-一般'),
                        ('R-VALID-1.4.1', '有效性待定：缺少投诉对象（部门/产品），请补充'),
                        ('R-SLA-6.18-resp', '时限 R-SLA-6.18-resp：2026-03-02 07:05 CST：首次响应，自受理 2026-03-02 07:00 起 5 分钟'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general：2026-03-05 07:00 CST：一般投诉处理解决，自受理 2026-03-02 07:00 起 3 个工作日，目标 2026-03-03 07:00'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general:target：2026-03-03 07:00 CST：一般投诉处理解决目标时限（最迟 2026-03-05 07:00）'),
                        ('R-ESC-6.13', '时限 unresolved-month：2026-04-02 07:00 CST：有效投诉 1 个月未解决将升级为重大投诉'),
                        ('R-ROUTE-1.10', '通知 运维检修部：抄送：运维检修部 同为本客诉的责任部门'),
                        ('R-ROUTE-6.21', '通知 供电营业所：新客诉已分派（责任部门 供电营业所、运维检修部），请及时处理'),
                        ('R-ROUTE-5.5.1', '通知 分管副局长：时效要求高，同时发送分管领导'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='供电营业所', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-6.18-general', cst(2026, 3, 5, 7, 0)),
                        timer('deadlines', 'R-SLA-6.18-general:target', cst(2026, 3, 3, 7, 0)),
                        timer('deadlines', 'R-SLA-6.18-resp', cst(2026, 3, 2, 7, 5)),
                        timer('escalation', 'unresolved-month', cst(2026, 4, 2, 7, 0), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'units': ['供电营业所', '运维检修部'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 3, 2, 7, 5)), 'overdue': False},
                                      'R-SLA-6.18-general': {'due': utc(cst(2026, 3, 5, 7, 0)), 'overdue': False}}},
                    followups=[])),
        ),
    ),
    Scenario(
        id="U03-estimated-meter-reading", profile="utility",
        clause="篇7 §1 (2) 估抄、漏抄、错抄、电价计费差错 -> 电费电价",
        rules=("R-ROUTE-1.10", "R-TIER-6.13-general", "R-CB-6.36", "R-PEN-5.6.2"),
        steps=(
            Create(at=cst(2026, 3, 3, 10, 0), title="电费异常",
                   body="这个月电费是平时的三倍，抄表员明显是估抄。户号 0987654321。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-general', '优先级 → 普通：一般投诉，依据：未见更高等级的事实，按默认等级'),
                        ('R-ROUTE-1.10', '分派至 供电营业所：责任部门 供电营业所、营销部（原因 电费电价，客户原话「电费异常」）'),
                        ('R-TIER-6.13-general', '加标签 投诉-一般'),
                        ('R-SLA-6.18-resp', '时限 R-SLA-6.18-resp：2026-03-03 10:05 CST：首次响应，自受理 2026-03-03 10:00 起 5 分钟'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general：2026-03-06 10:00 CST：一般投诉处理解决，自受理 2026-03-03 10:00 起 3 个工作日，目标 2026-03-04 10:00'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general:target：2026-03-04 10:00 CST：一般投诉处理解决目标时限（最迟 2026-03-06 10:00）'),
                        ('R-ESC-6.13', '时限 unresolved-month：2026-04-03 10:00 CST：有效投诉 1 个月未解决将升级为重大投诉'),
                        ('R-ROUTE-1.10', '通知 营销部：抄送：营销部 同为本客诉的责任部门'),
                        ('R-ROUTE-6.21', '通知 供电营业所：新客诉已分派（责任部门 供电营业所、营销部），请及时处理'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='供电营业所', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-6.18-general', cst(2026, 3, 6, 10, 0)),
                        timer('deadlines', 'R-SLA-6.18-general:target', cst(2026, 3, 4, 10, 0)),
                        timer('deadlines', 'R-SLA-6.18-resp', cst(2026, 3, 3, 10, 5)),
                        timer('escalation', 'unresolved-month', cst(2026, 4, 3, 10, 0), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'valid': 1, 'units': ['供电营业所', '营销部'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 3, 3, 10, 5)), 'overdue': False},
                                      'R-SLA-6.18-general': {'due': utc(cst(2026, 3, 6, 10, 0)), 'overdue': False}}},
                    followups=[])),
            Reply(at=cst(2026, 3, 3, 10, 2), body="您好，已安排营销部核对抄表数据。", expect=Expect(note=[])),
            Close(at=cst(2026, 3, 4, 16, 0), expect=Expect(
                    note=[
                        ('R-SLA-6.18-general', '已过目标时限：一般投诉处理解决（目标 2026-03-04 10:00，最迟 2026-03-06 10:00）'),
                        ('R-REC-4.15', '投诉记录不完整，请补填：客户要求、受理部门处理意见'),
                        ('R-CB-6.36', '时限 callback：2026-03-06 16:00 CST'),
                        ('R-CB-6.36', '待办：回访客户：问题是否解决到位；处理时限；服务态度；对处理结果是否满意；其他意见和建议，截止 2026-03-06 16:00 CST'),
                        ('R-PEN-5.6.2', '台账记账：罚款 供电公司负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.2', '台账记账：罚款 供电营业所负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.2', '台账记账：罚款 营销部负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='供电营业所', state='pending reminder',
                    owner='agent1@example.com', pending_time=utc(cst(2026, 3, 6, 16, 0)),
                    timers=[
                        timer('followups', 'callback', cst(2026, 3, 6, 16, 0), 'R-CB-6.36')],
                    ledger=[
                        ('R-PEN-5.6.2', 'penalty', '供电公司负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.2', 'penalty', '供电营业所负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.2', 'penalty', '营销部负责人', 1000.0, None, None, 'confirmed'),
                    ],
                    record={'tier': 'general', 'valid': 1, 'units': ['供电营业所', '营销部'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 3, 3, 10, 5)), 'overdue': False},
                                      'R-SLA-6.18-general': {'due': utc(cst(2026, 3, 6, 10, 0)), 'overdue': False},
                                      'R-SLA-6.34': {'due': utc(cst(2026, 3, 4, 16, 5)), 'overdue': False}}},
                    followups=[('R-CB-6.36', 'due', utc(cst(2026, 3, 6, 16, 0)), None, 0)])),
        ),
    ),
    Scenario(
        id="U04-service-hall-attitude-zero-tolerance", profile="utility",
        clause="篇7 §1 (3) 服务态度差; §2 (2) 问责机制; §3 (4) 对服务态度引起的客户投诉坚持零容忍; 篇5 §6.3",
        rules=("R-ROUTE-1.10", "R-PEN-5.6.3", "R-PEN-5.6.2"),
        steps=(
            Create(at=cst(2026, 3, 4, 14, 0), title="营业厅态度差",
                   body="去营业厅办理业务，工作人员态度恶劣，爱答不理。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-general', '优先级 → 普通：一般投诉，依据：未见更高等级的事实，按默认等级'),
                        ('R-ROUTE-1.10', '分派至 供电营业所：责任部门 供电营业所（原因 供电服务，客户原话「营业厅态度差」）'),
                        ('R-TIER-6.13-general', '加标签 投诉-一般'),
                        ('R-SLA-6.18-resp', '时限 R-SLA-6.18-resp：2026-03-04 14:05 CST：首次响应，自受理 2026-03-04 14:00 起 5 分钟'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general：2026-03-09 14:00 CST：一般投诉处理解决，自受理 2026-03-04 14:00 起 3 个工作日，目标 2026-03-05 14:00'),
                        ('R-SLA-6.18-general', '时限 R-SLA-6.18-general:target：2026-03-05 14:00 CST：一般投诉处理解决目标时限（最迟 2026-03-09 14:00）'),
                        ('R-ESC-6.13', '时限 unresolved-month：2026-04-04 14:00 CST：有效投诉 1 个月未解决将升级为重大投诉'),
                        ('R-ROUTE-6.21', '通知 供电营业所：新客诉已分派（责任部门 供电营业所），请及时处理'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='供电营业所', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-6.18-general', cst(2026, 3, 9, 14, 0)),
                        timer('deadlines', 'R-SLA-6.18-general:target', cst(2026, 3, 5, 14, 0)),
                        timer('deadlines', 'R-SLA-6.18-resp', cst(2026, 3, 4, 14, 5)),
                        timer('escalation', 'unresolved-month', cst(2026, 4, 4, 14, 0), 'R-ESC-6.13')],
                    ledger=[],
                    record={'tier': 'general', 'valid': 1, 'units': ['供电营业所'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 3, 4, 14, 5)), 'overdue': False},
                                      'R-SLA-6.18-general': {'due': utc(cst(2026, 3, 9, 14, 0)), 'overdue': False}}},
                    followups=[])),
            Reply(at=cst(2026, 3, 4, 14, 3), body="您好，非常抱歉，我们已向营业厅核实。", expect=Expect(note=[])),
            Close(at=cst(2026, 3, 5, 11, 0), fields={"responsible_person": "营业厅 李某"}, expect=Expect(
                    note=[
                        ('R-REC-4.15', '投诉记录不完整，请补填：客户要求、受理部门处理意见'),
                        ('R-CB-6.36', '时限 callback：2026-03-07 11:00 CST'),
                        ('R-CB-6.36', '待办：回访客户：问题是否解决到位；处理时限；服务态度；对处理结果是否满意；其他意见和建议，截止 2026-03-07 11:00 CST'),
                        ('R-PEN-5.6.2', '台账记账：罚款 供电公司负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.2', '台账记账：罚款 供电营业所负责人 1000 元：有效投诉，处罚责任机构和部门负责人'),
                        ('R-PEN-5.6.3', '台账记账：罚款 营业厅 李某 1000 元：态度类/时效类有效投诉，零容忍'),
                        ('R-PEN-5.6.3', '台账提议：诫勉 营业厅 李某：视情节记过或辞退（待决定）'),
                    ],
                    tags={'投诉-一般'}, priority='2 normal', group='供电营业所', state='pending reminder',
                    owner='agent1@example.com', pending_time=utc(cst(2026, 3, 7, 11, 0)),
                    timers=[
                        timer('followups', 'callback', cst(2026, 3, 7, 11, 0), 'R-CB-6.36')],
                    ledger=[
                        ('R-PEN-5.6.2', 'penalty', '供电公司负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.2', 'penalty', '供电营业所负责人', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.3', 'penalty', '营业厅 李某', 1000.0, None, None, 'confirmed'),
                        ('R-PEN-5.6.3', 'admonition', '营业厅 李某', None, None, None, 'proposed'),
                    ],
                    record={'tier': 'general', 'valid': 1, 'units': ['供电营业所'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 3, 4, 14, 5)), 'overdue': False},
                                      'R-SLA-6.18-general': {'due': utc(cst(2026, 3, 9, 14, 0)), 'overdue': False},
                                      'R-SLA-6.34': {'due': utc(cst(2026, 3, 5, 11, 5)), 'overdue': False}}},
                    followups=[('R-CB-6.36', 'due', utc(cst(2026, 3, 7, 11, 0)), None, 0)])),
        ),
    ),
    Scenario(
        id="U05-construction-electric-shock", profile="utility",
        clause="篇7 §1 (5) 电网建设; 重大人身伤害 -> 重大 (篇6 §13 (一)); R-ROUTE-6.19",
        rules=("R-TIER-6.13-major", "R-ROUTE-1.10", "R-ROUTE-6.19", "R-ROUTE-5.5.1", "R-SLA-6.18-major"),
        steps=(
            Create(at=cst(2026, 9, 18, 16, 0), title="施工线路掉落",
                   body="你们线路改造施工，电线掉在路上没人管，邻居触电受伤住院了。", expect=Expect(
                    note=[
                        ('R-TIER-6.13-major', '优先级 → 紧急：重大投诉，依据：严重人身伤害'),
                        ('R-ROUTE-1.10', '分派至 建设部：责任部门 建设部（原因 电网建设，客户原话「施工线路掉落」）'),
                        ('R-TIER-6.13-major', '加标签 投诉-重大'),
                        ('R-SLA-6.18-resp', '时限 R-SLA-6.18-resp：2026-09-18 16:05 CST：首次响应，自受理 2026-09-18 16:00 起 5 分钟'),
                        ('R-SLA-6.18-major', '时限 R-SLA-6.18-major：2026-09-29 16:00 CST：重大投诉处理解决，自受理 2026-09-18 16:00 起 7 个工作日，目标 2026-09-22 16:00'),
                        ('R-SLA-6.18-major', '时限 R-SLA-6.18-major:target：2026-09-22 16:00 CST：重大投诉处理解决目标时限（最迟 2026-09-29 16:00）'),
                        ('R-ROUTE-6.21', '通知 建设部：新客诉已分派（责任部门 建设部），请及时处理'),
                        ('R-ROUTE-6.19', '通知 建设部主任：重大客诉，抄送责任部门负责人'),
                        ('R-ROUTE-5.5.1', '通知 局长：重大客诉，同时报送分管负责人'),
                    ],
                    tags={'投诉-重大'}, priority='3 high', group='建设部', state='new',
                    owner='-', pending_time='',
                    timers=[
                        timer('deadlines', 'R-SLA-6.18-major', cst(2026, 9, 29, 16, 0)),
                        timer('deadlines', 'R-SLA-6.18-major:target', cst(2026, 9, 22, 16, 0)),
                        timer('deadlines', 'R-SLA-6.18-resp', cst(2026, 9, 18, 16, 5))],
                    ledger=[],
                    record={'tier': 'major', 'valid': 1, 'units': ['建设部'], 'special': 0,
                        'deadlines': {'R-SLA-6.18-resp': {'due': utc(cst(2026, 9, 18, 16, 5)), 'overdue': False},
                                      'R-SLA-6.18-major': {'due': utc(cst(2026, 9, 29, 16, 0)), 'overdue': False}}},
                    followups=[])),
        ),
    ),
]
