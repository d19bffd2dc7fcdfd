"""The help center, chat widget and agent console in a real headless Chromium.

Starts the whole stack (action server, Rasa with the trained model, web app) through the shared
``live_stack`` fixture, then runs each scenario of ``scenarios.mjs`` (playwright-core driving
/usr/bin/chromium). Screenshots of every step land in ``test-output/screenshots/``.
Prerequisites: ``scripts/install_browser.sh`` and ``npm ci`` in ``frontend/``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "browser" / "scenarios.mjs"
SHOT_DIR = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


@pytest.fixture(scope="session")
def browser_ready():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/install_browser.sh")
    if shutil.which("node") is None:
        pytest.fail("node is not installed")
    if not (ROOT / "frontend" / "node_modules" / "playwright-core").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT / "frontend", check=True)
    # the widget the page serves is the one built from the sources under test
    subprocess.run(["node", "build.mjs"], cwd=ROOT / "frontend", check=True, capture_output=True)
    SHOT_DIR.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def reseed_after(live_stack):
    """The payment scenario upgrades a demo workspace: put the demo data back for other suites."""
    yield
    env = dict(os.environ, BILLING_DATABASE_URL=live_stack.database_url, PYTHONPATH=str(ROOT))
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "billing_core", "seed-demo"], cwd=ROOT, env=env,
                   check=True, capture_output=True)


def run_scenario(live_stack, name):
    env = dict(os.environ, WEB_URL=f"http://localhost:{live_stack.ports.web}", SHOT_DIR=str(SHOT_DIR),
               CHROMIUM_PATH=CHROMIUM)
    result = subprocess.run(["node", str(SCENARIOS), name], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=540)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize(
    "scenario",
    [
        "customer_asks_why_not_free",
        "agent_triages_demo_monthly",
        "customer_cannot_use_the_console",
        "phone_width",
        "customer_pays_an_upgrade_through_vnpay",  # last: it changes demo-monthly
    ],
)
def test_scenario(browser_ready, live_stack, reseed_after, scenario):
    run_scenario(live_stack, scenario)
