"""The benchmarks measure what customers do: the embedded profile starts with settings the stack
accepts, and each simulated customer is a conversation of its own."""

from __future__ import annotations

import sys
from pathlib import Path

from helpdesk.channel import bind
from helpdesk.identity import DEMO_SECRET, verify_token
from helpdesk.settings import HelpdeskSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import profiles  # noqa: E402


def test_the_embedded_profile_has_settings_the_stack_accepts(tmp_path):
    env = profiles.embedded_env(f"sqlite:///{tmp_path / 'billing.db'}")
    settings = HelpdeskSettings.from_env(env)  # raises SettingsError on a profile that cannot start
    assert settings.is_demo


def test_each_simulated_customer_is_a_conversation_of_their_own():
    token = profiles.customer_tokens(DEMO_SECRET)
    first, second = token("demo-monthly", "user-1"), token("demo-monthly", "user-2")
    assert token("demo-monthly", "user-1") == first  # the same customer keeps their token
    assert verify_token(first, DEMO_SECRET).workspace_id == verify_token(second, DEMO_SECRET).workspace_id
    one, _ = bind({"token": first}, "session-1", DEMO_SECRET)
    two, _ = bind({"token": second}, "session-2", DEMO_SECRET)
    assert one != two
