"""Scheduled changes remember whether IT confirmed sending accounts back to legacy

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A scheduled change is judged again when it runs, on the line as it is then: one that
would send accounts from new back to legacy is applied only if IT confirmed that when
scheduling it. Existing schedules count as unconfirmed, the safe reading.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "scheduled_changes",
        sa.Column(
            "confirmed_back_to_legacy", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("scheduled_changes", "confirmed_back_to_legacy")
