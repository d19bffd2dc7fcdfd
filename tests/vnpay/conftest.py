"""Fixtures of the VNPAY suites: a clean database (SQLite file; PostgreSQL when
BILLING_TEST_POSTGRES_URL is set), a test terminal, and a paying demo workspace."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from billing_core.adapters import vnpay  # noqa: E402
from tests.dbs import POSTGRES_ENV, PostgresServer  # noqa: E402

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
WORKSPACE_ID = "ws-pay"
TEST_CONFIG = vnpay.VnpayConfig(
    tmn_code="TESTTMN1",
    hash_secret="ipn-test-secret-9f2c",
    payment_url="http://127.0.0.1:9/pay",
    return_url="http://127.0.0.1:9/vnpay/return",
    api_url="http://127.0.0.1:9/api",
    mode="demo",
)


@pytest.fixture(scope="session")
def postgres_admin():
    """A maker of fresh PostgreSQL databases (None without a server); all dropped at the end."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        yield None
        return
    server = PostgresServer(url, prefix="vnpay_t")
    yield server.new_database
    server.drop_all()


def _sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'billing.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, postgres_admin):
    """An empty database with the schema, on each engine."""
    from billing_core.adapters.unit_of_work import create_schema, dispose_engine

    if request.param == "sqlite":
        url = _sqlite_url(tmp_path)
    else:
        if postgres_admin is None:
            pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL case skipped (`make test` starts one)")
        url = postgres_admin()
    create_schema(url)
    yield url
    if request.param == "sqlite":
        dispose_engine(url)


@pytest.fixture
def sqlite_url(tmp_path):
    from billing_core.adapters.unit_of_work import create_schema, dispose_engine

    url = _sqlite_url(tmp_path)
    create_schema(url)
    yield url
    dispose_engine(url)


@pytest.fixture
def config():
    return TEST_CONFIG


def paying_workspace(workspace_id: str = WORKSPACE_ID, now: datetime = NOW):
    """Digital Workspace Standard yearly and App Builder Starter yearly, 10 seats, mid-period."""
    from billing_core.domain.model import Cycle, RenewalMode, Status, Subscription, Workspace

    start = now - timedelta(days=100)
    end = datetime(start.year + 1, start.month, start.day, tzinfo=timezone.utc)
    return Workspace(
        id=workspace_id,
        name="Công ty Thử nghiệm",
        created_at=start - timedelta(days=30),
        subscriptions=[
            Subscription(
                "digital_workspace", "standard", Status.ACTIVE, 10, start, end, Cycle.YEARLY, RenewalMode.MANUAL
            ),
            Subscription("app_builder", "starter", Status.ACTIVE, 10, start, end, Cycle.YEARLY, RenewalMode.MANUAL),
        ],
    )


def seed(uow, *workspaces) -> None:
    with uow:
        for workspace in workspaces:
            uow.workspaces.add(workspace)
        uow.commit()


def signed_ipn(config, order_or_fields, response_code="00", transaction_status=None, **overrides):
    """The parameters VNPAY would send for ``order`` (a dict of fields may be given instead)."""
    if isinstance(order_or_fields, dict):
        fields = dict(order_or_fields)
    else:
        order = order_or_fields
        fields = {
            "vnp_Amount": str(order.amount_vnd * 100),
            "vnp_BankCode": "NCB",
            "vnp_BankTranNo": "VNP14000001",
            "vnp_CardType": "ATM",
            "vnp_OrderInfo": vnpay.order_info_for(order),
            "vnp_PayDate": "20261126161500",
            "vnp_ResponseCode": response_code,
            "vnp_TmnCode": config.tmn_code,
            "vnp_TransactionNo": "14000001",
            "vnp_TransactionStatus": transaction_status
            if transaction_status is not None
            else ("00" if response_code == "00" else "02"),
            "vnp_TxnRef": order.txn_ref,
        }
    fields.update(overrides)
    fields = {k: v for k, v in fields.items() if v is not None}
    fields["vnp_SecureHash"] = vnpay.sign(fields, config.hash_secret)
    return fields
