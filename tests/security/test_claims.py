"""The action server trusts only a claim the channel made for this conversation (actions/context.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rasa_sdk import Tracker

from actions.context import identity_of
from helpdesk.identity import DEMO_SECRET, Identity, identity_claim, issue_token


def tracker(metadata, sender_id="conversation-a"):
    latest = {"text": "gói của tôi", "intent": {"name": "ask_my_plan"}, "entities": [], "metadata": metadata}
    return Tracker(
        sender_id=sender_id,
        slots={},
        latest_message=latest,
        events=[{"event": "user", "text": "gói của tôi", "parse_data": latest, "metadata": metadata}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


ALICE = Identity("alice", "demo-trial", "customer", datetime.now(timezone.utc) + timedelta(minutes=30))


def test_a_claim_for_this_conversation_is_the_identity(monkeypatch):
    monkeypatch.setenv("HELPDESK_MODE", "demo")
    monkeypatch.delenv("HELPDESK_JWT_SECRET", raising=False)
    who = identity_of(tracker({"identity": identity_claim(ALICE, "conversation-a")}))
    assert who is not None and (who.sub, who.workspace_id) == ("alice", "demo-trial")


def test_a_claim_copied_into_another_conversation_is_nobody(monkeypatch):
    monkeypatch.setenv("HELPDESK_MODE", "demo")
    monkeypatch.delenv("HELPDESK_JWT_SECRET", raising=False)
    assert identity_of(tracker({"identity": identity_claim(ALICE, "conversation-a")}, "conversation-b")) is None


def test_a_raw_token_in_the_tracker_is_ignored(monkeypatch):
    """Only the channel reads tokens; one written into the tracker store opens nothing."""
    monkeypatch.setenv("HELPDESK_MODE", "demo")
    monkeypatch.delenv("HELPDESK_JWT_SECRET", raising=False)
    token = issue_token("alice", "demo-trial", secret=DEMO_SECRET)
    assert identity_of(tracker({"token": token})) is None
    assert identity_of(tracker({"identity": token})) is None


def test_a_claim_signed_with_the_token_key_or_expired_is_nobody(monkeypatch):
    monkeypatch.setenv("HELPDESK_MODE", "demo")
    monkeypatch.delenv("HELPDESK_JWT_SECRET", raising=False)
    old = identity_claim(ALICE, "conversation-a", now=datetime.now(timezone.utc) - timedelta(minutes=10))
    assert identity_of(tracker({"identity": old})) is None
    other_key = identity_claim(ALICE, "conversation-a", secret="some-other-secret-0123456789-0123456789")
    assert identity_of(tracker({"identity": other_key})) is None
