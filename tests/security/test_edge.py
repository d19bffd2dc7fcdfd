"""What crosses the edge (helpdesk/channel.py), against the real channels with a probe bot:
the token never goes on, the identity claim that replaces it cannot be reused elsewhere, oversized
input is answered at the edge in the user's language, malformed bodies get 4xx, and only the
help-center origins may open the chat socket."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import socketio

from helpdesk import identity
from helpdesk.channel import user_sender_id
from helpdesk.identity import DEMO_SECRET, issue_token, verify_claim
from tests.security.conftest import say
from tests.web.test_channel import Client

pytestmark = pytest.mark.timeout(120)

CHANNELS = ["rest", "verified"]


def token(sub="alice", workspace_id="demo-monthly", role="customer", minutes=10):
    return issue_token(sub=sub, workspace_id=workspace_id, role=role, secret=DEMO_SECRET, minutes=minutes)


def received(answer):
    assert answer.status_code == 200, answer.text
    replies = answer.json()
    assert len(replies) == 1, replies
    return json.loads(replies[0]["text"])


def heard(probe):
    return requests.get(f"{probe.url}/heard", timeout=10).json()["heard"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_token_never_goes_past_the_edge_only_a_claim_bound_to_the_conversation(probe, channel):
    tok = token()
    seen = received(say(probe.url, "xin chào", token=tok, channel=channel, sender="mallory-picks-this"))
    assert tok not in json.dumps(seen)
    assert "token" not in seen["metadata"]
    assert seen["sender_id"] == user_sender_id("alice", DEMO_SECRET) != "mallory-picks-this"
    claim = seen["metadata"]["identity"]
    who = verify_claim(claim, seen["sender_id"], secret=DEMO_SECRET)
    assert who is not None and (who.sub, who.workspace_id, who.role) == ("alice", "demo-monthly", "customer")
    # read from the tracker store, the claim opens nothing: not another conversation, not as a token
    assert verify_claim(claim, user_sender_id("bob", DEMO_SECRET), secret=DEMO_SECRET) is None
    assert identity.verify_token(claim, secret=DEMO_SECRET) is None
    assert received(say(probe.url, "lần nữa", token=claim, channel=channel))["sender_id"].startswith("anon-")
    # and it is short-lived, whatever the token's own lifetime
    later = datetime.now(timezone.utc) + timedelta(seconds=identity.CLAIM_SECONDS + 1)
    assert verify_claim(claim, seen["sender_id"], secret=DEMO_SECRET, now=later) is None


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_client_cannot_send_its_own_identity_claim(probe, channel):
    forged = identity.identity_claim(
        identity.Identity("eve", "demo-yearly", "agent", datetime.now(timezone.utc) + timedelta(minutes=5)),
        "anything",
        secret="a-key-the-client-chose-0123456789",
    )
    answer = requests.post(
        f"{probe.url}/webhooks/{channel}/webhook",
        timeout=10,
        json={"sender": "eve", "message": "hi", "metadata": {"identity": forged}},
    )
    assert "identity" not in received(answer)["metadata"]


@pytest.mark.asyncio
async def test_the_socket_passes_no_token_either(probe):
    client = Client(probe.url)
    try:
        session = await client.open(tok=token())
        seen = json.loads(await client.say("xin chào", session, tok=token()))
        assert "token" not in seen["metadata"] and seen["metadata"]["identity"]
        assert verify_claim(seen["metadata"]["identity"], seen["sender_id"], secret=DEMO_SECRET).sub == "alice"
    finally:
        await client.close()


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    "body",
    [
        "[1, 2, 3]",
        '"a string"',
        "42",
        "null",
        "{not json",
        "",
        '{"message": 5}',
        '{"message": "hi", "sender": {"a": 1}}',
        '{"message": "hi", "metadata": [1]}',
    ],
)
def test_a_malformed_body_gets_400_not_500(probe, channel, body):
    answer = requests.post(
        f"{probe.url}/webhooks/{channel}/webhook", data=body, timeout=10, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, (answer.status_code, answer.text[:200])


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    "text,lang",
    [
        ("Làm sao để nâng cấp gói? " + "x" * 100_000, "vi"),
        ("lam sao de nang cap goi " * 5000, "vi"),
        ("How do I upgrade my plan? " * 4000, "en"),
    ],
)
def test_a_message_over_the_limit_is_answered_at_the_edge_in_the_users_language(probe, channel, text, lang):
    before = len(heard(probe))
    started = time.monotonic()
    answer = say(probe.url, text, token=token(), channel=channel)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200
    reply = answer.json()[0]["text"]
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    if lang == "vi":
        assert "Tin nhắn của bạn dài quá 2.000 ký tự" in reply
    else:
        assert "Your message is longer than 2,000 characters" in reply
    assert len(heard(probe)) == before, "the oversized text went past the edge"


@pytest.mark.parametrize("channel", CHANNELS)
def test_oversized_metadata_is_answered_at_the_edge(probe, channel):
    before = len(heard(probe))
    answer = requests.post(
        f"{probe.url}/webhooks/{channel}/webhook",
        timeout=10,
        json={"sender": "s", "message": "xin chào", "metadata": {"junk": "x" * 20_000}},
    )
    assert answer.status_code == 200 and "dài quá" in answer.json()[0]["text"]
    assert len(heard(probe)) == before


def test_a_message_at_the_limit_goes_through(probe):
    seen = received(say(probe.url, "a" * 2000))
    assert seen["text_length"] == 2000


def test_a_body_over_a_megabyte_is_refused_before_it_is_read(probe):
    answer = requests.post(
        f"{probe.url}/webhooks/rest/webhook",
        timeout=20,
        data=json.dumps({"message": "x" * 2_000_000}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413


@pytest.mark.asyncio
async def test_a_long_socket_message_is_answered_at_the_edge(probe):
    client = Client(probe.url)
    try:
        session = await client.open(tok=token())
        before = len(heard(probe))
        reply = await client.say("nâng cấp " * 20_000, session, tok=token())
        assert "dài quá 2.000 ký tự" in reply
        assert len(heard(probe)) == before
    finally:
        await client.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:8001"])
async def test_the_socket_refuses_origins_other_than_the_help_center(probe, origin):
    sio = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(probe.url, socketio_path="/socket.io", transports=["polling"], headers={"Origin": origin})
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_the_socket_accepts_the_help_center_origin(probe):
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        probe.url, socketio_path="/socket.io", transports=["polling"], headers={"Origin": "http://localhost:8000"}
    )
    assert sio.connected
    try:
        await asyncio.wait_for(sio.disconnect(), 1)
    except asyncio.TimeoutError:
        pass
