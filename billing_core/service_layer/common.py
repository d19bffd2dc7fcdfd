"""What every use case shares: the workspace-id check, loading, audit entries, the retry on a lost
optimistic-lock race, the catalog default and the JSON shape of values.

Plan changes (``services``), payments (``payments``) and the jobs (``jobs``) all go through these,
so a rule about ids, audit entries or retries is written once.
"""

from __future__ import annotations

import enum
import time
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Callable, Dict, List, Optional, Protocol, Type, TypeVar, overload

from billing_core.domain import errors
from billing_core.domain.catalog import Catalog, load_catalog
from billing_core.domain.model import AuditEntry, Workspace

T = TypeVar("T")

SYSTEM_ACTOR = "system"
# Texts (billing_core.domain.messages) that the service layer itself hands out, beside reasons and errors.
TEXT_CODES = ("PENDING_ORDER_DIFFERS", "REFUND_DUE")
LATE_PAYMENT = "late_payment_for_closed_order"  # audit action: VNPAY took money for a closed order; refund it
MAX_WORKSPACE_ID_LENGTH = 64
MAX_ACTOR_LENGTH = 120  # audit_log.actor
# A lost race is decided again on the new state. Plan changes try twice (the second attempt sees
# the winner's write and decides on it); the IPN and the payment jobs try a few more times with a
# short pause, because VNPAY and the jobs may hit the same order at the same instant.
CHANGE_ATTEMPTS = 2
PAYMENT_ATTEMPTS = 5


class Repository(Protocol):
    """What the use cases need of ``uow.workspaces`` (``WorkspaceRepository``, ``FakeRepository``)."""

    def get(self, workspace_id: str, for_update: bool = False) -> Optional[Workspace]: ...

    def get_by_txn_ref(self, txn_ref: str, for_update: bool = False) -> Optional[Workspace]: ...

    def add(self, workspace: Workspace) -> None: ...

    def delete(self, workspace: Workspace) -> None: ...

    def list_ids(self) -> List[str]: ...

    def audit(self, entry: AuditEntry) -> None: ...

    def audit_entries(self, workspace_id: str) -> List[AuditEntry]: ...


class UnitOfWork(Protocol):
    """What the use cases need of a unit of work (``SqlAlchemyUnitOfWork``, ``FakeUnitOfWork``)."""

    @property
    def workspaces(self) -> Repository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


def catalog_or_default(catalog: Optional[Catalog]) -> Catalog:
    return catalog if catalog is not None else load_catalog()


@overload
def jsonable(value: Dict[str, Any]) -> Dict[str, Any]: ...


@overload
def jsonable(value: Any) -> Any: ...


def jsonable(value: Any) -> Any:
    """Only JSON types: enums as their values, dates as ISO strings, dataclasses as dicts."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def check_workspace_id(workspace_id: Any) -> str:
    """A workspace id as stored (non-empty text of at most 64 characters), else WorkspaceNotFoundError."""
    if not isinstance(workspace_id, str) or not workspace_id.strip() or len(workspace_id) > MAX_WORKSPACE_ID_LENGTH:
        raise errors.WorkspaceNotFoundError({"workspace_id": str(workspace_id)[:MAX_WORKSPACE_ID_LENGTH]})
    return workspace_id


def load(uow: UnitOfWork, workspace_id: Any, for_update: bool = False) -> Workspace:
    """The workspace inside the open unit of work, else WorkspaceNotFoundError."""
    workspace = uow.workspaces.get(check_workspace_id(workspace_id), for_update=for_update)
    if workspace is None:
        raise errors.WorkspaceNotFoundError({"workspace_id": workspace_id})
    return workspace


def audit(
    uow: UnitOfWork, workspace: Workspace, now: datetime, actor: str, action: str, detail: Dict[str, Any]
) -> None:
    """One audit entry, in the transaction of the change; ``version`` is the version it wrote."""
    record = {**jsonable(detail), "version": workspace.version}
    uow.workspaces.audit(
        AuditEntry(workspace_id=workspace.id, at=now, actor=str(actor)[:MAX_ACTOR_LENGTH], action=action, detail=record)
    )


def retry_on_conflict(use_case: Callable[[], T], attempts: int = CHANGE_ATTEMPTS, pause: float = 0.0) -> T:
    """Run ``use_case``; when another transaction saved the same workspace first, run it again from
    the start (so it is decided on the new state), up to ``attempts`` times in all. The last
    ConcurrentUpdateError is raised: nothing of this use case was written."""
    for attempt in range(attempts):
        try:
            return use_case()
        except errors.ConcurrentUpdateError:
            if attempt == attempts - 1:
                raise
            if pause:
                time.sleep(pause * (attempt + 1))
    raise AssertionError("attempts must be at least 1")  # pragma: no cover


def each_workspace(
    uow: UnitOfWork, job: Callable[[Workspace], List[Dict[str, Any]]], attempts: int = CHANGE_ATTEMPTS
) -> List[Dict[str, Any]]:
    """Run ``job`` on every workspace, one transaction (and its retry) per workspace, so a busy
    workspace never holds up the others and a re-run finds nothing left to do. ``job`` returns
    what it did; the transaction is committed only when it did something."""
    with uow:
        workspace_ids = list(uow.workspaces.list_ids())
    results: List[Dict[str, Any]] = []
    for workspace_id in workspace_ids:

        def attempt(workspace_id: str = workspace_id) -> List[Any]:
            with uow:
                workspace = uow.workspaces.get(workspace_id, for_update=True)
                if workspace is None:  # deleted meanwhile
                    return []
                done = job(workspace)
                if done:
                    uow.commit()
                return done

        results.extend(retry_on_conflict(attempt, attempts))
    return results


def refunds_due(uow: UnitOfWork, workspace: Workspace) -> List[Dict[str, Any]]:
    """Payments VNPAY took for closed orders, for staff to refund (inside an open unit of work)."""
    return [
        jsonable(
            {
                "order_ref": e.detail.get("txn_ref"),
                "status": e.detail.get("status"),
                "amount_vnd": e.detail.get("amount_vnd"),
                "paid_at": e.detail.get("paid_at") or e.at,
                "transaction_no": e.detail.get("transaction_no"),
            }
        )
        for e in uow.workspaces.audit_entries(workspace.id)
        if e.action == LATE_PAYMENT
    ]
