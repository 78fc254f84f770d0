"""complaints: the customer's name and an index on the ticket number

Agents name tickets by the number their helpdesk shows (Zammad 31001, Odoo's reference) and
managers look complaints up by customer: ``number`` gets an index, and the record keeps the
customer's name as the helpdesk showed it when kesu last read the ticket.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("customer_name", sa.String(200)))
    op.create_index("ix_complaints_number", "complaints", ["number"])


def downgrade() -> None:
    op.drop_index("ix_complaints_number", table_name="complaints")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("customer_name")
