"""A LOCAL stand-in of VNPAY's payment page, for development, demos and end-to-end tests.

It is not VNPAY and says so on every page. It plays VNPAY's part with the configured terminal
code and secret: it checks the pay link's signature exactly as VNPAY does (error page "Sai chữ
ký", code 70, on a bad one), lets the tester choose an outcome, then signs the result, calls the
IPN URL server to server and redirects the browser to the return URL with the same parameters.
It also answers querydr for the transactions it has seen, so reconciliation can be tried here.

Mounted at ``/sandbox/vnpay`` in demo mode only (never in production).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import threading
from datetime import datetime, timezone
from typing import Dict, Optional, cast
from urllib.parse import parse_qsl

from sanic import Blueprint, response
from sanic.request import Request

import billing_core as bc
from webapp.pages import esc, format_vnd, page
from webapp.runtime import WebSettings

log = logging.getLogger(__name__)

REQUIRED_PAY_PARAMS = (
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_Amount",
    "vnp_CreateDate",
    "vnp_CurrCode",
    "vnp_IpAddr",
    "vnp_Locale",
    "vnp_OrderInfo",
    "vnp_OrderType",
    "vnp_ReturnUrl",
    "vnp_TxnRef",
    "vnp_ExpireDate",
    "vnp_SecureHash",
)
# Outcomes the tester can choose: response code -> (label vi, label en)
OUTCOMES = {
    "00": ("Thanh toán thành công", "Pay successfully"),
    "24": ("Khách hàng hủy giao dịch", "Cancel the payment"),
    "51": ("Tài khoản không đủ số dư", "Insufficient balance"),
    "13": ("Nhập sai mã OTP", "Wrong OTP"),
}
# VNPAY's own payment-page error codes (Error.html?code=..)
PAGE_ERRORS = {
    "70": ("Sai chữ ký", "Invalid signature"),
    "03": ("Dữ liệu gửi sang không đúng định dạng", "Invalid data format"),
    "02": ("Merchant không hợp lệ", "Invalid merchant"),
    "11": ("Giao dịch đã quá thời gian chờ thanh toán", "The payment window has expired"),
}
BANNER = (
    "<p class=note><strong>Trang giả lập VNPAY chạy cục bộ — KHÔNG phải VNPAY.</strong> "
    "Không có tiền thật nào được chuyển.<br><em>Local VNPAY stand-in — NOT VNPAY. No real money moves."
    "</em></p>"
)


class SandboxLedger:
    """What the stand-in "processed", for its querydr answers (in memory, per app)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_txn_ref: Dict[str, Dict[str, str]] = {}

    def record(self, fields: Dict[str, str]) -> None:
        with self._lock:
            self._by_txn_ref[fields["vnp_TxnRef"]] = dict(fields)

    def get(self, txn_ref: str) -> Optional[Dict[str, str]]:
        with self._lock:
            found = self._by_txn_ref.get(txn_ref)
            return dict(found) if found else None


def _error_page(code: str, lang: str = "vi") -> response.HTTPResponse:
    vi, en = PAGE_ERRORS[code]
    body = (
        f"{BANNER}<h1 class=bad>Thông báo / Notice</h1><p><strong>{esc(vi)}</strong><br>{esc(en)}</p>"
        f"<p>Mã lỗi / Error code: {esc(code)}</p>"
    )
    return response.html(page("VNPAY - Thông báo lỗi", body, lang), status=400)


def check_pay_request(fields: Dict[str, str], config: bc.vnpay.VnpayConfig, now: datetime) -> Optional[str]:
    """VNPAY's checks of a pay link; the error code or None."""
    if not fields.get("vnp_SecureHash"):
        return "70"
    if not bc.vnpay.verify(fields, config.hash_secret):
        return "70"
    if any(not fields.get(name) for name in REQUIRED_PAY_PARAMS):
        return "03"
    if fields["vnp_TmnCode"] != config.tmn_code:
        return "02"
    amount = fields["vnp_Amount"]
    amount_ok = (
        amount.isascii() and amount.isdigit() and len(amount) <= 18 and int(amount) > 0 and int(amount) % 100 == 0
    )
    if (
        fields["vnp_Version"] != bc.vnpay.API_VERSION
        or fields["vnp_Command"] != "pay"
        or fields["vnp_CurrCode"] != "VND"
        or not amount_ok
    ):
        return "03"
    expires = bc.vnpay.parse_vnpay_date(fields["vnp_ExpireDate"])
    if bc.vnpay.parse_vnpay_date(fields["vnp_CreateDate"]) is None or expires is None:
        return "03"
    if expires <= now:
        return "11"
    return None


def payment_result_fields(
    fields: Dict[str, str], outcome: str, config: bc.vnpay.VnpayConfig, now: datetime
) -> Dict[str, str]:
    """The signed parameters VNPAY sends to the IPN and the return URL after a payment attempt."""
    paid = outcome == "00"
    result = {
        "vnp_Amount": fields["vnp_Amount"],
        "vnp_BankCode": "NCB",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": fields["vnp_OrderInfo"],
        "vnp_PayDate": bc.vnpay.vnpay_date(now),
        "vnp_ResponseCode": outcome,
        "vnp_TmnCode": fields["vnp_TmnCode"],
        "vnp_TransactionNo": str(secrets.randbelow(90_000_000) + 10_000_000) if paid else "0",
        "vnp_TransactionStatus": "00" if paid else "02",
        "vnp_TxnRef": fields["vnp_TxnRef"],
    }
    if paid:
        result["vnp_BankTranNo"] = "VNP" + result["vnp_TransactionNo"]
    result["vnp_SecureHash"] = bc.vnpay.sign(result, config.hash_secret)
    return result


def call_ipn(ipn_url: str, result: Dict[str, str], attempts: int = 3) -> Optional[dict]:
    """GET the merchant's IPN URL like VNPAY does; retries a few times until 00 or 02."""
    import requests

    answer = None
    for _ in range(attempts):
        try:
            reply = requests.get(ipn_url, params=result, timeout=(3, 15))
            answer = reply.json()
        except Exception as error:  # the merchant may be down: VNPAY would retry later
            log.warning("sandbox: IPN call to %s failed: %s", ipn_url, error)
            continue
        if answer.get("RspCode") in ("00", "02"):
            break
    return answer


def create_blueprint(settings: WebSettings) -> Blueprint:
    bp = Blueprint("vnpay_sandbox", url_prefix=bc.vnpay.LOCAL_SANDBOX_PREFIX)
    ledger = SandboxLedger()
    config = settings.vnpay

    def fields_of(pairs) -> Optional[Dict[str, str]]:
        try:
            return bc.vnpay.single_valued(pairs)
        except bc.vnpay.AmbiguousParams:
            return None

    @bp.get("/paymentv2/vpcpay.html")
    async def pay_page(request: Request):
        try:
            pairs = parse_qsl(request.query_string or "", keep_blank_values=True, errors="strict")
        except ValueError:
            return _error_page("03")
        fields = fields_of(pairs)
        if fields is None:
            return _error_page("70")
        now = datetime.now(timezone.utc)
        problem = check_pay_request(fields, config, now)
        lang = "en" if fields.get("vnp_Locale") == "en" else "vi"
        if problem:
            return _error_page(problem, lang)
        hidden = "".join(
            f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items() if k.startswith("vnp_")
        )
        buttons = "".join(
            f'<button type="submit" name="outcome" value="{esc(code)}" class="{"primary" if code == "00" else ""}">'
            f"{esc(labels[1] if lang == 'en' else labels[0])} ({esc(code)})</button>"
            for code, labels in OUTCOMES.items()
        )
        expires = cast(datetime, bc.vnpay.parse_vnpay_date(fields["vnp_ExpireDate"]))  # check_pay_request parsed it
        rows = [
            ("Nhà cung cấp / Merchant", fields["vnp_TmnCode"]),
            ("Số tiền / Amount", format_vnd(int(fields["vnp_Amount"]) // 100)),
            ("Nội dung / Order info", fields["vnp_OrderInfo"]),
            ("Mã đơn hàng / Order ref", fields["vnp_TxnRef"]),
            ("Hết hạn / Expires", expires.astimezone(bc.vnpay.VIETNAM_TZ).strftime("%H:%M:%S %d/%m/%Y") + " (GMT+7)"),
        ]
        body = (
            f"{BANNER}<h1>Cổng thanh toán (giả lập) / Payment (stand-in)</h1>"
            + "<dl>"
            + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
            + "</dl>"
            + f'<form method="post" action="{esc(bc.vnpay.LOCAL_SANDBOX_PREFIX)}/pay">{hidden}'
            + f"<p>Chọn kết quả / Choose the outcome:</p>{buttons}</form>"
        )
        return response.html(page("VNPAY (giả lập cục bộ)", body, lang), headers={"Cache-Control": "no-store"})

    async def complete(fields: Dict[str, str], outcome: str):
        """Play VNPAY after the customer's choice: sign the result, call the IPN, give the return URL."""
        now = datetime.now(timezone.utc)
        result = payment_result_fields(fields, outcome, config, now)
        ledger.record({**result, "vnp_CreateDate": fields["vnp_CreateDate"]})
        answer = await asyncio.to_thread(call_ipn, settings.sandbox_ipn_url, result)
        log.info("sandbox: %s outcome %s, IPN answered %s", fields["vnp_TxnRef"], outcome, answer)
        return_url = fields["vnp_ReturnUrl"]
        separator = "&" if "?" in return_url else "?"
        query = bc.vnpay.signing_data(result) + "&vnp_SecureHash=" + result["vnp_SecureHash"]
        return answer, return_url + separator + query

    @bp.post("/pay")
    async def pay(request: Request):
        form = request.form or {}
        pairs = [(key, value) for key, values in form.items() for value in values]
        fields = fields_of([(k, v) for k, v in pairs if k != "outcome"])
        outcome = form.get("outcome") or ""
        if fields is None:
            return _error_page("70")
        problem = check_pay_request(fields, config, datetime.now(timezone.utc))
        if problem:
            return _error_page(problem)
        if outcome not in OUTCOMES:
            return _error_page("03")
        _answer, location = await complete(fields, outcome)
        return response.redirect(location, status=302)

    @bp.post("/api/pay")
    async def pay_api(request: Request):
        """For automated end-to-end tests: ``{"pay_url": <the link>, "outcome": "00"|"24"|"51"|"13"}``
        does what the page's button does and answers ``{"ipn_answer", "return_url"}`` as JSON."""
        try:
            body = request.json if isinstance(request.json, dict) else {}
        except Exception:
            body = {}
        pay_url, outcome = str(body.get("pay_url") or ""), str(body.get("outcome") or "")
        try:
            fields = fields_of(parse_qsl(pay_url.split("?", 1)[-1], keep_blank_values=True, errors="strict"))
        except ValueError:
            fields = None
        problem = "70" if fields is None else check_pay_request(fields, config, datetime.now(timezone.utc))
        if fields is None or problem or outcome not in OUTCOMES:  # no fields: problem is "70"
            code = problem or "03"
            return response.json({"error": code, "message": PAGE_ERRORS[code][1]}, status=400)
        answer, location = await complete(fields, outcome)
        return response.json({"ipn_answer": answer, "return_url": location})

    @bp.post("/merchant_webapi/api/transaction")
    async def transaction_api(request: Request):
        try:
            body = request.json
        except Exception:
            body = None
        if not isinstance(body, dict):
            return response.json(
                bc.vnpay.querydr_answer(config, {"vnp_ResponseCode": "03", "vnp_Message": "Invalid format"})
            )
        body = {k: ("" if v is None else str(v)) for k, v in body.items()}
        expected = bc.vnpay.pipe_hash(config.hash_secret, body, bc.vnpay.QUERY_REQUEST_FIELDS)
        if not hmac.compare_digest(
            expected.encode(), body.get("vnp_SecureHash", "").lower().encode("utf-8", "replace")
        ):
            return response.json(
                bc.vnpay.querydr_answer(config, {"vnp_ResponseCode": "97", "vnp_Message": "Invalid checksum"})
            )
        if body.get("vnp_TmnCode") != config.tmn_code:
            return response.json(
                bc.vnpay.querydr_answer(config, {"vnp_ResponseCode": "02", "vnp_Message": "Invalid TmnCode"})
            )
        seen = ledger.get(body.get("vnp_TxnRef", ""))
        base = {
            "vnp_ResponseId": secrets.token_hex(8),
            "vnp_Command": "querydr",
            "vnp_TmnCode": config.tmn_code,
            "vnp_TxnRef": body.get("vnp_TxnRef", ""),
        }
        if seen is None:
            return response.json(
                bc.vnpay.querydr_answer(
                    config, {**base, "vnp_ResponseCode": "91", "vnp_Message": "Transaction not found"}
                )
            )
        return response.json(
            bc.vnpay.querydr_answer(
                config,
                {
                    **base,
                    "vnp_ResponseCode": "00",
                    "vnp_Message": "QueryDR Success",
                    "vnp_Amount": seen["vnp_Amount"],
                    "vnp_BankCode": seen["vnp_BankCode"],
                    "vnp_PayDate": seen["vnp_PayDate"],
                    "vnp_TransactionNo": seen["vnp_TransactionNo"],
                    "vnp_TransactionType": "01",
                    "vnp_TransactionStatus": seen["vnp_TransactionStatus"],
                    "vnp_OrderInfo": seen["vnp_OrderInfo"],
                },
            )
        )

    return bp
