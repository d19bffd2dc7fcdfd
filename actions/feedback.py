""" "Was this helpful?" and the answer to it (requests to talk to a person: actions/handoff.py)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import identity_of, language_of, latest_intent
from actions.texts import say
from helpdesk import conversation_store

logger = logging.getLogger(__name__)

# The intent that was answered -> the topic recorded with the feedback.
TOPICS = {
    "ask_upgrade_howto": "upgrade_howto",
    "ask_downgrade_howto": "downgrade_howto",
    "ask_extended_capacity": "extended_capacity",
    "ask_billing_cycle": "billing_cycle",
    "ask_go_free": "go_free",
    "ask_trial": "trial",
    "ask_data_retention": "data_retention",
    "ask_payment": "payment",
    "ask_next_renewal": "next_renewal",
    "ask_my_plan": "my_plan",
    "ask_payment_status": "payment_status",
    "ask_capabilities": "capabilities",
    "check_change": "check_change",
    "cancel_downgrade": "cancel_downgrade",
}


def answered_topic(tracker: Tracker) -> str:
    """The topic of the answer the yes/no is about: the intent of the user message that came
    before the latest "Was this helpful?" (asked by the domain response utter_ask_helpful, so
    that asking it costs no call to the action server)."""
    asked = False
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == "utter_ask_helpful":
            asked = True
        elif asked and event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
            return TOPICS.get(intent, "other")
    return "other"


class ActionRecordFeedback(Action):
    """Stores the yes/no with the topic; a "no" also offers a person."""

    def name(self) -> Text:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        helpful = latest_intent(tracker) == "affirm"
        identity = identity_of(tracker)
        try:
            conversation_store.record_feedback(
                sender_id=tracker.sender_id,
                topic=answered_topic(tracker),
                helpful=helpful,
                workspace_id=identity.workspace_id if identity and identity.is_customer else None,
                language=language_of(tracker),
            )
        except Exception:  # feedback is nice to have: never fail the conversation over it
            logger.exception("could not record feedback")
        say(dispatcher, language_of(tracker), "utter_feedback_thanks" if helpful else "utter_feedback_sorry")
        return []
