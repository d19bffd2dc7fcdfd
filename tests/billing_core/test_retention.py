"""Retention after a downgrade: what goes, how much, when; oldest purchases first; idempotent job."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from billing_core.domain.catalog import load_catalog
from billing_core.domain.model import RetentionKind, RetentionStatus
from billing_core.domain.retention import execute_due, preview, tasks_for_change
from tests.billing_core import factories as f
from tests.billing_core.factories import AB, DW, NOW, OW


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def summary(tasks):
    return sorted((t.kind.value, t.target, t.amount, t.due_at) for t in tasks)


def test_downgrade_removes_capacity_excess_and_locked_feature_data(catalog):
    ws = f.demo_workspaces()["demo-yearly"]  # storage 50 + 20 GB
    f.capacity(ws, "storage", 200, 3)  # 270 GB extra; Starter carries at most 200
    effective = ws.subscription(DW).period_end
    tasks = tasks_for_change(catalog, ws, DW, "standard", "starter", effective, NOW)
    assert summary(tasks) == sorted(
        [
            ("capacity", "storage", 70, effective + timedelta(days=7)),
            ("feature_data", "reports", 0, effective + timedelta(days=90)),
            ("feature_data", "gantt", 0, effective + timedelta(days=90)),
        ]
    )
    assert all(t.status is RetentionStatus.PENDING and t.created_at == NOW for t in tasks)
    assert ws.retention_tasks == [], "computing tasks does not add them"


def test_move_to_free_removes_all_extended_capacity(catalog):
    ws = f.demo_workspaces()["demo-yearly"]
    tasks = tasks_for_change(catalog, ws, DW, "standard", "free", NOW, NOW)
    capacity = [(t.target, t.amount) for t in tasks if t.kind is RetentionKind.CAPACITY]
    assert capacity == [("storage", 70)]
    features = {t.target for t in tasks if t.kind is RetentionKind.FEATURE_DATA}
    assert features == {"projects", "calendar", "reports", "gantt"}


def test_capacity_follows_the_product_that_governs_it(catalog):
    ws = f.demo_workspaces()["demo-yearly"]
    f.capacity(ws, "automation_runs", 25000, 2)  # 30.000 runs; OW Starter allows 20.000 extra
    ow_tasks = tasks_for_change(catalog, ws, OW, "standard", "starter", NOW, NOW)
    assert [(t.target, t.amount) for t in ow_tasks if t.kind is RetentionKind.CAPACITY] == [("automation_runs", 10000)]
    ab_tasks = tasks_for_change(catalog, ws, AB, "standard", "starter", NOW, NOW)
    assert {t.target for t in ab_tasks} == {"app_api", "app_automations"}  # no capacity of App Builder bought


def test_upgrade_or_same_tier_deletes_nothing(catalog):
    ws = f.demo_workspaces()["demo-yearly"]
    assert tasks_for_change(catalog, ws, DW, "standard", "premium", NOW, NOW) == []
    assert tasks_for_change(catalog, ws, DW, "standard", "standard", NOW, NOW) == []


def test_preview_of_a_scheduled_downgrade(catalog):
    ws = f.demo_workspaces()["demo-downgrade-scheduled"]  # Premium -> Standard in 9 days
    f.capacity(ws, "storage", 1500, 40)  # Standard carries at most 1000 GB extra
    end = ws.subscription(DW).period_end
    items = preview(catalog, ws, NOW)
    assert [(i.kind.value, i.target, i.amount, i.unit, i.due_at, i.source) for i in items] == [
        ("capacity", "storage", 500, "GB", end + timedelta(days=7), "scheduled"),
        ("feature_data", "audit_log", 0, "", end + timedelta(days=90), "scheduled"),
        ("feature_data", "okr", 0, "", end + timedelta(days=90), "scheduled"),
    ]
    assert items[0].to_dict()["due_at"] == (end + timedelta(days=7)).isoformat()


def downgraded_workspace(catalog, purchases):
    """DW just moved Standard -> Starter (applied), capacity purchases (amount, days ago) kept."""
    ws = f.workspace()
    f.paid(ws, DW, "starter", "monthly", seats=5, started_days_ago=0)
    for amount, days_ago in purchases:
        f.capacity(ws, "storage", amount, days_ago)
    ws.retention_tasks.extend(tasks_for_change(catalog, ws, DW, "standard", "starter", NOW, NOW))
    return ws


def test_preview_of_pending_tasks_rechecks_capacity(catalog):
    ws = downgraded_workspace(catalog, [(50, 100), (100, 50), (150, 3)])  # 300 GB, limit 200
    items = preview(catalog, ws, NOW)
    assert [(i.target, i.amount, i.source) for i in items if i.kind is RetentionKind.CAPACITY] == [
        ("storage", 100, "pending"),
    ]
    ws.capacity[2].amount = 80  # the customer deleted 70 GB: 230 GB left, 30 above the limit
    assert [i.amount for i in preview(catalog, ws, NOW) if i.kind is RetentionKind.CAPACITY] == [30]
    ws.capacity[2].amount = 50  # now within the limit: nothing to show
    assert [i for i in preview(catalog, ws, NOW) if i.kind is RetentionKind.CAPACITY] == []


def test_job_removes_the_excess_oldest_first_and_partly(catalog):
    ws = downgraded_workspace(catalog, [(100, 50), (50, 100), (150, 3)])
    version = ws.version
    assert execute_due(catalog, ws, NOW + timedelta(days=6)) == [], "not due yet"
    assert ws.version == version and ws.capacity_total("storage") == 300

    done = execute_due(catalog, ws, NOW + timedelta(days=7))
    assert {(t.kind, t.target) for t in done} == {
        (RetentionKind.CAPACITY, "storage"),
    }
    # 100 GB over: the oldest purchase (50 GB, 100 days ago) goes entirely, then 50 of the next.
    assert sorted((p.amount, (NOW - p.purchased_at).days) for p in ws.capacity) == [(50, 50), (150, 3)]
    assert done[0].amount == 100 and done[0].status is RetentionStatus.DONE
    assert ws.version == version + 1

    later = NOW + timedelta(days=90)
    features_done = execute_due(catalog, ws, later)
    assert {t.target for t in features_done} == {"reports", "gantt"}
    assert all(t.status is RetentionStatus.DONE for t in ws.retention_tasks)

    snapshot = copy.deepcopy(ws)
    assert execute_due(catalog, ws, later + timedelta(days=30)) == [], "idempotent"
    assert ws == snapshot


def test_job_rechecks_at_run_time(catalog):
    ws = downgraded_workspace(catalog, [(50, 100), (100, 50), (150, 3)])
    ws.capacity[0].amount = 0  # a purchase the customer emptied themselves
    ws.capacity.pop(0)
    ws.capacity[0].amount = 60  # 210 GB: only 10 above the limit now
    done = execute_due(catalog, ws, NOW + timedelta(days=7))
    assert done[0].amount == 10
    assert sorted(p.amount for p in ws.capacity) == [50, 150]


def test_plan_that_allows_it_again_means_nothing_is_deleted(catalog):
    ws = downgraded_workspace(catalog, [(300, 20)])
    ws.subscription(DW).tier = "standard"  # upgraded again before the date
    done = execute_due(catalog, ws, NOW + timedelta(days=8))
    # Skipped, with its reason recorded (it used to be marked DONE having deleted 0).
    assert (done[0].amount, done[0].status, done[0].resolution) == (0, RetentionStatus.CANCELLED, "nothing_above_limit")
    assert ws.capacity_total("storage") == 300


def test_emptied_purchases_are_removed(catalog):
    ws = downgraded_workspace(catalog, [(40, 30), (40, 20), (200, 10)])
    execute_due(catalog, ws, NOW + timedelta(days=7))
    assert [p.amount for p in ws.capacity] == [200]
