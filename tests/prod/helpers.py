"""Configuring and talking to the production profile in the fault tests."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "prod"))

import prodstack  # noqa: E402

from helpdesk.stack import free_ports  # noqa: E402

FIXTURE_BOT = Path(__file__).resolve().parent / "fixture_bot"


def try_again_text(lang: str) -> str:
    """What nginx says when no action server can answer: `utter_try_again` of actions/responses.yml
    as written there, the variation on `language: en` for English, the default otherwise."""
    import yaml

    variations = yaml.safe_load((ROOT / "actions" / "responses.yml").read_text(encoding="utf-8"))["utter_try_again"]
    for variation in variations:
        english = any(c.get("name") == "language" and c.get("value") == "en" for c in variation.get("condition") or [])
        if english == (lang == "en"):
            return variation["text"]
    raise AssertionError(f"actions/responses.yml has no {lang} variation of utter_try_again")


def test_ports() -> Dict:
    """Every port of one test profile: two Rasa servers, one action server."""
    ports = free_ports(11)
    return dict(
        pg_port=ports[0],
        redis_port=ports[1],
        rasa_ports=ports[2:4],
        actions_ports=ports[4:5],
        public_rasa_port=ports[5],
        single_rasa_port=ports[6],
        public_actions_port=ports[7],
        public_web_port=ports[8],
        web_backend_port=ports[9],
    )


def make_config(var_dir: Path, model: Path, **overrides) -> prodstack.ProdConfig:
    settings = dict(
        var_dir=var_dir,
        jwt_secret="prod-test-jwt-secret-at-least-32-characters",
        pg_password="prod-test-pg-password",
        redis_password="prod-test-redis-password",
        rasa_api_token="prod-test-api-token",
        vnpay_tmn_code="TESTTMN1",
        vnpay_hash_secret="prod-test-vnpay-hash-secret",
        model=model,
        actions_module="tests.prod.fixture_bot.actions",
        credentials=var_dir / "credentials.yml",  # written by write_credentials()
        with_web=False,
        **test_ports(),
    )
    settings.update(overrides)
    return prodstack.ProdConfig(**settings)


def write_credentials(config) -> None:
    """Rasa's stock REST and socket.io channels (the fixture bot needs no verified identity)."""
    config.credentials.write_text(
        "rest:\n"
        "socketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n"
        "  session_persistence: false\n"
    )


def post_json(url: str, payload: Dict, timeout: float = 60.0, headers: Optional[Dict] = None) -> List[Dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def say(stack, sender: str, text: str, base: Optional[str] = None) -> List[str]:
    """One user turn through nginx; the texts of the bot's replies."""
    replies = post_json(f"{base or stack.config.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
    return [reply.get("text", "") for reply in replies]


def set_slot(stack, sender: str, name: str, value) -> None:
    """Append a slot event to the conversation through Rasa's HTTP API (any server)."""
    url = f"{stack.config.rasa_url}/conversations/{sender}/tracker/events"
    post_json(
        url,
        {"event": "slot", "name": name, "value": value},
        headers=prodstack.rasa_api_headers(stack.config.rasa_api_token),
    )


def tracker_events(stack, sender: str) -> List[Dict]:
    """The conversation as stored in PostgreSQL (read through the API of any server)."""
    url = f"{stack.config.rasa_url}/conversations/{sender}/tracker"
    request = urllib.request.Request(url, headers=prodstack.rasa_api_headers(stack.config.rasa_api_token))
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["events"]


def user_texts(events: List[Dict]) -> List[str]:
    return [event["text"] for event in events if event["event"] == "user"]


def bot_texts(events: List[Dict]) -> List[str]:
    return [event["text"] for event in events if event["event"] == "bot"]
