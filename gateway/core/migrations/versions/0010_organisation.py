"""Org admins: users keyed by issuer and subject, how each was added, SCIM ids,
invitations, outbound mail, expiring tokens, and audit entries per account

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Existing users keep their subject with an empty issuer; sign-in links them to the
configured IdP's issuer the next time they sign in. Existing audit entries belong to
no account and were made through IT's console or CLI (`via` empty).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("issuer", sa.String(1024), nullable=False, server_default=""))
        table.add_column(
            sa.Column("added_via", sa.String(16), nullable=False, server_default="sign-in")
        )
        table.add_column(sa.Column("external_id", sa.String(255), nullable=True))
        table.drop_constraint("uq_users_subject", type_="unique")
        table.create_unique_constraint("uq_users_issuer_subject", ["issuer", "subject"])
        table.create_unique_constraint(
            "uq_users_account_external_id", ["account_id", "external_id"]
        )
        table.create_check_constraint(
            "added_via", "added_via IN ('import', 'invitation', 'scim', 'sign-in')"
        )

    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("permissions", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_user_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_invitations_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["accepted_user_id"],
            ["users.id"],
            name="fk_invitations_accepted_user_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_account_id", "invitations", ["account_id", "created_at"])

    op.create_table(
        "outbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_mail"),
    )
    op.create_index(
        "ix_outbound_mail_due", "outbound_mail", ["sent_at", "failed_at", "next_attempt_at"]
    )

    with op.batch_alter_table("api_tokens") as table:
        table.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("audit_events") as table:
        table.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("via", sa.String(16), nullable=False, server_default=""))
        table.create_index("ix_audit_events_account_at", ["account_id", "at"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as table:
        table.drop_index("ix_audit_events_account_at")
        table.drop_column("via")
        table.drop_column("account_id")
    with op.batch_alter_table("api_tokens") as table:
        table.drop_column("expires_at")
    op.drop_index("ix_outbound_mail_due", table_name="outbound_mail")
    op.drop_table("outbound_mail")
    op.drop_index("ix_invitations_account_id", table_name="invitations")
    op.drop_table("invitations")
    with op.batch_alter_table("users") as table:
        table.drop_constraint("added_via", type_="check")
        table.drop_constraint("uq_users_account_external_id", type_="unique")
        table.drop_constraint("uq_users_issuer_subject", type_="unique")
        table.create_unique_constraint("uq_users_subject", ["subject"])
        table.drop_column("external_id")
        table.drop_column("added_via")
        table.drop_column("issuer")
