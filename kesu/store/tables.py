"""The schema (SQLAlchemy Core). Alembic migrations in ``kesu/migrations`` create it.

* ``inbox`` -- every accepted webhook / timer / poll event, until processed (at-least-once).
* ``rejected_webhooks`` -- invalid deliveries kept for inspection (raw body, redacted headers).
* ``ticket_state`` -- per ticket: each plugin's remembered values and what kesu already applied.
* ``outbox`` -- writes decided but not yet confirmed applied (crash recovery, exactly-once effect).
* ``timers`` -- scheduled deadlines that become ``timer_fired`` events.
* ``audit_log`` -- every decision, write, conflict and plugin failure, with its rule ID.
* ``ledger`` -- append-only penalties/rewards (R-PEN/R-REW); corrections are reversing rows.
* ``followups`` -- follow-up calls (回访, R-CB-6.36) and their outcomes.
* ``complaints`` -- the complaint record (客户投诉记录表) per ticket: the facts reports use.
* ``cursors`` -- catch-up poll positions.
* ``reports`` -- report files produced (R-RPT-4.27); ``run_key`` makes the automatic run once per period.
* ``bot_notifications`` -- one row per (notification, group-bot channel): posted once, retried
  until the bot takes it (kesu.notifiers).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("helpdesk", String(64), nullable=False),
    Column("ticket_id", String(64), nullable=False),
    Column("ticket_key", String(140), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("source", String(16), nullable=False),  # webhook | timer | poll | manual
    Column("delivery_id", String(128)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("available_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # pending | processing | done | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("payload", JSON, nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("helpdesk", "delivery_id", name="uq_inbox_delivery"),
)
Index("ix_inbox_status_id", inbox.c.status, inbox.c.id)  # claims walk pending events in id order
Index("ix_inbox_ticket", inbox.c.ticket_key, inbox.c.status)

rejected_webhooks = Table(
    "rejected_webhooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("helpdesk", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
)

ticket_state = Table(
    "ticket_state",
    metadata,
    Column("ticket_key", String(140), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_key", String(140), nullable=False),
    Column("event_id", Id, ForeignKey("inbox.id")),
    Column("marker", String(64), nullable=False, unique=True),
    Column("writes", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | applied | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("calls", Integer),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True)),
    # The Notify effects first decided with this write: the kesu_notify hook gets them once the
    # write is on the ticket, also when a later attempt finishes the write (kesu.pipeline).
    Column("notifications", JSON),
)
Index("ix_outbox_pending", outbox.c.ticket_key, outbox.c.status)

timers = Table(
    "timers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_key", String(140), nullable=False),
    Column("plugin", String(64), nullable=False),
    Column("key", String(128), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # scheduled | fired | cancelled
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True)),
    UniqueConstraint("ticket_key", "plugin", "key", name="uq_timer_key"),
)
Index("ix_timers_due", timers.c.status, timers.c.due_at)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ticket_key", String(140), nullable=False),
    Column("event_id", Id),
    Column("kind", String(24), nullable=False),  # decision | write | conflict | plugin_error | skip
    Column("plugin", String(64)),
    Column("rule_id", String(64)),
    Column("detail", JSON, nullable=False),
)
Index("ix_audit_ticket", audit_log.c.ticket_key, audit_log.c.id)

ledger = Table(
    "ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ticket_key", String(140), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("plugin", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # penalty | reward | admonition | score
    Column("subject", String(200), nullable=False),  # person or unit
    Column("amount", Float),
    Column("amount_min", Float),
    Column("amount_max", Float),
    Column("status", String(16), nullable=False),  # proposed | confirmed | rejected | reversal
    Column("decided_by", String(200)),
    Column("refers_to", Id, ForeignKey("ledger.id")),  # decision or reversal of an earlier row
    Column("note", Text),
    Column("dedupe_key", String(200), unique=True),  # written once ever (R-PEN-5.6.2-admon)
)
Index("ix_ledger_subject", ledger.c.subject, ledger.c.created_at)

followups = Table(
    "followups",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ticket_key", String(140), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # due | done | unreachable | overdue
    Column("outcome", String(16)),  # satisfied | dissatisfied | unreachable
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("done_at", DateTime(timezone=True)),
)
Index("ix_followups_due", followups.c.status, followups.c.due_at)

complaints = Table(
    "complaints",
    metadata,
    Column("ticket_key", String(140), primary_key=True),
    Column("number", String(64)),
    Column("title", Text),
    Column("customer", String(200)),  # helpdesk customer id
    Column("customer_name", String(200)),  # as the helpdesk showed it at kesu's last read
    Column("received_at", DateTime(timezone=True)),
    Column("scheme", String(16)),
    Column("tier", String(16)),
    Column("cause", String(64)),
    Column("category", String(64)),
    Column("channel", String(16)),
    Column("units", JSON),
    Column("valid", Integer),  # 1 valid, 0 invalid (confirmed), NULL undecided
    Column("invalid_proposed", Integer),
    Column("special", Integer),
    Column("escalations", JSON),  # [{"rule_id", "reason", "at"}]
    Column("deadlines", JSON),  # {"R-SLA-...": {"due": iso, "met_at": iso | None}}
    Column("resolved_at", DateTime(timezone=True)),
    Column("followup_outcome", String(16)),
    Column("extra", JSON),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_complaints_customer", complaints.c.customer, complaints.c.received_at)
Index("ix_complaints_received", complaints.c.received_at)
Index("ix_complaints_number", complaints.c.number)  # agents name tickets by their number

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(140), primary_key=True),
    Column("value", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # monthly | quarterly | yearly | major
    Column("period", String(140), nullable=False),  # 2026-03, 2026-Q1, 2026, or the ticket key (major)
    Column("trigger", String(16), nullable=False),  # schedule | admin | cli
    Column("run_key", String(64), unique=True),  # "monthly:2026-03" for the automatic run, else NULL
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("files", JSON, nullable=False),  # {"xlsx": "/path/kesu-monthly-2026-03.xlsx", ...}
    Column("requested_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("inputs", JSON),  # {"premium_yuan": ..., "policies": ...} given for R-PEN-5.6.5; NULL: none
)
Index("ix_reports_period", reports.c.kind, reports.c.period)

bot_notifications = Table(
    "bot_notifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # "<ticket key>|<notification key>" (plugins.plan.notification_key): one notification of one
    # ticket, however often the plan that asks for it is run again.
    Column("notification", String(200), nullable=False),
    Column("channel", String(64), nullable=False),  # [policies.notifiers.channels.<name>]
    Column("kind", String(16), nullable=False),  # wecom | dingtalk | feishu
    Column("ticket_key", String(140), nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("message", JSON, nullable=False),  # the composed message (kesu.notifiers.message.Message)
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_at", DateTime(timezone=True), nullable=False),  # pending: not before; sending: lease end
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("notification", "channel", name="uq_bot_notification"),
)
Index("ix_bot_notifications_due", bot_notifications.c.status, bot_notifications.c.next_at)
Index("ix_bot_notifications_sent", bot_notifications.c.channel, bot_notifications.c.sent_at)
