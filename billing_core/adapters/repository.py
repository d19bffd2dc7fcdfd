"""WorkspaceRepository: load and store whole Workspace aggregates, and append audit entries."""

from __future__ import annotations

from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from billing_core.adapters.orm import audit_log, orders, workspaces
from billing_core.domain.model import AuditEntry, Workspace


class WorkspaceRepository:
    """The aggregate's only door to the database (one per unit of work).

    Queries name the table columns (``orm.workspaces.c.id``), the same SQL as the mapped class
    attributes, which mypy knows only as the dataclass fields.
    """

    def __init__(self, session: Session):
        self.session = session

    def get(self, workspace_id: str, for_update: bool = False) -> Optional[Workspace]:
        """The workspace with all its parts, or None.

        ``for_update`` takes a row lock on PostgreSQL (``SELECT ... FOR UPDATE``): a second writer
        waits and then reads the committed state. SQLite ignores it; there the version column
        refuses the later of two concurrent writes.
        """
        statement = select(Workspace).where(workspaces.c.id == workspace_id)
        if for_update:
            # Parts come by separate SELECTs issued after the lock is granted: a joined read
            # would return the parts as they were before the wait (PostgreSQL re-reads only the
            # locked row), and a lost update would follow.
            statement = statement.options(
                selectinload(Workspace.subscriptions), selectinload(Workspace.scheduled_changes)
            ).with_for_update(of=workspaces)
            # Re-read even if the session already holds the object: the lock may have waited.
            statement = statement.execution_options(populate_existing=True)
        workspace: Optional[Workspace] = self.session.execute(statement).unique().scalars().first()
        return workspace

    def get_by_txn_ref(self, txn_ref: str, for_update: bool = False) -> Optional[Workspace]:
        """The workspace that owns the order with this VNPAY ``vnp_TxnRef``, or None."""
        owner = self.session.execute(select(orders.c.workspace_id).where(orders.c.txn_ref == txn_ref)).scalar()
        if owner is None:
            return None
        return self.get(owner, for_update=for_update)

    def add(self, workspace: Workspace) -> None:
        self.session.add(workspace)

    def delete(self, workspace: Workspace) -> None:
        """Remove a workspace and its parts (used by demo re-seeding; audit entries stay).

        Flushed at once, so a new workspace with the same id (and, say, the same order reference)
        can be added in the same transaction: the ORM would otherwise insert before deleting."""
        self.session.delete(workspace)
        self.session.flush()

    def list_ids(self) -> List[str]:
        return list(self.session.execute(select(workspaces.c.id).order_by(workspaces.c.id)).scalars())

    def audit(self, entry: AuditEntry) -> None:
        """Append to the audit log; written in the same transaction as the change it records."""
        self.session.add(entry)

    def audit_entries(self, workspace_id: str) -> List[AuditEntry]:
        statement = select(AuditEntry).where(audit_log.c.workspace_id == workspace_id).order_by(audit_log.c.id)
        return list(self.session.execute(statement).scalars())
