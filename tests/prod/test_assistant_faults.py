"""Faults seen by a customer of the real assistant (models/helpdesk.tar.gz, actions/, domain.yml)
in the production profile: the answers come from the assistant's own texts (domain.yml,
actions/responses.yml), in the user's language. Uses the trained model (HELPDESK_PROD_TEST_MODEL
overrides the path); fails, with the reason, when there is none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import prodstack
import pytest

from tests.prod.helpers import ROOT, make_config, post_json, try_again_text

MODEL = Path(os.environ.get("HELPDESK_PROD_TEST_MODEL", ROOT / "models" / "helpdesk.tar.gz"))
VNPAY_URLS = {
    "VNPAY_PAYMENT_URL": "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
    "VNPAY_RETURN_URL": "https://help.example.com/vnpay/return",
    "VNPAY_API_URL": "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
}


@pytest.fixture(scope="module")
def assistant():
    if not MODEL.exists():
        pytest.fail(f"no trained assistant at {MODEL}: run `make train` first (or set HELPDESK_PROD_TEST_MODEL)")
    var_dir = Path(tempfile.mkdtemp(prefix="helpdesk-prod-assistant-"))
    var_dir.chmod(0o755)
    config = make_config(
        var_dir,
        MODEL,
        actions_module="actions",
        credentials=ROOT / "credentials.yml",
        seed_demo=True,
        extra_env=dict(VNPAY_URLS),
    )
    config.rasa_ports = config.rasa_ports[:1]  # one server is enough here; the CPU goes to the model
    stack = prodstack.ProdStack(config)
    try:
        stack.start(timeout=300)
    except prodstack.ProdError as error:
        shutil.rmtree(var_dir, ignore_errors=True)
        pytest.fail(f"the production profile with the assistant did not start: {error}")
    yield stack
    stack.stop()
    shutil.rmtree(var_dir, ignore_errors=True)


def ask(stack, sender: str, text: str, workspace: str = "demo-monthly") -> list:
    from helpdesk.identity import issue_token

    token = issue_token(sender, workspace, "customer", secret=stack.config.jwt_secret, minutes=30)
    replies = post_json(
        f"{stack.config.rasa_url}/webhooks/rest/webhook",
        {"sender": sender, "message": text, "metadata": {"token": token}},
    )
    return [reply.get("text", "") for reply in replies]


def test_action_server_down_says_try_again_in_the_users_language(assistant):
    try_again = {lang: try_again_text(lang) for lang in ("vi", "en")}  # actions/responses.yml
    english, vietnamese = f"en-{time.time_ns()}", f"vi-{time.time_ns()}"
    normal_en = ask(assistant, english, "What is my next renewal plan?")
    assert normal_en and try_again["en"] not in normal_en
    names = [n for n in assistant.processes.names() if n.startswith("actions-")]
    for name in names:
        assistant.processes.stop(name)
    try:
        assert ask(assistant, english, "What is my next renewal plan?") == [try_again["en"]]
        assert ask(assistant, vietnamese, "Gói gia hạn tiếp theo của tôi là gì?") == [try_again["vi"]]
    finally:
        assistant.start_actions()
        assistant.wait_ready(names, timeout=120)
    back = ask(assistant, english, "What is my next renewal plan?")
    assert back and try_again["en"] not in back


def test_billing_database_unavailable_gets_a_clear_answer_and_writes_nothing(assistant):
    postgres, billing_db = assistant.postgres, assistant.config.billing_db
    orders = "SELECT count(*) FROM orders"
    sender = f"db-down-{time.time_ns()}"
    orders_before = postgres.psql(orders, billing_db)
    postgres.set_connections_allowed(billing_db, False)
    try:
        answers = ask(assistant, sender, "What is my next renewal plan?")
        checkout = ask(
            assistant,
            f"{sender}-buy",
            "I want to upgrade App Builder to Standard yearly for 10 users with 50 GB more storage",
        )
    finally:
        postgres.set_connections_allowed(billing_db, True)
    for replies in (answers, checkout):
        text = " ".join(replies)
        assert replies, "silence while the billing database is down"
        assert "Traceback" not in text and "OperationalError" not in text
    assert "try again" in " ".join(answers).lower()
    assert postgres.psql(orders, billing_db) == orders_before  # nothing half-written
    # back: the personal answer works again in the same conversation
    again = " ".join(ask(assistant, sender, "What is my next renewal plan?"))
    assert again and "try again" not in again.lower()
