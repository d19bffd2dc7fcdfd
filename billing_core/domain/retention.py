"""Data retention after a downgrade or a move to Free.

The article: "within 7 days the system automatically deletes extended capacity above the quota,
oldest first; you can buy more or delete some yourself" and "data of features locked by the
downgrade is deleted within 90 days". Decisions (docs/decisions.md):

* only the EXCESS above the new limit goes, taken from the oldest purchases first; a purchase
  may be reduced partly, and one reduced to zero is removed;
* the job re-checks the excess when it runs: capacity the customer deleted meanwhile, or a plan
  that allows it again, means less (or nothing) is deleted;
* feature data is re-checked the same way: when the job runs, the data of a feature the plan
  then in force includes again (the customer upgraded back) is kept and the task is skipped;
* every task the job resolves records what happened (``resolution``): deleted, or skipped
  with its reason (``still_included``, ``nothing_above_limit``);
* a deletion is due at the END of its window, counted from the moment the downgrade takes
  effect (``effective_at + 7 days`` / ``+ 90 days``); the assistant says "no later than <date>".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional

from billing_core.domain.model import (
    RetentionKind,
    RetentionStatus,
    RetentionTask,
    Status,
    Workspace,
)

if TYPE_CHECKING:
    from billing_core.domain.catalog import Catalog


@dataclass(frozen=True)
class RetentionItem:
    """One line of the per-workspace preview: what goes, how much, when, and why it is listed."""

    kind: RetentionKind
    target: str  # capacity kind or feature key
    amount: int  # capacity units (0 for feature data)
    unit: str  # the kind's unit in English ("GB", "docs", ...), "" for feature data
    due_at: datetime
    source: str  # "scheduled" (a downgrade not applied yet) or "pending" (a task waiting for its date)
    product: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {
            "kind": self.kind.value,
            "target": self.target,
            "amount": self.amount,
            "unit": self.unit,
            "due_at": self.due_at.isoformat(),
            "source": self.source,
            "product": self.product,
        }


def capacity_limit(catalog: "Catalog", workspace: Workspace, kind: str) -> int:
    """The most extended capacity of ``kind`` the workspace may carry under its current plans
    (extended capacity comes with a paid plan, or Free's quota: none on a trial or a lapsed plan)."""
    owner = workspace.subscription(catalog.capacity[kind].product)
    if owner is None or owner.status not in (Status.ACTIVE, Status.FREE):
        return 0
    return catalog.quota(kind, owner.tier).max_extra


# What the job did with a task (RetentionTask.resolution).
DELETED = "deleted"
STILL_INCLUDED = "still_included"  # the plan in force includes the feature again
NOTHING_ABOVE_LIMIT = "nothing_above_limit"  # the customer made room, or the plan allows it again


def feature_in_force(catalog: "Catalog", workspace: Workspace, feature: str) -> bool:
    """Does a plan in force now (paid, Free, or a running trial) include ``feature``?"""
    for sub in workspace.subscriptions:
        if sub.status in (Status.ACTIVE, Status.FREE, Status.TRIAL) and feature in catalog.features_of(
            sub.product, sub.tier
        ):
            return True
    return False


def still_included(catalog: "Catalog", workspace: Workspace, task: RetentionTask) -> Optional[str]:
    """Why ``task`` must NOT delete anything now (None: it may). The decision of the retention job,
    made when it runs, on the plans then in force: capacity within the limit, feature included."""
    if task.kind is RetentionKind.CAPACITY:
        if task.target not in catalog.capacity or excess_now(catalog, workspace, task.target) <= 0:
            return NOTHING_ABOVE_LIMIT
        return None
    if feature_in_force(catalog, workspace, task.target):
        return STILL_INCLUDED
    return None


def excess_now(catalog: "Catalog", workspace: Workspace, kind: str) -> int:
    """Extended capacity of ``kind`` above what the plans in force allow."""
    return max(0, workspace.capacity_total(kind) - capacity_limit(catalog, workspace, kind))


def _excess_after(catalog: "Catalog", workspace: Workspace, kind: str, tier: Optional[str]) -> int:
    return max(0, workspace.capacity_total(kind) - catalog.quota(kind, tier).max_extra)


class PlannedDeletion(NamedTuple):
    """What a downgrade will delete, before it is a stored task (cheap: decide() builds these)."""

    kind: RetentionKind
    target: str  # capacity kind or feature key
    amount: int  # capacity units (0 for feature data)
    due_at: datetime


def planned_deletions(
    catalog: "Catalog",
    workspace: Workspace,
    product: str,
    from_tier: str,
    to_tier: str,
    effective_at: datetime,
) -> List[PlannedDeletion]:
    """Extended capacity above ``to_tier``'s limit (7 days) and data of the features it locks (90 days)."""
    planned: List[PlannedDeletion] = []
    capacity_due = effective_at + timedelta(days=catalog.capacity_retention_days)
    for kind in catalog.capacity.values():
        if kind.product != product:
            continue
        excess = _excess_after(catalog, workspace, kind.key, to_tier)
        if excess > 0:
            planned.append(PlannedDeletion(RetentionKind.CAPACITY, kind.key, excess, capacity_due))
    kept = set(catalog.features_of(product, to_tier))
    feature_due = effective_at + timedelta(days=catalog.feature_data_retention_days)
    for feature in catalog.features_of(product, from_tier):
        if feature not in kept:
            planned.append(PlannedDeletion(RetentionKind.FEATURE_DATA, feature, 0, feature_due))
    return planned


def tasks_for_change(
    catalog: "Catalog",
    workspace: Workspace,
    product: str,
    from_tier: str,
    to_tier: str,
    effective_at: datetime,
    now: datetime,
) -> List[RetentionTask]:
    """The deletions a move of ``product`` from ``from_tier`` to ``to_tier`` will cause (not added
    to the workspace: the caller decides whether to keep them)."""
    note = f"downgrade {product} {from_tier}->{to_tier}"
    return [
        RetentionTask(
            kind=p.kind,
            target=p.target,
            amount=p.amount,
            due_at=p.due_at,
            status=RetentionStatus.PENDING,
            created_at=now,
            reason=note,
        )
        for p in planned_deletions(catalog, workspace, product, from_tier, to_tier, effective_at)
    ]


def _product_of(catalog: "Catalog", task: RetentionTask) -> str:
    if task.kind is RetentionKind.CAPACITY and task.target in catalog.capacity:
        return catalog.capacity[task.target].product
    return next(
        (p.key for p in catalog.products.values() if any(task.target in o.features for o in p.tiers.values())), ""
    )


def preview(catalog: "Catalog", workspace: Workspace, now: datetime) -> List[RetentionItem]:
    """What will be deleted, how much and on which date: scheduled downgrades (as if applied at
    their date, with today's purchases) and tasks already pending (capacity re-checked now)."""
    items: List[RetentionItem] = []
    for change in workspace.scheduled_changes:
        current = workspace.subscription(change.product)
        if current is None or current.tier == change.tier:
            continue
        for task in tasks_for_change(
            catalog, workspace, change.product, current.tier, change.tier, change.effective_at, now
        ):
            items.append(_item(catalog, task, task.amount, "scheduled", change.product))
    for task in workspace.retention_tasks:
        if task.status is not RetentionStatus.PENDING:
            continue
        if still_included(catalog, workspace, task) is not None:
            continue  # the customer made room, or the plan in force includes it again
        amount = excess_now(catalog, workspace, task.target) if task.kind is RetentionKind.CAPACITY else task.amount
        items.append(_item(catalog, task, amount, "pending", _product_of(catalog, task)))
    items.sort(key=lambda item: (item.due_at, item.kind.value, item.target))
    return items


def _item(catalog: "Catalog", task: RetentionTask, amount: int, source: str, product: str) -> RetentionItem:
    unit = catalog.capacity[task.target].unit.en if task.kind is RetentionKind.CAPACITY else ""
    return RetentionItem(task.kind, task.target, amount, unit, task.due_at, source, product)


def execute_due(catalog: "Catalog", workspace: Workspace, now: datetime) -> List[RetentionTask]:
    """Resolve every pending task due by ``now``; return them all (deleted and skipped).

    Idempotent: a resolved task never runs again. Each is decided on the plans in force NOW
    (``still_included``): a capacity task removes the excess as it is now (which may be less
    than planned), from the oldest purchases first, reducing a purchase partly when that is
    enough, and its ``amount`` is set to what was actually removed; a feature-data task deletes
    only if no plan in force includes the feature. A deletion is DONE (resolution "deleted"); a
    skip is CANCELLED with its reason as resolution (amount 0).
    """
    done: List[RetentionTask] = []
    for task in sorted(workspace.retention_tasks, key=lambda t: (t.due_at, t.created_at)):
        if task.status is not RetentionStatus.PENDING or task.due_at > now:
            continue
        skip = still_included(catalog, workspace, task)
        if skip is not None:
            task.status, task.resolution = RetentionStatus.CANCELLED, skip
            if task.kind is RetentionKind.CAPACITY:
                task.amount = 0
        else:
            if task.kind is RetentionKind.CAPACITY:
                task.amount = _remove_excess(catalog, workspace, task.target)
            task.status, task.resolution = RetentionStatus.DONE, DELETED
        done.append(task)
    if done:
        workspace.touch()
    return done


def _remove_excess(catalog: "Catalog", workspace: Workspace, kind: str) -> int:
    if kind not in catalog.capacity:
        return 0
    excess = workspace.capacity_total(kind) - capacity_limit(catalog, workspace, kind)
    removed = 0
    for purchase in sorted(
        (p for p in workspace.capacity if p.kind == kind), key=lambda p: (p.purchased_at, p.id or 0)
    ):
        if excess <= 0:
            break
        take = min(purchase.amount, excess)
        purchase.amount -= take
        excess -= take
        removed += take
    for purchase in [p for p in workspace.capacity if p.amount <= 0]:
        workspace.capacity.remove(purchase)  # in place: the ORM's collection sees the removal
    return removed
