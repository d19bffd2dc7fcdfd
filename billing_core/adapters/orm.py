"""SQLAlchemy tables and the imperative mapping of the domain dataclasses.

The domain (``billing_core.domain.model``) never imports SQLAlchemy: this module maps its plain
dataclasses onto tables (cosmicpython style). ``start_mappers()`` is idempotent and must run
before a session touches a domain object; the unit of work calls it.

Storage conventions, chosen so that SQLite and PostgreSQL behave the same:
- enums are stored as their string value (``EnumString``), no native enum types to migrate;
- datetimes are stored as naive UTC (``UtcDateTime``) and come back timezone-aware UTC
  (SQLite has no time zones; storing UTC everywhere avoids a per-dialect difference);
- dict fields (``Order.addons``, ``AuditEntry.detail``) are JSON, tracked for in-place changes;
- ``workspaces.version`` is the optimistic-lock column: the domain bumps it (``Workspace.touch``)
  and an UPDATE whose ``WHERE version = <loaded>`` matches nothing raises ``StaleDataError``.
"""

from __future__ import annotations

import enum
import threading
from datetime import datetime
from typing import Any, Optional, Type

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import registry, relationship
from sqlalchemy.types import TypeDecorator

from billing_core.domain import model
from billing_core.domain.clock import as_utc

# Stable constraint names so that Alembic migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
mapper_registry = registry(metadata=metadata)


class UtcDateTime(TypeDecorator):  # type: ignore[misc]  # SQLAlchemy 1.4 has no types: TypeDecorator is Any
    """A timezone-aware UTC datetime in Python, a naive UTC timestamp in the database.

    A naive value handed to the database is taken to be UTC already.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        return as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        return None if value is None else as_utc(value)


class EnumString(TypeDecorator):  # type: ignore[misc]  # SQLAlchemy 1.4 has no types: TypeDecorator is Any
    """A ``str`` enum stored as its value in a VARCHAR (portable, easy to read in SQL)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: Type[enum.Enum], length: int = 20):
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: Any) -> Any:  # the enum's value (Enum.value is Any)
        if value is None:
            return None
        return self.enum_class(value).value

    def process_result_value(self, value: Any, dialect: Any) -> Optional[enum.Enum]:
        if value is None:
            return None
        return self.enum_class(value)


def _workspace_fk() -> Column:
    return Column(
        "workspace_id",
        String(64),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _workspace_fk(),
    Column("product", String(40), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("status", EnumString(model.Status), nullable=False),
    Column("seats", Integer, nullable=False),
    Column("period_start", UtcDateTime(), nullable=False),
    Column("period_end", UtcDateTime(), nullable=True),
    Column("cycle", EnumString(model.Cycle), nullable=True),
    Column("renewal_mode", EnumString(model.RenewalMode), nullable=False),
    Column("billing_anchor", UtcDateTime(), nullable=True),
)

capacity_purchases = Table(
    "capacity_purchases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _workspace_fk(),
    Column("kind", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("purchased_at", UtcDateTime(), nullable=False),
)

# No unique (workspace_id, product) constraint: the ORM flushes INSERTs before DELETEs, so a
# replaced scheduled downgrade would trip it. "At most one per product" is a domain rule.
scheduled_changes = Table(
    "scheduled_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _workspace_fk(),
    Column("product", String(40), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("cycle", EnumString(model.Cycle), nullable=True),
    Column("seats", Integer, nullable=False),
    Column("effective_at", UtcDateTime(), nullable=False),
    Column("survey_answer", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _workspace_fk(),
    Column("txn_ref", String(64), nullable=False, unique=True),
    Column("kind", EnumString(model.OrderKind), nullable=False),
    Column("product", String(40), nullable=False),
    Column("tier", String(20), nullable=False),
    Column("cycle", EnumString(model.Cycle), nullable=False),
    Column("seats", Integer, nullable=False),
    Column("addons", MutableDict.as_mutable(JSON()), nullable=False),
    Column("amount_vnd", BigInteger, nullable=False),
    Column("status", EnumString(model.OrderStatus), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("renewal_mode", EnumString(model.RenewalMode), nullable=False),
    Column("response_code", String(8), nullable=True),
    Column("transaction_no", String(64), nullable=True),
    Column("paid_at", UtcDateTime(), nullable=True),
)
Index("ix_orders_status_expires_at", orders.c.status, orders.c.expires_at)

retention_tasks = Table(
    "retention_tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _workspace_fk(),
    Column("kind", EnumString(model.RetentionKind), nullable=False),
    Column("target", String(60), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("status", EnumString(model.RetentionStatus), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("resolution", String(40), nullable=False, default=""),
)
Index("ix_retention_tasks_status_due_at", retention_tasks.c.status, retention_tasks.c.due_at)

# Append-only, and deliberately without a foreign key: the history of a workspace outlives it
# (re-seeding the demo deletes and recreates demo workspaces, their audit trail stays).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False, index=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("action", String(60), nullable=False),
    Column("detail", MutableDict.as_mutable(JSON()), nullable=False),
)

_mapping_lock = threading.Lock()
_mapped = False


def _children(cls: type, table: Table, lazy: str = "selectin") -> relationship:
    # Eager loading: the aggregate is read whole, so no lazy load can run after the session is
    # gone. The few, bounded parts (a plan and a scheduled change per product) are joined to the
    # workspace row; the parts that grow with time (orders, purchases, tasks) come by "selectin"
    # so the join never multiplies rows. A locking read loads every part by "selectin" instead
    # (see WorkspaceRepository.get).
    return relationship(
        cls,
        cascade="all, delete-orphan",
        order_by=table.c.id,
        lazy=lazy,
        passive_deletes=True,
    )


def start_mappers() -> None:
    """Map the domain classes onto the tables (once per process)."""
    global _mapped
    with _mapping_lock:
        if _mapped:
            return
        mapper_registry.map_imperatively(model.Subscription, subscriptions)
        mapper_registry.map_imperatively(model.CapacityPurchase, capacity_purchases)
        mapper_registry.map_imperatively(model.ScheduledChange, scheduled_changes)
        mapper_registry.map_imperatively(model.Order, orders)
        mapper_registry.map_imperatively(model.RetentionTask, retention_tasks)
        mapper_registry.map_imperatively(model.AuditEntry, audit_log)
        mapper_registry.map_imperatively(
            model.Workspace,
            workspaces,
            properties={
                "subscriptions": _children(model.Subscription, subscriptions, lazy="joined"),
                "capacity": _children(model.CapacityPurchase, capacity_purchases),
                "scheduled_changes": _children(model.ScheduledChange, scheduled_changes, lazy="joined"),
                "orders": _children(model.Order, orders),
                "retention_tasks": _children(model.RetentionTask, retention_tasks),
            },
            version_id_col=workspaces.c.version,
            version_id_generator=False,
        )
        _mapped = True
