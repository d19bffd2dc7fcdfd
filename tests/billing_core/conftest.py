"""Fixtures for billing_core: a clean database per test on SQLite and (when available) PostgreSQL.

``database_url`` is parametrised over ``sqlite`` (a file in the test's tmp dir) and ``postgresql``.
PostgreSQL runs when ``BILLING_TEST_POSTGRES_URL`` is set (``make test`` starts a throwaway server
with ``scripts/postgres.sh`` and sets it); otherwise those cases are skipped, saying why. Each
process gets its own PostgreSQL database (created from that URL and dropped at the end), so two
suites running at once never share tables; each test starts from empty tables.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from billing_core.adapters import orm  # noqa: E402
from billing_core.adapters.unit_of_work import (  # noqa: E402
    FakeUnitOfWork,
    SqlAlchemyUnitOfWork,
    create_schema,
    dispose_engine,
    get_engine,
)
from tests.dbs import POSTGRES_ENV, PostgresServer  # noqa: E402

NO_POSTGRES = (
    f"{POSTGRES_ENV} is not set: PostgreSQL cases skipped "
    "(`make test` starts one; or export {0}=$(scripts/postgres.sh start))".format(POSTGRES_ENV)
)
FIXED_NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        yield None
        return
    server = PostgresServer(url)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def shared_postgres_url(postgres_server):
    """One schema-ready database for the whole session (tests truncate, not recreate)."""
    if postgres_server is None:
        return None
    url = postgres_server.new_database()
    create_schema(url)
    return url


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(table.name for table in orm.metadata.sorted_tables)
    with get_engine(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, postgres_server):
    """A database URL with the full schema and no rows."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'billing.db'}"
        create_schema(url)
        yield url
        dispose_engine(url)
        return
    if postgres_server is None:
        pytest.skip(NO_POSTGRES)
    url = request.getfixturevalue("shared_postgres_url")
    _truncate_postgres(url)
    yield url


@pytest.fixture
def postgres_url(postgres_server, request):
    """PostgreSQL only (for row-lock behaviour SQLite does not have), empty tables."""
    if postgres_server is None:
        pytest.skip(NO_POSTGRES)
    url = request.getfixturevalue("shared_postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path, postgres_server):
    """A database URL with no tables at all (for migrations)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        yield url
        dispose_engine(url)
        return
    if postgres_server is None:
        pytest.skip(NO_POSTGRES)
    yield postgres_server.new_database()


@pytest.fixture
def sqlite_url(tmp_path):
    """SQLite only, for tests whose subject is not the dialect (CLI, demo)."""
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    create_schema(url)
    yield url
    dispose_engine(url)


@pytest.fixture
def uow(database_url):
    return SqlAlchemyUnitOfWork(database_url)


@pytest.fixture
def fake_uow():
    return FakeUnitOfWork()


@pytest.fixture
def now():
    return FIXED_NOW
