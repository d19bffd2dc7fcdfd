"""A Sanic server with the assistant's real input channels (credentials.yml) and a probe bot
behind them: the bot answers with what Rasa would have received, as JSON (the conversation id,
the text and the metadata), so the tests see exactly what would reach the tracker store, the
logs and the action server. No trained model needed.

Run: python tests/security/probe_server.py PORT
"""

from __future__ import annotations

import json
import sys

from sanic import Sanic, response

from helpdesk.channel import BoundRestInput, VerifiedRestInput, VerifiedSocketIOInput

HEARD = []  # every message that got past the edge (what the NLU would have seen)


def build() -> Sanic:
    app = Sanic("channel_probe", register=False)

    async def probe(message) -> None:
        HEARD.append(len(message.text or ""))
        await message.output_channel.send_text_message(
            message.sender_id,
            json.dumps(
                {
                    "sender_id": message.sender_id,
                    "text_length": len(message.text or ""),
                    "metadata": message.metadata,
                    "input_channel": message.input_channel,
                }
            ),
        )

    channels = (
        VerifiedSocketIOInput.from_credentials({"socketio_path": "/socket.io"}),
        VerifiedRestInput(),
        BoundRestInput(),
    )
    for channel in channels:
        app.blueprint(channel.blueprint(probe), url_prefix=f"/webhooks/{channel.name()}")

    @app.get("/ready")
    async def ready(_request):
        return response.json({"ok": True})

    @app.get("/heard")
    async def heard(_request):
        return response.json({"heard": HEARD})

    return app


if __name__ == "__main__":
    build().run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False, workers=1)
