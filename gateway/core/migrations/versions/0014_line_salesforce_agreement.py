"""Product lines may require Salesforce's agreement before an account moves to new

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

One column, off for every existing line: routing is unchanged until IT turns it on.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "product_lines",
        sa.Column(
            "require_salesforce_agreement",
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("product_lines") as batch:
        batch.drop_column("require_salesforce_agreement")
