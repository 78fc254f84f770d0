"""reports: the inputs a run was made with (R-PEN-5.6.5 premium and policy count)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # {"premium_yuan": 1250000000.0, "policies": 380000}; NULL: none given (automatic runs).
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("inputs", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("inputs")
