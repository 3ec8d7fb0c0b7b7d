"""Machine clients' account allow-lists

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

A machine client (client_credentials) could read every account through the machine
API. A client registered with `--account` is restricted to the accounts listed in
oauth_client_accounts; existing clients stay unrestricted until re-registered. A
listed account that is deleted takes its row with it, and the client then reads one
account fewer (never more).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.add_column(
            sa.Column(
                "accounts_restricted", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "oauth_client_accounts",
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_client_accounts_client_pk_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_oauth_client_accounts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_pk", "account_id", name=op.f("pk_oauth_client_accounts")),
    )


def downgrade() -> None:
    op.drop_table("oauth_client_accounts")
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("accounts_restricted")
