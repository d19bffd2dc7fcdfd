""" "Was this helpful?" and the answer to it (requests to talk to a person: actions/handoff.py).

The answer comes in three ways, all handled here (docs/decisions.md §22):
- a click on the prompt's buttons, ``/rate_answer{"rating":"yes","prompt":"<id>"}``: any prompt,
  also one far above in the conversation, after other questions (the id names it,
  helpdesk/ratings.py);
- a rating typed about the answer ("câu trả lời trên hữu ích"): intent rate_answer without an id,
  about the latest prompt;
- "có"/"không" typed right after the prompt: affirm/deny (rules "helpful yes/no").
Each is recorded once per prompt with the topic of the question the prompt followed; a rating
that names no prompt of this conversation is not recorded. The reply is the thanks, or the sorry
that offers a person, in the user's language, whatever was asked in between.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import identity_of, language_of, latest_entities, latest_intent, latest_text
from actions.parsing import folded_text
from actions.texts import say
from helpdesk import conversation_store, ratings
from helpdesk.identity import jwt_secret

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
# A typed rating ("câu trả lời trên không hữu ích"): its yes/no read from the folded words.
_NEGATIVE = ("khong", "chang", "chua", "not", "didn", "didnt", "useless", "vo ich", "sai", "wrong")
_POSITIVE = ("huu ich", "co ich", "giup", "tot", "helpful", "useful", "helped", "help", "good", "great")


def topic_of(intent: str) -> str:
    return TOPICS.get(intent, "other")


def answered_topic(tracker: Tracker) -> str:
    """The topic of the latest "Was this helpful?" in the tracker: the intent of the user message
    that came before it (asked by the domain response utter_ask_helpful, so that asking it costs
    no call to the action server)."""
    found = ratings.find_prompt(list(tracker.events))
    return topic_of(found[1]) if found else "other"


def rated_prompt(tracker: Tracker) -> Optional[ratings.Found]:
    """The prompt this rating answers, with the intent it followed; None when it names none of
    this conversation's prompts (a malformed or forged id, a prompt that does not exist)."""
    events = list(tracker.events)
    if latest_intent(tracker) != ratings.RATE_INTENT:
        return ratings.find_prompt(events)  # "có"/"không" right after the prompt
    named = latest_entities(tracker, ratings.PROMPT_ENTITY)
    if not named:
        return ratings.find_prompt(events)  # typed, or a button without an id: the latest prompt
    timestamp = ratings.parse_prompt_id(named[0]) if len(named) == 1 else None
    if timestamp is None:
        return None
    found = ratings.find_prompt(events, timestamp)
    if found is not None:
        return found
    # older than the turns Rasa loaded: what the channel found in the stored conversation
    try:
        secret = jwt_secret()
    except Exception:  # misconfigured (the action server refuses to start so in production)
        logger.exception("no secret to check the rated prompt with")
        return None
    metadata = (tracker.latest_message or {}).get("metadata")
    claimed = ratings.claimed_prompt(metadata, tracker.sender_id, secret)
    return claimed if claimed is not None and claimed[0] == ratings.prompt_id(timestamp) else None


def rating_of(tracker: Tracker) -> Optional[str]:
    """ "yes", "no", or None when the message does not say which: a button's rating entity, the
    words of a typed rating."""
    intent = latest_intent(tracker)
    if intent in ("affirm", "deny"):
        return "yes" if intent == "affirm" else "no"
    text = latest_text(tracker)
    if text.startswith("/"):
        said = latest_entities(tracker, ratings.RATING_ENTITY)
        return said[0] if len(said) == 1 and said[0] in ratings.RATINGS else None
    padded = folded_text(text)
    if any(f" {word} " in padded for word in _NEGATIVE):
        return "no"
    return "yes" if any(f" {word} " in padded for word in _POSITIVE) else None


class ActionRecordFeedback(Action):
    """Stores the yes/no once per prompt, with the topic; a "no" also offers a person."""

    def name(self) -> Text:
        return "action_record_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        rating = rating_of(tracker)
        if rating is None:
            say(dispatcher, lang, "utter_rating_unclear")
            return []
        helpful = rating == "yes"
        found = rated_prompt(tracker)
        if found is None:
            logger.info("a rating of %s names no prompt of the conversation: not recorded", tracker.sender_id)
        else:
            identity = identity_of(tracker)
            try:
                conversation_store.record_feedback(
                    sender_id=tracker.sender_id,
                    topic=topic_of(found[1]),
                    helpful=helpful,
                    workspace_id=identity.workspace_id if identity and identity.is_customer else None,
                    language=lang,
                    prompt=found[0],
                )
            except Exception:  # feedback is nice to have: never fail the conversation over it
                logger.exception("could not record feedback")
        say(dispatcher, lang, "utter_feedback_thanks" if helpful else "utter_feedback_sorry")
        return []
