"""Routing summary index: an account's active entitlements by line, from the index alone

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Sign-in groups an account's active entitlements by product line and holding system
(gateway/routing/service.py, load_route_summary). With every column it reads in the
index, PostgreSQL answers with an index-only scan, even for an account of 5,000.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_entitlements_account_routing"
COLUMNS = ["account_id", "status", "product_line_id", "end_date", "id"]


def upgrade() -> None:
    op.create_index(INDEX, "entitlements", COLUMNS)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="entitlements")
