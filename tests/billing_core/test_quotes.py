"""Quotes: day-based proration in integer VND, new periods, add-ons, savings of paying yearly."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.domain import reasons as R
from billing_core.domain.catalog import DEFAULT_CATALOG_PATH, load_catalog
from billing_core.domain.model import Cycle, Status, Subscription
from billing_core.domain.quotes import add_months, quote
from billing_core.domain.rules import ChangeRequest, decide
from tests.billing_core import factories as f
from tests.billing_core.factories import DW, NOW, OW

UTC = timezone.utc


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (datetime(2027, 1, 31, 8, 30, tzinfo=UTC), 1, datetime(2027, 2, 28, 8, 30, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), 1, datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2026, 11, 26, tzinfo=UTC), 12, datetime(2027, 11, 26, tzinfo=UTC)),
        (datetime(2028, 2, 29, tzinfo=UTC), 12, datetime(2029, 2, 28, tzinfo=UTC)),
        (datetime(2027, 3, 31, tzinfo=UTC), -1, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2027, 1, 10, tzinfo=UTC), -1, datetime(2026, 12, 10, tzinfo=UTC)),
    ],
)
def test_add_months_is_calendar_months(start, months, expected):
    assert add_months(start, months) == expected


def stripe_catalog(tmp_path):
    """The shipped catalog with prices that make Stripe's example exact: 2 seats x 50.000 = 100.000
    per month on Starter, 2 seats x 100.000 = 200.000 on Standard."""
    data = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    tiers = data["products"]["digital_workspace"]["tiers"]
    tiers["starter"]["price"] = {"monthly": 50000, "yearly": 500000}
    tiers["standard"]["price"] = {"monthly": 100000, "yearly": 1000000}
    path = tmp_path / "stripe.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_catalog(path, use_cache=False)


def test_stripe_example_in_vnd(tmp_path):
    """Stripe: $10 -> $20 per month at mid-period costs $5. Here 100.000 -> 200.000 on day 15 of 30."""
    catalog = stripe_catalog(tmp_path)
    ws = f.workspace()
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)  # November: a 30-day period
    ws.subscriptions.append(
        Subscription(DW, "starter", Status.ACTIVE, 2, start, datetime(2026, 12, 1, 9, 0, tzinfo=UTC), Cycle.MONTHLY)
    )
    now = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    result = quote(catalog, ws, ChangeRequest(DW, "standard"), now)
    assert result.total_vnd == 50000
    assert [(line.code, line.amount_vnd) for line in result.lines] == [
        (R.QUOTE_PLAN_PRORATED, 100000),
        (R.QUOTE_PRORATION_CREDIT, -50000),
    ]
    assert result.lines[0].params["days"] == 15 and result.lines[0].params["period_days"] == 30
    assert (result.period_start, result.period_end) == (now, datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert result.timing == "immediate"


def test_days_are_counted_in_vietnam_not_utc(tmp_path):
    """At 23:30 in Hanoi on 15 Nov (16:30 UTC) the 15th is today: 16 days remain, not 15 or 17."""
    catalog = stripe_catalog(tmp_path)
    ws = f.workspace()
    start = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)  # 08:00 on 1 Nov in Vietnam
    end = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    ws.subscriptions.append(Subscription(DW, "starter", Status.ACTIVE, 2, start, end, Cycle.MONTHLY))
    late_evening_in_hanoi = datetime(2026, 11, 15, 16, 30, tzinfo=UTC)
    result = quote(catalog, ws, ChangeRequest(DW, "standard"), late_evening_in_hanoi)
    assert result.lines[0].params["days"] == 16
    # 00:30 on 16 Nov in Hanoi is still 15 Nov in UTC: Vietnam's day wins, 15 days remain.
    just_after_midnight_in_hanoi = datetime(2026, 11, 15, 17, 30, tzinfo=UTC)
    result = quote(catalog, ws, ChangeRequest(DW, "standard"), just_after_midnight_in_hanoi)
    assert result.lines[0].params["days"] == 15


def test_switch_to_yearly_starts_a_new_period_with_credit(catalog):
    ws = f.demo_workspaces()["demo-monthly"]  # Starter monthly, 5 seats, period started 10 days ago
    sub = ws.subscription(DW)
    period_days = (sub.period_end.date() - sub.period_start.date()).days
    remaining = (sub.period_end.date() - NOW.date()).days
    result = quote(catalog, ws, ChangeRequest(DW, "starter", "yearly"), NOW)
    credit = 5 * 60000 * remaining // period_days
    assert [(line.code, line.amount_vnd) for line in result.lines] == [
        (R.QUOTE_PLAN, 5 * 600000),
        (R.QUOTE_PRORATION_CREDIT, -credit),
    ]
    assert result.total_vnd == 5 * 600000 - credit
    assert (result.period_start, result.period_end) == (NOW, add_months(NOW, 12))
    assert result.yearly_savings_vnd == 12 * 5 * 60000 - 5 * 600000


def test_trial_purchase_is_a_full_new_period_without_credit(catalog):
    ws = f.demo_workspaces()["demo-trial"]  # Standard trial, 3 users
    result = quote(catalog, ws, ChangeRequest(DW, "standard"), NOW)
    assert [(line.code, line.amount_vnd) for line in result.lines] == [(R.QUOTE_PLAN, 3 * 100000)]
    assert result.total_vnd == 300000
    assert (result.period_start, result.period_end) == (NOW, add_months(NOW, 1))
    assert result.yearly_savings_vnd == 12 * 300000 - 3 * 1000000
    notes = {note.code: note.params for note in result.notes}
    assert notes[R.QUOTE_YEARLY_SAVINGS] == {"savings_vnd": 600000, "seats": 3}
    assert R.QUOTE_SAMPLE_PRICES in notes


def test_addons_are_prorated_in_the_running_period_and_rounded_to_packs(catalog):
    ws = f.demo_workspaces()["demo-yearly"]  # Standard yearly, 10 seats, started 100 days ago
    sub = ws.subscription(DW)
    remaining = (sub.period_end.date() - NOW.date()).days
    period_days = (sub.period_end.date() - sub.period_start.date()).days
    result = quote(catalog, ws, ChangeRequest(DW, "standard", addons={"storage": 25}), NOW)
    lines = {line.code: line for line in result.lines}
    assert lines[R.QUOTE_ADDON_PRORATED].amount_vnd == 3 * 200000 * remaining // period_days
    assert lines[R.QUOTE_ADDON_PRORATED].params["amount"] == 30
    # The plan itself does not change: no plan line and no equal credit that cancel out.
    assert set(lines) == {R.QUOTE_ADDON_PRORATED}
    assert result.total_vnd == 3 * 200000 * remaining // period_days
    rounded = {note.code: note.params for note in result.notes}[R.QUOTE_PACKS_ROUNDED_UP]
    assert rounded == {"kind": "storage", "requested": 25, "amount": 30, "pack_size": 10}


def test_addons_in_a_new_period_cost_the_full_pack_price(catalog):
    ws = f.demo_workspaces()["demo-trial"]
    result = quote(catalog, ws, ChangeRequest(DW, "standard", "yearly", addons={"docs": 200}), NOW)
    lines = {line.code: line.amount_vnd for line in result.lines}
    assert lines == {R.QUOTE_PLAN: 3 * 1000000, R.QUOTE_ADDON: 2 * 300000}
    assert result.total_vnd == 3 * 1000000 + 2 * 300000


def test_downgrade_is_quoted_for_the_next_period(catalog):
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]  # Premium monthly, 12 seats, ends in 9 days
    end = ws.subscription(DW).period_end
    result = quote(catalog, ws, ChangeRequest(DW, "starter"), NOW)
    assert result.timing == "next_cycle"
    assert (result.period_start, result.period_end) == (end, add_months(end, 1))
    assert result.total_vnd == 12 * 60000
    assert {note.code for note in result.notes} >= {R.QUOTE_CHARGED_AT_RENEWAL}


def test_move_to_free_costs_nothing(catalog):
    result = quote(catalog, f.demo_workspaces()["demo-trial-ended"], ChangeRequest(DW, "free"), NOW)
    assert result.total_vnd == 0 and result.period_end is None
    assert [line.code for line in result.lines] == [R.QUOTE_PLAN_FREE]


def test_unused_credit_is_never_lost_the_change_waits_for_the_renewal(catalog):
    """Decision credit_kept_change_at_renewal: a credit larger than the charge is not forfeited
    (it used to be capped at 0 and lost); the change is quoted at the renewal instead."""
    ws = f.workspace()
    sub = f.paid(ws, DW, "standard", "yearly", seats=50, started_days_ago=5)
    result = quote(catalog, ws, ChangeRequest(DW, "premium", seats=2), NOW)
    assert result.timing == "next_cycle" and result.period_start == sub.period_end
    assert result.total_vnd == sum(line.amount_vnd for line in result.lines) == 2 * 1600000
    notes = {note.code for note in result.notes}
    assert R.QUOTE_CREDIT_CAPPED not in notes and R.QUOTE_CREDIT_KEPT_UNTIL_RENEWAL in notes


def test_last_day_of_the_period_charges_nothing_for_the_rest(catalog):
    ws = f.workspace()
    sub = f.paid(ws, DW, "starter", "monthly", seats=4)
    now = sub.period_end.replace(hour=0)
    result = quote(catalog, ws, ChangeRequest(DW, "premium"), now)
    assert result.total_vnd == 0


def test_a_lapsed_period_is_not_credited_and_a_new_one_starts(catalog):
    ws = f.workspace()
    f.paid(ws, DW, "starter", "monthly", seats=4, started_days_ago=40)  # ended ~10 days ago, not renewed
    result = quote(catalog, ws, ChangeRequest(DW, "standard"), NOW)
    assert [(line.code, line.amount_vnd) for line in result.lines] == [(R.QUOTE_PLAN, 4 * 100000)]
    assert (result.period_start, result.period_end) == (NOW, add_months(NOW, 1))


def test_add_on_purchase_for_an_existing_addon_trial(catalog):
    ws = f.demo_workspaces()["demo-ow-trial-ended"]
    result = quote(catalog, ws, ChangeRequest(OW, "standard", "monthly"), NOW)
    assert result.total_vnd == 8 * 70000


# --- properties ---------------------------------------------------------------------------------------
TIERS = ["free", "starter", "standard", "premium"]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    from_tier=st.sampled_from(TIERS[1:]),
    from_cycle=st.sampled_from(["monthly", "yearly"]),
    seats=st.integers(1, 300),
    days_ago=st.integers(0, 364),
    to_tier=st.sampled_from(TIERS),
    to_cycle=st.sampled_from([None, "monthly", "yearly"]),
    to_seats=st.one_of(st.none(), st.integers(1, 300)),
    storage=st.one_of(st.none(), st.integers(1, 300)),
)
def test_totals_are_whole_vnd_and_never_negative(
    from_tier, from_cycle, seats, days_ago, to_tier, to_cycle, to_seats, storage
):
    catalog = load_catalog()
    ws = f.workspace()
    sub = f.paid(
        ws, DW, from_tier, from_cycle, seats=seats, started_days_ago=days_ago % (28 if from_cycle == "monthly" else 364)
    )
    addons = {"storage": storage} if storage else {}
    result = quote(catalog, ws, ChangeRequest(DW, to_tier, to_cycle, to_seats, addons), NOW)
    assert isinstance(result.total_vnd, int) and result.total_vnd >= 0
    assert all(isinstance(line.amount_vnd, int) for line in result.lines)
    assert result.total_vnd == max(0, sum(line.amount_vnd for line in result.lines))
    if decide(catalog, ws, ChangeRequest(DW, to_tier, to_cycle, to_seats, addons), NOW).allowed:
        assert result.total_vnd == sum(line.amount_vnd for line in result.lines)  # no credit left over, none lost
    if result.timing == "immediate" and result.period_end is not None:
        assert result.period_end > result.period_start
        if to_cycle in (None, from_cycle) and to_tier != "free":
            assert result.period_end == sub.period_end  # same cycle: the period end does not move
