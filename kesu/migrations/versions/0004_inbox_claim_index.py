"""inbox: claim index on (status, id)

A claim takes the oldest ready pending event. With (status, available_at) the database had to
collect and sort every waiting event (6-10 ms per claim at 3,000 waiting, bench/diagnose.py);
with (status, id) it walks pending events in id order and stops at the first ready one.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_inbox_ready", table_name="inbox")
    op.create_index("ix_inbox_status_id", "inbox", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_status_id", table_name="inbox")
    op.create_index("ix_inbox_ready", "inbox", ["status", "available_at"])
