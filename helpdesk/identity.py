"""Who is talking to the assistant: an HS256 JWT issued by the host application.

The host application (help center, web app) signs a short-lived token with
``HELPDESK_JWT_SECRET`` and passes it in the message metadata. Actions verify it on every
turn and take the workspace only from the verified claims, never from what the user types.

Claims: ``sub`` (user id), ``workspace_id``, ``role`` (``customer`` or ``agent``), ``iat`` and
``exp``, with ``exp - iat`` at most ``HELPDESK_MAX_TOKEN_HOURS`` (24 h): a token "valid until 2999"
is refused.

The token is checked where it enters (helpdesk/channel.py) and never stored: the channel puts an
**identity claim** in its place (``identity_claim``), an HS256 JWT under a key derived from the
secret (so a claim is never a token and a token never a claim), bound to the conversation id and
valid for ``CLAIM_SECONDS``. The actions accept only a claim bound to their tracker's conversation
(``verify_claim``); someone who reads the tracker store finds no token, and a claim copied from it
names one conversation that only its owner's channel can write to, and expires within minutes.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

import jwt

from helpdesk import settings

ALGORITHM = "HS256"
ROLES = ("customer", "agent")

# Documented demo secret: lets `make run` work on a fresh machine. Refused in production mode,
# where a missing secret must stop the service instead of silently accepting forgeable tokens.
DEMO_SECRET = settings.DEMO_JWT_SECRET
CLAIM_SECONDS = 300  # an identity claim serves the turn it came with; minutes are plenty
CLAIM_KIND = "helpdesk-identity-claim"

IdentityConfigError = settings.SettingsError  # the token secret is missing or unsafe for the mode


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
    return settings.current().mode


def jwt_secret() -> str:
    """The signing secret (helpdesk.settings): the demo secret in demo mode, a private one in production."""
    return settings.current().jwt_secret


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
    if minutes > settings.current().max_token_hours * 60:
        raise ValueError(f"a token lives at most {settings.current().max_token_hours} h (HELPDESK_MAX_TOKEN_HOURS)")
    issued = _utc(now)
    claims = {
        "sub": sub,
        "workspace_id": workspace_id,
        "role": role,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
    }
    return jwt.encode(claims, secret or jwt_secret(), algorithm=ALGORITHM)


def verify_token(
    token: object, secret: Optional[str] = None, now: Optional[datetime] = None, max_hours: Optional[int] = None
) -> Optional[Identity]:
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
            options={
                "require": ["exp", "iat", "sub", "workspace_id", "role"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        return None
    try:
        lifetime = int(claims["exp"]) - int(claims["iat"])
    except (TypeError, ValueError, OverflowError):
        return None
    max_hours = settings.current().max_token_hours if max_hours is None else max_hours
    if lifetime <= 0 or lifetime > max_hours * 3600:
        return None  # issued after it expires, or for longer than the documented maximum
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


# --- identity claims: what the channel hands the actions instead of the token -------------------


def _claim_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"helpdesk identity claim v1", hashlib.sha256).digest()


def identity_claim(
    identity: Identity, sender_id: str, secret: Optional[str] = None, now: Optional[datetime] = None
) -> str:
    """A short-lived signed statement "this turn of conversation ``sender_id`` is ``identity``"."""
    issued = _utc(now)
    expires = min(identity.expires_at, issued + timedelta(seconds=CLAIM_SECONDS))
    claims = {
        "kind": CLAIM_KIND,
        "sub": identity.sub,
        "workspace_id": identity.workspace_id,
        "role": identity.role,
        "sender": sender_id,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(claims, _claim_key(secret or jwt_secret()), algorithm=ALGORITHM)


def verify_claim(
    claim: object, sender_id: Optional[str], secret: Optional[str] = None, now: Optional[datetime] = None
) -> Optional[Identity]:
    """The identity in a claim made by the channel for this conversation, or None."""
    if not isinstance(claim, str) or not claim or len(claim) > 4096 or not sender_id:
        return None
    try:
        claims = jwt.decode(
            claim,
            _claim_key(secret or jwt_secret()),
            algorithms=[ALGORITHM],
            options={
                "require": ["exp", "iat", "sub", "workspace_id", "role", "sender", "kind"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        return None
    if claims.get("kind") != CLAIM_KIND or not hmac.compare_digest(str(claims.get("sender")), sender_id):
        return None
    try:
        expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc)
        lifetime = int(claims["exp"]) - int(claims["iat"])
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if expires_at <= _utc(now) or lifetime <= 0 or lifetime > CLAIM_SECONDS:
        return None
    sub, workspace_id, role = claims.get("sub"), claims.get("workspace_id"), claims.get("role")
    if role not in ROLES or not isinstance(sub, str) or not isinstance(workspace_id, str):
        return None
    return Identity(sub=sub, workspace_id=workspace_id, role=role, expires_at=expires_at)
