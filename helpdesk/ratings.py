"""Which "was this helpful?" prompt a rating answers (docs/decisions.md §22).

Every answer ends with the prompt ``utter_ask_helpful``, whose buttons send
``/rate_answer{"rating":"yes"}`` or ``"no"``. The widget keeps older answers on screen and their
buttons still work, so a customer may scroll up and rate an answer after asking other questions;
the rating must go to the answer that prompt followed, and only once.

- **The prompt's id travels in its buttons.** The channels (helpdesk/channel.py, helpdesk/relay.py)
  write it into every rating payload as they send the prompt:
  ``/rate_answer{"rating":"yes","prompt":"1764561234.567"}``. The id is the timestamp of the
  prompt's bot event, which Rasa stores with the event: the prompt can be found in the
  conversation again from the id alone. Nothing has to be counted by the client, and the id is
  the same in the widget, in the history shown on another device and over REST.
- **The channel finds older prompts.** A turn loads only the last user messages of a conversation
  (helpdesk/tracker_store.py), so a prompt can be older than what the action sees. When a rating
  with an id arrives, the channel looks the prompt up in the whole stored conversation and passes
  what it found to the action as ``metadata.rated_prompt``: ``{"prompt": id, "intent": the intent
  of the question the prompt followed, "sig": HMAC}``, signed with a key derived from the server's
  secret and bound to the conversation (like the identity claim, helpdesk/identity.py). A client's
  own ``rated_prompt`` is dropped at the edge, and one that got through would not verify.
- **The action records it** (actions/feedback.py): the prompt in its own tracker first, else the
  channel's finding; a rating that names no prompt this conversation has is not recorded. The
  store keeps one rating per prompt (helpdesk/conversation_store.record_feedback).

Plain Python: imported by the channels and the tracker store (Rasa's process) and by the actions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

RATE_INTENT = "rate_answer"
RATING_ENTITY = "rating"
PROMPT_ENTITY = "prompt"
RATINGS = ("yes", "no")
PROMPT_RESPONSE = "utter_ask_helpful"
RATED_KEY = "rated_prompt"  # metadata the channel adds (a client's copy never gets through)
MAX_PROMPT_CHARS = 32
MAX_TIMESTAMP = 1e11  # seconds since 1970: the year 5138
UTTER_KEY = "utter" + "_action"  # the text's name in a bot event's metadata (spelt so the text scan skips it)
_PAYLOAD = re.compile(r"^/" + RATE_INTENT + r"(\{.*\})?$", re.DOTALL)
_PROMPT_ID = re.compile(r"[0-9]{1,11}(\.[0-9]{1,19})?")  # no sign, exponent, nan or inf

# (prompt id, intent of the user message the prompt followed; "" when there was none)
Found = Tuple[str, str]


def prompt_id(timestamp: Any) -> Optional[str]:
    """The id of the prompt sent in the bot event of this timestamp; None for anything else."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        return None
    value = float(timestamp)
    if not math.isfinite(value) or not 0 < value < MAX_TIMESTAMP:
        return None
    return repr(value)


def parse_prompt_id(value: Any) -> Optional[float]:
    """The timestamp a prompt id names, or None when the value is no id (malformed or forged)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_PROMPT_CHARS or not _PROMPT_ID.fullmatch(value):
        return None
    timestamp = float(value)
    return timestamp if 0 < timestamp < MAX_TIMESTAMP else None


def rating_entities(payload: Any) -> Optional[Dict[str, Any]]:
    """The entities of a ``/rate_answer{...}`` payload; None for any other text."""
    if not isinstance(payload, str):
        return None
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return None
    if not match.group(1):
        return {}
    try:
        entities = json.loads(match.group(1))
    except ValueError:
        return None
    return entities if isinstance(entities, dict) else None


def stamp_buttons(buttons: Any, timestamp: Any) -> Any:
    """The buttons of a bot message with the message's prompt id in every rating payload.

    Other buttons, and the buttons of a message without a usable timestamp, are returned as given."""
    stamped_id = prompt_id(timestamp)
    if stamped_id is None or not isinstance(buttons, list):
        return buttons
    stamped: List[Any] = []
    for button in buttons:
        entities = rating_entities(button.get("payload")) if isinstance(button, dict) else None
        if entities is None:
            stamped.append(button)
            continue
        entities[PROMPT_ENTITY] = stamped_id
        payload = "/" + RATE_INTENT + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))
        stamped.append({**button, "payload": payload})
    return stamped


def requested_prompt(text: Any) -> Optional[float]:
    """The prompt a rating message names by its id (a clicked button), or None."""
    entities = rating_entities(text)
    return parse_prompt_id(entities.get(PROMPT_ENTITY)) if entities else None


def is_prompt(event: Dict[str, Any]) -> bool:
    """A bot event that asked "was this helpful?": the domain's prompt, or any message whose
    buttons are ratings."""
    if event.get("event") != "bot":
        return False
    if (event.get("metadata") or {}).get(UTTER_KEY) == PROMPT_RESPONSE:
        return True
    buttons = (event.get("data") or {}).get("buttons") or []
    return any(isinstance(b, dict) and rating_entities(b.get("payload")) is not None for b in buttons)


def _intent_before(events: Sequence[Dict[str, Any]], index: int) -> str:
    for event in reversed(events[:index]):
        if event.get("event") == "user":
            return (((event.get("parse_data") or {}).get("intent")) or {}).get("name") or ""
    return ""


def find_prompt(events: Sequence[Dict[str, Any]], timestamp: Optional[float] = None) -> Optional[Found]:
    """The prompt sent at ``timestamp`` among these events (the latest prompt when it is None),
    with the intent of the user message it followed; None when there is no such prompt."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if not is_prompt(event):
            continue
        found_id = prompt_id(event.get("timestamp"))
        if found_id is None or (timestamp is not None and event.get("timestamp") != timestamp):
            continue
        return found_id, _intent_before(events, index)
    return None


def _innermost(store: Any) -> Any:
    # Rasa wraps the configured store (FailSafeTrackerStore, AwaitableTrackerStore): its own attribute
    for _ in range(4):
        inner = getattr(store, "_tracker_store", None)
        if inner is None:
            break
        store = inner
    return store


async def find_in_store(store: Any, sender_id: str, timestamp: float) -> Optional[Found]:
    """The prompt sent at ``timestamp`` anywhere in the stored conversation, or None.

    The windowed store answers with two indexed reads (``rated_prompt``); any other store loads the
    full conversation (Rasa's ``retrieve_full_tracker``)."""
    lookup = getattr(_innermost(store), "rated_prompt", None)
    if lookup is not None:
        intent = await lookup(sender_id, timestamp)
        found_id = prompt_id(timestamp)
        return (found_id, intent) if intent is not None and found_id is not None else None
    tracker = await store.retrieve_full_tracker(sender_id)
    if tracker is None:
        return None
    return find_prompt([event.as_dict() for event in tracker.events], timestamp)


def _signature(found_id: str, intent: str, sender_id: str, secret: str) -> str:
    key = hmac.new(secret.encode(), b"helpdesk rated prompt v1", hashlib.sha256).digest()
    return hmac.new(key, "\n".join((sender_id, found_id, intent)).encode(), hashlib.sha256).hexdigest()


def prompt_claim(found: Found, sender_id: str, secret: str) -> Dict[str, str]:
    """The channel's statement "in conversation ``sender_id``, prompt ``found[0]`` followed ``found[1]``"."""
    return {"prompt": found[0], "intent": found[1], "sig": _signature(found[0], found[1], sender_id, secret)}


def claimed_prompt(metadata: Any, sender_id: str, secret: str) -> Optional[Found]:
    """What the channel found for this message of this conversation (``metadata.rated_prompt``),
    or None: no claim, a malformed one, or one the channel did not sign for this conversation."""
    claim = metadata.get(RATED_KEY) if isinstance(metadata, dict) else None
    if not isinstance(claim, dict):
        return None
    found_id, intent, signature = claim.get("prompt"), claim.get("intent"), claim.get("sig")
    if not isinstance(found_id, str) or parse_prompt_id(found_id) is None:
        return None
    if not isinstance(intent, str) or len(intent) > 100 or not isinstance(signature, str):
        return None
    if not hmac.compare_digest(signature, _signature(found_id, intent, sender_id, secret)):
        return None
    return found_id, intent
