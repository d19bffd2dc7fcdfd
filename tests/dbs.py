"""Throwaway billing databases for the tests, on SQLite or on a PostgreSQL server.

``BILLING_TEST_POSTGRES_URL`` names a server the tests may create databases on (``make test``
starts one with ``scripts/postgres.sh``). The billing suites (tests/billing_core, tests/vnpay)
run every case on both engines through their own fixtures and ``PostgresServer``. The assistant
suites (actions, web, live stack) take one engine per run through ``new_billing_database_url``:
SQLite unless ``BILLING_TEST_DB=postgres``.

Every database created here is dropped when the session ends (``drop_created_databases`` is
called from ``pytest_sessionfinish`` in tests/conftest.py), so a run leaves nothing behind.
"""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path
from typing import List, Optional

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import SQLAlchemyError

POSTGRES_ENV = "BILLING_TEST_POSTGRES_URL"
ENGINE_CHOICE_ENV = "BILLING_TEST_DB"
ENGINE_CHOICES = ("sqlite", "postgres")

# Shared by every PostgresServer of the process, so database names never repeat.
_database_numbers = itertools.count()


def render_url(url) -> str:
    # str(URL) hides the password on SQLAlchemy 2; keep it for connecting.
    return url.render_as_string(hide_password=False)


class PostgresServer:
    """Creates throwaway databases on the server named by ``url`` and drops them on request."""

    def __init__(self, url: str, prefix: str = "billing_t"):
        self.base = make_url(url)
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT", future=True)
        # pid + random part: two suites running at once on one server never share a database.
        self.prefix = f"{prefix}{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.created: List[str] = []

    def url_of(self, name: str) -> str:
        return render_url(self.base.set(database=name))

    def new_database(self) -> str:
        name = f"{self.prefix}_{next(_database_numbers)}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url_of(name)

    def drop_all(self) -> None:
        # Pools of billing_core hold connections to these databases; close them first, and
        # FORCE ends what a server subprocess may still hold.
        from billing_core.adapters.unit_of_work import dispose_engine

        for name in self.created:
            dispose_engine(self.url_of(name))
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()
        self.admin.dispose()


_session_server: Optional[PostgresServer] = None


def _postgres_for_this_session() -> PostgresServer:
    global _session_server
    if _session_server is None:
        url = os.environ.get(POSTGRES_ENV, "").strip()
        if not url:
            pytest.fail(
                f"{ENGINE_CHOICE_ENV}=postgres but {POSTGRES_ENV} is not set: start a server with "
                f"`export {POSTGRES_ENV}=$(scripts/postgres.sh start)` (scripts/test.sh does it)",
                pytrace=False,
            )
        _session_server = PostgresServer(url, prefix="assist_t")
    return _session_server


def chosen_engine() -> str:
    choice = os.environ.get(ENGINE_CHOICE_ENV, "").strip().lower() or "sqlite"
    if choice not in ENGINE_CHOICES:
        pytest.fail(f"{ENGINE_CHOICE_ENV}={choice!r}: expected one of {', '.join(ENGINE_CHOICES)}", pytrace=False)
    return choice


def new_billing_database_url(tmp_path: Path) -> str:
    """An empty database (no tables) for one test or fixture: a SQLite file in ``tmp_path``, or,
    when ``BILLING_TEST_DB=postgres``, a fresh database on the BILLING_TEST_POSTGRES_URL server."""
    if chosen_engine() == "sqlite":
        return f"sqlite:///{Path(tmp_path) / 'billing.db'}"
    server = _postgres_for_this_session()
    try:
        return server.new_database()
    except SQLAlchemyError as error:
        pytest.fail(f"cannot create a test database on {render_url(server.base)}: {error}", pytrace=False)


def drop_created_databases() -> None:
    """Drop every database new_billing_database_url created in this process."""
    global _session_server
    if _session_server is not None:
        server, _session_server = _session_server, None
        server.drop_all()
