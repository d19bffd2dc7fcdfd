"""The state changes of the domain, and properties that hold whatever sequence of allowed changes runs.

Random sequences: each change request is decided; IMMEDIATE ones are applied at once (as if paid),
NEXT_CYCLE ones are scheduled (with a survey answer and the confirmation), BLOCKED ones change
nothing; time moves forward, trials expire, plans renew (applying scheduled changes) and the
retention job runs. After every step the invariants hold.
"""

from __future__ import annotations

import calendar
import copy
import os
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from billing_core.adapters.unit_of_work import FakeUnitOfWork
from billing_core.domain.catalog import load_catalog
from billing_core.domain.changes import (
    apply_decision,
    apply_immediate,
    cancel_scheduled_change,
    expire_trials,
    renew,
    schedule_change,
)
from billing_core.domain.clock import business_day, days_left
from billing_core.domain.errors import (
    ChangeNotAllowedError,
    ConfirmationRequiredError,
    NoScheduledChangeError,
    SurveyAnswerRequiredError,
)
from billing_core.domain.messages import render, render_decision
from billing_core.domain.model import Cycle, Outcome, RenewalMode, RetentionKind, RetentionStatus, Status
from billing_core.domain.pricing import QuoteLine, renewal_lines
from billing_core.domain.quotes import add_months, quote
from billing_core.domain.retention import capacity_limit, execute_due, feature_in_force, preview
from billing_core.domain.rules import ChangeRequest, decide
from billing_core.service_layer import services
from tests.billing_core import factories as f
from tests.billing_core.factories import AB, DW, NOW, OW

CATALOG = load_catalog()
EXAMPLES = int(os.environ.get("BILLING_PROPERTY_EXAMPLES", "250"))  # raise it for a longer bug hunt


# --- the state changes, by example ------------------------------------------------------------------
def test_trial_purchase_starts_a_paid_period_with_capacity():
    ws = f.demo_workspaces()["demo-trial"]
    version = ws.version
    decision = decide(CATALOG, ws, ChangeRequest(DW, "standard", "yearly", 5, {"storage": 25}), NOW)
    sub = apply_decision(CATALOG, ws, decision, NOW)
    assert (sub.status, sub.tier, sub.cycle, sub.seats) == (Status.ACTIVE, "standard", Cycle.YEARLY, 5)
    assert (sub.period_start, sub.period_end) == (NOW, add_months(NOW, 12))
    assert [(p.kind, p.amount, p.purchased_at) for p in ws.capacity] == [("storage", 30, NOW)]
    assert ws.version == version + 1


def test_same_cycle_upgrade_keeps_the_period_and_cancels_the_scheduled_downgrade():
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]
    end = ws.subscription(DW).period_end
    decision = decide(CATALOG, ws, ChangeRequest(DW, "premium", seats=15), NOW)
    sub = apply_decision(CATALOG, ws, decision, NOW)
    assert sub.period_end == end and sub.seats == 15
    assert ws.scheduled_changes == []


def test_expired_trial_to_free_applies_now_with_retention():
    ws = f.demo_workspaces()["demo-trial-ended"]
    sub = apply_decision(CATALOG, ws, decide(CATALOG, ws, ChangeRequest(DW, "free"), NOW), NOW)
    assert (sub.status, sub.tier, sub.cycle, sub.period_end) == (Status.FREE, "free", None, None)
    assert {t.target for t in ws.retention_tasks if t.kind is RetentionKind.FEATURE_DATA} == {
        "projects",
        "calendar",
        "reports",
        "gantt",
    }


def test_first_purchase_of_an_addon_creates_its_subscription():
    ws = f.workspace()
    f.paid(ws, DW, "standard", "yearly", seats=6)
    target = decide(CATALOG, ws, ChangeRequest(OW, "starter", "monthly"), NOW).target
    sub = apply_immediate(CATALOG, ws, target, NOW, renewal_mode=RenewalMode.AUTO)
    assert ws.subscription(OW) is sub
    assert (sub.status, sub.seats, sub.cycle, sub.renewal_mode) == (Status.ACTIVE, 6, Cycle.MONTHLY, RenewalMode.AUTO)
    assert (sub.period_start, sub.period_end) == (NOW, add_months(NOW, 1))


def test_apply_refuses_what_is_not_immediate():
    ws = f.demo_workspaces()["demo-monthly"]
    before = copy.deepcopy(ws)
    for request in (ChangeRequest(AB, "free"), ChangeRequest(DW, "starter", seats=2)):
        with pytest.raises(ChangeNotAllowedError):
            apply_decision(CATALOG, ws, decide(CATALOG, ws, request, NOW), NOW)
    assert ws == before


def test_schedule_needs_survey_and_confirmation_and_replaces_the_previous_one():
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]
    decision = decide(CATALOG, ws, ChangeRequest(DW, "starter", seats=6), NOW)
    before = copy.deepcopy(ws)
    with pytest.raises(SurveyAnswerRequiredError):
        schedule_change(ws, decision, NOW, "  ", confirmed=True)
    with pytest.raises(ConfirmationRequiredError):
        schedule_change(ws, decision, NOW, "too expensive", confirmed=False)
    with pytest.raises(ConfirmationRequiredError):
        schedule_change(ws, decision, NOW, "too expensive", confirmed="yes")
    assert ws == before, "a refused schedule writes nothing"
    change = schedule_change(ws, decision, NOW, "too expensive", confirmed=True)
    assert ws.scheduled_changes == [change]
    assert (change.tier, change.seats, change.effective_at) == ("starter", 6, ws.subscription(DW).period_end)
    with pytest.raises(ChangeNotAllowedError):
        schedule_change(ws, decide(CATALOG, ws, ChangeRequest(DW, "premium", seats=20), NOW), NOW, "x", True)


def test_cancel_scheduled_change():
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]
    cancel_scheduled_change(ws, DW)
    assert ws.scheduled_changes == []
    with pytest.raises(NoScheduledChangeError) as raised:
        cancel_scheduled_change(ws, DW)
    assert raised.value.params == {"product": DW}


def test_renewal_applies_the_scheduled_change_with_retention():
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]
    f.capacity(ws, "storage", 1500, 30)
    end = ws.subscription(DW).period_end
    assert renew(CATALOG, ws, DW, end - timedelta(seconds=1)) is None, "not due yet"
    result = renew(CATALOG, ws, DW, end)
    sub = result.subscription
    assert (sub.tier, sub.period_start, sub.period_end) == ("standard", end, add_months(end, 1))
    assert result.applied is not None and ws.scheduled_changes == []
    assert sorted((t.target, t.amount, t.due_at) for t in result.retention_tasks) == sorted(
        [
            ("storage", 500, end + timedelta(days=7)),
            ("okr", 0, end + timedelta(days=90)),
            ("audit_log", 0, end + timedelta(days=90)),
        ]
    )
    assert ws.retention_tasks == result.retention_tasks


def test_renewal_to_free():
    ws = f.workspace()
    f.paid(ws, DW, "starter", "monthly", seats=3)
    f.scheduled(ws, DW, "free", None)
    end = ws.subscription(DW).period_end
    sub = renew(CATALOG, ws, DW, end + timedelta(hours=1)).subscription
    assert (sub.status, sub.tier, sub.cycle, sub.period_end) == (Status.FREE, "free", None, None)
    assert renew(CATALOG, ws, DW, end + timedelta(days=400)) is None, "Free never renews"


def test_expire_trials():
    ws = f.demo_workspaces()["demo-ow-trial-ended"]
    expired = expire_trials(ws, NOW)
    assert [s.product for s in expired] == [OW] and ws.subscription(OW).status is Status.EXPIRED
    assert expire_trials(ws, NOW) == []


# --- properties ---------------------------------------------------------------------------------------
PRODUCTS = [DW, OW, AB]
TIERS = ["free", "starter", "standard", "premium"]

change_step = st.tuples(
    st.just("change"),
    st.sampled_from(PRODUCTS),
    st.sampled_from(TIERS),
    st.sampled_from([None, "monthly", "yearly"]),
    st.one_of(st.none(), st.integers(1, 12)),
    st.one_of(
        st.just({}),
        st.dictionaries(
            st.sampled_from(["storage", "docs", "automation_runs", "data_records"]),
            st.integers(1, 30000),
            min_size=1,
            max_size=2,
        ),
    ),
)
time_step = st.tuples(st.just("advance"), st.integers(1, 400))
cancel_step = st.tuples(st.just("cancel"), st.sampled_from(PRODUCTS))
steps = st.lists(st.one_of(change_step, change_step, time_step, cancel_step), min_size=1, max_size=25)


def check_invariants(ws):
    base = ws.subscription(DW)
    base_paid = base is not None and base.status is Status.ACTIVE
    for sub in ws.subscriptions:
        if sub.status is Status.ACTIVE:
            assert sub.seats >= CATALOG.min_paid_seats, f"{sub.product} paid with {sub.seats} users"
            assert sub.cycle is not None and sub.period_end is not None and sub.period_end > sub.period_start
            assert CATALOG.tiers[sub.tier].paid
        if sub.status is Status.FREE:
            assert sub.product == DW and sub.cycle is None and sub.period_end is None
        if sub.product != DW and sub.status is Status.ACTIVE:
            assert base_paid, f"paid {sub.product} without a paid Digital Workspace"
            assert sub.cycle.months <= base.cycle.months, (
                f"{sub.product} billed {sub.cycle.value}, DW {base.cycle.value}"
            )
    products = [change.product for change in ws.scheduled_changes]
    assert len(products) == len(set(products)), "at most one scheduled change per product"
    for change in ws.scheduled_changes:
        sub = ws.subscription(change.product)
        assert sub is not None and sub.status is Status.ACTIVE and change.effective_at == sub.period_end
    assert all(purchase.amount > 0 for purchase in ws.capacity)
    waiting = {
        t.target for t in ws.retention_tasks if t.kind is RetentionKind.CAPACITY and t.status is RetentionStatus.PENDING
    }
    for kind in CATALOG.capacity:
        if kind not in waiting:
            assert ws.capacity_total(kind) <= capacity_limit(CATALOG, ws, kind), f"{kind} above its limit"
    check_eventual_plans(ws)


def check_eventual_plans(ws):
    """Once every scheduled change has applied, the add-on rules still hold."""
    plans = {s.product: (s.tier, s.status is Status.ACTIVE, s.cycle, s.seats) for s in ws.subscriptions}
    for change in ws.scheduled_changes:
        paid = CATALOG.tiers[change.tier].paid
        plans[change.product] = (change.tier, paid, change.cycle if paid else None, change.seats)
    base = plans.get(DW)
    for product, (_tier, paid, cycle, seats) in plans.items():
        if paid:
            assert seats >= CATALOG.min_paid_seats
        if product != DW and paid:
            assert base is not None and base[1], f"{product} scheduled paid without a paid Digital Workspace"
            assert cycle.months <= base[2].months


def run_jobs(ws, now):
    expire_trials(ws, now)
    for _ in range(40):  # several periods may have passed
        renewed = [renew(CATALOG, ws, product, now) for product in PRODUCTS]
        if not any(renewed):
            break
    execute_due(CATALOG, ws, now)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.sampled_from(sorted(f.demo_workspaces())), plan=steps)
def test_random_allowed_changes_never_break_an_invariant(start, plan):
    ws = f.demo_workspaces()[start]
    ws.orders.clear()  # payments are not simulated: an IMMEDIATE change counts as paid
    now = NOW
    check_invariants(ws)
    for step in plan:
        if step[0] == "advance":
            now = now + timedelta(days=step[1])
            run_jobs(ws, now)
        elif step[0] == "cancel":
            if ws.scheduled_change(step[1]) is not None:
                cancel_scheduled_change(ws, step[1])
        else:
            _, product, tier, cycle, seats, addons = step
            decision = decide(CATALOG, ws, ChangeRequest(product, tier, cycle, seats, addons), now)
            assert decision.reasons
            event(f"{decision.outcome.value} {decision.rule_id}")
            assert decision.allowed == (decision.outcome is not Outcome.BLOCKED)
            assert bool(decision.fixes) == (not decision.allowed)
            if decision.outcome is Outcome.IMMEDIATE:
                apply_decision(CATALOG, ws, decision, now)
            elif decision.outcome is Outcome.NEXT_CYCLE:
                schedule_change(ws, decision, now, "too expensive", confirmed=True)
        check_invariants(ws)


def test_pure_modules_import_neither_sqlalchemy_nor_rasa():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import billing_core, billing_core.domain.catalog, billing_core.domain.messages, billing_core.domain.errors\n"
        "import billing_core.domain.rules, billing_core.domain.quotes, billing_core.domain.retention\n"
        "import billing_core.domain.changes, billing_core.domain.reasons\n"
        "billing_core.domain.catalog.load_catalog()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'rasa', 'rasa_sdk', 'sanic'))\n"
        "print(bad)\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


# --- any consistent workspace, any valid request: an answer that can be shown -----------------------
@st.composite
def workspaces(draw):
    """A random workspace as the system can hold it (plans, capacity, a scheduled change, an order)."""
    ws = f.workspace()
    base = draw(st.sampled_from(["none", "trial", "trial_over", "expired", "free", "paid"]))
    if base == "trial":
        f.trial(
            ws,
            DW,
            draw(st.sampled_from(TIERS[1:])),
            seats=draw(st.integers(1, 20)),
            started_days_ago=draw(st.integers(0, 29)),
        )
    elif base in ("trial_over", "expired"):
        f.trial(
            ws,
            DW,
            "standard",
            seats=3,
            started_days_ago=draw(st.integers(30, 90)),
            status=Status.EXPIRED if base == "expired" else None,
        )
    elif base == "free":
        f.free(ws)
    elif base == "paid":
        cycle = draw(st.sampled_from(["monthly", "yearly"]))
        f.paid(
            ws,
            DW,
            draw(st.sampled_from(TIERS[1:])),
            cycle,
            seats=draw(st.integers(2, 50)),
            started_days_ago=draw(st.integers(0, 27 if cycle == "monthly" else 360)),
        )
        for addon in (OW, AB):
            kind = draw(st.sampled_from(["none", "trial", "paid"]))
            if kind == "trial":
                f.trial(
                    ws,
                    addon,
                    draw(st.sampled_from(["starter", "standard"])),
                    seats=5,
                    started_days_ago=draw(st.integers(0, 60)),
                )
            elif kind == "paid":
                addon_cycle = "monthly" if cycle == "monthly" else draw(st.sampled_from(["monthly", "yearly"]))
                f.paid(
                    ws,
                    addon,
                    draw(st.sampled_from(["starter", "standard"])),
                    addon_cycle,
                    seats=draw(st.integers(2, 50)),
                    started_days_ago=draw(st.integers(0, 27)),
                )
        if draw(st.booleans()):  # whole packs, or what is left after the retention job took a part
            amount = draw(st.one_of(st.integers(1, 100).map(lambda n: n * 10), st.integers(1, 1000)))
            f.capacity(ws, "storage", amount, draw(st.integers(0, 400)))
        if draw(st.booleans()):
            f.scheduled(ws, DW, draw(st.sampled_from(TIERS)), "monthly")
            if ws.scheduled_changes[-1].tier == "free":
                ws.scheduled_changes[-1].cycle = None
        if draw(st.booleans()):
            f.pending_order(ws, draw(st.sampled_from(PRODUCTS)), "standard", minutes_ago=draw(st.integers(0, 40)))
    return ws


requests = st.builds(
    ChangeRequest,
    product=st.sampled_from(PRODUCTS),
    tier=st.sampled_from(TIERS),
    cycle=st.sampled_from([None, "monthly", "yearly"]),
    seats=st.one_of(st.none(), st.integers(1, 60)),
    addons=st.one_of(
        st.just({}), st.dictionaries(st.sampled_from(list(CATALOG.capacity)), st.integers(1, 5000), max_size=2)
    ),
)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(ws=workspaces(), change=requests)
def test_every_valid_request_gets_an_answer_that_can_be_shown(ws, change):
    import json

    from billing_core.domain.messages import MISSING, render_decision
    from billing_core.domain.quotes import quote

    before = copy.deepcopy(ws)
    decision = decide(CATALOG, ws, change, NOW)
    assert ws == before
    assert decision.reasons and bool(decision.fixes) == (not decision.allowed)
    json.dumps(decision.to_dict())  # plain values only
    for lang in ("vi", "en"):
        shown = render_decision(decision, lang, CATALOG)
        for text in [shown["summary"], *shown["fixes"], *(r["message"] for r in shown["reasons"])]:
            assert text and "{" not in text and MISSING not in text and "None" not in text, text
    priced = quote(CATALOG, ws, change, NOW)
    json.dumps(priced.to_dict())
    assert priced.total_vnd >= 0


# =====================================================================================================
# Issue 10: the classes of bugs made impossible. Bounded and derandomized, so `make test` is stable.
# =====================================================================================================
PROPERTY_SETTINGS = dict(
    max_examples=min(EXAMPLES, 120), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
KINDS = sorted(CATALOG.capacity)

# Instants around Vietnam midnight (17:00 UTC), on any day of a year.
around_vietnam_midnight = st.builds(
    lambda day, minutes: datetime(2026, 1, 1, 17, 0, tzinfo=timezone.utc) + timedelta(days=day, minutes=minutes),
    st.integers(0, 400),
    st.integers(-90, 90),
)


# --- one business calendar ------------------------------------------------------------------------------
@settings(**PROPERTY_SETTINGS)
@given(now=around_vietnam_midnight, started=st.integers(0, 29), seconds=st.integers(0, 86399))
def test_one_calendar_check_show_and_quote_agree_at_every_instant(now, started, seconds):
    ws = f.workspace("ws-cal")
    trial = f.trial(ws, DW, "standard", seats=3, started_days_ago=started, now=now)
    trial.period_end += timedelta(seconds=seconds)
    uow = FakeUnitOfWork()
    with uow:
        uow.workspaces.add(ws)
        uow.commit()
    summary = services.workspace_summary(uow, "ws-cal", now, CATALOG)["subscriptions"][0]
    decision = decide(CATALOG, ws, ChangeRequest(DW, "free"), now)
    if decision.codes[0] == "TRIAL_NOT_OVER":
        params = decision.reasons[0].params
        assert params["days_left"] == summary["trial_days_left"] == days_left(trial.period_end, now)
        assert params["trial_end_date"] == business_day(trial.period_end).isoformat()
        shown = render(decision.reasons[0].code, params, "vi", CATALOG)
        assert "còn 0 ngày" not in shown
    else:
        assert now >= trial.period_end


@settings(**PROPERTY_SETTINGS)
@given(now=around_vietnam_midnight, left=st.integers(0, 27 * 24 * 60), tier=st.sampled_from(["starter", "standard"]))
def test_one_calendar_for_a_change_at_the_renewal(now, left, tier):
    ws = f.workspace()
    sub = f.paid(ws, DW, "premium", "monthly", seats=6, now=now)
    sub.period_end = now + timedelta(minutes=left + 1)
    sub.period_start = add_months(sub.period_end, -1)
    decision = decide(CATALOG, ws, ChangeRequest(DW, tier), now)
    priced = quote(CATALOG, ws, ChangeRequest(DW, tier), now)
    day = business_day(sub.period_end).isoformat()
    assert decision.reasons[0].params["effective_date"] == day
    assert {n.params["renewal_date"] for n in priced.notes if n.code == "QUOTE_CHARGED_AT_RENEWAL"} == {day}
    shown = render_decision(decision, "vi", CATALOG)
    assert business_day(sub.period_end).strftime("%d/%m/%Y") in shown["summary"]


@settings(**PROPERTY_SETTINGS)
@given(start=around_vietnam_midnight, months=st.integers(1, 30))
def test_renewals_keep_the_anchor_day_whatever_the_instant(start, months):
    ws = f.workspace()
    sub = f.paid(ws, DW, "standard", "monthly", seats=3, started_days_ago=0, now=start)
    sub.billing_anchor = start
    anchor_day = business_day(start).day
    for _ in range(months):
        renew(CATALOG, ws, DW, sub.period_end)
        end = business_day(sub.period_end)
        assert end.day == min(anchor_day, calendar.monthrange(end.year, end.month)[1])


# --- money paid exactly once ----------------------------------------------------------------------------
def _covered(ledger, kind, day):
    return sum(packs for k, packs, first, end in ledger if k == kind and first <= day < end)


def _record_lines(ledger, lines, today):
    for line in lines:
        params = line.params
        if line.code in ("QUOTE_ADDON", "QUOTE_ADDON_PRORATED", "QUOTE_ADDON_NEW_PERIOD"):
            packs = params["amount"] // CATALOG.capacity[params["kind"]].pack_size
            ledger.append((params["kind"], packs, today, date.fromisoformat(params["until_date"])))
        elif line.code == "QUOTE_ADDON_CREDIT":
            packs = params["amount"] // CATALOG.capacity[params["kind"]].pack_size
            ledger.append((params["kind"], -packs, today, date.fromisoformat(params["until_date"])))


def check_paid_exactly_once(ws, ledger, now):
    """Every pack the plans keep is paid for every future day of its owner's period, once; no day
    after the period end is paid in advance."""
    today = business_day(now)
    for kind in KINDS:
        owner = ws.subscription(CATALOG.capacity[kind].product)
        kept = 0
        if owner is not None and owner.status is Status.ACTIVE:
            kept = (
                min(ws.capacity_total(kind), CATALOG.quota(kind, owner.tier).max_extra)
                // CATALOG.capacity[kind].pack_size
            )
            end = business_day(owner.period_end)
            for day in {today, end - timedelta(days=1)}:
                if today <= day < end:
                    assert _covered(ledger, kind, day) == kept, (kind, day, kept, ledger)
            assert _covered(ledger, kind, end) == 0, (kind, "paid beyond the period end")
        else:
            assert _covered(ledger, kind, today + timedelta(days=1)) == 0, (kind, "paid without a paid owner")


money_step = st.one_of(
    st.tuples(
        st.just("buy"),
        st.sampled_from(PRODUCTS),
        st.sampled_from(TIERS[1:]),
        st.sampled_from([None, "monthly", "yearly"]),
        st.one_of(st.none(), st.integers(2, 12)),
        st.dictionaries(st.sampled_from(KINDS), st.integers(1, 25000), max_size=2),
    ),
    st.tuples(st.just("advance"), st.integers(1, 200)),
)


@settings(**PROPERTY_SETTINGS)
@given(
    plan=st.lists(money_step, min_size=1, max_size=12),
    dw_cycle=st.sampled_from(["monthly", "yearly"]),
    ow_cycle=st.sampled_from(["monthly", "yearly"]),
)
def test_each_pack_period_is_paid_exactly_once(plan, dw_cycle, ow_cycle):
    ws = f.workspace()
    f.paid(ws, DW, "standard", dw_cycle, seats=4, started_days_ago=3)
    f.paid(ws, OW, "starter", ow_cycle if dw_cycle == "yearly" else "monthly", seats=4, started_days_ago=1)
    f.paid(ws, AB, "starter", "monthly", seats=4, started_days_ago=2)
    ledger: list = []
    now = NOW
    for step in plan:
        if step[0] == "advance":
            now += timedelta(days=step[1])
            expire_trials(ws, now)
            for _ in range(40):
                due = [s for s in ws.subscriptions if s.status is Status.ACTIVE and s.period_end <= now]
                if not due:
                    break
                for sub in due:
                    renew(CATALOG, ws, sub.product, now)
                    if sub.status is Status.ACTIVE:
                        lines = renewal_lines(CATALOG, ws, sub.product, sub.tier, sub.cycle.value, sub.seats)
                        _record_lines(
                            ledger,
                            [
                                QuoteLine(
                                    line.code,
                                    {**line.params, "until_date": business_day(sub.period_end).isoformat()},
                                    line.amount_vnd,
                                )
                                for line in lines
                            ],
                            business_day(sub.period_start),
                        )
            execute_due(CATALOG, ws, now)
        else:
            _, product, tier, cycle, seats, addons = step
            request = ChangeRequest(product, tier, cycle, seats, addons)
            decision = decide(CATALOG, ws, request, now)
            if decision.outcome is Outcome.IMMEDIATE:
                priced = quote(CATALOG, ws, request, now)
                assert priced.timing == "immediate"
                assert priced.total_vnd == sum(line.amount_vnd for line in priced.lines) >= 0  # lines add up
                _record_lines(ledger, priced.lines, business_day(now))
                apply_decision(CATALOG, ws, decision, now)
                for line in priced.lines:  # priced on the cycle of the product that owns the kind
                    if line.code in ("QUOTE_ADDON", "QUOTE_ADDON_PRORATED", "QUOTE_ADDON_NEW_PERIOD"):
                        kind = CATALOG.capacity[line.params["kind"]]
                        owner = ws.subscription(kind.product)
                        full = line.params["amount"] // kind.pack_size * kind.pack_prices[owner.cycle.value]
                        share = (line.params["days"], line.params["period_days"]) if "days" in line.params else (1, 1)
                        assert line.params["cycle"] == owner.cycle.value
                        assert line.amount_vnd == full * share[0] // share[1]
            elif decision.outcome is Outcome.NEXT_CYCLE:
                priced = quote(CATALOG, ws, request, now)
                assert priced.total_vnd == sum(line.amount_vnd for line in priced.lines) >= 0
                schedule_change(ws, decision, now, "x", True)
        check_paid_exactly_once(ws, ledger, now)


# --- nothing deleted that is still included ------------------------------------------------------------
@settings(**PROPERTY_SETTINGS)
@given(start=st.sampled_from(sorted(f.demo_workspaces())), plan=steps)
@example(
    start="demo-downgrade-scheduled",  # issue 10 C: Premium -> Standard at the renewal, then back
    plan=[("advance", 10), ("change", DW, "premium", None, None, {}), ("advance", 100)],
)
def test_the_retention_job_never_deletes_what_is_still_included(start, plan):
    ws = f.demo_workspaces()[start]
    ws.orders.clear()
    now = NOW
    for step in plan:
        if step[0] == "advance":
            now = now + timedelta(days=step[1])
            expire_trials(ws, now)
            for _ in range(40):
                if not any([renew(CATALOG, ws, product, now) for product in PRODUCTS]):
                    break
            totals = {kind: ws.capacity_total(kind) for kind in KINDS}
            limits = {kind: capacity_limit(CATALOG, ws, kind) for kind in KINDS}
            for task in execute_due(CATALOG, ws, now):
                assert task.resolution in ("deleted", "still_included", "nothing_above_limit")
                assert (task.status is RetentionStatus.DONE) == (task.resolution == "deleted")
                if task.kind is RetentionKind.FEATURE_DATA and task.status is RetentionStatus.DONE:
                    assert not feature_in_force(CATALOG, ws, task.target), task
            for kind in KINDS:  # only the excess goes, never below the limit of the plans in force
                assert (
                    ws.capacity_total(kind) == min(totals[kind], max(limits[kind], 0))
                    or ws.capacity_total(kind) == totals[kind]
                ), (kind, totals[kind], limits[kind])
                assert ws.capacity_total(kind) >= min(totals[kind], limits[kind])
        elif step[0] == "cancel":
            if ws.scheduled_change(step[1]) is not None:
                cancel_scheduled_change(ws, step[1])
        else:
            _, product, tier, cycle, seats, addons = step
            decision = decide(CATALOG, ws, ChangeRequest(product, tier, cycle, seats, addons), now)
            if decision.outcome is Outcome.IMMEDIATE:
                apply_decision(CATALOG, ws, decision, now)
            elif decision.outcome is Outcome.NEXT_CYCLE:
                schedule_change(ws, decision, now, "x", True)
        for item in preview(CATALOG, ws, now):  # what the customer is told will go is not in force
            if item.kind is RetentionKind.FEATURE_DATA and item.source == "pending":
                assert not feature_in_force(CATALOG, ws, item.target)


# --- fixes that can be followed --------------------------------------------------------------------------
def _jobs_until(ws, moment):
    expire_trials(ws, moment)
    for _ in range(40):
        if not any([renew(CATALOG, ws, product, moment) for product in PRODUCTS]):
            break


def _apply_if_allowed(ws, request, now):
    decision = decide(CATALOG, ws, request, now)
    if decision.outcome is Outcome.IMMEDIATE:
        apply_decision(CATALOG, ws, decision, now)
        return True
    if decision.outcome is Outcome.NEXT_CYCLE:
        schedule_change(ws, decision, now, "x", True)
        return True
    return False


def follow(ws, change, fix, now):
    """Do what ``fix`` says, on a copy; return (workspace, request, moment) to decide again, or None
    when the fix is a step outside the system (support, paying a link, choosing freely)."""
    ws = copy.deepcopy(ws)
    p = fix.params
    product, tier, cycle, seats, addons = change.product, change.tier, change.cycle, change.seats, dict(change.addons)
    if fix.code == "FIX_REDUCE_CAPACITY":
        addons[p["kind"]] = p["max_amount"]
    elif fix.code == "FIX_SET_MIN_SEATS":
        seats = p["minimum"]
    elif fix.code == "FIX_KEEP_YEARLY":
        cycle = "yearly"
    elif fix.code in ("FIX_CHOOSE_OFFERED_TIER", "FIX_UPGRADE_TO_PAID_TIER"):
        tier = [t for t in p["tiers"] if CATALOG.tiers[t].paid or fix.code == "FIX_CHOOSE_OFFERED_TIER"][0]
    elif fix.code == "FIX_BUY_PAID_PLAN":
        tier = "standard"
    elif fix.code == "FIX_BUY_CAPACITY_SEPARATELY":
        addons = {}
    elif fix.code in ("FIX_CANCEL_SCHEDULED_CHANGE", "FIX_CANCEL_SCHEDULED_TO_KEEP"):
        cancel_scheduled_change(ws, p["product"])
    elif fix.code == "FIX_WAIT_UNTIL_TRIAL_END":
        now = ws.subscription(p["product"]).period_end
        _jobs_until(ws, now)
    elif fix.code == "FIX_WAIT_FOR_ORDER_EXPIRY":
        now = max(o.expires_at for o in ws.orders)
    elif fix.code == "FIX_WAIT_FOR_ADDON_CHANGE":
        now = ws.scheduled_change(p["addon"]).effective_at
        _jobs_until(ws, now)
    elif fix.code == "FIX_SWITCH_BASE_CYCLE_FIRST":
        base = ws.subscription(DW)
        if not _apply_if_allowed(ws, ChangeRequest(DW, base.tier, p["cycle"]), now):
            return None
    elif fix.code == "FIX_MOVE_ADDON_CYCLE_FIRST":
        if not _apply_if_allowed(ws, ChangeRequest(p["addon"], ws.subscription(p["addon"]).tier, p["cycle"]), now):
            return None
    elif fix.code == "FIX_BUY_PAID_BASE_FIRST":
        if not _apply_if_allowed(ws, ChangeRequest(DW, "standard", cycle or "yearly"), now):
            return None
    elif fix.code in ("FIX_BUY_PRODUCT_FOR_CAPACITY", "FIX_BUY_PAID_PLAN_FOR_CAPACITY"):
        if not _apply_if_allowed(ws, ChangeRequest(p["product"], "standard"), now):
            return None
    elif fix.code == "FIX_CHOOSE_HIGHER_TIER":
        product, tier = p["product"], max(CATALOG.products[p["product"]].tiers, key=lambda t: CATALOG.tiers[t].rank)
        if product != change.product:
            cycle = seats = None
    else:
        return None  # support, paying the open order, choosing another plan: outside the system
    return ws, ChangeRequest(product, tier, cycle, seats, addons), now


def _standard_with_995_gb():
    ws = f.workspace()
    f.paid(ws, DW, "standard", "monthly", seats=5)
    f.capacity(ws, "storage", 995, 3)
    return ws


@settings(**PROPERTY_SETTINGS)
@given(ws=workspaces(), change=requests)
@example(ws=_standard_with_995_gb(), change=ChangeRequest(DW, "standard", addons={"storage": 5}))  # issue 10 D
def test_following_a_fix_never_leads_to_the_same_refusal(ws, change):
    decision = decide(CATALOG, ws, change, NOW)
    if decision.allowed:
        return
    refusal = (decision.codes, [fix.code for fix in decision.fixes])
    for fix in decision.fixes:
        followed = follow(ws, change, fix, NOW)
        if followed is None:
            continue
        again = decide(CATALOG, *followed)
        event(f"{fix.code} -> {'allowed' if again.allowed else again.codes[0]}")
        assert again.allowed or (again.codes, [f.code for f in again.fixes]) != refusal, (fix, refusal)
        if fix.code.startswith("FIX_WAIT"):
            assert again.allowed or again.codes != decision.codes, ("a wait that changes nothing", fix)
