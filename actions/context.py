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
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.parsing import parse_workspace_id
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
