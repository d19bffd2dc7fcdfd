"""A live hand-off over real servers: the verified socket.io channel (echo bot, no model needed)
and the web app, sharing one database. The customer asks for a person -> the conversation appears
once in the queue and the bot stays quiet -> an agent takes it and replies -> the customer's socket
receives the reply live -> the history shows it on another device -> the agent hands back and the
bot answers again. Other customers and other agents cannot read or write it."""

from __future__ import annotations

import asyncio

import pytest
import requests

from helpdesk import conversation_store
from helpdesk.channel import user_sender_id
from helpdesk.identity import issue_token
from tests.web.conftest import WEB_TEST_SECRET, start_echo, start_web
from tests.web.test_channel import Client

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("handoff")
    web = start_web(folder)
    echo = start_echo(folder, web.database_url)
    yield web, echo
    echo.stop()
    web.stop()


def tok(sub, workspace_id="demo-free", role="customer"):
    return issue_token(sub=sub, workspace_id=workspace_id, role=role, secret=WEB_TEST_SECRET, minutes=10)


def api(web, method, path, token, body=None):
    return requests.request(
        method, f"{web.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


async def wait_for(client, predicate, seconds=8.0):
    for _ in range(int(seconds / 0.05)):
        found = [r for r in client.replies if predicate(r)]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing matched; got {client.replies}")


@pytest.mark.asyncio
async def test_handoff_end_to_end(servers):
    web, echo = servers
    customer_token = tok("hana")
    agent_a, agent_b = tok("agent-a", "support", "agent"), tok("agent-b", "support", "agent")
    sender = user_sender_id("hana", WEB_TEST_SECRET)
    customer = Client(echo.url)
    try:
        session = await customer.open(tok=customer_token)
        reply = await customer.say("sao toi ko ha xuong free dc", session, tok=customer_token)
        assert "heard=sao toi" in reply  # the bot answers while nobody holds the conversation

        # what action_request_human does when the customer asks for a person (twice: one row)
        for _ in range(2):
            conversation_store.record_handoff(
                sender,
                "Khách hỏi: sao toi ko ha xuong free dc",
                "demo-free",
                url=web.database_url,
                user_sub="hana",
                question="sao toi ko ha xuong free dc",
                bot_answer="Không được: …",
            )
        queue = api(web, "GET", "/agent/api/handoffs", agent_a).json()["handoffs"]
        mine = [h for h in queue if h["workspace_id"] == "demo-free"]
        assert len(mine) == 1 and mine[0]["status"] == "waiting" and mine[0]["question"].startswith("sao toi")
        handoff_id = mine[0]["id"]

        # held: the bot stays quiet, the console sees the message
        before = len(customer.replies)
        await customer.say("con o do khong?", session, tok=customer_token, wait=False)
        await asyncio.sleep(0.8)
        assert len(customer.replies) == before, "the bot answered a held conversation"
        detail = api(web, "GET", f"/agent/api/handoffs/{handoff_id}", agent_a).json()
        assert [m["text"] for m in detail["messages"] if m["role"] == "user"][-1] == "con o do khong?"
        assert any(m["role"] == "bot" and "heard=sao toi" in m["text"] for m in detail["messages"])

        # agent A takes it: the customer is told live; agent B can neither take nor reply
        taken = api(web, "POST", f"/agent/api/handoffs/{handoff_id}/take", agent_a).json()
        assert taken["handoff"]["status"] == "taken"
        notice = await wait_for(customer, lambda r: r.get("sender") == "system")
        assert notice["handoff"] == {"status": "taken"} and "agent-a" in notice["text"]
        for path, body in (
            (f"/agent/api/handoffs/{handoff_id}/take", None),
            (f"/agent/api/handoffs/{handoff_id}/reply", {"text": "tôi cướp lời"}),
        ):
            answer = api(web, "POST", path, agent_b, body)
            assert answer.status_code == 409 and answer.json()["error"] == "not_yours"

        # bad replies are refused in Vietnamese, nothing is sent
        for body, code in (
            ({"text": "  "}, "empty_reply"),
            ({"text": "x" * 2001}, "reply_too_long"),
            (["a list"], "empty_reply"),
        ):
            answer = api(web, "POST", f"/agent/api/handoffs/{handoff_id}/reply", agent_a, body)
            assert answer.status_code == 400 and answer.json()["error"] == code and answer.json()["message"]

        # the reply reaches the customer's socket live
        text = "Chào bạn, mình là nhân viên Cleeksy. Bạn đang dùng thử nên chưa hạ xuống Free được."
        assert api(web, "POST", f"/agent/api/handoffs/{handoff_id}/reply", agent_a, {"text": text}).status_code == 200
        pushed = await wait_for(customer, lambda r: r.get("sender") == "agent")
        assert pushed["text"] == text and pushed["handoff"] == {"status": "taken"} and pushed["at"].endswith("+00:00")

        # another device of the same customer reads the whole conversation; nobody else does
        history = requests.get(
            f"{web.url}/helpcenter/history", headers={"Authorization": f"Bearer {customer_token}"}, timeout=10
        ).json()
        roles = [(m["role"], m["text"]) for m in history["messages"]]
        assert ("user", "sao toi ko ha xuong free dc") in roles and ("agent", text) in roles
        assert history["handoff"] == {"status": "taken", "after_hours": False}
        other = requests.get(
            f"{web.url}/helpcenter/history", headers={"Authorization": f"Bearer {tok('mallory')}"}, timeout=10
        ).json()
        assert other["messages"] == [] and other["handoff"] is None
        assert requests.get(f"{web.url}/helpcenter/history", timeout=10).status_code == 401
        assert api(web, "GET", f"/agent/api/handoffs/{handoff_id}", customer_token).status_code == 403

        # hand back: the customer is told, and the bot answers again
        returned = api(web, "POST", f"/agent/api/handoffs/{handoff_id}/handback", agent_a).json()
        assert returned["handoff"]["status"] == "returned"
        await wait_for(customer, lambda r: r.get("handoff") == {"status": "returned"})
        reply = await customer.say("cảm ơn", session, tok=customer_token)
        assert "heard=cảm ơn" in reply
        assert all(h["id"] != handoff_id for h in api(web, "GET", "/agent/api/handoffs", agent_a).json()["handoffs"])
        answer = api(web, "POST", f"/agent/api/handoffs/{handoff_id}/reply", agent_a, {"text": "còn đó không"})
        assert answer.status_code == 409 and answer.json()["error"] == "finished"
        assert api(web, "POST", "/agent/api/handoffs/999999/close", agent_a).status_code == 404
    finally:
        await customer.close()


@pytest.mark.asyncio
async def test_starting_over_ends_the_hand_off_and_close_tells_the_customer(servers):
    web, echo = servers
    customer_token = tok("quan", "demo-monthly")
    agent = tok("agent-a", "support", "agent")
    sender = user_sender_id("quan", WEB_TEST_SECRET)
    customer = Client(echo.url)
    try:
        session = await customer.open(tok=customer_token)
        await customer.say("câu hỏi cũ", session, tok=customer_token)
        first = conversation_store.record_handoff(sender, "s", "demo-monthly", url=web.database_url, user_sub="quan")
        await customer.say("/restart", session, tok=customer_token)  # "Trò chuyện mới": the bot again
        history = requests.get(
            f"{web.url}/helpcenter/history", timeout=10, headers={"Authorization": f"Bearer {customer_token}"}
        ).json()
        assert all("câu hỏi cũ" not in m["text"] for m in history["messages"])  # started over everywhere
        assert conversation_store.active_handoff(sender, web.database_url) is None
        assert conversation_store.get_handoff(first["id"], web.database_url)["status"] == "closed"

        second = conversation_store.record_handoff(sender, "s", "demo-monthly", url=web.database_url, user_sub="quan")
        assert second["created"] and second["id"] != first["id"]
        assert api(web, "POST", f"/agent/api/handoffs/{second['id']}/close", agent).status_code == 200
        notice = await wait_for(customer, lambda r: r.get("handoff") == {"status": "closed"})
        assert "kết thúc" in notice["text"]
        assert "heard=lại đây" in await customer.say("lại đây", session, tok=customer_token)
    finally:
        await customer.close()
