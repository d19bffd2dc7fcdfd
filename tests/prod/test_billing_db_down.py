"""The billing database is unavailable (billing_core over a PostgreSQL we stop and start).

- An IPN arriving while PostgreSQL is down gets a non-00 answer, so VNPAY retries it; once the
  database is back the retried IPN applies the upgrade exactly once (the next retry gets 02).
- PostgreSQL going away in the middle of settling a payment leaves nothing half-written: the
  order is still pending and the plan unchanged, and the retry then applies it once.
- A checkout asked for while the database is down fails without writing an order.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import prodstack
import pytest

from tests.prod.helpers import make_config

TMN_CODE = "TESTTMN1"
HASH_SECRET = "prod-test-vnpay-hash-secret-for-ipn"


@pytest.fixture(scope="module")
def billing_pg():
    """A PostgreSQL of its own (the tracker store of the other tests stays up), demo data seeded."""
    var_dir = Path(tempfile.mkdtemp(prefix="helpdesk-prod-billing-"))
    var_dir.chmod(0o755)
    config = make_config(var_dir, Path("unused-no-rasa-here.tar.gz"), seed_demo=True)
    stack = prodstack.ProdStack(config)
    try:
        stack.start_postgres()
        stack.init_billing_db()
    except prodstack.ProdError as error:
        stack.stop()
        shutil.rmtree(var_dir, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL with the billing database: {error}")
    yield stack
    stack.stop()
    shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture
def billing(billing_pg, monkeypatch):
    from billing_core.adapters import vnpay
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork, dispose_engine

    url = billing_pg.config.billing_url
    monkeypatch.setenv("BILLING_DATABASE_URL", url)
    config = vnpay.VnpayConfig(
        tmn_code=TMN_CODE,
        hash_secret=HASH_SECRET,
        payment_url="https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
        return_url="https://help.example.com/vnpay/return",
        api_url="https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
        mode="production",
    )
    yield billing_pg, (lambda: SqlAlchemyUnitOfWork(url)), config
    if not billing_pg.postgres.running():
        billing_pg.postgres.start()
    dispose_engine(url)


def _checkout(new_uow, config, workspace_id="demo-monthly"):
    """A pending upgrade order; the first allowed one of a few likely changes."""
    from billing_core.domain.rules import ChangeRequest
    from billing_core.service_layer import payments

    for product, tier in (
        ("digital_workspace", "standard"),
        ("digital_workspace", "premium"),
        ("app_builder", "standard"),
        ("app_builder", "premium"),
    ):
        checkout = payments.start_checkout(new_uow(), workspace_id, ChangeRequest(product, tier), "manual", config)
        if checkout.order is not None:
            return checkout
    pytest.fail(f"no upgrade of {workspace_id} could be checked out")


def _paid_ipn(config, pay_url: str) -> dict:
    """What VNPAY sends after a successful payment of that link, signed like VNPAY signs."""
    from billing_core.adapters import vnpay

    sent = dict(parse_qsl(urlsplit(pay_url).query))
    fields = {
        "vnp_Amount": sent["vnp_Amount"],
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP14000001",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": sent["vnp_OrderInfo"],
        "vnp_PayDate": sent["vnp_CreateDate"],
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": sent["vnp_TmnCode"],
        "vnp_TransactionNo": "14000001",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": sent["vnp_TxnRef"],
    }
    fields["vnp_SecureHash"] = vnpay.sign(fields, config.hash_secret)
    return fields


def _state(new_uow, workspace_id: str, txn_ref: str, product: str):
    """(order status, the product's tier, number of payment_paid audit entries for the order)."""
    with new_uow() as uow:
        workspace = uow.workspaces.get(workspace_id)
        order = next(o for o in workspace.orders if o.txn_ref == txn_ref)
        subscription = next(s for s in workspace.subscriptions if s.product == product)
        paid_entries = [
            e
            for e in uow.workspaces.audit_entries(workspace_id)
            if e.action == "payment_paid" and (e.detail or {}).get("txn_ref") == txn_ref
        ]
        return order.status.value, subscription.tier, len(paid_entries)


def test_ipn_during_an_outage_is_refused_then_applied_exactly_once(billing):
    from billing_core.service_layer import payments

    stack, new_uow, config = billing
    checkout = _checkout(new_uow, config)
    order, target = checkout.order, checkout.decision.target
    ipn = _paid_ipn(config, checkout.pay_url)
    before = _state(new_uow, order.workspace_id, order.txn_ref, order.product)
    assert before[0] == "pending" and before[1] != target.tier

    stack.postgres.stop()
    started = time.monotonic()
    answer = payments.handle_ipn(new_uow(), ipn, config)
    assert answer["RspCode"] != "00", answer  # VNPAY will retry
    assert answer["RspCode"] == "99", answer  # "unknown error", not a verdict on the order
    assert time.monotonic() - started < 30

    stack.postgres.start()
    assert _state(new_uow, order.workspace_id, order.txn_ref, order.product) == before  # nothing written
    assert payments.handle_ipn(new_uow(), ipn, config) == {"RspCode": "00", "Message": "Confirm Success"}
    assert payments.handle_ipn(new_uow(), ipn, config)["RspCode"] == "02"  # VNPAY's next retry
    assert _state(new_uow, order.workspace_id, order.txn_ref, order.product) == ("paid", target.tier, 1)


def test_database_lost_while_settling_leaves_nothing_half_written(billing, monkeypatch):
    from billing_core.service_layer import payments

    stack, new_uow, config = billing
    checkout = _checkout(new_uow, config, "demo-yearly")
    order, target = checkout.order, checkout.decision.target
    ipn = _paid_ipn(config, checkout.pay_url)
    before = _state(new_uow, order.workspace_id, order.txn_ref, order.product)

    apply_for_real = payments.apply_paid_order

    def apply_then_lose_the_database(*args, **kwargs):
        applied = apply_for_real(*args, **kwargs)
        stack.postgres.stop()  # between "paid + upgraded" in memory and the commit
        return applied

    monkeypatch.setattr(payments, "apply_paid_order", apply_then_lose_the_database)
    assert payments.handle_ipn(new_uow(), ipn, config)["RspCode"] == "99"
    monkeypatch.setattr(payments, "apply_paid_order", apply_for_real)

    stack.postgres.start()
    assert _state(new_uow, order.workspace_id, order.txn_ref, order.product) == before
    assert payments.handle_ipn(new_uow(), ipn, config)["RspCode"] == "00"
    assert payments.handle_ipn(new_uow(), ipn, config)["RspCode"] == "02"
    assert _state(new_uow, order.workspace_id, order.txn_ref, order.product) == ("paid", target.tier, 1)


def test_checkout_during_an_outage_writes_no_order(billing):
    from billing_core.domain.rules import ChangeRequest
    from billing_core.service_layer import payments

    stack, new_uow, config = billing
    with new_uow() as uow:
        orders_before = len(uow.workspaces.get("demo-trial").orders)
    stack.postgres.stop()
    with pytest.raises(Exception) as failure:
        payments.start_checkout(
            new_uow(), "demo-trial", ChangeRequest("digital_workspace", "standard"), "manual", config
        )
    assert (
        "BillingError" in type(failure.value).__name__
        or "OperationalError" in type(failure.value).__name__
        or any(k in str(failure.value).lower() for k in ("connect", "database", "unavailable"))
    ), failure.value
    stack.postgres.start()
    with new_uow() as uow:
        assert len(uow.workspaces.get("demo-trial").orders) == orders_before
