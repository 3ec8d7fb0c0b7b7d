"""Maintenance notice: what customers read while a license center is down for maintenance

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

`systems.maintenance_note` is IT's internal reason and stays in the IT console and the
audit log; `systems.customer_message` is the text the status page shows customers.
Existing notes are not copied over: they were written for IT. A plain ADD COLUMN (no
table rebuild on SQLite), so the directory-revision triggers on `systems` stay in place.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "systems", sa.Column("customer_message", sa.Text(), server_default="", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("systems", "customer_message")
