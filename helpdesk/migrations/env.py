"""Alembic environment of the assistant's tables (see helpdesk/migrations/__init__.py)."""

from __future__ import annotations

from alembic import context

from billing_core import database_url, get_engine
from helpdesk.conversation_store import metadata
from helpdesk.migrations import VERSION_TABLE

config = context.config


def _url() -> str:
    return config.attributes.get("database_url") or database_url()


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # the database also holds billing_core's tables: compare only ours
    return type_ != "table" or name in metadata.tables


def run_migrations_online() -> None:
    with get_engine(_url()).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            include_object=_include,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if hasattr(connection, "commit"):
            connection.commit()


run_migrations_online()
