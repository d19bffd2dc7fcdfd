"""Fixtures for the action tests: a seeded temporary billing database (SQLite, or PostgreSQL
with BILLING_TEST_DB=postgres: see tests/dbs.py), signed tokens,
trackers as Rasa sends them, and a renderer that turns dispatched messages into the text the
user would read: the text actions.texts.say rendered from actions/responses.yml, or a domain.yml
response (Vietnamese default, English variation) as Rasa would render it.
"""

from __future__ import annotations

import asyncio
import re
import string
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parents[2]
SECRET = "cleeksy-demo-secret-change-me-0123456789"  # demo mode: the documented demo secret
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
# domain.yml lists an action by name, or as {name: {send_domain: true}}
ACTION_NAMES = [entry if isinstance(entry, str) else next(iter(entry)) for entry in DOMAIN["actions"]]
SENT_THE_DOMAIN = {
    name
    for entry in DOMAIN["actions"]
    if isinstance(entry, dict)
    for name, options in entry.items()
    if options.get("send_domain")
}
ACTION_TEXTS = yaml.safe_load((ROOT / "actions" / "responses.yml").read_text(encoding="utf-8"))
# A {placeholder} left in a sent text: the action forgot a value (Rasa would send it unfilled).
UNFILLED = re.compile(r"{[^\n{}]+?}")


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("HELPDESK_JWT_SECRET", SECRET)
    monkeypatch.setenv("HELPDESK_MODE", "demo")


@pytest.fixture
def billing_db(tmp_path, monkeypatch):
    """A fresh database with the demo workspaces, as BILLING_DATABASE_URL."""
    from billing_core.adapters.unit_of_work import SqlAlchemyUnitOfWork, create_schema, dispose_engine
    from billing_core.service_layer.demo import seed_demo
    from tests.dbs import new_billing_database_url

    url = new_billing_database_url(tmp_path)
    monkeypatch.setenv("BILLING_DATABASE_URL", url)
    create_schema(url)
    seed_demo(SqlAlchemyUnitOfWork(url), now=datetime.now(timezone.utc))
    yield url
    dispose_engine(url)


def token(workspace_id: str, role: str = "customer", minutes: int = 30, secret: str = SECRET, sub: str = "") -> str:
    from helpdesk.identity import issue_token

    return issue_token(sub or f"user-of-{workspace_id}", workspace_id, role=role, secret=secret, minutes=minutes)


def edge_metadata(token_value: Optional[str], sender_id: str = "test-sender") -> Dict[str, Any]:
    """What the channel hands Rasa for a message with this token: never the token, a claim bound to
    the conversation when the token verifies (helpdesk/channel.py)."""
    from helpdesk.identity import identity_claim, verify_token

    identity = verify_token(token_value) if token_value is not None else None
    return {"identity": identity_claim(identity, sender_id)} if identity is not None else {}


def make_tracker(
    text: str = "",
    intent: Optional[str] = None,
    entities: Optional[List[Dict]] = None,
    token_value: Optional[str] = None,
    slots: Optional[Dict[str, Any]] = None,
    language: str = "vi",
    active_loop: Optional[str] = None,
    new_slot_events: Optional[Dict[str, Any]] = None,
    history: Optional[List[Dict]] = None,
    confidence: float = 0.95,
) -> Tracker:
    """A tracker as the action server receives it for the latest user message.

    ``new_slot_events`` are the slot candidates Rasa appends before calling a form's validation
    action (what ``tracker.slots_to_validate()`` reads).
    """
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots["language"] = language
    all_slots.update(slots or {})
    metadata = edge_metadata(token_value)
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence} if intent else {},
        "entities": entities or [],
        "metadata": metadata,
    }
    events = list(history or [])
    events.append({"event": "user", "text": text, "parse_data": latest, "metadata": metadata})
    if new_slot_events:
        events.append({"event": "action", "name": active_loop or "action_listen"})
        events.extend({"event": "slot", "name": k, "value": v} for k, v in new_slot_events.items())
        all_slots.update(new_slot_events)
    return Tracker(
        sender_id="test-sender",
        slots=all_slots,
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def run(action, tracker: Tracker):
    """The action run as the action server runs it: Rasa sends the domain only to the actions marked
    send_domain (endpoints.yml enable_selective_domain); the others get {} (rasa_sdk's default)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN if action.name() in SENT_THE_DOMAIN else {}))
    for message in dispatcher.messages:
        texts = [message.get("text") or ""] + [b.get("title", "") for b in message.get("buttons") or []]
        assert not any(UNFILLED.search(t) for t in texts), f"unfilled placeholder in {message}"
    return dispatcher, events


class _Strict(dict):
    def __missing__(self, key):
        raise KeyError(f"response needs {{{key}}} but the action did not pass it")


def render_message(message: Dict[str, Any], language: str = "vi") -> str:
    """The text a user reads for one dispatched message (response name + kwargs, or plain text)."""
    if message.get("text"):
        return message["text"]
    name = message.get("response")
    if not name:
        return ""
    variations = DOMAIN["responses"][name]
    chosen = None
    if language == "en":
        chosen = next((v for v in variations if v.get("condition")), None)
    if chosen is None:
        chosen = next(v for v in variations if not v.get("condition"))
    values = {
        k: v
        for k, v in message.items()
        if k
        not in ("response", "buttons", "elements", "attachment", "image", "custom", "template", "text", "json_message")
    }
    values.update(message.get("kwargs") or {})
    names = {field for _, field, _, _ in string.Formatter().parse(chosen["text"]) if field}
    return chosen["text"].format_map(_Strict({k: values[k] for k in names if k in values}))


def rendered(dispatcher: CollectingDispatcher, language: str = "vi") -> str:
    return "\n".join(render_message(m, language) for m in dispatcher.messages)


def responses(dispatcher: CollectingDispatcher) -> List[str]:
    """The names of the texts sent: a domain response, or a text of actions/responses.yml (which
    actions.texts.say marks with ``utter_action``, as Rasa marks the responses it renders)."""
    names = [m.get("response") or m.get("utter_action") for m in dispatcher.messages]
    return [name for name in names if name]


def slot_events(events) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def entity(name: str, value: Any) -> Dict[str, Any]:
    """An entity the NLU found, as it is in a tracker's parse data."""
    return {"entity": name, "value": value, "start": 0, "end": len(str(value))}


def history(
    question: str,
    intent: str,
    answer: str,
    text_name: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
) -> List[Dict[str, Any]]:
    """An earlier question and the action that answered it (and the text it sent), as tracker events."""
    events: List[Dict[str, Any]] = [
        {
            "event": "user",
            "text": question,
            "parse_data": {"text": question, "intent": {"name": intent}, "entities": entities or []},
        },
        {"event": "action", "name": answer},
    ]
    if text_name:
        events.append({"event": "bot", "text": "...", "metadata": {"utter_action": text_name}})
    return events
