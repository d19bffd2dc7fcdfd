"""The demo workspaces of the billing_core issue, with dates relative to ``now``.

``seed_demo(uow, now)`` deletes the workspaces whose ids are listed in ``DEMO_WORKSPACE_IDS`` and
creates them again in one transaction; nothing else in the database is touched (their audit
trail stays and gets a ``demo_seeded`` entry). Used by ``make run``, by tests, and by
``python -m billing_core seed-demo``.

Choices where the issue is silent (add-on seats follow Digital Workspace, as the brief says):
- demo-free has 5 users; demo-ow-trial-ended's Digital Workspace period started 15 days ago;
- demo-yearly's monthly Operations Workflow period runs on the same day of the month as the
  yearly Digital Workspace (current monthly period), its App Builder has the DW's yearly period,
  and its 5,000 automation runs were bought 100 days ago with the plans; all renew automatically;
- demo-downgrade-scheduled's downgrade was scheduled 2 days ago with a survey answer;
- demo-pending-payment's order costs what ``quote`` says for that change at the time it was made.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Callable, Dict, List, Optional

from billing_core.domain.catalog import Catalog, load_catalog
from billing_core.domain.clock import VIETNAM, utc_or_now
from billing_core.domain.model import (
    AuditEntry,
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
from billing_core.domain.quotes import add_months, quote
from billing_core.domain.rules import ChangeRequest
from billing_core.service_layer.common import UnitOfWork

DW, OW, AB = "digital_workspace", "operations_workflow", "app_builder"
DEMO_ACTOR = "demo"


def _days(n: float) -> timedelta:
    return timedelta(days=n)


def _trial(product: str, tier: str, seats: int, started: datetime, trial_days: int) -> Subscription:
    return Subscription(
        product=product,
        tier=tier,
        status=Status.TRIAL,
        seats=seats,
        period_start=started,
        period_end=started + _days(trial_days),
    )


def _paid(
    product: str, tier: str, cycle: Cycle, seats: int, started: datetime, renewal: RenewalMode = RenewalMode.MANUAL
) -> Subscription:
    return Subscription(
        product=product,
        tier=tier,
        status=Status.ACTIVE,
        seats=seats,
        period_start=started,
        period_end=add_months(started, cycle.months),
        cycle=cycle,
        renewal_mode=renewal,
    )


def _current_monthly_start(anchor: datetime, now: datetime) -> datetime:
    """The start of the monthly period that contains ``now``, on ``anchor``'s day of the month."""
    months = 0
    while add_months(anchor, months + 1) <= now:
        months += 1
    return add_months(anchor, months)


def _workspace(workspace_id: str, name: str, created_at: datetime) -> Workspace:
    return Workspace(id=workspace_id, name=name, created_at=created_at)


def demo_trial(now: datetime, catalog: Catalog) -> Workspace:
    ws = _workspace("demo-trial", "Công ty Sen Vàng (dùng thử)", now - _days(12))
    ws.subscriptions.append(_trial(DW, "standard", 3, now - _days(12), catalog.trial_days))
    return ws


def demo_trial_ended(now: datetime, catalog: Catalog) -> Workspace:
    ws = _workspace("demo-trial-ended", "Công ty Mai Anh (hết hạn dùng thử)", now - _days(3 + catalog.trial_days))
    trial = _trial(DW, "standard", 3, now - _days(3 + catalog.trial_days), catalog.trial_days)
    trial.status = Status.EXPIRED  # ended 3 days ago, never paid
    ws.subscriptions.append(trial)
    return ws


def demo_free(now: datetime, catalog: Catalog) -> Workspace:
    ws = _workspace("demo-free", "Nhóm Tre Xanh (bản Free)", now - _days(60))
    ws.subscriptions.append(
        Subscription(
            product=DW, tier="free", status=Status.FREE, seats=5, period_start=now - _days(60), period_end=None
        )
    )
    return ws


def demo_monthly(now: datetime, catalog: Catalog) -> Workspace:
    ws = _workspace("demo-monthly", "Công ty Hòa Bình (trả theo tháng)", now - _days(40))
    ws.subscriptions.append(_paid(DW, "starter", Cycle.MONTHLY, 5, now - _days(10), RenewalMode.MANUAL))
    ws.subscriptions.append(_trial(AB, "starter", 5, now - _days(20), catalog.trial_days))
    return ws


def demo_yearly(now: datetime, catalog: Catalog) -> Workspace:
    started = now - _days(100)
    ws = _workspace("demo-yearly", "Tập đoàn Phương Nam (trả theo năm)", now - _days(130))
    ws.subscriptions.append(_paid(DW, "standard", Cycle.YEARLY, 10, started, RenewalMode.AUTO))
    ws.subscriptions.append(
        _paid(OW, "starter", Cycle.MONTHLY, 10, _current_monthly_start(started, now), RenewalMode.AUTO)
    )
    ws.subscriptions.append(_paid(AB, "standard", Cycle.YEARLY, 10, started, RenewalMode.AUTO))
    ws.capacity.extend(
        [
            CapacityPurchase(kind="storage", amount=50, purchased_at=now - _days(100)),
            CapacityPurchase(kind="storage", amount=20, purchased_at=now - _days(10)),
            CapacityPurchase(kind="automation_runs", amount=5000, purchased_at=now - _days(100)),
        ]
    )
    return ws


def demo_ow_trial_ended(now: datetime, catalog: Catalog) -> Workspace:
    ws = _workspace("demo-ow-trial-ended", "Công ty Bắc Hà (hết dùng thử Quy trình)", now - _days(60))
    ws.subscriptions.append(_paid(DW, "standard", Cycle.MONTHLY, 8, now - _days(15)))
    trial = _trial(OW, "starter", 8, now - _days(2 + catalog.trial_days), catalog.trial_days)
    trial.status = Status.EXPIRED  # ended 2 days ago
    ws.subscriptions.append(trial)
    return ws


def demo_downgrade_scheduled(now: datetime, catalog: Catalog) -> Workspace:
    period_end = now + _days(9)
    ws = _workspace("demo-downgrade-scheduled", "Công ty Thành Công (đã hẹn hạ gói)", now - _days(200))
    ws.subscriptions.append(_paid(DW, "premium", Cycle.MONTHLY, 12, add_months(period_end, -1)))
    ws.scheduled_changes.append(
        ScheduledChange(
            product=DW,
            tier="standard",
            cycle=Cycle.MONTHLY,
            seats=12,
            effective_at=period_end,
            survey_answer="Chi phí cao so với nhu cầu hiện tại",
            created_at=now - _days(2),
        )
    )
    return ws


def demo_txn_ref(created_at: datetime) -> str:
    """Looks like the pay references VNPAY shows (Vietnam date-time), unique per seeding."""
    return "DEMO" + created_at.astimezone(VIETNAM).strftime("%y%m%d%H%M%S") + secrets.token_hex(3).upper()


def demo_pending_payment(now: datetime, catalog: Catalog) -> Workspace:
    ws = _workspace("demo-pending-payment", "Công ty Lạc Việt (đang chờ thanh toán)", now - _days(50))
    ws.subscriptions.append(_paid(DW, "starter", Cycle.MONTHLY, 4, now - _days(20)))
    created = now - timedelta(minutes=5)
    request = ChangeRequest(product=DW, tier="standard", cycle=Cycle.MONTHLY, seats=4)
    price = quote(catalog, ws, request, created)
    ws.orders.append(
        Order(
            txn_ref=demo_txn_ref(created),
            kind=OrderKind.UPGRADE,
            product=DW,
            tier="standard",
            cycle=Cycle.MONTHLY,
            seats=4,
            addons={},
            amount_vnd=price.total_vnd,
            status=OrderStatus.PENDING,
            created_at=created,
            expires_at=created + timedelta(minutes=catalog.order_expiry_minutes),
            renewal_mode=RenewalMode.MANUAL,
        )
    )
    return ws


BUILDERS: Dict[str, Callable[[datetime, Catalog], Workspace]] = {
    "demo-trial": demo_trial,
    "demo-trial-ended": demo_trial_ended,
    "demo-free": demo_free,
    "demo-monthly": demo_monthly,
    "demo-yearly": demo_yearly,
    "demo-ow-trial-ended": demo_ow_trial_ended,
    "demo-downgrade-scheduled": demo_downgrade_scheduled,
    "demo-pending-payment": demo_pending_payment,
}
DEMO_WORKSPACE_IDS = tuple(BUILDERS)
# What each demo shows, for the demo login page (Vietnamese, the page's language).
DEMO_WORKSPACE_LABELS: Dict[str, str] = {
    "demo-trial": "Đang dùng thử",
    "demo-trial-ended": "Hết hạn dùng thử",
    "demo-free": "Bản Free",
    "demo-monthly": "Trả phí theo tháng",
    "demo-yearly": "Trả phí theo năm",
    "demo-ow-trial-ended": "Quy trình vận hành hết dùng thử",
    "demo-downgrade-scheduled": "Đã lên lịch hạ gói",
    "demo-pending-payment": "Đơn hàng chờ thanh toán",
}


def build_demo_workspaces(now: datetime, catalog: Optional[Catalog] = None) -> List[Workspace]:
    catalog = catalog or load_catalog()
    return [build(now, catalog) for build in BUILDERS.values()]


def seed_demo(uow: UnitOfWork, now: Optional[datetime] = None, catalog: Optional[Catalog] = None) -> List[str]:
    """(Re)create the demo workspaces in one transaction; returns their ids."""
    now = utc_or_now(now)
    workspaces = build_demo_workspaces(now, catalog)
    with uow:
        for workspace in workspaces:
            existing = uow.workspaces.get(workspace.id, for_update=True)
            if existing is not None:
                uow.workspaces.delete(existing)
        for workspace in workspaces:
            uow.workspaces.add(workspace)
            uow.workspaces.audit(
                AuditEntry(
                    workspace_id=workspace.id,
                    at=now,
                    actor=DEMO_ACTOR,
                    action="demo_seeded",
                    detail={"version": workspace.version},
                )
            )
        uow.commit()
    return [workspace.id for workspace in workspaces]
