"""Salesforce accounts keep their time zone (GATEWAY_SALESFORCE_TIME_ZONE_FIELD), the
"today" of their support eligibility

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

One nullable column; existing rows get theirs at their next change or the next full load.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("salesforce_accounts", sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("salesforce_accounts") as batch:
        batch.drop_column("time_zone")
