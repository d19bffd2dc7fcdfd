"""Units of work: one transaction around one use case.

``SqlAlchemyUnitOfWork(url)`` is a reusable context manager: each ``with uow:`` opens a fresh
session (per thread, so one instance may be shared); leaving the block without ``commit()`` rolls everything back, so a use case that raises
half-way writes nothing. ``FakeUnitOfWork`` keeps committed workspaces in memory with the same
all-or-nothing and version-check behaviour, for fast service tests.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, List, Optional, Tuple, Type

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import QueuePool, StaticPool

from billing_core import settings
from billing_core.adapters import orm
from billing_core.adapters.repository import WorkspaceRepository
from billing_core.domain import errors
from billing_core.domain.model import AuditEntry, Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Map now, at import: SQLAlchemy can only store domain objects created after the mapping exists.
# (Mapped classes read their attributes through SQLAlchemy's descriptors, which costs the pure
# domain about a third of its speed; a process that only decides need not import the adapters.)
orm.start_mappers()


def database_url() -> str:
    """``BILLING_DATABASE_URL``, else a SQLite file under the project's ``var/`` (created)."""
    url = settings.current().database_url
    if url:
        return url
    folder = REPO_ROOT / "var"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'billing.db'}"


def _json_dumps(value: Any) -> str:
    # Audit details may carry datetimes or enums: store them readably instead of failing.
    return json.dumps(value, ensure_ascii=False, default=str)


def _new_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, json_serializer=_json_dumps, pool_pre_ping=True, future=True)

    in_memory = parsed.database in (None, "", ":memory:")
    if not in_memory:
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        json_serializer=_json_dumps,
        future=True,
        # Threads share the engine (web app, jobs, tests); a busy writer makes others wait.
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        # A pool on both SQLAlchemy versions (1.4 defaults to NullPool for files): reconnecting
        # and re-running the pragmas on every unit of work costs more than the query itself.
        poolclass=StaticPool if in_memory else QueuePool,
    )

    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not in_memory:
            # WAL: readers never block the writer and vice versa.
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    # event.listen, not the @event.listens_for decorator: the same registration, and SQLAlchemy 1.4
    # has no types, so the decorator would leave the function untyped for mypy.
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


_engines: Dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: Optional[str] = None) -> Engine:
    """One engine (and connection pool) per URL for the whole process."""
    url = url or database_url()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                engine = _engines[url] = _new_engine(url)
            except ModuleNotFoundError as missing:  # the URL names a driver this environment lacks
                raise NoSuchModuleError(
                    f"{make_url(url).drivername}: database driver {missing.name!r} is not installed"
                ) from None
        return engine


def dispose_engine(url: str) -> None:
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def create_schema(url: Optional[str] = None) -> None:
    """Create the tables straight from the ORM metadata (tests; production uses ``init-db``)."""
    orm.metadata.create_all(get_engine(url))


def drop_schema(url: Optional[str] = None) -> None:
    orm.metadata.drop_all(get_engine(url))


_factories: Dict[str, sessionmaker] = {}


def _session_factory(url: str) -> sessionmaker:
    factory = _factories.get(url)
    if factory is None or factory.kw.get("bind") is not get_engine(url):
        # expire_on_commit=False: use cases return domain objects that stay readable afterwards.
        factory = _factories[url] = sessionmaker(bind=get_engine(url), expire_on_commit=False, future=True)
    return factory


class SqlAlchemyUnitOfWork:
    """``with uow: ... uow.commit()``; ``uow.workspaces`` is the repository of this transaction.

    One instance may be shared: each thread (and each nested ``with``) gets its own session.
    """

    def __init__(self, url: Optional[str] = None):
        self.url = url or database_url()
        self._local = threading.local()

    def _open(self) -> List[Tuple[Session, WorkspaceRepository]]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    @property
    def session(self) -> Session:
        stack = self._open()
        if not stack:
            raise RuntimeError("use the unit of work inside `with uow:`")
        return stack[-1][0]

    @property
    def workspaces(self) -> WorkspaceRepository:
        stack = self._open()
        if not stack:
            raise RuntimeError("use the unit of work inside `with uow:`")
        return stack[-1][1]

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        orm.start_mappers()
        session = _session_factory(self.url)()
        self._open().append((session, WorkspaceRepository(session)))
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        session, _ = self._open().pop()
        # close() ends the transaction (rolling back anything uncommitted) and detaches the objects
        # without expiring them, so what a read-only use case returns stays readable.
        session.close()

    def commit(self) -> None:
        session = self.session
        try:
            session.commit()
        except StaleDataError as stale:
            session.rollback()
            raise _concurrent_change(stale) from stale

    def rollback(self) -> None:
        self.session.rollback()


def _concurrent_change(cause: Exception) -> Exception:
    return errors.ConcurrentUpdateError()


class FakeRepository:
    """In-memory twin of ``WorkspaceRepository``; hands out copies, so only commit() stores."""

    def __init__(self, store: "FakeUnitOfWork"):
        self._store = store
        self.seen: Dict[str, Tuple[Workspace, int]] = {}  # id -> (working copy, version at load)
        self.added: List[Workspace] = []
        self.deleted: List[str] = []
        self.new_audit: List[AuditEntry] = []

    def get(self, workspace_id: str, for_update: bool = False) -> Optional[Workspace]:
        if workspace_id in self.seen:
            return self.seen[workspace_id][0]
        stored = self._store.committed.get(workspace_id)
        if stored is None:
            return None
        working = copy.deepcopy(stored)
        self.seen[workspace_id] = (working, stored.version)
        return working

    def get_by_txn_ref(self, txn_ref: str, for_update: bool = False) -> Optional[Workspace]:
        for workspace in self._store.committed.values():
            if any(order.txn_ref == txn_ref for order in workspace.orders):
                return self.get(workspace.id, for_update)
        return None

    def add(self, workspace: Workspace) -> None:
        self.added.append(workspace)

    def delete(self, workspace: Workspace) -> None:
        self.deleted.append(workspace.id)

    def list_ids(self) -> List[str]:
        return sorted(self._store.committed)

    def audit(self, entry: AuditEntry) -> None:
        self.new_audit.append(entry)

    def audit_entries(self, workspace_id: str) -> List[AuditEntry]:
        return [copy.deepcopy(e) for e in self._store.audit_log if e.workspace_id == workspace_id]


class FakeUnitOfWork:
    """All-or-nothing in memory, with the optimistic version check of the real adapter."""

    def __init__(self) -> None:
        self.committed: Dict[str, Workspace] = {}
        self.audit_log: List[AuditEntry] = []
        self.commits = 0
        self._next_id = 1

    def __enter__(self) -> "FakeUnitOfWork":
        self.workspaces = FakeRepository(self)
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        repo = self.workspaces
        for workspace_id, (working, loaded_version) in repo.seen.items():
            stored = self.committed.get(workspace_id)
            if stored is not None and stored.version != loaded_version and working != stored:
                raise errors.ConcurrentUpdateError()
        for workspace_id in repo.deleted:
            self.committed.pop(workspace_id, None)
        for workspace_id, (working, _) in repo.seen.items():
            if workspace_id not in repo.deleted:
                self._number(working)
                self.committed[workspace_id] = copy.deepcopy(working)
        for workspace in repo.added:
            self._number(workspace)
            self.committed[workspace.id] = copy.deepcopy(workspace)
        for entry in repo.new_audit:
            entry.id = self._take_id()
            self.audit_log.append(copy.deepcopy(entry))
        self.commits += 1
        self.workspaces = FakeRepository(self)

    def rollback(self) -> None:
        self.workspaces = FakeRepository(self)

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _number(self, workspace: Workspace) -> None:
        """Give new child rows an id, as the database would."""
        for part in (
            workspace.subscriptions,
            workspace.capacity,
            workspace.scheduled_changes,
            workspace.orders,
            workspace.retention_tasks,
        ):
            for item in part:
                if item.id is None:
                    item.id = self._take_id()
