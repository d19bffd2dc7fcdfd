"""Who is talking to the assistant: an HS256 JWT issued by the host application.

The host application (help center, web app) signs a short-lived token with
``HELPDESK_JWT_SECRET`` and passes it in the message metadata. Actions verify it on every
turn and take the workspace only from the verified claims, never from what the user types.

Claims: ``sub`` (user id), ``workspace_id``, ``role`` (``customer`` or ``agent``), ``exp``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

import jwt

ALGORITHM = "HS256"
ROLES = ("customer", "agent")

# Documented demo secret: lets `make run` work on a fresh machine. Refused in production mode,
# where a missing secret must stop the service instead of silently accepting forgeable tokens.
DEMO_SECRET = "cleeksy-demo-secret-change-me-0123456789"


class IdentityConfigError(RuntimeError):
    """The token secret is missing or unsafe for the configured mode."""


@dataclass(frozen=True)
class Identity:
    sub: str
    workspace_id: str
    role: str
    expires_at: datetime

    @property
    def is_agent(self) -> bool:
        return self.role == "agent"

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"


def helpdesk_mode() -> str:
    return (os.environ.get("HELPDESK_MODE") or "demo").strip().lower()


def jwt_secret() -> str:
    """The signing secret from the environment; the demo secret only outside production."""
    secret = (os.environ.get("HELPDESK_JWT_SECRET") or "").strip()
    production = helpdesk_mode() == "production"
    if production and (not secret or secret == DEMO_SECRET):
        raise IdentityConfigError(
            "HELPDESK_JWT_SECRET must be set to a private value when HELPDESK_MODE=production "
            "(the documented demo secret is refused)."
        )
    if production and len(secret) < 32:
        raise IdentityConfigError("HELPDESK_JWT_SECRET must be at least 32 characters in production.")
    return secret or DEMO_SECRET


def _utc(now: Optional[datetime]) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def issue_token(
    sub: str,
    workspace_id: str,
    role: str = "customer",
    secret: Optional[str] = None,
    minutes: int = 60,
    now: Optional[datetime] = None,
) -> str:
    """A signed token (demo login, tests, scripts/demo_token.py)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if not sub or not workspace_id:
        raise ValueError("sub and workspace_id are required")
    issued = _utc(now)
    claims = {
        "sub": sub,
        "workspace_id": workspace_id,
        "role": role,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
    }
    return jwt.encode(claims, secret or jwt_secret(), algorithm=ALGORITHM)


def verify_token(token: object, secret: Optional[str] = None, now: Optional[datetime] = None) -> Optional[Identity]:
    """The identity of a valid token, or ``None`` (missing, forged, expired, malformed).

    Never raises for a bad token: the assistant then answers with the general rule.
    """
    if not isinstance(token, str) or not token.strip() or len(token) > 4096:
        return None
    checked_at = _utc(now)
    try:
        claims = jwt.decode(
            token.strip(),
            secret or jwt_secret(),
            algorithms=[ALGORITHM],  # pinned: never accept "none" or an asymmetric confusion
            options={"require": ["exp", "sub", "workspace_id", "role"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    # Expiry checked against our clock (``now``) so tests and the server agree on one time.
    try:
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if expires_at <= checked_at:
        return None
    sub, workspace_id, role = claims.get("sub"), claims.get("workspace_id"), claims.get("role")
    if role not in ROLES or not isinstance(sub, str) or not isinstance(workspace_id, str):
        return None
    if not sub.strip() or not workspace_id.strip():
        return None
    return Identity(sub=sub, workspace_id=workspace_id, role=role, expires_at=expires_at)
