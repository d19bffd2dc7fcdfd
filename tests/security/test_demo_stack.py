"""`make run` without a secret: still the one-command demo, and still closed where it must be."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.security.conftest import say, texts
from tests.security.test_private_stack import LOOPBACK_V4, listening_addresses

pytestmark = pytest.mark.timeout(300)


def test_the_demo_has_its_login_and_vnpay_stand_in_and_says_so(live_stack):
    web = f"http://127.0.0.1:{live_stack.ports.web}"
    assert requests.get(f"{web}/healthz", timeout=10).json()["mode"] == "demo"
    session = requests.Session()
    assert (
        session.post(
            f"{web}/helpcenter/demo-login", json={"role": "customer", "workspace_id": "demo-trial"}, timeout=10
        ).status_code
        == 200
    )
    assert session.get(f"{web}/helpcenter/token", timeout=10).json()["token"]
    assert requests.get(f"{web}/sandbox/vnpay/paymentv2/vpcpay.html", timeout=10).status_code != 404
    logs = "\n".join(p.read_text(errors="replace") for p in Path(live_stack.log_dir).glob("*.log"))
    assert "mode: DEMO" in logs


def test_the_demo_listens_on_loopback_and_serves_no_rasa_api(live_stack):
    for port in (live_stack.ports.rasa, live_stack.ports.actions, live_stack.ports.web):
        assert listening_addresses(port) == {LOOPBACK_V4}
    rasa = f"http://127.0.0.1:{live_stack.ports.rasa}"
    for path in ("/status", "/domain", "/conversations/x/tracker"):
        assert requests.get(rasa + path, timeout=10).status_code == 404


def test_the_demo_answers_an_oversized_message_at_the_edge(live_stack):
    body = texts(say(f"http://127.0.0.1:{live_stack.ports.rasa}", "How do I upgrade? " * 6000))
    assert "longer than 2,000 characters" in body
