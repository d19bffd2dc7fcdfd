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

import functools
import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, TypeVar

from billing_core.adapters import vnpay
from billing_core.domain import errors, messages, pricing
from billing_core.domain.catalog import Catalog
from billing_core.domain.clock import as_utc, utc_or_now
from billing_core.domain.model import Effective, Order, OrderKind, OrderStatus, RenewalMode, Status, Workspace
from billing_core.domain.quotes import quote
from billing_core.domain.rules import ChangeRequest, decide, resolve_target
from billing_core.service_layer import services
from billing_core.service_layer.common import (
    LATE_PAYMENT,
    PAYMENT_ATTEMPTS,
    SYSTEM_ACTOR,
    UnitOfWork,
    audit,
    catalog_or_default,
    load,
    retry_on_conflict,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

log = logging.getLogger(__name__)
T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")

IPN_MESSAGES = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid signature",
    "99": "Unknown error",
}
ACTOR = "vnpay"
CUSTOMER_ACTOR = "customer"


def ipn_answer(code: str) -> Dict[str, str]:
    return {"RspCode": code, "Message": IPN_MESSAGES[code]}


def _retry_on_conflict(use_case: Callable[[], T]) -> T:
    """A lost optimistic-lock race is retried (with a short pause); the retry sees the final state."""
    return retry_on_conflict(use_case, PAYMENT_ATTEMPTS, pause=0.01)


def _audit(
    uow: UnitOfWork, workspace: Workspace, now: datetime, action: str, detail: Dict[str, Any], actor: str = ACTOR
) -> None:
    audit(uow, workspace, now, actor, action, detail)


def _order_of(workspace: Workspace, txn_ref: str) -> Optional[Order]:
    return next((o for o in workspace.orders if o.txn_ref == txn_ref), None)


# --- response codes in words ------------------------------------------------------------


def response_code_text(code: Optional[str], lang: str = "vi") -> str:
    """VNPAY's ``vnp_ResponseCode`` in words, with what to do next (``messages.VNPAY_RC_<code>``)."""
    return messages.vnpay_response_text(code or "99", lang)


# --- IPN ------------------------------------------------------------------------------------


def handle_ipn(
    uow: UnitOfWork, params: Any, config: vnpay.VnpayConfig, now: Optional[datetime] = None
) -> Dict[str, str]:
    """VNPAY's IPN: ``{"RspCode", "Message"}``, never an exception.

    Any unexpected failure (a database outage included) is logged, rolled back and answered 99,
    so VNPAY retries later and nothing is half-written.
    """
    try:
        answer = _handle_ipn(uow, params, config, utc_or_now(now))
    except Exception:
        log.exception("IPN failed; answered 99 so that VNPAY retries")
        return ipn_answer("99")
    log.info("IPN answered %s", answer["RspCode"])
    return answer


def _handle_ipn(uow: UnitOfWork, params: Any, config: vnpay.VnpayConfig, now: datetime) -> Dict[str, str]:
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


def _settle(uow: UnitOfWork, result: vnpay.PaymentResult, fields: Dict[str, str], now: datetime) -> Dict[str, str]:
    with uow:
        workspace = uow.workspaces.get_by_txn_ref(result.txn_ref, for_update=True)
        order = _order_of(workspace, result.txn_ref) if workspace is not None else None
        if workspace is None or order is None:
            return ipn_answer("01")
        if not vnpay.amount_matches(result.amount_field, order.amount_vnd):
            log.warning("IPN %s: amount %r does not match %s VND", order.txn_ref, result.amount_field, order.amount_vnd)
            return ipn_answer("04")
        if order.status is not OrderStatus.PENDING:
            if result.paid and order.status is not OrderStatus.PAID:
                _flag_refund(uow, workspace, order, result, now)
            return ipn_answer("02")
        detail = {
            "txn_ref": order.txn_ref,
            "amount_vnd": order.amount_vnd,
            "response_code": result.response_code,
            "transaction_status": result.transaction_status,
            "transaction_no": result.transaction_no,
            "bank_code": result.bank_code,
        }
        if result.paid:
            _mark_paid(uow, workspace, order, result.transaction_no, result.pay_date or now, now, detail)
        else:
            _mark_failed(uow, workspace, order, result, now, detail)
        uow.commit()
        return ipn_answer("00")


def _flag_refund(
    uow: UnitOfWork, workspace: Workspace, order: Order, result: vnpay.PaymentResult, now: datetime
) -> None:
    """VNPAY took money for an order we had closed (cancelled by the customer, expired or failed:
    the customer paid a link they had already given up, or reconciliation raced the IPN). VNPAY's
    contract answers such an IPN 02 (not pending any more), which ends its retries; nothing is
    applied, and staff are told to refund it (``refunds_due`` in the workspace summary, once per
    VNPAY transaction however often the IPN comes)."""
    already = any(
        e.action == LATE_PAYMENT
        and e.detail.get("txn_ref") == order.txn_ref
        and e.detail.get("transaction_no") == result.transaction_no
        for e in uow.workspaces.audit_entries(workspace.id)
    )
    if already:
        return
    _audit(
        uow,
        workspace,
        now,
        LATE_PAYMENT,
        {
            "txn_ref": order.txn_ref,
            "status": order.status.value,
            "transaction_no": result.transaction_no,
            "amount_vnd": order.amount_vnd,
            "paid_at": result.pay_date or now,
            "refund_due": True,
        },
    )
    workspace.touch()
    uow.commit()


def _mark_paid(
    uow: UnitOfWork,
    workspace: Workspace,
    order: Order,
    transaction_no: str,
    paid_at: datetime,
    now: datetime,
    detail: Dict[str, Any],
) -> None:
    order.status = OrderStatus.PAID
    order.response_code = "00"
    order.transaction_no = transaction_no or None
    order.paid_at = paid_at
    workspace.touch()
    _audit(uow, workspace, now, "payment_paid", detail)
    try:
        applied = apply_paid_order(uow, workspace, order, now)
    except errors.BillingError as refused:
        log.error("order %s paid but not applied: %s", order.txn_ref, refused)
        _audit(uow, workspace, now, "payment_not_applied", {**detail, "error": refused.code, "params": refused.params})
        return
    if order.kind is OrderKind.RENEWAL:
        _audit(uow, workspace, now, "renewal_paid", {**detail, **applied})


def _mark_failed(
    uow: UnitOfWork,
    workspace: Workspace,
    order: Order,
    result: vnpay.PaymentResult,
    now: datetime,
    detail: Dict[str, Any],
) -> None:
    order.status = OrderStatus.FAILED
    code = result.response_code if result.response_code and result.response_code != "00" else "99"
    order.response_code = code
    # VNPAY sends TransactionNo "0" when no transaction was made (cancelled before paying)
    order.transaction_no = result.transaction_no if result.transaction_no not in ("", "0") else None
    workspace.touch()
    _audit(uow, workspace, now, "payment_failed", {**detail, "recorded_code": code})


def apply_paid_order(uow: UnitOfWork, workspace: Workspace, order: Order, now: datetime) -> Dict[str, Any]:
    """Apply what ``order`` bought to the (locked) ``workspace``, inside the caller's transaction.

    Raises a ``BillingError`` when the rules no longer allow it; returns audit details.
    """
    if order.kind is OrderKind.RENEWAL:
        return _apply_renewal(workspace, order, now)
    return _apply_upgrade(uow, workspace, order, now)


def _apply_upgrade(uow: UnitOfWork, workspace: Workspace, order: Order, now: datetime) -> Dict[str, Any]:
    """Re-decide the order's change on the locked workspace (the order is already marked paid, so
    it no longer counts as pending) and apply it through the services' in-transaction path, which
    refuses it when the rules no longer say IMMEDIATE and writes the ``change_applied`` entry."""
    request = ChangeRequest(order.product, order.tier, order.cycle, order.seats, dict(order.addons or {}))
    subscription = services.apply_upgrade_to_workspace(
        uow,
        workspace,
        request,
        now,
        actor=ACTOR,
        renewal_mode=order.renewal_mode,
        extra={"txn_ref": order.txn_ref, "amount_vnd": order.amount_vnd},
    )
    return {
        "product": subscription.product,
        "tier": subscription.tier,
        "cycle": subscription.cycle.value if subscription.cycle else None,
        "seats": subscription.seats,
    }


# --- checkout -------------------------------------------------------------------------------


@dataclass
class Checkout:
    """The outcome of asking to pay for a change.

    ``order``/``pay_url`` are None when nothing is to be paid through VNPAY now: a blocked change
    (``decision`` explains, with fixes), a change that applies at the next renewal, or one that
    costs nothing (``quote.total_vnd == 0``: apply it with ``services.apply_upgrade``). When the
    change is blocked because another order of the product is still open, ``open_order`` and
    ``open_pay_url`` are that order and its link, so the customer can finish it.
    """

    order: Optional[Order]
    pay_url: Optional[str]
    decision: Any  # billing_core.domain.rules.Decision
    quote: Any = None  # billing_core.domain.quotes.Quote | None
    reused: bool = False
    open_order: Optional[Order] = None
    open_pay_url: Optional[str] = None
    # When ``open_order`` buys something else than what was asked: what it buys and the offer to
    # cancel it (``cancel_pending_order``) and order what was asked, as a text code and params
    # (``PENDING_ORDER_DIFFERS``).
    pending_offer: Optional[Dict[str, Any]] = None


def _renewal_mode(value: Any) -> RenewalMode:
    if isinstance(value, RenewalMode):
        return value
    try:
        return RenewalMode(str(value).strip().lower())
    except ValueError:
        raise errors.InvalidRenewalModeError(
            {"renewal_mode": str(value), "known": [m.value for m in RenewalMode]}
        ) from None


def _plain_copy(obj: D, **changes: Any) -> D:
    """A transient copy of a dataclass entity (never attached to a session)."""
    values = {f.name: getattr(obj, f.name) for f in fields(obj) if f.init}
    values.update(changes)
    return type(obj)(**values)


def _workspace_without(workspace: Workspace, order: Order) -> Workspace:
    """A detached snapshot of ``workspace`` without ``order``: the decision that order came from.

    Built from fresh objects so the persistent aggregate (and its session) is never touched.
    """
    return _plain_copy(
        workspace,
        subscriptions=[_plain_copy(s) for s in workspace.subscriptions],
        capacity=[_plain_copy(c) for c in workspace.capacity],
        scheduled_changes=[_plain_copy(c) for c in workspace.scheduled_changes],
        orders=[_plain_copy(o, addons=dict(o.addons)) for o in workspace.orders if o is not order],
        retention_tasks=[_plain_copy(t) for t in workspace.retention_tasks],
    )


def _same_change(order: Order, target: Any) -> bool:
    return (
        order.kind is OrderKind.UPGRADE
        and (order.product, order.tier, order.cycle, order.seats)
        == (target.product, target.tier, target.cycle, target.seats)
        and dict(order.addons or {}) == dict(target.addons or {})
    )


def _pending_offer(order: Order, target: Any) -> Dict[str, Any]:
    """What the open order buys and what was asked instead (the ``PENDING_ORDER_DIFFERS`` text)."""
    return {
        "code": "PENDING_ORDER_DIFFERS",
        "params": {
            "order_ref": order.txn_ref,
            "product": order.product,
            "tier": order.tier,
            "cycle": order.cycle,
            "seats": order.seats,
            "amount_vnd": order.amount_vnd,
            "expires_at": order.expires_at,
            "requested_tier": target.tier,
            "requested_cycle": target.cycle,
            "requested_seats": target.seats,
        },
    }


def cancel_pending_order(
    uow: UnitOfWork, workspace_id: str, txn_ref: str, now: Optional[datetime] = None, actor: str = CUSTOMER_ACTOR
) -> Order:
    """Cancel the workspace's pending order ``txn_ref`` so that another change can be ordered.

    Its pay link stops counting at once: the order is no longer open, so the rules stop answering
    PAYMENT_PENDING and a new checkout opens a new order. If the customer still pays the old link,
    VNPAY's IPN is answered 02 and the payment is flagged for a refund (``_flag_refund``).
    OrderNotFoundError for an order of another workspace or none; OrderNotPendingError once the
    order is final (paid, failed, expired or cancelled already)."""
    now = utc_or_now(now)

    def attempt() -> Order:
        with uow:
            workspace = load(uow, workspace_id, for_update=True)
            order = _order_of(workspace, txn_ref) if isinstance(txn_ref, str) else None
            if order is None:
                raise errors.OrderNotFoundError({"order_ref": str(txn_ref)[:64]})
            if order.status is not OrderStatus.PENDING:
                raise errors.OrderNotPendingError({"order_ref": order.txn_ref, "status": order.status.value})
            order.status = OrderStatus.CANCELLED
            workspace.touch()
            _audit(
                uow,
                workspace,
                now,
                "order_cancelled",
                {
                    "txn_ref": order.txn_ref,
                    "product": order.product,
                    "tier": order.tier,
                    "cycle": order.cycle,
                    "seats": order.seats,
                    "amount_vnd": order.amount_vnd,
                },
                actor=actor,
            )
            uow.commit()
            return order

    return _retry_on_conflict(attempt)


def _expiry(catalog: Any) -> timedelta:
    minutes = getattr(catalog, "order_expiry_minutes", None)
    return timedelta(minutes=minutes) if isinstance(minutes, int) and minutes > 0 else vnpay.PAYMENT_TTL


def start_checkout(
    uow: UnitOfWork,
    workspace_id: str,
    request: Any,
    renewal_mode: Any = RenewalMode.MANUAL,
    config: Optional[vnpay.VnpayConfig] = None,
    client_ip: str = "127.0.0.1",
    locale: str = "vn",
    now: Optional[datetime] = None,
    catalog: Optional[Catalog] = None,
) -> Checkout:
    """Decide, quote and open a pending order with its VNPAY link, in one transaction.

    Bad input raises a ``BillingError`` before anything is written. A second call for the same
    change while its order is open returns that order and the same link (``reused=True``); its
    renewal mode follows the latest answer.
    """
    now = utc_or_now(now)
    mode = _renewal_mode(renewal_mode)
    if config is None:
        try:
            config = vnpay.VnpayConfig.from_env()
        except vnpay.ConfigError as problem:
            raise errors.PaymentConfigError({"missing": ", ".join(problem.missing) or str(problem)}) from None
    catalog = catalog_or_default(catalog)
    request = services.check_request(request, catalog)
    return _retry_on_conflict(
        lambda: _checkout(uow, catalog, workspace_id, request, mode, config, client_ip, locale, now)
    )


def _checkout(
    uow: UnitOfWork,
    catalog: Catalog,
    workspace_id: str,
    request: ChangeRequest,
    mode: RenewalMode,
    config: vnpay.VnpayConfig,
    client_ip: str,
    locale: str,
    now: datetime,
) -> Checkout:
    with uow:
        workspace = load(uow, workspace_id, for_update=True)
        target = resolve_target(catalog, workspace, request)  # raises on bad input
        open_order = workspace.pending_order(target.product, now)
        if open_order is not None and _same_change(open_order, target):
            snapshot = _workspace_without(workspace, open_order)
            decision, priced = decide(catalog, snapshot, request, now), quote(catalog, snapshot, request, now)
            link = _link(config, open_order, client_ip, locale, now, catalog)
            if open_order.renewal_mode is not mode:
                open_order.renewal_mode = mode
                workspace.touch()
                _audit(
                    uow,
                    workspace,
                    now,
                    "checkout_renewal_mode_changed",
                    {"txn_ref": open_order.txn_ref, "renewal_mode": mode.value},
                    actor=CUSTOMER_ACTOR,
                )
                uow.commit()
            return Checkout(open_order, link, decision, priced, reused=True)

        decision = decide(catalog, workspace, request, now)
        if not decision.allowed:
            open_link = _link(config, open_order, client_ip, locale, now, catalog) if open_order is not None else None
            offer = None
            if (
                open_order is not None
                and decide(catalog, _workspace_without(workspace, open_order), request, now).allowed
            ):
                offer = _pending_offer(open_order, target)  # only when cancelling it would let this through
            return Checkout(
                None, None, decision, None, open_order=open_order, open_pay_url=open_link, pending_offer=offer
            )
        priced = quote(catalog, workspace, request, now)
        if decision.effective is not Effective.IMMEDIATE or priced.total_vnd <= 0 or target.cycle is None:
            return Checkout(None, None, decision, priced)

        order = Order(
            txn_ref=vnpay.new_txn_ref(now),
            kind=OrderKind.UPGRADE,
            product=target.product,
            tier=target.tier,
            cycle=target.cycle,
            seats=target.seats,
            addons=dict(target.addons),
            amount_vnd=priced.total_vnd,
            status=OrderStatus.PENDING,
            created_at=now,
            expires_at=now + _expiry(catalog),
            renewal_mode=mode,
        )
        link = _link(config, order, client_ip, locale, now, catalog)
        workspace.orders.append(order)
        workspace.touch()
        _audit(
            uow,
            workspace,
            now,
            "checkout_started",
            {
                "txn_ref": order.txn_ref,
                "amount_vnd": order.amount_vnd,
                "target": target.to_dict(),
                "renewal_mode": mode.value,
            },
            actor=CUSTOMER_ACTOR,
        )
        uow.commit()
        return Checkout(order, link, decision, priced)


def _link(
    config: vnpay.VnpayConfig, order: Order, client_ip: str, locale: str, now: datetime, catalog: Any = None
) -> str:
    """The order's VNPAY link, described with the catalog's (folded) Vietnamese names."""
    catalog = catalog_or_default(catalog)
    info = vnpay.order_info_for(order, catalog.product_name(order.product, "vi"), catalog.tier_name(order.tier, "vi"))
    return vnpay.build_payment_url(config, order, client_ip, locale, now, order_info=info)


def pay_url_for(
    config: vnpay.VnpayConfig,
    order: Order,
    client_ip: str = "127.0.0.1",
    locale: str = "vn",
    now: Optional[datetime] = None,
) -> Optional[str]:
    """The link of a still-open order (None once it is final or its window has closed)."""
    now = utc_or_now(now)
    if order.status is not OrderStatus.PENDING or as_utc(order.expires_at) <= now:
        return None
    return _link(config, order, client_ip, locale, now)


# --- auto renewal ---------------------------------------------------------------------------

RENEWAL_DAYS_BEFORE = 7  # the reminder and its order come this many days before the period ends
RENEWAL_LINK_TTL = timedelta(hours=24)  # a renewal link must survive until the customer reads the reminder


def renewal_amount(catalog: Any, workspace: Workspace, subscription: Any) -> Dict[str, Any]:
    """Price of the next period of ``subscription`` (the domain prices it: billing_core.domain.pricing)."""
    return pricing.renewal_amount(catalog, workspace, subscription)


def create_renewal_orders(
    uow: UnitOfWork,
    config: Optional[vnpay.VnpayConfig] = None,
    now: Optional[datetime] = None,
    days_before: int = RENEWAL_DAYS_BEFORE,
    client_ip: str = "127.0.0.1",
    catalog: Optional[Catalog] = None,
) -> List[Order]:
    """Auto renewal: for every auto-renewing paid subscription whose period ends within
    ``days_before`` days, open a renewal order (link valid 24 h) and record a reminder.

    Idempotent: a product with an open order gets none; the job may run as often as wanted.
    A subscription with a scheduled change ("next renewal plan") gets a reminder without an order:
    the change is applied at the renewal by the renewal job, and the customer pays it from the chat.
    """
    now = utc_or_now(now)
    config = config or vnpay.VnpayConfig.from_env()
    catalog = catalog_or_default(catalog)
    with uow:
        workspace_ids = list(uow.workspaces.list_ids())
    created: List[Order] = []
    for workspace_id in workspace_ids:
        created += _retry_on_conflict(
            functools.partial(_renewals_for, uow, catalog, config, workspace_id, now, days_before, client_ip)
        )
    return created


def _renewals_for(
    uow: UnitOfWork,
    catalog: Catalog,
    config: vnpay.VnpayConfig,
    workspace_id: str,
    now: datetime,
    days_before: int,
    client_ip: str,
) -> List[Order]:
    created: List[Order] = []
    horizon = now + timedelta(days=days_before)
    with uow:
        workspace = uow.workspaces.get(workspace_id, for_update=True)
        if workspace is None:
            return []
        for sub in workspace.subscriptions:
            if (
                sub.renewal_mode is not RenewalMode.AUTO
                or sub.status is not Status.ACTIVE
                or sub.cycle is None
                or sub.period_end is None
            ):
                continue
            period_end = as_utc(sub.period_end)
            if not now < period_end <= horizon or workspace.pending_order(sub.product, now) is not None:
                continue
            if any(
                o.kind is OrderKind.RENEWAL
                and o.product == sub.product
                and o.status is OrderStatus.PAID
                and as_utc(sub.period_start) <= as_utc(o.created_at) <= period_end
                for o in workspace.orders
            ):
                continue  # this period's renewal is already paid (services.renew_due looks the same way)
            detail = {
                "product": sub.product,
                "tier": sub.tier,
                "cycle": sub.cycle.value,
                "seats": sub.seats,
                "period_end": period_end.isoformat(),
            }
            if workspace.scheduled_change(sub.product) is not None:
                if not any(
                    e.action == "renewal_reminder"
                    and e.detail.get("period_end") == detail["period_end"]
                    and e.detail.get("product") == sub.product
                    for e in uow.workspaces.audit_entries(workspace.id)
                ):
                    _audit(
                        uow,
                        workspace,
                        now,
                        "renewal_reminder",
                        {**detail, "scheduled_change": True},
                        actor=SYSTEM_ACTOR,
                    )
                    workspace.touch()
                continue
            price = renewal_amount(catalog, workspace, sub)
            if price["amount_vnd"] <= 0:
                continue
            order = Order(
                txn_ref=vnpay.new_txn_ref(now),
                kind=OrderKind.RENEWAL,
                product=sub.product,
                tier=sub.tier,
                cycle=sub.cycle,
                seats=sub.seats,
                addons=price["addons"],
                amount_vnd=price["amount_vnd"],
                status=OrderStatus.PENDING,
                created_at=now,
                expires_at=min(now + RENEWAL_LINK_TTL, period_end),
                renewal_mode=RenewalMode.AUTO,
            )
            link = _link(config, order, client_ip, "vn", now, catalog)
            workspace.orders.append(order)
            _audit(
                uow,
                workspace,
                now,
                "renewal_reminder",
                {
                    **detail,
                    "txn_ref": order.txn_ref,
                    "amount_vnd": order.amount_vnd,
                    "pay_url": link,
                    "expires_at": order.expires_at.isoformat(),
                },
                actor=SYSTEM_ACTOR,
            )
            created.append(order)
        if created:
            workspace.touch()
        uow.commit()
    return created


def _apply_renewal(workspace: Workspace, order: Order, now: datetime) -> Dict[str, Any]:
    """A paid renewal changes nothing now: at the period end ``services.renew_due`` rolls the plan
    into its next period and finds this paid order (``renewal_paid``). Only the renewal mode the
    customer chose is kept."""
    sub = workspace.subscription(order.product)
    if sub is None:
        raise errors.ChangeNotAllowedError({"product": order.product, "reason": "no subscription to renew"})
    sub.renewal_mode = order.renewal_mode
    workspace.touch()
    return {"renews_at": as_utc(sub.period_end).isoformat() if sub.period_end else None}


# --- reconciliation -------------------------------------------------------------------------

RECONCILE_GRACE = timedelta(minutes=5)  # VNPAY's own IPN usually lands within seconds of the window


def reconcile_pending(
    uow: UnitOfWork,
    config: Optional[vnpay.VnpayConfig] = None,
    now: Optional[datetime] = None,
    session: Any = None,
    grace: timedelta = RECONCILE_GRACE,
) -> List[Dict[str, Any]]:
    """Close the orders whose pay window ended more than ``grace`` ago without an IPN.

    Each is asked about with querydr (outside any transaction: no lock is held during the call),
    then closed under the row lock if still pending: paid -> applied like an IPN; failed ->
    failed; never started or abandoned -> expired. When VNPAY cannot be asked or answers
    something unusable, the order stays pending and the next run tries again.
    """
    now = utc_or_now(now)
    config = config or vnpay.VnpayConfig.from_env()
    due: List[Order] = []
    with uow:
        for workspace_id in uow.workspaces.list_ids():
            workspace = uow.workspaces.get(workspace_id)
            for order in workspace.orders if workspace is not None else ():
                if order.status is OrderStatus.PENDING and as_utc(order.expires_at) + grace <= now:
                    due.append(_plain_copy(order, addons=dict(order.addons)))
    report: List[Dict[str, Any]] = []
    for order in due:
        entry: Dict[str, Any] = {"txn_ref": order.txn_ref}
        try:
            answer = vnpay.querydr(config, order, now, session=session)
        except vnpay.VnpayError as problem:
            log.warning("reconcile %s: %s", order.txn_ref, problem)
            report.append({**entry, "outcome": "unchanged", "problem": str(problem)})
            continue
        try:
            entry["outcome"] = _retry_on_conflict(functools.partial(_close, uow, order.txn_ref, answer, now))
        except Exception as problem:
            log.exception("reconcile %s failed", order.txn_ref)
            entry.update(outcome="unchanged", problem=str(problem))
        report.append(entry)
    return report


def _close(uow: UnitOfWork, txn_ref: str, answer: vnpay.QueryResult, now: datetime) -> str:
    with uow:
        workspace = uow.workspaces.get_by_txn_ref(txn_ref, for_update=True)
        order = _order_of(workspace, txn_ref) if workspace is not None else None
        if workspace is None or order is None or order.status is not OrderStatus.PENDING:
            return "already_final"
        detail = {
            "txn_ref": txn_ref,
            "query_code": answer.response_code,
            "transaction_status": answer.transaction_status,
            "transaction_no": answer.transaction_no,
            "source": "querydr",
        }
        if answer.paid:
            if answer.amount_vnd != order.amount_vnd:
                _audit(
                    uow,
                    workspace,
                    now,
                    "reconcile_amount_mismatch",
                    {**detail, "amount_vnd": answer.amount_vnd, "order_amount_vnd": order.amount_vnd},
                )
                workspace.touch()
                uow.commit()
                return "amount_mismatch"
            _mark_paid(uow, workspace, order, answer.transaction_no, answer.pay_date or now, now, detail)
            outcome = "paid"
        elif answer.not_found or (answer.found and answer.transaction_status == "01"):
            order.status = OrderStatus.EXPIRED
            order.response_code = order.response_code or None
            workspace.touch()
            _audit(uow, workspace, now, "order_expired", detail)
            outcome = "expired"
        elif answer.found:
            order.status = OrderStatus.FAILED
            order.response_code = "99"
            order.transaction_no = answer.transaction_no or None
            workspace.touch()
            _audit(uow, workspace, now, "payment_failed", {**detail, "recorded_code": "99"})
            outcome = "failed"
        else:
            return "unchanged"  # 02/03/94/97/99 from the API: ask again next run
        uow.commit()
        return outcome


# --- the periodic payment jobs ------------------------------------------------------------------


def payment_job_counts(reconciled: List[Dict[str, Any]], renewals: List[Order]) -> Dict[str, int]:
    return {
        "orders_closed": sum(1 for r in reconciled if r["outcome"] not in ("unchanged", "already_final")),
        "orders_unresolved": sum(1 for r in reconciled if r["outcome"] == "unchanged"),
        "renewal_orders": len(renewals),
    }


def run_payment_jobs(
    uow: UnitOfWork, config: Optional[vnpay.VnpayConfig] = None, now: Optional[datetime] = None, session: Any = None
) -> Dict[str, int]:
    """Only the payment jobs: reconcile orders left pending, then open the due auto-renewal orders.
    ``billing_core.service_layer.jobs.run_jobs`` runs them together with the plan jobs."""
    now = utc_or_now(now)
    config = config or vnpay.VnpayConfig.from_env()
    reconciled = reconcile_pending(uow, config, now, session=session)
    return payment_job_counts(reconciled, create_renewal_orders(uow, config, now))


# --- queries --------------------------------------------------------------------------------


def latest_orders(uow: UnitOfWork, workspace_id: str, limit: int = 5) -> List[Order]:
    """The workspace's most recent orders, newest first (empty when the workspace is unknown)."""
    with uow:
        try:
            workspace = load(uow, workspace_id)
        except errors.WorkspaceNotFoundError:
            return []
        orders = sorted(workspace.orders, key=lambda o: (as_utc(o.created_at), o.id or 0), reverse=True)
        return orders[: max(0, int(limit))]


@dataclass(frozen=True)
class OrderLookup:
    workspace_id: str
    order: Order
    in_force: bool = False  # a paid upgrade whose plan is what the workspace has now
    renews_at: Optional[datetime] = None  # a renewal order: when the plan rolls into the paid period


def find_order(uow: UnitOfWork, txn_ref: str) -> Optional[OrderLookup]:
    """The order with this TxnRef, its workspace id and whether what it bought is in force; read only."""
    if not txn_ref:
        return None
    with uow:
        workspace = uow.workspaces.get_by_txn_ref(txn_ref)
        order = _order_of(workspace, txn_ref) if workspace is not None else None
        if workspace is None or order is None:
            return None
        sub = workspace.subscription(order.product)
        in_force = bool(
            order.status is OrderStatus.PAID
            and order.kind is OrderKind.UPGRADE
            and sub is not None
            and (sub.tier, sub.cycle, sub.seats) == (order.tier, order.cycle, order.seats)
        )
        renews_at = sub.period_end if (order.kind is OrderKind.RENEWAL and sub is not None) else None
        return OrderLookup(workspace.id, order, in_force, renews_at)
