"""checkout_form: from "Upgrade App Builder to Standard yearly for 10 users with 50 GB" to a
VNPAY pay link, without leaving the chat.

Steps: collect what is missing (product, tier, cycle, seats; extended capacity when named) ->
billing_core checks and quotes the change (a blocked change is explained with its fix and the
form stops: no link) -> the itemised quote -> manual or auto renewal -> confirmation ->
bc.start_checkout returns the order and its signed link (the same link again while the
same change is pending). Only a verified customer can check out.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT

import billing_core as bc
from actions import billing, texts
from actions.billing import Unavailable
from actions.context import Asker, identity_of, language_of, latest_text
from actions.forms import (
    CORE_SLOTS,
    FORM_STATE_SLOTS,
    KEEP,
    PlanFormValidation,
    asks_for_more,
    is_keep,
    request_from_slots,
    reset_form_slots,
    says_upgrade,
)
from actions.labels import as_datetime, datetime_text
from actions.personal import named_products
from actions.texts import say

logger = logging.getLogger(__name__)

STOPPED = ("needs_login", "agent", "blocked", "error", "not_an_upgrade", "stopped")
# Blocking reasons that may change with the answers still to come: the early check before those
# questions does not stop the checkout for them (the full check after the last answer does).
DEPENDS_ON = {
    "seats": {"MIN_SEATS", "NO_CHANGE"},
    "cycle": {"YEARLY_TO_MONTHLY_ON_UPGRADE", "ADDON_CYCLE_LONGER_THAN_BASE", "NO_CHANGE"},
}
ALWAYS_LATER = {"CAPACITY_LIMIT_EXCEEDED"}


def capacity_kinds(product: str, lang: str) -> str:
    """The names of the extended capacity kinds that ``product``'s tier governs."""
    return ", ".join(kind.name.get(lang) for kind in billing.catalog().capacity.values() if kind.product == product)


def quote_key(state: Dict[str, Any]) -> str:
    """What the quote was made for: a changed answer means a new quote and a new confirmation."""
    return json.dumps({k: state.get(k) for k in CORE_SLOTS + ("addons",)}, sort_keys=True, default=str)


class ValidateCheckoutForm(PlanFormValidation):
    paid_tiers_only = True

    def name(self) -> Text:
        return "validate_checkout_form"

    def gate(self, dispatcher: CollectingDispatcher, asker: Asker) -> Optional[str]:
        if asker.identity is None:
            say(dispatcher, asker.lang, "utter_checkout_login")
            return "needs_login"
        if not asker.is_customer:
            say(dispatcher, asker.lang, "utter_checkout_agent")
            return "agent"
        return None

    def after_validation(self, dispatcher, tracker, lang, asker, state, updates) -> Tuple[Dict[str, Any], bool]:
        extra: Dict[str, Any] = {}
        if tracker.get_slot(REQUESTED_SLOT) is None and not tracker.get_slot("checkout_status"):
            # The first turn of the checkout: an order waiting for payment is explained first.
            try:
                self.explain_pending_order(dispatcher, lang, asker.workspace_id)
            except Unavailable:
                return {"checkout_status": "error"}, True
            extra["checkout_status"] = "started"
        try:
            extra.update(self.complete_from_workspace(dispatcher, tracker, lang, asker, state, updates))
        except Unavailable:
            return {"checkout_status": "error"}, True
        state.update(extra)
        changed = {"product", "tier"} & (set(updates) | set(extra))
        if (
            changed
            and state.get("product")
            and state.get("tier") not in (None, KEEP)
            and any(state.get(slot) is None for slot in CORE_SLOTS)
        ):
            # Product and plan just given: say now if the change is blocked (or is no purchase),
            # before asking for the cycle or the number of users.
            status = self.early_check(dispatcher, lang, asker, state)
            if status:
                extra["checkout_status"] = status
                return extra, True
        if any(state.get(slot) is None for slot in CORE_SLOTS) or state.get("tier") == KEEP:
            return extra, False
        key = quote_key(state)
        if key == tracker.get_slot("checkout_quote_key"):
            return extra, False

        try:
            decision, quote = billing.call(
                dispatcher, lang, bc.quote_change, billing.unit_of_work(), asker.workspace_id, request_from_slots(state)
            )
        except Unavailable:
            return {"checkout_status": "error"}, True
        if not decision.allowed:
            if "PAYMENT_PENDING" in [r.code for r in decision.reasons]:
                # An order of this product is still open: the same change gets the same link
                # back (asking twice never makes a second order); another change is explained.
                self.offer_open_order(dispatcher, lang, asker.workspace_id, state, decision)
            else:
                billing.utter_decision(dispatcher, decision, lang)
            return {"checkout_status": "blocked"}, True
        if quote is None or getattr(quote, "timing", "immediate") != "immediate":
            # Not something paid now (a downgrade, a move to Free): explain, no link.
            billing.utter_decision(dispatcher, decision, lang)
            return {"checkout_status": "not_an_upgrade"}, True
        texts = billing.render_quote(quote, lang)
        say(dispatcher, lang, "utter_quote", lines=texts["lines"], total=texts["total"])
        if texts["notes"]:
            say(dispatcher, lang, "utter_quote_notes", notes=texts["notes"])
        kinds = capacity_kinds(state["product"], lang)
        if kinds and not state.get("addons"):
            say(dispatcher, lang, "utter_checkout_offer_capacity", kinds=kinds)
        extra.update({"checkout_quote_key": key, "checkout_status": "quoted", "checkout_total": texts["total"]})
        if state.get("checkout_confirmed") is not None:
            extra["checkout_confirmed"] = None  # a new quote needs a new "yes"
        return extra, False

    def explain_pending_order(self, dispatcher, lang: str, workspace_id: str) -> None:
        orders = billing.call(dispatcher, lang, bc.latest_orders, billing.unit_of_work(), workspace_id, limit=5)
        now = billing.utcnow()
        pending = next(
            (o for o in orders if o.status is bc.OrderStatus.PENDING and as_datetime(o.expires_at) > now),
            None,
        )
        if pending is None:
            return
        plan = f"{billing.product_name(pending.product, lang)} {billing.tier_name(pending.tier, lang)}"
        say(
            dispatcher,
            lang,
            "utter_checkout_pending_first",
            txn_ref=pending.txn_ref,
            plan=plan,
            amount=billing.format_vnd(pending.amount_vnd, lang),
            expires_at=datetime_text(pending.expires_at, lang),
        )

    def complete_from_workspace(self, dispatcher, tracker, lang, asker, state, updates) -> Dict[str, Any]:
        """ "Keep my plan" and purchases without a tier change: the product's current tier; "3 more
        users" adds to the current users; capacity alone names its product; a cycle alone ("đổi
        sang theo năm giúp mình") is the same plan on that cycle, unless the message says upgrade."""
        extra: Dict[str, Any] = {}
        text = latest_text(tracker)
        if not state.get("product") and state.get("addons"):
            extra["product"] = billing.catalog().capacity[next(iter(state["addons"]))].product
        product = extra.get("product") or state.get("product")
        more_seats = "seats" in updates and isinstance(state.get("seats"), int) and asks_for_more(text)
        only_cycle = "cycle" in updates and state.get("cycle") not in (None, KEEP) and not says_upgrade(text)
        wants_same = state.get("tier") == KEEP or (
            state.get("tier") is None
            and (is_keep(text) or more_seats or only_cycle or ("addons" in updates and bool(state.get("addons"))))
        )
        if not product or not (wants_same or more_seats):
            return extra
        current = billing.workspace_summary(dispatcher, lang, asker.workspace_id).of(product) or {}
        if wants_same:
            if only_cycle and state.get("seats") is None:
                extra["seats"] = KEEP  # a cycle change keeps the users as they are
            if current.get("tier") and current.get("tier") != "free":
                extra["tier"] = current["tier"]
            else:
                say(dispatcher, lang, "utter_invalid_paid_tier")
                extra["tier"] = None
        if more_seats and current.get("seats"):
            extra["seats"] = int(current["seats"]) + int(state["seats"])
        return extra

    def early_check(self, dispatcher, lang: str, asker, state: Dict[str, Any]) -> Optional[str]:
        try:
            decision = billing.call(
                dispatcher, lang, bc.check_change, billing.unit_of_work(), asker.workspace_id, request_from_slots(state)
            )
        except Unavailable:
            return "error"
        codes = set(decision.codes)
        later = set(ALWAYS_LATER)
        for slot, reasons in DEPENDS_ON.items():
            if state.get(slot) is None:
                later |= reasons
        if not decision.allowed and not codes & later:
            if "PAYMENT_PENDING" in codes:
                self.offer_open_order(dispatcher, lang, asker.workspace_id, state, decision)
            else:
                billing.utter_decision(dispatcher, decision, lang)
            return "blocked"
        if decision.allowed and decision.outcome is not bc.Outcome.IMMEDIATE:
            billing.utter_decision(dispatcher, decision, lang)
            say(
                dispatcher,
                lang,
                "utter_offer_downgrade",
                buttons=[
                    {
                        "title": (texts.render("utter_button_downgrade_now", lang) or {}).get("text") or "",
                        "payload": f'/request_downgrade{{"product":"{state["product"]}","tier":"{state["tier"]}"}}',
                    }
                ],
            )
            return "not_an_upgrade"
        return None

    def offer_open_order(self, dispatcher, lang: str, workspace_id: str, state: Dict[str, Any], decision) -> None:
        try:
            open_mode = next(
                (
                    o.renewal_mode
                    for o in billing.call(dispatcher, lang, bc.latest_orders, billing.unit_of_work(), workspace_id)
                    if o.product == state["product"] and o.status is bc.OrderStatus.PENDING
                ),
                "manual",
            )
            # Keeps the open order's renewal mode: looking it up must not change it.
            checkout = start_checkout(dispatcher, lang, workspace_id, state, open_mode)
        except Unavailable:
            billing.utter_decision(dispatcher, decision, lang)
            return
        if checkout.reused and checkout.order is not None:
            say(dispatcher, lang, "utter_checkout_reused")
            utter_pay_link(dispatcher, lang, checkout.order, checkout.pay_url)
            return
        billing.utter_decision(dispatcher, checkout.decision or decision, lang)
        if checkout.open_order is not None and checkout.open_pay_url:
            utter_pay_link(dispatcher, lang, checkout.open_order, checkout.open_pay_url)
        if checkout.pending_offer and checkout.open_order is not None:
            # What the open order buys, against what was asked: cancel it and order this instead.
            offer = checkout.pending_offer
            title = (texts.render("utter_button_cancel_pending_order", lang) or {}).get("text") or ""
            say(
                dispatcher,
                lang,
                "utter_pending_order_offer",
                offer=billing.render(offer["code"], dict(offer["params"]), lang),
                buttons=[
                    {"title": title, "payload": f'/cancel_pending_order{{"product":"{checkout.open_order.product}"}}'}
                ],
            )


def utter_pay_link(dispatcher: CollectingDispatcher, lang: str, order, pay_url: str) -> None:
    """The order and its VNPAY link as a button (the widget opens it in a new tab)."""
    # Minutes left, not the link's full life: a link handed back again has less time.
    minutes = max(1, math.ceil((as_datetime(order.expires_at) - billing.utcnow()).total_seconds() / 60))
    title = "Pay with VNPAY" if lang == "en" else "Thanh toán qua VNPAY"
    say(
        dispatcher,
        lang,
        "utter_checkout_link",
        txn_ref=order.txn_ref,
        total=billing.format_vnd(order.amount_vnd, lang),
        minutes=minutes,
        pay_url=pay_url,
        buttons=[{"title": title, "payload": pay_url, "url": pay_url, "type": "web_url"}],
    )


def start_checkout(
    dispatcher, lang: str, workspace_id: str, state: Dict[str, Any], renewal_mode, client_ip="127.0.0.1"
):
    try:
        config = bc.vnpay.VnpayConfig.from_env()
    except Exception:
        logger.exception("VNPAY is not configured")
        say(dispatcher, lang, "utter_personal_unavailable")
        raise Unavailable() from None
    return billing.call(
        dispatcher,
        lang,
        bc.start_checkout,
        billing.unit_of_work(),
        workspace_id,
        request_from_slots(state),
        renewal_mode or "manual",
        config,
        client_ip=client_ip,
        locale="en" if lang == "en" else "vn",
    )


class ActionCheckoutSubmit(Action):
    """After the form: the VNPAY link on "yes", nothing written on "no" or when stopped."""

    def name(self) -> Text:
        return "action_checkout_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        state = {slot: tracker.get_slot(slot) for slot in FORM_STATE_SLOTS}
        if state.get("checkout_status") in STOPPED:
            return reset_form_slots()  # the form has already explained why
        if state.get("checkout_confirmed") is not True or any(state.get(s) is None for s in CORE_SLOTS):
            say(dispatcher, lang, "utter_checkout_cancelled")
            return reset_form_slots()
        identity = identity_of(tracker)  # verified again: the token may have expired while chatting
        if identity is None or not identity.is_customer:
            say(dispatcher, lang, "utter_checkout_login")
            return reset_form_slots()
        try:
            checkout = start_checkout(
                dispatcher, lang, identity.workspace_id, state, state.get("renewal_mode"), client_ip=client_ip(tracker)
            )
        except Unavailable:
            return reset_form_slots()
        if checkout.order is None:
            if (
                checkout.decision is not None
                and checkout.decision.allowed
                and checkout.quote is not None
                and checkout.quote.total_vnd == 0
            ):
                self.apply_free_change(dispatcher, lang, identity, state)
                return reset_form_slots()
            billing.utter_decision(dispatcher, checkout.decision, lang)
            if checkout.open_order is not None and checkout.open_pay_url:
                utter_pay_link(dispatcher, lang, checkout.open_order, checkout.open_pay_url)
            return reset_form_slots()
        if checkout.reused:
            say(dispatcher, lang, "utter_checkout_reused")
        utter_pay_link(dispatcher, lang, checkout.order, checkout.pay_url)
        return reset_form_slots()

    def apply_free_change(self, dispatcher, lang: str, identity, state: Dict[str, Any]) -> None:
        """Nothing to pay (the credit covers it): apply at once, as billing_core advises."""

        try:
            billing.call(
                dispatcher,
                lang,
                bc.apply_upgrade,
                billing.unit_of_work(),
                identity.workspace_id,
                request_from_slots(state),
                actor=f"customer:{identity.sub}",
            )
        except Unavailable:
            return
        say(dispatcher, lang, "utter_checkout_applied_free")


def client_ip(tracker: Tracker) -> str:
    """The customer's IP if the channel passed it in the metadata (VNPAY wants one), else loopback."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    value = metadata.get("client_ip") if isinstance(metadata, dict) else None
    if isinstance(value, str) and 0 < len(value) <= 45 and all(c in "0123456789abcdefABCDEF.:" for c in value):
        return value
    return "127.0.0.1"


class ActionCancelPendingOrder(Action):
    """Cancels the customer's order waiting for payment (issue 10 N), then offers to order what they
    asked for instead. Nothing was paid on it: its link stops working at once, and a payment made on
    it anyway is answered per VNPAY's contract and flagged for a refund by staff (billing_core)."""

    def name(self) -> Text:
        return "action_cancel_pending_order"

    async def run(self, dispatcher, tracker, domain):
        lang = language_of(tracker)
        asker = identity_of(tracker)
        if asker is None:
            say(dispatcher, lang, "utter_checkout_login")
            return []
        if not asker.is_customer:
            say(dispatcher, lang, "utter_checkout_agent")
            return []
        wanted = set(named_products(tracker))
        try:
            orders = billing.call(dispatcher, lang, bc.latest_orders, billing.unit_of_work(), asker.workspace_id)
            now = billing.utcnow()
            pending = next(
                (
                    o
                    for o in orders
                    if o.status == bc.OrderStatus.PENDING
                    and as_datetime(o.expires_at) > now
                    and (not wanted or o.product in wanted)
                ),
                None,
            )
            if pending is None:
                say(dispatcher, lang, "utter_no_pending_order")
                return []
            billing.call(
                dispatcher, lang, bc.cancel_pending_order, billing.unit_of_work(), asker.workspace_id, pending.txn_ref
            )
        except Unavailable:
            return []
        buttons = []
        state = {slot: tracker.get_slot(slot) for slot in ("product", "tier", "cycle", "seats")}
        if state["product"] == pending.product and state["tier"] and state["tier"] != KEEP:
            entities = {k: v for k, v in state.items() if v is not None}
            title = (texts.render("utter_button_order_requested", lang) or {}).get("text") or ""
            buttons.append({"title": title, "payload": "/buy_upgrade" + json.dumps(entities, ensure_ascii=False)})
        say(
            dispatcher,
            lang,
            "utter_pending_order_cancelled",
            txn_ref=pending.txn_ref,
            plan=f"{billing.product_name(pending.product, lang)} {billing.tier_name(pending.tier, lang)}",
            buttons=buttons,
        )
        return []
