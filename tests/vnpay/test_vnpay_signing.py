"""The gateway client alone (no web framework, no database): runs in both environments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlparse

import pytest

from billing_core.adapters import vnpay
from billing_core.domain.model import Cycle, Order, OrderKind, OrderStatus

ROOT = Path(__file__).resolve().parents[2]

# lehuygiang28/vnpay test fixtures, as quoted in shared/reference/vnpay.md
OUTSIDE_PARAMS = {
    "vnp_Amount": "1000000",
    "vnp_BankCode": "NCB",
    "vnp_BankTranNo": "VNP14422574",
    "vnp_CardType": "ATM",
    "vnp_OrderInfo": "Thanh toan don hang 2024-05-21T02:17:31.249Z",
    "vnp_PayDate": "20240521091806",
    "vnp_ResponseCode": "00",
    "vnp_TmnCode": "TEST_TMN_CODE",
    "vnp_TransactionNo": "14422574",
    "vnp_TransactionStatus": "00",
    "vnp_TxnRef": "1716257871703",
}
HASH_00 = (
    "649982421beb422556a1374713c74e58e716ecbd05007c0c0e1f7effdfaf361d"
    "bf146889ca446139afe11b9954c4d5c486e99e3b86fcfab6957f29eb0be72895"
)
HASH_99 = (
    "503194f6d93b57b357b2d1d09742565e67e86d771352c5dca4fc8d39df3d392c"
    "6b3809add9405f97cfb9631f445e36c80656cfbf47eac67d97fa165865c13e1b"
)

CONFIG = vnpay.VnpayConfig(tmn_code="TESTTMN1", hash_secret="unit-test-secret", mode="demo")


def make_order(amount=1_250_000, txn_ref="261126201500AB12CD34", created=None):
    created = created or datetime(2026, 11, 26, 13, 15, 0, tzinfo=timezone.utc)
    return Order(
        txn_ref=txn_ref,
        kind=OrderKind.UPGRADE,
        product="app_builder",
        tier="standard",
        cycle=Cycle.YEARLY,
        seats=10,
        addons={"storage": 50},
        amount_vnd=amount,
        status=OrderStatus.PENDING,
        created_at=created,
        expires_at=created + vnpay.PAYMENT_TTL,
    )


# --- the outside test vector ---------------------------------------------------------------


def test_outside_vector_success_is_reproduced():
    assert vnpay.sign(OUTSIDE_PARAMS, "test_secret") == HASH_00


def test_outside_vector_failure_is_reproduced():
    assert vnpay.sign({**OUTSIDE_PARAMS, "vnp_ResponseCode": "99"}, "test_secret") == HASH_99


def test_percent_encoding_with_quote_does_not_reproduce_the_vector():
    data = "&".join(f"{k}={quote(v)}" for k, v in sorted(OUTSIDE_PARAMS.items()))
    assert vnpay.hmac_sha512("test_secret", data) != HASH_00
    # ...while the same string with quote_plus does: the difference is the encoder alone.
    assert vnpay.hmac_sha512("test_secret", vnpay.signing_data(OUTSIDE_PARAMS)) == HASH_00


def test_verify_accepts_the_vector_and_ignores_hash_type_and_foreign_keys():
    params = {
        **OUTSIDE_PARAMS,
        "vnp_SecureHash": HASH_00.upper(),
        "vnp_SecureHashType": "HmacSHA512",
        "utm_source": "x",
    }
    assert vnpay.verify(params, "test_secret")
    assert not vnpay.verify(params, "other_secret")


@pytest.mark.parametrize("key", sorted(OUTSIDE_PARAMS))
def test_every_field_tampered_in_turn_fails_verification(key):
    params = {**OUTSIDE_PARAMS, "vnp_SecureHash": HASH_00}
    params[key] = params[key] + "1"
    assert not vnpay.verify(params, "test_secret")
    params[key] = ""  # dropping a signed field is tampering too
    assert not vnpay.verify(params, "test_secret")


def test_verify_never_raises_on_hostile_input():
    assert not vnpay.verify({}, "test_secret")
    assert not vnpay.verify({**OUTSIDE_PARAMS}, "test_secret")  # no hash
    assert not vnpay.verify({**OUTSIDE_PARAMS, "vnp_SecureHash": "ưư" * 64}, "test_secret")
    assert not vnpay.verify({**OUTSIDE_PARAMS, "vnp_SecureHash": HASH_00}, "")
    duplicated = list(OUTSIDE_PARAMS.items()) + [("vnp_SecureHash", HASH_00), ("vnp_Amount", "1000000")]
    assert not vnpay.verify(duplicated, "test_secret")  # even the same value twice is ambiguous
    multidict = {k: [v] for k, v in OUTSIDE_PARAMS.items()}
    multidict["vnp_SecureHash"] = [HASH_00]
    assert vnpay.verify(multidict, "test_secret")
    multidict["vnp_Amount"] = ["1000000", "99999900"]
    assert not vnpay.verify(multidict, "test_secret")


# --- payment URL ------------------------------------------------------------------------------


def test_payment_url_has_every_parameter_and_verifies():
    order = make_order()
    url = vnpay.build_payment_url(CONFIG, order, "203.0.113.9", "vn", order.created_at)
    parsed = urlparse(url)
    assert url.startswith(CONFIG.payment_url + "?")
    pairs = parse_qsl(parsed.query, keep_blank_values=True)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys))
    params = dict(pairs)
    assert params["vnp_Version"] == "2.1.0"
    assert params["vnp_Command"] == "pay"
    assert params["vnp_TmnCode"] == "TESTTMN1"
    assert params["vnp_Amount"] == "125000000"  # VND x 100
    assert params["vnp_CurrCode"] == "VND"
    assert params["vnp_IpAddr"] == "203.0.113.9"
    assert params["vnp_Locale"] == "vn"
    assert params["vnp_OrderType"] == "other"
    assert params["vnp_ReturnUrl"] == CONFIG.return_url
    assert params["vnp_TxnRef"] == order.txn_ref
    assert params["vnp_CreateDate"] == "20261126201500"  # 13:15 UTC = 20:15 in Hanoi
    assert params["vnp_ExpireDate"] == "20261126203000"  # 15 minutes later
    assert "vnp_SecureHashType" not in params
    assert "vnp_BankCode" not in params  # the customer chooses at VNPAY
    assert all(value != "" for value in params.values())
    assert vnpay.verify(params, CONFIG.hash_secret)
    # The query string on the wire is exactly the signed string (quote_plus encoding).
    assert parsed.query.rsplit("&vnp_SecureHash=", 1)[0] == vnpay.signing_data(params)
    assert "vnp_ReturnUrl=http%3A%2F%2Flocalhost%3A8000%2Fvnpay%2Freturn" in parsed.query


def test_english_locale_and_bad_orders():
    order = make_order()
    params = dict(parse_qsl(urlparse(vnpay.build_payment_url(CONFIG, order, "1.2.3.4", "en")).query))
    assert params["vnp_Locale"] == "en"
    with pytest.raises(ValueError):
        vnpay.build_payment_url(CONFIG, make_order(amount=0), "1.2.3.4", "vn")
    with pytest.raises(ValueError):  # never hand out a link whose window has closed
        vnpay.build_payment_url(CONFIG, order, "1.2.3.4", "vn", order.expires_at + timedelta(seconds=1))


def test_order_info_has_no_diacritics_nor_special_characters():
    text = vnpay.ascii_order_info("Nâng cấp Xây dựng ứng dụng (Tiêu chuẩn)! ~*'Đơn hàng'  #42 & 50% <b>")
    assert text == "Nang cap Xay dung ung dung Tieu chuan Don hang 42 50 b"
    assert all(ch.isascii() for ch in text)
    for bad in "~*()!'&#%<>?=+":
        assert bad not in text
    info = vnpay.order_info_for(make_order())
    assert info == "Thanh toan Cleeksy app builder standard theo nam don hang 261126201500AB12CD34"


def test_txn_refs_are_alphanumeric_and_unique():
    now = datetime(2026, 11, 26, 23, 59, 59, tzinfo=timezone.utc)
    refs = {vnpay.new_txn_ref(now) for _ in range(2000)}
    assert len(refs) == 2000
    assert all(ref.isalnum() and ref.startswith("261127065959") for ref in refs)


# --- time zones --------------------------------------------------------------------------------

DATE_PROBE = (
    "from datetime import datetime, timezone; from billing_core.adapters import vnpay; "
    "print(vnpay.vnpay_date(datetime(2026, 12, 31, 20, 30, 5, tzinfo=timezone.utc)), "
    "vnpay.vnpay_date(datetime(2026, 7, 1, 3, 0, 0)), "
    "vnpay.vnpay_date(datetime.fromisoformat('2026-03-08T01:30:00-05:00')))"
)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Ho_Chi_Minh", "Pacific/Kiritimati"])
def test_dates_are_gmt7_whatever_the_server_time_zone(tz):
    env = {**os.environ, "TZ": tz, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", DATE_PROBE], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    # new year in Hanoi while it is still 2026 in UTC; naive = UTC; a New York offset is honoured
    assert out == ["20270101033005", "20260701100000", "20260308133000"]


def test_dates_in_process_after_tzset(monkeypatch):
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    try:
        for tz in ("America/New_York", "UTC"):
            monkeypatch.setenv("TZ", tz)
            time.tzset()
            now = datetime.now(timezone.utc)
            expected = (now + timedelta(hours=7)).strftime("%Y%m%d%H%M%S")
            assert vnpay.vnpay_date(now) == expected
    finally:
        monkeypatch.undo()
        time.tzset()


def test_parse_vnpay_date_round_trips():
    moment = datetime(2026, 11, 26, 13, 15, 0, tzinfo=timezone.utc)
    assert vnpay.parse_vnpay_date(vnpay.vnpay_date(moment)) == moment
    assert vnpay.parse_vnpay_date("2026-11-26") is None
    assert vnpay.parse_vnpay_date("") is None


def test_fixed_offset_fallback_agrees_with_zoneinfo():
    fixed = timezone(timedelta(hours=7))
    for month in range(1, 13):
        moment = datetime(2026, month, 15, 12, tzinfo=timezone.utc)
        assert moment.astimezone(vnpay.VIETNAM_TZ).utcoffset() == fixed.utcoffset(None)


# --- configuration ------------------------------------------------------------------------------

FULL_ENV = {
    "VNPAY_TMN_CODE": "REALTMN1",
    "VNPAY_HASH_SECRET": "merchant-secret",
    "VNPAY_PAYMENT_URL": vnpay.VNPAY_SANDBOX_PAYMENT_URL,
    "VNPAY_RETURN_URL": "https://billing.example.vn/vnpay/return",
    "VNPAY_API_URL": vnpay.VNPAY_SANDBOX_API_URL,
}


def test_demo_mode_defaults_to_the_local_stand_in():
    config = vnpay.VnpayConfig.from_env(environ={})
    assert config.mode == "demo"
    assert config.tmn_code == vnpay.DEMO_TMN_CODE and len(config.tmn_code) == 8
    assert config.hash_secret == vnpay.DEMO_HASH_SECRET
    assert config.payment_url == "http://localhost:8000/sandbox/vnpay/paymentv2/vpcpay.html"
    assert config.return_url == "http://localhost:8000/vnpay/return"
    assert config.uses_local_sandbox
    assert "secret" not in repr(config).lower().replace("hash_secret", "")


def test_real_sandbox_settings_switch_without_code_change():
    config = vnpay.VnpayConfig.from_env(environ={**FULL_ENV, "HELPDESK_MODE": "demo"})
    assert config.payment_url == vnpay.VNPAY_SANDBOX_PAYMENT_URL and not config.uses_local_sandbox
    assert config.tmn_code == "REALTMN1" and config.hash_secret == "merchant-secret"
    assert vnpay.build_payment_url(config, make_order()).startswith("https://sandbox.vnpayment.vn/")


@pytest.mark.parametrize("name", sorted(FULL_ENV))
@pytest.mark.parametrize("value", [None, "", "   "])
def test_production_refuses_missing_settings(name, value):
    env = {**FULL_ENV, "HELPDESK_MODE": "production"}
    if value is None:
        del env[name]
    else:
        env[name] = value
    with pytest.raises(vnpay.ConfigError) as error:
        vnpay.VnpayConfig.from_env(environ=env)
    assert name in str(error.value)


def test_production_refuses_the_demo_secret_and_the_local_stand_in():
    with pytest.raises(vnpay.ConfigError, match="demo secret"):
        vnpay.VnpayConfig.from_env("production", {**FULL_ENV, "VNPAY_HASH_SECRET": vnpay.DEMO_HASH_SECRET})
    with pytest.raises(vnpay.ConfigError, match="local stand-in"):
        vnpay.VnpayConfig.from_env("production", {**FULL_ENV, "VNPAY_PAYMENT_URL": vnpay.DEMO_PAYMENT_URL})
    assert vnpay.VnpayConfig.from_env("production", FULL_ENV).mode == "production"


def test_bad_mode_and_bad_urls_are_refused():
    with pytest.raises(vnpay.ConfigError, match="HELPDESK_MODE"):
        vnpay.VnpayConfig.from_env(environ={"HELPDESK_MODE": "staging"})
    with pytest.raises(vnpay.ConfigError, match="VNPAY_RETURN_URL"):
        vnpay.VnpayConfig.from_env(environ={"VNPAY_RETURN_URL": "javascript:alert(1)"})


# --- querydr against a local HTTP server -----------------------------------------------------------


class FakeVnpayApi:
    """Plays VNPAY's merchant_webapi on loopback; ``script`` lists what each call answers."""

    def __init__(self, config):
        self.config = config
        self.requests = []
        self.script = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                action = outer.script.pop(0) if outer.script else "paid"
                if action == "503":
                    self.send_response(503)
                    self.end_headers()
                    return
                if action == "slow":
                    time.sleep(1.5)
                    action = "paid"
                if action == "garbage":
                    payload = b"<html>maintenance</html>"
                else:
                    answer = vnpay.querydr_answer(
                        outer.config,
                        {
                            "vnp_ResponseId": "r1",
                            "vnp_Command": "querydr",
                            "vnp_ResponseCode": "91" if action == "missing" else "00",
                            "vnp_Message": "QueryDR Success",
                            "vnp_TmnCode": outer.config.tmn_code,
                            "vnp_TxnRef": body["vnp_TxnRef"],
                            "vnp_Amount": "125000000",
                            "vnp_BankCode": "NCB",
                            "vnp_PayDate": "20261126201800",
                            "vnp_TransactionNo": "14000001",
                            "vnp_TransactionType": "01",
                            "vnp_TransactionStatus": "00" if action == "paid" else "02",
                            "vnp_OrderInfo": body["vnp_OrderInfo"],
                        },
                    )
                    if action == "forged":
                        answer["vnp_TransactionStatus"] = "00"
                        answer["vnp_SecureHash"] = "0" * 128
                    payload = json.dumps(answer).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out on purpose ("slow")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/merchant_webapi/api/transaction"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    server = FakeVnpayApi(CONFIG)
    yield server
    server.close()


def config_for(api):
    return vnpay.VnpayConfig(tmn_code=CONFIG.tmn_code, hash_secret=CONFIG.hash_secret, api_url=api.url)


def test_querydr_sends_a_signed_request_and_reads_a_paid_answer(api):
    order = make_order()
    now = order.created_at + timedelta(minutes=20)
    result = vnpay.querydr(config_for(api), order, now, server_ip="10.0.0.5")
    assert result.paid and result.found and result.amount_vnd == 1_250_000
    assert result.transaction_no == "14000001"
    sent = api.requests[0]
    assert sent["vnp_Command"] == "querydr" and sent["vnp_Version"] == "2.1.0"
    assert sent["vnp_TransactionDate"] == "20261126201500"  # the pay link's vnp_CreateDate
    assert sent["vnp_CreateDate"] == "20261126203500"
    assert sent["vnp_IpAddr"] == "10.0.0.5"
    data = "|".join(
        sent[k]
        for k in (
            "vnp_RequestId",
            "vnp_Version",
            "vnp_Command",
            "vnp_TmnCode",
            "vnp_TxnRef",
            "vnp_TransactionDate",
            "vnp_CreateDate",
            "vnp_IpAddr",
            "vnp_OrderInfo",
        )
    )
    assert sent["vnp_SecureHash"] == vnpay.hmac_sha512(CONFIG.hash_secret, data)


def test_querydr_retries_5xx_with_fresh_request_ids(api):
    api.script = ["503", "503", "missing"]
    result = vnpay.querydr(config_for(api), make_order(), datetime.now(timezone.utc), backoff=0)
    assert result.not_found and not result.paid
    ids = [r["vnp_RequestId"] for r in api.requests]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_querydr_gives_up_after_bounded_attempts(api):
    api.script = ["503"] * 10
    with pytest.raises(vnpay.GatewayUnavailable):
        vnpay.querydr(config_for(api), make_order(), datetime.now(timezone.utc), attempts=3, backoff=0)
    assert len(api.requests) == 3


def test_querydr_times_out_then_retries(api):
    api.script = ["slow", "failed"]
    result = vnpay.querydr(config_for(api), make_order(), datetime.now(timezone.utc), timeout=(1, 0.5), backoff=0)
    assert result.found and not result.paid and result.transaction_status == "02"


def test_querydr_refuses_a_forged_or_garbled_answer(api):
    api.script = ["forged"]
    with pytest.raises(vnpay.BadGatewayResponse, match="signature"):
        vnpay.querydr(config_for(api), make_order(), datetime.now(timezone.utc))
    api.script = ["garbage"]
    with pytest.raises(vnpay.BadGatewayResponse):
        vnpay.querydr(config_for(api), make_order(), datetime.now(timezone.utc))


def test_querydr_unreachable_host():
    config = vnpay.VnpayConfig(tmn_code="T", hash_secret="s", api_url="http://127.0.0.1:9/x")
    with pytest.raises(vnpay.GatewayUnavailable):
        vnpay.querydr(config, make_order(), datetime.now(timezone.utc), attempts=2, backoff=0)
