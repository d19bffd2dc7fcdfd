"""The action server registers exactly the custom actions the domain names (no abstract base
classes, nothing missing): what `rasa run actions --actions actions` does at start-up."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from tests.actions.conftest import ACTION_NAMES, ROOT, SENT_THE_DOMAIN


def test_action_server_registers_every_domain_action_and_nothing_else():
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) == set(ACTION_NAMES)


def test_only_the_form_validations_are_sent_the_domain():
    """Rasa sends the 25 kB domain with every custom action call unless the endpoint is selective;
    the form validations read the forms' required slots from it, so they, and only they, get it
    (the other actions' tests run with the {} the action server then passes)."""
    import yaml
    from rasa.shared.core.domain import Domain

    for endpoints in ("endpoints.yml", "deploy/endpoints.prod.yml"):
        action_endpoint = yaml.safe_load((ROOT / endpoints).read_text())["action_endpoint"]
        assert action_endpoint["enable_selective_domain"] is True, endpoints
    assert SENT_THE_DOMAIN == {"validate_checkout_form", "validate_downgrade_form"}
    domain = Domain.load(str(ROOT / "domain.yml"))
    assert {name for name in ACTION_NAMES if domain.does_custom_action_explicitly_need_domain(name)} == SENT_THE_DOMAIN


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
