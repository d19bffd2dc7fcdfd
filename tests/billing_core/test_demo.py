"""The demo workspaces are exactly the ones of the billing_core issue, relative to now, and
re-seeding replaces them without touching anything else."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
from billing_core.domain import reasons as R
from billing_core.domain.catalog import load_catalog
from billing_core.domain.model import Cycle, OrderStatus, RenewalMode, Status
from billing_core.domain.quotes import quote
from billing_core.domain.rules import ChangeRequest, decide
from billing_core.service_layer import services
from billing_core.service_layer.demo import DEMO_WORKSPACE_IDS, seed_demo
from tests.billing_core import factories as f
from tests.billing_core.factories import AB, DW, NOW, OW

DAY = timedelta(days=1)


@pytest.fixture
def uow(database_url):
    """Through the real database (SQLite and PostgreSQL); the service tests seed the fake one."""
    return SqlAlchemyUnitOfWork(database_url)


def seeded(uow, now=NOW):
    seed_demo(uow, now)
    with uow:
        return {workspace_id: uow.workspaces.get(workspace_id) for workspace_id in uow.workspaces.list_ids()}


def plan(ws, product):
    sub = ws.subscription(product)
    return (sub.tier, sub.status, sub.cycle, sub.seats)


def test_exactly_the_demo_workspaces(uow):
    workspaces = seeded(uow)
    assert (
        sorted(workspaces)
        == sorted(DEMO_WORKSPACE_IDS)
        == sorted(
            [
                "demo-trial",
                "demo-trial-ended",
                "demo-free",
                "demo-monthly",
                "demo-yearly",
                "demo-ow-trial-ended",
                "demo-downgrade-scheduled",
                "demo-pending-payment",
            ]
        )
    )
    for ws in workspaces.values():
        assert ws.name and ws.created_at <= NOW


def test_trials(uow):
    ws = seeded(uow)
    trial = ws["demo-trial"].subscription(DW)
    assert plan(ws["demo-trial"], DW) == ("standard", Status.TRIAL, None, 3)
    assert (trial.period_start, trial.period_end) == (NOW - 12 * DAY, NOW + 18 * DAY)
    ended = ws["demo-trial-ended"].subscription(DW)
    assert plan(ws["demo-trial-ended"], DW) == ("standard", Status.EXPIRED, None, 3)
    assert ended.period_end == NOW - 3 * DAY and ended.period_end - ended.period_start == 30 * DAY
    assert plan(ws["demo-free"], DW)[:3] == ("free", Status.FREE, None)
    assert ws["demo-free"].subscription(DW).period_end is None


def test_monthly(uow):
    ws = seeded(uow)["demo-monthly"]
    dw, ab = ws.subscription(DW), ws.subscription(AB)
    assert plan(ws, DW) == ("starter", Status.ACTIVE, Cycle.MONTHLY, 5)
    assert (dw.period_start, dw.renewal_mode) == (NOW - 10 * DAY, RenewalMode.MANUAL)
    assert plan(ws, AB) == ("starter", Status.TRIAL, None, 5)
    assert (ab.period_start, ab.period_end) == (NOW - 20 * DAY, NOW + 10 * DAY)


def test_yearly(uow):
    ws = seeded(uow)["demo-yearly"]
    dw = ws.subscription(DW)
    assert plan(ws, DW) == ("standard", Status.ACTIVE, Cycle.YEARLY, 10)
    assert (dw.period_start, dw.renewal_mode) == (NOW - 100 * DAY, RenewalMode.AUTO)
    assert dw.period_end.year == dw.period_start.year + 1 and dw.period_end.day == dw.period_start.day
    assert plan(ws, OW) == ("starter", Status.ACTIVE, Cycle.MONTHLY, 10)
    assert ws.subscription(OW).period_start <= NOW < ws.subscription(OW).period_end
    assert plan(ws, AB) == ("standard", Status.ACTIVE, Cycle.YEARLY, 10)
    storage = sorted((p.amount, p.purchased_at) for p in ws.capacity if p.kind == "storage")
    assert storage == [(20, NOW - 10 * DAY), (50, NOW - 100 * DAY)]
    assert ws.capacity_total("automation_runs") == 5000
    assert {p.kind for p in ws.capacity} == {"storage", "automation_runs"}


def test_ow_trial_ended_and_downgrade_scheduled(uow):
    ws = seeded(uow)
    assert plan(ws["demo-ow-trial-ended"], DW) == ("standard", Status.ACTIVE, Cycle.MONTHLY, 8)
    ow = ws["demo-ow-trial-ended"].subscription(OW)
    assert plan(ws["demo-ow-trial-ended"], OW) == ("starter", Status.EXPIRED, None, 8)
    assert ow.period_end == NOW - 2 * DAY
    scheduled_ws = ws["demo-downgrade-scheduled"]
    assert plan(scheduled_ws, DW) == ("premium", Status.ACTIVE, Cycle.MONTHLY, 12)
    assert scheduled_ws.subscription(DW).period_end == NOW + 9 * DAY
    [change] = scheduled_ws.scheduled_changes
    assert (change.product, change.tier, change.seats, change.effective_at) == (DW, "standard", 12, NOW + 9 * DAY)
    assert change.survey_answer


def test_pending_payment(uow):
    ws = seeded(uow)["demo-pending-payment"]
    assert plan(ws, DW) == ("starter", Status.ACTIVE, Cycle.MONTHLY, 4)
    [order] = ws.orders
    assert (order.product, order.tier, order.cycle, order.seats, order.status) == (
        DW,
        "standard",
        Cycle.MONTHLY,
        4,
        OrderStatus.PENDING,
    )
    assert order.created_at == NOW - timedelta(minutes=5)
    assert order.expires_at == order.created_at + timedelta(minutes=15)
    assert re.fullmatch(r"[A-Z0-9]{8,40}", order.txn_ref)
    before_order = ws
    before_order.orders = []
    expected = quote(
        load_catalog(),
        before_order,
        ChangeRequest(DW, "standard", cycle="monthly", seats=4),
        NOW - timedelta(minutes=5),
    )
    assert order.amount_vnd == expected.total_vnd > 0


def test_the_demo_workspaces_answer_as_the_assistant_expects(uow):
    ws = seeded(uow)
    catalog = load_catalog()

    def codes(workspace_id, request):
        return decide(catalog, ws[workspace_id], request, NOW).codes

    assert R.TRIAL_NOT_OVER in codes("demo-trial", ChangeRequest(DW, "free"))
    assert codes("demo-trial-ended", ChangeRequest(DW, "free"))[0] == R.FREE_IMMEDIATE
    assert R.NO_FREE_EDITION in codes("demo-ow-trial-ended", ChangeRequest(OW, "free"))
    assert codes("demo-ow-trial-ended", ChangeRequest(OW, "standard"))[0] == R.UPGRADE_IMMEDIATE
    assert R.ADDON_CYCLE_LONGER_THAN_BASE in codes("demo-monthly", ChangeRequest(AB, "standard", cycle="yearly"))
    assert R.YEARLY_TO_MONTHLY_ON_UPGRADE in codes("demo-yearly", ChangeRequest(DW, "premium", cycle="monthly"))
    assert R.PAYMENT_PENDING in codes("demo-pending-payment", ChangeRequest(DW, "premium"))
    assert R.REPLACES_SCHEDULED_CHANGE in codes("demo-downgrade-scheduled", ChangeRequest(DW, "starter"))


def test_reseeding_replaces_the_demo_and_touches_nothing_else(uow):
    other = f.workspace("customer-1")
    f.paid(other, DW, "premium", "yearly", seats=40)
    with uow:
        uow.workspaces.add(other)
        uow.commit()
    first = seeded(uow)
    services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "premium"), NOW)
    services.cancel_scheduled_change(uow, "demo-downgrade-scheduled", DW, NOW)
    second = seeded(uow)
    assert sorted(second) == sorted(first)
    for workspace_id in DEMO_WORKSPACE_IDS:
        assert comparable(second[workspace_id]) == comparable(first[workspace_id]), workspace_id
    assert comparable(second["customer-1"]) == comparable(first["customer-1"])
    assert second["customer-1"].version == first["customer-1"].version
    first_ref = first["demo-pending-payment"].orders[0].txn_ref
    assert second["demo-pending-payment"].orders[0].txn_ref != first_ref  # a new order, a new reference
    with uow:
        actions = [e.action for e in uow.workspaces.audit_entries("demo-monthly")]
    assert actions == ["demo_seeded", "change_applied", "demo_seeded"]  # the history stays


def comparable(ws):
    """A workspace without its database ids and order references."""

    def strip(items):
        return [
            {
                k: v
                for k, v in vars(item).items()
                if k not in ("id", "txn_ref", "workspace_id") and not k.startswith("_")
            }
            for item in items
        ]

    return (
        ws.id,
        ws.name,
        ws.created_at,
        strip(ws.subscriptions),
        strip(ws.capacity),
        strip(ws.scheduled_changes),
        strip(ws.orders),
        strip(ws.retention_tasks),
    )


def test_dates_are_relative_to_now(uow):
    later = NOW + 40 * DAY
    ws = seeded(uow, later)["demo-trial"]
    assert ws.subscription(DW).period_end == later + 18 * DAY
