"""Salesforce sync: Salesforce's accounts, assets and entitlements by Salesforce Id,
the record of sync runs, and one cursor per object

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

New tables only; nothing existing changes. The first sync is a full load.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SALESFORCE_ID = sa.String(18)


def upgrade() -> None:
    op.create_table(
        "salesforce_accounts",
        sa.Column("id", SALESFORCE_ID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("account_number", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("system_modstamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_salesforce_accounts_account_id_accounts",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_salesforce_accounts"),
    )
    op.create_index(
        "ix_salesforce_accounts_account_number", "salesforce_accounts", ["account_number"]
    )

    op.create_table(
        "salesforce_assets",
        sa.Column("id", SALESFORCE_ID, nullable=False),
        sa.Column("sf_account_id", SALESFORCE_ID, nullable=True),
        sa.Column("product", sa.String(255), nullable=False),
        sa.Column("product_code", sa.String(255), nullable=False),
        sa.Column("product_line_code", sa.String(64), nullable=True),
        sa.Column("product_line_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Numeric(18, 2), nullable=True),
        sa.Column("unit_of_measure", sa.String(64), nullable=False),
        sa.Column("install_date", sa.Date(), nullable=True),
        sa.Column("usage_end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("system_modstamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_line_id"],
            ["product_lines.id"],
            name="fk_salesforce_assets_product_line_id_product_lines",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_salesforce_assets"),
    )
    op.create_index("ix_salesforce_assets_sf_account_id", "salesforce_assets", ["sf_account_id"])

    op.create_table(
        "salesforce_entitlements",
        sa.Column("id", SALESFORCE_ID, nullable=False),
        sa.Column("sf_account_id", SALESFORCE_ID, nullable=False),
        sa.Column("sf_asset_id", SALESFORCE_ID, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("system_modstamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_salesforce_entitlements"),
    )
    op.create_index(
        "ix_salesforce_entitlements_sf_account_id", "salesforce_entitlements", ["sf_account_id"]
    )
    op.create_index(
        "ix_salesforce_entitlements_sf_asset_id", "salesforce_entitlements", ["sf_asset_id"]
    )

    op.create_table(
        "salesforce_sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("rejections", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("cursor_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slot", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('full', 'incremental')", name="ck_salesforce_sync_runs_kind"),
        sa.CheckConstraint(
            "state IN ('running', 'succeeded', 'failed')", name="ck_salesforce_sync_runs_state"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_salesforce_sync_runs"),
        sa.UniqueConstraint("slot", name="uq_salesforce_sync_runs_slot"),
    )
    op.create_index("ix_salesforce_sync_runs_started_at", "salesforce_sync_runs", ["started_at"])

    op.create_table(
        "salesforce_cursors",
        sa.Column("object", sa.String(32), nullable=False),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "object IN ('Account', 'Asset', 'Entitlement')", name="ck_salesforce_cursors_object"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["salesforce_sync_runs.id"],
            name="fk_salesforce_cursors_run_id_salesforce_sync_runs",
        ),
        sa.PrimaryKeyConstraint("object", name="pk_salesforce_cursors"),
    )


def downgrade() -> None:
    op.drop_table("salesforce_cursors")
    op.drop_index("ix_salesforce_sync_runs_started_at", table_name="salesforce_sync_runs")
    op.drop_table("salesforce_sync_runs")
    op.drop_index("ix_salesforce_entitlements_sf_asset_id", table_name="salesforce_entitlements")
    op.drop_index("ix_salesforce_entitlements_sf_account_id", table_name="salesforce_entitlements")
    op.drop_table("salesforce_entitlements")
    op.drop_index("ix_salesforce_assets_sf_account_id", table_name="salesforce_assets")
    op.drop_table("salesforce_assets")
    op.drop_index("ix_salesforce_accounts_account_number", table_name="salesforce_accounts")
    op.drop_table("salesforce_accounts")
