"""Jobs: reconciliation of orders left pending (querydr) and auto-renewal orders + reminders."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl

import pytest

from billing_core.adapters import vnpay
from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
from billing_core.domain.model import Cycle, OrderKind, OrderStatus, RenewalMode, ScheduledChange
from billing_core.domain.rules import ChangeRequest
from billing_core.service_layer import payments, services

from .conftest import NOW, WORKSPACE_ID, paying_workspace, seed, signed_ipn

UPGRADE = ChangeRequest("app_builder", "standard", "yearly", 10, {"storage": 50})
LATER = NOW + timedelta(hours=1)


class FakeResponse:
    def __init__(self, status_code, payload):
        self.status_code, self._payload = status_code, payload

    def json(self):
        if isinstance(self._payload, Exception):
            raise self._payload
        return self._payload


class FakeVnpaySession:
    """Stands in for requests.Session: answers querydr as VNPAY would for ``outcomes[txn_ref]``."""

    def __init__(self, config, outcomes):
        self.config, self.outcomes, self.calls = config, outcomes, []

    def post(self, url, json, timeout):
        self.calls.append(json)
        outcome = self.outcomes.get(json["vnp_TxnRef"], "missing")
        if outcome == "down":
            import requests

            raise requests.ConnectionError("VNPAY unreachable")
        if outcome == "forged":
            return FakeResponse(
                200, {"vnp_ResponseCode": "00", "vnp_TransactionStatus": "00", "vnp_SecureHash": "f" * 128}
            )
        amount, status = outcome if isinstance(outcome, tuple) else (None, outcome)
        fields = {
            "vnp_ResponseId": "1",
            "vnp_Command": "querydr",
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_TxnRef": json["vnp_TxnRef"],
            "vnp_Message": "ok",
        }
        if status == "missing":
            fields.update(vnp_ResponseCode="91")
        elif status == "api_error":
            fields.update(vnp_ResponseCode="99")
        else:
            fields.update(
                vnp_ResponseCode="00",
                vnp_TransactionStatus=status,
                vnp_Amount=str(amount),
                vnp_TransactionNo="15000001",
                vnp_PayDate="20261126161000",
                vnp_BankCode="NCB",
            )
        return FakeResponse(200, vnpay.querydr_answer(self.config, fields))


@pytest.fixture
def uow(database_url):
    unit = SqlAlchemyUnitOfWork(database_url)
    seed(unit, paying_workspace())
    return unit


def orders(uow):
    with uow:
        return {o.txn_ref: o for o in uow.workspaces.get(WORKSPACE_ID).orders}


def actions(uow):
    with uow:
        return [e.action for e in uow.workspaces.audit_entries(WORKSPACE_ID)]


def open_order(uow, config, now=NOW, request=UPGRADE):
    return payments.start_checkout(uow, WORKSPACE_ID, request, "manual", config, now=now).order


def test_reconcile_applies_a_payment_whose_ipn_never_came(uow, config):
    order = open_order(uow, config)
    session = FakeVnpaySession(config, {order.txn_ref: (order.amount_vnd * 100, "00")})
    report = payments.reconcile_pending(uow, config, LATER, session=session)
    assert report == [{"txn_ref": order.txn_ref, "outcome": "paid"}]
    assert session.calls[0]["vnp_TransactionDate"] == vnpay.vnpay_date(order.created_at)
    stored = orders(uow)[order.txn_ref]
    assert stored.status is OrderStatus.PAID and stored.transaction_no == "15000001"
    with uow:
        assert uow.workspaces.get(WORKSPACE_ID).subscription("app_builder").tier == "standard"
    assert "change_applied" in actions(uow)
    # a late IPN for the same payment is answered 02 and applies nothing more
    assert payments.handle_ipn(uow, signed_ipn(config, order), config)["RspCode"] == "02"
    assert actions(uow).count("change_applied") == 1


@pytest.mark.parametrize(
    "outcome, final", [("missing", OrderStatus.EXPIRED), ("01", OrderStatus.EXPIRED), ("02", OrderStatus.FAILED)]
)
def test_reconcile_closes_unpaid_orders(uow, config, outcome, final):
    order = open_order(uow, config)
    answer = outcome if outcome == "missing" else (order.amount_vnd * 100, outcome)
    payments.reconcile_pending(uow, config, LATER, session=FakeVnpaySession(config, {order.txn_ref: answer}))
    assert orders(uow)[order.txn_ref].status is final
    with uow:
        assert uow.workspaces.get(WORKSPACE_ID).subscription("app_builder").tier == "starter"
    # a new checkout for the same change is possible again
    assert open_order(uow, config, now=LATER).txn_ref != order.txn_ref


@pytest.mark.parametrize("outcome", ["down", "forged", "api_error"])
def test_reconcile_leaves_orders_pending_when_vnpay_cannot_say(uow, config, outcome, monkeypatch):
    monkeypatch.setattr(vnpay.time, "sleep", lambda seconds: None)  # no back-off waits in tests
    order = open_order(uow, config)
    report = payments.reconcile_pending(uow, config, LATER, session=FakeVnpaySession(config, {order.txn_ref: outcome}))
    assert report[0]["outcome"] == "unchanged"
    assert orders(uow)[order.txn_ref].status is OrderStatus.PENDING


def test_reconcile_skips_open_and_final_orders_and_mismatched_amounts(uow, config):
    order = open_order(uow, config)
    session = FakeVnpaySession(config, {order.txn_ref: (1, "00")})
    assert payments.reconcile_pending(uow, config, NOW + timedelta(minutes=10), session=session) == []
    assert session.calls == []  # still inside its window (+ grace): VNPAY's IPN may yet come
    report = payments.reconcile_pending(uow, config, LATER, session=session)
    assert report[0]["outcome"] == "amount_mismatch"
    assert orders(uow)[order.txn_ref].status is OrderStatus.PENDING
    assert "reconcile_amount_mismatch" in actions(uow)


# --- auto renewal --------------------------------------------------------------------------------


def auto_renewing(uow, days_left=5, scheduled=False):
    with uow:
        workspace = uow.workspaces.get(WORKSPACE_ID, for_update=True)
        end = NOW + timedelta(days=days_left)
        for sub in workspace.subscriptions:
            sub.period_end = end
        base = workspace.subscription("digital_workspace")
        base.renewal_mode = RenewalMode.AUTO
        if scheduled:
            workspace.scheduled_changes.append(
                ScheduledChange("digital_workspace", "starter", Cycle.YEARLY, 10, end, "too expensive", NOW)
            )
        workspace.touch()
        uow.commit()
    return end


def test_renewal_order_and_reminder_before_the_period_ends(uow, config):
    end = auto_renewing(uow, days_left=5)
    created = payments.create_renewal_orders(uow, config, NOW)
    assert len(created) == 1  # App Builder renews manually: no order for it
    order = created[0]
    assert (order.kind, order.product, order.tier, order.cycle, order.seats) == (
        OrderKind.RENEWAL,
        "digital_workspace",
        "standard",
        Cycle.YEARLY,
        10,
    )
    assert order.amount_vnd == 10 * 1_000_000  # catalog: Standard yearly 1,000,000 VND per seat
    assert order.expires_at == NOW + payments.RENEWAL_LINK_TTL
    with uow:
        reminder = [e for e in uow.workspaces.audit_entries(WORKSPACE_ID) if e.action == "renewal_reminder"]
    assert len(reminder) == 1 and reminder[0].detail["txn_ref"] == order.txn_ref
    link = dict(parse_qsl(reminder[0].detail["pay_url"].split("?")[1]))
    assert vnpay.verify(link, config.hash_secret)
    assert link["vnp_OrderInfo"].startswith("Gia han Cleeksy Khong gian lam viec so Standard theo nam")
    # idempotent while the order is open
    assert payments.create_renewal_orders(uow, config, NOW + timedelta(hours=1)) == []
    # paying it changes nothing yet...
    assert payments.handle_ipn(uow, signed_ipn(config, order), config, now=NOW + timedelta(hours=2))["RspCode"] == "00"
    with uow:
        base = uow.workspaces.get(WORKSPACE_ID).subscription("digital_workspace")
    assert base.period_end == end
    assert "renewal_paid" in actions(uow)
    # ...the next day nothing more is due...
    assert payments.create_renewal_orders(uow, config, NOW + timedelta(days=1)) == []
    # ...and at the period end the renewal job rolls the plan on, knowing it is paid
    records = services.renew_due(uow, end + timedelta(minutes=1))
    base_record = next(r for r in records if r["product"] == "digital_workspace")
    assert base_record["renewal_paid"] is True and base_record["renewal_order"] == order.txn_ref
    with uow:
        base = uow.workspaces.get(WORKSPACE_ID).subscription("digital_workspace")
    assert base.period_start == end and base.period_end.year == end.year + 1


def test_renewal_not_yet_due_or_manual(uow, config):
    auto_renewing(uow, days_left=30)
    assert payments.create_renewal_orders(uow, config, NOW) == []
    assert payments.create_renewal_orders(uow, config, NOW + timedelta(days=24)) != []


def test_an_unpaid_renewal_link_is_renewed_the_next_day(uow, config):
    auto_renewing(uow, days_left=5)
    first = payments.create_renewal_orders(uow, config, NOW)[0]
    second = payments.create_renewal_orders(uow, config, NOW + timedelta(days=1, minutes=1))
    assert len(second) == 1 and second[0].txn_ref != first.txn_ref


def test_scheduled_change_gets_a_reminder_without_an_order(uow, config):
    auto_renewing(uow, days_left=5, scheduled=True)
    assert payments.create_renewal_orders(uow, config, NOW) == []
    assert payments.create_renewal_orders(uow, config, NOW + timedelta(hours=3)) == []
    with uow:
        reminders = [e for e in uow.workspaces.audit_entries(WORKSPACE_ID) if e.action == "renewal_reminder"]
    assert len(reminders) == 1 and reminders[0].detail["scheduled_change"] is True


def test_run_payment_jobs_reconciles_then_renews(uow, config):
    order = open_order(uow, config)
    auto_renewing(uow, days_left=5)
    session = FakeVnpaySession(config, {order.txn_ref: "missing"})
    counts = payments.run_payment_jobs(uow, config, LATER, session=session)
    assert counts == {"orders_closed": 1, "orders_unresolved": 0, "renewal_orders": 1}
    assert payments.run_payment_jobs(uow, config, LATER + timedelta(minutes=1), session=session) == {
        "orders_closed": 0,
        "orders_unresolved": 0,
        "renewal_orders": 0,
    }


def test_one_run_jobs_runs_the_plan_jobs_and_the_payment_jobs(uow, config, monkeypatch):
    """``jobs.run_jobs`` (the CLI's run-jobs and the web app's periodic task): reconcile with the
    given config, session and moment, the plan jobs, then renewal orders; idempotent."""
    from billing_core.domain.catalog import load_catalog
    from billing_core.service_layer import jobs

    order = open_order(uow, config)
    auto_renewing(uow, days_left=5)
    session = FakeVnpaySession(config, {order.txn_ref: "missing"})
    monkeypatch.setattr(vnpay.VnpayConfig, "from_env", classmethod(lambda cls, *a, **k: 1 / 0))  # config is used
    catalog = load_catalog()
    counts = jobs.run_jobs(uow, config, LATER, catalog, session=session)
    assert counts == {
        "trials_expired": 0,
        "renewed": 0,
        "retention_executed": 0,
        "orders_closed": 1,
        "orders_unresolved": 0,
        "renewal_orders": 1,
    }
    assert session.calls and session.calls[0]["vnp_TmnCode"] == config.tmn_code
    assert orders(uow)[order.txn_ref].status is OrderStatus.EXPIRED
    renewal = next(o for o in orders(uow).values() if o.kind is OrderKind.RENEWAL)
    assert renewal.created_at == LATER  # the given moment, not the clock
    assert jobs.run_jobs(uow, config, LATER + timedelta(minutes=1), catalog, session=session) == {
        "trials_expired": 0,
        "renewed": 0,
        "retention_executed": 0,
        "orders_closed": 0,
        "orders_unresolved": 0,
        "renewal_orders": 0,
    }
    later = jobs.run_jobs(uow, config, LATER + timedelta(days=6), catalog, session=session)
    assert later["renewed"] == 2  # the period ended: both plans of the workspace rolled over


def test_a_payment_reported_after_the_order_was_closed_is_kept_for_staff(uow, config):
    order = open_order(uow, config)
    payments.reconcile_pending(uow, config, LATER, session=FakeVnpaySession(config, {order.txn_ref: "missing"}))
    assert orders(uow)[order.txn_ref].status is OrderStatus.EXPIRED
    assert payments.handle_ipn(uow, signed_ipn(config, order), config)["RspCode"] == "02"
    assert orders(uow)[order.txn_ref].status is OrderStatus.EXPIRED
    assert "late_payment_for_closed_order" in actions(uow)


def test_one_command_line_runs_every_job(sqlite_url, tmp_path):
    """``python -m billing_core run-jobs`` runs the payment jobs too (there is no second CLI)."""
    import json
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("VNPAY_")}
    env.update(BILLING_DATABASE_URL=sqlite_url, HELPDESK_MODE="demo", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "billing_core", "run-jobs", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "trials_expired": 0,
        "renewed": 0,
        "retention_executed": 0,
        "orders_closed": 0,
        "orders_unresolved": 0,
        "renewal_orders": 0,
    }
    env["HELPDESK_MODE"] = "production"
    done = subprocess.run(
        [sys.executable, "-m", "billing_core", "run-jobs"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "VNPAY_HASH_SECRET" in done.stderr and "Traceback" not in done.stderr
    old_entry_point = subprocess.run(
        [sys.executable, "-m", "billing_core.service_layer.payments", "run-jobs"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert old_entry_point.stdout == ""  # the module is no program any more: one CLI, one run-jobs
