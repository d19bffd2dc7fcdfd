"""Orders and the IPN over a real database (SQLite file; PostgreSQL when configured)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from billing_core.adapters import vnpay
from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
from billing_core.domain import errors
from billing_core.domain.catalog import load_catalog
from billing_core.domain.messages import render_error
from billing_core.domain.model import Cycle, OrderKind, OrderStatus, RenewalMode, Status
from billing_core.domain.rules import ChangeRequest
from billing_core.service_layer import payments

from .conftest import NOW, WORKSPACE_ID, paying_workspace, seed, signed_ipn

UPGRADE = ChangeRequest("app_builder", "standard", "yearly", 10, {"storage": 50})


@pytest.fixture
def uow(database_url):
    unit = SqlAlchemyUnitOfWork(database_url)
    seed(unit, paying_workspace())
    return unit


def load(uow, workspace_id=WORKSPACE_ID):
    with uow:
        return uow.workspaces.get(workspace_id)


def audit_actions(uow, workspace_id=WORKSPACE_ID):
    with uow:
        return [entry.action for entry in uow.workspaces.audit_entries(workspace_id)]


def checkout(uow, config, request=UPGRADE, now=NOW, mode="manual", **kwargs):
    return payments.start_checkout(uow, WORKSPACE_ID, request, mode, config, now=now, **kwargs)


# --- checkout ------------------------------------------------------------------------------------


def test_checkout_creates_one_pending_order_with_a_signed_link(uow, config):
    result = checkout(uow, config, mode="auto")
    order = result.order
    assert result.decision.allowed and not result.reused
    assert order.status is OrderStatus.PENDING and order.kind is OrderKind.UPGRADE
    assert (order.product, order.tier, order.cycle, order.seats) == ("app_builder", "standard", Cycle.YEARLY, 10)
    assert order.addons == {"storage": 50}
    assert order.amount_vnd == result.quote.total_vnd > 0
    assert order.renewal_mode is RenewalMode.AUTO
    assert order.expires_at - order.created_at == timedelta(minutes=15)
    params = dict(vnpay.single_valued(__import__("urllib.parse").parse.parse_qsl(result.pay_url.split("?", 1)[1])))
    assert vnpay.verify(params, config.hash_secret)
    assert params["vnp_Amount"] == str(order.amount_vnd * 100) and params["vnp_TxnRef"] == order.txn_ref
    assert params["vnp_OrderInfo"] == f"Thanh toan Cleeksy Xay dung ung dung Standard theo nam don hang {order.txn_ref}"
    stored = load(uow)
    assert [o.txn_ref for o in stored.orders] == [order.txn_ref]
    assert "checkout_started" in audit_actions(uow)


def test_asking_twice_returns_the_same_order_and_link(uow, config):
    first = checkout(uow, config)
    second = checkout(uow, config, now=NOW + timedelta(minutes=5), mode="auto")
    assert second.reused and second.order.txn_ref == first.order.txn_ref
    assert second.pay_url == first.pay_url
    assert second.decision.allowed  # the decision that led to the order, not "payment pending"
    orders = load(uow).orders
    assert len(orders) == 1 and orders[0].renewal_mode is RenewalMode.AUTO  # the latest answer wins


def test_a_different_change_while_an_order_is_open_is_blocked_with_the_open_link(uow, config):
    first = checkout(uow, config)
    other = checkout(
        uow, config, ChangeRequest("app_builder", "standard", "yearly", 12), now=NOW + timedelta(minutes=1)
    )
    assert other.order is None and not other.decision.allowed
    assert "PAYMENT_PENDING" in other.decision.codes
    assert other.open_order.txn_ref == first.order.txn_ref and other.open_pay_url == first.pay_url
    assert len(load(uow).orders) == 1


def test_after_expiry_a_new_order_is_made(uow, config):
    first = checkout(uow, config)
    again = checkout(uow, config, now=first.order.expires_at + timedelta(seconds=1))
    assert not again.reused and again.order.txn_ref != first.order.txn_ref


def test_blocked_change_makes_no_order(uow, config):
    result = checkout(uow, config, ChangeRequest("app_builder", "standard", "monthly", 10))
    assert result.order is None and result.pay_url is None and not result.decision.allowed
    assert result.decision.fixes  # the decision explains what to do
    assert load(uow).orders == []


@pytest.mark.parametrize(
    "request_, error",
    [
        (ChangeRequest("no_such_product", "standard"), errors.UnknownProductError),
        (ChangeRequest("app_builder", "gold"), errors.UnknownTierError),
        (ChangeRequest("app_builder", "standard", "weekly"), errors.UnknownCycleError),
        (ChangeRequest("app_builder", "standard", None, -3), errors.InvalidSeatsError),
        (ChangeRequest("app_builder", "standard", None, 10, {"storage": -5}), errors.InvalidCapacityAmountError),
    ],
)
def test_bad_requests_raise_and_write_nothing(uow, config, request_, error):
    with pytest.raises(error):
        checkout(uow, config, request_)
    assert load(uow).orders == [] and audit_actions(uow) == []


def test_bad_renewal_mode_and_unknown_workspace(uow, config):
    with pytest.raises(errors.InvalidRenewalModeError):
        checkout(uow, config, mode="sometimes")
    with pytest.raises(errors.WorkspaceNotFoundError):
        payments.start_checkout(uow, "nobody", UPGRADE, "manual", config, now=NOW)
    assert load(uow).orders == []


# --- IPN ------------------------------------------------------------------------------------------


def test_paid_ipn_marks_paid_and_applies_the_upgrade_at_once(uow, config):
    order = checkout(uow, config).order
    answer = payments.handle_ipn(uow, signed_ipn(config, order), config, now=NOW + timedelta(minutes=2))
    assert answer == {"RspCode": "00", "Message": "Confirm Success"}
    workspace = load(uow)
    stored = workspace.orders[0]
    assert stored.status is OrderStatus.PAID and stored.transaction_no == "14000001" and stored.paid_at
    app_builder = workspace.subscription("app_builder")
    assert (app_builder.tier, app_builder.cycle, app_builder.seats) == ("standard", Cycle.YEARLY, 10)
    assert app_builder.renewal_mode is RenewalMode.MANUAL
    assert workspace.capacity_total("storage") == 50
    actions = audit_actions(uow)
    assert "payment_paid" in actions and "change_applied" in actions


@pytest.mark.parametrize("code", ["24", "51", "13", "11", "07"])
def test_failed_payment_is_recorded_with_its_code_and_answered_00(uow, config, code):
    order = checkout(uow, config).order
    assert payments.handle_ipn(uow, signed_ipn(config, order, code), config)["RspCode"] == "00"
    workspace = load(uow)
    assert workspace.orders[0].status is OrderStatus.FAILED and workspace.orders[0].response_code == code
    assert workspace.subscription("app_builder").tier == "starter"  # nothing applied
    assert payments.response_code_text(code, "vi") != payments.response_code_text(code, "en")


def test_response_code_00_without_transaction_status_00_is_not_paid(uow, config):
    order = checkout(uow, config).order
    answer = payments.handle_ipn(uow, signed_ipn(config, order, "00", transaction_status="01"), config)
    assert answer["RspCode"] == "00"
    stored = load(uow).orders[0]
    assert stored.status is OrderStatus.FAILED and stored.response_code == "99"
    assert load(uow).subscription("app_builder").tier == "starter"


def test_check_order_97_01_04_02(uow, config):
    order = checkout(uow, config).order
    good = signed_ipn(config, order)
    assert payments.handle_ipn(uow, {**good, "vnp_SecureHash": "0" * 128}, config)["RspCode"] == "97"
    unknown = signed_ipn(config, order, vnp_TxnRef="NOSUCHORDER1")
    assert payments.handle_ipn(uow, unknown, config)["RspCode"] == "01"
    wrong_amount = signed_ipn(config, order, vnp_Amount=str(order.amount_vnd * 100 + 100))
    assert payments.handle_ipn(uow, wrong_amount, config)["RspCode"] == "04"
    # 97 comes before 01: an unknown order with a bad signature is a bad signature
    assert payments.handle_ipn(uow, {**unknown, "vnp_SecureHash": "ab"}, config)["RspCode"] == "97"
    # 01 comes before 04
    both = signed_ipn(config, order, vnp_TxnRef="NOSUCHORDER1", vnp_Amount="1")
    assert payments.handle_ipn(uow, both, config)["RspCode"] == "01"
    assert load(uow).orders[0].status is OrderStatus.PENDING  # none of these changed anything
    assert payments.handle_ipn(uow, good, config)["RspCode"] == "00"
    # 04 comes before 02 (VNPAY's order of checks)
    assert payments.handle_ipn(uow, wrong_amount, config)["RspCode"] == "04"
    assert payments.handle_ipn(uow, good, config) == {"RspCode": "02", "Message": "Order already confirmed"}


@pytest.mark.parametrize(
    "key",
    [
        "vnp_Amount",
        "vnp_BankCode",
        "vnp_BankTranNo",
        "vnp_CardType",
        "vnp_OrderInfo",
        "vnp_PayDate",
        "vnp_ResponseCode",
        "vnp_TmnCode",
        "vnp_TransactionNo",
        "vnp_TransactionStatus",
        "vnp_TxnRef",
        "vnp_SecureHash",
    ],
)
def test_every_field_tampered_in_turn_gives_97(uow, config, key):
    order = checkout(uow, config).order
    params = signed_ipn(config, order)
    params[key] = params[key][:-1] + ("1" if params[key][-1:] != "1" else "2")
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "97"
    del params[key]
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "97"
    assert load(uow).orders[0].status is OrderStatus.PENDING


def test_another_terminal_code_is_not_our_order(uow, config):
    order = checkout(uow, config).order
    params = signed_ipn(config, order, vnp_TmnCode="OTHERTMN")
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "01"
    assert load(uow).orders[0].status is OrderStatus.PENDING


def test_replay_answers_02_and_applies_once(uow, config):
    order = checkout(uow, config).order
    params = signed_ipn(config, order)
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "00"
    version = load(uow).version
    for _ in range(3):
        assert payments.handle_ipn(uow, params, config)["RspCode"] == "02"
    # a signed failure for the same order afterwards cannot undo the payment either
    assert payments.handle_ipn(uow, signed_ipn(config, order, "24"), config)["RspCode"] == "02"
    workspace = load(uow)
    assert workspace.orders[0].status is OrderStatus.PAID and workspace.version == version
    assert audit_actions(uow).count("change_applied") == 1


def test_twenty_identical_ipns_at_the_same_moment_apply_once(uow, config):
    order = checkout(uow, config).order
    params = signed_ipn(config, order)
    url = uow.url
    answers, barrier = [], threading.Barrier(20)

    def deliver():
        barrier.wait()
        answers.append(payments.handle_ipn(SqlAlchemyUnitOfWork(url), dict(params), config)["RspCode"])

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == ["00"] + ["02"] * 19, answers
    workspace = load(uow)
    assert workspace.orders[0].status is OrderStatus.PAID
    assert workspace.capacity_total("storage") == 50  # bought once, not twenty times
    actions = audit_actions(uow)
    assert actions.count("change_applied") == 1 and actions.count("payment_paid") == 1


def test_paid_and_failed_racing_settle_exactly_once(uow, config):
    order = checkout(uow, config).order
    url = uow.url
    paid, cancelled = signed_ipn(config, order, "00"), signed_ipn(config, order, "24")
    answers, barrier = [], threading.Barrier(10)

    def deliver(params):
        barrier.wait()
        answers.append(payments.handle_ipn(SqlAlchemyUnitOfWork(url), params, config)["RspCode"])

    threads = [threading.Thread(target=deliver, args=(paid if i % 2 else cancelled,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == ["00"] + ["02"] * 9
    final = load(uow).orders[0]
    assert final.status in (OrderStatus.PAID, OrderStatus.FAILED)
    actions = audit_actions(uow)
    assert actions.count("payment_paid") + actions.count("payment_failed") == 1


def test_database_outage_answers_99_and_writes_nothing(uow, config, monkeypatch):
    order = checkout(uow, config).order
    params = signed_ipn(config, order)

    def broken_apply(*args, **kwargs):
        raise RuntimeError("connection to the database lost")

    monkeypatch.setattr(payments, "apply_paid_order", broken_apply)
    assert payments.handle_ipn(uow, params, config) == {"RspCode": "99", "Message": "Unknown error"}
    assert load(uow).orders[0].status is OrderStatus.PENDING  # rolled back: VNPAY will retry
    monkeypatch.undo()
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "00"


def test_unreachable_database_answers_99(config, tmp_path):
    unit = SqlAlchemyUnitOfWork(f"sqlite:///{tmp_path / 'missing-dir' / 'no-such.db'}")
    order = paying_workspace()  # any object with the order fields will do for signing
    params = signed_ipn(
        config,
        {
            "vnp_TxnRef": "X1",
            "vnp_Amount": "100",
            "vnp_TmnCode": config.tmn_code,
            "vnp_ResponseCode": "00",
            "vnp_TransactionStatus": "00",
        },
    )
    assert order is not None
    assert payments.handle_ipn(unit, params, config)["RspCode"] == "99"


def test_paid_upgrade_no_longer_allowed_stays_paid_for_staff(uow, config):
    order = checkout(uow, config).order
    with uow:  # meanwhile the base plan lapsed: the add-on upgrade is refused now
        workspace = uow.workspaces.get(WORKSPACE_ID, for_update=True)
        workspace.subscription("digital_workspace").status = Status.EXPIRED
        workspace.touch()
        uow.commit()
    assert payments.handle_ipn(uow, signed_ipn(config, order), config)["RspCode"] == "00"
    workspace = load(uow)
    assert workspace.orders[0].status is OrderStatus.PAID  # the money is recorded
    assert workspace.subscription("app_builder").tier == "starter"
    assert "payment_not_applied" in audit_actions(uow)


def test_latest_orders_newest_first(uow, config):
    first = checkout(uow, config).order
    payments.handle_ipn(uow, signed_ipn(config, first, "24"), config)
    second = checkout(uow, config, now=NOW + timedelta(minutes=1)).order
    assert [o.txn_ref for o in payments.latest_orders(uow, WORKSPACE_ID)] == [second.txn_ref, first.txn_ref]
    assert [o.txn_ref for o in payments.latest_orders(uow, WORKSPACE_ID, limit=1)] == [second.txn_ref]
    assert payments.latest_orders(uow, "nobody") == []


def test_concurrent_checkouts_of_the_same_change_make_one_order(uow, config):
    url, results, barrier = uow.url, [], threading.Barrier(8)

    def ask():
        barrier.wait()
        results.append(
            payments.start_checkout(SqlAlchemyUnitOfWork(url), WORKSPACE_ID, UPGRADE, "manual", config, now=NOW)
        )

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 8 and len({r.order.txn_ref for r in results}) == 1
    assert sorted(r.reused for r in results) == [False] + [True] * 7
    assert len(load(uow).orders) == 1


def test_missing_production_settings_are_a_billing_error_in_words(uow, monkeypatch):
    for name in ("VNPAY_TMN_CODE", "VNPAY_HASH_SECRET", "VNPAY_PAYMENT_URL", "VNPAY_RETURN_URL", "VNPAY_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HELPDESK_MODE", "production")
    with pytest.raises(errors.PaymentConfigError) as error:
        payments.start_checkout(uow, WORKSPACE_ID, UPGRADE, "manual", None, now=NOW)
    assert "VNPAY_HASH_SECRET" in error.value.params["missing"]
    assert "VNPAY" in render_error(error.value, "vi", load_catalog()) and load(uow).orders == []
