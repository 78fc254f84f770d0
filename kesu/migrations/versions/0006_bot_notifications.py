"""bot notifications: group-bot deliveries, and the notifications decided with each write

``bot_notifications`` keeps one row per (notification, channel) for the WeCom, DingTalk and
Feishu group bots (kesu.notifiers): unique, so a plan run again or a retry after a crash never
posts twice; pending rows are retried until the bot takes them. ``outbox.notifications`` keeps
the Notify effects first decided with a write, so the ``kesu_notify`` hook still gets them when a
later attempt finishes that write.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("notifications", sa.JSON()))
    op.create_table(
        "bot_notifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("notification", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ticket_key", sa.String(140), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("notification", "channel", name="uq_bot_notification"),
    )
    op.create_index("ix_bot_notifications_due", "bot_notifications", ["status", "next_at"])
    op.create_index("ix_bot_notifications_sent", "bot_notifications", ["channel", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_bot_notifications_sent", table_name="bot_notifications")
    op.drop_index("ix_bot_notifications_due", table_name="bot_notifications")
    op.drop_table("bot_notifications")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("notifications")
