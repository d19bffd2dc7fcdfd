"""Servers for the web tests, each on its own port, started by the test run.

* ``echo_channel``: the verified input channels with an echo bot (no trained model needed);
* ``web``: the Sanic web app (``python -m webapp``) on a fresh database seeded with the demo
  workspaces (SQLite, or PostgreSQL with BILLING_TEST_DB=postgres: see tests/dbs.py), in demo
  mode, with a test secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpdesk.stack import free_port
from tests.dbs import new_billing_database_url

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
WEB_TEST_SECRET = "cleeksy-demo-secret-change-me-0123456789"  # demo mode: the documented demo secret


class Server:
    def __init__(self, argv, env, ready_url, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{argv} exited: {Path(log_path).read_text()[-3000:]}")
            try:
                if requests.get(ready_url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{argv} not ready: {Path(log_path).read_text()[-3000:]}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def base_env(**extra):
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "HELPDESK_JWT_SECRET": WEB_TEST_SECRET,
            "HELPDESK_MODE": "demo",
            "RASA_TELEMETRY_ENABLED": "false",
        }
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def echo_channel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("echo")
    server = start_echo(folder, new_billing_database_url(folder))
    yield server
    server.stop()


def start_echo(folder: Path, database_url: str) -> Server:
    """The echo channel on ``database_url`` (its hand-off store), polling agent messages quickly."""
    port = free_port()
    env = base_env(BILLING_DATABASE_URL=database_url, HELPDESK_HANDOFF_POLL_SECONDS="0.2")
    server = Server(
        [PYTHON, "tests/web/channel_echo_server.py", str(port)],
        env,
        f"http://127.0.0.1:{port}/ready",
        folder / "echo.log",
    )
    server.url = f"http://127.0.0.1:{port}"
    return server


def seed_database(url: str) -> None:
    env = base_env(BILLING_DATABASE_URL=url)
    for command in (["init-db"], ["seed-demo"]):
        subprocess.run([PYTHON, "-m", "billing_core", *command], cwd=ROOT, env=env, check=True, capture_output=True)


def start_web(folder: Path, mode: str = "demo", **extra) -> Server:
    url = new_billing_database_url(folder)
    seed_database(url)
    port = free_port()
    settings = {
        "BILLING_DATABASE_URL": url,
        "HELPDESK_MODE": mode,
        "HELPDESK_WEB_PORT": str(port),
        "HELPDESK_RASA_URL": "http://127.0.0.1:5005",
        "VNPAY_PAYMENT_URL": f"http://localhost:{port}/sandbox/vnpay/paymentv2/vpcpay.html",
        "VNPAY_RETURN_URL": f"http://localhost:{port}/vnpay/return",
        "VNPAY_SANDBOX_IPN_URL": f"http://127.0.0.1:{port}/vnpay/ipn",
    }
    settings.update(extra)
    env = base_env(**settings)
    server = Server([PYTHON, "-m", "webapp"], env, f"http://127.0.0.1:{port}/healthz", folder / "web.log")
    server.url = f"http://127.0.0.1:{port}"
    server.database_url = url
    return server


def build_frontend() -> None:
    """The page serves webapp/static/dist: build it from frontend/ (npm ci once, offline after)."""
    frontend = ROOT / "frontend"
    if not (frontend / "node_modules" / "esbuild").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=frontend, check=True, capture_output=True)
    subprocess.run(["node", "build.mjs"], cwd=frontend, check=True, capture_output=True)


@pytest.fixture(scope="session")
def web(tmp_path_factory):
    build_frontend()
    server = start_web(tmp_path_factory.mktemp("web"))
    yield server
    server.stop()


@pytest.fixture
def login(web):
    """A requests session logged in through the demo login."""

    def make(workspace_id="demo-monthly", role="customer"):
        session = requests.Session()
        answer = session.post(
            f"{web.url}/helpcenter/demo-login", json={"workspace_id": workspace_id, "role": role}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return session

    return make


@pytest.fixture
def api_token(web, login):
    def make(workspace_id="demo-monthly", role="customer"):
        answer = login(workspace_id, role).get(f"{web.url}/helpcenter/token", timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    return make
