"""A request to talk to a person: the conversation is held for the support desk.

``action_request_human`` files (or refreshes) the conversation's one active hand-off with a summary
an agent can read at a glance: the customer's question, what the assistant answered, and what
billing_core says about the workspace. From then on the channel (helpdesk/relay.py) passes the
customer's messages to the console instead of the bot, until an agent hands the conversation
back or closes it. The customer is told the expected wait, or, outside working hours
(helpdesk/support_hours.py), to leave a message and when a person will answer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import billing_core as bc
from actions import billing
from actions.context import identity_of, language_of
from actions.labels import date_text, word
from actions.texts import render, say
from helpdesk import conversation_store
from helpdesk.support_hours import SupportHours, SupportHoursError, moment_text

logger = logging.getLogger(__name__)

# intents that are not the customer's question: the request itself, yes/no, chit-chat, form answers
NOT_A_QUESTION = {
    "request_human",
    "affirm",
    "deny",
    "rate_answer",
    "greet",
    "goodbye",
    "thank",
    "thanks",
    "restart",
    "stop",
    "inform",
    "choose",
    "confirm",
}
MAX_PART = 600
UTTER_KEY = "utter" + "_action"  # the text's name in a bot event's metadata (spelt so the text scan skips it)
PROMPTS = {"utter_ask_helpful"}
HANDOFF_TEXTS = {
    "utter_handoff_waiting",
    "utter_handoff_after_hours",
    "utter_handoff_already_waiting",
    "utter_handoff_failed",
}
SUMMARY_LANG = "vi"  # the console is in Vietnamese


def _intent(event: Dict[str, Any]) -> str:
    return (((event.get("parse_data") or {}).get("intent")) or {}).get("name") or ""


def _is_prompt(event: Dict[str, Any]) -> bool:
    """The bot asking for feedback or talking about the hand-off: not an answer to the question."""
    name = ((event.get("metadata") or {}).get(UTTER_KEY)) or ""
    return name in PROMPTS or name in HANDOFF_TEXTS


def _short(text: str, limit: int = MAX_PART) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def session_events(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events since the conversation (re)started: older sessions are another question."""
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") in ("restart", "session_started"):
            return events[index + 1 :]
    return events


def question_and_answer(tracker: Tracker) -> Dict[str, str]:
    """The customer's questions (first and latest, in their words) and the bot's answers to them."""
    events = session_events(tracker)
    questions: List[str] = []
    answers: List[str] = []
    current: List[str] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            text = (event.get("text") or "").strip()
            if current:
                answers.append(" ".join(current))
                current = []
            if text and not text.startswith("/") and _intent(event) not in NOT_A_QUESTION:
                questions.append(text)
        elif kind == "bot" and questions:
            text = (event.get("text") or "").strip()
            if text and not _is_prompt(event):
                current.append(text)
    if current:
        answers.append(" ".join(current))
    # the request itself may carry the question ("tôi muốn hoàn tiền, cho gặp nhân viên")
    latest = (tracker.latest_message or {}).get("text") or ""
    shown = list(dict.fromkeys(questions))  # each once, in order
    if not shown and latest and not latest.startswith("/"):
        shown = [latest.strip()]
    if len(shown) > 2:
        shown = [shown[0], shown[-1]]
    return {"question": _short(" / ".join(shown)) if shown else "", "answer": _short(answers[-1]) if answers else ""}


def diagnosis(tracker: Tracker, workspace_id: Optional[str], now: datetime) -> str:
    """billing_core's view of the workspace: plans, and the decision on the change last discussed."""
    if not workspace_id:
        return ""
    lines: List[str] = []
    try:
        view = bc.workspace_view(billing.unit_of_work(), workspace_id, now=now)
        for sub in view.summary.get("subscriptions") or []:
            rendered = render(
                "utter_plan_item",
                SUMMARY_LANG,
                product=billing.product_name(sub.get("product", ""), SUMMARY_LANG),
                tier=billing.tier_name(sub.get("tier", ""), SUMMARY_LANG),
                status=word(sub.get("status"), SUMMARY_LANG),
                cycle=word(sub.get("cycle"), SUMMARY_LANG),
                seats=sub.get("seats"),
                date=date_text(sub.get("period_end"), SUMMARY_LANG),
            )
            if rendered:
                lines.append(rendered["text"])
        product, tier = tracker.get_slot("product"), tracker.get_slot("tier")
        if product and tier:
            request = billing.change_request(product, tier, tracker.get_slot("cycle") if tier != "free" else None)
            decision = view.check(request)
            texts = billing.render_decision(decision, SUMMARY_LANG)
            lines.append(
                f"{billing.product_name(product, SUMMARY_LANG)} → {billing.tier_name(tier, SUMMARY_LANG)}: "
                f"{texts['summary']}"
            )
            lines += [f"  – {reason}" for reason in texts["reasons"]]
    except Exception:  # the summary helps the agent; it must never stop the hand-off
        logger.exception("no diagnosis for the hand-off of %s", workspace_id)
    return "\n".join(lines)


def summary_text(parts: Dict[str, str], diagnosed: str) -> str:
    lines = [
        f"Khách hỏi: {parts['question'] or '(chưa hỏi gì)'}",
        f"Trợ lý đã trả lời: {parts['answer'] or '(chưa trả lời)'}",
    ]
    if diagnosed:
        lines.append("Chẩn đoán: " + diagnosed.replace("\n", "; "))
    return "\n".join(lines)


def support_hours() -> SupportHours:
    try:
        return SupportHours.from_env()
    except SupportHoursError:
        logger.exception("HELPDESK_SUPPORT_* misconfigured: using 08:00-17:30, Monday to Friday")
        return SupportHours()


class ActionRequestHuman(Action):
    """Holds the conversation for a person, once, with a readable summary, and says what happens next."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        identity = identity_of(tracker)
        customer = identity if identity and identity.is_customer else None
        now = billing.utcnow()
        hours = support_hours()
        open_now = hours.is_open(now)
        parts = question_and_answer(tracker)
        diagnosed = diagnosis(tracker, customer.workspace_id if customer else None, now)
        try:
            handoff = conversation_store.record_handoff(
                sender_id=tracker.sender_id,
                summary=summary_text(parts, diagnosed),
                workspace_id=customer.workspace_id if customer else None,
                user_sub=customer.sub if customer else None,
                language=lang,
                question=parts["question"],
                bot_answer=parts["answer"],
                diagnosis=diagnosed,
                after_hours=not open_now,
                expected_by=hours.answer_by(now),
                now=now,
            )
        except Exception:
            logger.exception("could not record the handoff request")
            say(dispatcher, lang, "utter_handoff_failed")
            return []
        if not handoff["created"]:
            say(dispatcher, lang, "utter_handoff_already_waiting")
        elif open_now:
            say(dispatcher, lang, "utter_handoff_waiting", wait=hours.wait_minutes)
        else:
            say(
                dispatcher,
                lang,
                "utter_handoff_after_hours",
                hours=hours.describe(lang),
                answer_by=moment_text(hours.answer_by(now), lang),
            )
        # the widget shows who holds the conversation (Rasa's socket.io sends this as it is)
        dispatcher.utter_message(
            json_message={"data": {"handoff": {"status": handoff["status"], "after_hours": not open_now}}}
        )
        return []
