"""Use cases over a unit of work: every change is decided by the domain, stored with one audit
entry, or refused with a typed error that writes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from billing_core.adapters.orm import metadata
from billing_core.adapters.unit_of_work import FakeUnitOfWork, SqlAlchemyUnitOfWork, get_engine
from billing_core.domain import errors
from billing_core.domain import reasons as R
from billing_core.domain.catalog import load_catalog
from billing_core.domain.messages import render_error
from billing_core.domain.model import (
    Cycle,
    Effective,
    Order,
    OrderKind,
    OrderStatus,
    RetentionKind,
    RetentionStatus,
    Status,
)
from billing_core.domain.quotes import add_months
from billing_core.domain.rules import ChangeRequest
from billing_core.service_layer import services
from billing_core.service_layer.demo import DEMO_WORKSPACE_IDS, seed_demo
from tests.billing_core import factories as f
from tests.billing_core.factories import AB, DW, NOW, OW


@pytest.fixture
def uow():
    """The demo workspaces in the in-memory unit of work (fast)."""
    unit = FakeUnitOfWork()
    seed_demo(unit, NOW)
    return unit


def load(uow, workspace_id):
    with uow:
        return uow.workspaces.get(workspace_id)


def audit(uow, workspace_id, action=None):
    with uow:
        entries = uow.workspaces.audit_entries(workspace_id)
    return [e for e in entries if action is None or e.action == action]


def store(uow, workspace):
    with uow:
        uow.workspaces.add(workspace)
        uow.commit()


# --- questions are read only ------------------------------------------------------------------
def test_check_change_answers_without_writing(uow):
    before = load(uow, "demo-monthly")
    allowed = services.check_change(uow, "demo-monthly", ChangeRequest(DW, "standard"), NOW)
    blocked = services.check_change(uow, "demo-monthly", ChangeRequest(AB, "standard", cycle="yearly"), NOW)
    assert (allowed.allowed, allowed.effective) == (True, Effective.IMMEDIATE)
    assert (blocked.allowed, blocked.effective) == (False, None)
    assert R.ADDON_CYCLE_LONGER_THAN_BASE in blocked.codes
    assert [fix.code for fix in blocked.fixes] == [R.FIX_SWITCH_BASE_CYCLE_FIRST]
    assert load(uow, "demo-monthly") == before
    assert audit(uow, "demo-monthly", "change_applied") == []


def test_quote_only_for_an_allowed_change(uow):
    decision, quote = services.quote_change(
        uow, "demo-monthly", ChangeRequest(DW, "standard", addons={"storage": 25}), NOW
    )
    assert decision.allowed and quote is not None
    assert quote.total_vnd > 0 and quote.target.addons == {"storage": 30}
    decision, quote = services.quote_change(uow, "demo-monthly", ChangeRequest(AB, "standard", cycle="yearly"), NOW)
    assert not decision.allowed and quote is None


@pytest.mark.parametrize("workspace_id", ["nope", "", "   ", None, 42, "x" * 500])
def test_unknown_workspace_is_a_typed_error(uow, workspace_id):
    with pytest.raises(errors.WorkspaceNotFoundError) as error:
        services.check_change(uow, workspace_id, ChangeRequest(DW, "standard"), NOW)
    assert render_error(error.value, "vi", load_catalog()) and render_error(error.value, "en", load_catalog())
    with pytest.raises(errors.WorkspaceNotFoundError):
        services.workspace_summary(uow, workspace_id, NOW)


def test_a_request_must_be_a_change_request(uow):
    with pytest.raises(errors.InvalidRequestError):
        services.check_change(uow, "demo-monthly", {"product": DW, "tier": "standard"}, NOW)


# --- apply_upgrade ------------------------------------------------------------------------------
def test_apply_upgrade_applies_now_and_audits(uow):
    version = load(uow, "demo-monthly").version
    sub = services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "standard", seats=6), NOW, actor="vnpay")
    assert (sub.tier, sub.seats, sub.status) == ("standard", 6, Status.ACTIVE)
    stored = load(uow, "demo-monthly")
    assert stored.subscription(DW).tier == "standard"
    assert stored.version == version + 1
    [entry] = audit(uow, "demo-monthly", "change_applied")
    assert entry.actor == "vnpay"
    assert entry.detail["before"]["tier"] == "starter" and entry.detail["after"]["tier"] == "standard"
    assert entry.detail["version"] == stored.version
    json.dumps(entry.detail)  # audit details are plain JSON


def test_apply_upgrade_records_capacity_bought_with_it(uow):
    services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "standard", addons={"storage": 25}), NOW)
    stored = load(uow, "demo-monthly")
    assert stored.capacity_total("storage") == 30
    assert stored.capacity[0].purchased_at == NOW


def test_apply_upgrade_cancels_the_scheduled_downgrade(uow):
    request = ChangeRequest(DW, "premium", seats=15)
    decision = services.check_change(uow, "demo-downgrade-scheduled", request, NOW)
    assert R.CANCELS_SCHEDULED_CHANGE in decision.codes
    services.apply_upgrade(uow, "demo-downgrade-scheduled", request, NOW)
    stored = load(uow, "demo-downgrade-scheduled")
    assert stored.scheduled_changes == []
    assert stored.subscription(DW).seats == 15
    [entry] = audit(uow, "demo-downgrade-scheduled", "change_applied")
    assert entry.detail["cancelled_scheduled_change"]["tier"] == "standard"


def test_a_move_to_free_after_the_trial_applies_at_once(uow):
    sub = services.apply_upgrade(uow, "demo-trial-ended", ChangeRequest(DW, "free"), NOW)
    assert (sub.tier, sub.status, sub.period_end) == ("free", Status.FREE, None)


@pytest.mark.parametrize(
    "workspace_id, request_, why",
    [
        ("demo-yearly", ChangeRequest(DW, "starter"), "NEXT_CYCLE"),  # a downgrade: scheduled, not applied
        ("demo-monthly", ChangeRequest(AB, "standard", cycle="yearly"), "BLOCKED"),
        ("demo-pending-payment", ChangeRequest(DW, "premium"), "BLOCKED"),  # payment pending
        ("demo-monthly", ChangeRequest(DW, "starter"), "BLOCKED"),  # no change
    ],
)
def test_apply_upgrade_refuses_what_is_not_an_immediate_change(uow, workspace_id, request_, why):
    before = load(uow, workspace_id)
    with pytest.raises(errors.ChangeNotAllowedError) as refused:
        services.apply_upgrade(uow, workspace_id, request_, NOW)
    assert refused.value.params["outcome"] == why
    assert load(uow, workspace_id) == before


# --- schedule_downgrade -------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [None, "", "   \n", 42])
def test_a_downgrade_needs_a_survey_answer(uow, answer):
    before = load(uow, "demo-yearly")
    with pytest.raises(errors.SurveyAnswerRequiredError) as error:
        services.schedule_downgrade(uow, "demo-yearly", ChangeRequest(DW, "starter"), answer, True, NOW)
    assert render_error(error.value, "vi", load_catalog()) != error.value.code
    assert load(uow, "demo-yearly") == before


@pytest.mark.parametrize("confirmed", [False, None, "yes", 1])
def test_a_downgrade_needs_an_explicit_confirmation(uow, confirmed):
    before = load(uow, "demo-yearly")
    with pytest.raises(errors.ConfirmationRequiredError):
        services.schedule_downgrade(uow, "demo-yearly", ChangeRequest(DW, "starter"), "Giá cao", confirmed, NOW)
    assert load(uow, "demo-yearly") == before


def test_schedule_downgrade_waits_for_the_renewal(uow):
    dw = load(uow, "demo-yearly").subscription(DW)
    change = services.schedule_downgrade(
        uow, "demo-yearly", ChangeRequest(DW, "starter"), "  Ít dùng tính năng nâng cao ", True, NOW, actor="user:an"
    )
    assert (change.tier, change.cycle, change.effective_at) == ("starter", Cycle.YEARLY, dw.period_end)
    assert change.survey_answer == "Ít dùng tính năng nâng cao"
    stored = load(uow, "demo-yearly")
    assert stored.subscription(DW).tier == "standard"  # nothing changes before the renewal
    assert stored.scheduled_change(DW) == change
    [entry] = audit(uow, "demo-yearly", "downgrade_scheduled")
    assert entry.actor == "user:an" and entry.detail["replaced"] is None
    summary = services.workspace_summary(uow, "demo-yearly", NOW)
    plan = next(s for s in summary["subscriptions"] if s["product"] == DW)
    assert plan["downgrade_scheduled"] and plan["next_renewal_plan"]["tier"] == "starter"


def test_a_second_downgrade_replaces_the_first_and_says_so(uow):
    request = ChangeRequest(DW, "starter", seats=10)
    decision = services.check_change(uow, "demo-downgrade-scheduled", request, NOW)
    assert R.REPLACES_SCHEDULED_CHANGE in decision.codes
    services.schedule_downgrade(uow, "demo-downgrade-scheduled", request, "Cắt giảm chi phí", True, NOW)
    stored = load(uow, "demo-downgrade-scheduled")
    assert [(c.tier, c.seats) for c in stored.scheduled_changes] == [("starter", 10)]
    [entry] = audit(uow, "demo-downgrade-scheduled", "downgrade_scheduled")
    assert entry.detail["replaced"]["tier"] == "standard"


def test_schedule_downgrade_refuses_an_upgrade_or_a_blocked_change(uow):
    with pytest.raises(errors.ChangeNotAllowedError) as refused:
        services.schedule_downgrade(uow, "demo-monthly", ChangeRequest(DW, "premium"), "x", True, NOW)
    assert refused.value.params["outcome"] == "IMMEDIATE"
    with pytest.raises(errors.ChangeNotAllowedError):
        services.schedule_downgrade(uow, "demo-monthly", ChangeRequest(AB, "free"), "x", True, NOW)


def test_G_asking_again_for_the_scheduled_downgrade_changes_nothing(uow):
    """It used to be refused (ChangeNotAllowedError, "[CHƯA ĐƯỢC]"); now it is answered and nothing is written."""
    before = load(uow, "demo-downgrade-scheduled")
    change = services.schedule_downgrade(uow, "demo-downgrade-scheduled", ChangeRequest(DW, "standard"), "x", True, NOW)
    after = load(uow, "demo-downgrade-scheduled")
    assert change.tier == "standard" and after.version == before.version
    assert audit(uow, "demo-downgrade-scheduled", "downgrade_scheduled") == []


def test_cancel_scheduled_change(uow):
    services.cancel_scheduled_change(uow, "demo-downgrade-scheduled", DW, NOW, actor="agent:lan")
    assert load(uow, "demo-downgrade-scheduled").scheduled_changes == []
    [entry] = audit(uow, "demo-downgrade-scheduled", "scheduled_change_cancelled")
    assert entry.actor == "agent:lan" and entry.detail["cancelled"]["tier"] == "standard"
    with pytest.raises(errors.NoScheduledChangeError):
        services.cancel_scheduled_change(uow, "demo-downgrade-scheduled", DW, NOW)
    with pytest.raises(errors.UnknownProductError):
        services.cancel_scheduled_change(uow, "demo-downgrade-scheduled", "dw", NOW)


# --- jobs -------------------------------------------------------------------------------------
def test_expire_trials_once(uow):
    later = NOW + timedelta(days=19)  # demo-trial had 18 days left; demo-monthly's App Builder 10
    expired = services.expire_trials(uow, later)
    assert sorted((r["workspace_id"], r["product"]) for r in expired) == [("demo-monthly", AB), ("demo-trial", DW)]
    assert load(uow, "demo-trial").subscription(DW).status is Status.EXPIRED
    assert services.expire_trials(uow, later) == []
    assert len(audit(uow, "demo-trial", "trial_expired")) == 1


def test_renewal_applies_the_scheduled_downgrade_with_its_retention(uow):
    old = load(uow, "demo-downgrade-scheduled").subscription(DW)
    later = NOW + timedelta(days=10)
    [record] = [r for r in services.renew_due(uow, later) if r["workspace_id"] == "demo-downgrade-scheduled"]
    sub = load(uow, "demo-downgrade-scheduled").subscription(DW)
    assert (sub.tier, sub.seats, sub.status) == ("standard", 12, Status.ACTIVE)
    assert (sub.period_start, sub.period_end) == (old.period_end, add_months(old.period_end, 1))
    assert record["applied_scheduled_change"]["tier"] == "standard"
    assert record["renewal_paid"] is False  # no paid renewal order: recorded, not cut off
    tasks = load(uow, "demo-downgrade-scheduled").retention_tasks
    assert {t.target for t in tasks} == {"okr", "audit_log"}
    assert all(t.kind is RetentionKind.FEATURE_DATA and t.due_at == old.period_end + timedelta(days=90) for t in tasks)
    assert load(uow, "demo-downgrade-scheduled").scheduled_changes == []
    assert [r for r in services.renew_due(uow, later) if r["workspace_id"] == "demo-downgrade-scheduled"] == []


def test_a_plan_left_alone_renews_every_period_it_missed(uow):
    later = NOW + timedelta(days=100)
    start = load(uow, "demo-monthly").subscription(DW).period_start  # 10 days before NOW
    records = [r for r in services.renew_due(uow, later) if r["workspace_id"] == "demo-monthly"]
    sub = load(uow, "demo-monthly").subscription(DW)
    assert [r["renewed_at"] for r in records] == [add_months(start, n).isoformat() for n in (1, 2, 3)]
    assert sub.period_start <= later < sub.period_end


def test_a_paid_renewal_order_is_recorded(uow):
    with uow:
        ws = uow.workspaces.get("demo-monthly")
        sub = ws.subscription(DW)
        ws.orders.append(
            Order(
                txn_ref="RENEW1",
                kind=OrderKind.RENEWAL,
                product=DW,
                tier="starter",
                cycle=Cycle.MONTHLY,
                seats=5,
                addons={},
                amount_vnd=300_000,
                status=OrderStatus.PAID,
                created_at=sub.period_end - timedelta(days=2),
                expires_at=sub.period_end,
                paid_at=sub.period_end - timedelta(days=2),
            )
        )
        ws.touch()
        uow.commit()
    records = [
        r for r in services.renew_due(uow, sub.period_end + timedelta(hours=1)) if r["workspace_id"] == "demo-monthly"
    ]
    assert [(r["renewal_paid"], r["renewal_order"]) for r in records] == [(True, "RENEW1")]


def test_retention_deletes_the_excess_after_7_days_oldest_first():
    uow = FakeUnitOfWork()
    ws = f.workspace("ws-storage")
    f.paid(ws, DW, "standard", "monthly", seats=5, started_days_ago=25)
    f.capacity(ws, "storage", 600, 40)
    f.capacity(ws, "storage", 300, 20)
    store(uow, ws)
    services.schedule_downgrade(uow, "ws-storage", ChangeRequest(DW, "starter"), "Giá cao", True, NOW)
    effective = load(uow, "ws-storage").subscription(DW).period_end
    preview = services.retention_preview(uow, "ws-storage", NOW)
    capacity_items = [i for i in preview if i.kind is RetentionKind.CAPACITY]
    assert [(i.target, i.amount, i.due_at) for i in capacity_items] == [("storage", 700, effective + timedelta(days=7))]

    counts = services.run_plan_jobs(uow, effective + timedelta(days=1))
    assert counts == {"trials_expired": 0, "renewed": 1, "retention_executed": 0}  # not yet: 7 days
    counts = services.run_plan_jobs(uow, effective + timedelta(days=7))
    assert counts["retention_executed"] == 1
    stored = load(uow, "ws-storage")
    assert [(p.amount, p.purchased_at) for p in stored.capacity] == [(200, NOW - timedelta(days=20))]
    assert services.run_plan_jobs(uow, effective + timedelta(days=8))["retention_executed"] == 0
    done = [t for t in stored.retention_tasks if t.kind is RetentionKind.CAPACITY]
    assert [(t.status, t.amount) for t in done] == [(RetentionStatus.DONE, 700)]


def test_run_jobs_is_idempotent(uow):
    later = NOW + timedelta(days=400)
    first = services.run_plan_jobs(uow, later)
    assert first["trials_expired"] == 2 and first["renewed"] > 0 and first["retention_executed"] > 0
    assert services.run_plan_jobs(uow, later) == {"trials_expired": 0, "renewed": 0, "retention_executed": 0}


# --- summary ------------------------------------------------------------------------------------
def test_workspace_summary_of_the_demo_workspaces(uow):
    summaries = {
        ws: services.workspace_summary(uow, ws, NOW)
        for ws in ("demo-trial", "demo-yearly", "demo-pending-payment", "demo-free")
    }
    for summary in summaries.values():
        assert json.loads(json.dumps(summary)) == summary
    [trial] = summaries["demo-trial"]["subscriptions"]
    assert (trial["status"], trial["trial_days_left"], trial["next_renewal_plan"]) == ("trial", 18, None)
    yearly = summaries["demo-yearly"]
    assert [s["product"] for s in yearly["subscriptions"]] == [DW, OW, AB]
    assert {c["kind"]: c["extra_total"] for c in yearly["capacity"]} == {"storage": 70, "automation_runs": 5000}
    dw = yearly["subscriptions"][0]
    assert dw["next_renewal_plan"] == {
        "tier": "standard",
        "cycle": "yearly",
        "seats": 10,
        "effective_at": dw["period_end"],
    }
    [order] = summaries["demo-pending-payment"]["pending_orders"]
    assert (order["product"], order["tier"], order["amount_vnd"] > 0) == (DW, "standard", True)
    assert summaries["demo-free"]["subscriptions"][0]["next_renewal_at"] is None


# --- bad input writes nothing, in a real database ---------------------------------------------
def snapshot(url):
    with get_engine(url).connect() as connection:
        return {
            table.name: sorted(map(repr, connection.execute(text(f"SELECT * FROM {table.name}")).all()))
            for table in metadata.sorted_tables
        }


def test_bad_calls_leave_the_database_unchanged(database_url):
    uow = SqlAlchemyUnitOfWork(database_url)
    seed_demo(uow, NOW)
    before = snapshot(database_url)
    bad_calls = [
        (lambda: services.check_change(uow, "nope", ChangeRequest(DW, "standard"), NOW), errors.WorkspaceNotFoundError),
        (
            lambda: services.apply_upgrade(uow, "demo-monthly", ChangeRequest("dw", "standard"), NOW),
            errors.UnknownProductError,
        ),
        (lambda: services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "gold"), NOW), errors.UnknownTierError),
        (
            lambda: services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "standard", cycle="weekly"), NOW),
            errors.UnknownCycleError,
        ),
        (
            lambda: services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "standard", seats=0), NOW),
            errors.InvalidSeatsError,
        ),
        (
            lambda: services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "standard", seats=10**9), NOW),
            errors.InvalidSeatsError,
        ),
        (
            lambda: services.apply_upgrade(
                uow, "demo-monthly", ChangeRequest(DW, "standard", addons={"storage": -5}), NOW
            ),
            errors.InvalidCapacityAmountError,
        ),
        (
            lambda: services.apply_upgrade(uow, "demo-monthly", ChangeRequest(DW, "standard", addons={"disk": 5}), NOW),
            errors.UnknownCapacityKindError,
        ),
        (
            lambda: services.apply_upgrade(uow, "demo-yearly", ChangeRequest(DW, "starter"), NOW),
            errors.ChangeNotAllowedError,
        ),
        (
            lambda: services.schedule_downgrade(uow, "demo-yearly", ChangeRequest(DW, "starter"), "", True, NOW),
            errors.SurveyAnswerRequiredError,
        ),
        (
            lambda: services.schedule_downgrade(uow, "demo-yearly", ChangeRequest(DW, "starter"), "x", False, NOW),
            errors.ConfirmationRequiredError,
        ),
        (lambda: services.cancel_scheduled_change(uow, "demo-monthly", DW, NOW), errors.NoScheduledChangeError),
        (lambda: services.cancel_scheduled_change(uow, "demo-monthly", "nope", NOW), errors.UnknownProductError),
    ]
    for call, expected in bad_calls:
        with pytest.raises(expected) as raised:
            call()
        assert render_error(raised.value, "vi", load_catalog()) != raised.value.code and render_error(
            raised.value, "en", load_catalog()
        )
    assert snapshot(database_url) == before


def test_use_cases_on_a_real_database(database_url):
    """The same flow as above, through SQLAlchemy: upgrade, schedule, replace, renew, retention."""
    uow = SqlAlchemyUnitOfWork(database_url)
    seed_demo(uow, NOW)
    services.apply_upgrade(
        uow, "demo-monthly", ChangeRequest(DW, "standard", addons={"storage": 300}), NOW, actor="agent:" + "x" * 500
    )  # longer than the column: kept, cut to fit
    services.schedule_downgrade(uow, "demo-monthly", ChangeRequest(DW, "starter"), "Giá cao " * 1000, True, NOW)
    services.schedule_downgrade(uow, "demo-monthly", ChangeRequest(DW, "starter", seats=3), "Giá cao", True, NOW)
    stored = load(uow, "demo-monthly")
    assert [(c.tier, c.seats) for c in stored.scheduled_changes] == [("starter", 3)]
    end = stored.subscription(DW).period_end
    services.run_plan_jobs(uow, end + timedelta(days=7))
    stored = load(uow, "demo-monthly")
    assert (stored.subscription(DW).tier, stored.subscription(DW).seats) == ("starter", 3)
    assert stored.capacity_total("storage") == 200  # Starter's limit; 100 GB removed
    actions = [e.action for e in audit(uow, "demo-monthly")]
    assert actions == [
        "demo_seeded",
        "change_applied",
        "downgrade_scheduled",
        "downgrade_scheduled",
        "trial_expired",
        "renewed",
        "retention_executed",
    ]  # feature data: 90 days
    versions = [e.detail["version"] for e in audit(uow, "demo-monthly")]
    assert versions == sorted(versions) and versions[-1] == stored.version


def test_a_workspace_view_decides_as_each_use_case_on_one_read(database_url):
    """``workspace_view`` reads the workspace once (one unit of work) and its decisions and retention
    preview are those of ``check_change`` and ``retention_preview``, each of which reads it again:
    every demo workspace, every product, tier and cycle, on the stored (detached) objects."""
    catalog = load_catalog()
    seed_demo(SqlAlchemyUnitOfWork(database_url), NOW)
    opened = []

    class Counted(SqlAlchemyUnitOfWork):
        def __enter__(self):
            opened.append(1)
            return super().__enter__()

    for workspace_id in DEMO_WORKSPACE_IDS:
        opened.clear()
        view = services.workspace_view(Counted(database_url), workspace_id, NOW, catalog)
        decisions = [
            view.check(ChangeRequest(product=product, tier=tier, cycle=cycle if tier != "free" else None))
            for product, offer in catalog.products.items()
            for tier in offer.tiers
            for cycle in catalog.cycles
        ]
        retention = view.retention()
        assert len(opened) == 1, "the view read the workspace more than once"
        assert view.summary == services.workspace_summary(SqlAlchemyUnitOfWork(database_url), workspace_id, NOW)
        uow = SqlAlchemyUnitOfWork(database_url)
        assert decisions == [
            services.check_change(
                uow,
                workspace_id,
                ChangeRequest(product=product, tier=tier, cycle=cycle if tier != "free" else None),
                NOW,
            )
            for product, offer in catalog.products.items()
            for tier in offer.tiers
            for cycle in catalog.cycles
        ]
        assert retention == services.retention_preview(uow, workspace_id, NOW, catalog)
        assert any(d.allowed for d in decisions) and any(not d.allowed for d in decisions)
