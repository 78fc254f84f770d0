"""``PeriodReport`` -> ``Document``: the statistics as the tables managers read (Chinese names)."""

from __future__ import annotations

from kesu import i18n
from kesu.report import labels, ratios
from kesu.report.document import Cell, CellKind, Chart, Column, Document, Table, cells
from kesu.report.model import Count, PeriodReport, Ratios, Trend



def _heading(key: str, context: str = "report_table") -> tuple[str, str]:
    """A heading in both languages (the report shows both), from kesu's catalogue."""
    return i18n.label(context, key, "zh"), i18n.label(context, key, "en")


COMPLAINTS_AXIS = ("投诉数（件）", "Complaints")
MONTH_AXIS = ("月份", "Month")


def _counts(key: str, title: str, title_en: str, head: str, head_en: str, counts: list[Count],
            chart_title: tuple[str, str], *, chart: str = "bar", note: str = "") -> Table:
    """Counts by label; the stored keys stay in the JSON format only (people read labels)."""
    columns = (Column(head, 24), Column("数量", 8), Column("占比", 8))
    rows = tuple(cells(c.label, c.count, c.share, kinds="tip") for c in counts)
    value = 2 if chart == "pie" else 1
    if chart == "pie":
        ch = Chart("pie", 0, (value,), *chart_title, percent=True)
    else:
        ch = Chart("bar", 0, (value,), *chart_title, head, head_en, *COMPLAINTS_AXIS)
    return Table(key, title, title_en, columns, rows, (ch,) if rows else (), note)


def _trend(t: Trend) -> tuple[Table, Table]:
    """Month by month: totals, tiers and the two rates; and causes. The charts plot these cells."""
    n_tiers = len(t.tiers)
    columns = (Column("月份", 12), Column("投诉总量", 10), *(Column(s.label, 10) for s in t.tiers),
               Column("超时率", 8), Column("回访率", 8))
    rows = tuple(
        (Cell(t.months_zh[i]), Cell(t.total[i], "int"), *(Cell(s.values[i], "int") for s in t.tiers),
         Cell(t.overdue_rate[i], "pct", gap=True), Cell(t.followup_rate[i], "pct", gap=True))
        for i in range(len(t.months)))
    overdue_col, follow_col = 2 + n_tiers, 3 + n_tiers
    charts = []
    if n_tiers:
        charts.append(Chart("stacked", 0, tuple(range(2, 2 + n_tiers)), "各等级投诉按月", "Complaints by tier and month",
                            *MONTH_AXIS, *COMPLAINTS_AXIS))
    if any(v is not None for v in t.overdue_rate):
        charts.append(Chart("line", 0, (overdue_col,), "超时率按月", "Overdue rate by month", *MONTH_AXIS,
                            "超时率", "Overdue rate", percent=True))
    if any(v is not None for v in t.followup_rate):
        charts.append(Chart("line", 0, (follow_col,), "回访率按月", "Follow-up rate by month", *MONTH_AXIS,
                            "回访率", "Follow-up rate", percent=True))
    trend = Table("trend", *_heading("trend"), columns, rows, tuple(charts),
                  "每月按该月月报的口径统计；超时率 = 超时 ÷（按时 + 超时），回访率 = 已回访 ÷ 应回访；无数据的月份为空。")
    cause_cols = (Column("月份", 12), *(Column(s.label, 10) for s in t.causes))
    cause_rows = tuple((Cell(t.months_zh[i]), *(Cell(s.values[i], "int") for s in t.causes))
                       for i in range(len(t.months)))
    cause_charts = (Chart("stacked", 0, tuple(range(1, 1 + len(t.causes))), "各原因投诉按月",
                          "Complaints by cause and month", *MONTH_AXIS, *COMPLAINTS_AXIS),) if t.causes else ()
    causes = Table("cause_trend", *_heading("cause_trend"), cause_cols, cause_rows, cause_charts,
                   "投诉最多的原因逐一列出，其余计入“其他”。" if any(s.key == "*" for s in t.causes) else "")
    return trend, causes


def _ratios(x: Ratios) -> Table:
    """R-PEN-5.6.5 with its inputs and the arithmetic, so a reader can redo it."""
    def ratio(value: float | None, base: float | None, what: str) -> tuple[Cell, Cell]:
        if value is None or base is None:
            return Cell(ratios.NOT_GIVEN), Cell(f"投诉量 ÷ ({what} ÷ 1亿)")
        return Cell(value, "dec2"), Cell(f"{x.complaints} ÷ {ratios.yi(base)} = {value:,.2f}")

    premium = ((Cell(x.premium_yuan, "yuan"), Cell(f"{ratios.yi(x.premium_yuan)} 亿元"))
               if x.premium_yuan is not None else (Cell("未提供"), Cell("")))
    policies = ((Cell(x.policies, "int"), Cell(f"{ratios.yi(x.policies)} 亿张"))
                if x.policies is not None else (Cell("未提供"), Cell("")))
    rows = (
        (Cell("投诉量（本期投诉总量）"), Cell(x.complaints, "int"), Cell("本期受理的全部投诉（含无效投诉）")),
        (Cell("保费收入（元）"), *premium),
        (Cell("保单数（张）"), *policies),
        (Cell("亿元保费投诉量"), *ratio(x.per_100m_yuan, x.premium_yuan, "保费")),
        (Cell("亿张保单投诉量"), *ratio(x.per_100m_policies, x.policies, "保单数")),
    )
    return Table("ratios", "机构考核投诉比", f"Complaint ratios ({x.rule_id})",
                 (Column("指标", 22), Column("数值", 18), Column("计算", 30)), rows, (),
                 f"{x.rule_id}（机构投诉考核，与各机构负责人工资挂钩）：{x.formula}。保费与保单数由生成报表的人提供"
                 "（kesu report --premium/--policies 或管理页面的报表表单），未提供时不作估算。")


def document(r: PeriodReport) -> Document:
    title, title_en = _heading(r.kind, "report_title")
    s = r.summary
    summary = Table("summary", *_heading("summary"), (Column("指标", 22), Column("数值", 24)), (
        cells("统计期间", r.period_zh),
        cells("起止（含起不含止）", f"{r.start[:10]} 至 {r.end[:10]}"),
        cells("时区", r.timezone),
        cells("投诉总量", s.total, kinds="ti"),
        cells("有效投诉", s.valid, kinds="ti"),
        cells("无效投诉", s.invalid, kinds="ti"),
        cells("重大投诉", s.major, kinds="ti"),
        cells("特殊投诉", s.special, kinds="ti"),
        cells("已办结", s.resolved, kinds="ti"),
        cells("投诉升级（次）", s.escalations, kinds="ti"),
        cells("超时率", s.overdue_rate, kinds="tp"),
        cells("回访率", s.followup_rate, kinds="tp"),
        cells("满意率", s.satisfaction, kinds="tp"),
        cells("已确认罚款（元）", s.penalties_confirmed, kinds="ty"),
        cells("已确认奖励（元）", s.rewards_confirmed, kinds="ty"),
    ))
    v = r.validity
    share = (lambda n: n / s.total if s.total else None)  # noqa: E731
    validity = Table("validity", *_heading("validity"), (Column("类别", 22), Column("数量", 8), Column("占比", 8)), (
        cells("有效投诉", v.valid, share(v.valid), kinds="tip"),
        cells("无效投诉", v.invalid, share(v.invalid), kinds="tip"),
        cells("待认定", v.undecided, share(v.undecided), kinds="tip"),
        cells("其中：建议无效待确认", v.invalid_proposed, share(v.invalid_proposed), kinds="tip"),
    ), (Chart("bar", 0, (1,), "有效与无效投诉", "Valid vs invalid complaints", "类别", "Kind", *COMPLAINTS_AXIS),)
        if s.total else (), "无效投诉由调度员认定（R-INVALID-6.14），不计罚则，但计入月报。")
    deadlines = Table("deadlines", *_heading("deadlines"), (
        Column("时限类型", 24), Column("规则", 20), Column("总数", 8), Column("按时", 8), Column("超时", 8),
        Column("未到期", 8), Column("按时率", 8)),
        tuple((*cells(d.label, d.rule_id, d.total, d.on_time, d.late, d.open, kinds="ttiiii"),
               Cell(d.on_time_rate, "pct", gap=True)) for d in r.deadlines),
        (Chart("bar", 0, (6,), "各时限按时率", "On-time rate by deadline", "时限类型", "Deadline", "按时率",
               "On-time rate", percent=True),) if r.deadlines else (),
        "按时：不晚于时限（已批准延期的以延期后时限为准）完成；超时：晚于时限完成，或期末（本期未结束时为生成时）仍未完成且已到期；未到期：尚未完成也尚未到期。")
    f = r.followups
    follow = Table("followups", *_heading("followups"), (Column("指标", 26), Column("数值", 10)), (
        cells("应回访（已办结的有效投诉）", f.resolved_valid, kinds="ti"),
        cells("已回访", f.followed_up, kinds="ti"),
        cells("其中按时回访", f.on_time, kinds="ti"),
        cells("无法联系", f.unreachable, kinds="ti"),
        cells("满意", f.satisfied, kinds="ti"),
        cells("不满意", f.dissatisfied, kinds="ti"),
        cells("回访率", f.rate, kinds="tp"),
        cells("满意率", f.satisfaction, kinds="tp"),
    ), (), "R-CB-6.36：有效投诉办结后 48 小时内回访，回访率目标 100%。")
    escalations = Table("escalations", *_heading("escalations"),
                        (Column("升级原因", 26), Column("规则", 14), Column("次数", 8)),
                        tuple(cells(e.label, e.rule_id, e.count, kinds="tti") for e in r.escalations),
                        (Chart("bar", 0, (2,), "各原因投诉升级次数", "Escalations by reason", "升级原因", "Reason",
                               "次数", "Escalations"),) if r.escalations else (), "按升级发生的时间统计。")
    ledger = Table("ledger", *_heading("ledger"), (
        Column("对象", 18), Column("类别", 8), Column("提议", 8), Column("待决", 8), Column("已确认", 8),
        Column("确认金额（元）", 16), Column("已驳回", 8), Column("冲正", 8)),
        tuple((Cell(x.subject), Cell(labels.Catalogue(lang=r.language).kind(x.kind)), Cell(x.proposed, "int"),
               Cell(x.open, "int"), Cell(x.confirmed, "int"), Cell(x.confirmed_amount, "yuan"),
               Cell(x.rejected, "int"), Cell(x.reversed, "int")) for x in r.ledger),
        (), "按台账记录的时间统计；确认金额已扣除本期冲正。")
    changes = Table("changes", *_heading(f"changes_{r.kind}"), (
        Column("指标", 16), Column(f"本期 {r.period}", 14), Column(f"上期 {r.previous_period}", 14),
        Column("变化", 14), Column("变化率", 10)),
        tuple((Cell(c.label), Cell(c.current, _unit(c.unit)), Cell(c.previous, _unit(c.unit)),
               Cell(c.delta, _delta(c.unit)), Cell(c.delta_pct, "signed_pct")) for c in r.changes))
    return Document(
        title=f"{title} {r.period_zh}", title_en=f"{title_en} {r.period}",
        subtitle=f"{r.start[:10]} 至 {r.end[:10]}（不含），时区 {r.timezone}；依据 R-RPT-4.27 / R-RPT-5.4.5.6 / R-RPT-6.38.7",
        tables=(
            summary,
            _counts("by_tier", *_heading("by_tier"), "等级", "Tier", r.by_tier,
                    ("各等级投诉数量", "Complaints by tier")),
            _counts("by_cause", *_heading("by_cause"), "原因", "Cause", r.by_cause,
                    ("各原因投诉数量", "Complaints by cause")),
            _counts("by_unit", *_heading("by_unit"), "责任部门", "Unit", r.by_unit,
                    ("各责任部门投诉数量", "Complaints per responsible unit"),
                    note="一件投诉涉及多个责任部门时，每个部门各计一次。"),
            _counts("by_channel", *_heading("by_channel"), "渠道", "Channel", r.by_channel,
                    ("各渠道投诉数量", "Complaints by channel")),
            validity, deadlines, follow, escalations, ledger,
            _counts("main_causes", *_heading("main_causes"), "类别", "Category",
                    r.main_causes, ("主要原因占比", "Main causes (share)"), chart="pie",
                    note="按投诉类别（无类别时按原因）统计占比。"),
            changes,
            *_trend(r.trend),
            _ratios(r.ratios),
        ),
        file_stem=f"kesu-{r.kind}-{r.period}",
        lang=r.language,
    )


def _unit(unit: str) -> CellKind:
    units: dict[str, CellKind] = {"int": "int", "pct": "pct", "yuan": "yuan"}
    return units[unit]


def _delta(unit: str) -> CellKind:
    deltas: dict[str, CellKind] = {"int": "signed_int", "pct": "pp", "yuan": "signed_yuan"}
    return deltas[unit]
