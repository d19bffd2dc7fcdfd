"""The SQLAlchemy adapter stores whole Workspace aggregates faithfully, all or nothing, and refuses
the later of two concurrent writes; the Alembic migration builds exactly the ORM's schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, text

from billing_core.adapters.unit_of_work import (
    FakeUnitOfWork,
    SqlAlchemyUnitOfWork,
    database_url,
    get_engine,
)
from billing_core.domain.errors import BillingError, ConcurrentUpdateError
from billing_core.domain.model import (
    AuditEntry,
    CapacityPurchase,
    Cycle,
    Order,
    OrderKind,
    OrderStatus,
    RenewalMode,
    RetentionKind,
    RetentionStatus,
    RetentionTask,
    ScheduledChange,
    Status,
    Subscription,
    Workspace,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
HANOI = timezone(timedelta(hours=7))


def full_workspace(workspace_id: str = "ws-full") -> Workspace:
    """A workspace with one of every part, every optional field filled somewhere."""
    return Workspace(
        id=workspace_id,
        name="Công ty Hoa Sen",
        created_at=NOW - timedelta(days=200),
        subscriptions=[
            Subscription(
                "digital_workspace",
                "standard",
                Status.ACTIVE,
                10,
                NOW - timedelta(days=100),
                NOW + timedelta(days=265),
                Cycle.YEARLY,
                RenewalMode.AUTO,
            ),
            Subscription("app_builder", "starter", Status.TRIAL, 10, NOW - timedelta(days=3), NOW + timedelta(days=27)),
        ],
        capacity=[
            CapacityPurchase("storage", 50, NOW - timedelta(days=100)),
            CapacityPurchase("automation_runs", 5000, NOW - timedelta(days=10)),
        ],
        scheduled_changes=[
            ScheduledChange(
                "digital_workspace", "starter", Cycle.YEARLY, 10, NOW + timedelta(days=265), "Giá cao quá", NOW
            ),
        ],
        orders=[
            Order(
                "CLK20261126A1",
                OrderKind.UPGRADE,
                "digital_workspace",
                "premium",
                Cycle.YEARLY,
                10,
                {"storage": 20, "docs": 100},
                12_345_000_000,
                OrderStatus.PAID,
                NOW - timedelta(hours=2),
                NOW - timedelta(hours=1, minutes=45),
                RenewalMode.AUTO,
                "00",
                "14123456",
                NOW - timedelta(hours=1, minutes=50),
            ),
        ],
        retention_tasks=[
            RetentionTask(
                RetentionKind.CAPACITY,
                "storage",
                30,
                NOW + timedelta(days=7),
                RetentionStatus.PENDING,
                NOW,
                "downgrade digital_workspace standard->starter",
            ),
        ],
    )


@pytest.fixture(params=["fake", "sql"])
def any_uow(request, tmp_path):
    """The fake and the real unit of work must behave alike (the SQL side for both dialects
    lives in the ``database_url`` tests; here SQLite, the fast one)."""
    if request.param == "fake":
        return FakeUnitOfWork()
    return SqlAlchemyUnitOfWork(request.getfixturevalue("sqlite_url"))


def store(uow, workspace: Workspace) -> None:
    with uow:
        uow.workspaces.add(workspace)
        uow.commit()


def load(uow, workspace_id: str):
    with uow:
        return uow.workspaces.get(workspace_id)


def test_a_whole_workspace_comes_back_equal(any_uow):
    store(any_uow, full_workspace())
    loaded = load(any_uow, "ws-full")
    assert loaded == full_workspace_with_ids(loaded)
    assert loaded.subscriptions[0].cycle is Cycle.YEARLY
    assert loaded.orders[0].addons == {"storage": 20, "docs": 100}
    assert loaded.orders[0].amount_vnd == 12_345_000_000  # beyond 32-bit integers


def full_workspace_with_ids(loaded: Workspace) -> Workspace:
    expected = full_workspace()
    for part in ("subscriptions", "capacity", "scheduled_changes", "orders", "retention_tasks"):
        for mine, theirs in zip(getattr(expected, part), getattr(loaded, part), strict=True):
            assert theirs.id is not None
            mine.id = theirs.id
    return expected


def test_datetimes_come_back_timezone_aware_utc(database_url):
    workspace = full_workspace()
    workspace.created_at = datetime(2026, 1, 1, 7, 0, tzinfo=HANOI)  # midnight UTC
    store(SqlAlchemyUnitOfWork(database_url), workspace)
    loaded = load(SqlAlchemyUnitOfWork(database_url), "ws-full")
    assert loaded.created_at == datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert all(s.period_start.tzinfo is not None for s in loaded.subscriptions)
    assert loaded.subscriptions[1].period_end is not None


def test_each_workspace_gets_its_own_lists(any_uow):
    first = Workspace(id="a", name="A", created_at=NOW)
    second = Workspace(id="b", name="B", created_at=NOW)
    first.capacity.append(CapacityPurchase("docs", 100, NOW))
    assert second.capacity == []
    store(any_uow, first)
    store(any_uow, second)
    assert load(any_uow, "b").capacity == []
    assert [p.amount for p in load(any_uow, "a").capacity] == [100]


def test_changes_to_parts_are_stored(any_uow):
    store(any_uow, full_workspace())
    with any_uow:
        workspace = any_uow.workspaces.get("ws-full")
        workspace.capacity.pop(0)  # the oldest storage purchase is deleted
        workspace.orders[0].addons["storage"] = 99  # changed in place
        workspace.subscriptions[1].status = Status.EXPIRED
        workspace.scheduled_changes.clear()
        workspace.touch()
        any_uow.commit()
    loaded = load(any_uow, "ws-full")
    assert [p.kind for p in loaded.capacity] == ["automation_runs"]
    assert loaded.orders[0].addons == {"storage": 99, "docs": 100}
    assert loaded.subscriptions[1].status is Status.EXPIRED
    assert loaded.scheduled_changes == []
    assert loaded.version == 2


def test_leaving_without_commit_writes_nothing(any_uow):
    store(any_uow, full_workspace())
    with any_uow:
        workspace = any_uow.workspaces.get("ws-full")
        workspace.subscriptions[0].seats = 99
        workspace.touch()
        any_uow.workspaces.audit(AuditEntry("ws-full", NOW, "test", "never", {}))
    with pytest.raises(RuntimeError):
        with any_uow:
            any_uow.workspaces.add(Workspace(id="half", name="Half", created_at=NOW))
            raise RuntimeError("a use case failed half-way")
    assert load(any_uow, "ws-full").subscriptions[0].seats == 10
    assert load(any_uow, "half") is None
    with any_uow:
        assert any_uow.workspaces.audit_entries("ws-full") == []


def test_the_later_of_two_concurrent_writes_is_refused(database_url):
    store(SqlAlchemyUnitOfWork(database_url), full_workspace())
    first, other = SqlAlchemyUnitOfWork(database_url), SqlAlchemyUnitOfWork(database_url)
    with first, other:
        mine = first.workspaces.get("ws-full")
        theirs = other.workspaces.get("ws-full")
        mine.subscriptions[0].seats = 11
        mine.touch()
        first.workspaces.audit(AuditEntry("ws-full", NOW, "alice", "seats", {"seats": 11}))
        first.commit()
        theirs.subscriptions[0].seats = 12
        theirs.touch()
        other.workspaces.audit(AuditEntry("ws-full", NOW, "bob", "seats", {"seats": 12}))
        with pytest.raises(ConcurrentUpdateError) as refused:
            other.commit()
    assert isinstance(refused.value, BillingError)
    loaded = load(first, "ws-full")
    assert (loaded.subscriptions[0].seats, loaded.version) == (11, 2)
    with first:
        assert [e.actor for e in first.workspaces.audit_entries("ws-full")] == ["alice"]


def test_fake_refuses_a_stale_write():
    uow = FakeUnitOfWork()
    store(uow, full_workspace())
    with uow:
        stale = uow.workspaces.get("ws-full")
        stale_repository = uow.workspaces
    with uow:
        fresh = uow.workspaces.get("ws-full")
        fresh.touch()
        uow.commit()
    with uow:
        uow.workspaces = stale_repository  # an old transaction finishing late
        stale.subscriptions[0].seats = 3
        stale.touch()
        with pytest.raises(ConcurrentUpdateError):
            uow.commit()
    assert load(uow, "ws-full").subscriptions[0].seats == 10


def test_lookups(any_uow):
    store(any_uow, full_workspace("ws-b"))
    second = full_workspace("ws-a")
    second.orders[0].txn_ref = "CLK20261126A2"
    store(any_uow, second)
    with any_uow:
        assert any_uow.workspaces.list_ids() == ["ws-a", "ws-b"]
        assert any_uow.workspaces.get_by_txn_ref("CLK20261126A2").id == "ws-a"
        assert any_uow.workspaces.get_by_txn_ref("CLK20261126A1", for_update=True).id == "ws-b"
        assert any_uow.workspaces.get_by_txn_ref("nope") is None
        assert any_uow.workspaces.get("nope") is None
        assert any_uow.workspaces.get("ws-a", for_update=True).name == "Công ty Hoa Sen"


def test_audit_log_is_kept_when_a_workspace_is_deleted(any_uow):
    store(any_uow, full_workspace())
    with any_uow:
        any_uow.workspaces.audit(AuditEntry("ws-full", NOW, "agent:lan", "note", {"when": NOW, "n": 1}))
        any_uow.commit()
    with any_uow:
        any_uow.workspaces.delete(any_uow.workspaces.get("ws-full"))
        any_uow.commit()
    with any_uow:
        assert any_uow.workspaces.get("ws-full") is None
        entries = any_uow.workspaces.audit_entries("ws-full")
    assert [(e.actor, e.action) for e in entries] == [("agent:lan", "note")]
    assert entries[0].detail["n"] == 1
    assert entries[0].at == NOW


def test_deleting_a_workspace_deletes_its_rows(database_url):
    uow = SqlAlchemyUnitOfWork(database_url)
    store(uow, full_workspace())
    with uow:
        uow.workspaces.delete(uow.workspaces.get("ws-full"))
        uow.commit()
    with get_engine(database_url).connect() as connection:
        for table in ("subscriptions", "capacity_purchases", "scheduled_changes", "orders", "retention_tasks"):
            assert connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0, table


def test_txn_ref_is_unique(database_url):
    from sqlalchemy.exc import IntegrityError

    uow = SqlAlchemyUnitOfWork(database_url)
    store(uow, full_workspace("ws-a"))
    with pytest.raises(IntegrityError):
        store(uow, full_workspace("ws-b"))  # same txn_ref
    assert load(uow, "ws-b") is None


def test_migration_builds_exactly_the_orm_schema(empty_database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from billing_core.adapters import orm
    from billing_core.migrations import current_revision, head_revision, upgrade_head

    upgrade_head(empty_database_url)
    upgrade_head(empty_database_url)  # idempotent: init-db may run on every start
    assert current_revision(empty_database_url) == head_revision()
    engine = get_engine(empty_database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, orm.metadata) == []
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in orm.metadata.sorted_tables} | {"alembic_version"} == tables
    # and the migrated schema really holds a workspace
    store(SqlAlchemyUnitOfWork(empty_database_url), full_workspace())
    assert load(SqlAlchemyUnitOfWork(empty_database_url), "ws-full").orders[0].txn_ref == "CLK20261126A1"


def test_database_url_comes_from_the_environment(monkeypatch):
    from billing_core import settings

    # read once per process (billing_core.settings): a process started with another value reloads
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql+psycopg2://u@db.example/billing")
    settings.reload()
    assert database_url() == "postgresql+psycopg2://u@db.example/billing"
    monkeypatch.delenv("BILLING_DATABASE_URL")
    assert database_url() == "postgresql+psycopg2://u@db.example/billing", "read again, not once"
    settings.reload()
    default = database_url()
    assert default.startswith("sqlite:///") and default.endswith("/var/billing.db")


def test_one_unit_of_work_shared_by_threads_and_nested_blocks(database_url):
    import threading

    uow = SqlAlchemyUnitOfWork(database_url)
    store(uow, full_workspace())
    with uow:
        outer = uow.workspaces.get("ws-full")
        with uow:  # an independent transaction, e.g. a read inside a use case
            assert uow.workspaces.get("ws-full") is not outer
        outer.subscriptions[0].seats = 21
        outer.touch()
        uow.commit()  # the outer session is still the current one
    seen = []

    def reader():
        with uow:
            seen.append(uow.workspaces.get("ws-full").subscriptions[0].seats)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == [21, 21, 21, 21]
    with pytest.raises(RuntimeError):
        uow.workspaces.get("ws-full")  # outside `with uow:`
