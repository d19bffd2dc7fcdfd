"""Two kinds of question that are answered, never turned into a form:

- "Can I X?" (check_change): billing_core's decision for the change the message names, completed
  from the workspace (the current tier when only the cycle, the users or capacity change; the
  product when the workspace leaves no doubt), with the price when it is paid now and a button
  that starts the purchase or the downgrade. One question back, with buttons, only when the
  message names neither the product nor the plan and the workspace cannot tell.
- Follow-ups with ellipsis (ask_followup): "thế còn Quy trình vận hành?", "hết hạn hôm nào?",
  "bao giờ thì áp dụng?", "giờ mình cần làm gì?". They are answered in the context of the last
  topic of the conversation (read from the tracker: the last answer the assistant gave) and of the
  question that led to it: the earlier question is asked again with what the follow-up changes
  (another product) or the part it asks about (when, what to do).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, cast

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import billing_core as bc
from actions import billing, personal, texts
from actions.context import (
    TOPICS,
    Asker,
    header,
    language_of,
    last_topic,
    latest_entities,
    latest_intent,
    latest_text,
    recent_product,
    user_turns_since,
)
from actions.forms import is_keep
from actions.parsing import (
    MAX_SEATS,
    canonical_count,
    canonical_cycle,
    canonical_product,
    canonical_tier,
    folded_text,
    named_value,
    parse_change,
    product_phrases,
)
from actions.texts import say


def _first(tracker: Tracker, entity: str, canonical) -> Optional[str]:
    """The value the message names for ``entity`` (the target of "from X to Y"), or None."""
    parsed = getattr(parse_change(latest_text(tracker)), entity, None)
    values = latest_entities(tracker, entity)
    return named_value(values, canonical, parsed) if values else None


def _is_immediate(decision) -> bool:
    return decision.outcome is bc.Outcome.IMMEDIATE


def implied_product(
    tier: Optional[str], seats: Optional[int], addons: Dict[str, int], held: List[str]
) -> Optional[str]:
    """The product a question can only mean: extended capacity's own product; the base product for
    Free, Premium (tiers only it offers) or users; the workspace's only product. None: ask."""
    catalog = billing.catalog()
    if addons:
        return catalog.capacity[next(iter(addons))].product
    base = next((key for key, p in catalog.products.items() if p.role == "base"), None)
    if tier is not None:
        offering = [key for key, p in catalog.products.items() if tier in p.tiers or (tier == "free" and key == base)]
        if len(offering) == 1:
            return offering[0]
    if seats is not None and tier is None:
        return base
    if len(held) == 1:
        return held[0]
    return None


class ActionAnswerCheckChange(personal.PersonalAnswer):
    """ "Can I move App Builder to Standard yearly?": the decision (and the price), never a form."""

    general_response = "utter_check_login"

    def name(self) -> Text:
        return "action_answer_check_change"

    def personal(self, dispatcher, tracker, lang, asker: Asker):
        text = latest_text(tracker)
        parsed = parse_change(text)
        product = _first(tracker, "product", canonical_product) or parsed.product
        tier = _first(tracker, "tier", canonical_tier) or parsed.tier
        cycle = _first(tracker, "cycle", canonical_cycle) or parsed.cycle
        seats = next((canonical_count(v, MAX_SEATS) for v in latest_entities(tracker, "seats")), None) or parsed.seats
        addons = dict(parsed.capacity)
        # PersonalAnswer.run calls personal only once the asker has a workspace.
        summary = billing.workspace_summary(dispatcher, lang, cast(str, asker.workspace_id))
        held = [s["product"] for s in summary.items]
        if product is None:
            # "how much to upgrade it to Starter?": the catalog's only choice, else the product
            # the conversation just named
            product = implied_product(tier, seats, addons, held) or recent_product(tracker)
        if product is None:
            buttons = [
                {"title": billing.product_name(p, lang), "payload": f'/check_change{{"product":"{p}","tier":"{tier}"}}'}
                for p in held
            ]
            say(dispatcher, lang, "utter_check_which_product", buttons=buttons)
            return []
        current = summary.of(product) or {}
        if tier is None and (cycle or seats or addons or is_keep(text)) and current.get("tier"):
            tier = current["tier"]  # the same plan: only the cycle, the users or the capacity change
        if tier is None:
            tiers = [
                t
                for t in billing.catalog().tiers
                if t != current.get("tier") and (t in billing.catalog().products[product].tiers)
            ]
            buttons = [
                {"title": billing.tier_name(t, lang), "payload": f'/check_change{{"product":"{product}","tier":"{t}"}}'}
                for t in tiers
            ]
            say(
                dispatcher, lang, "utter_check_which_tier", product=billing.product_name(product, lang), buttons=buttons
            )
            return []
        request = billing.change_request(product, tier, cycle=cycle, seats=seats, addons=addons)
        decision, quote = billing.call(
            dispatcher, lang, bc.quote_change, billing.unit_of_work(), asker.workspace_id, request
        )
        header(dispatcher, asker)
        billing.utter_decision(dispatcher, decision, lang)
        if not decision.allowed:
            return []
        entities = {
            "product": product,
            "tier": tier,
            **({"cycle": cycle} if cycle else {}),
            **({"seats": seats} if seats else {}),
        }
        payload_entities = ",".join(f'"{k}":"{v}"' for k, v in entities.items())
        if _is_immediate(decision) and decision.target.paid and quote is not None:
            texts = billing.render_quote(quote, lang)
            say(dispatcher, lang, "utter_quote", lines=texts["lines"], total=texts["total"])
            if asker.is_customer:
                say(
                    dispatcher,
                    lang,
                    "utter_offer_checkout_for",
                    buttons=[
                        {
                            "title": _title(lang, "utter_button_buy_now"),
                            "payload": f"/buy_upgrade{{{payload_entities}}}",
                        }
                    ],
                )
        elif asker.is_customer:
            say(
                dispatcher,
                lang,
                "utter_offer_downgrade",
                buttons=[
                    {
                        "title": _title(lang, "utter_button_downgrade_now"),
                        "payload": f"/request_downgrade{{{payload_entities}}}",
                    }
                ],
            )
        return []


def _title(lang: str, name: str) -> str:
    """A button's title: a one-line text of actions/responses.yml."""
    return (texts.render(name, lang) or {}).get("text") or name


# --- follow-ups ---------------------------------------------------------------------------------
# The topics a follow-up can follow: actions.context.TOPICS. The aspect a follow-up asks about:
_WHEN = (
    "bao gio",
    "khi nao",
    "hom nao",
    "ngay nao",
    "luc nao",
    "bao lau",
    "het han",
    "han",
    "when",
    "how long",
    "which day",
    "what day",
    "what date",
    "expire",
    "expires",
    "ap dung",
    "hieu luc",
    "take effect",
    "kick in",
    "right away",
    "immediately",
    "ngay lap tuc",
)
_COST = ("bao nhieu tien", "ton bao nhieu", "het bao nhieu", "gia bao nhieu", "how much", "cost", "price")
_TODO = (
    "lam gi",
    "lam sao",
    "can lam",
    "phai lam",
    "the nao",
    "what should",
    "what do i do",
    "what can i do",
    "next step",
    "what now",
    "then what",
    "what next",
    "how do i fix",
    "lam the nao",
    "need to do",
    "have to do",
)


FALLBACK_TOPIC_TURNS = 1  # an unsure message counts as a follow-up of an answer at most this many turns back
# Words that name another topic inside a follow-up ("thế còn dữ liệu thì sao?"): that topic is
# answered, with the product and plan of the earlier question.
_TOPIC_WORDS = (
    (
        "ask_data_retention",
        (
            "du lieu",
            "bi xoa",
            "xoa",
            "data",
            "deleted",
            "removed",
            "lose",
            "lost",
            "what happens to",
            "tai lieu",
            "file",
            "files",
        ),
    ),
    ("ask_extended_capacity", ("dung luong", "capacity", "storage")),
    ("ask_billing_cycle", ("chu ky", "theo nam", "theo thang", "cycle", "yearly", "monthly")),
    ("ask_trial", ("dung thu", "trial")),
    ("ask_go_free", ("free", "mien phi")),
    ("ask_next_renewal", ("gia han tiep theo", "next renewal")),
    ("ask_payment", ("thanh toan", "vnpay", "hoa don", "invoice", "payment")),
)


def _say_social(dispatcher: CollectingDispatcher, intent: Optional[str]) -> bool:
    """The domain's answer to a thanks, goodbye or greeting (rendered by Rasa); False for others."""
    if intent == "thank":
        dispatcher.utter_message(response="utter_thank")
    elif intent == "goodbye":
        dispatcher.utter_message(response="utter_goodbye")
    elif intent == "greet":
        dispatcher.utter_message(response="utter_greet")
    else:
        return False
    return True


def _best_candidate(tracker: Tracker) -> Optional[str]:
    """The intent the NLU ranked highest below its fallback threshold."""
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    return next((r.get("name") for r in ranking if r.get("name") != "nlu_fallback"), None)


def named_topic(text: str) -> Optional[str]:
    padded = folded_text(text)
    return next((intent for intent, words in _TOPIC_WORDS if any(f" {w} " in padded for w in words)), None)


def _aspect(text: str) -> Optional[str]:
    padded = folded_text(text)
    if any(f" {w} " in padded for w in _COST):
        return "cost"
    if any(f" {w} " in padded for w in _TODO):
        return "todo"
    if any(f" {w} " in padded for w in _WHEN):
        return "when"
    return None


def _replayed(
    tracker: Tracker, earlier: Dict[str, Any], product: Optional[str], intent: str, text: Optional[str] = None
) -> Tracker:
    """The tracker with the earlier question as its latest message (or ``text``, a follow-up that
    names another topic); the follow-up's product replaces the earlier one, and the other details of
    the earlier question (plan, cycle) are kept as entities."""
    earlier_text = earlier.get("text") or ""
    parsed = parse_change(earlier_text)
    entities = [e for e in earlier.get("entities") or [] if e.get("entity") not in ("product", "language")]
    for name, value in (("tier", parsed.tier), ("cycle", parsed.cycle)):
        if value and not any(e.get("entity") == name for e in entities):
            entities.append({"entity": name, "value": value})
    chosen = (
        product
        or next((e.get("value") for e in earlier.get("entities") or [] if e.get("entity") == "product"), None)
        or parsed.product
    )
    if chosen:
        entities.append({"entity": "product", "value": chosen})
    if text is None:
        text = earlier_text if product is None else _without_products(earlier_text)
    else:
        own = parse_change(text)
        for name, value in (("tier", own.tier), ("cycle", own.cycle)):
            if value:  # what the follow-up names replaces what the earlier question named
                entities = [e for e in entities if e.get("entity") != name] + [{"entity": name, "value": value}]
    latest = dict(tracker.latest_message or {})
    latest.update({"text": text, "entities": entities, "intent": {"name": intent, "confidence": 1.0}})
    return Tracker(
        tracker.sender_id,
        tracker.current_slot_values(),
        latest,
        list(tracker.events),
        False,
        None,
        tracker.active_loop,
        tracker.latest_action_name,
    )


def _without_products(text: str) -> str:
    """The earlier question without its product names (the follow-up names another one)."""
    padded = folded_text(text)
    for phrases in product_phrases().values():
        for phrase in sorted(phrases, key=len, reverse=True):
            padded = padded.replace(f" {phrase} ", " ")
    return padded.strip()


class ActionAnswerFollowup(Action):
    """An elliptical follow-up, answered in the context of the last topic and its question."""

    def name(self) -> Text:
        return "action_answer_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        topic, earlier = last_topic(tracker)
        if latest_intent(tracker) == "nlu_fallback":
            # A message the NLU is unsure of, right after an answer ("is that automatic?", "tien
            # tinh ntn"), is read as a follow-up of that answer; with no recent topic it is not.
            best = _best_candidate(tracker)
            if _say_social(dispatcher, best):
                # "thanks, bye" split between thank and goodbye: the polite answer, not the topic again
                return []
            recent = user_turns_since(tracker, {*TOPICS, "action_answer_followup"})
            if best in ("affirm", "deny") or topic is None or recent is None or recent > FALLBACK_TOPIC_TURNS:
                dispatcher.utter_message(response="utter_default")
                return []
        if topic is None:
            say(dispatcher, lang, "utter_followup_no_topic")
            return []
        text = latest_text(tracker)
        product = _first(tracker, "product", canonical_product) or parse_change(text).product
        aspect = _aspect(text)
        intent = TOPICS[topic]
        tier = _first(tracker, "tier", canonical_tier) or parse_change(text).tier
        if latest_intent(tracker) == "inform" and not (product or tier or aspect or named_topic(text)):
            dispatcher.utter_message(response="utter_default")  # a bare value that follows nothing
            return []
        if aspect == "cost" or (
            tier and intent in ("check_change", "ask_billing_cycle", "ask_my_plan", "buy_upgrade", "ask_next_renewal")
        ):
            # "How much would that be?", "and Premium?": the change asked about, decided and priced.
            replay = _replayed(tracker, earlier or {"text": ""}, product, "check_change", text=_without_products(text))
            return await ANSWERS["check_change"].run(dispatcher, replay, domain)
        other = named_topic(text)
        if other == "ask_extended_capacity" and intent in ("ask_data_retention", "request_downgrade"):
            other = "ask_data_retention"  # "and the extra capacity?" after what is kept: its 7-day rule
        if other and other != intent and aspect != "when":
            # Another topic, elliptically ("and my data?"): that topic, for the earlier product/plan.
            action = ANSWERS.get(other)
            if action is None:
                say_general_answer(dispatcher, other)
                return []
            replay = _replayed(tracker, earlier or {}, product, other, text=_without_products(text))
            return await action.run(dispatcher, replay, domain)
        # "When does it apply?" after the steps: the timing is the article's rule.
        if aspect == "when" and intent in ("ask_upgrade_howto", "buy_upgrade", "ask_extended_capacity", "ask_payment"):
            say(dispatcher, lang, "utter_followup_when_upgrade")
            return []
        if aspect == "when" and intent in ("ask_downgrade_howto", "request_downgrade", "cancel_downgrade"):
            say(dispatcher, lang, "utter_followup_when_downgrade")
            intent = "ask_next_renewal"
        elif intent == "cancel_downgrade":
            # "where do I see it?", "so next month I stay on Premium?": the schedule itself
            intent = "ask_next_renewal"
        action = ANSWERS.get(intent)
        if action is None:
            # A general answer of Rasa's: say it again (for another product it is the same rule).
            say_general_answer(dispatcher, intent)
            return []
        replay = _replayed(tracker, earlier or {"text": ""}, product, intent)
        return await action.run(dispatcher, replay, domain)


def say_general_answer(dispatcher: CollectingDispatcher, intent: str) -> None:
    """The general answer (a domain response, rendered by Rasa) of a topic without a custom action."""
    if intent in ("ask_upgrade_howto", "buy_upgrade"):
        dispatcher.utter_message(response="utter_upgrade_howto")
    elif intent == "ask_extended_capacity":
        dispatcher.utter_message(response="utter_extended_capacity")
    elif intent == "ask_payment":
        dispatcher.utter_message(response="utter_payment")

    else:  # the downgrade steps, a downgrade done or cancelled in the chat
        dispatcher.utter_message(response="utter_downgrade_howto")


ANSWERS: Dict[str, Action] = {
    "ask_billing_cycle": personal.ActionAnswerBillingCycle(),
    "ask_go_free": personal.ActionAnswerGoFree(),
    "ask_trial": personal.ActionAnswerTrial(),
    "ask_data_retention": personal.ActionAnswerDataRetention(),
    "ask_next_renewal": personal.ActionAnswerNextRenewal(),
    "ask_my_plan": personal.ActionAnswerMyPlan(),
    "ask_payment_status": personal.ActionAnswerPaymentStatus(),
    "check_change": ActionAnswerCheckChange(),
}

__all__ = ["ActionAnswerCheckChange", "ActionAnswerFollowup"]
