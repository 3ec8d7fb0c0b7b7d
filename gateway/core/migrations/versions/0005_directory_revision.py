"""Directory revision: a counter every write to routing's directory data moves

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Routing caches each account's entitlement summary in Redis under the directory
revision it read (gateway/routing/service.py). Triggers keep the counter honest for
every writer, not only the ones that remember to announce a change: per statement on
PostgreSQL (an import of 500,000 rows bumps it once per statement), per row on SQLite,
which has no statement triggers. An upsert, so a deleted row comes back by itself.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("entitlements", "entitlement_holdings", "product_lines", "systems")
BUMP = (
    "INSERT INTO directory_revision (id, revision) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET revision = directory_revision.revision + 1"
)


def upgrade() -> None:
    op.create_table(
        "directory_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_revision")),
    )
    op.execute("INSERT INTO directory_revision (id, revision) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_directory_revision() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_directory_revision "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_revision()"
            )
    else:
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_directory_revision_{event.lower()} "
                    f"AFTER {event} ON {table} BEGIN {BUMP}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_directory_revision ON {table}")
        op.execute("DROP FUNCTION bump_directory_revision()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_directory_revision_{event}")
    op.drop_table("directory_revision")
