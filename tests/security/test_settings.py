"""One rule for the mode, settings read once, and what each mode allows (helpdesk/settings.py,
billing_core/settings.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from billing_core import settings as billing_settings
from helpdesk import settings
from helpdesk.identity import DEMO_SECRET, issue_token, verify_token
from tests.security.conftest import ROOT

PRIVATE = "a-private-secret-of-the-operator-0123456789"


@pytest.mark.parametrize(
    "env,mode",
    [
        ({}, "demo"),  # make run on a fresh machine
        ({"HELPDESK_JWT_SECRET": DEMO_SECRET}, "demo"),
        ({"HELPDESK_JWT_SECRET": PRIVATE}, "production"),  # a private secret: never the demo
        ({"HELPDESK_MODE": "demo"}, "demo"),
        ({"HELPDESK_MODE": "production", "HELPDESK_JWT_SECRET": PRIVATE}, "production"),
        ({"HELPDESK_MODE": " Production ", "HELPDESK_JWT_SECRET": PRIVATE}, "production"),
    ],
)
def test_one_rule_decides_the_mode_for_every_part(env, mode):
    assert settings.HelpdeskSettings.from_env(env).mode == mode
    assert billing_settings.BillingSettings.from_env(env).mode == mode


@pytest.mark.parametrize(
    "env,words",
    [
        ({"HELPDESK_MODE": "demo", "HELPDESK_JWT_SECRET": PRIVATE}, "demo secret only"),
        ({"HELPDESK_MODE": "production"}, "HELPDESK_JWT_SECRET"),
        ({"HELPDESK_MODE": "production", "HELPDESK_JWT_SECRET": DEMO_SECRET}, "demo secret is refused"),
        ({"HELPDESK_MODE": "production", "HELPDESK_JWT_SECRET": "short"}, "32 characters"),
        ({"HELPDESK_MODE": "staging"}, "HELPDESK_MODE"),
        ({"HELPDESK_BIND_HOST": "0.0.0.0"}, "loopback only"),
        ({"HELPDESK_BIND_HOST": "192.168.1.10"}, "loopback only"),
        ({"HELPDESK_MAX_MESSAGE_CHARS": "lots"}, "HELPDESK_MAX_MESSAGE_CHARS"),
        ({"HELPDESK_RASA_PUBLIC_URL": "javascript:alert(1)"}, "HELPDESK_RASA_PUBLIC_URL"),
    ],
)
def test_unsafe_settings_are_refused_with_the_setting_named(env, words):
    with pytest.raises(settings.SettingsError, match=words):
        settings.HelpdeskSettings.from_env(env)


def test_production_may_listen_on_another_address_when_asked():
    chosen = settings.HelpdeskSettings.from_env({"HELPDESK_JWT_SECRET": PRIVATE, "HELPDESK_BIND_HOST": "0.0.0.0"})
    assert chosen.bind_host == "0.0.0.0" and not chosen.is_demo
    assert settings.HelpdeskSettings.from_env({}).bind_host == "127.0.0.1"


def test_settings_are_read_once_not_per_request(monkeypatch):
    monkeypatch.delenv("HELPDESK_JWT_SECRET", raising=False)
    monkeypatch.setenv("HELPDESK_MODE", "demo")
    settings.reload()
    assert settings.current().is_demo
    from webapp import auth

    monkeypatch.setenv("HELPDESK_MODE", "production")  # changing the environment later changes nothing
    monkeypatch.setenv("HELPDESK_JWT_SECRET", PRIVATE)
    assert auth.is_demo() and settings.current().jwt_secret == DEMO_SECRET
    assert billing_settings.current().mode == "demo"


def test_no_module_outside_the_settings_reads_the_assistants_environment():
    """HELPDESK_*, BILLING_* and VNPAY_* are read in the two settings modules only (the scripts
    that start processes set them for their children; the migrations and the catalog path aside)."""
    readers = []
    for folder in ("actions", "webapp", "helpdesk", "billing_core"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "settings.py" or "migrations" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if "os.environ" in text or "getenv(" in text:
                readers.append(str(path.relative_to(ROOT)))
    assert sorted(readers) == ["billing_core/domain/catalog.py", "helpdesk/stack.py"], readers


def test_every_token_carries_iat_and_lives_at_most_the_documented_maximum():
    token = issue_token("u1", "w1", secret=DEMO_SECRET, minutes=24 * 60)
    assert verify_token(token, secret=DEMO_SECRET) is not None
    with pytest.raises(ValueError, match="at most 24 h"):
        issue_token("u1", "w1", secret=DEMO_SECRET, minutes=24 * 60 + 1)


def run_stack(env_changes):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update(env_changes)
    return subprocess.run(
        [sys.executable, "-m", "helpdesk.stack", "run", "--web-port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_run_refuses_to_start_a_demo_with_a_private_secret_and_says_why():
    refused = run_stack({"HELPDESK_MODE": "demo", "HELPDESK_JWT_SECRET": PRIVATE})
    assert refused.returncode == 2 and "demo secret only" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize("module", ["webapp"])
def test_the_web_app_prints_its_mode_at_start(tmp_path, module):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update({"HELPDESK_MODE": "production", "HELPDESK_JWT_SECRET": PRIVATE, "PYTHONPATH": str(ROOT)})
    refused = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    # production without the VNPAY merchant settings refuses to start, saying so (never a traceback)
    assert refused.returncode == 2 and "VNPAY" in refused.stdout and "Traceback" not in refused.stdout + refused.stderr


def test_the_action_server_prints_its_mode_at_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update({"PYTHONPATH": str(ROOT)})
    started = subprocess.run(
        [sys.executable, "-c", "import actions"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0 and "mode: DEMO" in started.stderr
