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


def test_action_server_refuses_to_start_in_production_without_a_private_secret():
    import os
    import subprocess
    import sys

    from tests.actions.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "HELPDESK_JWT_SECRET"}
    env["HELPDESK_MODE"] = "production"
    refused = subprocess.run(
        [sys.executable, "-c", "import actions"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "HELPDESK_JWT_SECRET" in refused.stderr
    env["HELPDESK_JWT_SECRET"] = "a-private-production-secret-0123456789"
    started = subprocess.run(
        [sys.executable, "-c", "import actions"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
