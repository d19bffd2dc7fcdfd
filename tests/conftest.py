"""Fixtures shared by the suites that talk to live servers (REST channel, web app, browser).

The live stack runs on free ports picked at start (never the `make run` defaults) against a fresh
database seeded with the demo workspaces (SQLite, or PostgreSQL with BILLING_TEST_DB=postgres: see
tests/dbs.py), so a developer's running assistant is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dbs import drop_created_databases, new_billing_database_url  # noqa: E402

# The live stack runs in demo mode, which signs with the documented demo secret only.
TEST_JWT_SECRET = "cleeksy-demo-secret-change-me-0123456789"


@pytest.fixture(autouse=True)
def _settings_read_fresh():
    """Settings are read once per process (billing_core.settings, helpdesk.settings): tests that
    change the environment get them read again, before and after each test."""
    from billing_core import settings as billing_settings

    billing_settings.reload()
    try:
        from helpdesk import settings as helpdesk_settings
    except ImportError:  # the lean billing_core environment has no helpdesk dependencies
        helpdesk_settings = None
    if helpdesk_settings is not None:
        helpdesk_settings.reload()
    yield
    billing_settings.reload()
    if helpdesk_settings is not None:
        helpdesk_settings.reload()


def pytest_sessionfinish(session, exitstatus):
    # After every fixture's teardown (servers stopped): no test database outlives the run.
    drop_created_databases()


def _seed(url: str) -> None:
    env = dict(os.environ, BILLING_DATABASE_URL=url)
    for command in (["init-db"], ["seed-demo"]):
        subprocess.run(
            [sys.executable, "-m", "billing_core", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory):
    """The action server, Rasa and the web app, started once for the session."""
    from helpdesk.stack import MODEL, Ports, Stack, free_ports

    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: `make test` trains it first (scripts/train_if_changed.sh)")
    folder = tmp_path_factory.mktemp("live")
    url = new_billing_database_url(folder)
    _seed(url)
    ports = Ports(*free_ports(3))
    web = f"http://localhost:{ports.web}"
    stack = Stack(
        ports,
        env={
            "BILLING_DATABASE_URL": url,
            "HELPDESK_JWT_SECRET": TEST_JWT_SECRET,
            "HELPDESK_MODE": "demo",
            "VNPAY_PAYMENT_URL": f"{web}/sandbox/vnpay/paymentv2/vpcpay.html",
            "VNPAY_RETURN_URL": f"{web}/vnpay/return",
            "VNPAY_SANDBOX_IPN_URL": f"http://127.0.0.1:{ports.web}/vnpay/ipn",
            # people answer hand-offs at any hour in the tests (the after-hours text: tests/actions)
            "HELPDESK_SUPPORT_HOURS": "00:00-24:00",
            "HELPDESK_SUPPORT_DAYS": "mon-sun",
            "HELPDESK_HANDOFF_POLL_SECONDS": "0.5",
        },
        log_dir=folder / "logs",
    )
    started = time.monotonic()
    stack.start(timeout=240)
    stack.database_url = url  # type: ignore[attr-defined]
    stack.started_in = time.monotonic() - started  # type: ignore[attr-defined]
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def token_for():
    """A signed token for a workspace, like the host application would send."""
    from helpdesk.identity import issue_token

    def make(workspace_id: str, role: str = "customer", minutes: int = 30, secret: str = TEST_JWT_SECRET, sub=None):
        return issue_token(
            sub=sub or f"user-of-{workspace_id}",
            workspace_id=workspace_id,
            role=role,
            minutes=minutes,
            secret=secret,
        )

    return make
