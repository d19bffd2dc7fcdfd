"""Who is asking and in which language: read again from the tracker on every turn.

The channel verified the customer's token where it entered and put an identity claim in the
latest user message's metadata instead (``metadata.identity``, helpdesk/identity.py): signed
with a server-side key, bound to this conversation, valid for minutes. It is verified on every
turn; the token itself never reaches the tracker or this server. A workspace id typed in the text is only
honoured for support agents; a customer always gets their own workspace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.parsing import CANONICAL_BY_SLOT, canonical_product, named_value, parse_change, parse_workspace_id
from actions.texts import say
from helpdesk.identity import Identity, IdentityConfigError, verify_claim

logger = logging.getLogger(__name__)

LANGUAGES = ("vi", "en")
# Agents' tokens may carry a placeholder workspace: it never counts as a workspace to read.
_NO_WORKSPACE = {"", "*", "-", "none", "any", "support"}  # "support": the web app's agent tokens


def language_of(tracker: Tracker) -> str:
    value = tracker.get_slot("language")
    return value if value in LANGUAGES else "vi"


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> Optional[str]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name")


def intent_confidence(tracker: Tracker) -> float:
    intent = (tracker.latest_message or {}).get("intent") or {}
    try:
        return float(intent.get("confidence") or 0.0)
    except (TypeError, ValueError):
        return 0.0


def latest_entities(tracker: Tracker, entity: str) -> List[Any]:
    return [e.get("value") for e in (tracker.latest_message or {}).get("entities") or [] if e.get("entity") == entity]


def claim_of(tracker: Tracker) -> Optional[str]:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    if not isinstance(metadata, dict):
        return None
    claim = metadata.get("identity")
    return claim if isinstance(claim, str) else None


def identity_of(tracker: Tracker, now: Optional[datetime] = None) -> Optional[Identity]:
    """The verified identity of this turn, or None. A misconfigured secret reads as anonymous
    here (and is logged): the action server refuses to start with it in production anyway."""
    try:
        return verify_claim(claim_of(tracker), tracker.sender_id, now=now)
    except IdentityConfigError:
        logger.exception("token secret misconfigured: answering as anonymous")
        return None


@dataclass
class Asker:
    """The person behind this turn and the workspace their question is about."""

    identity: Optional[Identity]
    workspace_id: Optional[str]
    events: List[Dict[str, Any]] = field(default_factory=list)
    lang: str = "vi"  # the language of this turn, for the texts said about the asker

    @property
    def is_agent(self) -> bool:
        return bool(self.identity and self.identity.is_agent)

    @property
    def is_customer(self) -> bool:
        return bool(self.identity and self.identity.is_customer)


def resolve_asker(tracker: Tracker, dispatcher: CollectingDispatcher, now: Optional[datetime] = None) -> Asker:
    """Identity and workspace for this turn; says so when a customer names another workspace.

    - no valid token: anonymous (workspace None);
    - customer: always the token's workspace, whatever the text says;
    - agent: the workspace named in this message, else the one named earlier in the
      conversation, else the token's own workspace claim.
    """
    identity = identity_of(tracker, now)
    lang = language_of(tracker)
    if identity is None:
        return Asker(None, None, lang=lang)
    typed = parse_workspace_id(latest_text(tracker))
    if identity.is_customer:
        if typed and typed != identity.workspace_id.lower():
            say(dispatcher, lang, "utter_only_own_workspace", workspace=identity.workspace_id)
        return Asker(identity, identity.workspace_id, lang=lang)
    events: List[Dict[str, Any]] = []
    workspace = typed or tracker.get_slot("agent_workspace")
    if not workspace and identity.workspace_id.strip().lower() not in _NO_WORKSPACE:
        workspace = identity.workspace_id
    if typed:
        events.append(SlotSet("agent_workspace", typed))
        say(dispatcher, lang, "utter_agent_workspace", workspace=typed)
    return Asker(identity, workspace, events, lang=lang)


def header(dispatcher: CollectingDispatcher, asker: Asker) -> None:
    """Whose data this is: "your workspace" for a customer, the named workspace for an agent."""
    response = "utter_agent_header" if asker.is_agent else "utter_personal_header"
    say(dispatcher, asker.lang, response, workspace=asker.workspace_id)


# --- the conversation's topic ---------------------------------------------------------------------
# The answer that sets the topic -> the intent of the question it answered. A text sent by Rasa
# (utter_*) or an action: both are in the tracker as the bot's events.
TOPICS: Dict[str, str] = {
    "utter_upgrade_howto": "ask_upgrade_howto",
    "utter_downgrade_howto": "ask_downgrade_howto",
    "utter_extended_capacity": "ask_extended_capacity",
    "utter_payment": "ask_payment",
    "action_answer_billing_cycle": "ask_billing_cycle",
    "action_answer_go_free": "ask_go_free",
    "action_answer_trial": "ask_trial",
    "action_answer_data_retention": "ask_data_retention",
    "action_answer_next_renewal": "ask_next_renewal",
    "action_answer_my_plan": "ask_my_plan",
    "action_answer_payment_status": "ask_payment_status",
    "action_answer_check_change": "check_change",
    "action_cancel_downgrade": "cancel_downgrade",
    "checkout_form": "buy_upgrade",
    "downgrade_form": "request_downgrade",
}


def _event_name(event: Dict[str, Any]) -> Optional[str]:
    if event.get("event") == "action":
        return event.get("name")
    if event.get("event") == "bot":
        return (event.get("metadata") or {}).get("utter_action")
    return None


def last_topic(tracker: Tracker) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
    """(the topic's answer, the user message it answered) of the last topic before this message."""
    events = list(tracker.events)
    # Skip this turn's user message.
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    topic = None
    for index in range(last_user - 1, -1, -1):
        event = events[index]
        name = _event_name(event)
        if topic is None and name in TOPICS:
            topic = name
        if topic is not None and event.get("event") == "user":
            return topic, event.get("parse_data") or {"text": event.get("text") or ""}
    return topic, None


def user_turns_since(tracker: Tracker, names) -> Optional[int]:
    """How many earlier user messages lie between this one and the last event named in ``names``
    (0: it answered the previous message), or None when there is none."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    turns = 0
    for index in range(last_user - 1, -1, -1):
        event = events[index]
        if event.get("event") == "user":
            turns += 1
        elif _event_name(event) in names:
            return turns
    return None


def earlier_values(tracker: Tracker) -> Dict[str, Any]:
    """Product, tier, cycle and users of the question behind the last topic ("có thể chuyển App
    Builder sang năm không?" -> "ok làm luôn"): what acting on that answer is about."""
    _topic, earlier = last_topic(tracker)
    if not earlier:
        return {}
    text = earlier.get("text") or ""
    parsed = parse_change(text)
    values: Dict[str, Any] = {}
    for slot in ("product", "tier", "cycle", "seats"):
        entity_values = [e.get("value") for e in earlier.get("entities") or [] if e.get("entity") == slot]
        canonical = CANONICAL_BY_SLOT.get(slot)
        value = named_value(entity_values, canonical, getattr(parsed, slot)) if canonical else getattr(parsed, slot)
        if value:
            values[slot] = value
    return values


def values_of_the_decision_just_given(tracker: Tracker) -> Dict[str, Any]:
    """What a form started right after an answer ("ok làm luôn", "ok buy it") is about: the product,
    plan and cycle of the question that answer followed, the product the conversation just named
    when it named none; nothing when the last message was not answered by a topic's answer."""
    if user_turns_since(tracker, TOPICS) != 0:
        return {}
    context = earlier_values(tracker)
    context.setdefault("product", recent_product(tracker))
    return context


def recent_product(tracker: Tracker, turns: int = 3) -> Optional[str]:
    """The product one of the last ``turns`` user messages before this one named, the latest first."""
    users = [e for e in tracker.events if e.get("event") == "user"][:-1]
    for event in reversed(users[-turns:]):
        parse = event.get("parse_data") or {}
        values = [e.get("value") for e in parse.get("entities") or [] if e.get("entity") == "product"]
        product = named_value(values, canonical_product, parse_change(event.get("text") or "").product)
        if product:
            return product
    return None
