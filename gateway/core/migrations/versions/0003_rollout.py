"""Rollout: line states pilot and rollout, percent, pilots, overrides, schedules, maintenance,
API tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Written on 0001 in parallel with the identity-provider revision 0002, and chained onto
it once 0002 landed, so there is one head.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD_STATES = "state IN ('legacy', 'new')"
NEW_STATES = "state IN ('legacy', 'pilot', 'rollout', 'new')"


def _product_lines(state_check: str) -> sa.Table:
    """product_lines as 0001 made it: SQLite's batch copy needs it spelled out, because
    SQLite does not report CHECK constraints by name."""
    return sa.Table(
        "product_lines",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(state_check, name="ck_product_lines_state"),
        sa.PrimaryKeyConstraint("id", name="pk_product_lines"),
        sa.UniqueConstraint("code", name="uq_product_lines_code"),
    )


def upgrade() -> None:
    with op.batch_alter_table("product_lines", copy_from=_product_lines(OLD_STATES)) as batch_op:
        batch_op.drop_constraint(op.f("ck_product_lines_state"), type_="check")
        batch_op.create_check_constraint("state", NEW_STATES)
        batch_op.add_column(
            sa.Column(
                "rollout_percent",
                sa.Numeric(precision=5, scale=2),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            "rollout_percent", "rollout_percent >= 0 AND rollout_percent <= 100"
        )
    with op.batch_alter_table("systems") as batch_op:
        batch_op.add_column(
            sa.Column("maintenance", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("maintenance_note", sa.Text(), server_default="", nullable=False)
        )
    _create_rollout_tables()
    _create_api_tokens()


def _create_rollout_tables() -> None:
    op.create_table(
        "pilot_accounts",
        sa.Column("product_line_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_pilot_accounts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_line_id"],
            ["product_lines.id"],
            name=op.f("fk_pilot_accounts_product_line_id_product_lines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_line_id", "account_id", name=op.f("pk_pilot_accounts")),
    )
    op.create_table(
        "account_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_line_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.CheckConstraint("system IN ('legacy', 'new')", name=op.f("ck_account_overrides_system")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_overrides_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_line_id"],
            ["product_lines.id"],
            name=op.f("fk_account_overrides_product_line_id_product_lines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_overrides")),
        sa.UniqueConstraint(
            "product_line_id", "account_id", name="uq_account_overrides_line_account"
        ),
    )
    op.create_table(
        "scheduled_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_line_id", sa.Integer(), nullable=False),
        sa.Column("target_state", sa.String(length=16), nullable=False),
        sa.Column("target_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'applied', 'cancelled', 'failed')",
            name=op.f("ck_scheduled_changes_status"),
        ),
        sa.CheckConstraint(
            "target_state IN ('legacy', 'pilot', 'rollout', 'new')",
            name=op.f("ck_scheduled_changes_target_state"),
        ),
        sa.ForeignKeyConstraint(
            ["product_line_id"],
            ["product_lines.id"],
            name=op.f("fk_scheduled_changes_product_line_id_product_lines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_changes")),
    )
    with op.batch_alter_table("scheduled_changes") as batch_op:
        batch_op.create_index("ix_scheduled_changes_status_run_at", ["status", "run_at"])


def _create_api_tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    with op.batch_alter_table("scheduled_changes") as batch_op:
        batch_op.drop_index("ix_scheduled_changes_status_run_at")
    op.drop_table("scheduled_changes")
    op.drop_table("account_overrides")
    op.drop_table("pilot_accounts")
    with op.batch_alter_table("systems") as batch_op:
        batch_op.drop_column("maintenance_note")
        batch_op.drop_column("maintenance")
    # Lines in pilot or rollout cannot be represented before this revision: back to legacy.
    op.execute("UPDATE product_lines SET state = 'legacy' WHERE state IN ('pilot', 'rollout')")
    with op.batch_alter_table("product_lines", copy_from=_with_percent()) as batch_op:
        batch_op.drop_constraint(op.f("ck_product_lines_rollout_percent"), type_="check")
        batch_op.drop_column("rollout_percent")
        batch_op.drop_constraint(op.f("ck_product_lines_state"), type_="check")
        batch_op.create_check_constraint("state", OLD_STATES)


def _with_percent() -> sa.Table:
    table = _product_lines(NEW_STATES)
    table.append_column(sa.Column("rollout_percent", sa.Numeric(5, 2), nullable=False))
    table.append_constraint(
        sa.CheckConstraint(
            "rollout_percent >= 0 AND rollout_percent <= 100",
            name="ck_product_lines_rollout_percent",
        )
    )
    return table
