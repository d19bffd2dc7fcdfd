"""State changes of the Workspace aggregate, pure (services.py wraps them in a unit of work).

* ``apply_immediate(catalog, workspace, target, now, renewal_mode=None)`` - an IMMEDIATE change
  (a paid upgrade once its payment succeeded, or a move to Free that costs nothing);
* ``apply_decision(catalog, workspace, decision, now, renewal_mode=None)`` - the same, refusing a
  decision that is not IMMEDIATE;
* ``schedule_change(workspace, decision, now, survey_answer, confirmed)`` - a NEXT_CYCLE downgrade
  ("Gói gia hạn tiếp theo"), replacing an earlier scheduled one;
* ``cancel_scheduled_change(workspace, product)``;
* ``renew(catalog, workspace, product, now)`` - at period end: apply the scheduled change (with its
  retention tasks) and start the next period;
* ``expire_trials(workspace, now)``.

Each mutation calls ``workspace.touch()`` so the adapter can refuse a concurrent write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, List, Optional, cast

from billing_core.domain.errors import (
    ChangeNotAllowedError,
    ConfirmationRequiredError,
    NoScheduledChangeError,
    SurveyAnswerRequiredError,
)
from billing_core.domain.model import (
    CapacityPurchase,
    Cycle,
    Outcome,
    RenewalMode,
    RetentionTask,
    ScheduledChange,
    Status,
    Subscription,
    Workspace,
)
from billing_core.domain.pricing import charged_period, next_period_end
from billing_core.domain.retention import tasks_for_change
from billing_core.domain.rules import Decision, PlanTarget

if TYPE_CHECKING:
    from billing_core.domain.catalog import Catalog


def apply_immediate(
    catalog: "Catalog",
    workspace: Workspace,
    target: PlanTarget,
    now: datetime,
    renewal_mode: Optional[RenewalMode] = None,
) -> Subscription:
    """Put ``target`` in force now. The caller has decided (and, for a paid plan, been paid).

    Paid plan: same cycle as a running paid plan keeps its period end; otherwise a new period of
    one cycle starts now (the same periods the quote charged). Free: no cycle, no period end.
    Capacity in ``target.addons`` is recorded as purchases made now. A scheduled change of the
    product is cancelled (the upgrade replaces it). Moving down to Free creates retention tasks.
    """
    sub = workspace.subscription(target.product)
    start, end, same_period = charged_period(sub, target, now)
    retention: List[RetentionTask] = []
    if sub is not None and not target.paid and sub.tier != target.tier:
        retention = tasks_for_change(catalog, workspace, target.product, sub.tier, target.tier, now, now)
    anchor = start if target.paid else None  # a new paid period anchors the cycle at its start
    if sub is None:
        sub = Subscription(
            product=target.product,
            tier=target.tier,
            status=target.status,
            seats=target.seats,
            period_start=start,
            period_end=end,
            cycle=target.cycle,
            renewal_mode=renewal_mode or RenewalMode.MANUAL,
            billing_anchor=anchor,
        )
        workspace.subscriptions.append(sub)
    else:
        sub.tier, sub.seats, sub.cycle, sub.status = target.tier, target.seats, target.cycle, target.status
        if not same_period:
            sub.period_start, sub.period_end, sub.billing_anchor = start, end, anchor
        if renewal_mode is not None:
            sub.renewal_mode = renewal_mode
    for kind, amount in target.addons.items():
        workspace.capacity.append(CapacityPurchase(kind=kind, amount=amount, purchased_at=now))
    scheduled = workspace.scheduled_change(target.product)
    if scheduled is not None:
        workspace.scheduled_changes.remove(scheduled)
    workspace.retention_tasks.extend(retention)
    workspace.touch()
    return sub


def apply_decision(
    catalog: "Catalog",
    workspace: Workspace,
    decision: Decision,
    now: datetime,
    renewal_mode: Optional[RenewalMode] = None,
) -> Subscription:
    if decision.outcome is not Outcome.IMMEDIATE:
        raise ChangeNotAllowedError(
            {"product": decision.target.product, "outcome": decision.outcome.value, "reasons": decision.codes}
        )
    return apply_immediate(catalog, workspace, decision.target, now, renewal_mode)


def schedule_change(
    workspace: Workspace, decision: Decision, now: datetime, survey_answer: Optional[str], confirmed: bool
) -> ScheduledChange:
    """Record a NEXT_CYCLE downgrade; it replaces the product's earlier scheduled change.

    The article's steps: a survey answer and the explicit confirmation tick are both required.
    """
    if decision.outcome is not Outcome.NEXT_CYCLE:
        raise ChangeNotAllowedError(
            {"product": decision.target.product, "outcome": decision.outcome.value, "reasons": decision.codes}
        )
    if not isinstance(survey_answer, str) or not survey_answer.strip():
        raise SurveyAnswerRequiredError({"product": decision.target.product})
    if confirmed is not True:
        raise ConfirmationRequiredError({"product": decision.target.product})
    target = decision.target
    previous = workspace.scheduled_change(target.product)
    if previous is not None and decision.facts.get("same_as_scheduled"):
        return previous  # asked again for exactly what is scheduled: nothing changes
    if previous is not None:
        workspace.scheduled_changes.remove(previous)
    change = ScheduledChange(
        product=target.product,
        tier=target.tier,
        cycle=target.cycle,
        seats=target.seats,
        # cast: decide() always sets effective_at for a NEXT_CYCLE decision
        effective_at=cast(datetime, decision.effective_at),
        survey_answer=survey_answer.strip(),
        created_at=now,
    )
    workspace.scheduled_changes.append(change)
    workspace.touch()
    return change


def cancel_scheduled_change(workspace: Workspace, product: str) -> ScheduledChange:
    change = workspace.scheduled_change(product)
    if change is None:
        raise NoScheduledChangeError({"product": product})
    workspace.scheduled_changes.remove(change)
    workspace.touch()
    return change


@dataclass
class Renewal:
    subscription: Subscription
    applied: Optional[ScheduledChange] = None  # the scheduled change that took effect, if any
    retention_tasks: List[RetentionTask] = field(default_factory=list)


def renew(catalog: "Catalog", workspace: Workspace, product: str, now: datetime) -> Optional[Renewal]:
    """Roll a paid plan whose period has ended into its next period (None when nothing is due).

    A scheduled change takes effect at the old period end: the new tier/cycle/seats (Free: no
    cycle, no period end) and the retention tasks of the downgrade. Payment of the new period is
    the caller's business (auto-renewal orders live in payments.py).
    """
    sub = workspace.subscription(product)
    if sub is None or sub.status is not Status.ACTIVE or sub.period_end is None or sub.period_end > now:
        return None
    boundary = sub.period_end
    anchor = sub.billing_anchor or sub.period_start
    change = workspace.scheduled_change(product)
    tasks: List[RetentionTask] = []
    if change is not None:
        if change.tier != sub.tier:
            tasks = tasks_for_change(catalog, workspace, product, sub.tier, change.tier, boundary, now)
        paid = catalog.tiers[change.tier].paid
        if not paid or change.cycle != sub.cycle:
            anchor = boundary  # a new cycle (or none) starts at the boundary
        sub.tier, sub.seats = change.tier, change.seats
        sub.cycle = change.cycle if paid else None
        sub.status = Status.ACTIVE if paid else Status.FREE
        workspace.scheduled_changes.remove(change)
        workspace.retention_tasks.extend(tasks)
    sub.period_start = boundary
    if sub.status is Status.ACTIVE:
        # Keep the anchor's day of the month: 31/01 -> 28/02 -> 31/03, not 28/03.
        # cast: an active plan has a cycle (kept, or the paid scheduled change's)
        sub.period_end = next_period_end(boundary, cast(Cycle, sub.cycle).months, anchor)
        sub.billing_anchor = anchor
    else:
        sub.period_end = sub.billing_anchor = None
    workspace.touch()
    return Renewal(subscription=sub, applied=change, retention_tasks=tasks)


def expire_trials(workspace: Workspace, now: datetime) -> List[Subscription]:
    """Trials whose 30 days are over become expired (unpaid); returns the ones that changed."""
    expired = [
        sub
        for sub in workspace.subscriptions
        if sub.status is Status.TRIAL and sub.period_end is not None and sub.period_end <= now
    ]
    for sub in expired:
        sub.status = Status.EXPIRED
    if expired:
        workspace.touch()
    return expired
