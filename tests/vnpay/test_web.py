"""The web app's VNPAY routes and the local VNPAY stand-in, through real HTTP.

sanic-testing is not installed: each server is ``python -m webapp`` in a subprocess on a free
port (the same entry point ``make run`` uses), talking to a SQLite file the test also reads.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from billing_core.adapters import vnpay
from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork, create_schema
from billing_core.domain.model import OrderKind, OrderStatus, RenewalMode
from billing_core.domain.rules import ChangeRequest
from billing_core.service_layer import payments
from helpdesk.stack import free_port

from .conftest import paying_workspace, seed, signed_ipn

ROOT = Path(__file__).resolve().parents[2]
UPGRADE = ChangeRequest("app_builder", "standard", "yearly", 10, {"storage": 50})
TMN, SECRET = "WEBTEST1", "web-test-secret-3b7d"


class WebServer:
    def __init__(self, folder: Path, mode: str = "demo", ipn_url: str = "", extra_env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db_url = f"sqlite:///{folder / 'web.db'}"
        create_schema(self.db_url)
        self.config = vnpay.VnpayConfig(
            tmn_code=TMN,
            hash_secret=SECRET,
            payment_url=f"{self.base}/sandbox/vnpay/paymentv2/vpcpay.html",
            return_url=f"{self.base}/vnpay/return",
            api_url=f"{self.base}/sandbox/vnpay/merchant_webapi/api/transaction",
        )
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HELPDESK_MODE": mode,
            "BILLING_DATABASE_URL": self.db_url,
            "HELPDESK_WEB_PORT": str(self.port),
            "VNPAY_TMN_CODE": TMN,
            "VNPAY_HASH_SECRET": SECRET,
            "VNPAY_PAYMENT_URL": self.config.payment_url,
            "VNPAY_RETURN_URL": self.config.return_url,
            "VNPAY_API_URL": self.config.api_url,
            # production needs a private token secret, demo mode the documented one (helpdesk/settings.py)
            "HELPDESK_JWT_SECRET": "vnpay-web-tests-private-secret-0123456789" if mode == "production" else "",
        }
        if ipn_url:
            env["VNPAY_SANDBOX_IPN_URL"] = ipn_url
        env.update(extra_env or {})
        self.log = open(folder / f"web-{self.port}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webapp"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait(self, timeout=30.0) -> "WebServer":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"web app exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                if requests.get(self.base + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("web app not ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def uow(self):
        return SqlAlchemyUnitOfWork(self.db_url)

    def checkout(self, workspace_id: str, locale="vn"):
        seed(self.uow(), paying_workspace(workspace_id, datetime.now(timezone.utc)))
        return payments.start_checkout(self.uow(), workspace_id, UPGRADE, "manual", self.config, locale=locale)

    def workspace(self, workspace_id: str):
        with self.uow() as uow:
            return uow.workspaces.get(workspace_id)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    web = WebServer(tmp_path_factory.mktemp("web")).wait()
    yield web
    web.stop()


def hidden_fields(page: str) -> list:
    return [
        (html.unescape(k), html.unescape(v))
        for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    ]


def pay_in_sandbox(server, pay_url: str, outcome: str):
    page = requests.get(pay_url, timeout=10)
    assert page.status_code == 200, page.text
    assert "KHÔNG phải VNPAY" in page.text and "NOT VNPAY" in page.text
    form = hidden_fields(page.text) + [("outcome", outcome)]
    return requests.post(server.base + "/sandbox/vnpay/pay", data=form, allow_redirects=False, timeout=30)


# --- the round trip ---------------------------------------------------------------------------------


def test_paid_round_trip_applies_the_upgrade_and_the_return_page_says_so(server):
    checkout = server.checkout("ws-paid")
    order = checkout.order
    page = requests.get(checkout.pay_url, timeout=10).text
    assert vnpay.vnpay_date(order.created_at) in checkout.pay_url
    assert f"{order.amount_vnd:,}".replace(",", ".") + " ₫" in page and order.txn_ref in page
    redirect = pay_in_sandbox(server, checkout.pay_url, "00")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(server.config.return_url + "?")
    returned = dict(parse_qsl(urlsplit(location).query))
    assert vnpay.verify(returned, SECRET) and returned["vnp_ResponseCode"] == "00"
    assert returned["vnp_BankCode"] == "NCB" and re.fullmatch(r"\d{14}", returned["vnp_PayDate"])
    # the IPN reached the app before the browser came back: paid and applied
    workspace = server.workspace("ws-paid")
    assert workspace.orders[0].status is OrderStatus.PAID
    assert workspace.orders[0].transaction_no == returned["vnp_TransactionNo"]
    assert workspace.subscription("app_builder").tier == "standard"
    result = requests.get(location, timeout=10)
    assert result.status_code == 200 and "Thanh toán thành công" in result.text
    assert "Gói Xây dựng ứng dụng Standard đã được áp dụng" in result.text
    assert order.txn_ref in result.text and "English" in result.text
    english = requests.get(location + "&lang=en", timeout=10).text
    assert "Payment successful" in english and "App Builder Standard plan now applies" in english
    # the return page never changes state: replaying it changes nothing
    version = server.workspace("ws-paid").version
    requests.get(location, timeout=10)
    assert server.workspace("ws-paid").version == version


def test_cancelled_round_trip_records_the_failure_in_words(server):
    checkout = server.checkout("ws-cancel")
    location = pay_in_sandbox(server, checkout.pay_url, "24").headers["Location"]
    workspace = server.workspace("ws-cancel")
    assert workspace.orders[0].status is OrderStatus.FAILED and workspace.orders[0].response_code == "24"
    assert workspace.subscription("app_builder").tier == "starter"
    page = requests.get(location, timeout=10).text
    assert "Thanh toán không thành công" in page
    assert html.escape(payments.response_code_text("24", "vi"), quote=True) in page
    assert "Bạn đã hủy giao dịch" in page
    english = requests.get(location + "&lang=en", timeout=10).text
    assert "Payment failed" in english and "cancelled" in english


@pytest.mark.parametrize("outcome, words", [("51", "không đủ số dư"), ("13", "OTP")])
def test_other_failures_in_words(server, outcome, words):
    checkout = server.checkout(f"ws-fail-{outcome}")
    location = pay_in_sandbox(server, checkout.pay_url, outcome).headers["Location"]
    assert server.workspace(f"ws-fail-{outcome}").orders[0].response_code == outcome
    assert words in requests.get(location, timeout=10).text


def test_return_page_while_waiting_for_the_ipn(server):
    checkout = server.checkout("ws-wait")
    params = signed_ipn(server.config, checkout.order)
    page = requests.get(server.base + "/vnpay/return?" + urlencode(params), timeout=10).text
    assert "Đang chờ VNPAY xác nhận" in page and 'http-equiv="refresh"' in page
    assert server.workspace("ws-wait").orders[0].status is OrderStatus.PENDING  # display only


def test_return_page_with_a_bad_signature_shows_nothing_and_escapes(server):
    checkout = server.checkout("ws-forged")
    params = signed_ipn(server.config, checkout.order)
    params["vnp_ResponseCode"] = "00<script>alert(1)</script>"
    page = requests.get(server.base + "/vnpay/return?" + urlencode(params) + "&lang=<b>x</b>", timeout=10).text
    assert "Không xác minh được kết quả" in page
    assert "<script>" not in page and "<b>x</b>" not in page
    unknown = signed_ipn(
        server.config, {"vnp_TxnRef": "<img src=x onerror=alert(1)>", "vnp_TmnCode": TMN, "vnp_Amount": "100"}
    )
    page = requests.get(server.base + "/vnpay/return?" + urlencode(unknown), timeout=10).text
    assert "Không tìm thấy đơn hàng" in page and "<img" not in page


def test_return_page_texts_for_renewals_and_paid_but_not_applied():
    from billing_core.domain.model import Cycle, Order
    from webapp.payments_routes import render_return_page

    now = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)
    renewal = Order(
        "R1",
        OrderKind.RENEWAL,
        "digital_workspace",
        "standard",
        Cycle.YEARLY,
        10,
        {},
        10_000_000,
        OrderStatus.PAID,
        now,
        now,
        paid_at=now,
    )
    page, _ = render_return_page(
        "vi", True, payments.OrderLookup("w", renewal, False, datetime(2026, 12, 1, 20, tzinfo=timezone.utc))
    )
    assert "kỳ tiếp theo của gói Không gian làm việc số Standard" in page and "02/12/2026" in page
    stuck = Order(
        "U1",
        OrderKind.UPGRADE,
        "app_builder",
        "standard",
        Cycle.YEARLY,
        10,
        {},
        5,
        OrderStatus.PAID,
        now,
        now,
        paid_at=now,
    )
    page, _ = render_return_page("en", True, payments.OrderLookup("w", stuck, False))
    assert "could not apply the plan automatically" in page


# --- the IPN route -----------------------------------------------------------------------------------


def ipn(server, query: str):
    reply = requests.get(server.base + "/vnpay/ipn?" + query, timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    return reply.json()


def test_ipn_route_answers_json_for_everything(server):
    checkout = server.checkout("ws-ipn")
    good = signed_ipn(server.config, checkout.order)
    query = urlencode(good)
    assert ipn(server, "") == {"RspCode": "97", "Message": "Invalid signature"}
    assert ipn(server, "vnp_Amount=%FF%FE&vnp_SecureHash=00")["RspCode"] == "97"  # not UTF-8
    assert ipn(server, "%%%&&&===")["RspCode"] == "97"
    assert ipn(server, query + "&vnp_Amount=" + good["vnp_Amount"])["RspCode"] == "97"  # duplicated key
    assert ipn(server, "a=" + "x" * 6000)["RspCode"] == "97"  # over our 4 KB limit, under Sanic's 8 KB
    posted = requests.post(server.base + "/vnpay/ipn?" + query, timeout=10)  # VNPAY only GETs
    assert posted.status_code == 200 and posted.json()["RspCode"] == "99"
    wrong = urlencode(signed_ipn(server.config, checkout.order, vnp_Amount="999999999999999999999999"))
    assert ipn(server, wrong) == {"RspCode": "04", "Message": "Invalid amount"}
    assert ipn(server, query) == {"RspCode": "00", "Message": "Confirm Success"}
    assert ipn(server, query) == {"RspCode": "02", "Message": "Order already confirmed"}
    assert server.workspace("ws-ipn").subscription("app_builder").tier == "standard"


def test_twenty_simultaneous_ipn_requests_apply_once(server):
    import threading

    checkout = server.checkout("ws-burst")
    query = urlencode(signed_ipn(server.config, checkout.order))
    answers, barrier = [], threading.Barrier(20)

    def deliver():
        barrier.wait()
        answers.append(ipn(server, query)["RspCode"])

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == ["00"] + ["02"] * 19
    workspace = server.workspace("ws-burst")
    assert workspace.orders[0].status is OrderStatus.PAID and workspace.capacity_total("storage") == 50


# --- the stand-in behaves like VNPAY ----------------------------------------------------------------


def test_sandbox_refuses_a_tampered_link_like_vnpay(server):
    checkout = server.checkout("ws-tamper")
    tampered = checkout.pay_url.replace(f"vnp_Amount={checkout.order.amount_vnd * 100}", "vnp_Amount=100")
    page = requests.get(tampered, timeout=10)
    assert page.status_code == 400 and "Sai chữ ký" in page.text and "70" in page.text
    unsigned = checkout.pay_url.split("&vnp_SecureHash=")[0]
    assert "Sai chữ ký" in requests.get(unsigned, timeout=10).text
    # a form changed in the browser is re-checked on submit too
    form = hidden_fields(requests.get(checkout.pay_url, timeout=10).text)
    form = [(k, "1" if k == "vnp_Amount" else v) for k, v in form] + [("outcome", "00")]
    assert "Sai chữ ký" in requests.post(server.base + "/sandbox/vnpay/pay", data=form, timeout=10).text
    form = hidden_fields(requests.get(checkout.pay_url, timeout=10).text) + [("outcome", "77")]
    assert requests.post(server.base + "/sandbox/vnpay/pay", data=form, timeout=10).status_code == 400
    assert server.workspace("ws-tamper").orders[0].status is OrderStatus.PENDING


def test_sandbox_json_api_for_automated_tests(server):
    checkout = server.checkout("ws-api")
    reply = requests.post(
        server.base + "/sandbox/vnpay/api/pay", json={"pay_url": checkout.pay_url, "outcome": "00"}, timeout=30
    )
    assert reply.status_code == 200 and reply.json()["ipn_answer"] == {"RspCode": "00", "Message": "Confirm Success"}
    assert reply.json()["return_url"].startswith(server.config.return_url + "?")
    assert server.workspace("ws-api").orders[0].status is OrderStatus.PAID
    again = requests.post(
        server.base + "/sandbox/vnpay/api/pay", json={"pay_url": checkout.pay_url, "outcome": "00"}, timeout=30
    )
    assert again.json()["ipn_answer"]["RspCode"] == "02"  # VNPAY would not take it twice; the app refuses anyway
    forged = checkout.pay_url.replace("vnp_Locale=vn", "vnp_Locale=en")
    bad = requests.post(server.base + "/sandbox/vnpay/api/pay", json={"pay_url": forged, "outcome": "00"}, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"] == "70"
    assert requests.post(server.base + "/sandbox/vnpay/api/pay", data="not json", timeout=30).status_code == 400


def test_sandbox_refuses_an_expired_link(server):
    seed(server.uow(), paying_workspace("ws-expired", datetime.now(timezone.utc)))
    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    checkout = payments.start_checkout(server.uow(), "ws-expired", UPGRADE, "manual", server.config, now=long_ago)
    page = requests.get(checkout.pay_url, timeout=10)
    assert page.status_code == 400 and "quá thời gian chờ thanh toán" in page.text


def test_sandbox_refuses_another_terminal_and_missing_parameters(server):
    checkout = server.checkout("ws-other")
    params = dict(parse_qsl(urlsplit(checkout.pay_url).query))
    params.pop("vnp_SecureHash")
    other = {**params, "vnp_TmnCode": "OTHERTMN"}
    url = server.config.payment_url + "?" + vnpay.signed_query(other, SECRET)
    assert "Merchant không hợp lệ" in requests.get(url, timeout=10).text
    missing = {k: v for k, v in params.items() if k != "vnp_ReturnUrl"}
    url = server.config.payment_url + "?" + vnpay.signed_query(missing, SECRET)
    assert "không đúng định dạng" in requests.get(url, timeout=10).text


def test_sandbox_answers_querydr_for_reconciliation(tmp_path):
    """A stand-in whose IPN cannot reach the app: reconciliation finds the payment with querydr."""
    web = WebServer(tmp_path, ipn_url="http://127.0.0.1:9/vnpay/ipn").wait()
    try:
        checkout = web.checkout("ws-reconcile")
        assert pay_in_sandbox(web, checkout.pay_url, "00").status_code == 302
        assert web.workspace("ws-reconcile").orders[0].status is OrderStatus.PENDING  # the IPN was lost
        later = checkout.order.expires_at + payments.RECONCILE_GRACE
        report = payments.reconcile_pending(web.uow(), web.config, later)
        assert report == [{"txn_ref": checkout.order.txn_ref, "outcome": "paid"}]
        assert web.workspace("ws-reconcile").subscription("app_builder").tier == "standard"
    finally:
        web.stop()


def test_the_app_runs_the_payment_jobs_in_the_background(tmp_path):
    web = WebServer(tmp_path, extra_env={"HELPDESK_PAYMENT_JOBS_SECONDS": "1"})
    try:
        now = datetime.now(timezone.utc)
        workspace = paying_workspace("ws-auto", now)
        for sub in workspace.subscriptions:
            sub.period_end = now + timedelta(days=3)
        workspace.subscription("digital_workspace").renewal_mode = RenewalMode.AUTO
        seed(web.uow(), workspace)
        web.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not web.workspace("ws-auto").orders:
            time.sleep(0.5)
        orders = web.workspace("ws-auto").orders
        assert [(o.kind, o.product) for o in orders] == [(OrderKind.RENEWAL, "digital_workspace")]
    finally:
        web.stop()


def test_bad_job_interval_is_a_startup_error(tmp_path):
    web = WebServer(tmp_path, extra_env={"HELPDESK_PAYMENT_JOBS_SECONDS": "often"})
    try:
        assert web.process.wait(30) == 2
        assert "HELPDESK_PAYMENT_JOBS_SECONDS" in Path(web.log.name).read_text()
    finally:
        web.stop()


# --- modes -----------------------------------------------------------------------------------------


def test_production_mode_has_no_sandbox(tmp_path):
    web = WebServer(
        tmp_path,
        mode="production",
        extra_env={"VNPAY_PAYMENT_URL": vnpay.VNPAY_SANDBOX_PAYMENT_URL, "VNPAY_API_URL": vnpay.VNPAY_SANDBOX_API_URL},
    ).wait()
    try:
        assert requests.get(web.base + "/sandbox/vnpay/paymentv2/vpcpay.html", timeout=10).status_code == 404
        assert requests.get(web.base + "/healthz", timeout=10).json()["vnpay"] == "VNPAY"
        assert requests.get(web.base + "/vnpay/ipn", timeout=10).json()["RspCode"] == "97"
    finally:
        web.stop()


def test_production_without_a_secret_does_not_start(tmp_path):
    web = WebServer(tmp_path, mode="production", extra_env={"VNPAY_HASH_SECRET": ""})
    try:
        assert web.process.wait(30) == 2
        output = Path(web.log.name).read_text()
        assert "VNPAY_HASH_SECRET" in output and "Traceback" not in output
    finally:
        web.stop()


def test_return_page_is_branded_leads_back_to_the_chat_and_fits_a_phone():
    from webapp.payments_routes import render_return_page

    page, _ = render_return_page("vi", True, None)
    assert '<header class="brand"><a href="/">Cleeksy</a>' in page
    assert 'id="back-to-chat" href="/?chat=open"' in page and "Quay lại khung chat" in page
    assert "box-sizing:border-box" in page and "@media (max-width:600px)" in page
    assert "liên hệ bộ phận hỗ trợ" not in page  # the customer reaches a person from the chat
