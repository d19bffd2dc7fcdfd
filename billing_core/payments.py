"""Orders and the VNPAY payment lifecycle, over the unit of work.

- ``start_checkout``: decide, quote and create a pending order with its signed pay link (or hand
  back the pending order of the same change, so a second ask never makes a second order).
- ``handle_ipn``: VNPAY's server-to-server notice; answers exactly the JSON VNPAY expects and makes
  each order final exactly once (pending -> paid | failed), applying a paid upgrade in the same
  transaction.
- ``reconcile_pending``: orders whose pay window closed without an IPN are asked about (querydr).
- ``create_renewal_orders``: "auto renewal" as VNPAY allows it without a recurring contract: a
  renewal order and pay link before the period ends, and a reminder in the audit log.

Decisions (a careful support lead's, written down):
- IPN checks, in VNPAY's order: 97 signature (a ``vnp_*`` key given twice counts as a bad
  signature) -> 01 order (a ``vnp_TmnCode`` other than ours also means "no such order here":
  VNPAY identifies an order by terminal + TxnRef) -> 04 amount -> 02 already final -> 00.
- A payment is successful only when vnp_ResponseCode and vnp_TransactionStatus are both 00. A
  failed payment is recorded with VNPAY's response code ("99" when VNPAY said 00 but the
  transaction status was not 00, so "success" is never shown for a failed order).
- Money received is never dropped: when a paid upgrade can no longer be applied (the workspace
  changed meanwhile), the order stays paid and the audit log gets ``payment_not_applied`` for
  staff to apply or refund by hand.
- A different change for a product with an open (pending, unexpired) order is refused by the
  rules (PAYMENT_PENDING): two live pay links for one product could both be paid.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Optional

from billing_core import errors, vnpay
from billing_core.domain.model import AuditEntry, Order, OrderKind, OrderStatus, RenewalMode, Workspace

log = logging.getLogger(__name__)

IPN_MESSAGES = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid signature",
    "99": "Unknown error",
}
CONCURRENCY_ATTEMPTS = 5  # a lost optimistic-lock race is retried; the retry then sees the final state
ACTOR = "vnpay"


def ipn_answer(code: str) -> Dict[str, str]:
    return {"RspCode": code, "Message": IPN_MESSAGES[code]}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _now(now: Optional[datetime]) -> datetime:
    return vnpay.as_utc(now) if now is not None else utcnow()


def _retry_on_conflict(use_case: Callable[[], Any]) -> Any:
    """Run ``use_case`` again when another transaction saved the same workspace first."""
    for attempt in range(CONCURRENCY_ATTEMPTS):
        try:
            return use_case()
        except errors.ConcurrentUpdateError:
            if attempt == CONCURRENCY_ATTEMPTS - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


def _audit(uow, workspace_id: str, now: datetime, action: str, detail: Dict[str, Any], actor: str = ACTOR) -> None:
    uow.workspaces.audit(AuditEntry(workspace_id=workspace_id, at=now, actor=actor, action=action,
                                    detail=detail))


def _order_of(workspace: Workspace, txn_ref: str) -> Optional[Order]:
    return next((o for o in workspace.orders if o.txn_ref == txn_ref), None)


# --- response codes in words ------------------------------------------------------------

# Used only until billing_core.messages has the VNPAY_RC_<code> texts (then messages wins).
_FALLBACK_RC_TEXT = {
    "vi": {
        "00": "Giao dịch thành công.",
        "07": "Tiền đã bị trừ nhưng giao dịch bị nghi ngờ gian lận. Vui lòng liên hệ bộ phận hỗ trợ.",
        "09": "Thẻ/tài khoản chưa đăng ký dịch vụ Internet Banking. Hãy đăng ký với ngân hàng rồi thanh toán lại.",
        "10": "Xác thực thông tin thẻ/tài khoản sai quá 3 lần. Hãy kiểm tra thông tin rồi thanh toán lại.",
        "11": "Đã hết thời gian chờ thanh toán. Hãy tạo liên kết thanh toán mới.",
        "12": "Thẻ/tài khoản đang bị khóa. Hãy liên hệ ngân hàng hoặc dùng thẻ khác.",
        "13": "Mã OTP không đúng. Hãy thanh toán lại và nhập đúng mã OTP.",
        "24": "Bạn đã hủy giao dịch. Bạn có thể thanh toán lại bất cứ lúc nào.",
        "51": "Tài khoản không đủ số dư. Hãy nạp thêm tiền hoặc dùng thẻ khác rồi thanh toán lại.",
        "65": "Tài khoản đã vượt hạn mức giao dịch trong ngày. Hãy thử lại vào ngày mai hoặc dùng thẻ khác.",
        "75": "Ngân hàng đang bảo trì. Hãy thử lại sau ít phút.",
        "79": "Nhập sai mật khẩu thanh toán quá số lần quy định. Hãy thanh toán lại sau.",
        "99": "Giao dịch không thành công (lỗi khác). Hãy thanh toán lại hoặc liên hệ bộ phận hỗ trợ.",
    },
    "en": {
        "00": "The payment succeeded.",
        "07": "The money was debited but the transaction is suspected of fraud. Please contact support.",
        "09": "The card/account is not registered for internet banking. Register it with your bank, then pay again.",
        "10": "The card/account details were entered wrongly more than 3 times. Check them and pay again.",
        "11": "The payment window expired. Create a new payment link.",
        "12": "The card/account is locked. Contact your bank or use another card.",
        "13": "The OTP was wrong. Pay again and enter the right OTP.",
        "24": "You cancelled the payment. You can pay again at any time.",
        "51": "Insufficient balance. Top up or use another card, then pay again.",
        "65": "The account exceeded its daily transaction limit. Try again tomorrow or use another card.",
        "75": "The bank is under maintenance. Try again in a few minutes.",
        "79": "The payment password was entered wrongly too many times. Pay again later.",
        "99": "The payment failed (other error). Pay again or contact support.",
    },
}


def response_code_text(code: Optional[str], lang: str = "vi") -> str:
    """VNPAY's ``vnp_ResponseCode`` in words, with what to do next (messages.py ``VNPAY_RC_<code>``)."""
    lang = "en" if lang == "en" else "vi"
    code = code if code in _FALLBACK_RC_TEXT["vi"] else "99"
    try:
        from billing_core import messages

        text = messages.render(f"VNPAY_RC_{code}", {}, lang)
        if text and f"VNPAY_RC_{code}" not in text:
            return text
    except Exception:  # messages.py not there yet, or no such code: the fallback below
        pass
    return _FALLBACK_RC_TEXT[lang][code]


# --- IPN ------------------------------------------------------------------------------------

def handle_ipn(uow, params: Any, config: vnpay.VnpayConfig, now: Optional[datetime] = None) -> Dict[str, str]:
    """VNPAY's IPN: ``{"RspCode", "Message"}``, never an exception.

    Any unexpected failure (a database outage included) is logged, rolled back and answered 99,
    so VNPAY retries later and nothing is half-written.
    """
    try:
        return _handle_ipn(uow, params, config, _now(now))
    except Exception:
        log.exception("IPN failed; answered 99 so that VNPAY retries")
        return ipn_answer("99")


def _handle_ipn(uow, params: Any, config: vnpay.VnpayConfig, now: datetime) -> Dict[str, str]:
    try:
        fields = vnpay.single_valued(params)
    except vnpay.AmbiguousParams:
        return ipn_answer("97")
    if not vnpay.verify(fields, config.hash_secret):
        return ipn_answer("97")
    result = vnpay.PaymentResult.from_fields(fields)
    if not result.txn_ref or result.tmn_code != config.tmn_code:
        return ipn_answer("01")
    return _retry_on_conflict(lambda: _settle(uow, result, fields, now))


def _settle(uow, result: vnpay.PaymentResult, fields: Dict[str, str], now: datetime) -> Dict[str, str]:
    with uow:
        workspace = uow.workspaces.get_by_txn_ref(result.txn_ref, for_update=True)
        order = _order_of(workspace, result.txn_ref) if workspace is not None else None
        if order is None:
            return ipn_answer("01")
        if not vnpay.amount_matches(result.amount_field, order.amount_vnd):
            log.warning("IPN %s: amount %r does not match %s VND", order.txn_ref, result.amount_field,
                        order.amount_vnd)
            return ipn_answer("04")
        if order.status is not OrderStatus.PENDING:
            if result.paid and order.status is not OrderStatus.PAID:
                # VNPAY holds money for an order we closed (reconciliation raced the IPN).
                _audit(uow, workspace.id, now, "late_payment_for_closed_order",
                       {"txn_ref": order.txn_ref, "status": order.status.value,
                        "transaction_no": result.transaction_no})
                uow.commit()
            return ipn_answer("02")
        detail = {"txn_ref": order.txn_ref, "amount_vnd": order.amount_vnd,
                  "response_code": result.response_code, "transaction_status": result.transaction_status,
                  "transaction_no": result.transaction_no, "bank_code": result.bank_code}
        if result.paid:
            _mark_paid(uow, workspace, order, result.transaction_no, result.pay_date or now, now, detail)
        else:
            _mark_failed(uow, workspace, order, result, now, detail)
        uow.commit()
        return ipn_answer("00")


def _mark_paid(uow, workspace: Workspace, order: Order, transaction_no: str, paid_at: datetime, now: datetime,
               detail: Dict[str, Any]) -> None:
    order.status = OrderStatus.PAID
    order.response_code = "00"
    order.transaction_no = transaction_no or None
    order.paid_at = paid_at
    workspace.touch()
    _audit(uow, workspace.id, now, "payment_paid", detail)
    try:
        applied = apply_paid_order(uow, workspace, order, now)
    except errors.BillingError as refused:
        log.error("order %s paid but not applied: %s", order.txn_ref, refused)
        _audit(uow, workspace.id, now, "payment_not_applied",
               {**detail, "error": refused.code, "params": refused.params})
        return
    _audit(uow, workspace.id, now, "upgrade_applied" if order.kind is OrderKind.UPGRADE else "renewal_applied",
           {**detail, **applied})


def _mark_failed(uow, workspace: Workspace, order: Order, result: vnpay.PaymentResult, now: datetime,
                 detail: Dict[str, Any]) -> None:
    order.status = OrderStatus.FAILED
    code = result.response_code if result.response_code and result.response_code != "00" else "99"
    order.response_code = code
    order.transaction_no = result.transaction_no or None
    workspace.touch()
    _audit(uow, workspace.id, now, "payment_failed", {**detail, "recorded_code": code})


def apply_paid_order(uow, workspace: Workspace, order: Order, now: datetime) -> Dict[str, Any]:
    """Apply what ``order`` bought to the (locked) ``workspace``, inside the caller's transaction.

    Raises a ``BillingError`` when the rules no longer allow it; returns audit details.
    """
    raise NotImplementedError("wired to the domain in the integration step")


# --- queries --------------------------------------------------------------------------------

def latest_orders(uow, workspace_id: str, limit: int = 5) -> List[Order]:
    """The workspace's most recent orders, newest first (empty when the workspace is unknown)."""
    with uow:
        workspace = uow.workspaces.get(workspace_id)
        if workspace is None:
            return []
        orders = sorted(workspace.orders, key=lambda o: (vnpay.as_utc(o.created_at), o.id or 0), reverse=True)
        return orders[: max(0, int(limit))]


@dataclass(frozen=True)
class OrderLookup:
    workspace_id: str
    order: Order


def find_order(uow, txn_ref: str) -> Optional[OrderLookup]:
    """The order with this TxnRef and its workspace id, read only."""
    if not txn_ref:
        return None
    with uow:
        workspace = uow.workspaces.get_by_txn_ref(txn_ref)
        order = _order_of(workspace, txn_ref) if workspace is not None else None
        return OrderLookup(workspace.id, order) if order is not None else None
