"""reports produced (automatic runs once per period)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period", sa.String(140), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        # The automatic run of a period is claimed by inserting this key: several workers, one report.
        sa.Column("run_key", sa.String(64), unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_reports_period", "reports", ["kind", "period"])


def downgrade() -> None:
    op.drop_index("ix_reports_period", "reports")
    op.drop_table("reports")
