"""complaint records; append-only ledger with dedupe key

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The ledger is append-only (POLICY_SPEC §6): corrections are new rows. The database refuses
# UPDATE and DELETE itself, so no code path -- ours or an admin's SQL -- can rewrite history.
SQLITE_GUARDS = [
    "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger "
    "BEGIN SELECT RAISE(ABORT, 'ledger is append-only: add a reversing entry instead'); END",
    "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger "
    "BEGIN SELECT RAISE(ABORT, 'ledger is append-only: add a reversing entry instead'); END",
]
PG_GUARDS = [
    "CREATE FUNCTION kesu_ledger_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'ledger is append-only: add a reversing entry instead'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER ledger_no_update BEFORE UPDATE OR DELETE ON ledger "
    "FOR EACH ROW EXECUTE FUNCTION kesu_ledger_append_only()",
    "CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger "
    "FOR EACH STATEMENT EXECUTE FUNCTION kesu_ledger_append_only()",
]


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("ticket_key", sa.String(140), primary_key=True),
        sa.Column("number", sa.String(64)),
        sa.Column("title", sa.Text()),
        sa.Column("customer", sa.String(200)),
        sa.Column("received_at", sa.DateTime(timezone=True)),
        sa.Column("scheme", sa.String(16)),
        sa.Column("tier", sa.String(16)),
        sa.Column("cause", sa.String(64)),
        sa.Column("category", sa.String(64)),
        sa.Column("channel", sa.String(16)),
        sa.Column("units", sa.JSON()),
        sa.Column("valid", sa.Integer()),
        sa.Column("invalid_proposed", sa.Integer()),
        sa.Column("special", sa.Integer()),
        sa.Column("escalations", sa.JSON()),
        sa.Column("deadlines", sa.JSON()),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("followup_outcome", sa.String(16)),
        sa.Column("extra", sa.JSON()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_complaints_customer", "complaints", ["customer", "received_at"])
    op.create_index("ix_complaints_received", "complaints", ["received_at"])
    with op.batch_alter_table("ledger") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(200)))
        batch.create_unique_constraint("uq_ledger_dedupe_key", ["dedupe_key"])
    guards = SQLITE_GUARDS if op.get_bind().dialect.name == "sqlite" else PG_GUARDS
    for stmt in guards:
        op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_no_update ON ledger")
        op.execute("DROP TRIGGER IF EXISTS ledger_no_truncate ON ledger")
        op.execute("DROP FUNCTION IF EXISTS kesu_ledger_append_only()")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_constraint("uq_ledger_dedupe_key", type_="unique")
        batch.drop_column("dedupe_key")
    op.drop_index("ix_complaints_received", "complaints")
    op.drop_index("ix_complaints_customer", "complaints")
    op.drop_table("complaints")
