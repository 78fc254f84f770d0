"""``PeriodReport`` -> ``Document``: the statistics as the tables managers read (Chinese names)."""

from __future__ import annotations

from kesu.report import labels
from kesu.report.document import Cell, CellKind, Chart, Column, Document, Table, cells
from kesu.report.model import Count, PeriodReport

TITLES = {"monthly": ("客诉统计月报", "Monthly complaint report"),
          "quarterly": ("客诉统计季报", "Quarterly complaint report"),
          "yearly": ("客诉统计年报", "Yearly complaint report")}
CHANGE_NAME = {"monthly": "环比", "quarterly": "环比（上季度）", "yearly": "同比（上年）"}


def _counts(key: str, title: str, title_en: str, head: str, counts: list[Count], *, with_code: bool = False,
            chart: str = "bar", note: str = "") -> Table:
    columns: tuple[Column, ...]
    if with_code:
        columns = (Column(head, 16), Column("代码", 10), Column("数量", 8), Column("占比", 8))
        rows = tuple(cells(c.label, c.key, c.count, c.share, kinds="ttip") for c in counts)
        ch = Chart(chart, 0, 3 if chart == "pie" else 2)  # type: ignore[arg-type]
    else:
        columns = (Column(head, 24), Column("数量", 8), Column("占比", 8))
        rows = tuple(cells(c.label, c.count, c.share, kinds="tip") for c in counts)
        ch = Chart(chart, 0, 2 if chart == "pie" else 1)  # type: ignore[arg-type]
    return Table(key, title, title_en, columns, rows, ch if rows else None, note)


def document(r: PeriodReport) -> Document:
    title, title_en = TITLES[r.kind]
    s = r.summary
    summary = Table("summary", "概况", "Summary", (Column("指标", 22), Column("数值", 24)), (
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
    validity = Table("validity", "有效性", "Valid vs invalid", (Column("类别", 22), Column("数量", 8), Column("占比", 8)), (
        cells("有效投诉", v.valid, share(v.valid), kinds="tip"),
        cells("无效投诉", v.invalid, share(v.invalid), kinds="tip"),
        cells("待认定", v.undecided, share(v.undecided), kinds="tip"),
        cells("其中：建议无效待确认", v.invalid_proposed, share(v.invalid_proposed), kinds="tip"),
    ), Chart("bar", 0, 1) if s.total else None, "无效投诉由调度员认定（R-INVALID-6.14），不计罚则，但计入月报。")
    deadlines = Table("deadlines", "时限达成", "On-time rate by deadline", (
        Column("时限类型", 24), Column("规则", 20), Column("总数", 8), Column("按时", 8), Column("超时", 8),
        Column("未到期", 8), Column("按时率", 8)),
        tuple(cells(d.label, d.rule_id, d.total, d.on_time, d.late, d.open, d.on_time_rate, kinds="ttiiiip")
              for d in r.deadlines),
        Chart("bar", 0, 6, percent=True) if r.deadlines else None,
        "按时：不晚于时限（已批准延期的以延期后时限为准）完成；超时：晚于时限完成，或期末（本期未结束时为生成时）仍未完成且已到期；未到期：尚未完成也尚未到期。")
    f = r.followups
    follow = Table("followups", "回访", "Follow-up calls", (Column("指标", 26), Column("数值", 10)), (
        cells("应回访（已办结的有效投诉）", f.resolved_valid, kinds="ti"),
        cells("已回访", f.followed_up, kinds="ti"),
        cells("其中按时回访", f.on_time, kinds="ti"),
        cells("无法联系", f.unreachable, kinds="ti"),
        cells("满意", f.satisfied, kinds="ti"),
        cells("不满意", f.dissatisfied, kinds="ti"),
        cells("回访率", f.rate, kinds="tp"),
        cells("满意率", f.satisfaction, kinds="tp"),
    ), None, "R-CB-6.36：有效投诉办结后 48 小时内回访，回访率目标 100%。")
    escalations = Table("escalations", "投诉升级", "Escalations by reason",
                        (Column("升级原因", 26), Column("规则", 14), Column("次数", 8)),
                        tuple(cells(e.label, e.rule_id, e.count, kinds="tti") for e in r.escalations),
                        Chart("bar", 0, 2) if r.escalations else None, "按升级发生的时间统计。")
    ledger = Table("ledger", "奖惩", "Penalties and rewards", (
        Column("对象", 18), Column("类别", 8), Column("提议", 8), Column("待决", 8), Column("已确认", 8),
        Column("确认金额（元）", 16), Column("已驳回", 8), Column("冲正", 8)),
        tuple((Cell(x.subject), Cell(labels.KINDS.get(x.kind, x.kind)), Cell(x.proposed, "int"),
               Cell(x.open, "int"), Cell(x.confirmed, "int"), Cell(x.confirmed_amount, "yuan"),
               Cell(x.rejected, "int"), Cell(x.reversed, "int")) for x in r.ledger),
        None, "按台账记录的时间统计；确认金额已扣除本期冲正。")
    change_name = CHANGE_NAME[r.kind]
    changes = Table("changes", change_name, "Change against the previous period", (
        Column("指标", 16), Column(f"本期 {r.period}", 14), Column(f"上期 {r.previous_period}", 14),
        Column("变化", 14), Column("变化率", 10)),
        tuple((Cell(c.label), Cell(c.current, _unit(c.unit)), Cell(c.previous, _unit(c.unit)),
               Cell(c.delta, _delta(c.unit)), Cell(c.delta_pct, "signed_pct")) for c in r.changes))
    return Document(
        title=f"{title} {r.period_zh}", title_en=f"{title_en} {r.period}",
        subtitle=f"{r.start[:10]} 至 {r.end[:10]}（不含），时区 {r.timezone}；依据 R-RPT-4.27 / R-RPT-5.4.5.6 / R-RPT-6.38.7",
        tables=(
            summary,
            _counts("by_tier", "按等级", "By tier", "等级", r.by_tier, with_code=True),
            _counts("by_cause", "按原因", "By cause", "原因", r.by_cause),
            _counts("by_unit", "按责任部门", "By responsible unit", "责任部门", r.by_unit,
                    note="一件投诉涉及多个责任部门时，每个部门各计一次。"),
            _counts("by_channel", "按渠道", "By channel", "渠道", r.by_channel, with_code=True),
            validity, deadlines, follow, escalations, ledger,
            _counts("main_causes", "主要原因分析", "Main causes (shares by category)", "类别", r.main_causes,
                    chart="pie", note="按投诉类别（无类别时按原因）统计占比。"),
            changes,
        ),
        file_stem=f"kesu-{r.kind}-{r.period}",
    )


def _unit(unit: str) -> CellKind:
    units: dict[str, CellKind] = {"int": "int", "pct": "pct", "yuan": "yuan"}
    return units[unit]


def _delta(unit: str) -> CellKind:
    deltas: dict[str, CellKind] = {"int": "signed_int", "pct": "pp", "yuan": "signed_yuan"}
    return deltas[unit]
