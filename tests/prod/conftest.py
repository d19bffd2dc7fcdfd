"""Fault tests of the production profile (issue 6): they start what they need, on ports of
their own, under a temporary directory, and stop it afterwards.

Marked ``prod`` (``pytest -m prod tests/prod``). Nothing is skipped: when a part cannot start
(no nginx, no PostgreSQL, a port taken) the test fails and says why.

The infrastructure faults run against a tiny fixture bot (tests/prod/fixture_bot: keyword NLU,
one counting custom action, trains in seconds) so they test nginx, the tracker store and the
lock store, not the NLU; the assistant's own domain is checked for the response they rely on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "prod"))
sys.path.insert(0, str(ROOT))

import prodstack  # noqa: E402

from tests.prod.helpers import FIXTURE_BOT, make_config, write_credentials  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "prod: production-profile fault tests (start PostgreSQL, Redis, nginx, Rasa x2)")


def pytest_collection_modifyitems(items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.prod)


@pytest.fixture(scope="session")
def fixture_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fixture-model")
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "rasa"),
            "train",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--data",
            "data",
            "--out",
            str(out),
            "--fixed-model-name",
            "fixture",
        ],
        cwd=FIXTURE_BOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, RASA_TELEMETRY_ENABLED="false"),
    )
    model = out / "fixture.tar.gz"
    if result.returncode or not model.exists():
        pytest.fail(f"could not train the fixture bot:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return model


@pytest.fixture(scope="session")
def prod_stack(tmp_path_factory, fixture_model):
    """PostgreSQL, Redis, two Rasa servers, one action server and nginx, for the whole session."""
    # not pytest's tmp_path: it is private to root, and PostgreSQL runs as the postgres user
    var_dir = Path(tempfile.mkdtemp(prefix="helpdesk-prod-test-"))
    var_dir.chmod(0o755)
    config = make_config(var_dir, fixture_model)
    write_credentials(config)
    stack = prodstack.ProdStack(config)
    try:
        stack.start(timeout=240)
    except prodstack.ProdError as error:
        shutil.rmtree(var_dir, ignore_errors=True)
        pytest.fail(f"the production profile did not start: {error}")
    yield stack
    stack.stop()
    # keep the logs for a post-mortem (test-output/ is ignored by git)
    kept = ROOT / "test-output" / "prod-logs"
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(stack.log_dir, kept, dirs_exist_ok=True)
    shutil.rmtree(var_dir, ignore_errors=True)
