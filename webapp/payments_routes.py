"""VNPAY's two merchant URLs: ``GET /vnpay/ipn`` (server to server) and ``GET /vnpay/return``.

The IPN always answers HTTP 200 with VNPAY's JSON, whatever arrives. The return page only SHOWS
the order's state (read from the database, the IPN being the one that changes it); the signed
parameters decide whether we may name the order at all.
"""

from __future__ import annotations

import asyncio
import logging
from typing import List, Tuple
from urllib.parse import parse_qsl, urlencode

from sanic import Blueprint, response
from sanic.request import Request

import billing_core as bc
from billing_core import OrderKind, OrderStatus, load_catalog
from webapp.pages import esc, format_vnd, page
from webapp.runtime import WebSettings

log = logging.getLogger(__name__)

MAX_QUERY_BYTES = 4096  # a genuine VNPAY callback is well under 2 KB (Sanic refuses > 8 KB headers itself)


def query_pairs(request: Request) -> List[Tuple[str, str]]:
    """All (key, value) pairs of the query string, blanks and repeats kept, strict UTF-8.

    Raises ``ValueError`` (UnicodeDecodeError included) on an undecodable or oversized query.
    """
    raw = request.query_string or ""
    if len(raw) > MAX_QUERY_BYTES:
        raise ValueError("query string too long")
    return parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=200)


def page_language(pairs: List[Tuple[str, str]]) -> str:
    values = {key: value for key, value in reversed(pairs)}  # first occurrence wins
    if values.get("lang", "").lower().startswith("en") or values.get("vnp_Locale", "").lower() == "en":
        return "en"
    return "vi"


TEXT = {
    "vi": {
        "title": "Kết quả thanh toán",
        "paid": "Thanh toán thành công",
        "paid_body": "Gói {plan} đã được áp dụng cho không gian làm việc của bạn ngay bây giờ.",
        "paid_not_applied": "Chúng tôi đã nhận tiền nhưng chưa thể áp dụng gói tự động. Bộ phận hỗ trợ sẽ xử lý "
        "và liên hệ với bạn; bạn không cần thanh toán lại.",
        "renewal_paid": "Bạn đã thanh toán kỳ tiếp theo của gói {plan}. Gói sẽ được gia hạn vào ngày {date}.",
        "failed": "Thanh toán không thành công",
        "reason": "Lý do",
        "failed_next": "Gói của bạn chưa thay đổi. Bạn có thể yêu cầu liên kết thanh toán mới trong khung chat.",
        "expired": "Đơn hàng đã hết hạn",
        "expired_body": "Liên kết thanh toán đã hết hạn mà chưa được thanh toán. Hãy yêu cầu liên kết mới trong "
        "khung chat.",
        "pending": "Đang chờ VNPAY xác nhận",
        "pending_body": "Chúng tôi chưa nhận được xác nhận từ VNPAY. Trang sẽ tự cập nhật sau vài giây; bạn "
        "cũng có thể hỏi “Thanh toán của tôi thành công chưa?” trong khung chat.",
        "unverified": "Không xác minh được kết quả",
        "unverified_body": "Dữ liệu trả về không có chữ ký hợp lệ của VNPAY nên chúng tôi không hiển thị kết "
        "quả. Hãy hỏi “Thanh toán của tôi thành công chưa?” trong khung chat để xem trạng "
        "thái thật của đơn hàng.",
        "not_found": "Không tìm thấy đơn hàng",
        "not_found_body": "Không có đơn hàng nào với mã này. Nếu tài khoản của bạn đã bị trừ tiền, hãy nhắn "
        "“gặp nhân viên” trong khung chat và gửi mã giao dịch.",
        "error": "Tạm thời không xem được trạng thái",
        "error_body": "Hệ thống đang bận. Trang sẽ thử lại sau vài giây.",
        "order": "Mã đơn hàng",
        "amount": "Số tiền",
        "transaction": "Mã giao dịch VNPAY",
        "back": "Quay lại trang chủ",
        "chat": "Quay lại khung chat với trợ lý",
    },
    "en": {
        "title": "Payment result",
        "paid": "Payment successful",
        "paid_body": "The {plan} plan now applies to your workspace.",
        "paid_not_applied": "We received the money but could not apply the plan automatically. Support will "
        "handle it and contact you; you do not need to pay again.",
        "renewal_paid": "You paid the next period of the {plan} plan. It renews on {date}.",
        "failed": "Payment failed",
        "reason": "Reason",
        "failed_next": "Your plan has not changed. You can ask for a new payment link in the chat.",
        "expired": "Order expired",
        "expired_body": "The payment link expired without a payment. Ask for a new link in the chat.",
        "pending": "Waiting for VNPAY's confirmation",
        "pending_body": "VNPAY has not confirmed the payment yet. This page refreshes in a few seconds; you "
        "can also ask “Did my payment go through?” in the chat.",
        "unverified": "The result could not be verified",
        "unverified_body": "The returned data does not carry a valid VNPAY signature, so no result is shown. "
        "Ask “Did my payment go through?” in the chat to see the order's real state.",
        "not_found": "Order not found",
        "not_found_body": "There is no order with this reference. If your account was charged, write "
        "“talk to a person” in the chat and send the transaction number.",
        "error": "The status is unavailable right now",
        "error_body": "The system is busy. This page will try again in a few seconds.",
        "order": "Order reference",
        "amount": "Amount",
        "transaction": "VNPAY transaction",
        "back": "Back to the home page",
        "chat": "Back to the chat",
    },
}


def _plan_name(order, lang: str) -> str:
    try:
        catalog = load_catalog()
        return f"{catalog.product_name(order.product, lang)} {catalog.tier_name(order.tier, lang)}"
    except Exception:  # a broken catalog must not hide a payment result
        return f"{order.product.replace('_', ' ').title()} {order.tier.title()}"


def other_language_href(pairs: List[Tuple[str, str]], lang: str) -> str:
    """The same return URL in the other language (the signed parameters are kept as they are)."""
    kept = [(k, v) for k, v in pairs if k != "lang"] + [("lang", "vi" if lang == "en" else "en")]
    return "/vnpay/return?" + urlencode(kept)


def render_return_page(
    lang: str, verified: bool, lookup, error: bool = False, toggle_href: str = ""
) -> Tuple[str, int]:
    """(HTML, HTTP status) of the return page. Every dynamic value is escaped."""
    t = TEXT[lang]
    refresh = 0
    if error:
        heading, css, body, refresh = t["error"], "wait", f"<p>{esc(t['error_body'])}</p>", 5
    elif not verified:
        heading, css, body = t["unverified"], "bad", f"<p>{esc(t['unverified_body'])}</p>"
    elif lookup is None:
        heading, css, body = t["not_found"], "bad", f"<p>{esc(t['not_found_body'])}</p>"
    else:
        order = lookup.order
        if order.status is OrderStatus.PAID:
            heading, css = t["paid"], "ok"
            plan = _plan_name(order, lang)
            if order.kind is OrderKind.RENEWAL:
                date = (
                    bc.vnpay.as_utc(lookup.renews_at).astimezone(bc.vnpay.VIETNAM_TZ).strftime("%d/%m/%Y")
                    if lookup.renews_at
                    else "—"
                )
                text = t["renewal_paid"].format(plan=plan, date=date)
            elif lookup.in_force:
                text = t["paid_body"].format(plan=plan)
            else:
                text = t["paid_not_applied"]
            body = f"<p>{esc(text)}</p>"
        elif order.status is OrderStatus.FAILED:
            heading, css = t["failed"], "bad"
            body = (
                f"<p><strong>{esc(t['reason'])}:</strong> "
                f"{esc(bc.response_code_text(order.response_code, lang))}</p>"
                f"<p>{esc(t['failed_next'])}</p>"
            )
        elif order.status is OrderStatus.EXPIRED:
            heading, css, body = t["expired"], "bad", f"<p>{esc(t['expired_body'])}</p>"
        else:
            heading, css, body, refresh = t["pending"], "wait", f"<p>{esc(t['pending_body'])}</p>", 5
        rows = [(t["order"], order.txn_ref), (t["amount"], format_vnd(order.amount_vnd))]
        if order.transaction_no:
            rows.append((t["transaction"], order.transaction_no))
        body += "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows) + "</dl>"
    toggle = f' · <a href="{esc(toggle_href)}">{"Tiếng Việt" if lang == "en" else "English"}</a>' if toggle_href else ""
    html = (
        f'<h1 class="{css}">{esc(heading)}</h1>{body}'
        f'<p class="actions"><a class="primary" id="back-to-chat" href="/?chat=open">{esc(t["chat"])}</a>'
        f'<span><a href="/">{esc(t["back"])}</a>{toggle}</span></p>'
    )
    return page(t["title"], html, lang, refresh_seconds=refresh), 200


def create_blueprint(settings: WebSettings) -> Blueprint:
    bp = Blueprint("vnpay_merchant", url_prefix="/vnpay")

    @bp.get("/ipn")
    async def ipn(request: Request):
        try:
            pairs = query_pairs(request)
        except ValueError:
            return response.json(bc.ipn_answer("97"))  # undecodable: cannot carry a valid signature
        try:
            answer = await asyncio.to_thread(bc.handle_ipn, request.app.ctx.uow_factory(), pairs, settings.vnpay)
        except Exception:  # handle_ipn never raises; this guards the plumbing around it
            log.exception("IPN plumbing failed")
            answer = bc.ipn_answer("99")
        return response.json(answer)

    @bp.get("/return")
    async def vnpay_return(request: Request):
        try:
            pairs = query_pairs(request)
        except ValueError:
            pairs = []
        lang = page_language(pairs)
        try:
            fields = bc.vnpay.single_valued(pairs)
            verified = bc.vnpay.verify(fields, settings.vnpay.hash_secret)
        except bc.vnpay.AmbiguousParams:
            fields, verified = {}, False
        lookup, failed = None, False
        if verified:
            try:
                lookup = await asyncio.to_thread(
                    bc.find_order, request.app.ctx.uow_factory(), fields.get("vnp_TxnRef", "")
                )
            except Exception:
                log.exception("return page: order lookup failed")
                failed = True
        html, status = render_return_page(
            lang, verified, lookup, error=failed, toggle_href=other_language_href(pairs, lang)
        )
        return response.html(html, status=status, headers={"Cache-Control": "no-store"})

    return bp
