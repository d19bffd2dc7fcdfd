"""Issue 10 N (pending orders: cancel and reorder; a late IPN for a cancelled order) and the VNPAY
rows the mutation run found missing (ResponseCode and TransactionStatus judged together; 24; a
constant-time signature check)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from billing_core.adapters import vnpay
from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
from billing_core.domain import errors, messages
from billing_core.domain.catalog import load_catalog
from billing_core.domain.model import Cycle, OrderStatus
from billing_core.domain.rules import ChangeRequest
from billing_core.entrypoints import cli
from billing_core.service_layer import payments, services

from .conftest import NOW, WORKSPACE_ID, paying_workspace, seed, signed_ipn

MONTHLY = ChangeRequest("app_builder", "standard", "monthly", 10)
YEARLY = ChangeRequest("app_builder", "standard", "yearly", 10)
MORE_SEATS = ChangeRequest("app_builder", "standard", "monthly", 12)
CATALOG = load_catalog()


@pytest.fixture
def uow(database_url):
    unit = SqlAlchemyUnitOfWork(database_url)
    workspace = paying_workspace()
    for sub in workspace.subscriptions:  # monthly app builder must fit under a monthly base
        sub.cycle = Cycle.MONTHLY
        sub.period_end = NOW + timedelta(days=10)
    seed(unit, workspace, paying_workspace("ws-other"))
    return unit


def load(uow, workspace_id=WORKSPACE_ID):
    with uow:
        return uow.workspaces.get(workspace_id)


def entries(uow, action, workspace_id=WORKSPACE_ID):
    with uow:
        return [e for e in uow.workspaces.audit_entries(workspace_id) if e.action == action]


def checkout(uow, config, request, now=NOW):
    return payments.start_checkout(uow, WORKSPACE_ID, request, "manual", config, now=now)


# --- N: a different request while an order is pending ---------------------------------------------
def test_N_a_different_request_says_what_the_pending_order_buys_and_offers_to_cancel_it(uow, config):
    pending = checkout(uow, config, MONTHLY).order
    assert pending is not None and pending.cycle is Cycle.MONTHLY
    asked = checkout(uow, config, MORE_SEATS, now=NOW + timedelta(minutes=1))
    assert asked.order is None and asked.open_order.txn_ref == pending.txn_ref
    offer = asked.pending_offer
    assert offer["code"] == "PENDING_ORDER_DIFFERS"
    assert (offer["params"]["seats"], offer["params"]["requested_seats"]) == (10, 12)
    vi = messages.render(offer["code"], offer["params"], "vi", CATALOG)
    en = messages.render(offer["code"], offer["params"], "en", CATALOG)
    assert pending.txn_ref in vi and "10 người dùng" in vi and "12 người dùng" in vi and "hủy" in vi
    assert "10 users" in en and "12 users" in en and "cancel" in en
    assert messages.MISSING not in vi + en
    # a request that cancelling would not let through (yearly App Builder on a monthly base) gets
    # no such offer: its own reason is shown
    blocked = checkout(uow, config, YEARLY, now=NOW + timedelta(minutes=1))
    assert blocked.order is None and blocked.pending_offer is None
    # the same request again is no "different request": the order and its link come back
    again = checkout(uow, config, MONTHLY, now=NOW + timedelta(minutes=2))
    assert again.reused and again.pending_offer is None


def test_N_cancel_the_pending_order_then_order_what_was_asked(uow, config):
    pending = checkout(uow, config, MONTHLY).order
    cancelled = payments.cancel_pending_order(uow, WORKSPACE_ID, pending.txn_ref, now=NOW + timedelta(minutes=2))
    assert cancelled.status is OrderStatus.CANCELLED
    assert load(uow).orders[0].status is OrderStatus.CANCELLED
    assert entries(uow, "order_cancelled")[0].detail["txn_ref"] == pending.txn_ref
    more = checkout(uow, config, MORE_SEATS, now=NOW + timedelta(minutes=3))
    assert more.order is not None and more.order.seats == 12 and more.decision.allowed


def test_N_cancel_refuses_a_final_an_unknown_or_another_workspaces_order(uow, config):
    pending = checkout(uow, config, MONTHLY).order
    with pytest.raises(errors.OrderNotFoundError):
        payments.cancel_pending_order(uow, "ws-other", pending.txn_ref)
    with pytest.raises(errors.OrderNotFoundError):
        payments.cancel_pending_order(uow, WORKSPACE_ID, "NOPE")
    payments.cancel_pending_order(uow, WORKSPACE_ID, pending.txn_ref)
    with pytest.raises(errors.OrderNotPendingError) as raised:
        payments.cancel_pending_order(uow, WORKSPACE_ID, pending.txn_ref)
    assert "đã hủy" in messages.render_error(raised.value, "vi", CATALOG)
    with pytest.raises(errors.WorkspaceNotFoundError):
        payments.cancel_pending_order(uow, "x" * 65, pending.txn_ref)


def test_N_a_late_ipn_for_a_cancelled_order_is_answered_02_and_flagged_for_a_refund(uow, config):
    pending = checkout(uow, config, MONTHLY).order
    payments.cancel_pending_order(uow, WORKSPACE_ID, pending.txn_ref, now=NOW + timedelta(minutes=1))
    before = load(uow).subscription("app_builder")
    paid = signed_ipn(config, pending)
    for _ in range(2):  # VNPAY may repeat it: one flag per VNPAY transaction
        assert payments.handle_ipn(uow, paid, config, NOW + timedelta(minutes=5)) == payments.ipn_answer("02")
    after = load(uow)
    assert after.orders[0].status is OrderStatus.CANCELLED  # nothing applied
    assert (after.subscription("app_builder").tier, after.subscription("app_builder").cycle) == (
        before.tier,
        before.cycle,
    )
    flagged = entries(uow, payments.LATE_PAYMENT)
    assert len(flagged) == 1 and flagged[0].detail["refund_due"] is True
    assert flagged[0].detail["amount_vnd"] == pending.amount_vnd
    summary = services.workspace_summary(uow, WORKSPACE_ID, NOW + timedelta(minutes=6))
    assert summary["refunds_due"] == [
        {
            "order_ref": pending.txn_ref,
            "status": "cancelled",
            "amount_vnd": pending.amount_vnd,
            "paid_at": "2026-11-26T09:15:00+00:00",  # vnp_PayDate 16:15 in Vietnam
            "transaction_no": "14000001",
        }
    ]
    shown = "\n".join(cli._summary_lines(summary, "vi", CATALOG))
    assert "Cần hoàn tiền" in shown and pending.txn_ref in shown and "đã hủy" in shown
    # a failed payment of the cancelled order: answered 02, nothing to refund
    failed = signed_ipn(config, pending, response_code="24", vnp_TransactionNo="14000002")
    assert payments.handle_ipn(uow, failed, config, NOW + timedelta(minutes=7))["RspCode"] == "02"
    assert len(entries(uow, payments.LATE_PAYMENT)) == 1


# --- VNPAY: "paid" needs both codes; 24 is a cancellation; constant-time signatures ----------------
@pytest.mark.parametrize(
    "response_code, transaction_status",
    [
        ("07", "00"),
        ("24", "00"),
        ("99", "00"),  # a non-00 ResponseCode with TransactionStatus 00
        ("00", "01"),
        ("00", "02"),  # and the other way round
        ("24", "02"),  # the customer cancelled at VNPAY
    ],
)
def test_paid_only_when_response_code_and_transaction_status_are_both_00(
    uow, config, response_code, transaction_status
):
    order = checkout(uow, config, MONTHLY).order
    fields = signed_ipn(config, order, response_code=response_code, transaction_status=transaction_status)
    assert not vnpay.PaymentResult.from_fields(vnpay.single_valued(fields)).paid
    assert payments.handle_ipn(uow, fields, config, NOW + timedelta(minutes=1)) == payments.ipn_answer("00")
    stored = load(uow)
    assert stored.orders[0].status is OrderStatus.FAILED and stored.orders[0].paid_at is None
    assert (
        stored.subscription("app_builder").cycle is Cycle.MONTHLY
        and stored.subscription("app_builder").tier == "starter"
    )
    assert stored.orders[0].response_code != "00"


def test_the_signature_check_is_constant_time(monkeypatch, config):
    fields = {"vnp_Amount": "100000", "vnp_TxnRef": "T1", "vnp_TmnCode": config.tmn_code}
    fields["vnp_SecureHash"] = vnpay.sign(fields, config.hash_secret)
    calls = []
    real = vnpay.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(vnpay.hmac, "compare_digest", spy)
    assert vnpay.verify(fields, config.hash_secret) is True
    assert len(calls) == 1  # the comparison is hmac.compare_digest, not ==
    forged = dict(
        fields, vnp_SecureHash=fields["vnp_SecureHash"][:-1] + ("0" if fields["vnp_SecureHash"][-1] != "0" else "1")
    )
    assert vnpay.verify(forged, config.hash_secret) is False and len(calls) == 2
    monkeypatch.setattr(vnpay.hmac, "compare_digest", lambda a, b: False)  # it decides, not a shortcut
    assert vnpay.verify(fields, config.hash_secret) is False


def test_verify_never_accepts_an_empty_secret_and_never_raises(config):
    fields = {"vnp_Amount": "100000", "vnp_TxnRef": "T1", "vnp_TmnCode": config.tmn_code}
    assert vnpay.verify({**fields, "vnp_SecureHash": vnpay.sign(fields, "")}, "") is False  # no secret, no trust
    for forged in ("\ud800" * 128, "é" * 128, "", "  "):  # a lone surrogate must not raise either
        assert vnpay.verify({**fields, "vnp_SecureHash": forged}, config.hash_secret) is False


class _Answer:
    def __init__(self, payload):
        self.status_code, self._payload = 200, payload

    def json(self):
        return self._payload


class _OneAnswer:
    """Stands in for requests.Session: one signed querydr answer with only ``fields``."""

    def __init__(self, config, fields):
        self.config, self.fields = config, fields

    def post(self, url, json, timeout):
        return _Answer(vnpay.querydr_answer(self.config, {"vnp_TxnRef": json["vnp_TxnRef"], **self.fields}))


def test_a_querydr_answer_without_a_transaction_reads_as_none_made(uow, config):
    order = checkout(uow, config, MONTHLY).order
    missing = vnpay.querydr(config, order, NOW, session=_OneAnswer(config, {"vnp_ResponseCode": "91"}))
    assert (
        missing.response_code,
        missing.transaction_status,
        missing.transaction_no,
        missing.amount_vnd,
        missing.pay_date,
    ) == ("91", "", "", None, None)
    assert missing.not_found and not missing.paid
    failed = vnpay.querydr(
        config,
        order,
        NOW,
        session=_OneAnswer(
            config, {"vnp_ResponseCode": "00", "vnp_TransactionStatus": "02", "vnp_Amount": str(order.amount_vnd * 100)}
        ),
    )
    assert failed.found and not failed.paid and failed.transaction_no == ""
    assert payments.reconcile_pending(
        uow,
        config,
        order.expires_at + timedelta(minutes=10),
        session=_OneAnswer(config, {"vnp_ResponseCode": "00", "vnp_TransactionStatus": "02"}),
    ) == [{"txn_ref": order.txn_ref, "outcome": "failed"}]
    stored = load(uow).orders[0]
    assert stored.status is OrderStatus.FAILED and stored.transaction_no is None  # no transaction was made


def test_a_paid_ipn_records_what_vnpay_said(uow, config):
    from datetime import datetime, timezone

    order = checkout(uow, config, MONTHLY).order
    assert payments.handle_ipn(
        uow, signed_ipn(config, order), config, NOW + timedelta(minutes=20)
    ) == payments.ipn_answer("00")
    stored = load(uow).orders[0]
    assert stored.status is OrderStatus.PAID and stored.response_code == "00"
    assert stored.transaction_no == "14000001"
    assert stored.paid_at == datetime(2026, 11, 26, 9, 15, tzinfo=timezone.utc)  # vnp_PayDate, 16:15 in Vietnam
    paid = entries(uow, "payment_paid")[0].detail
    assert {
        k: paid[k]
        for k in ("txn_ref", "amount_vnd", "response_code", "transaction_status", "transaction_no", "bank_code")
    } == {
        "txn_ref": order.txn_ref,
        "amount_vnd": order.amount_vnd,
        "response_code": "00",
        "transaction_status": "00",
        "transaction_no": "14000001",
        "bank_code": "NCB",
    }
