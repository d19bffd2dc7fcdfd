"""The chat widget's history on any device: GET /helpcenter/history (Authorization: Bearer <token>).

The conversation is keyed by the token's verified subject and workspace (the channel stores each
message under them), never by anything the browser names; no or a bad token gets 401. The answer
also says whether a person holds the conversation now, so a reloaded widget shows it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request

from webapp import agent_data, auth

HISTORY_LIMIT = 100


def create_blueprint(settings: Any = None) -> Blueprint:
    bp = Blueprint("history")

    @bp.get("/helpcenter/history")
    async def history(request: Request) -> Any:
        caller = auth.bearer_caller(request)
        if caller is None:
            return auth.error(401, "unauthenticated", "Đăng nhập để xem lại cuộc trò chuyện trên mọi thiết bị.")
        body = await asyncio.to_thread(
            agent_data.history, request.app.ctx.settings.database_url, caller.sub, caller.workspace_id, HISTORY_LIMIT
        )
        return response.json(body, headers={"Cache-Control": "no-store"})

    return bp
