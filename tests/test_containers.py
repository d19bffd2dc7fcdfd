"""deploy/Dockerfile and deploy/compose.yml describe the production profile that
scripts/run_prod.sh runs on one machine: same images as the pins, same services, same settings.
Docker does not run here: the files are parsed and compared with the profile's own settings."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "prod"))
sys.path.insert(0, str(ROOT / "deploy"))

import compose_nginx  # noqa: E402
import prodstack  # noqa: E402

COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
SECRETS = {name: "x" * 32 for name in prodstack.REQUIRED_SECRETS}
VNPAY = {
    "VNPAY_PAYMENT_URL": "https://pay.example/p",
    "VNPAY_RETURN_URL": "https://help.example/r",
    "VNPAY_API_URL": "https://pay.example/api",
}


def pin(package: str) -> str:
    text = (ROOT / "requirements" / "constraints.txt").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)$", text, re.M).group(1)


def profile_config() -> prodstack.ProdConfig:
    return prodstack.ProdConfig.from_env({**SECRETS, **VNPAY})


def profile_argv(start: str) -> list:
    """The command line the profile itself uses for a part (captured, nothing is started)."""
    stack = prodstack.ProdStack(profile_config())
    seen = []
    stack.processes.spawn = lambda name, argv, env: seen.append(argv) or 1
    if start == "rasa":
        config = stack.config
        config.model = Path(__file__)  # start_rasa only checks that the model file exists
        stack.start_rasa(config.rasa_ports[0])
    else:
        getattr(stack, f"start_{start}")()
    return seen[0]


def flags(argv: list) -> set:
    return {part for part in argv if part.startswith("--")}


def test_images_are_rasas_official_ones_at_our_pins():
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert f"rasa/rasa:{pin('rasa')}" in bases
    assert f"rasa/rasa-sdk:{pin('rasa-sdk')}" in bases
    assert re.search(rf"^FROM rasa/rasa-sdk:{re.escape(pin('rasa-sdk'))} AS actions$", DOCKERFILE, re.M)
    assert re.search(rf"^FROM rasa/rasa:{re.escape(pin('rasa'))} AS web$", DOCKERFILE, re.M)
    # every pip install in the images takes the project's pins
    for line in re.findall(r"^RUN pip install.*$", DOCKERFILE, re.M):
        assert "-c /tmp/constraints.txt" in line, line


def test_every_service_of_the_profile_is_there():
    config = profile_config()
    rasa = sorted(name for name in SERVICES if name.startswith("rasa-"))
    assert len(rasa) == len(config.rasa_ports)  # as many Rasa servers as the profile runs
    assert len([n for n in SERVICES if n.startswith("actions")]) == len(config.actions_ports)
    for name in ("postgres", "redis", "nginx", "web", "actions"):
        assert name in SERVICES, name
    targets = {SERVICES[n]["build"]["target"] for n in SERVICES if "build" in SERVICES[n]}
    assert targets == {"rasa", "actions", "web"}
    assert set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE, re.M)) >= targets


def test_rasa_servers_get_every_setting_their_endpoints_read():
    lines = (ROOT / "deploy" / "endpoints.prod.yml").read_text().splitlines()
    wanted = set(re.findall(r"\$\{(\w+)\}", "\n".join(line for line in lines if not line.lstrip().startswith("#"))))
    assert wanted
    for name in (n for n in SERVICES if n.startswith("rasa-")):
        assert wanted <= set(SERVICES[name]["environment"]), name


def test_actions_and_web_get_the_profiles_environment(monkeypatch):
    monkeypatch.setattr(os, "environ", {})  # only what the profile itself sets
    profile = set(profile_config().service_env()) - {"PYTHONPATH"}  # the images set PYTHONPATH
    assert {"HELPDESK_JWT_SECRET", "BILLING_DATABASE_URL", "HELPDESK_ACTIONS_URL"} <= profile
    for name in ("actions", "web", "migrate", "rasa-1"):
        missing = profile - set(SERVICES[name]["environment"])
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_secrets_are_required_never_defaulted():
    text = (ROOT / "deploy" / "compose.yml").read_text()
    for name in prodstack.REQUIRED_SECRETS:
        uses = re.findall(rf"\$\{{{name}([^}}]*)\}}", text)
        assert uses, name
        assert any(use.startswith(":?") for use in uses), f"{name} must be required (${{{name}:?...}})"
        assert not any(use.startswith(":-") for use in uses), f"{name} has a default"


@pytest.mark.parametrize("part,service", [("rasa", "rasa-1"), ("actions", "actions")])
def test_commands_have_the_profiles_flags(part, service):
    ours = SERVICES[service]["command"]
    theirs = profile_argv(part)
    assert flags(ours) == flags(theirs) - {"--actions"} | ({"--actions"} if "--actions" in ours else set()), (
        ours,
        theirs,
    )
    if part == "rasa":
        assert ours[ours.index("--endpoints") + 1] == "deploy/endpoints.prod.yml"


def test_only_nginx_is_published_and_on_loopback():
    for name, service in SERVICES.items():
        if name != "nginx":
            assert "ports" not in service, name
    for port in SERVICES["nginx"]["ports"]:
        assert str(port).startswith("127.0.0.1:"), port


def test_long_running_services_restart_and_rasa_memory_is_capped():
    for name, service in SERVICES.items():
        if name != "migrate":
            assert service.get("restart") == "unless-stopped", name
    for name in (n for n in SERVICES if n.startswith("rasa-")):
        assert SERVICES[name]["mem_limit"]


def test_nginx_configuration_is_the_rendering_of_the_profiles_template():
    rasa = sorted(n for n in SERVICES if n.startswith("rasa-"))
    actions = sorted(n for n in SERVICES if n.startswith("actions"))
    expected = compose_nginx.render(rasa, actions, profile_config().actions_timeout)
    committed = (ROOT / "deploy" / "nginx.compose.conf").read_text()
    assert committed == expected, "deploy/nginx.compose.conf is stale: run .venv/bin/python deploy/compose_nginx.py"
    for name in rasa + actions + ["web"]:
        assert f"server {name}:" in committed


def _spawned_envs(monkeypatch, tmp_path, operator_env: dict) -> dict:
    """{part: environment} of every part the embedded stack and the production profile start."""
    from helpdesk import stack as embedded

    monkeypatch.setattr(os, "environ", dict(operator_env))
    envs = {}
    prod = prodstack.ProdStack(profile_config())
    prod.processes.spawn = lambda name, argv, env: envs.setdefault(name, env) and 1
    prod.config.model = Path(__file__)  # start_rasa only checks that the model file exists
    prod.start_rasa()
    prod.start_actions()

    def component(argv, **kw):
        envs[argv[0]] = kw["env"]
        return SimpleNamespace()

    monkeypatch.setattr(embedded, "Component", component)
    made = embedded.Stack(embedded.Ports(rasa=1, actions=2, web=3), log_dir=tmp_path)
    monkeypatch.setattr(type(made), "_environment", lambda self: dict(os.environ))
    made._spawn("rasa", ["rasa-embedded"])
    made._spawn("actions", ["actions-embedded"])
    return envs


def test_every_rasa_server_runs_tensorflow_on_one_thread(monkeypatch, tmp_path):
    """Compose, the production profile and the embedded stack give each Rasa server (and only it)
    RASA_SERVER_ENV; an operator's own value in the environment wins."""
    from helpdesk.settings import RASA_SERVER_ENV

    assert RASA_SERVER_ENV == {"TF_INTER_OP_PARALLELISM_THREADS": "1", "TF_INTRA_OP_PARALLELISM_THREADS": "1"}
    for name in (n for n in SERVICES if n.startswith("rasa-")):
        assert RASA_SERVER_ENV.items() <= SERVICES[name]["environment"].items(), name
    assert not RASA_SERVER_ENV.keys() & SERVICES["actions"]["environment"].keys()

    envs = _spawned_envs(monkeypatch, tmp_path, {})
    rasa = [name for name in envs if name.startswith("rasa")]
    assert len(rasa) == len(profile_config().rasa_ports) + 1
    for name, env in envs.items():
        assert (RASA_SERVER_ENV.items() <= env.items()) == (name in rasa), name

    chosen = _spawned_envs(monkeypatch, tmp_path, {"TF_INTRA_OP_PARALLELISM_THREADS": "2"})
    assert {chosen[name]["TF_INTRA_OP_PARALLELISM_THREADS"] for name in rasa} == {"2"}


@pytest.mark.parametrize("name", prodstack.SIGNING_KEYS)
def test_a_short_signing_key_is_refused_by_name(name):
    with pytest.raises(prodstack.ProdError, match=f"{name} must be at least 32 characters"):
        prodstack.ProdConfig.from_env({**SECRETS, **VNPAY, name: "k" * 31})


@pytest.mark.parametrize("name", prodstack.REQUIRED_SECRETS)
def test_a_missing_secret_is_refused_by_name(name):
    env = {**SECRETS, **VNPAY}
    del env[name]
    with pytest.raises(prodstack.ProdError, match=f"needs these secrets in the environment: {name}"):
        prodstack.ProdConfig.from_env(env)


@pytest.mark.parametrize("name", ["HELPDESK_PG_PASSWORD", "HELPDESK_REDIS_PASSWORD"])
def test_a_password_endpoints_files_would_expand_is_refused(name):
    with pytest.raises(prodstack.ProdError, match=f"{name} must not contain"):
        prodstack.ProdConfig.from_env({**SECRETS, **VNPAY, name: "pa${ss}word-long-enough-for-anything"})
