"""Alembic migrations of the assistant's own tables (feedback, hand-offs, chat messages).

A migration history of its own, beside billing_core's: billing_core never knows these tables, so
they cannot live in its revisions. Both histories share one database; this one keeps its place in
``helpdesk_alembic_version`` so the two never read each other's revision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from billing_core import database_url, get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSION_TABLE = "helpdesk_alembic_version"


def alembic_config(url: Optional[str] = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # an attribute, not an option: ConfigParser would choke on '%' in passwords
    config.attributes["database_url"] = url or database_url()
    return config


def upgrade_head(url: Optional[str] = None) -> None:
    """Bring the assistant's tables to the newest revision (idempotent)."""
    command.upgrade(alembic_config(url), "head")


def current_revision(url: Optional[str] = None) -> Optional[str]:
    with get_engine(url or database_url()).connect() as connection:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head_revision() -> Optional[str]:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
