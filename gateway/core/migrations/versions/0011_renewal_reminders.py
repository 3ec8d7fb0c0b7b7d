"""Renewal reminders: the thresholds done per entitlement and end date, and each user's
choice whether to receive them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Every existing user receives reminders (when they are an active org admin) until they
turn them off.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(
            sa.Column("renewal_reminders", sa.Boolean(), nullable=False, server_default=sa.true())
        )

    op.create_table(
        "renewal_reminders",
        sa.Column("entitlement_id", sa.Integer(), nullable=False),
        sa.Column("threshold_days", sa.Integer(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('sent', 'superseded', 'no_recipients')",
            name=op.f("ck_renewal_reminders_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name=op.f("fk_renewal_reminders_entitlement_id_entitlements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_renewal_reminders_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "entitlement_id", "threshold_days", "end_date", name=op.f("pk_renewal_reminders")
        ),
    )
    op.create_index("ix_renewal_reminders_account_id", "renewal_reminders", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_renewal_reminders_account_id", table_name="renewal_reminders")
    op.drop_table("renewal_reminders")
    with op.batch_alter_table("users") as table:
        table.drop_column("renewal_reminders")
