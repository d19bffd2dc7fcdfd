"""Table-driven tests of the plan-change rules: every rule case of the catalog and every reason."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from billing_core.domain import reasons as R
from billing_core.domain.catalog import load_catalog
from billing_core.domain.errors import (
    InvalidCapacityAmountError,
    InvalidSeatsError,
    UnknownCapacityKindError,
    UnknownCycleError,
    UnknownProductError,
    UnknownTierError,
)
from billing_core.domain.messages import render_error
from billing_core.domain.model import Cycle, Effective, OrderStatus, Outcome, Status
from billing_core.domain.rules import ChangeRequest, decide, resolve_target
from tests.billing_core import factories as f
from tests.billing_core.factories import AB, DW, NOW, OW


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def demo(name):
    return f.demo_workspaces()[name]


# --- small builders for situations the demo workspaces do not cover -------------------------------
def dw_yearly_alone():
    ws = f.workspace()
    f.paid(ws, DW, "standard", "yearly", seats=10, started_days_ago=100)
    return ws


def dw_yearly_scheduled_monthly():
    ws = dw_yearly_alone()
    f.scheduled(ws, DW, "standard", "monthly")
    return ws


def dw_scheduled_free():
    ws = f.workspace()
    f.paid(ws, DW, "standard", "monthly", seats=5)
    f.scheduled(ws, DW, "free", None)
    return ws


def trial_over_but_not_expired_yet():
    """The 30 days are over but the expiry job has not run: still status TRIAL."""
    ws = f.workspace()
    f.trial(ws, DW, "standard", seats=3, started_days_ago=31)
    return ws


def addon_scheduled_monthly():
    ws = f.demo_workspaces()["demo-yearly"]
    f.scheduled(ws, AB, "starter", "monthly")
    return ws


def addon_scheduled_monthly_later():
    """DW yearly ends first; App Builder's year (and its scheduled move to monthly) ends later."""
    ws = dw_yearly_alone()
    f.paid(ws, AB, "standard", "yearly", seats=10, started_days_ago=50)
    f.scheduled(ws, AB, "standard", "monthly")
    return ws


def hundred_seats_monthly():
    """Issue item E: 100 seats monthly, asking for 2 seats yearly (a longer cycle: an upgrade)."""
    ws = f.workspace()
    f.paid(ws, DW, "standard", "monthly", seats=100, started_days_ago=3)
    return ws


def hundred_seats_monthly_scheduled():
    ws = hundred_seats_monthly()
    f.scheduled(ws, DW, "starter", "monthly", seats=50)
    return ws


def no_digital_workspace():
    return f.workspace()


def expired_pending_order():
    ws = f.workspace()
    f.paid(ws, DW, "starter", "monthly", seats=4)
    f.pending_order(ws, DW, "standard", minutes_ago=30)  # its 15 minutes are over
    return ws


def paid_pending_order():
    ws = expired_pending_order()
    ws.orders[0].status = OrderStatus.PAID
    ws.orders[0].expires_at = NOW + timedelta(minutes=10)
    return ws


W = {name: (lambda name=name: demo(name)) for name in f.demo_workspaces()}
W.update(
    {
        "dw-yearly-alone": dw_yearly_alone,
        "dw-yearly-scheduled-monthly": dw_yearly_scheduled_monthly,
        "dw-scheduled-free": dw_scheduled_free,
        "trial-over-not-expired": trial_over_but_not_expired_yet,
        "no-dw": no_digital_workspace,
        "addon-scheduled-monthly": addon_scheduled_monthly,
        "addon-scheduled-monthly-later": addon_scheduled_monthly_later,
        "hundred-seats-monthly": hundred_seats_monthly,
        "hundred-seats-monthly-scheduled": hundred_seats_monthly_scheduled,
        "expired-pending-order": expired_pending_order,
        "paid-order": paid_pending_order,
    }
)

# id, workspace, request, rule id, outcome, reason codes (in order), fix codes (in order)
CASES = [
    (
        "same plan",
        "demo-monthly",
        ChangeRequest(DW, "starter", "monthly", 5),
        "no_change",
        "BLOCKED",
        [R.NO_CHANGE],
        [R.FIX_CHOOSE_DIFFERENT_PLAN],
    ),
    (
        "same plan, values kept",
        "demo-yearly",
        ChangeRequest(AB, "standard"),
        "no_change",
        "BLOCKED",
        [R.NO_CHANGE],
        [R.FIX_CHOOSE_DIFFERENT_PLAN],
    ),
    (
        "free to free",
        "demo-free",
        ChangeRequest(DW, "free"),
        "no_change",
        "BLOCKED",
        [R.NO_CHANGE],
        [R.FIX_CHOOSE_DIFFERENT_PLAN],
    ),
    (
        "payment pending",
        "demo-pending-payment",
        ChangeRequest(DW, "premium"),
        "payment_pending",
        "BLOCKED",
        [R.PAYMENT_PENDING],
        [R.FIX_FINISH_PENDING_PAYMENT, R.FIX_WAIT_FOR_ORDER_EXPIRY],
    ),
    (
        "pending order expired",
        "expired-pending-order",
        ChangeRequest(DW, "standard"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "paid order is not pending",
        "paid-order",
        ChangeRequest(DW, "standard"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "same as the scheduled downgrade",
        "demo-downgrade-scheduled",
        ChangeRequest(DW, "standard"),
        "already_scheduled",
        "NEXT_CYCLE",
        [R.ALREADY_SCHEDULED, R.SHOWN_AS_NEXT_RENEWAL_PLAN, R.FEATURE_DATA_WILL_BE_DELETED],
        [],
    ),
    (
        "keep the plan while a downgrade is scheduled",
        "demo-downgrade-scheduled",
        ChangeRequest(DW, "premium"),
        "keep_plan_while_scheduled",
        "BLOCKED",
        [R.KEEP_PLAN_WHILE_SCHEDULED],
        [R.FIX_CANCEL_SCHEDULED_TO_KEEP],
    ),
    (
        "credit larger than the charge waits for the renewal",
        "hundred-seats-monthly",
        ChangeRequest(DW, "standard", "yearly", 2),
        "credit_kept_change_at_renewal",
        "NEXT_CYCLE",
        [R.CHANGE_AT_RENEWAL_KEEPS_CREDIT, R.SCHEDULED_THROUGH_SUPPORT],
        [],
    ),
    (
        "credit kept, replacing a scheduled downgrade",
        "hundred-seats-monthly-scheduled",
        ChangeRequest(DW, "standard", "yearly", 2),
        "credit_kept_replaces_scheduled",
        "NEXT_CYCLE",
        [R.CHANGE_AT_RENEWAL_KEEPS_CREDIT, R.REPLACES_SCHEDULED_CHANGE, R.SCHEDULED_THROUGH_SUPPORT],
        [],
    ),
    (
        "capacity with a change that waits for the renewal",
        "hundred-seats-monthly",
        ChangeRequest(DW, "standard", "yearly", 2, {"storage": 10}),
        "capacity_not_with_change_at_renewal",
        "BLOCKED",
        [R.CAPACITY_NEEDS_UPGRADE],
        [R.FIX_BUY_CAPACITY_SEPARATELY],
    ),
    (
        "app builder trial to free",
        "demo-monthly",
        ChangeRequest(AB, "free"),
        "addon_has_no_free_edition",
        "BLOCKED",
        [R.NO_FREE_EDITION],
        [R.FIX_UPGRADE_TO_PAID_TIER],
    ),
    (
        "operations workflow after trial to free",
        "demo-ow-trial-ended",
        ChangeRequest(OW, "free"),
        "addon_has_no_free_edition",
        "BLOCKED",
        [R.NO_FREE_EDITION],
        [R.FIX_UPGRADE_TO_PAID_TIER],
    ),
    (
        "paid app builder to free",
        "demo-yearly",
        ChangeRequest(AB, "free"),
        "addon_has_no_free_edition",
        "BLOCKED",
        [R.NO_FREE_EDITION],
        [R.FIX_UPGRADE_TO_PAID_TIER],
    ),
    (
        "add-on has no premium",
        "demo-yearly",
        ChangeRequest(AB, "premium"),
        "tier_not_offered",
        "BLOCKED",
        [R.TIER_NOT_OFFERED],
        [R.FIX_CHOOSE_OFFERED_TIER],
    ),
    (
        "DW to free during trial",
        "demo-trial",
        ChangeRequest(DW, "free"),
        "free_only_after_trial",
        "BLOCKED",
        [R.TRIAL_NOT_OVER],
        [R.FIX_WAIT_UNTIL_TRIAL_END, R.FIX_BUY_PAID_PLAN],
    ),
    (
        "buy add-on during DW trial",
        "demo-trial",
        ChangeRequest(AB, "starter", "monthly", 3),
        "addon_needs_paid_base",
        "BLOCKED",
        [R.ADDON_REQUIRES_PAID_BASE],
        [R.FIX_BUY_PAID_BASE_FIRST],
    ),
    (
        "buy add-on on DW free",
        "demo-free",
        ChangeRequest(OW, "starter", "monthly", 3),
        "addon_needs_paid_base",
        "BLOCKED",
        [R.ADDON_REQUIRES_PAID_BASE],
        [R.FIX_BUY_PAID_BASE_FIRST],
    ),
    (
        "buy add-on while DW is scheduled for free",
        "dw-scheduled-free",
        ChangeRequest(AB, "starter", "monthly"),
        "addon_needs_paid_base",
        "BLOCKED",
        [R.ADDON_REQUIRES_PAID_BASE],
        [R.FIX_CANCEL_SCHEDULED_CHANGE],
    ),
    (
        "DW to free while paid add-ons stay",
        "demo-yearly",
        ChangeRequest(DW, "free"),
        "addon_needs_paid_base",
        "BLOCKED",
        [R.ADDON_REQUIRES_PAID_BASE],
        [R.FIX_END_ADDON_FIRST, R.FIX_END_ADDON_FIRST],
    ),
    (
        "yearly to monthly on upgrade",
        "dw-yearly-alone",
        ChangeRequest(DW, "premium", "monthly"),
        "no_monthly_on_yearly_upgrade",
        "BLOCKED",
        [R.YEARLY_TO_MONTHLY_ON_UPGRADE],
        [R.FIX_KEEP_YEARLY],
    ),
    (
        "yearly to monthly on upgrade, add-on yearly too",
        "demo-yearly",
        ChangeRequest(DW, "premium", "monthly"),
        "no_monthly_on_yearly_upgrade",
        "BLOCKED",
        [R.YEARLY_TO_MONTHLY_ON_UPGRADE],
        [R.FIX_KEEP_YEARLY],
    ),
    (
        "add-on yearly on monthly DW",
        "demo-monthly",
        ChangeRequest(AB, "starter", "yearly"),
        "addon_cycle_within_base",
        "BLOCKED",
        [R.ADDON_CYCLE_LONGER_THAN_BASE],
        [R.FIX_SWITCH_BASE_CYCLE_FIRST],
    ),
    (
        "add-on upgrade to yearly, DW yearly",
        "demo-yearly",
        ChangeRequest(OW, "standard", "yearly"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "DW to monthly at renewal while an add-on is yearly",
        "demo-yearly",
        ChangeRequest(DW, "standard", "monthly"),
        "addon_cycle_within_base",
        "BLOCKED",
        [R.ADDON_CYCLE_LONGER_THAN_BASE],
        [R.FIX_MOVE_ADDON_CYCLE_FIRST],
    ),
    (
        "DW to monthly at the renewal where the add-on goes monthly too",
        "addon-scheduled-monthly",
        ChangeRequest(DW, "standard", "monthly"),
        "shorter_cycle_at_renewal",
        "NEXT_CYCLE",
        [R.PLAN_CHANGE_NEXT_CYCLE, R.SHOWN_AS_NEXT_RENEWAL_PLAN, R.PAID_PERIOD_USED_IN_FULL],
        [],
    ),
    (
        "DW to monthly while the add-on goes monthly only later",
        "addon-scheduled-monthly-later",
        ChangeRequest(DW, "standard", "monthly"),
        "addon_cycle_within_base",
        "BLOCKED",
        [R.ADDON_CYCLE_LONGER_THAN_BASE],
        [R.FIX_WAIT_FOR_ADDON_CHANGE],
    ),
    (
        "add-on yearly while DW is scheduled monthly",
        "dw-yearly-scheduled-monthly",
        ChangeRequest(AB, "starter", "yearly", 10),
        "addon_cycle_within_base",
        "BLOCKED",
        [R.ADDON_CYCLE_LONGER_THAN_BASE],
        [R.FIX_CANCEL_SCHEDULED_CHANGE],
    ),
    (
        "one user on a paid plan",
        "demo-trial",
        ChangeRequest(DW, "standard", "monthly", 1),
        "min_paid_seats",
        "BLOCKED",
        [R.MIN_SEATS],
        [R.FIX_SET_MIN_SEATS],
    ),
    (
        "storage above the tier limit",
        "demo-monthly",
        ChangeRequest(DW, "standard", addons={"storage": 1500}),
        "capacity_within_limit",
        "BLOCKED",
        [R.CAPACITY_LIMIT_EXCEEDED],
        [R.FIX_REDUCE_CAPACITY, R.FIX_CHOOSE_HIGHER_TIER],
    ),
    (
        "automation runs without operations workflow",
        "demo-monthly",
        ChangeRequest(DW, "standard", addons={"automation_runs": 1000}),
        "capacity_within_limit",
        "BLOCKED",
        [R.CAPACITY_LIMIT_EXCEEDED],
        [R.FIX_BUY_PRODUCT_FOR_CAPACITY],
    ),
    (
        "capacity of a product on trial",
        "demo-monthly",
        ChangeRequest(DW, "standard", addons={"data_records": 10000}),
        "capacity_within_limit",
        "BLOCKED",
        [R.CAPACITY_LIMIT_EXCEEDED],
        [R.FIX_BUY_PAID_PLAN_FOR_CAPACITY],
    ),
    (
        "capacity of a product not bought",
        "dw-yearly-alone",
        ChangeRequest(DW, "standard", addons={"data_records": 10000}),
        "capacity_within_limit",
        "BLOCKED",
        [R.CAPACITY_LIMIT_EXCEEDED],
        [R.FIX_BUY_PRODUCT_FOR_CAPACITY],
    ),
    (
        "capacity with a downgrade",
        "demo-yearly",
        ChangeRequest(DW, "starter", addons={"storage": 10}),
        "capacity_only_with_purchase",
        "BLOCKED",
        [R.CAPACITY_NEEDS_UPGRADE],
        [R.FIX_BUY_CAPACITY_SEPARATELY],
    ),
    (
        "upgrade cancels the scheduled downgrade",
        "demo-downgrade-scheduled",
        ChangeRequest(DW, "premium", seats=15),
        "upgrade_replaces_scheduled_downgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE, R.CANCELS_SCHEDULED_CHANGE],
        [],
    ),
    ("tier upgrade", "demo-monthly", ChangeRequest(DW, "standard"), "upgrade", "IMMEDIATE", [R.UPGRADE_IMMEDIATE], []),
    (
        "monthly to yearly",
        "demo-monthly",
        ChangeRequest(DW, "starter", "yearly"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "more seats",
        "demo-monthly",
        ChangeRequest(DW, "starter", seats=8),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "capacity on its own",
        "demo-yearly",
        ChangeRequest(DW, "standard", addons={"storage": 30}),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "buy during the trial",
        "demo-trial",
        ChangeRequest(DW, "standard", "yearly"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "buy a lower tier during the trial is a purchase",
        "demo-trial",
        ChangeRequest(DW, "starter"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "buy after the trial ended",
        "demo-trial-ended",
        ChangeRequest(DW, "starter", seats=2),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    ("buy from free", "demo-free", ChangeRequest(DW, "starter"), "upgrade", "IMMEDIATE", [R.UPGRADE_IMMEDIATE], []),
    (
        "add-on after its trial: paid upgrade",
        "demo-ow-trial-ended",
        ChangeRequest(OW, "starter"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "add-on during its trial, DW paid",
        "demo-monthly",
        ChangeRequest(AB, "starter", "monthly"),
        "upgrade",
        "IMMEDIATE",
        [R.UPGRADE_IMMEDIATE],
        [],
    ),
    (
        "a second downgrade replaces the first",
        "demo-downgrade-scheduled",
        ChangeRequest(DW, "starter"),
        "downgrade_replaces_scheduled",
        "NEXT_CYCLE",
        [
            R.DOWNGRADE_NEXT_CYCLE,
            R.REPLACES_SCHEDULED_CHANGE,
            R.SHOWN_AS_NEXT_RENEWAL_PLAN,
            R.FEATURE_DATA_WILL_BE_DELETED,
        ],
        [],
    ),
    (
        "yearly to monthly at renewal",
        "dw-yearly-alone",
        ChangeRequest(DW, "standard", "monthly"),
        "shorter_cycle_at_renewal",
        "NEXT_CYCLE",
        [R.PLAN_CHANGE_NEXT_CYCLE, R.SHOWN_AS_NEXT_RENEWAL_PLAN, R.PAID_PERIOD_USED_IN_FULL],
        [],
    ),
    (
        "lower tier and monthly at renewal",
        "dw-yearly-alone",
        ChangeRequest(DW, "starter", "monthly"),
        "shorter_cycle_at_renewal",
        "NEXT_CYCLE",
        [
            R.DOWNGRADE_NEXT_CYCLE,
            R.SHOWN_AS_NEXT_RENEWAL_PLAN,
            R.PAID_PERIOD_USED_IN_FULL,
            R.FEATURE_DATA_WILL_BE_DELETED,
        ],
        [],
    ),
    (
        "tier downgrade",
        "demo-yearly",
        ChangeRequest(AB, "starter"),
        "downgrade_at_renewal",
        "NEXT_CYCLE",
        [R.DOWNGRADE_NEXT_CYCLE, R.SHOWN_AS_NEXT_RENEWAL_PLAN, R.FEATURE_DATA_WILL_BE_DELETED],
        [],
    ),
    (
        "fewer seats",
        "demo-monthly",
        ChangeRequest(DW, "starter", seats=3),
        "downgrade_at_renewal",
        "NEXT_CYCLE",
        [R.PLAN_CHANGE_NEXT_CYCLE, R.SHOWN_AS_NEXT_RENEWAL_PLAN],
        [],
    ),
    (
        "paid DW to free at renewal",
        "demo-monthly",
        ChangeRequest(DW, "free"),
        "downgrade_at_renewal",
        "NEXT_CYCLE",
        [R.DOWNGRADE_NEXT_CYCLE, R.SHOWN_AS_NEXT_RENEWAL_PLAN, R.FEATURE_DATA_WILL_BE_DELETED],
        [],
    ),
    (
        "downgrade deleting extended capacity",
        "demo-yearly",
        ChangeRequest(DW, "starter"),
        "downgrade_at_renewal",
        "NEXT_CYCLE",
        [R.DOWNGRADE_NEXT_CYCLE, R.SHOWN_AS_NEXT_RENEWAL_PLAN, R.FEATURE_DATA_WILL_BE_DELETED],
        [],
    ),
    (
        "expired trial to free",
        "demo-trial-ended",
        ChangeRequest(DW, "free"),
        "free_after_trial",
        "IMMEDIATE",
        [R.FREE_IMMEDIATE, R.FEATURE_DATA_WILL_BE_DELETED],
        [],
    ),
    (
        "trial over, not yet marked expired, to free",
        "trial-over-not-expired",
        ChangeRequest(DW, "free"),
        "free_after_trial",
        "IMMEDIATE",
        [R.FREE_IMMEDIATE, R.FEATURE_DATA_WILL_BE_DELETED],
        [],
    ),
    (
        "no Digital Workspace at all, to free",
        "no-dw",
        ChangeRequest(DW, "free"),
        "anything_else",
        "BLOCKED",
        [R.UNSUPPORTED_CHANGE],
        [R.FIX_CONTACT_SUPPORT],
    ),
]


@pytest.mark.parametrize(
    "ws_name, request_, rule_id, outcome, codes, fix_codes",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule_table(catalog, ws_name, request_, rule_id, outcome, codes, fix_codes):
    ws = W[ws_name]()
    before = copy.deepcopy(ws)
    decision = decide(catalog, ws, request_, NOW)
    assert decision.rule_id == rule_id, decision.facts
    assert decision.outcome is Outcome(outcome)
    assert decision.codes == codes
    assert [fix.code for fix in decision.fixes] == fix_codes
    assert decision.allowed is (outcome != "BLOCKED")
    assert decision.reasons, "every decision carries at least one reason"
    assert ws == before, "deciding never changes the workspace"


def test_every_rule_case_and_reason_is_exercised(catalog):
    hit_rules = {case[3] for case in CASES}
    assert hit_rules == {rule.id for rule in catalog.change_rules}
    hit_codes = {code for case in CASES for code in case[5]} | {code for case in CASES for code in case[6]}
    rule_codes = {rule.reason for rule in catalog.change_rules} | {
        n for rule in catalog.change_rules for n in rule.notes
    }
    assert rule_codes <= hit_codes


def test_capacity_note_names_amount_and_date(catalog):
    ws = demo("demo-yearly")
    f.capacity(ws, "storage", 200, 3)  # 270 GB of extra storage; Starter allows 200
    decision = decide(catalog, ws, ChangeRequest(DW, "starter"), NOW)
    notes = {reason.code: reason.params for reason in decision.reasons}
    sub = ws.subscription(DW)
    assert notes[R.CAPACITY_WILL_BE_REMOVED] == {
        "kind": "storage",
        "amount": 70,
        "due_date": (sub.period_end + timedelta(days=7)).date().isoformat(),
    }
    assert notes[R.FEATURE_DATA_WILL_BE_DELETED]["features"] == ["reports", "gantt"]
    assert notes[R.FEATURE_DATA_WILL_BE_DELETED]["due_date"] == (sub.period_end + timedelta(days=90)).date().isoformat()


def test_effective_dates(catalog):
    ws = demo("demo-monthly")
    up = decide(catalog, ws, ChangeRequest(DW, "standard"), NOW)
    assert (up.effective, up.effective_at) == (Effective.IMMEDIATE, NOW)
    down = decide(catalog, ws, ChangeRequest(DW, "starter", seats=2), NOW)
    assert (down.effective, down.effective_at) == (Effective.NEXT_CYCLE, ws.subscription(DW).period_end)
    blocked = decide(catalog, ws, ChangeRequest(AB, "free"), NOW)
    assert (blocked.effective, blocked.effective_at) == (None, None)


def test_reason_params(catalog):
    decision = decide(catalog, demo("demo-trial"), ChangeRequest(DW, "free"), NOW)
    trial_end = (NOW - timedelta(days=12) + timedelta(days=30)).date().isoformat()
    assert decision.reasons[0].params == {
        "product": DW,
        "trial_end_date": trial_end,
        "days_left": 18,
        "trial_end_at": (NOW - timedelta(days=12) + timedelta(days=30)).isoformat(),
    }
    assert decision.fixes[0].params == {"product": DW, "trial_end_date": trial_end}

    pending = decide(catalog, demo("demo-pending-payment"), ChangeRequest(DW, "premium"), NOW)
    order = demo("demo-pending-payment").orders[0]
    assert pending.reasons[0].params["order_ref"] == order.txn_ref
    assert pending.reasons[0].params["expires_at"] == order.expires_at.isoformat(timespec="minutes")

    cycle = decide(catalog, demo("demo-monthly"), ChangeRequest(AB, "starter", "yearly"), NOW)
    assert cycle.reasons[0].params == {
        "addon": AB,
        "addon_cycle": "yearly",
        "base": DW,
        "base_cycle": "monthly",
    }
    assert cycle.fixes[0].params == {"base": DW, "cycle": "yearly"}

    down_monthly = decide(catalog, demo("demo-yearly"), ChangeRequest(DW, "standard", "monthly"), NOW)
    assert down_monthly.fixes[0].params == {"addon": AB, "cycle": "monthly"}

    free_with_addons = decide(catalog, demo("demo-yearly"), ChangeRequest(DW, "free"), NOW)
    assert free_with_addons.reasons[0].params == {"addons": [OW, AB], "base": DW}
    assert [fix.params["addon"] for fix in free_with_addons.fixes] == [OW, AB]

    seats = decide(catalog, demo("demo-trial"), ChangeRequest(DW, "standard", seats=1), NOW)
    assert seats.reasons[0].params == {"minimum": 2, "seats": 1}

    storage = decide(catalog, demo("demo-monthly"), ChangeRequest(DW, "starter", addons={"storage": 250}), NOW)
    assert storage.reasons[0].params == {
        "kind": "storage",
        "total": 250,
        "limit": 200,
        "product": DW,
        "tier": "starter",
        "held": 0,
        "pack_size": 10,
        "room": 200,
    }
    assert storage.fixes[0].params == {"kind": "storage", "max_amount": 200}

    replaced = decide(catalog, demo("demo-downgrade-scheduled"), ChangeRequest(DW, "starter"), NOW)
    params = {reason.code: reason.params for reason in replaced.reasons}[R.REPLACES_SCHEDULED_CHANGE]
    assert params["scheduled_tier"] == "standard" and params["scheduled_seats"] == 12


def test_all_blocking_problems_are_listed_at_once(catalog):
    # Add-on bought yearly, with one user, during the DW trial: three problems, three fixes.
    decision = decide(catalog, demo("demo-trial"), ChangeRequest(AB, "standard", "yearly", 1), NOW)
    assert decision.codes == [R.ADDON_REQUIRES_PAID_BASE, R.MIN_SEATS]
    assert [fix.code for fix in decision.fixes] == [R.FIX_BUY_PAID_BASE_FIRST, R.FIX_SET_MIN_SEATS]
    assert R.UNSUPPORTED_CHANGE not in decision.codes  # the catch-all never adds itself


def test_trial_purchase_keeps_trial_seats_and_defaults_to_monthly(catalog):
    target = resolve_target(catalog, demo("demo-trial"), ChangeRequest(DW, "standard"))
    assert (target.cycle, target.seats, target.paid) == (Cycle.MONTHLY, 3, True)
    yearly = resolve_target(catalog, demo("demo-yearly"), ChangeRequest(DW, "premium"))
    assert yearly.cycle is Cycle.YEARLY and yearly.seats == 10
    to_free = resolve_target(catalog, demo("demo-monthly"), ChangeRequest(DW, "free", "yearly"))
    assert to_free.cycle is None and to_free.status is Status.FREE
    new_addon = resolve_target(catalog, f.demo_workspaces()["demo-yearly"], ChangeRequest(AB, "starter"))
    assert new_addon.seats == 10


def test_capacity_is_rounded_up_to_whole_packs(catalog):
    target = resolve_target(
        catalog, demo("demo-yearly"), ChangeRequest(DW, "standard", addons={"storage": 25, "docs": 100})
    )
    assert dict(target.addons) == {"storage": 30, "docs": 100}
    assert dict(target.requested_addons) == {"storage": 25, "docs": 100}


BAD_INPUT = [
    ("unknown product", ChangeRequest("crm", "standard"), UnknownProductError, "product"),
    ("product not a string", ChangeRequest(None, "standard"), UnknownProductError, "product"),
    ("unknown tier", ChangeRequest(DW, "gold"), UnknownTierError, "tier"),
    ("unknown cycle", ChangeRequest(DW, "standard", "weekly"), UnknownCycleError, "cycle"),
    ("zero seats", ChangeRequest(DW, "standard", seats=0), InvalidSeatsError, "seats"),
    ("negative seats", ChangeRequest(DW, "standard", seats=-3), InvalidSeatsError, "seats"),
    ("absurd seats", ChangeRequest(DW, "standard", seats=5001), InvalidSeatsError, "seats"),
    ("seats as text", ChangeRequest(DW, "standard", seats="10"), InvalidSeatsError, "seats"),
    ("seats as a fraction", ChangeRequest(DW, "standard", seats=2.5), InvalidSeatsError, "seats"),
    ("seats as a bool", ChangeRequest(DW, "standard", seats=True), InvalidSeatsError, "seats"),
    ("unknown capacity", ChangeRequest(DW, "standard", addons={"bandwidth": 10}), UnknownCapacityKindError, "kind"),
    ("zero capacity", ChangeRequest(DW, "standard", addons={"storage": 0}), InvalidCapacityAmountError, "amount"),
    ("negative capacity", ChangeRequest(DW, "standard", addons={"storage": -10}), InvalidCapacityAmountError, "amount"),
    ("absurd capacity", ChangeRequest(DW, "standard", addons={"storage": 10**9}), InvalidCapacityAmountError, "amount"),
    ("capacity as text", ChangeRequest(DW, "standard", addons={"storage": "10"}), InvalidCapacityAmountError, "amount"),
]


@pytest.mark.parametrize("request_, error, param", [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_typed_error_not_a_decision(catalog, request_, error, param):
    ws = demo("demo-monthly")
    before = copy.deepcopy(ws)
    with pytest.raises(error) as raised:
        decide(catalog, ws, request_, NOW)
    assert param in raised.value.params
    vi, en = render_error(raised.value, "vi", load_catalog()), render_error(raised.value, "en", load_catalog())
    assert vi and en and vi != en and "{" not in vi + en and "…" not in vi + en
    assert ws == before


def test_keys_are_read_the_way_people_type_them(catalog):
    target = resolve_target(
        catalog, demo("demo-monthly"), ChangeRequest(" Digital_Workspace ", "Standard", "YEARLY", 6, {"Storage": 10})
    )
    assert (target.product, target.tier, target.cycle, dict(target.addons)) == (
        DW,
        "standard",
        Cycle.YEARLY,
        {"storage": 10},
    )


def test_an_expired_plan_gives_no_capacity_limit(catalog):
    ws = demo("demo-ow-trial-ended")
    ws.subscription(OW).status = Status.EXPIRED
    decision = decide(catalog, ws, ChangeRequest(DW, "premium", addons={"automation_runs": 1000}), NOW)
    assert decision.codes == [R.CAPACITY_LIMIT_EXCEEDED]
    assert decision.reasons[0].params["limit"] == 0


def test_capacity_at_the_top_tier_limit_points_to_support(catalog):
    ws = f.workspace()
    f.paid(ws, DW, "premium", "monthly", seats=5)
    f.capacity(ws, "storage", 5000, 30)  # Premium's whole extended storage
    decision = decide(catalog, ws, ChangeRequest(DW, "premium", addons={"storage": 10}), NOW)
    assert decision.codes == [R.CAPACITY_LIMIT_EXCEEDED]
    assert [fix.code for fix in decision.fixes] == [R.FIX_CONTACT_SUPPORT]


def test_every_fact_a_rule_may_test_is_derived(catalog):
    from billing_core.domain.rules import fact_domains

    domains = fact_domains(catalog)
    for case in CASES:
        decision = decide(catalog, W[case[1]](), case[2], NOW)
        assert set(decision.facts) == set(domains)
        for fact, value in decision.facts.items():
            assert value in domains[fact], (fact, value)
