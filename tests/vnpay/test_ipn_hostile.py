"""Hostile IPNs: whatever arrives, the answer is one of VNPAY's JSON codes and nothing is
half-written; only a correctly signed, matching, pending order ever changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_core.adapters import vnpay
from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork
from billing_core.domain.model import OrderStatus
from billing_core.domain.rules import ChangeRequest
from billing_core.service_layer import payments

from .conftest import NOW, WORKSPACE_ID, paying_workspace, seed, signed_ipn

UPGRADE = ChangeRequest("app_builder", "standard", "yearly", 10, {"storage": 50})
VALID_CODES = {"00", "01", "02", "04", "97", "99"}


@pytest.fixture
def world(sqlite_url, config):
    uow = SqlAlchemyUnitOfWork(sqlite_url)
    seed(uow, paying_workspace())
    order = payments.start_checkout(uow, WORKSPACE_ID, UPGRADE, "manual", config, now=NOW).order
    return uow, order


def state(uow):
    with uow:
        workspace = uow.workspaces.get(WORKSPACE_ID)
        return workspace.version, [(o.txn_ref, o.status) for o in workspace.orders]


def assert_clean(answer):
    assert set(answer) == {"RspCode", "Message"} and answer["RspCode"] in VALID_CODES
    assert answer["Message"] == payments.IPN_MESSAGES[answer["RspCode"]]


@pytest.mark.parametrize(
    "params",
    [
        {},
        None,
        "vnp_Amount=1",
        [("vnp_Amount",)],
        {"vnp_SecureHash": None},
        {"vnp_SecureHash": ["a", "b"]},
        {"vnp_TxnRef": object()},
        [(1, 2), (None, None)],
        {"vnp_SecureHash": "\x00" * 10, "vnp_TxnRef": "\ud800"},
    ],
)
def test_garbage_gets_a_clean_non_00_answer(world, config, params):
    uow, _ = world
    before = state(uow)
    answer = payments.handle_ipn(uow, params, config)
    assert_clean(answer)
    assert answer["RspCode"] != "00"
    assert state(uow) == before


@pytest.mark.parametrize(
    "missing", ["vnp_ResponseCode", "vnp_TransactionStatus", "vnp_Amount", "vnp_TxnRef", "vnp_TmnCode"]
)
def test_signed_but_missing_fields(world, config, missing):
    uow, order = world
    params = signed_ipn(config, order, **{missing: None})  # VNPAY's signature over what is there
    answer = payments.handle_ipn(uow, params, config)
    assert_clean(answer)
    expected = {"vnp_Amount": "04", "vnp_TxnRef": "01", "vnp_TmnCode": "01"}.get(missing, "00")
    assert answer["RspCode"] == expected
    with uow:
        stored = uow.workspaces.get(WORKSPACE_ID).orders[0]
    # no ResponseCode / TransactionStatus never reads as paid
    assert stored.status is (OrderStatus.FAILED if expected == "00" else OrderStatus.PENDING)


@pytest.mark.parametrize(
    "amount",
    [
        "abc",
        "",
        " 363013700",
        "363013700 ",
        "+363013700",
        "-363013700",
        "3.63e8",
        "363013700.00",
        "9" * 400,
        "0" * 400 + "1",
        "٣٦٣٠١٣٧٠٠",
        "0x15a3",
        "1_000",
    ],
)
def test_non_numeric_or_huge_amounts_are_04(world, config, amount):
    uow, order = world
    answer = payments.handle_ipn(uow, signed_ipn(config, order, vnp_Amount=amount), config)
    if amount == "":  # an empty value is not signed: it is as if vnp_Amount were missing
        assert answer["RspCode"] == "04"
    else:
        assert answer == {"RspCode": "04", "Message": "Invalid amount"}
    assert state(uow)[1][0][1] is OrderStatus.PENDING


def test_leading_zeros_are_the_same_amount(world, config):
    uow, order = world
    padded = "0" + str(order.amount_vnd * 100)
    assert payments.handle_ipn(uow, signed_ipn(config, order, vnp_Amount=padded), config)["RspCode"] == "00"


def test_duplicated_keys_are_rejected_consistently(world, config):
    uow, order = world
    good = signed_ipn(config, order)
    pairs = list(good.items())
    for duplicate in [("vnp_Amount", good["vnp_Amount"]), ("vnp_ResponseCode", "24"), ("vnp_SecureHash", "x")]:
        assert payments.handle_ipn(uow, pairs + [duplicate], config)["RspCode"] == "97"
        assert payments.handle_ipn(uow, [duplicate] + pairs, config)["RspCode"] == "97"
        multidict = {k: [v] for k, v in good.items()}
        multidict[duplicate[0]] = multidict[duplicate[0]] + [duplicate[1]]
        assert payments.handle_ipn(uow, multidict, config)["RspCode"] == "97"
    assert state(uow)[1][0][1] is OrderStatus.PENDING
    # a repeated non-VNPAY key is harmless (the first one is kept, it is not signed anyway)
    assert payments.handle_ipn(uow, pairs + [("utm", "a"), ("utm", "b")], config)["RspCode"] == "00"


@pytest.mark.parametrize("text", ["Thanh toán đơn hàng", "\u0000", "😀", "a&b=c", "%FF%FE", "+ +", "<script>"])
def test_odd_encodings_in_signed_values(world, config, text):
    """Odd but correctly signed values are VNPAY's business: the order still settles once."""
    uow, order = world
    params = signed_ipn(config, order, vnp_OrderInfo=text, vnp_BankTranNo=text)
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "00"
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "02"


def test_hash_in_other_cases_and_with_spaces(world, config):
    uow, order = world
    params = signed_ipn(config, order)
    params["vnp_SecureHash"] = " " + params["vnp_SecureHash"].upper() + " "
    assert payments.handle_ipn(uow, params, config)["RspCode"] == "00"


def test_a_pending_order_past_its_window_is_still_settled(world, config):
    """VNPAY enforces the window; if it reports a payment, the money is real: apply it."""
    uow, order = world
    late = NOW + timedelta(hours=2)
    assert payments.handle_ipn(uow, signed_ipn(config, order), config, now=late)["RspCode"] == "00"
    assert state(uow)[1][0][1] is OrderStatus.PAID


ipn_keys = st.sampled_from(
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
        "vnp_SecureHashType",
        "other",
    ]
)
values = st.one_of(st.text(max_size=40), st.sampled_from(["00", "24", "01", ""]), st.integers().map(str))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(ipn_keys, values), max_size=16))
def test_fuzzed_unsigned_ipns_never_change_anything(world, config, pairs):
    uow, _ = world
    before = state(uow)
    answer = payments.handle_ipn(uow, pairs, config)
    assert_clean(answer)
    assert answer["RspCode"] == "97"  # nobody without the secret gets past the signature
    assert state(uow) == before


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(
        ipn_keys.filter(lambda k: k.startswith("vnp_") and k != "vnp_SecureHash"), values, max_size=5
    )
)
def test_fuzzed_signed_ipns_settle_at_most_once(world, config, changes):
    """Even correctly signed (as if VNPAY sent them), changed fields never pay a wrong order."""
    uow, order = world
    params = signed_ipn(config, order, **changes)
    answer = payments.handle_ipn(uow, params, config)
    assert_clean(answer)
    fields = {k: v for k, v in params.items() if v != ""}
    ours = fields.get("vnp_TxnRef") == order.txn_ref and fields.get("vnp_TmnCode") == config.tmn_code
    amount_ok = vnpay.amount_matches(fields.get("vnp_Amount", ""), order.amount_vnd)
    expected_early = "01" if not ours else "04" if not amount_ok else None
    status = state(uow)[1][0][1]
    if expected_early:
        assert answer["RspCode"] == expected_early
    elif answer["RspCode"] == "00":
        paid = fields.get("vnp_ResponseCode") == "00" and fields.get("vnp_TransactionStatus") == "00"
        assert status is (OrderStatus.PAID if paid else OrderStatus.FAILED)
    else:
        assert answer["RspCode"] == "02" and status is not OrderStatus.PENDING  # final stays final
