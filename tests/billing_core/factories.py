"""Build Workspace aggregates in memory (no database) for the domain tests and the persistence tests.

All datetimes are timezone-aware UTC, like the rest of the system. ``NOW`` is a fixed moment
so that tables of expected dates stay readable.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Dict, Optional

from billing_core.domain.model import (
    CapacityPurchase,
    Cycle,
    Order,
    OrderKind,
    OrderStatus,
    RenewalMode,
    ScheduledChange,
    Status,
    Subscription,
    Workspace,
)
from billing_core.domain.quotes import add_months

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
DW, OW, AB = "digital_workspace", "operations_workflow", "app_builder"
TRIAL_DAYS = 30


def workspace(workspace_id: str = "ws-test", name: Optional[str] = None, created_days_ago: int = 400) -> Workspace:
    return Workspace(id=workspace_id, name=name or workspace_id, created_at=NOW - timedelta(days=created_days_ago))


def paid(
    ws: Workspace,
    product: str,
    tier: str,
    cycle: str = "monthly",
    seats: int = 5,
    started_days_ago: int = 10,
    renewal_mode: RenewalMode = RenewalMode.MANUAL,
    now: datetime = NOW,
) -> Subscription:
    """An active paid plan whose current period started ``started_days_ago`` days ago."""
    cycle_value = Cycle(cycle)
    start = now - timedelta(days=started_days_ago)
    sub = Subscription(
        product=product,
        tier=tier,
        status=Status.ACTIVE,
        seats=seats,
        period_start=start,
        period_end=add_months(start, cycle_value.months),
        cycle=cycle_value,
        renewal_mode=renewal_mode,
    )
    ws.subscriptions.append(sub)
    return sub


def trial(
    ws: Workspace,
    product: str,
    tier: str = "standard",
    seats: int = 3,
    started_days_ago: int = 12,
    now: datetime = NOW,
    status: Optional[Status] = None,
) -> Subscription:
    """A 30-day trial (status TRIAL, or EXPIRED when asked and the 30 days are over)."""
    start = now - timedelta(days=started_days_ago)
    sub = Subscription(
        product=product,
        tier=tier,
        status=status or Status.TRIAL,
        seats=seats,
        period_start=start,
        period_end=start + timedelta(days=TRIAL_DAYS),
        cycle=None,
    )
    ws.subscriptions.append(sub)
    return sub


def free(ws: Workspace, seats: int = 3, now: datetime = NOW) -> Subscription:
    sub = Subscription(
        product=DW,
        tier="free",
        status=Status.FREE,
        seats=seats,
        period_start=now - timedelta(days=60),
        period_end=None,
        cycle=None,
    )
    ws.subscriptions.append(sub)
    return sub


def capacity(ws: Workspace, kind: str, amount: int, days_ago: int, now: datetime = NOW) -> CapacityPurchase:
    purchase = CapacityPurchase(kind=kind, amount=amount, purchased_at=now - timedelta(days=days_ago))
    ws.capacity.append(purchase)
    return purchase


def scheduled(
    ws: Workspace,
    product: str,
    tier: str,
    cycle: Optional[str] = "monthly",
    seats: Optional[int] = None,
    now: datetime = NOW,
) -> ScheduledChange:
    """A downgrade scheduled for the end of the product's current period."""
    sub = ws.subscription(product)
    change = ScheduledChange(
        product=product,
        tier=tier,
        cycle=Cycle(cycle) if cycle else None,
        seats=seats if seats is not None else sub.seats,
        effective_at=sub.period_end,
        survey_answer="too expensive",
        created_at=now - timedelta(days=1),
    )
    ws.scheduled_changes.append(change)
    return change


def pending_order(
    ws: Workspace,
    product: str,
    tier: str,
    cycle: str = "monthly",
    seats: int = 4,
    minutes_ago: int = 5,
    txn_ref: str = "ORD20261126-0001",
    addons: Optional[Dict[str, int]] = None,
    amount_vnd: int = 400000,
    now: datetime = NOW,
    expiry_minutes: int = 15,
) -> Order:
    created = now - timedelta(minutes=minutes_ago)
    order = Order(
        txn_ref=txn_ref,
        kind=OrderKind.UPGRADE,
        product=product,
        tier=tier,
        cycle=Cycle(cycle),
        seats=seats,
        addons=dict(addons or {}),
        amount_vnd=amount_vnd,
        status=OrderStatus.PENDING,
        created_at=created,
        expires_at=created + timedelta(minutes=expiry_minutes),
    )
    ws.orders.append(order)
    return order


# --- the demo workspaces of the billing_core issue, in memory ---------------------------------
def demo_workspaces(now: datetime = NOW) -> Dict[str, Workspace]:
    result: Dict[str, Workspace] = {}

    ws = result["demo-trial"] = workspace("demo-trial")
    trial(ws, DW, "standard", seats=3, started_days_ago=12, now=now)

    ws = result["demo-trial-ended"] = workspace("demo-trial-ended")
    trial(ws, DW, "standard", seats=3, started_days_ago=33, now=now, status=Status.EXPIRED)

    ws = result["demo-free"] = workspace("demo-free")
    free(ws, now=now)

    ws = result["demo-monthly"] = workspace("demo-monthly")
    paid(ws, DW, "starter", "monthly", seats=5, started_days_ago=10, now=now)
    trial(ws, AB, "starter", seats=5, started_days_ago=20, now=now)

    ws = result["demo-yearly"] = workspace("demo-yearly")
    paid(ws, DW, "standard", "yearly", seats=10, started_days_ago=100, renewal_mode=RenewalMode.AUTO, now=now)
    paid(ws, OW, "starter", "monthly", seats=10, started_days_ago=5, now=now)
    paid(ws, AB, "standard", "yearly", seats=10, started_days_ago=100, now=now)
    capacity(ws, "storage", 50, 100, now=now)
    capacity(ws, "storage", 20, 10, now=now)
    capacity(ws, "automation_runs", 5000, 5, now=now)

    ws = result["demo-ow-trial-ended"] = workspace("demo-ow-trial-ended")
    paid(ws, DW, "standard", "monthly", seats=8, started_days_ago=3, now=now)
    trial(ws, OW, "starter", seats=8, started_days_ago=32, now=now)

    ws = result["demo-downgrade-scheduled"] = workspace("demo-downgrade-scheduled")
    sub = paid(ws, DW, "premium", "monthly", seats=12, started_days_ago=1, now=now)
    sub.period_end = now + timedelta(days=9)
    sub.period_start = add_months(sub.period_end, -1)
    scheduled(ws, DW, "standard", "monthly", now=now)

    ws = result["demo-pending-payment"] = workspace("demo-pending-payment")
    paid(ws, DW, "starter", "monthly", seats=4, started_days_ago=10, now=now)
    pending_order(ws, DW, "standard", "monthly", seats=4, minutes_ago=5, now=now)
    return result
