"""Alembic environment: online migrations against BILLING_DATABASE_URL (or the given URL)."""

from __future__ import annotations

from alembic import context

from billing_core.adapters import orm
from billing_core.adapters.unit_of_work import database_url, get_engine

config = context.config
target_metadata = orm.metadata


def _url() -> str:
    return config.attributes.get("database_url") or database_url()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with get_engine(_url()).connect() as connection:
        # Batch mode: SQLite cannot ALTER most things, so later migrations copy-and-move tables.
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, compare_type=True
        )
        with context.begin_transaction():
            context.run_migrations()
        if hasattr(connection, "commit"):
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
