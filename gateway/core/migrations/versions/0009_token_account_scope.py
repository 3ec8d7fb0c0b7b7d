"""API tokens may be limited to one customer account

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

A token with an account answers only for that account: routes about another account
answer 404, routes about every account 403. Existing tokens keep no account: IT's.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        table.create_foreign_key(
            "fk_api_tokens_account_id_accounts",
            "accounts",
            ["account_id"],
            ["id"],
            ondelete="CASCADE",
        )
        table.create_index("ix_api_tokens_account_id", ["account_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as table:
        table.drop_index("ix_api_tokens_account_id")
        table.drop_constraint("fk_api_tokens_account_id_accounts", type_="foreignkey")
        table.drop_column("account_id")
