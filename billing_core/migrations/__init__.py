"""Alembic migrations shipped inside the package, so ``init-db`` works from any directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from billing_core.adapters.unit_of_work import database_url, get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: Optional[str] = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: ConfigParser would choke on '%' in passwords.
    config.attributes["database_url"] = url or database_url()
    return config


def upgrade_head(url: Optional[str] = None) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    command.upgrade(alembic_config(url), "head")


def current_revision(url: Optional[str] = None) -> Optional[str]:
    with get_engine(url or alembic_config().attributes["database_url"]).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> Optional[str]:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
