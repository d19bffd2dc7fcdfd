"""Tokens for the help-center page and the agent console.

Two kinds of credential, never interchangeable:

* the **API / chat token**: the short-lived HS256 JWT of the design (claims ``sub``,
  ``workspace_id``, ``role``, ``exp``) signed with ``HELPDESK_JWT_SECRET``; the widget sends it
  with every chat message and the console sends it as ``Authorization: Bearer``;
* the **demo session cookie**: what the demo login sets. It is signed with a key *derived*
  from the secret, so it never verifies as an API token (and an API token never works as a
  session). The page trades it for a fresh API token at ``GET /helpcenter/token``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import jwt
from sanic import response
from sanic.request import Request

from helpdesk import identity, settings

API_TOKEN_MINUTES = 10
SESSION_HOURS = 8
SESSION_COOKIE = "helpdesk_demo_session"
ROLES = identity.ROLES


@dataclass(frozen=True)
class Caller:
    """Who calls the web app: from a bearer token (helpdesk.identity.Identity, verified) or from
    the demo session cookie, which has no token behind it and may have no workspace (an agent)."""

    sub: str
    workspace_id: Optional[str]
    role: str


def is_demo() -> bool:
    """Demo mode, as helpdesk.settings read it once at start (never the environment per request)."""
    return settings.current().is_demo


def same_origin(request: Request) -> bool:
    """Whether a state-changing request comes from our own pages, not another site (CSRF).

    Browsers send ``Origin`` (and ``Sec-Fetch-Site``) on every cross-site POST; a request with
    neither is not from a browser page and carries no ambient cookie risk.
    """
    site = (request.headers.get("sec-fetch-site") or "").lower()
    if site and site not in ("same-origin", "none"):
        return False
    origin = (request.headers.get("origin") or "").rstrip("/")
    if not origin:
        return True
    return origin in settings.current().allowed_origins or urlsplit(origin).netloc == (request.host or "")


def csrf_refusal(request: Request) -> Optional[Any]:
    """None for a same-origin JSON request; otherwise the 4xx answer to give (CSRF protection:
    a cross-site form cannot send JSON, and a cross-site script cannot without a preflight)."""
    if not (request.content_type or "").startswith("application/json"):
        return error(415, "json_required", "Yêu cầu phải ở dạng JSON.")
    if not same_origin(request):
        return error(403, "cross_site", "Yêu cầu từ trang khác bị từ chối.")
    return None


def jwt_secret() -> str:
    return identity.jwt_secret()  # raises IdentityConfigError in production without a secret


def issue_api_token(sub: str, workspace_id: str, role: str, minutes: int = API_TOKEN_MINUTES) -> str:
    return identity.issue_token(sub=sub, workspace_id=workspace_id, role=role, minutes=minutes, secret=jwt_secret())


def verify_api_token(token: Any) -> Optional[Caller]:
    """The caller named by a valid, unexpired token, or None."""
    verified = identity.verify_token(token, jwt_secret(), datetime.now(timezone.utc))
    if verified is None:
        return None
    return Caller(sub=verified.sub, workspace_id=verified.workspace_id, role=verified.role)


def _session_key() -> bytes:
    return hmac.new(jwt_secret().encode(), b"helpdesk demo session cookie", hashlib.sha256).digest()


def issue_session(sub: str, workspace_id: Optional[str], role: str) -> str:
    claims = {
        "sub": sub,
        "workspace_id": workspace_id,
        "role": role,
        "kind": "demo-session",
        "exp": datetime.now(timezone.utc) + timedelta(hours=SESSION_HOURS),
    }
    return jwt.encode(claims, _session_key(), algorithm="HS256")


def read_session(request: Request) -> Optional[Caller]:
    if not is_demo():  # the demo login exists only in demo mode, and so do its sessions
        return None
    value = request.cookies.get(SESSION_COOKIE)
    if not value or len(value) > 4096:
        return None
    try:
        claims = jwt.decode(value, _session_key(), algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    if claims.get("kind") != "demo-session" or claims.get("role") not in ROLES:
        return None
    return Caller(sub=claims["sub"], workspace_id=claims.get("workspace_id"), role=claims["role"])


def bearer_caller(request: Request) -> Optional[Caller]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return verify_api_token(token.strip())


def error(status: int, code: str, message_vi: str) -> Any:
    return response.json({"error": code, "message": message_vi}, status=status)


def agent_required(handler: Callable) -> Callable:
    """Only a valid token with role ``agent`` passes; customers get 403, everyone else 401."""

    @wraps(handler)
    async def guarded(request: Request, *args: Any, **kwargs: Any) -> Any:
        caller = bearer_caller(request)
        if caller is None:
            return error(401, "unauthenticated", "Vui lòng đăng nhập với tư cách nhân viên hỗ trợ.")
        if caller.role != "agent":
            return error(403, "forbidden", "Tài khoản khách hàng không được dùng bảng điều khiển của nhân viên.")
        request.ctx.caller = caller
        return await handler(request, *args, **kwargs)

    return guarded
