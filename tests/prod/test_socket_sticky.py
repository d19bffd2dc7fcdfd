"""socket.io through nginx with two Rasa servers: a long-polling client keeps reaching the server
that holds its engine.io session (sticky `helpdesk_route` cookie), so no reply is lost.

Without stickiness every other poll would land on the server that does not know the session id
and the client would be disconnected ("Invalid session"). Polling only, on purpose: WebSocket
needs no stickiness once connected.
"""

from __future__ import annotations

import queue
import time

import socketio


def test_long_polling_conversation_through_nginx_gets_every_reply(prod_stack):
    replies: "queue.Queue[str]" = queue.Queue()
    disconnects = []
    client = socketio.Client(reconnection=False)
    client.on("bot_uttered", lambda data: replies.put(data.get("text", "")))
    client.on("disconnect", lambda *args: disconnects.append(time.monotonic()))
    client.connect(prod_stack.config.rasa_url, transports=["polling"], socketio_path="/socket.io")
    try:
        cookies = client.eio.http.cookies if client.eio.http is not None else {}
        assert "helpdesk_route" in cookies, "nginx did not give the client its route cookie"
        for n in range(1, 13):
            client.emit("user_uttered", {"message": f"count {n}", "session_id": client.sid})
            assert replies.get(timeout=30) == f"#{n} count {n}"
            time.sleep(0.2)  # several polls per turn, each a fresh chance to hit the wrong server
        assert disconnects == []
    finally:
        client.disconnect()
