"""The production profile (scripts/prod/prodstack.py: PostgreSQL tracker store, Redis lock store,
Rasa behind nginx, the real model, channels and actions), probed from the same machine.

Marked ``prod``: scripts/test.sh runs it in the production-profile step.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.prod.helpers import make_config, prodstack
from tests.security.test_private_stack import LOOPBACK_V4, LOOPBACK_V6, listening_addresses

pytestmark = [pytest.mark.prod, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_prod():
    from helpdesk.stack import MODEL

    var_dir = Path(tempfile.mkdtemp(prefix="helpdesk-prod-security-"))
    var_dir.chmod(0o755)
    config = make_config(var_dir, MODEL, actions_module="actions", credentials=ROOT / "credentials.yml", seed_demo=True)
    config.rasa_ports = config.rasa_ports[:1]  # one Rasa server is enough to probe
    stack = prodstack.ProdStack(config)
    try:
        stack.start(timeout=300)
    except prodstack.ProdError as error:
        shutil.rmtree(var_dir, ignore_errors=True)
        pytest.fail(f"the production profile did not start: {error}")
    yield stack
    stack.stop()
    shutil.rmtree(var_dir, ignore_errors=True)


def token_for(stack, workspace_id="demo-trial", sub="prod-probe"):
    from helpdesk.identity import issue_token

    return issue_token(sub, workspace_id, secret=stack.config.jwt_secret, minutes=30)


def test_every_server_of_the_profile_listens_on_loopback(real_prod):
    c = real_prod.config
    for port in [*c.rasa_ports, *c.actions_ports, c.public_rasa_port, c.public_actions_port, c.pg_port, c.redis_port]:
        addresses = listening_addresses(port)
        assert addresses and addresses <= {LOOPBACK_V4, LOOPBACK_V6}, (port, addresses)


def test_the_api_token_opens_the_api_in_a_header_only(real_prod):
    c = real_prod.config
    public, direct = c.rasa_url, f"http://127.0.0.1:{c.rasa_ports[0]}"
    assert requests.get(f"{public}/status", timeout=10).status_code == 401
    assert requests.get(f"{public}/status", params={"token": c.rasa_api_token}, timeout=10).status_code == 400
    assert requests.get(f"{direct}/status", params={"token": c.rasa_api_token}, timeout=10).status_code == 401
    assert (
        requests.get(f"{public}/status", headers=prodstack.rasa_api_headers(c.rasa_api_token), timeout=10).status_code
        == 200
    )
    wrong = prodstack.rasa_api_headers("not-the-api-token")
    assert requests.get(f"{public}/status", headers=wrong, timeout=10).status_code == 401
    log = real_prod.log_dir / "nginx-access.log"
    assert c.rasa_api_token not in (log.read_text() if log.exists() else "")


def test_cors_is_limited_to_the_help_center(real_prod):
    answer = requests.options(
        f"{real_prod.config.rasa_url}/model",
        timeout=10,
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert answer.headers.get("Access-Control-Allow-Origin") not in ("*", "http://evil.example")


def ask(config, metadata):
    """The trial question through nginx's REST channel, with this metadata."""
    body = {"sender": "x", "message": "toi con bao nhieu ngay dung thu", "metadata": metadata}
    request = urllib.request.Request(
        f"{config.rasa_url}/webhooks/rest/webhook",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def test_no_token_in_the_tracker_store_and_the_claim_there_opens_nothing(real_prod):
    from helpdesk.channel import user_sender_id

    c = real_prod.config
    token = token_for(real_prod)
    replies = ask(c, {"token": token})
    assert any("18" in (r.get("text") or "") for r in replies), replies
    stored = real_prod.postgres.psql("SELECT string_agg(sender_id || ' ' || data, E'\\n') FROM events", c.tracker_db)
    assert stored, "nothing in the tracker store"
    assert token not in stored and token.split(".")[2] not in stored
    sender = user_sender_id("prod-probe", c.jwt_secret)
    assert sender in stored and '"identity"' in stored
    # the claim stored there, replayed as a token through the channel, reads as anonymous
    events = [json.loads(line.split(" ", 1)[1]) for line in stored.splitlines() if line.startswith(sender + " ")]
    claim = next(e["metadata"]["identity"] for e in events if e.get("event") == "user" and "identity" in e["metadata"])
    assert not any("18" in (r.get("text") or "") for r in ask(c, {"token": claim, "identity": claim}))
    for path in real_prod.log_dir.glob("*.log"):
        assert token not in path.read_text(errors="replace"), path
