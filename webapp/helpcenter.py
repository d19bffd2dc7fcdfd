"""The customer's help-center page, its demo login, and the token endpoint of the widget.

GET  /                        the help article (Vietnamese) with the chat widget
POST /helpcenter/demo-login   demo mode only: {"workspace_id": ..., "role": "customer"|"agent"}
POST /helpcenter/logout       forget the demo session (JSON, same origin only: CSRF)
GET  /helpcenter/token        a fresh short-lived token for the logged-in demo session (401 if none)
GET  /helpcenter/me           who the demo session is (or {"role": null})

In production the host application mints the token itself (same claims, same secret) and the
demo login answers 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional, cast
from urllib.parse import urlsplit

from sanic import Blueprint, response
from sanic.request import Request

import billing_core as bc
from helpdesk import settings as helpdesk_settings
from webapp import auth
from webapp.page_templates import STATIC, page, widget_built

DEMO_WORKSPACES = tuple((ws_id, bc.DEMO_WORKSPACE_LABELS[ws_id]) for ws_id in bc.DEMO_WORKSPACE_IDS)
DEMO_AGENT_SUB = "demo-agent"
# tokens always carry a workspace_id (helpdesk.identity); an agent's names the support desk
AGENT_WORKSPACE = "support"


def demo_workspace_ids() -> list:
    return [key for key, _ in DEMO_WORKSPACES]


def rasa_public_url() -> str:
    """Where the browser reaches Rasa's socket.io server: ``HELPDESK_RASA_PUBLIC_URL`` as read at
    start. Never built from the request (a ``Host`` header would end up in the page's CSP)."""
    return helpdesk_settings.current().rasa_public_url


def _connect_sources(rasa_url: str) -> str:
    parts = urlsplit(rasa_url)
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{rasa_url} {ws_scheme}://{parts.netloc}"


def _caller_json(caller: Optional[auth.Caller]) -> dict:
    if caller is None:
        return {"role": None, "workspace_id": None}
    return {"role": caller.role, "workspace_id": caller.workspace_id, "sub": caller.sub}


def create_blueprint(settings: Any = None) -> Blueprint:
    bp = Blueprint("helpcenter")
    bp.static("/static", str(STATIC), name="static")

    @bp.get("/")
    async def help_center(request: Request) -> Any:
        rasa_url = rasa_public_url()
        config = {
            "rasa_url": rasa_url,
            "socket_path": "/socket.io",
            "demo": auth.is_demo(),
            "demo_workspaces": [{"id": key, "label": label} for key, label in DEMO_WORKSPACES],
            "widget_built": widget_built(),
        }
        return page("helpcenter_index.html", config, _connect_sources(rasa_url))

    @bp.get("/favicon.ico")
    async def favicon(request: Request) -> Any:
        return response.empty(status=204)

    @bp.post("/helpcenter/demo-login")
    async def demo_login(request: Request) -> Any:
        if not auth.is_demo():
            return auth.error(404, "not_found", "Đăng nhập thử chỉ có ở chế độ demo.")
        # JSON from our own pages only: a cross-site HTML form cannot send it without a preflight
        refused = auth.csrf_refusal(request)
        if refused is not None:
            return refused
        try:
            body = request.json if isinstance(request.json, dict) else {}
        except Exception:
            body = {}
        role = body.get("role", "customer")
        workspace_id = body.get("workspace_id")
        if role not in auth.ROLES:
            return auth.error(400, "bad_role", "Vai trò không hợp lệ: chọn khách hàng hoặc nhân viên.")
        if role == "customer":
            if workspace_id not in demo_workspace_ids():
                return auth.error(400, "unknown_workspace", "Không tìm thấy không gian làm việc demo này.")
            sub = f"demo-user-{workspace_id}"
        else:
            workspace_id, sub = AGENT_WORKSPACE, DEMO_AGENT_SUB
        caller = auth.Caller(sub=sub, workspace_id=workspace_id, role=role)
        result = response.json(_caller_json(caller))
        result.cookies[auth.SESSION_COOKIE] = auth.issue_session(sub, workspace_id, role)
        cookie = result.cookies[auth.SESSION_COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Lax"
        cookie["path"] = "/"
        cookie["max-age"] = auth.SESSION_HOURS * 3600
        return result

    @bp.post("/helpcenter/logout")
    async def logout(request: Request) -> Any:
        refused = auth.csrf_refusal(request)  # another site must not log our users out
        if refused is not None:
            return refused
        result = response.json({"role": None, "workspace_id": None})
        del result.cookies[auth.SESSION_COOKIE]
        return result

    @bp.get("/helpcenter/me")
    async def me(request: Request) -> Any:
        return response.json(_caller_json(auth.read_session(request)), headers={"Cache-Control": "no-store"})

    @bp.get("/helpcenter/token")
    async def token(request: Request) -> Any:
        caller = auth.read_session(request)
        if caller is None:
            return auth.error(401, "no_session", "Bạn chưa đăng nhập; trợ lý sẽ trả lời theo quy định chung.")
        expires_at = datetime.now(timezone.utc) + timedelta(minutes=auth.API_TOKEN_MINUTES)
        workspace_id = cast(str, caller.workspace_id)  # demo_login gives every session a workspace
        minted = auth.issue_api_token(caller.sub, workspace_id, caller.role)
        return response.json(
            {**_caller_json(caller), "token": minted, "expires_at": expires_at.isoformat()},
            headers={"Cache-Control": "no-store"},
        )

    return bp
