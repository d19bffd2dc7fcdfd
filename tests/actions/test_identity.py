"""helpdesk.identity: HS256 tokens verified every turn; bad tokens read as anonymous."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest

from helpdesk.identity import (
    DEMO_SECRET,
    IdentityConfigError,
    issue_token,
    jwt_secret,
    verify_token,
)

SECRET = "unit-test-secret-0123456789abcdef0123"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def test_valid_customer_token_gives_its_workspace_and_role():
    identity = verify_token(issue_token("u1", "demo-trial", secret=SECRET, now=NOW), secret=SECRET, now=NOW)
    assert identity is not None
    assert (identity.sub, identity.workspace_id, identity.role) == ("u1", "demo-trial", "customer")
    assert identity.is_customer and not identity.is_agent


def test_agent_role_is_kept():
    identity = verify_token(issue_token("a1", "*", role="agent", secret=SECRET, now=NOW), secret=SECRET, now=NOW)
    assert identity is not None and identity.is_agent


def test_expired_token_is_refused():
    token = issue_token("u1", "demo-trial", secret=SECRET, minutes=5, now=NOW)
    assert verify_token(token, secret=SECRET, now=NOW + timedelta(minutes=4)) is not None
    assert verify_token(token, secret=SECRET, now=NOW + timedelta(minutes=5)) is None


def test_token_signed_with_another_secret_is_refused():
    forged = issue_token("u1", "demo-trial", secret="someone-else-0123456789abcdef-0123456789", now=NOW)
    assert verify_token(forged, secret=SECRET, now=NOW) is None


def test_unsigned_and_tampered_tokens_are_refused():
    claims = {
        "sub": "u1",
        "workspace_id": "demo-trial",
        "role": "customer",
        "exp": int((NOW + timedelta(hours=1)).timestamp()),
    }
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    assert verify_token(unsigned, secret=SECRET, now=NOW) is None
    good = issue_token("u1", "demo-trial", secret=SECRET, now=NOW)
    header, payload, signature = good.split(".")
    other_payload = jwt.encode(dict(claims, workspace_id="demo-yearly"), SECRET, algorithm="HS256").split(".")[1]
    assert verify_token(".".join([header, other_payload, signature]), secret=SECRET, now=NOW) is None


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u1", "workspace_id": "w-1", "role": "admin"},
        {"sub": "u1", "role": "customer"},
        {"workspace_id": "w-1", "role": "customer"},
        {"sub": "", "workspace_id": "w-1", "role": "customer"},
        {"sub": "u1", "workspace_id": 42, "role": "customer"},
    ],
)
def test_tokens_with_wrong_claims_are_refused(claims):
    claims = dict(claims, exp=int((NOW + timedelta(hours=1)).timestamp()))
    assert verify_token(jwt.encode(claims, SECRET, algorithm="HS256"), secret=SECRET, now=NOW) is None


@pytest.mark.parametrize("garbage", [None, "", "   ", "abc", "a.b.c", 12, {"token": 1}, "x" * 5000])
def test_garbage_never_raises(garbage):
    assert verify_token(garbage, secret=SECRET, now=NOW) is None


def test_demo_mode_falls_back_to_the_documented_demo_secret(monkeypatch):
    monkeypatch.delenv("HELPDESK_JWT_SECRET", raising=False)
    monkeypatch.setenv("HELPDESK_MODE", "demo")
    assert jwt_secret() == DEMO_SECRET


@pytest.mark.parametrize("secret", [None, "", DEMO_SECRET, "short"])
def test_production_refuses_a_missing_demo_or_weak_secret(monkeypatch, secret):
    monkeypatch.setenv("HELPDESK_MODE", "production")
    if secret is None:
        monkeypatch.delenv("HELPDESK_JWT_SECRET", raising=False)
    else:
        monkeypatch.setenv("HELPDESK_JWT_SECRET", secret)
    with pytest.raises(IdentityConfigError):
        jwt_secret()


def test_production_uses_the_configured_secret(monkeypatch):
    monkeypatch.setenv("HELPDESK_MODE", "production")
    monkeypatch.setenv("HELPDESK_JWT_SECRET", SECRET)
    assert jwt_secret() == SECRET
    token = issue_token("u1", "w-1", now=NOW)
    assert verify_token(token, now=NOW).workspace_id == "w-1"
