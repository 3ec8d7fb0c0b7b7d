"""Alembic environment: runs migrations against the URL the gateway configured.

Alembic executes this file inside its environment context. Imported anywhere else (a
tool, the test that imports every module alone) it defines its functions and runs
nothing."""

from alembic import context
from sqlalchemy import create_engine, pool

from gateway.core.models import Base


def run_migrations_offline(url: str) -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or ""
    if context.is_offline_mode():
        run_migrations_offline(url)
    else:
        run_migrations_online(url)


# Alembic's context has its `config` only while Alembic runs this file.
if hasattr(context, "config"):
    run_migrations()
