"""A Sanic server carrying only the verified input channels, with an echo bot behind them.

The bot answers every message with the conversation id it was filed under, so the tests can
see which conversation a message reached and who receives the reply, without a trained model.
"/request_human" does what action_request_human does: it files a hand-off for the conversation and
says so, with the action's custom message.
Run: python tests/web/channel_echo_server.py PORT
"""

from __future__ import annotations

import sys

from sanic import Sanic, response

from helpdesk import conversation_store
from helpdesk.channel import BoundRestInput, VerifiedRestInput, VerifiedSocketIOInput


def build() -> Sanic:
    app = Sanic("channel_echo", register=False)

    async def echo(message) -> None:
        if message.text == "/request_human":
            handoff = conversation_store.record_handoff(message.sender_id, "Khách muốn gặp nhân viên")
            await message.output_channel.send_text_message(message.sender_id, "Tôi đã chuyển cho nhân viên.")
            state = {"status": handoff["status"], "after_hours": False}
            await message.output_channel.send_custom_json(message.sender_id, {"data": {"handoff": state}})
            return
        await message.output_channel.send_text_message(
            message.sender_id, f"conversation={message.sender_id} heard={message.text}"
        )

    channels = (
        VerifiedSocketIOInput.from_credentials({"socketio_path": "/socket.io"}),
        VerifiedRestInput(),
        BoundRestInput(),
    )
    for channel in channels:
        app.blueprint(channel.blueprint(echo), url_prefix=f"/webhooks/{channel.name()}")

    @app.get("/ready")
    async def ready(_request):
        return response.json({"ok": True})

    return app


if __name__ == "__main__":
    build().run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False, workers=1)
