"""The admin page's words: Chinese first, English with ``?lang=en``."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "title": ("kesu 客诉管理", "kesu complaint admin"),
    "login": ("登录", "Sign in"),
    "login_hint": ("请输入管理令牌（kesu.toml 中 [admin.tokens.<名称>] 的 token；可用 `kesu admin token 名称` 生成）。",
                   "Enter an admin token ([admin.tokens.<name>] in kesu.toml; `kesu admin token NAME` makes one)."),
    "token": ("管理令牌", "Admin token"),
    "bad_token": ("令牌无效。", "That token is not valid."),
    "logout": ("退出", "Sign out"),
    "signed_in": ("当前用户", "Signed in as"),
    "read_only": ("只读令牌：只能查看，不能操作。", "Read-only token: you can look but not act."),
    "overview": ("概览", "Overview"),
    "open_proposals": ("待确认奖惩", "Proposals to decide"),
    "pending_ext": ("待批延期", "Extensions to approve"),
    "fu_due": ("待回访", "Follow-ups due"),
    "fu_overdue": ("回访已超期", "Follow-ups overdue"),
    "dead": ("死信", "Dead letters"),
    "queue": ("待处理事件", "Events waiting"),
    "ledger": ("奖惩台账", "Penalties and rewards"),
    "ledger_hint": ("范围类提议须填写范围内的金额后确认；确认、驳回、冲正都会记名并追加到台账（台账只增不改）。",
                    "A range needs an amount inside it; every decision is signed and appended (the ledger is append-only)."),
    "recent": ("最近的决定", "Recent decisions"),
    "id": ("编号", "ID"), "ticket": ("工单", "Ticket"), "rule": ("规则", "Rule"), "subject": ("对象", "Subject"),
    "kind": ("类别", "Kind"), "amount": ("金额（元）", "Amount (yuan)"), "range": ("范围", "Range"),
    "created": ("提出时间", "Proposed"), "actions": ("操作", "Actions"), "status": ("状态", "Status"),
    "decided_by": ("决定人", "Decided by"), "refers_to": ("关联", "Refers to"), "note": ("备注", "Note"),
    "confirm": ("确认", "Confirm"), "reject": ("驳回", "Reject"), "reverse": ("冲正", "Reverse"),
    "reason": ("原因", "Reason"), "none": ("（无）", "(none)"),
    "extensions": ("时限延期审批", "Deadline extensions"),
    "ext_hint": ("延期须经分管副总裁批准（R-EXT-6.18）。批准后写入工单字段并重新执行规则；驳回会记入审计日志并在工单上留内部备注。",
                 "Extensions need the vice-president's approval (R-EXT-6.18). Approving writes the ticket fields and "
                 "re-runs the policies; rejecting is audited and noted on the ticket."),
    "deadline": ("时限", "Deadline"), "requested": ("申请延至", "Requested"), "current_due": ("原时限", "Due"),
    "noted": ("登记时间", "Noted"), "approved_by": ("批准人", "Approved by"), "extended_to": ("延至", "Extend to"),
    "approve": ("批准", "Approve"), "register_ext": ("登记一项已批准的延期", "Record an approved extension"),
    "followups": ("回访", "Follow-up calls"),
    "fu_hint": ("有效投诉办结后 48 小时内回访（R-CB-6.36）。", "Valid complaints get a follow-up within 48 h (R-CB-6.36)."),
    "resolved": ("办结时间", "Resolved"), "due_at": ("应回访时间", "Due"), "attempts": ("尝试次数", "Attempts"),
    "outcome": ("结果", "Outcome"),
    "inbox": ("收件箱", "Inbox"), "retry": ("重试", "Retry"), "retry_all": ("全部重试", "Retry all"),
    "event": ("事件", "Event"), "error": ("最后错误", "Last error"),
    "plugins": ("插件", "Plugins"),
    "plugins_hint": ("启用/停用写入 kesu.toml，重启 kesu 后生效。", "Enabling/disabling edits kesu.toml; it applies when kesu restarts."),
    "name": ("名称", "Name"), "version": ("版本", "Version"), "hooks": ("钩子", "Hooks"), "running": ("运行中", "Running"),
    "configured": ("配置", "Configured"), "enable": ("启用", "Enable"), "disable": ("停用", "Disable"),
    "essential": ("必需", "essential"), "yes": ("是", "yes"), "no": ("否", "no"),
    "on": ("启用", "enabled"), "off": ("停用", "disabled"),
    "reports": ("报表", "Reports"),
    "reports_hint": ("每月上旬自动生成上月报表（R-RPT-4.27）；也可随时生成。重大投诉专项报告请在期间处填写工单号。",
                     "Last month's report is produced early each month (R-RPT-4.27); produce any report here. "
                     "For a major complaint's special report, give the ticket as the period."),
    "generate": ("生成", "Produce"), "period": ("期间", "Period"), "trigger": ("触发", "Trigger"),
    "made": ("生成时间", "Made"), "download": ("下载", "Download"), "formats": ("格式", "Formats"),
    "monthly": ("月报", "monthly"), "quarterly": ("季报", "quarterly"), "yearly": ("年报", "yearly"),
    "major": ("重大投诉专项", "major complaint"),
    "proposed": ("待确认", "proposed"), "confirmed": ("已确认", "confirmed"), "rejected": ("已驳回", "rejected"),
    "reversal": ("冲正", "reversal"), "penalty": ("罚款", "penalty"), "reward": ("奖励", "reward"),
    "admonition": ("诫勉", "admonition"), "score": ("扣分", "score"),
    "done_ok": ("已完成", "Done"), "csrf": ("表单已过期，请重试。", "The form expired; try again."),
    "lang": ("English", "中文"),
}


def word(key: str, lang: str) -> str:
    zh, en = WORDS.get(key, (key, key))
    return en if lang == "en" else zh
