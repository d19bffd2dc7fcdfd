"""Hand-offs over the REST channels (helpdesk/relay.py ``rest_incoming``, helpdesk/channel.py).

First the relay on its own, against a store: a message a hand-off holds is kept for the console,
acknowledged in its language and never given to the bot; the agent's replies and the notices reach
the REST caller once each, in order, and only the caller of that conversation; hand back, close and
"/restart" give the conversation back to the bot. Then over real servers (the verified channels
with an echo bot, and the web app's agent API, sharing one database), anonymous and token-bound.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests

from helpdesk import channel_texts, conversation_store
from helpdesk.channel import anonymous_sender_id, user_sender_id
from helpdesk.identity import Identity, issue_token
from helpdesk.relay import Relay, RestTurn
from tests.dbs import new_billing_database_url
from tests.web.conftest import WEB_TEST_SECRET, start_echo, start_web

pytestmark = pytest.mark.timeout(90)

SENT_VI = channel_texts.render("utter_handoff_message_sent", "vi")
SENT_EN = channel_texts.render("utter_handoff_message_sent", "en")


@pytest.fixture
def store(tmp_path):
    return new_billing_database_url(tmp_path)


@pytest.fixture
def relay(store):
    return Relay(url=store)


def identity(sub="hana", workspace_id="demo-free"):
    return Identity(sub=sub, workspace_id=workspace_id, role="customer", expires_at=datetime.now(timezone.utc))


def held(store, sender, **kwargs):
    return conversation_store.record_handoff(sender, "Khách hỏi: …", url=store, **kwargs)


def agent_reply(store, handoff_id, text, agent="agent-a"):
    """What the console's reply does (webapp/agent_data.handoff_reply)."""
    row = conversation_store.get_handoff(handoff_id, store)
    if row["status"] == conversation_store.WAITING:
        conversation_store.take_handoff(handoff_id, agent, store)
    return conversation_store.add_message(
        row["sender_id"], "agent", text, handoff_id=handoff_id, author=agent, url=store
    )


def texts_of(items):
    return [item.get("text") for item in items]


def roles(store, sender):
    return [(m["role"], m["text"]) for m in conversation_store.conversation(sender, store)]


# -- the relay ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_without_a_hand_off_the_bot_answers_and_the_message_is_kept(relay, store):
    sender = anonymous_sender_id("s-1", WEB_TEST_SECRET)
    turn = await relay.rest_incoming(sender, "làm sao nâng cấp", {}, None)
    assert turn == RestTurn(answer=None, owed=[])
    assert roles(store, sender) == [("user", "làm sao nâng cấp")]


@pytest.mark.asyncio
async def test_a_held_message_goes_to_the_transcript_and_is_acknowledged_in_its_language(relay, store):
    sender = anonymous_sender_id("s-2", WEB_TEST_SECRET)
    handoff = held(store, sender)
    turn = await relay.rest_incoming(sender, "còn ở đó không?", {}, None)
    state = {"sender": "system", "handoff": {"status": "waiting", "after_hours": False}}
    assert turn.answer == [{"recipient_id": sender, "text": SENT_VI, "custom": state}]
    assert SENT_VI.startswith("Đã gửi tin nhắn cho nhân viên hỗ trợ")
    english = await relay.rest_incoming(sender, "are you there? I need help with my invoice", {}, None)
    assert english.answer is not None and texts_of(english.answer) == [SENT_EN]
    # "ok" says nothing of its language: the hand-off's (Vietnamese) is kept
    assert texts_of((await relay.rest_incoming(sender, "ok", {}, None)).answer or []) == [SENT_VI]
    kept = conversation_store.conversation(sender, store)
    assert [(m["role"], m["text"], m["handoff_id"]) for m in kept] == [
        ("user", "còn ở đó không?", handoff["id"]),
        ("user", "are you there? I need help with my invoice", handoff["id"]),
        ("user", "ok", handoff["id"]),
    ]


@pytest.mark.asyncio
async def test_agent_replies_reach_the_rest_caller_once_each_in_order(relay, store):
    sender = anonymous_sender_id("s-3", WEB_TEST_SECRET)
    handoff = held(store, sender)
    await relay.rest_incoming(sender, "xin chào", {}, None)
    first = agent_reply(store, handoff["id"], "Chào bạn, mình là Lan.")
    second = agent_reply(store, handoff["id"], "Bạn đang dùng gói nào?")

    turn = await relay.rest_incoming(sender, "", {}, None)  # a poll
    assert turn.answer is not None
    assert [i["custom"]["sender"] for i in turn.answer] == ["system", "agent", "agent"]
    assert "agent-a" in turn.answer[0]["text"]  # the "taken" notice names the agent
    assert texts_of(turn.answer[1:]) == ["Chào bạn, mình là Lan.", "Bạn đang dùng gói nào?"]
    assert [i["custom"]["message_id"] for i in turn.answer[1:]] == [first, second]
    for item in turn.answer:
        assert item["recipient_id"] == sender
        assert item["custom"]["handoff"] == {"status": "taken", "after_hours": False}
        assert item["custom"]["at"].endswith("+00:00")

    # nothing is given twice: the next poll has the state only, a message only its acknowledgement
    again = await relay.rest_incoming(sender, "", {}, None)
    taken = {"sender": "system", "handoff": {"status": "taken", "after_hours": False}}
    assert again.answer == [{"recipient_id": sender, "custom": taken}]
    message = await relay.rest_incoming(sender, "mình dùng Free", {}, None)
    assert message.answer == [{"recipient_id": sender, "text": SENT_VI, "custom": taken}]
    agent_reply(store, handoff["id"], "Cảm ơn bạn.")
    with_reply = await relay.rest_incoming(sender, "còn gì nữa không", {}, None)
    assert texts_of(with_reply.answer or []) == ["Cảm ơn bạn.", SENT_VI]


@pytest.mark.asyncio
async def test_a_token_bound_conversation_is_held_and_one_callers_replies_never_reach_another(relay, store):
    hana, mallory = identity("hana"), identity("mallory", "demo-monthly")
    hana_id, mallory_id = user_sender_id("hana", WEB_TEST_SECRET), user_sender_id("mallory", WEB_TEST_SECRET)
    anon_id = anonymous_sender_id("hana", WEB_TEST_SECRET)  # an anonymous session named like her
    hana_handoff = held(store, hana_id, workspace_id="demo-free", user_sub="hana")
    mallory_handoff = held(store, mallory_id, workspace_id="demo-monthly", user_sub="mallory")
    for sender, who in ((hana_id, hana), (mallory_id, mallory), (anon_id, None)):
        await relay.rest_incoming(sender, "xin chào", {}, who)
    agent_reply(store, hana_handoff["id"], "Bí mật của Hana: gói Free còn 3 ngày.")

    for sender, who in ((mallory_id, mallory), (anon_id, None)):
        turn = await relay.rest_incoming(sender, "", {}, who)
        assert all("Hana" not in (item.get("text") or "") for item in (turn.answer or []) + turn.owed), turn
    assert (await relay.rest_incoming(mallory_id, "", {}, mallory)).answer == [
        {
            "recipient_id": mallory_id,
            "custom": {"sender": "system", "handoff": {"status": "waiting", "after_hours": False}},
        }
    ]
    mine = await relay.rest_incoming(hana_id, "", {}, hana)
    assert texts_of(mine.answer or [])[-1] == "Bí mật của Hana: gói Free còn 3 ngày."
    # the token-bound messages are kept under her subject and workspace: her history on any device
    history = conversation_store.history("hana", "demo-free", store)
    assert ("user", "xin chào") in [(m["role"], m["text"]) for m in history]
    assert all(m["sender_id"] == hana_id for m in history)
    assert conversation_store.get_handoff(mallory_handoff["id"], store)["status"] == "waiting"


@pytest.mark.asyncio
async def test_after_hand_back_the_bot_answers_after_the_last_notices(relay, store):
    sender = anonymous_sender_id("s-4", WEB_TEST_SECRET)
    handoff = held(store, sender)
    await relay.rest_incoming(sender, "xin chào", {}, None)
    agent_reply(store, handoff["id"], "Đã xử lý xong cho bạn.")
    conversation_store.hand_back(handoff["id"], "agent-a", store)

    turn = await relay.rest_incoming(sender, "cảm ơn", {}, None)
    assert turn.answer is None  # the bot answers this one...
    assert [(i["custom"]["sender"], i["custom"]["handoff"]["status"]) for i in turn.owed] == [
        ("system", "returned"),  # taken
        ("agent", "returned"),
        ("system", "returned"),  # handed back
    ]
    assert "trợ lý tự động" in turn.owed[-1]["text"]
    assert roles(store, sender)[-1] == ("user", "cảm ơn")
    assert conversation_store.get_handoff(handoff["id"], store)["status"] == "returned"
    assert await relay.rest_incoming(sender, "còn câu hỏi", {}, None) == RestTurn(None, [])


@pytest.mark.asyncio
async def test_a_poll_that_finds_the_hand_off_closed_gets_its_last_messages_not_the_bot(relay, store):
    sender = anonymous_sender_id("s-5", WEB_TEST_SECRET)
    handoff = held(store, sender)
    await relay.rest_incoming(sender, "", {}, None)
    agent_reply(store, handoff["id"], "Tạm biệt bạn.")
    conversation_store.close_handoff(handoff["id"], "agent-a", store)
    turn = await relay.rest_incoming(sender, "", {}, None)
    assert turn.answer is not None and texts_of(turn.answer)[1] == "Tạm biệt bạn."
    assert turn.answer[-1]["custom"]["handoff"]["status"] == "closed"
    # nothing open, nothing owed: an empty message goes to the bot as it always did
    assert await relay.rest_incoming(sender, "", {}, None) == RestTurn(None, [])


@pytest.mark.asyncio
async def test_restart_ends_the_hand_off_as_on_the_socket_and_skips_what_was_owed(relay, store):
    sender = user_sender_id("quan", WEB_TEST_SECRET)
    handoff = held(store, sender, user_sub="quan", workspace_id="demo-monthly")
    await relay.rest_incoming(sender, "xin chào", {}, identity("quan", "demo-monthly"))
    agent_reply(store, handoff["id"], "Bạn cần gì?")
    turn = await relay.rest_incoming(sender, "/restart", {}, identity("quan", "demo-monthly"))
    assert turn == RestTurn(None, [])  # Rasa restarts the conversation
    assert conversation_store.get_handoff(handoff["id"], store)["status"] == "closed"
    assert conversation_store.active_handoff(sender, store) is None
    assert roles(store, sender)[-1] == ("restart", "")
    assert await relay.rest_incoming(sender, "câu hỏi mới", {}, identity("quan", "demo-monthly")) == RestTurn(None, [])


@pytest.mark.asyncio
async def test_a_button_while_held_is_kept_as_its_title_and_acknowledged(relay, store):
    sender = anonymous_sender_id("s-6", WEB_TEST_SECRET)
    handoff = held(store, sender)
    turn = await relay.rest_incoming(sender, "/affirm", {"shown": "Đồng ý"}, None)
    assert texts_of(turn.answer or []) == [SENT_VI]
    assert roles(store, sender) == [("user", "Đồng ý")]
    assert conversation_store.conversation(sender, store)[0]["handoff_id"] == handoff["id"]


@pytest.mark.asyncio
async def test_after_hours_the_acknowledgement_says_by_when(relay, store):
    sender = anonymous_sender_id("s-7", WEB_TEST_SECRET)
    by = datetime.now(timezone.utc) + timedelta(hours=14)
    held(store, sender, after_hours=True, expected_by=by, language="en")
    turn = await relay.rest_incoming(sender, "hello, anyone?", {}, None)
    [item] = turn.answer or []
    assert item["custom"]["handoff"] == {"status": "waiting", "after_hours": True}
    assert item["text"].startswith("Your message was sent") and "(Vietnam time)" in item["text"]
    vi = await relay.rest_incoming(sender, "có ai không ạ", {}, None)
    assert "ngoài giờ làm việc" in texts_of(vi.answer or [])[0] and "(giờ Việt Nam)" in texts_of(vi.answer or [])[0]


@pytest.mark.asyncio
async def test_the_first_rest_call_gets_the_open_hand_offs_replies_but_nothing_older(relay, store):
    """A widget customer who goes on over REST: the replies of the hand-off still open are owed, the
    older ones went to the widget."""
    sender = user_sender_id("tuan", WEB_TEST_SECRET)
    old = held(store, sender)
    agent_reply(store, old["id"], "câu trả lời cũ")
    conversation_store.close_handoff(old["id"], "agent-a", store)
    current = held(store, sender)
    agent_reply(store, current["id"], "câu trả lời mới")
    turn = await relay.rest_incoming(sender, "", {}, identity("tuan"))
    shown = texts_of(turn.answer or [])
    assert "câu trả lời mới" in shown and "câu trả lời cũ" not in shown


def four_customers_at_once(store, sender, handoff, turns):
    """Four callers of one held conversation send ``turns`` messages each, starting at the same
    moment: every message is kept once, under the hand-off. The ids of the replies they were given."""
    got, errors = [], []
    barrier = threading.Barrier(4)

    def customer(n):
        barrier.wait()
        try:
            for turn in range(turns):
                holding, rows = conversation_store.open_turn(sender, f"khách {n}-{turn}", url=store)
                assert holding is not None and holding["id"] == handoff["id"]
                got.extend(row["id"] for row in rows)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    kept = [m for m in conversation_store.conversation(sender, store) if m["role"] == "user"]
    assert sorted(m["text"] for m in kept) == sorted(f"khách {n}-{t}" for n in range(4) for t in range(turns))
    assert {m["handoff_id"] for m in kept} == {handoff["id"]}
    return got


def test_first_rest_calls_at_the_same_moment_start_one_cursor_and_deliver_each_reply_once(store):
    """Several first REST messages of one held conversation at once (the cursor is created with the
    first of them): every message kept once under the hand-off, every owed reply delivered once."""
    sender = anonymous_sender_id("s-8e", WEB_TEST_SECRET)
    handoff = held(store, sender)
    for n in range(5):
        agent_reply(store, handoff["id"], f"trả lời {n}")
    pushed = [m["id"] for m in conversation_store.conversation(sender, store) if m["role"] in conversation_store.PUSHED]
    assert sorted(four_customers_at_once(store, sender, handoff, turns=1)) == pushed


def test_concurrent_calls_never_deliver_a_reply_twice(store):
    sender = anonymous_sender_id("s-8", WEB_TEST_SECRET)
    handoff = held(store, sender)
    conversation_store.claim_for_rest(sender, store)  # the cursor starts here
    ids = [agent_reply(store, handoff["id"], f"trả lời {n}") for n in range(30)]
    got, errors = [], []
    barrier = threading.Barrier(6)

    def poll():
        barrier.wait()
        try:
            for _ in range(5):
                got.extend(row["id"] for row in conversation_store.claim_for_rest(sender, store))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=poll) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    agent_messages = [i for i in sorted(got) if i in ids]
    assert agent_messages == ids and len(got) == len(set(got))


def test_concurrent_messages_are_each_kept_once_and_replies_delivered_once(store):
    """``open_turn`` keeps the customer's message, then claims the replies: when another call moved
    the cursor the claim starts again, and the message is still kept once."""
    sender = anonymous_sender_id("s-8b", WEB_TEST_SECRET)
    handoff = held(store, sender)
    conversation_store.claim_for_rest(sender, store)
    ids = [agent_reply(store, handoff["id"], f"trả lời {n}") for n in range(20)]
    got = four_customers_at_once(store, sender, handoff, turns=5)
    assert [i for i in sorted(got) if i in ids] == ids and len(got) == len(set(got))


def test_a_socket_turn_keeps_the_message_and_claims_nothing(store):
    """The socket's turn (``claim_rest=False``): the message is kept under the hand-off, and what a
    REST caller would be owed stays owed (the socket pushes it instead)."""
    sender = anonymous_sender_id("s-8d", WEB_TEST_SECRET)
    handoff = held(store, sender)
    conversation_store.claim_for_rest(sender, store)
    reply = agent_reply(store, handoff["id"], "chào bạn")
    holding, owed = conversation_store.open_turn(sender, "có ai không", claim_rest=False, url=store)
    assert holding["id"] == handoff["id"] and owed == []
    assert roles(store, sender)[-2:] == [("agent", "chào bạn"), ("user", "có ai không")]
    assert reply in [row["id"] for row in conversation_store.claim_for_rest(sender, store)]


def test_a_turn_whose_claim_fails_keeps_the_message_and_owes_the_replies_still(store, monkeypatch):
    """The message is one write and the claim of what is owed another: when the claim fails, the
    message stands under its hand-off (the conversation stays with the agent) and the replies wait
    for the next call, each delivered once."""
    sender = anonymous_sender_id("s-8c", WEB_TEST_SECRET)
    handoff = held(store, sender)
    conversation_store.claim_for_rest(sender, store)
    agent_reply(store, handoff["id"], "chào bạn")  # with the notice that the agent took it
    pushed = [m["id"] for m in conversation_store.conversation(sender, store) if m["role"] in conversation_store.PUSHED]
    real_claim = conversation_store._claim_in

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(conversation_store, "_claim_in", broken)
    holding, owed = conversation_store.open_turn(sender, "tin nhắn", url=store)
    assert holding["id"] == handoff["id"] and owed == []
    assert roles(store, sender)[-1] == ("user", "tin nhắn")
    monkeypatch.setattr(conversation_store, "_claim_in", real_claim)
    _, owed = conversation_store.open_turn(sender, "còn đó không", url=store)
    assert [row["id"] for row in owed] == pushed and len(pushed) == 2
    assert conversation_store.open_turn(sender, "", url=store)[1] == []
    assert [m["text"] for m in conversation_store.conversation(sender, store) if m["role"] == "user"] == [
        "tin nhắn",
        "còn đó không",
    ]


@pytest.mark.asyncio
async def test_a_store_that_fails_never_stops_the_bot():
    relay = Relay(url="sqlite:////nonexistent-folder/no.db")
    assert await relay.rest_incoming("anon-x", "xin chào", {}, None) == RestTurn(None, [])


@pytest.mark.asyncio
async def test_the_rest_output_keeps_each_reply_once_and_gives_the_hand_off_its_rest_shape(relay, store):
    sender = anonymous_sender_id("s-9", WEB_TEST_SECRET)
    collector = relay.collector(sender, None)
    await collector.send_text_message(sender, "Dòng một.\n\nDòng hai.")
    await collector.send_text_with_buttons(sender, "Chọn:", [{"title": "Có", "payload": "/affirm"}])
    await collector.send_custom_json(sender, {"data": {"handoff": {"status": "waiting", "after_hours": False}}})
    await collector.send_custom_json(sender, {"other": 1})
    assert collector.messages == [
        {"recipient_id": sender, "text": "Dòng một."},  # the stock REST split
        {"recipient_id": sender, "text": "Dòng hai."},
        {"recipient_id": sender, "text": "Chọn:", "buttons": [{"title": "Có", "payload": "/affirm"}]},
        {"recipient_id": sender, "custom": {"handoff": {"status": "waiting", "after_hours": False}}},
        {"recipient_id": sender, "custom": {"other": 1}},
    ]
    assert conversation_store.conversation(sender, store) == []  # kept when the turn ends, in one write
    await collector.keep_replies()
    await collector.keep_replies()  # a second call keeps nothing twice
    kept = conversation_store.conversation(sender, store)
    assert [(m["role"], m["text"], m["buttons"]) for m in kept] == [
        ("bot", "Dòng một.\n\nDòng hai.", []),
        ("bot", "Chọn:", [{"title": "Có", "payload": "/affirm"}]),
    ]


# -- over real servers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rest-handoff")
    web = start_web(folder)
    echo = start_echo(folder, web.database_url)
    yield web, echo
    echo.stop()
    web.stop()


def tok(sub, workspace_id="demo-free", role="customer"):
    return issue_token(sub=sub, workspace_id=workspace_id, role=role, secret=WEB_TEST_SECRET, minutes=10)


def api(web, method, path, token, body=None):
    answer = requests.request(
        method, f"{web.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(echo, channel, message, token=None, sender="rest-client"):
    body = {"sender": sender, "message": message, "metadata": {"token": token} if token else {}}
    answer = requests.post(f"{echo.url}/webhooks/{channel}/webhook", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def queue_of(web, agent, sender):
    """The console queue's entries for this conversation (the queue does not show conversation ids)."""
    ids = {h["id"] for h in conversation_store.list_handoffs(web.database_url) if h["sender_id"] == sender}
    return [h for h in api(web, "GET", "/agent/api/handoffs", agent)["handoffs"] if h["id"] in ids]


@pytest.mark.parametrize(
    "channel, customer, sender",
    [
        ("rest", "linh", None),  # BoundRestInput, a token-bound conversation
        ("verified", None, "anon-session-1"),  # VerifiedRestInput, an anonymous one
    ],
)
def test_a_rest_hand_off_end_to_end(servers, channel, customer, sender):
    web, echo = servers
    token = tok(customer) if customer else None
    session = sender or "ignored-with-a-token"
    conversation = (
        user_sender_id(customer, WEB_TEST_SECRET) if customer else anonymous_sender_id(session, WEB_TEST_SECRET)
    )
    agent = tok("agent-a", "support", "agent")

    assert "heard=xin chào" in post(echo, channel, "xin chào", token, session)[0]["text"]
    asked = post(echo, channel, "/request_human", token, session)
    assert asked[-1]["custom"] == {"handoff": {"status": "waiting", "after_hours": False}}
    [queued] = queue_of(web, agent, conversation)
    assert queued["status"] == "waiting"

    # held: acknowledged, not answered by the bot; the console reads it
    held_reply = post(echo, channel, "mình cần hoàn tiền", token, session)
    assert texts_of(held_reply) == [SENT_VI] and "heard=" not in str(held_reply)
    assert len(queue_of(web, agent, conversation)) == 1
    detail = api(web, "GET", f"/agent/api/handoffs/{queued['id']}", agent)
    said = [(m["role"], m["text"]) for m in detail["messages"]]
    assert ("user", "mình cần hoàn tiền") in said and ("bot", "Tôi đã chuyển cho nhân viên.") in said

    text = "Chào bạn, mình kiểm tra giao dịch hoàn tiền ngay."
    api(web, "POST", f"/agent/api/handoffs/{queued['id']}/reply", agent, {"text": text})
    polled = post(echo, channel, "", token, session)
    assert [(i["custom"]["sender"], i["custom"]["handoff"]["status"]) for i in polled] == [
        ("system", "taken"),
        ("agent", "taken"),
    ]
    assert polled[1]["text"] == text and polled[1]["recipient_id"] == conversation
    assert all(text != i.get("text") for i in post(echo, channel, "", token, session))  # once
    assert texts_of(post(echo, channel, "cảm ơn bạn", token, session)) == [SENT_VI]

    api(web, "POST", f"/agent/api/handoffs/{queued['id']}/handback", agent)
    back = post(echo, channel, "câu hỏi tiếp", token, session)
    assert back[0]["custom"]["handoff"]["status"] == "returned" and back[0]["custom"]["sender"] == "system"
    assert "heard=câu hỏi tiếp" in back[-1]["text"]
    assert queue_of(web, agent, conversation) == []


def test_another_customer_on_rest_never_reads_a_conversations_agent_replies(servers):
    web, echo = servers
    agent = tok("agent-a", "support", "agent")
    alice = tok("alice-rest", "demo-monthly")
    alice_id = user_sender_id("alice-rest", WEB_TEST_SECRET)
    post(echo, "rest", "/request_human", alice, "alice-session")
    [queued] = queue_of(web, agent, alice_id)
    api(web, "POST", f"/agent/api/handoffs/{queued['id']}/reply", agent, {"text": "Gửi riêng Alice"})
    # Mallory: her own token with Alice's session and conversation ids as sender; no token at all
    for token, sender in ((tok("mallory-rest"), alice_id), (None, "alice-session"), (None, alice_id)):
        for channel in ("rest", "verified"):
            seen = post(echo, channel, "", token, sender) + post(echo, channel, "đọc trộm", token, sender)
            assert all("Alice" not in (i.get("text") or "") for i in seen), seen
            assert all(i["recipient_id"] != alice_id for i in seen)
    mine = post(echo, "verified", "", alice, "any-session")
    assert [i["text"] for i in mine if i["custom"]["sender"] == "agent"] == ["Gửi riêng Alice"]
    api(web, "POST", f"/agent/api/handoffs/{queued['id']}/close", agent)


def test_bad_input_is_answered_as_before_during_a_hand_off(servers):
    web, echo = servers
    token = tok("bad-input-rest")
    post(echo, "rest", "/request_human", token)
    too_long = post(echo, "rest", "hoàn tiền " * 300, token)
    assert len(too_long) == 1 and "2.000" in too_long[0]["text"]  # answered at the edge, not kept
    conversation = user_sender_id("bad-input-rest", WEB_TEST_SECRET)
    assert all(m["text"] != "hoàn tiền " * 300 for m in conversation_store.conversation(conversation, web.database_url))
    for body in ([1, 2], {"message": 5}, {"message": "x", "metadata": [1]}):
        answer = requests.post(f"{echo.url}/webhooks/rest/webhook", json=body, timeout=10)
        assert answer.status_code == 400 and answer.json()["error"] == "bad_request"
