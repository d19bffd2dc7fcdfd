"""The action server stops in the middle of a conversation.

Rasa alone answers nothing when a custom action cannot run (it logs the error and drops the
action's events). In the production profile Rasa reaches the action servers through nginx,
which then answers for them with the text `utter_try_again` of actions/responses.yml in the
user's language: the user is told to try again, and the conversation continues when the action
server is back. (tests/prod/test_nginx_fallback.py checks the language choice in detail.)
"""

from __future__ import annotations

import time

from tests.prod.helpers import bot_texts, say, set_slot, tracker_events, try_again_text, user_texts


def test_the_try_again_text_exists_in_both_languages():
    assert "try again" in try_again_text("en").lower()
    assert "thử lại" in try_again_text("vi")


def test_user_is_told_to_try_again_in_their_language_and_the_conversation_continues(prod_stack):
    sender, english = f"action-down-{time.time_ns()}", f"action-down-en-{time.time_ns()}"
    assert say(prod_stack, sender, "count one") == ["#1 count one"]
    assert say(prod_stack, english, "count one") == ["#1 count one"]
    set_slot(prod_stack, english, "language", "en")  # as the assistant's language detection would
    action_servers = [n for n in prod_stack.processes.names() if n.startswith("actions-")]
    for name in action_servers:
        prod_stack.processes.stop(name)
    try:
        started = time.monotonic()
        replies = say(prod_stack, sender, "count two")
        assert replies == [try_again_text("vi")], replies
        assert time.monotonic() - started < 10, "the user waited too long for the try-again answer"
        assert say(prod_stack, english, "count two") == [try_again_text("en")]
        # answers from the domain, the "was this helpful?" question included, need no action server
        assert say(prod_stack, sender, "hello") == ["hello from the fixture bot", "was that helpful?"]
    finally:
        prod_stack.start_actions()
        prod_stack.wait_ready(action_servers, timeout=120)
    # back: the counter continues from the stored conversation (the failed turn changed nothing)
    assert say(prod_stack, sender, "count three") == ["#2 count three"]
    assert say(prod_stack, sender, "hello") == ["hello from the fixture bot", "was that helpful?"]
    events = tracker_events(prod_stack, sender)
    assert user_texts(events) == ["count one", "count two", "hello", "count three", "hello"]
    assert bot_texts(events)[1] == try_again_text("vi")
    assert say(prod_stack, english, "count three") == ["#2 count three"]
