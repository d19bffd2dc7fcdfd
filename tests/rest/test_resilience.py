"""The embedded default (`make run`) keeps conversations and survives a crash.

One customer conversation, on the live stack under its supervisor: a personal question, then
a checkout (form) that is interrupted by the death of each component in turn (`kill -9` of the
action server, of Rasa, of the web app) and by a restart of the whole stack. After each the
supervisor restarts what died (visible on its /health), the conversation carries on where it was
(the form goes on, nothing is asked again), the payment goes through once, and the tracker store
holds every turn, once, in order.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from helpdesk.stack import Stack

pytestmark = pytest.mark.timeout(600)

CHECKOUT = "toi muon nang cap khong gian lam viec so len goi standard theo thang cho 5 nguoi"
# buttons to press, in this order of preference, until the pay link comes (as the browser test)
CHOICES = ["Gia hạn thủ công", "Xác nhận", "Standard", "Không gian làm việc số", "Hàng tháng", "Giữ nguyên"]


class Conversation:
    def __init__(self, token: str) -> None:
        self.sender = f"resilience-{uuid.uuid4().hex[:10]}"
        self.token = token
        self.sent: list = []
        self.conversation_id = ""
        self.stack: Stack

    def say(self, message: str) -> list:
        payload = {"sender": self.sender, "message": message, "metadata": {"token": self.token}}
        response = requests.post(
            f"http://127.0.0.1:{self.stack.ports.rasa}/webhooks/rest/webhook", json=payload, timeout=90
        )
        assert response.status_code == 200, response.text
        replies = response.json()
        assert replies, f"no answer to {message!r}"
        # the channel names the conversation after the verified user, whatever sender we sent
        self.conversation_id = replies[0]["recipient_id"]
        self.sent.append(message)
        return replies

    def next_step(self, replies: list) -> list:
        """Presses the button the checkout asks for next."""
        buttons = [b for r in replies for b in r.get("buttons") or [] if b.get("payload")]
        for wanted in CHOICES:
            for button in buttons:
                if wanted in button.get("title", ""):
                    return self.say(button["payload"])
        raise AssertionError(f"checkout asks nothing known: {texts(replies)} {buttons}")


def texts(replies: list) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def pay_link(replies: list):
    for match in json.dumps(replies, ensure_ascii=False).split('"'):
        if "vnp_SecureHash=" in match and match.startswith("http"):
            return match
    return None


def kill(stack: Stack, name: str) -> int:
    process = stack.process(name)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    return process.pid


def health(stack: Stack) -> dict:
    response = requests.get(stack.supervisor.url, timeout=5)  # type: ignore[union-attr]
    report = response.json()
    assert response.status_code == (200 if report["status"] == "ok" else 503)
    return report


def wait_restarted(stack: Stack, name: str, restarts: int, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = health(stack)
        component = report["components"][name]
        if component["restarts"] == restarts and report["status"] == "ok":
            return report
        time.sleep(0.25)
    raise AssertionError(f"{name} not back after {timeout:.0f} s: {health(stack)}")


def stored_user_texts(tracker_db, sender: str) -> list:
    with sqlite3.connect(str(tracker_db)) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE type_name = 'user' AND sender_id = ? ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(row[0]).get("text") for row in rows]


def own_copy_of_demo_monthly(url: str) -> str:
    """A workspace like demo-monthly that no other test touches: the session's live stack is
    shared, and the browser scenarios pay for demo-monthly's upgrade before this test runs."""
    from billing_core import SqlAlchemyUnitOfWork, load_catalog, utcnow
    from billing_core.service_layer.demo import demo_monthly

    workspace = demo_monthly(utcnow(), load_catalog())
    workspace.id = f"resilience-{uuid.uuid4().hex[:8]}"
    uow = SqlAlchemyUnitOfWork(url)
    with uow:
        uow.workspaces.add(workspace)
        uow.commit()
    return workspace.id


def orders(url: str, workspace_id: str) -> list:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT txn_ref, status FROM orders WHERE workspace_id = :ws"), {"ws": workspace_id}
        ).fetchall()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_conversation_survives_each_component_dying_and_a_restart(live_stack, token_for):
    """On the session's live stack (the other suites find it healthy afterwards)."""
    stack = live_stack
    url = stack.database_url
    workspace_id = own_copy_of_demo_monthly(url)
    before = orders(url, workspace_id)
    chat = Conversation(token_for(workspace_id))
    chat.stack = stack
    supervisor = stack.supervisor or stack.supervise(backoff=0.5)
    assert health(stack)["status"] == "ok"

    assert texts(chat.say("Gói hiện tại của tôi là gì?"))
    replies = chat.say(CHECKOUT)
    assert pay_link(replies) is None

    # 1. the action server dies in the middle of the checkout form
    dead = kill(stack, "actions")
    report = wait_restarted(stack, "actions", 1)
    assert report["components"]["actions"]["pid"] != dead
    assert report["components"]["actions"]["last_exit"]["code"] == -signal.SIGKILL
    replies = chat.next_step(replies)  # the form goes on: the next question, not a new start

    # 2. Rasa dies: the conversation is read back from the tracker store, the form goes on
    kill(stack, "rasa")
    wait_restarted(stack, "rasa", 1)
    if not pay_link(replies):
        replies = chat.next_step(replies)

    # 3. the whole stack stops and starts again on the same tracker store
    stack.stop()
    stack.start(timeout=300)
    stack.supervise(backoff=0.5)
    for _ in range(8):
        if pay_link(replies):
            break
        replies = chat.next_step(replies)
    link = pay_link(replies)
    assert link, f"no pay link: {texts(replies)}"
    new = [order for order in orders(url, workspace_id) if order not in before]
    assert [status for _, status in new] == ["pending"]

    # 4. the web app dies before the customer pays: the payment still goes through, once
    kill(stack, "web")
    wait_restarted(stack, "web", 1)
    paid = requests.post(
        f"http://127.0.0.1:{stack.ports.web}/sandbox/vnpay/api/pay", json={"pay_url": link, "outcome": "00"}, timeout=30
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["ipn_answer"]["RspCode"] == "00"
    assert [(ref, status) for ref, status in orders(url, workspace_id) if ref == new[0][0]] == [(new[0][0], "paid")]
    status = texts(chat.say("thanh toan cua toi thanh cong chua")).lower()
    assert "thành công" in status or "đã thanh toán" in status, status

    # every turn stored once, in order; the supervisors logged each restart
    assert chat.conversation_id.startswith("u-")
    assert stored_user_texts(stack.tracker_db, chat.conversation_id) == chat.sent
    log = (stack.log_dir / "supervisor.log").read_text()
    for name in ("actions", "rasa", "web"):
        assert f"{name} exited with -9; restarting" in log
    assert supervisor is not stack.supervisor  # the first one stopped with its stack
