"""The verified input channels: a conversation belongs to the token's subject, never to an id
the client picks; a missing or bad token means an anonymous conversation, never an error."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import requests
import socketio

from helpdesk.channel import anonymous_sender_id, sender_for, user_sender_id
from helpdesk.identity import issue_token
from tests.web.conftest import WEB_TEST_SECRET

pytestmark = pytest.mark.timeout(60)


def token(sub="alice", workspace_id="demo-monthly", role="customer", secret=WEB_TEST_SECRET, minutes=10, now=None):
    return issue_token(sub=sub, workspace_id=workspace_id, role=role, secret=secret, minutes=minutes, now=now)


# -- the binding itself -------------------------------------------------------------------


def test_a_verified_user_always_gets_the_same_unguessable_conversation():
    first = sender_for({"token": token()}, "session-1", WEB_TEST_SECRET)
    renewed = sender_for({"token": token(minutes=5)}, "session-2", WEB_TEST_SECRET)
    assert first == renewed == user_sender_id("alice", WEB_TEST_SECRET)
    assert "alice" not in first  # derived with the secret: not guessable from the user id
    assert user_sender_id("alice", "another-secret") != first
    assert sender_for({"token": token(sub="bob")}, "session-1", WEB_TEST_SECRET) != first


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        None,
        "not a dict",
        {"token": ""},
        {"token": "garbage.token.value"},
        {"token": 12345},
        {"token": token(secret="forged-with-another-secret-0123456789")},
        {"token": token(now=datetime.now(timezone.utc) - timedelta(hours=2), minutes=10)},  # expired
        {"token": token()[:-4] + "AAAA"},  # signature tampered
    ],
)
def test_a_missing_or_bad_token_means_an_anonymous_conversation_of_the_client_session(metadata):
    sender = sender_for(metadata, "client-session", WEB_TEST_SECRET)
    assert sender == anonymous_sender_id("client-session", WEB_TEST_SECRET)
    assert sender.startswith("anon-")
    assert sender != anonymous_sender_id("other-session", WEB_TEST_SECRET)


def test_an_anonymous_session_named_like_a_user_conversation_stays_anonymous():
    victim = user_sender_id("alice", WEB_TEST_SECRET)
    assert sender_for({}, victim, WEB_TEST_SECRET) != victim


# -- over the socket, against a running server ---------------------------------------------


class Client:
    """A socket.io client like the widget: session_request, then user_uttered with metadata."""

    def __init__(self, url):
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.replies = []
        self.confirmed = asyncio.get_event_loop().create_future()
        self.sio.on("bot_uttered", self._on_reply)
        self.sio.on("session_confirm", self._on_confirm)

    async def _on_reply(self, data):
        self.replies.append(data)

    async def _on_confirm(self, session_id):
        if not self.confirmed.done():
            self.confirmed.set_result(session_id)

    async def open(self, session_id=None, tok=None):
        await self.sio.connect(
            self.url, socketio_path="/socket.io", transports=["polling"]
        )  # engineio's websocket client needs a newer aiohttp
        await self.sio.emit("session_request", {"session_id": session_id, "metadata": {"token": tok} if tok else {}})
        return await asyncio.wait_for(self.confirmed, 10)

    async def say(self, text, session_id, tok=None, wait=True):
        before = len(self.replies)
        await self.sio.emit(
            "user_uttered", {"message": text, "session_id": session_id, "metadata": {"token": tok} if tok else {}}
        )
        if wait:
            for _ in range(100):
                if len(self.replies) > before:
                    return self.replies[-1]["text"]
                await asyncio.sleep(0.05)
            raise AssertionError("no reply")

    async def close(self):
        # a polling client waits for its pending long-poll on disconnect; the tests need not
        try:
            await asyncio.wait_for(self.sio.disconnect(), 1)
        except asyncio.TimeoutError:
            pass


def conversation_of(reply_text):
    return reply_text.split()[0].split("=", 1)[1]


@pytest.mark.asyncio
async def test_socket_messages_with_a_token_reach_the_subjects_conversation_whatever_session_id_is_sent(echo_channel):
    client = Client(echo_channel.url)
    try:
        session = await client.open(tok=token())
        reply = await client.say("xin chào", session, tok=token())
        assert conversation_of(reply) == user_sender_id("alice", WEB_TEST_SECRET)
        # claiming someone else's conversation as the session id changes nothing
        reply = await client.say("lần nữa", user_sender_id("bob", WEB_TEST_SECRET), tok=token())
        assert conversation_of(reply) == user_sender_id("alice", WEB_TEST_SECRET)
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_nobody_reads_or_writes_another_users_conversation_by_guessing_ids(echo_channel):
    alice, mallory = Client(echo_channel.url), Client(echo_channel.url)
    alice_conversation = user_sender_id("alice", WEB_TEST_SECRET)
    try:
        alice_session = await alice.open(tok=token())
        # Mallory knows Alice's session id AND her conversation id, and has her own valid token
        await mallory.open(session_id=alice_session, tok=token(sub="mallory"))
        reply = await mallory.say("đọc trộm", alice_conversation, tok=token(sub="mallory"))
        assert conversation_of(reply) == user_sender_id("mallory", WEB_TEST_SECRET)
        reply = await mallory.say("không token", alice_session)
        assert conversation_of(reply).startswith("anon-")
        assert conversation_of(reply) != alice_conversation

        seen_by_mallory = len(mallory.replies)
        reply = await alice.say("bí mật của Alice", alice_session, tok=token())
        assert conversation_of(reply) == alice_conversation
        await asyncio.sleep(0.5)
        assert len(mallory.replies) == seen_by_mallory, "Mallory received Alice's reply"
        assert all("bí mật" not in r["text"] for r in mallory.replies)
    finally:
        await alice.close()
        await mallory.close()


@pytest.mark.asyncio
async def test_a_second_tab_of_the_same_user_shares_the_conversation(echo_channel):
    tab1, tab2 = Client(echo_channel.url), Client(echo_channel.url)
    try:
        s1 = await tab1.open(tok=token(sub="carol"))
        await tab2.open(tok=token(sub="carol"))
        await tab1.say("từ tab 1", s1, tok=token(sub="carol"))
        for _ in range(40):
            if tab2.replies:
                break
            await asyncio.sleep(0.05)
        assert tab2.replies and "từ tab 1" in tab2.replies[-1]["text"]
    finally:
        await tab1.close()
        await tab2.close()


@pytest.mark.asyncio
async def test_an_anonymous_visitor_keeps_their_conversation_across_a_reload(echo_channel):
    first = Client(echo_channel.url)
    session = await first.open()
    reply = await first.say("chào", session, tok="expired-or-garbage")
    anon = conversation_of(reply)
    assert anon == anonymous_sender_id(session, WEB_TEST_SECRET)
    await first.close()
    reloaded = Client(echo_channel.url)
    try:
        assert await reloaded.open(session_id=session) == session
        assert conversation_of(await reloaded.say("tôi quay lại", session)) == anon
    finally:
        await reloaded.close()


@pytest.mark.asyncio
async def test_malformed_socket_payloads_are_ignored_without_breaking_the_connection(echo_channel):
    client = Client(echo_channel.url)
    try:
        session = await client.open()
        for payload in ("just a string", 42, None, ["a", "list"], {"message": {"nested": 1}, "metadata": "{bad json"}):
            await client.sio.emit("user_uttered", payload)
        await client.sio.emit("session_request", "not a dict")
        await client.sio.emit("session_request", {"session_id": "x" * 5000})
        reply = await client.say("vẫn ổn chứ?", session)
        assert "vẫn ổn chứ?" in reply
    finally:
        await client.close()


# -- the verified REST channel ---------------------------------------------------------


def rest(echo_channel, body):
    answer = requests.post(f"{echo_channel.url}/webhooks/verified/webhook", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return conversation_of(answer.json()[0]["text"])


def test_rest_channel_binds_to_the_token_and_ignores_the_claimed_sender(echo_channel):
    alice = user_sender_id("alice", WEB_TEST_SECRET)
    assert rest(echo_channel, {"sender": "anything", "message": "hi", "metadata": {"token": token()}}) == alice
    claimed = rest(echo_channel, {"sender": alice, "message": "hi"})
    assert claimed != alice and claimed.startswith("anon-")
    forged = rest(
        echo_channel,
        {"sender": alice, "message": "hi", "metadata": {"token": token(secret="nope-not-the-secret-0123456789abcdef")}},
    )
    assert forged != alice
