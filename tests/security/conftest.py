"""Servers for the hostile-client suite.

* ``probe``: the real input channels with a probe bot (no model): what crosses the edge;
* ``private_stack``: ``make run``'s stack (helpdesk.stack) started as a new user would with a
  private ``HELPDESK_JWT_SECRET`` (and VNPAY merchant settings, which production mode needs),
  on free ports, against a fresh database with the demo workspaces;
* the demo-mode stack is tests/conftest.py's ``live_stack``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.web.conftest import PYTHON, Server, base_env

ROOT = Path(__file__).resolve().parents[2]
PRIVATE_SECRET = "security-suite-private-secret-0123456789abcdef"
VNPAY_SECRET = "security-suite-vnpay-merchant-secret-0123456789"
VNPAY_TMN = "SECTEST1"


@pytest.fixture(scope="session")
def probe(tmp_path_factory):
    from helpdesk.stack import free_port

    port = free_port()
    log = tmp_path_factory.mktemp("probe") / "probe.log"
    env = base_env(HELPDESK_WEB_PORT="8000")
    server = Server([PYTHON, "tests/security/probe_server.py", str(port)], env, f"http://127.0.0.1:{port}/ready", log)
    server.url = f"http://127.0.0.1:{port}"
    yield server
    server.stop()


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory):
    """`HELPDESK_JWT_SECRET=<private> make run`, on free ports."""
    from helpdesk.stack import MODEL, Ports, Stack, free_ports
    from tests.conftest import _seed
    from tests.dbs import new_billing_database_url

    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: `make test` trains it first (scripts/train_if_changed.sh)")
    folder = tmp_path_factory.mktemp("private")
    url = new_billing_database_url(folder)
    _seed(url)
    ports = Ports(*free_ports(3))
    stack = Stack(
        ports,
        env={
            "BILLING_DATABASE_URL": url,
            "HELPDESK_JWT_SECRET": PRIVATE_SECRET,
            "HELPDESK_MODE": "",  # not chosen: the private secret decides (production)
            "HELPDESK_BIND_HOST": "",
            "HELPDESK_PAYMENT_JOBS_SECONDS": "0",
            "VNPAY_TMN_CODE": VNPAY_TMN,
            "VNPAY_HASH_SECRET": VNPAY_SECRET,
            "VNPAY_PAYMENT_URL": "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
            "VNPAY_RETURN_URL": f"http://localhost:{ports.web}/vnpay/return",
            "VNPAY_API_URL": "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
        },
        log_dir=folder / "logs",
    )
    started = time.monotonic()
    stack.start(timeout=240)
    stack.database_url = url  # type: ignore[attr-defined]
    stack.started_in = time.monotonic() - started  # type: ignore[attr-defined]
    stack.web = f"http://127.0.0.1:{ports.web}"  # type: ignore[attr-defined]
    stack.rasa = f"http://127.0.0.1:{ports.rasa}"  # type: ignore[attr-defined]
    yield stack
    stack.stop()


def private_token(workspace_id: str, role: str = "customer", minutes: int = 30, **kwargs) -> str:
    from helpdesk.identity import issue_token

    return issue_token(
        kwargs.pop("sub", f"user-of-{workspace_id}"),
        workspace_id,
        role=role,
        minutes=minutes,
        secret=kwargs.pop("secret", PRIVATE_SECRET),
        **kwargs,
    )


def say(base: str, message, token=None, sender=None, channel="rest", timeout=60, **extra):
    payload = {"sender": sender or "security-suite", "message": message, **extra}
    if token is not None:
        payload["metadata"] = {"token": token}
    return requests.post(f"{base}/webhooks/{channel}/webhook", json=payload, timeout=timeout)


def texts(answer) -> str:
    assert answer.status_code == 200, answer.text
    return "\n".join(reply.get("text", "") for reply in answer.json())
