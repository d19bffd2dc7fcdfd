"""What the plan forms share: reading the answers of checkout_form (actions/checkout.py), stopping
a form, and the form questions. ("Can I change X to Y?" is answered at once, never by a form:
actions/questions.py.)

The validation action reads each answer twice: the NLU entities (already mapped to slots by
Rasa) and the deterministic parser of actions.parsing (no diacritics, abbreviations, English,
"10 nguoi", "theo nam"), so a value the statistical extractor misses still counts. An answer it
cannot read gets a polite re-ask; a different question in the middle of the form is left to the
rules (the form resumes afterwards).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction

from actions import billing
from actions.context import (
    Asker,
    intent_confidence,
    language_of,
    latest_entities,
    latest_intent,
    latest_text,
    resolve_asker,
    values_of_the_decision_just_given,
)
from actions.parsing import (
    CANONICAL_BY_SLOT,
    MAX_CAPACITY,
    MAX_SEATS,
    canonical_capacity_kind,
    canonical_count,
    canonical_cycle,
    canonical_product,
    canonical_renewal_mode,
    canonical_tier,
    folded_text,
    named_value,
    parse_change,
)
from actions.texts import say
from helpdesk.ratings import RATE_INTENT

KEEP = "keep"  # "giữ nguyên": the request leaves this value as it is (ChangeRequest None)
CORE_SLOTS = ("product", "tier", "cycle", "seats")
FORM_STATE_SLOTS = CORE_SLOTS + (
    "addons",
    "renewal_mode",
    "checkout_confirmed",
    "checkout_status",
    "checkout_quote_key",
    "checkout_total",
)
DOWNGRADE_STATE_SLOTS = ("downgrade_reason", "downgrade_ack", "downgrade_confirmed", "downgrade_status")
# Intents that mean "this is my answer to your question". Another intent is only an
# interruption when the NLU is sure of it and the parser reads no answer in the text: short
# answers ("giữ nguyên", "mười hai người") are often misread as some other intent.
ANSWER_INTENTS = {"inform", "affirm", "nlu_fallback", "check_change", "buy_upgrade", None}
SURE_INTENT = 0.8
_QUESTION_WORDS = (
    "sao",
    "tai sao",
    "vi sao",
    "the nao",
    "nhu the nao",
    "lam sao",
    "la gi",
    "bao gio",
    "why",
    "how",
    "what",
    "when",
    "which",
    "can i",
    "could i",
)
_KEEP_PHRASES = (
    "giu nguyen",
    "khong doi",
    "nhu cu",
    "nhu hien tai",
    "hien tai",
    "dang dung",
    "keep",
    "same",
    "unchanged",
    "no change",
    "as is",
    "current",
    "my plan",
)
# "mua thêm 3 người", "add 2 users": a number of users ON TOP of the current ones.
_MORE_PHRASES = ("them", "more", "add", "extra", "additional", "bo sung")
_INVALID = object()


def looks_like_question(text: str) -> bool:
    """A question about something else ("why can't yearly go monthly?") is not an answer."""
    padded = folded_text(text)
    return "?" in (text or "") or any(f" {w} " in padded for w in _QUESTION_WORDS)


def is_keep(text: str) -> bool:
    padded = folded_text(text)
    return any(f" {p} " in padded for p in _KEEP_PHRASES)


# A way out of a form in so many words, whatever the NLU made of it. ("thoi" alone is also the
# folded "thời" of "thời gian": only the whole message "thôi" counts.)
_STOP_PHRASES = (
    "khong mua nua",
    "khong can nua",
    "dung lai",
    "huy bo",
    "thoi khong",
    "thoi bo",
    "thoi de sau",
    "never mind",
    "forget it",
    "khong ha nua",
    "stop the",
    "cancel the",
)
_STOP_MESSAGES = ("thoi", "thoi nhe", "thoi a", "stop", "cancel", "huy", "de sau")


# A typed "yes" to the checkout's confirmation ("confirm", "xác nhận", "đồng ý"): it counts as the
# button, whatever intent the NLU gave it; a negated one ("chưa xác nhận", "don't confirm") does not.
_CONFIRM_PHRASES = ("xac nhan", "dong y", "confirm", "confirmed", "i agree", "go ahead", "proceed", "tien hanh")
_NEGATIONS = ("khong", "ko", "chua", "not", "dont", "don t", "no")


def says_confirm(text: str) -> bool:
    padded = folded_text(text)
    if any(f" {w} " in padded for w in _NEGATIONS):
        return False
    return any(f" {p} " in padded for p in _CONFIRM_PHRASES)


def wants_to_stop(text: str) -> bool:
    padded = folded_text(text)
    return padded.strip() in _STOP_MESSAGES or any(f" {p} " in padded for p in _STOP_PHRASES)


_UPGRADE_WORDS = ("nang cap", "len goi", "upgrade", "move up")


def says_upgrade(text: str) -> bool:
    padded = folded_text(text)
    return any(f" {w} " in padded for w in _UPGRADE_WORDS)


def asks_for_more(text: str) -> bool:
    padded = folded_text(text)
    return any(f" {p} " in padded for p in _MORE_PHRASES)


def reset_form_slots() -> List[Dict[str, Any]]:
    return [SlotSet(slot, None) for slot in FORM_STATE_SLOTS]


def reset_downgrade_slots() -> List[Dict[str, Any]]:
    return [SlotSet(slot, None) for slot in DOWNGRADE_STATE_SLOTS]


def request_from_slots(state: Dict[str, Any]):
    cycle = state.get("cycle")
    seats = state.get("seats")
    return billing.change_request(
        product=state["product"],
        tier=state["tier"],
        cycle=None if cycle in (None, KEEP) else cycle,
        seats=None if seats in (None, KEEP) else int(seats),
        addons=dict(state.get("addons") or {}),
    )


class PlanFormValidation(FormValidationAction):
    """Shared extraction + validation for both plan forms; subclasses add their own gates."""

    paid_tiers_only = False

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        return list(domain_slots)

    # --- hooks -----------------------------------------------------------------------------
    @abstractmethod
    def gate(self, dispatcher: CollectingDispatcher, asker: Asker) -> Optional[str]:
        """A status that ends the form before anything is asked (e.g. not logged in), or None."""

    def after_validation(
        self, dispatcher, tracker, lang: str, asker: Asker, state: Dict[str, Any], updates: Dict[str, Any]
    ) -> Tuple[Dict[str, Any], bool]:
        """Extra slot updates once the answers are in, and whether the form must stop now."""
        return {}, False

    # --- the loop step ---------------------------------------------------------------------
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        asker = resolve_asker(tracker, dispatcher)
        stop_status = self.gate(dispatcher, asker)
        if stop_status:
            return asker.events + [SlotSet("checkout_status", stop_status), SlotSet(REQUESTED_SLOT, None)]

        required = self.domain_slots(domain)
        requested = tracker.get_slot(REQUESTED_SLOT)
        intent = latest_intent(tracker)
        text = latest_text(tracker)
        if requested and intent == RATE_INTENT:
            # a rating of an earlier answer ("Có" under it) is no answer here, whatever its text:
            # nothing set, so Rasa hands it to the rules (recorded, then the form asks again)
            return asker.events
        if requested and wants_to_stop(text):
            # "thôi không mua nữa": stopped whatever the NLU made of it (nothing is written).
            say(dispatcher, asker.lang, "utter_form_stopped")
            return asker.events + [SlotSet("checkout_status", "stopped"), SlotSet(REQUESTED_SLOT, None)]
        # Read the text for answers unless it is a question about something else.
        answering = not requested or intent in ANSWER_INTENTS or not looks_like_question(text)
        sure_of_other_intent = intent not in ANSWER_INTENTS and intent_confidence(tracker) >= SURE_INTENT
        updates: Dict[str, Any] = {}

        for slot, raw in self.candidates(tracker, requested, answering, required).items():
            value = self.validate_value(slot, raw, dispatcher, lang)
            if value is _INVALID:
                updates[slot] = None  # a value we could not use is cleared and asked again
            else:
                updates[slot] = value

        if answering:
            addons = self.addons_in_message(tracker)
            if addons:
                merged = dict(tracker.get_slot("addons") or {})
                merged.update(addons)
                updates["addons"] = merged

        if requested and answering and not updates and not sure_of_other_intent:
            # They tried to answer but we read nothing usable: say so, then the form asks again
            # (setting the requested slot, even to None, keeps Rasa from treating it as a new topic).
            # Otherwise no slot is set, Rasa rejects the form and the rules answer the new topic.
            self.utter_invalid(requested, dispatcher, lang)
            updates[requested] = None

        state = {slot: tracker.get_slot(slot) for slot in FORM_STATE_SLOTS}
        state.update(updates)
        extra, stop = self.after_validation(dispatcher, tracker, lang, asker, state, updates)
        updates.update(extra)
        state.update(extra)

        events = asker.events + [SlotSet(slot, value) for slot, value in updates.items()]
        next_slot = None if stop else next((s for s in required if state.get(s) is None), None)
        return events + [SlotSet(REQUESTED_SLOT, next_slot)]

    # --- reading answers -------------------------------------------------------------------
    def candidates(self, tracker: Tracker, requested: Optional[str], answering: bool, required) -> Dict[str, Any]:
        """Raw values to validate: what Rasa filled (answers kept from an earlier form, the yes/no
        of the confirmation), then this message's entities, then the parser's reading.

        The plan slots have custom mappings only, so an entity in a question ("why can't yearly
        go monthly?") never overwrites an answer: this method alone decides what counts."""
        found = {
            slot: value for slot, value in tracker.slots_to_validate().items() if slot in required and value is not None
        }
        if not answering:
            return found
        text = latest_text(tracker)
        for slot in ("product", "tier", "cycle", "seats", "renewal_mode"):
            values = [v for v in latest_entities(tracker, slot) if v not in (None, "")]
            if slot in required and values:
                found[slot] = values[0]
                canonical = CANONICAL_BY_SLOT.get(slot)
                if canonical and len({canonical(v) for v in values} - {None}) > 1:
                    # "từ Standard lên Premium": the target, or nothing when the text cannot tell
                    target = named_value(values, canonical, getattr(parse_change(text, requested), slot))
                    if target is None:
                        del found[slot]
                    else:
                        found[slot] = target
        if "seats" in found and re.search(r"-\s*\d", text):
            found["seats"] = "negative"  # "-3 người" is no number of users: refused with an explanation
        parsed = parse_change(text, requested)
        for slot in ("product", "tier", "cycle", "seats", "renewal_mode"):
            if slot not in required:
                continue
            value = getattr(parsed, slot)
            if value is not None and (
                slot not in found or self.validate_value(slot, found[slot], None, "vi") is _INVALID
            ):
                found[slot] = value
        if requested in ("cycle", "seats", "tier") and requested not in found and is_keep(text):
            found[requested] = KEEP
        if requested is None:
            # The form starts right after an answer: what it was about, where this message names none.
            context = values_of_the_decision_just_given(tracker)
            for slot in ("product", "tier", "cycle"):
                if slot in required and slot not in found and context.get(slot):
                    found[slot] = context[slot]
        if requested == "checkout_confirmed" and found.get(requested) is None and says_confirm(text):
            found[requested] = True
        return found

    def addons_in_message(self, tracker: Tracker) -> Dict[str, int]:
        addons = dict(parse_change(latest_text(tracker)).capacity)
        kinds = [canonical_capacity_kind(v) for v in latest_entities(tracker, "capacity_kind")]
        amounts = [canonical_count(v, MAX_CAPACITY) for v in latest_entities(tracker, "capacity_amount")]
        for kind, amount in zip(kinds, amounts):  # noqa: B905  (an amount without its kind is dropped)
            if kind and amount and kind not in addons:
                addons[kind] = amount
        return {k: v for k, v in addons.items() if 0 < v <= MAX_CAPACITY}

    def validate_value(self, slot: str, raw: Any, dispatcher: Optional[CollectingDispatcher], lang: str) -> Any:
        """The canonical value, or _INVALID (after a polite explanation when a dispatcher is given)."""
        value: Any = None
        if slot == "product":
            value = canonical_product(raw)
        elif slot == "tier":
            value = KEEP if raw == KEEP else canonical_tier(raw)
            if value == "free" and self.paid_tiers_only:
                if dispatcher:
                    say(dispatcher, lang, "utter_invalid_paid_tier")
                return _INVALID
        elif slot == "cycle":
            value = KEEP if raw == KEEP else canonical_cycle(raw)
        elif slot == "seats":
            value = KEEP if raw == KEEP else canonical_count(raw, MAX_SEATS)
        elif slot == "renewal_mode":
            value = canonical_renewal_mode(raw)
        elif slot == "checkout_confirmed":
            value = raw if isinstance(raw, bool) else None
        if value is None:
            if dispatcher:
                self.utter_invalid(slot, dispatcher, lang)
            return _INVALID
        return value

    def utter_invalid(self, slot: str, dispatcher: CollectingDispatcher, lang: str) -> None:
        if slot == "seats":
            say(dispatcher, lang, "utter_invalid_seats", maximum=MAX_SEATS)
        elif slot == "checkout_confirmed":
            say(dispatcher, lang, "utter_invalid_confirmation")
        else:
            say(dispatcher, lang, f"utter_invalid_{slot}")


class ActionStopForm(Action):
    """The user gave up in the middle of a form: stop it, forget the answers, write nothing."""

    def name(self) -> Text:
        return "action_stop_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        say(dispatcher, language_of(tracker), "utter_form_stopped")
        return reset_form_slots() + reset_downgrade_slots() + [SlotSet(REQUESTED_SLOT, None)]


class AskFormQuestion(Action, ABC):
    """A form's question that an action must build (from the workspace, the quote), in the user's
    language (the text is in actions/responses.yml). Rasa asks with action_ask_<form>_<slot>, else
    action_ask_<slot>; a question with fixed words is a domain.yml response instead."""

    @property
    @abstractmethod
    def action_name(self) -> str:
        """The action Rasa looks for, e.g. action_ask_checkout_confirmed."""

    @property
    @abstractmethod
    def question(self) -> str:
        """The name of the question's text, e.g. utter_ask_seats."""

    def name(self) -> Text:
        return self.action_name

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        say(dispatcher, language_of(tracker), self.question)
        return []


class AskCheckoutConfirmed(AskFormQuestion):
    """The confirmation repeats the total of the quote it confirms."""

    action_name, question = "action_ask_checkout_confirmed", "utter_ask_checkout_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        say(
            dispatcher,
            language_of(tracker),
            "utter_ask_checkout_confirmed",
            total=tracker.get_slot("checkout_total") or "—",
        )
        return []
