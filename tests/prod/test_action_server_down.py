"""The action server stops in the middle of a conversation.

Rasa alone answers nothing when a custom action cannot run (it logs the error and drops the
action's events). In the production profile Rasa reaches the action servers through nginx,
which then answers for them with `utter_try_again`: the user is told to try again, and the
conversation continues when the action server is back.
"""
from __future__ import annotations

import time
from pathlib import Path

import yaml


from tests.prod.helpers import FIXTURE_BOT, ROOT, bot_texts, say, tracker_events, user_texts


def _try_again_texts(domain_file: Path) -> list:
    responses = yaml.safe_load(domain_file.read_text())["responses"]
    return [variation["text"] for variation in responses.get("utter_try_again", [])]


def test_the_assistants_domain_has_a_try_again_answer_in_both_languages():
    variations = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"].get("utter_try_again")
    assert variations, "domain.yml lacks utter_try_again, which nginx utters when no action server can answer"
    english = [v for v in variations if any(c.get("value") == "en" for c in v.get("condition", []))]
    vietnamese = [v for v in variations if not v.get("condition")]
    assert english and "try again" in english[0]["text"].lower()
    assert vietnamese and "thử lại" in vietnamese[0]["text"]


def test_user_is_told_to_try_again_and_the_conversation_continues(prod_stack):
    sender = f"action-down-{time.time_ns()}"
    assert say(prod_stack, sender, "count one") == ["#1 count one"]
    action_servers = [n for n in prod_stack.processes.names() if n.startswith("actions-")]
    for name in action_servers:
        prod_stack.processes.stop(name)
    try:
        started = time.monotonic()
        replies = say(prod_stack, sender, "count two")
        assert replies == _try_again_texts(FIXTURE_BOT / "domain.yml"), replies
        assert time.monotonic() - started < 10, "the user waited too long for the try-again answer"
        # an answer from the domain still arrives; only its "was this helpful?" follow-up (a
        # custom action) is left out, rather than contradicting the answer with "try again"
        assert say(prod_stack, sender, "hello") == ["hello from the fixture bot"]
    finally:
        prod_stack.start_actions()
        prod_stack.wait_ready(action_servers, timeout=120)
    # back: the counter continues from the stored conversation (the failed turn changed nothing)
    assert say(prod_stack, sender, "count three") == ["#2 count three"]
    assert say(prod_stack, sender, "hello") == ["hello from the fixture bot", "was that helpful?"]
    events = tracker_events(prod_stack, sender)
    assert user_texts(events) == ["count one", "count two", "hello", "count three", "hello"]
    assert bot_texts(events)[1].startswith("TRY-AGAIN")
