"""Ratings of older answers over the live REST channel (docs/decisions.md §22): the buttons of each
"was this helpful?" carry the prompt's id, so a click on a prompt far above (older than the turns
Rasa loads) is recorded once with that answer's topic and answered with the thanks alone; a forged
id records nothing and still gets a polite answer in the user's language."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from helpdesk import conversation_store, ratings
from helpdesk.channel import user_sender_id
from tests.conftest import TEST_JWT_SECRET

pytestmark = pytest.mark.timeout(300)
THANKS = {"vi": "Cleeksy chân thành cảm ơn ý kiến đóng góp của bạn!", "en": "Thank you for your feedback!"}


class Customer:
    """A logged-in customer of a workspace, in a conversation of their own."""

    def __init__(self, stack, token_for, workspace):
        self.stack = stack
        self.sub = f"rating-{uuid.uuid4().hex[:10]}"
        self.token = token_for(workspace, sub=self.sub)
        self.sender_id = user_sender_id(self.sub, TEST_JWT_SECRET)

    def say(self, message, metadata=None):
        body = {"sender": "anything", "message": message, "metadata": {"token": self.token, **(metadata or {})}}
        url = f"http://127.0.0.1:{self.stack.ports.rasa}/webhooks/rest/webhook"
        response = requests.post(url, json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def ratings(self):
        return [
            (row["topic"], row["helpful"])
            for row in reversed(conversation_store.list_feedback(self.stack.database_url, limit=1000))
            if row["sender_id"] == self.sender_id
        ]


def prompt_buttons(replies):
    """{title: payload} of the "was this helpful?" in these replies (exactly one)."""
    prompts = [r for r in replies if any(ratings.rating_entities(b.get("payload")) for b in r.get("buttons") or [])]
    assert len(prompts) == 1, replies
    return {b["title"]: b["payload"] for b in prompts[0]["buttons"]}


def texts(replies):
    return [r.get("text", "") for r in replies]


def test_a_click_on_a_prompt_older_than_the_loaded_turns_rates_that_answer(live_stack, token_for):
    customer = Customer(live_stack, token_for, "demo-trial")
    trial = prompt_buttons(customer.say("toi con bao nhieu ngay dung thu"))
    payload = json.loads(trial["Có"][len("/rate_answer") :])
    assert payload["rating"] == "yes" and ratings.parse_prompt_id(payload["prompt"])
    upgrade = prompt_buttons(customer.say("làm sao để nâng cấp gói?"))
    assert upgrade["Có"] != trial["Có"]  # each prompt has its own id
    for turn in range(11):  # more user messages than the tracker store loads for a turn (10)
        customer.say("xin chào" if turn % 2 else "cảm ơn")
    replies = customer.say(trial["Có"])
    assert texts(replies) == [THANKS["vi"]]  # the thanks, nothing else
    assert customer.ratings() == [("trial", True)]
    # the same prompt again, now "no": the rating is replaced, not counted twice; a person is offered
    replies = customer.say(trial["Không"])
    assert "Bạn có muốn gặp nhân viên hỗ trợ không?" in texts(replies)[0]
    assert [b["payload"] for b in replies[0]["buttons"]][0] == "/request_human"
    assert customer.ratings() == [("trial", False)]
    replies = customer.say(upgrade["Có"])
    assert texts(replies) == [THANKS["vi"]]
    assert customer.ratings() == [("trial", False), ("upgrade_howto", True)]


@pytest.mark.parametrize(
    "prompt",
    [
        pytest.param("abc", id="not-a-number"),
        pytest.param("-1764561234.5", id="negative"),
        pytest.param("9" * 30, id="huge"),
        pytest.param(12345, id="a-number"),
        pytest.param("1764561234.5", id="no-such-prompt"),
    ],
)
@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_forged_prompt_id_records_nothing_and_is_answered_politely(live_stack, token_for, prompt, language):
    customer = Customer(live_stack, token_for, "demo-monthly")
    question = "how do I pay with VNPAY?" if language == "en" else "thanh toán VNPAY như thế nào?"
    prompt_buttons(customer.say(question))
    forged = "/rate_answer" + json.dumps({"rating": "yes", "prompt": prompt}, separators=(",", ":"))
    # a claim of what the channel found, sent by the client, is dropped at the edge
    claim = {"rated_prompt": {"prompt": "1764561234.5", "intent": "ask_trial", "sig": "0" * 64}}
    replies = customer.say(forged, metadata=claim)
    assert texts(replies) == [THANKS[language]]
    assert customer.ratings() == []


def test_a_rating_button_from_another_conversation_records_nothing_here(live_stack, token_for):
    first, second = Customer(live_stack, token_for, "demo-free"), Customer(live_stack, token_for, "demo-free")
    theirs = prompt_buttons(first.say("cách nâng cấp gói"))
    prompt_buttons(second.say("cách hạ gói"))
    assert texts(second.say(theirs["Có"])) == [THANKS["vi"]]
    assert second.ratings() == [] and first.ratings() == []
