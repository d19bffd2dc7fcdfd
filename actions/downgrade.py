"""downgrade_form: a downgrade (or a move to Free) scheduled in the chat, as the help article's steps.

The article's steps, one question each: the lower plan -> the survey (reasons as buttons, or the
customer's own words) -> what will change (features locked, extended capacity above the new limit
removed within 7 days oldest first, feature data deleted by its date: billing_core's decision) ->
the explicit confirmation "Tôi xác nhận hạ gói và không thể truy cập các tính năng nâng cao sau
khi kết thúc chu kỳ thanh toán" -> the review of the new plan -> "Hạ gói". Only then does
``bc.schedule_downgrade`` write (or ``bc.apply_upgrade`` for a move to Free that applies at once,
after a trial). The result shows under "Gói gia hạn tiếp theo" and can be cancelled from the chat.

billing_core decides first: a blocked change is explained with its fixes as buttons that start
them, before any survey question. Only a verified customer can schedule; an anonymous visitor gets
the general rule and how to log in; an agent gets told they cannot change a customer's plan.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, cast

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction

import billing_core as bc
from actions import billing
from actions.billing import Unavailable
from actions.context import (
    identity_of,
    intent_confidence,
    language_of,
    latest_entities,
    latest_intent,
    latest_text,
    resolve_asker,
    values_of_the_decision_just_given,
)
from actions.forms import DOWNGRADE_STATE_SLOTS, AskFormQuestion, wants_to_stop
from actions.labels import date_text, word
from actions.parsing import canonical_product, canonical_tier, folded_text, named_value, parse_change
from actions.texts import say
from helpdesk.ratings import RATE_INTENT

FORM = "downgrade_form"
DOWNGRADE_SLOTS = ("product", "tier") + DOWNGRADE_STATE_SLOTS
STOPPED = ("needs_login", "agent", "blocked", "not_a_downgrade", "error", "stopped")
# Intents that leave the form to the rules (stop, goodbye, a person) when the NLU is sure of them;
# the questions among them only when the text really is a question (a survey answer never is).
LEAVING_INTENTS = {"deny", "goodbye", "request_human"}
QUESTION_INTENTS = {"ask_data_retention", "ask_next_renewal", "ask_downgrade_howto"}
SURE_INTENT = 0.8
MAX_REASON_LENGTH = 500
# Folded words that confirm the checkbox step ("Tôi xác nhận hạ gói ...") and the final button.
_ACK_PHRASES = ("xac nhan", "dong y", "confirm", "i agree", "agree")
_STOP_PHRASES = (
    "thoi",
    "dung lai",
    "khong ha",
    "khong can",
    "huy",
    "stop",
    "cancel",
    "never mind",
    "keep my plan",
    "giu goi",
)
_DOWNGRADE_PHRASES = ("ha goi", "downgrade", "chuyen xuong", "dong y", "xac nhan", "ok", "yes", "co")


def reset_downgrade_slots() -> List[Dict[str, Any]]:
    return [SlotSet(slot, None) for slot in DOWNGRADE_SLOTS]


def _says_any(text: str, phrases) -> bool:
    padded = folded_text(text)
    return any(f" {phrase} " in padded for phrase in phrases)


def named_product(tracker: Tracker) -> Optional[str]:
    parsed = parse_change(latest_text(tracker)).product
    return named_value(latest_entities(tracker, "product"), canonical_product, parsed)


def named_tier(tracker: Tracker) -> Optional[str]:
    """The target tier: "hạ từ Standard xuống Starter" is Starter, not the first tier named."""
    parsed = parse_change(latest_text(tracker)).tier
    return named_value(latest_entities(tracker, "tier"), canonical_tier, parsed)


def lower_tiers(product: str, current_tier: Optional[str]) -> List[str]:
    """The tiers below ``current_tier`` that ``product`` offers (Free only where the catalog has it)."""
    catalog = billing.catalog()
    offered = catalog.products[product].tiers
    rank = catalog.tiers[current_tier].rank if current_tier in catalog.tiers else None
    tiers = [
        key for key in catalog.tiers if key in offered or (key == "free" and catalog.products[product].role == "base")
    ]
    return [key for key in tiers if rank is None or catalog.tiers[key].rank < rank]


def decision_for(dispatcher, lang: str, workspace_id: str, product: str, tier: str):
    return billing.call(
        dispatcher, lang, bc.check_change, billing.unit_of_work(), workspace_id, billing.change_request(product, tier)
    )


def is_immediate(decision) -> bool:
    return decision.outcome is bc.Outcome.IMMEDIATE


def change_lines(decision, lang: str) -> List[str]:
    """What will change, from billing_core's decision: the timing, the locked features and the
    deletions with their dates (the summary line is said separately)."""
    rendered = billing.render_decision(decision, lang)
    return rendered["reasons"]


class ValidateDowngradeForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_downgrade_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        return list(domain_slots)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        asker = resolve_asker(tracker, dispatcher)
        if asker.identity is None:
            say(dispatcher, lang, "utter_downgrade_login")
            return self.stop(asker.events, "needs_login")
        if not asker.is_customer:
            say(dispatcher, lang, "utter_agent_no_changes")
            return self.stop(asker.events, "agent")
        workspace_id = cast(str, asker.workspace_id)  # a customer's asker has the token's workspace (resolve_asker)

        requested = tracker.get_slot(REQUESTED_SLOT)
        text, intent = latest_text(tracker), latest_intent(tracker)
        if requested and requested != "downgrade_reason" and wants_to_stop(text):
            say(dispatcher, lang, "utter_form_stopped")  # nothing is written
            return self.stop(asker.events, "stopped")
        sure = intent_confidence(tracker) >= SURE_INTENT
        if requested and sure and self.leaves(requested, intent, text):
            return []  # nothing set: Rasa hands the turn to the rules (stop, a person, a question)

        state = {slot: tracker.get_slot(slot) for slot in DOWNGRADE_SLOTS}
        updates: Dict[str, Any] = {}
        if requested in (None, "product", "tier"):
            product, tier = named_product(tracker), named_tier(tracker)
            if product:
                updates["product"] = product
            if tier:
                updates["tier"] = tier
            if requested is None:
                # "ok hạ luôn giúp mình" right after a decision: the product and plan it was about
                context = values_of_the_decision_just_given(tracker)
                for slot in ("product", "tier"):
                    if not updates.get(slot) and context.get(slot):
                        updates[slot] = context[slot]
            if requested and not updates.get(requested):
                say(dispatcher, lang, f"utter_invalid_{requested}")
                updates[requested] = None
        elif requested == "downgrade_reason":
            reason = " ".join(text.split())[:MAX_REASON_LENGTH]
            if reason and not reason.startswith("/"):
                updates["downgrade_reason"] = reason
            else:
                say(dispatcher, lang, "utter_invalid_downgrade_reason")
                updates["downgrade_reason"] = None
        elif requested == "downgrade_ack":
            if intent == "affirm" or _says_any(text, _ACK_PHRASES):
                updates["downgrade_ack"] = True
            else:
                say(dispatcher, lang, "utter_invalid_downgrade_ack")
                updates["downgrade_ack"] = None
        elif requested == "downgrade_confirmed":
            if intent == "affirm" or _says_any(text, _DOWNGRADE_PHRASES):
                updates["downgrade_confirmed"] = True
            else:
                say(dispatcher, lang, "utter_invalid_downgrade_confirmed")
                updates["downgrade_confirmed"] = None
        state.update(updates)
        if state.get("tier") and not state.get("product"):
            product = self.only_product(dispatcher, lang, workspace_id, state["tier"])
            if product:
                updates["product"] = state["product"] = product

        if (
            state.get("product")
            and state.get("tier")
            and ("product" in updates or "tier" in updates or state.get("downgrade_status") != "checked")
        ):
            stop = self.check(dispatcher, lang, asker, state["product"], state["tier"])
            if stop:
                return self.stop(asker.events + [SlotSet(k, v) for k, v in updates.items()], stop)
            updates["downgrade_status"] = "checked"
            state["downgrade_status"] = "checked"
        elif state.get("product") and not state.get("tier") and "product" in updates:
            current = self.current_tier(dispatcher, lang, workspace_id, state["product"])
            if current and not lower_tiers(state["product"], current):
                # Nothing lower to go to (an add-on's Starter: it has no Free edition).
                say(
                    dispatcher,
                    lang,
                    "utter_downgrade_already_lowest",
                    product=billing.product_name(state["product"], lang),
                    tier=billing.tier_name(current, lang),
                )
                return self.stop(asker.events + [SlotSet(k, v) for k, v in updates.items()], "blocked")

        events = asker.events + [SlotSet(slot, value) for slot, value in updates.items()]
        required = self.domain_slots(domain)
        next_slot = next((slot for slot in required if state.get(slot) in (None, "")), None)
        return events + [SlotSet(REQUESTED_SLOT, next_slot)]

    @staticmethod
    def current_tier(dispatcher, lang: str, workspace_id: str, product: str) -> Optional[str]:
        try:
            return (billing.workspace_summary(dispatcher, lang, workspace_id).of(product) or {}).get("tier")
        except Unavailable:
            return None

    @staticmethod
    def only_product(dispatcher, lang: str, workspace_id: str, tier: str) -> Optional[str]:
        """The product a plan can only mean: Free is the base product's; otherwise the workspace's
        one product. None when the customer must choose."""
        catalog = billing.catalog()
        if tier == "free" or not catalog.tiers[tier].paid:
            return next((key for key, p in catalog.products.items() if p.role == "base"), None)
        try:
            held = [s["product"] for s in billing.workspace_summary(dispatcher, lang, workspace_id).items]
        except Unavailable:
            return None
        return held[0] if len(held) == 1 else None

    @staticmethod
    def leaves(requested: str, intent: Optional[str], text: str) -> bool:
        """Is this message a way out of the form rather than an answer? A survey answer may
        start with "không" ("không dùng nhiều"): at that step only a plain "no" or "stop" leaves."""
        if intent in ("goodbye", "request_human", RATE_INTENT):
            return True  # a rating of an earlier answer is recorded by the rules, then the form asks again
        if intent == "deny":
            return requested != "downgrade_reason" or _says_any(text, _STOP_PHRASES) or len(text.split()) <= 1
        return intent in QUESTION_INTENTS and requested != "downgrade_reason" and "?" in text

    def check(self, dispatcher, lang: str, asker, product: str, tier: str) -> Optional[str]:
        """billing_core's decision before any survey question: a status that stops the form, or None."""
        try:
            decision = decision_for(dispatcher, lang, asker.workspace_id, product, tier)
        except Unavailable:
            return "error"
        if not decision.allowed:
            billing.utter_decision(dispatcher, decision, lang)
            return "blocked"
        if decision.facts.get("direction") != "downgrade":
            # A higher plan is an upgrade: paid now, through the checkout.
            say(
                dispatcher,
                lang,
                "utter_downgrade_is_upgrade",
                product=billing.product_name(product, lang),
                tier=billing.tier_name(tier, lang),
            )
            return "not_a_downgrade"
        return None

    @staticmethod
    def stop(events: List[Dict[str, Any]], status: str) -> List[Dict[str, Any]]:
        return events + [SlotSet("downgrade_status", status), SlotSet(REQUESTED_SLOT, None)]


class AskDowngradeProduct(AskFormQuestion):
    """Which plan to lower: the workspace's own products as buttons."""

    action_name, question = "action_ask_downgrade_form_product", "utter_ask_downgrade_form_product"

    async def run(self, dispatcher, tracker, domain):
        lang = language_of(tracker)
        buttons = []
        identity = identity_of(tracker)
        if identity is not None and identity.is_customer:
            try:
                summary = billing.workspace_summary(dispatcher, lang, identity.workspace_id)
                buttons = [
                    {
                        "title": billing.product_name(s["product"], lang),
                        "payload": f'/inform{{"product":"{s["product"]}"}}',
                    }
                    for s in summary.items
                ]
            except Unavailable:
                buttons = []
        say(dispatcher, lang, "utter_ask_downgrade_form_product", buttons=buttons)
        return []


class AskDowngradeTier(AskFormQuestion):
    """Which lower plan: the tiers below the current one, as buttons."""

    action_name, question = "action_ask_downgrade_form_tier", "utter_ask_downgrade_form_tier"

    async def run(self, dispatcher, tracker, domain):
        lang = language_of(tracker)
        product = tracker.get_slot("product")
        current = None
        identity = identity_of(tracker)
        if identity is not None and identity.is_customer and product:
            try:
                current = (billing.workspace_summary(dispatcher, lang, identity.workspace_id).of(product) or {}).get(
                    "tier"
                )
            except Unavailable:
                current = None
        tiers = lower_tiers(product, current) if product in billing.catalog().products else []
        buttons = [{"title": billing.tier_name(t, lang), "payload": f'/inform{{"tier":"{t}"}}'} for t in tiers]
        say(
            dispatcher,
            lang,
            "utter_ask_downgrade_form_tier",
            product=billing.product_name(product or "", lang),
            current=billing.tier_name(current or "", lang) if current else "—",
            buttons=buttons,
        )
        return []


class AskDowngradeReason(AskFormQuestion):
    """The article's survey: reasons as buttons, or the customer's own words."""

    action_name, question = "action_ask_downgrade_reason", "utter_ask_downgrade_reason"


def decision_or_stop(dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Any:
    """billing_core's decision for the downgrade the form holds, decided again at every step (the
    workspace may have changed); or the events that stop the form: no verified customer, or
    billing_core could not answer (the customer has been told either way)."""
    identity = identity_of(tracker)
    product, tier = tracker.get_slot("product"), tracker.get_slot("tier")
    if identity is None or not product or not tier:
        say(dispatcher, lang, "utter_downgrade_login")
        return [SlotSet(REQUESTED_SLOT, None), SlotSet("downgrade_status", "needs_login")]
    try:
        return decision_for(dispatcher, lang, identity.workspace_id, product, tier)
    except Unavailable:
        return [SlotSet(REQUESTED_SLOT, None), SlotSet("downgrade_status", "error")]


class AskDowngradeAck(AskFormQuestion):
    """What will change, from billing_core's decision, then the article's explicit confirmation."""

    action_name, question = "action_ask_downgrade_ack", "utter_ask_downgrade_ack"

    async def run(self, dispatcher, tracker, domain):
        lang = language_of(tracker)
        decision = decision_or_stop(dispatcher, tracker, lang)
        if isinstance(decision, list):  # the form stops: the customer has been told why
            return decision
        product = tracker.get_slot("product")
        catalog = billing.catalog()
        kinds = [k for k in catalog.capacity.values() if k.product == product]
        say(
            dispatcher,
            lang,
            "utter_downgrade_changes",
            lines=billing.bullet_list(change_lines(decision, lang)),
            # a name given as a dict maps each language to its text
            capacity=", ".join(
                cast(str, k.name.get(lang)) if isinstance(k.name, dict) else getattr(k.name, lang) for k in kinds
            )
            or "—",
            days=catalog.capacity_retention_days,
        )
        say(dispatcher, lang, "utter_ask_downgrade_ack")
        return []


class AskDowngradeConfirmed(AskFormQuestion):
    """The review of the new plan, then the article's last button: "Hạ gói"."""

    action_name, question = "action_ask_downgrade_confirmed", "utter_ask_downgrade_confirmed"

    async def run(self, dispatcher, tracker, domain):
        lang = language_of(tracker)
        decision = decision_or_stop(dispatcher, tracker, lang)
        if isinstance(decision, list):  # the form stops: the customer has been told why
            return decision
        product, tier = tracker.get_slot("product"), tracker.get_slot("tier")
        target = decision.target
        when = (
            billing.render("SUMMARY_IMMEDIATE_FREE", {"product": product, "tier": tier}, lang)
            if is_immediate(decision)
            else date_text(decision.effective_at, lang)
        )
        say(
            dispatcher,
            lang,
            "utter_ask_downgrade_confirmed",
            product=billing.product_name(product, lang),
            tier=billing.tier_name(tier, lang),
            cycle=word(target.cycle, lang),
            seats=target.seats,
            when=when,
            reason=tracker.get_slot("downgrade_reason") or "—",
        )
        return []


class ActionDowngradeSubmit(Action):
    """After the form: schedule (or apply, for Free after a trial) only with every step done."""

    def name(self) -> Text:
        return "action_downgrade_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        state = {slot: tracker.get_slot(slot) for slot in DOWNGRADE_SLOTS}
        if state.get("downgrade_status") in STOPPED:
            return reset_downgrade_slots()  # the form has already said why it stopped
        if not (
            state.get("product")
            and state.get("tier")
            and state.get("downgrade_reason")
            and state.get("downgrade_ack") is True
            and state.get("downgrade_confirmed") is True
        ):
            say(dispatcher, lang, "utter_form_stopped")
            return reset_downgrade_slots()
        identity = identity_of(tracker)  # verified again: the token may have expired meanwhile
        if identity is None or not identity.is_customer:
            say(dispatcher, lang, "utter_downgrade_login")
            return reset_downgrade_slots()
        request = billing.change_request(state["product"], state["tier"])
        actor = f"customer:{identity.sub}"
        try:
            decision = decision_for(dispatcher, lang, identity.workspace_id, state["product"], state["tier"])
            if decision.allowed and is_immediate(decision) and not decision.target.paid:
                billing.call(
                    dispatcher,
                    lang,
                    bc.apply_upgrade,
                    billing.unit_of_work(),
                    identity.workspace_id,
                    request,
                    actor=actor,
                )
                say(
                    dispatcher,
                    lang,
                    "utter_downgrade_applied_free",
                    product=billing.product_name(state["product"], lang),
                )
                return reset_downgrade_slots()
            change = billing.call(
                dispatcher,
                lang,
                bc.schedule_downgrade,
                billing.unit_of_work(),
                identity.workspace_id,
                request,
                state["downgrade_reason"],
                True,
                actor=actor,
            )
        except Unavailable:
            return reset_downgrade_slots()
        say(
            dispatcher,
            lang,
            "utter_downgrade_scheduled",
            product=billing.product_name(change.product, lang),
            tier=billing.tier_name(change.tier, lang),
            date=date_text(change.effective_at, lang),
        )
        return reset_downgrade_slots()


__all__ = ["ValidateDowngradeForm", "ActionDowngradeSubmit"]
