"""Persistence adapters: SQLAlchemy tables and mapping, the repository, units of work."""

from billing_core.adapters.unit_of_work import (  # noqa: F401
    FakeUnitOfWork,
    SqlAlchemyUnitOfWork,
    database_url,
    get_engine,
)
