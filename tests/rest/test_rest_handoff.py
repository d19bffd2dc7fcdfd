"""A real hand-off over the REST channel, against the running servers (the trained model, the
action server, the web app's agent API): the customer asks for a person -> the conversation appears
once in the console queue -> further messages are held and acknowledged, never answered by the
bot -> an agent takes it and replies -> the REST client receives the reply exactly once -> the
agent hands back -> the bot answers again. Token-bound and anonymous, Vietnamese and English.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from helpdesk import channel_texts, conversation_store

pytestmark = pytest.mark.timeout(300)

SENT = {lang: channel_texts.render("utter_handoff_message_sent", lang) for lang in ("vi", "en")}


def say(stack, message, token=None, sender=None):
    payload = {"sender": sender or f"rest-{uuid.uuid4().hex[:10]}", "message": message}
    if token is not None:
        payload["metadata"] = {"token": token}
    response = requests.post(f"http://127.0.0.1:{stack.ports.rasa}/webhooks/rest/webhook", json=payload, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def console(stack, agent, method, path, body=None):
    answer = requests.request(
        method,
        f"http://127.0.0.1:{stack.ports.web}/agent/api{path}",
        json=body,
        headers={"Authorization": f"Bearer {agent}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def in_queue(stack, agent, handoff_id):
    return [h for h in console(stack, agent, "GET", "/handoffs")["handoffs"] if h["id"] == handoff_id]


def texts(replies):
    return [r.get("text") for r in replies]


def hand_off(stack, agent, ask, token, sender):
    """Asks for a person; the conversation id and its one entry in the console queue."""
    replies = say(stack, ask, token, sender)
    conversation = replies[0]["recipient_id"]
    handoff = conversation_store.active_handoff(conversation, stack.database_url)
    assert handoff is not None, replies
    assert {"handoff": {"status": "waiting", "after_hours": False}} in [r.get("custom") for r in replies]
    assert any(r.get("text") for r in replies)  # the bot says what happens next
    [queued] = in_queue(stack, agent, handoff["id"])
    assert queued["status"] == "waiting"
    return conversation, queued, replies


def test_a_customer_on_rest_is_answered_by_a_person_then_by_the_bot_again(live_stack, token_for):
    stack = live_stack
    sub = f"rest-handoff-{uuid.uuid4().hex[:6]}"
    token, agent = token_for("demo-monthly", sub=sub), token_for("demo-monthly", role="agent", sub="agent-lan")
    sender = f"rest-{uuid.uuid4().hex[:10]}"
    assert say(stack, "làm sao để nâng cấp gói?", token, sender)  # the bot answers before any hand-off
    conversation, queued, _ = hand_off(stack, agent, "Cho tôi gặp nhân viên", token, sender)
    assert queued["workspace_id"] == "demo-monthly" and "nâng cấp" in queued["question"]

    # held: kept for the console and acknowledged, the bot stays quiet (asking again included)
    for text in ("bạn ơi, mình cần hoàn tiền đơn hôm qua", "Cho tôi gặp nhân viên"):
        replies = say(stack, text, token, sender)
        assert replies == [
            {
                "recipient_id": conversation,
                "text": SENT["vi"],
                "custom": {"sender": "system", "handoff": {"status": "waiting", "after_hours": False}},
            }
        ]
    assert len(in_queue(stack, agent, queued["id"])) == 1
    detail = console(stack, agent, "GET", f"/handoffs/{queued['id']}")
    said = [(m["role"], m["text"]) for m in detail["messages"]]
    assert ("user", "bạn ơi, mình cần hoàn tiền đơn hôm qua") in said
    assert ("user", "làm sao để nâng cấp gói?") in said and any(role == "bot" for role, _ in said)

    # the agent takes it and replies; the REST client gets the reply once
    console(stack, agent, "POST", f"/handoffs/{queued['id']}/take")
    reply = "Chào bạn, mình là Lan ở bộ phận hỗ trợ. Mình kiểm tra đơn hoàn tiền ngay nhé."
    console(stack, agent, "POST", f"/handoffs/{queued['id']}/reply", {"text": reply})
    polled = say(stack, "", token, sender)
    assert [(r["custom"]["sender"], r["custom"]["handoff"]["status"]) for r in polled] == [
        ("system", "taken"),
        ("agent", "taken"),
    ]
    assert polled[1]["text"] == reply and polled[1]["recipient_id"] == conversation
    for again in (say(stack, "", token, sender), say(stack, "cảm ơn bạn", token, sender)):
        assert reply not in texts(again)
        assert again[-1]["custom"]["handoff"] == {"status": "taken", "after_hours": False}

    # handed back: the notice, then the bot's own answer
    console(stack, agent, "POST", f"/handoffs/{queued['id']}/handback")
    back = say(stack, "làm sao để hạ gói?", token, sender)
    assert back[0]["custom"]["sender"] == "system" and back[0]["custom"]["handoff"]["status"] == "returned"
    bot = [r for r in back[1:] if r.get("text")]
    assert bot and SENT["vi"] not in texts(bot) and "sender" not in (bot[0].get("custom") or {})
    assert in_queue(stack, agent, queued["id"]) == []
    assert conversation_store.active_handoff(conversation, stack.database_url) is None


def test_an_anonymous_english_client_is_held_and_starting_over_ends_it(live_stack, token_for):
    stack = live_stack
    agent = token_for("demo-monthly", role="agent", sub="agent-minh")
    sender = f"rest-{uuid.uuid4().hex[:10]}"
    conversation, queued, _ = hand_off(stack, agent, "I want to speak to a human", None, sender)
    assert conversation.startswith("anon-") and queued["workspace_id"] is None

    replies = say(stack, "Hello, is anyone there? I was charged twice", None, sender)
    assert texts(replies) == [SENT["en"]]
    console(stack, agent, "POST", f"/handoffs/{queued['id']}/reply", {"text": "Hi, this is Minh."})
    # another anonymous client (another sender) never gets it, the right one does, once
    assert "Hi, this is Minh." not in texts(say(stack, "", None, f"rest-{uuid.uuid4().hex[:10]}"))
    assert "Hi, this is Minh." in texts(say(stack, "", None, sender))

    # "/restart" ends the hand-off as the widget's "new conversation" does: the bot answers again
    say(stack, "/restart", None, sender)
    assert conversation_store.get_handoff(queued["id"], stack.database_url)["status"] == "closed"
    answer = say(stack, "How do I downgrade my plan?", None, sender)
    assert SENT["en"] not in texts(answer)
    assert re.search(r"next (billing|renewal)", " ".join(t or "" for t in texts(answer)), re.IGNORECASE), answer
