"""Use cases: the only entry point for the assistant's actions, the web app, jobs and the CLI.

Every use case takes a unit of work first (``SqlAlchemyUnitOfWork`` or ``FakeUnitOfWork``) and
runs in its own transaction: the domain (``billing_core.domain``) decides and changes the
Workspace aggregate, the unit of work stores it together with one audit entry per change, or
nothing at all. Bad input raises a typed ``BillingError`` before anything is written.

Concurrency: a change loads the workspace ``for_update`` (a row lock on PostgreSQL) and the
version column refuses the later of two concurrent writes (SQLite). A change that loses that
race is retried ONCE from the start, so it is decided again on the new state (for example, a
second downgrade then replaces the first and says so); losing twice raises
``ConcurrentUpdateError`` and writes nothing.

Renewal of an unpaid period (a decision, written down): billing_core does not cut a paid plan
off at period end. ``renew_due`` rolls the plan into its next period (applying a scheduled
downgrade first) and records in the audit entry whether a paid renewal order covers the new
period (``renewal_paid``); collecting that payment (auto-renewal orders, reminders) belongs to
``billing_core.service_layer.payments``, and suspending a customer who never pays is a staff decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple, cast, overload

from billing_core.domain import changes, errors, retention
from billing_core.domain.aliases import canonical_key, canonical_request
from billing_core.domain.catalog import Catalog
from billing_core.domain.clock import days_left, utc_or_now
from billing_core.domain.model import (
    Effective,
    OrderKind,
    OrderStatus,
    RenewalMode,
    RetentionTask,
    ScheduledChange,
    Status,
    Subscription,
    Workspace,
)
from billing_core.domain.quotes import Quote, quote
from billing_core.domain.rules import ChangeRequest, Decision, decide
from billing_core.service_layer.common import (
    SYSTEM_ACTOR,
    UnitOfWork,
    jsonable,
    refunds_due,
)
from billing_core.service_layer.common import (
    audit as _audit,
)
from billing_core.service_layer.common import (
    catalog_or_default as _catalog,
)
from billing_core.service_layer.common import (
    each_workspace as _each_workspace,
)
from billing_core.service_layer.common import (
    load as _load,
)
from billing_core.service_layer.common import (
    retry_on_conflict as _retry_once,
)

JOBS_ACTOR = "jobs"
MAX_SURVEY_ANSWER_LENGTH = 2000
MAX_PERIODS_PER_RENEWAL = 240  # a plan left alone for 20 years still renews in one job run


# --- small helpers ---------------------------------------------------------------------------
def check_request(request: Any, catalog: Catalog) -> ChangeRequest:
    """The request with catalog names (Vietnamese or English) turned into their keys."""
    if not isinstance(request, ChangeRequest):
        raise errors.InvalidRequestError({"request": type(request).__name__})
    return canonical_request(catalog, request)


def _check_product(catalog: Catalog, product: Any) -> str:
    key = canonical_key(catalog, "product", product)
    if key not in catalog.products:
        raise errors.UnknownProductError({"product": str(product), "products": list(catalog.products)})
    return cast(str, key)  # a key of catalog.products (checked above)


def _target_detail(decision: Decision) -> Dict[str, Any]:
    return {"rule_id": decision.rule_id, "reasons": decision.codes, **decision.target.to_dict()}


def _refuse_unless_allowed(decision: Decision) -> None:
    if not decision.allowed:
        raise errors.ChangeNotAllowedError(
            {"product": decision.target.product, "outcome": decision.outcome.value, "reasons": decision.codes}
        )


# --- questions -------------------------------------------------------------------------------
def check_change(
    uow: UnitOfWork,
    workspace_id: str,
    request: ChangeRequest,
    now: Optional[datetime] = None,
    catalog: Optional[Catalog] = None,
) -> Decision:
    """May the workspace make this change, when does it apply, and if not, why not (read only)?"""
    now, catalog = utc_or_now(now), _catalog(catalog)
    request = check_request(request, catalog)
    with uow:
        return decide(catalog, _load(uow, workspace_id), request, now)


def quote_change(
    uow: UnitOfWork,
    workspace_id: str,
    request: ChangeRequest,
    now: Optional[datetime] = None,
    catalog: Optional[Catalog] = None,
) -> Tuple[Decision, Optional[Quote]]:
    """The decision, and the price when the change is allowed (None when it is blocked)."""
    now, catalog = utc_or_now(now), _catalog(catalog)
    request = check_request(request, catalog)
    with uow:
        workspace = _load(uow, workspace_id)
        decision = decide(catalog, workspace, request, now)
        return decision, (quote(catalog, workspace, request, now) if decision.allowed else None)


# --- changes ---------------------------------------------------------------------------------
def apply_upgrade_to_workspace(
    uow: UnitOfWork,
    workspace: Workspace,
    request: ChangeRequest,
    now: datetime,
    actor: str = SYSTEM_ACTOR,
    renewal_mode: Optional[RenewalMode] = None,
    catalog: Optional[Catalog] = None,
    extra: Optional[Dict[str, Any]] = None,
) -> Subscription:
    """Apply an IMMEDIATE change to an already loaded (locked) workspace, inside the caller's
    transaction, with its audit entry. The caller commits. For payments: a paid order applies
    through here. Raises ChangeNotAllowedError when the rules refuse it or would schedule it."""
    catalog = _catalog(catalog)
    decision = decide(catalog, workspace, check_request(request, catalog), now)
    _refuse_unless_allowed(decision)
    if decision.effective is not Effective.IMMEDIATE:
        raise errors.ChangeNotAllowedError(
            {"product": decision.target.product, "outcome": decision.outcome.value, "reasons": decision.codes}
        )
    previous = workspace.subscription(decision.target.product)
    before = _plan_detail(previous)
    cancelled = workspace.scheduled_change(decision.target.product)
    subscription = changes.apply_decision(catalog, workspace, decision, now, renewal_mode)
    _audit(
        uow,
        workspace,
        now,
        actor,
        "change_applied",
        {
            **_target_detail(decision),
            "before": before,
            "after": _plan_detail(subscription),
            "cancelled_scheduled_change": _scheduled_detail(cancelled),
            **(extra or {}),
        },
    )
    return subscription


def apply_upgrade(
    uow: UnitOfWork,
    workspace_id: str,
    request: ChangeRequest,
    now: Optional[datetime] = None,
    actor: str = SYSTEM_ACTOR,
    renewal_mode: Optional[RenewalMode] = None,
    catalog: Optional[Catalog] = None,
) -> Subscription:
    """Apply a paid upgrade (or a move to Free that costs nothing) now.

    Refuses (ChangeNotAllowedError) a change that is blocked or that the rules time for the next
    cycle; cancels a scheduled downgrade of the same product (the decision says so)."""
    now, catalog = utc_or_now(now), _catalog(catalog)
    request = check_request(request, catalog)

    def attempt() -> Subscription:
        with uow:
            workspace = _load(uow, workspace_id, for_update=True)
            subscription = apply_upgrade_to_workspace(uow, workspace, request, now, actor, renewal_mode, catalog)
            uow.commit()
            return subscription

    return _retry_once(attempt)


def schedule_downgrade(
    uow: UnitOfWork,
    workspace_id: str,
    request: ChangeRequest,
    survey_answer: Optional[str],
    confirmed: bool,
    now: Optional[datetime] = None,
    actor: str = SYSTEM_ACTOR,
    catalog: Optional[Catalog] = None,
) -> ScheduledChange:
    """Schedule a downgrade for the next renewal ("Gói gia hạn tiếp theo").

    Only with a non-empty survey answer (SurveyAnswerRequiredError) and ``confirmed is True``
    (ConfirmationRequiredError), as the help article's steps ask. A second scheduled downgrade
    replaces the first: the decision carries REPLACES_SCHEDULED_CHANGE and the audit entry
    names the replaced one."""
    now, catalog = utc_or_now(now), _catalog(catalog)
    request = check_request(request, catalog)
    if isinstance(survey_answer, str) and len(survey_answer) > MAX_SURVEY_ANSWER_LENGTH:
        survey_answer = survey_answer[:MAX_SURVEY_ANSWER_LENGTH]

    def attempt() -> ScheduledChange:
        with uow:
            workspace = _load(uow, workspace_id, for_update=True)
            decision = decide(catalog, workspace, request, now)
            _refuse_unless_allowed(decision)
            replaced = workspace.scheduled_change(decision.target.product)
            change = changes.schedule_change(workspace, decision, now, survey_answer, confirmed)
            if change is replaced:  # exactly what was already scheduled: nothing to write
                return change
            _audit(
                uow,
                workspace,
                now,
                actor,
                "downgrade_scheduled",
                {
                    **_target_detail(decision),
                    "effective_at": change.effective_at,
                    "survey_answer": change.survey_answer,
                    "replaced": _scheduled_detail(replaced),
                },
            )
            uow.commit()
            return change

    return _retry_once(attempt)


def cancel_scheduled_change(
    uow: UnitOfWork,
    workspace_id: str,
    product: str,
    now: Optional[datetime] = None,
    actor: str = SYSTEM_ACTOR,
    catalog: Optional[Catalog] = None,
) -> None:
    """Cancel the product's scheduled downgrade (NoScheduledChangeError when there is none)."""
    now, catalog = utc_or_now(now), _catalog(catalog)
    product = _check_product(catalog, product)

    def attempt() -> None:
        with uow:
            workspace = _load(uow, workspace_id, for_update=True)
            cancelled = changes.cancel_scheduled_change(workspace, product)
            _audit(
                uow,
                workspace,
                now,
                actor,
                "scheduled_change_cancelled",
                {"product": product, "cancelled": _scheduled_detail(cancelled)},
            )
            uow.commit()

    _retry_once(attempt)


# --- jobs ------------------------------------------------------------------------------------
def expire_trials(uow: UnitOfWork, now: Optional[datetime] = None) -> List[Dict[str, Any]]:
    """Trials past their 30 days become expired (unpaid). Returns one record per expired trial."""
    now = utc_or_now(now)

    def job(workspace: Workspace) -> List[Dict[str, Any]]:
        expired = changes.expire_trials(workspace, now)
        records = []
        for sub in expired:
            record = {
                "workspace_id": workspace.id,
                "product": sub.product,
                "tier": sub.tier,
                "trial_ended_at": sub.period_end,
            }
            _audit(uow, workspace, now, JOBS_ACTOR, "trial_expired", record)
            records.append(jsonable(record))
        return records

    return _each_workspace(uow, job)


def _renewal_order_paid(
    workspace: Workspace, product: str, period_start: datetime, period_end: datetime
) -> Optional[str]:
    """The txn_ref of a paid renewal order made for the period that just ended, if any."""
    for order in workspace.orders:
        if (
            order.kind is OrderKind.RENEWAL
            and order.product == product
            and order.status is OrderStatus.PAID
            and period_start <= order.created_at <= period_end
        ):
            return order.txn_ref
    return None


def renew_due(
    uow: UnitOfWork, now: Optional[datetime] = None, catalog: Optional[Catalog] = None
) -> List[Dict[str, Any]]:
    """Paid plans whose period has ended roll into the next period; a scheduled change takes effect
    at that boundary (with its retention tasks). One record per period rolled (see module doc for
    what happens when the new period is not paid)."""
    now, catalog = utc_or_now(now), _catalog(catalog)

    def job(workspace: Workspace) -> List[Dict[str, Any]]:
        records = []
        for sub in list(workspace.subscriptions):
            for _ in range(MAX_PERIODS_PER_RENEWAL):
                ended_start, ended_end = sub.period_start, sub.period_end
                renewal = changes.renew(catalog, workspace, sub.product, now)
                if renewal is None or ended_end is None:  # renew() rolls only a plan with a period end
                    break
                paid_by = _renewal_order_paid(workspace, sub.product, ended_start, ended_end)
                record = {
                    "workspace_id": workspace.id,
                    "product": sub.product,
                    "renewed_at": ended_end,
                    "plan": _plan_detail(renewal.subscription),
                    "applied_scheduled_change": _scheduled_detail(renewal.applied),
                    "retention_tasks": [_task_detail(t) for t in renewal.retention_tasks],
                    "renewal_paid": paid_by is not None,
                    "renewal_order": paid_by,
                }
                _audit(uow, workspace, now, JOBS_ACTOR, "renewed", record)
                records.append(jsonable(record))
        return records

    return _each_workspace(uow, job)


def retention_preview(
    uow: UnitOfWork, workspace_id: str, now: Optional[datetime] = None, catalog: Optional[Catalog] = None
) -> List[retention.RetentionItem]:
    """What will be deleted, how much and on which date (scheduled downgrades and pending tasks)."""
    now, catalog = utc_or_now(now), _catalog(catalog)
    with uow:
        return retention.preview(catalog, _load(uow, workspace_id), now)


def run_retention(
    uow: UnitOfWork, now: Optional[datetime] = None, catalog: Optional[Catalog] = None
) -> List[Dict[str, Any]]:
    """Carry out every retention task that is due (idempotent: a done task never runs again)."""
    now, catalog = utc_or_now(now), _catalog(catalog)

    def job(workspace: Workspace) -> List[Dict[str, Any]]:
        records = []
        for task in retention.execute_due(catalog, workspace, now):
            record = {"workspace_id": workspace.id, **_task_detail(task)}
            _audit(uow, workspace, now, JOBS_ACTOR, "retention_executed", record)
            records.append(jsonable(record))
        return records

    return _each_workspace(uow, job)


def run_plan_jobs(uow: UnitOfWork, now: Optional[datetime] = None, catalog: Optional[Catalog] = None) -> Dict[str, int]:
    """The plan jobs in order: expire trials, renew, then delete what is due. Idempotent.
    (``billing_core.service_layer.jobs.run_jobs`` runs these with the payment jobs.)"""
    now, catalog = utc_or_now(now), _catalog(catalog)
    return {
        "trials_expired": len(expire_trials(uow, now)),
        "renewed": len(renew_due(uow, now, catalog)),
        "retention_executed": sum(1 for r in run_retention(uow, now, catalog) if r["status"] == "done"),  # skips aside
    }


# --- summary ---------------------------------------------------------------------------------
_days_left = days_left  # the one "days left" of the business calendar (billing_core.domain.clock)


@dataclass(frozen=True)
class WorkspaceView:
    """One read of a workspace (one unit of work): its summary, and the decisions and the retention
    preview an answer shows beside it, all from the same state at the same moment. An answer that
    listed the plans and then decided on each product read the workspace once per decision; a change
    between two reads could make it disagree with itself. Read only: a change goes through its use
    case (``apply_upgrade``, ``schedule_downgrade``...), which loads the workspace for update."""

    summary: Dict[str, Any]
    workspace: Workspace
    now: datetime
    catalog: Catalog

    def check(self, request: ChangeRequest) -> Decision:
        """``check_change`` on this read of the workspace."""
        return decide(self.catalog, self.workspace, check_request(request, self.catalog), self.now)

    def retention(self) -> List[retention.RetentionItem]:
        """``retention_preview`` on this read of the workspace."""
        return retention.preview(self.catalog, self.workspace, self.now)


def workspace_view(
    uow: UnitOfWork, workspace_id: str, now: Optional[datetime] = None, catalog: Optional[Catalog] = None
) -> WorkspaceView:
    """The workspace read once: ``summary`` as ``workspace_summary`` gives it, and ``check`` and
    ``retention`` on the same read."""
    now, catalog = utc_or_now(now), _catalog(catalog)
    with uow:
        workspace = _load(uow, workspace_id)
        refunds = refunds_due(uow, workspace)
    return WorkspaceView(_summary(catalog, workspace, refunds, now), workspace, now, catalog)


def workspace_summary(
    uow: UnitOfWork, workspace_id: str, now: Optional[datetime] = None, catalog: Optional[Catalog] = None
) -> Dict[str, Any]:
    """Everything the assistant, the agent console and ``show`` display, JSON-ready."""
    return workspace_view(uow, workspace_id, now, catalog).summary


def _summary(catalog: Catalog, workspace: Workspace, refunds: List[Dict[str, Any]], now: datetime) -> Dict[str, Any]:
    items = retention.preview(catalog, workspace, now)
    subscriptions = []
    for sub in workspace.subscriptions:
        scheduled = workspace.scheduled_change(sub.product)
        entry = _plan_detail(sub)
        entry.update(
            {
                "trial_days_left": _days_left(sub.period_end, now) if sub.status is Status.TRIAL else None,
                "next_renewal_at": sub.period_end if sub.status is Status.ACTIVE else None,
                "next_renewal_plan": _scheduled_detail(scheduled)
                if scheduled
                else (
                    {"tier": sub.tier, "cycle": sub.cycle, "seats": sub.seats, "effective_at": sub.period_end}
                    if sub.status is Status.ACTIVE
                    else None
                ),
                "downgrade_scheduled": scheduled is not None,
            }
        )
        subscriptions.append(entry)
    capacity = []
    for kind in catalog.capacity:
        purchases = [p for p in workspace.capacity if p.kind == kind]
        if not purchases:
            continue
        capacity.append(
            {
                "kind": kind,
                "unit": catalog.capacity[kind].unit.get("en"),
                "extra_total": sum(p.amount for p in purchases),
                "limit": retention.capacity_limit(catalog, workspace, kind),
                "purchases": [{"amount": p.amount, "purchased_at": p.purchased_at} for p in purchases],
            }
        )
    pending = [
        {
            "txn_ref": o.txn_ref,
            "kind": o.kind,
            "product": o.product,
            "tier": o.tier,
            "cycle": o.cycle,
            "seats": o.seats,
            "addons": dict(o.addons),
            "amount_vnd": o.amount_vnd,
            "created_at": o.created_at,
            "expires_at": o.expires_at,
        }
        for o in workspace.orders
        if o.status is OrderStatus.PENDING and o.expires_at > now
    ]
    return jsonable(
        {
            "workspace_id": workspace.id,
            "name": workspace.name,
            "version": workspace.version,
            "as_of": now,
            "subscriptions": subscriptions,
            "capacity": capacity,
            "pending_orders": pending,
            "refunds_due": refunds,  # paid at VNPAY for an order closed here: staff refund it
            "retention": [item.to_dict() for item in items],
        }
    )


# --- audit detail shapes -----------------------------------------------------------------------
@overload
def _plan_detail(sub: Subscription) -> Dict[str, Any]: ...


@overload
def _plan_detail(sub: Optional[Subscription]) -> Optional[Dict[str, Any]]: ...


def _plan_detail(sub: Optional[Subscription]) -> Optional[Dict[str, Any]]:
    if sub is None:
        return None
    return jsonable(
        {
            "product": sub.product,
            "tier": sub.tier,
            "status": sub.status,
            "cycle": sub.cycle,
            "seats": sub.seats,
            "period_start": sub.period_start,
            "period_end": sub.period_end,
            "renewal_mode": sub.renewal_mode,
        }
    )


def _scheduled_detail(change: Optional[ScheduledChange]) -> Optional[Dict[str, Any]]:
    if change is None:
        return None
    return jsonable(
        {
            "product": change.product,
            "tier": change.tier,
            "cycle": change.cycle,
            "seats": change.seats,
            "effective_at": change.effective_at,
        }
    )


def _task_detail(task: RetentionTask) -> Dict[str, Any]:
    return jsonable(
        {
            "kind": task.kind,
            "target": task.target,
            "amount": task.amount,
            "due_at": task.due_at,
            "status": task.status,
            "reason": task.reason,
            "resolution": task.resolution,
        }
    )
