"""Talking to the production profile in the fault tests."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_BOT = Path(__file__).resolve().parent / "fixture_bot"

def post_json(url: str, payload: Dict, timeout: float = 60.0) -> List[Dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def say(stack, sender: str, text: str, base: Optional[str] = None) -> List[str]:
    """One user turn through nginx; the texts of the bot's replies."""
    replies = post_json(f"{base or stack.config.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
    return [reply.get("text", "") for reply in replies]


def tracker_events(stack, sender: str) -> List[Dict]:
    """The conversation as stored in PostgreSQL (read through the API of any server)."""
    url = f"{stack.config.rasa_url}/conversations/{sender}/tracker?token={stack.config.rasa_api_token}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())["events"]


def user_texts(events: List[Dict]) -> List[str]:
    return [event["text"] for event in events if event["event"] == "user"]


def bot_texts(events: List[Dict]) -> List[str]:
    return [event["text"] for event in events if event["event"] == "bot"]
