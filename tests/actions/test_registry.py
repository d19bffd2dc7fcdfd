"""The action server registers exactly the custom actions the domain names (no abstract base
classes, nothing missing): what `rasa run actions --actions actions` does at start-up."""
from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from tests.actions.conftest import DOMAIN


def test_action_server_registers_every_domain_action_and_nothing_else():
    executor = ActionExecutor()
    executor.register_package("actions")
    custom = {name for name in DOMAIN["actions"]}
    assert set(executor.actions) == custom
