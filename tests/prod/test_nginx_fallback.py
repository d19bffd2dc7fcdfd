"""What nginx says for the action servers when none can answer, in seconds and without Rasa:
the rendered deploy/nginx.conf.template runs alone (its action servers are down) and gets the
exact request bodies Rasa 3.6 sends (RemoteAction._action_call_format, serialised by json.dumps
as aiohttp does) for the real assistant's domain; the answer is read with json.loads as Rasa reads it.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import tempfile
import time
import urllib.request
from pathlib import Path

import prodstack
import pytest
import yaml

from tests.prod.helpers import ROOT, make_config, try_again_text


@pytest.fixture(scope="module")
def nginx_alone():
    var_dir = Path(tempfile.mkdtemp(prefix="helpdesk-nginx-fallback-"))
    var_dir.chmod(0o755)
    stack = prodstack.ProdStack(make_config(var_dir, var_dir / "no-model.tar.gz"))
    try:
        stack.log_dir.mkdir(parents=True, exist_ok=True)  # start() makes it with PostgreSQL
        stack.start_nginx()
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", stack.config.public_actions_port)):
            if stack.processes.exited("nginx-master") or time.monotonic() > deadline:
                pytest.fail("nginx did not start:\n" + prodstack._tail(stack.log_dir / "nginx-error.log"))
            time.sleep(0.2)
        yield stack
    finally:
        stack.processes.stop("nginx-master")
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def domain():
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml"))


def rasa_action_call(domain, action: str, sender: str, language_events: list, metadata=None) -> bytes:
    """The body Rasa posts to the action server for ``action`` after these slot changes; with
    ``metadata``, the session and the message carry it (both appear in the body)."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    events = [SlotSet("session_started_metadata", metadata)] if metadata else []
    events += [ActionExecuted("action_listen"), UserUttered("What is my next renewal plan?", metadata=metadata)]
    events += [SlotSet("language", value) for value in language_events]
    tracker = DialogueStateTracker.from_events(sender, events, slots=domain.slots)
    call = RemoteAction(action, EndpointConfig("http://unused.invalid/webhook"))._action_call_format(tracker, domain)
    return json.dumps(call).encode()


def post_webhook(stack, body: bytes) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.config.public_actions_port}/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and response.headers["X-Helpdesk-Fallback"] == "actions-unavailable"
        assert response.headers["Content-Type"].startswith("application/json")
        return json.loads(response.read())


@pytest.mark.parametrize(
    "language_events, lang",
    [
        (["en"], "en"),
        (["vi"], "vi"),
        ([], "vi"),  # the slot's initial value
        (["en", "vi"], "vi"),  # the past event says en, the slot says vi now
        (["vi", "en"], "en"),
        ([None], "vi"),
    ],
)
def test_the_try_again_text_is_in_the_language_of_the_tracker_slot(nginx_alone, domain, language_events, lang):
    body = rasa_action_call(domain, "action_next_renewal", f"fallback-{lang}", language_events)
    # the body holds the slot's definition (with its value "en"), the responses' conditions on
    # "en" and past slot events too; only the tracker's current value counts
    assert b'"slots": {"language": {"type": "categorical"' in body
    past_english = re.search(rb'"event": "slot"[^{}]*"name": "language", "value": "en"', body)
    assert bool(past_english) == ("en" in language_events)
    reply = post_webhook(nginx_alone, body)
    # the text in the user's language, and the turn ends there (no "was this helpful?" after it)
    assert reply == {
        "events": [{"event": "followup", "name": "action_listen"}],
        "responses": [{"text": try_again_text(lang)}],
    }


def test_a_sender_id_that_mimics_the_slot_is_not_taken_for_it(nginx_alone, domain):
    sender = 'x", "slots": {"language": "en"}, "y": "'
    reply = post_webhook(nginx_alone, rasa_action_call(domain, "action_next_renewal", sender, ["vi"]))
    assert reply["responses"] == [{"text": try_again_text("vi")}]


def test_language_en_elsewhere_in_the_tracker_is_not_taken_for_the_slot(nginx_alone, domain):
    metadata = {"language": "en", "widget": {"language": "en"}}
    body = rasa_action_call(domain, "action_next_renewal", "metadata-en", ["vi"], metadata=metadata)
    assert body.count(b'"language": "en"') >= 3  # session slot, message and its event
    assert post_webhook(nginx_alone, body)["responses"] == [{"text": try_again_text("vi")}]
    body = rasa_action_call(domain, "action_next_renewal", "metadata-en", ["en"], metadata=metadata)
    assert post_webhook(nginx_alone, body)["responses"] == [{"text": try_again_text("en")}]


def test_rasa_accepts_the_answer_and_utters_the_text(nginx_alone, domain):
    """Rasa's own RemoteAction, through nginx, turns the answer into the bot message."""
    import asyncio

    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.events import BotUttered, SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig(f"http://127.0.0.1:{nginx_alone.config.public_actions_port}/webhook")
    tracker = DialogueStateTracker.from_events("rasa-reads-it", [SlotSet("language", "en")], slots=domain.slots)
    events = asyncio.run(
        RemoteAction("action_next_renewal", endpoint).run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain
        )
    )
    assert [e.text for e in events if isinstance(e, BotUttered)] == [try_again_text("en")]


def test_the_rendered_config_holds_both_texts_from_responses_yml(nginx_alone):
    conf = (nginx_alone.config.var_dir / "nginx" / "nginx.conf").read_text()
    for lang in ("vi", "en"):
        body = json.dumps(prodstack.try_again_reply(try_again_text(lang)))
        assert prodstack.nginx_single_quoted(body) in conf
    assert "utter_try_again" not in yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]


def test_nginx_quoting_keeps_json_escapes_and_quotes():
    assert prodstack.nginx_single_quoted('{"a": "it\'s\\n\\u1ea1"}') == '\'{"a": "it\\\'s\\\\n\\\\u1ea1"}\''


def test_a_dollar_in_the_text_cannot_become_an_nginx_variable(monkeypatch):
    class Texts:
        @staticmethod
        def variation(name, lang):
            return {"text": f"{name} costs $5 in {lang}"}

    monkeypatch.setattr(prodstack, "_action_texts", lambda: Texts)
    body = prodstack.try_again_response("en")
    assert "$" not in body and json.loads(body)["responses"][0]["text"] == "utter_try_again costs $5 in en"
