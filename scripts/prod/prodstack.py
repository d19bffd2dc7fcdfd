"""The production profile on one machine, every part on loopback.

    PostgreSQL   billing database + Rasa's SQL tracker store (two databases, one cluster)
    Redis        Rasa's lock store (one conversation is processed by one server at a time)
    Rasa x N     stateless servers; any of them can continue any conversation
    actions x M  rasa-sdk action servers (billing_core adapters)
    nginx        5005 -> Rasa servers (REST + socket.io, sticky cookie, websocket upgrade)
                 5055 -> action servers (when none can run an action, nginx answers with the text
                         `utter_try_again` of actions/responses.yml in the user's language)
                 8000 -> web app (and /socket.io/, /webhooks/ -> Rasa, same origin for the widget)
                 5015 -> the first Rasa server alone (benchmark: one server versus two)
    web app      python -m webapp behind nginx

Every process is started detached with a pid file under the profile's directory (default
var/prod/), so ``scripts/run_prod.sh stop`` stops what ``start`` started even from another
shell. Used by scripts/run_prod.sh, tests/prod/ and bench/bench_load.py, so all three start the
profile the same way. Configuration: environment variables, see ``ProdConfig.from_env``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional

import jwt

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV_BIN = ROOT / ".venv" / "bin"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from helpdesk.settings import MIN_SECRET_LENGTH, RASA_SERVER_ENV  # noqa: E402

# Secrets the profile refuses to start without (unless a trial run generates them).
REQUIRED_SECRETS = (
    "HELPDESK_JWT_SECRET",
    "HELPDESK_PG_PASSWORD",
    "HELPDESK_REDIS_PASSWORD",
    "HELPDESK_RASA_API_TOKEN",
    "VNPAY_TMN_CODE",
    "VNPAY_HASH_SECRET",
)

# HMAC keys (HS256): a short one can be guessed offline from any token it signed.
SIGNING_KEYS = ("HELPDESK_JWT_SECRET", "HELPDESK_RASA_API_TOKEN")

VNPAY_URLS = ("VNPAY_PAYMENT_URL", "VNPAY_RETURN_URL", "VNPAY_API_URL")


class ProdError(RuntimeError):
    """A part of the profile could not start; the message says which and why."""


# ---------------------------------------------------------------------------------------------
# what nginx says for the action servers


def _action_texts():
    """actions/texts.py alone: importing the actions package would register every action (and
    check production secrets) in this process, which only needs the texts."""
    spec = importlib.util.spec_from_file_location("helpdesk_action_texts", ROOT / "actions" / "texts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# After "try again" the turn ends: without this follow-up Rasa would go on with the rule that
# answered and ask "Was this information helpful?" about an answer the user never got.
END_TURN = [{"event": "followup", "name": "action_listen"}]


def try_again_reply(text: str) -> dict:
    """The action-server reply nginx gives for the action servers when none can answer."""
    return {"events": END_TURN, "responses": [{"text": text}]}


def try_again_response(lang: str) -> str:
    """The action-server JSON nginx returns when no action server can answer: the finished text
    `utter_try_again` of actions/responses.yml in ``lang`` (Rasa renders no response name for it)."""
    chosen = _action_texts().variation("utter_try_again", lang)
    if not chosen or not chosen.get("text"):
        raise ProdError(
            "actions/responses.yml lacks utter_try_again, which nginx says when no action server can answer"
        )
    body = json.dumps(try_again_reply(chosen["text"]), ensure_ascii=True)
    # nginx would read "$..." in a map value as a variable; "$" only occurs inside JSON strings
    return body.replace("$", "\\u0024")


def nginx_single_quoted(text: str) -> str:
    r"""``text`` as an nginx single-quoted string. nginx reads \\ as \ and \' as ', and turns \n,
    \t, \r into control characters (invalid inside JSON strings), but keeps any other backslash:
    doubling every backslash hands JSON's \n and \uXXXX escapes to Rasa exactly as written."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ports(text: str) -> List[int]:
    return [int(part) for part in text.replace(",", " ").split()]


@dataclass
class ProdConfig:
    """Everything the profile needs; ``from_env`` documents the environment variable of each."""

    var_dir: Path
    jwt_secret: str
    pg_password: str
    redis_password: str
    rasa_api_token: str
    vnpay_tmn_code: str
    vnpay_hash_secret: str
    pg_port: int = 55432
    pg_user: str = "helpdesk"
    billing_db: str = "billing"
    tracker_db: str = "rasa_tracker"
    redis_port: int = 56379
    rasa_ports: List[int] = field(default_factory=lambda: [5006, 5007])
    actions_ports: List[int] = field(default_factory=lambda: [5056])
    public_rasa_port: int = 5005
    single_rasa_port: int = 5015
    public_actions_port: int = 5055
    public_web_port: int = 8000
    web_backend_port: int = 8001
    actions_timeout: int = 20
    model: Path = ROOT / "models" / "helpdesk.tar.gz"
    actions_module: str = "actions"
    credentials: Path = ROOT / "credentials.yml"
    with_web: bool = True
    seed_demo: bool = False
    tracker_synchronous_commit: bool = False
    extra_env: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, trial: bool = False) -> "ProdConfig":
        var_dir = Path(env.get("HELPDESK_PROD_DIR", str(ROOT / "var" / "prod"))).resolve()
        given = {name: env.get(name, "") for name in REQUIRED_SECRETS}
        missing = [name for name, value in given.items() if not value]
        if missing and trial:
            given.update(_trial_secrets(var_dir, missing))
        elif missing:
            raise ProdError(
                "production mode needs these secrets in the environment: "
                + ", ".join(missing)
                + " (see deploy/prod.env.example; `scripts/run_prod.sh run --trial` generates"
                " throwaway ones for a local trial)"
            )
        bad = [n for n in ("HELPDESK_PG_PASSWORD", "HELPDESK_REDIS_PASSWORD") if "$" in given[n] or "'" in given[n]]
        if bad:  # Rasa expands ${...} in endpoints files; keep passwords free of '$' and quotes
            raise ProdError(f"{', '.join(bad)} must not contain '$' or quotes")
        short = [n for n in SIGNING_KEYS if len(given[n]) < MIN_SECRET_LENGTH]
        if short:
            raise ProdError(
                f"{', '.join(short)} must be at least {MIN_SECRET_LENGTH} characters"
                " (a signing key; `python -c 'import secrets; print(secrets.token_hex(32))'` makes one)"
            )
        extra = {k: env[k] for k in VNPAY_URLS if env.get(k)}
        public_web_port = int(env.get("HELPDESK_PUBLIC_WEB_PORT", 8000))
        if trial:
            # Production mode refuses the web app's local VNPAY stand-in, so a trial points at
            # VNPAY's own sandbox (its links need the internet; `make run` pays offline).
            extra.setdefault("VNPAY_PAYMENT_URL", "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html")
            extra.setdefault("VNPAY_API_URL", "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction")
            extra.setdefault("VNPAY_RETURN_URL", f"http://localhost:{public_web_port}/vnpay/return")
        elif [k for k in VNPAY_URLS if k not in extra]:
            raise ProdError(
                "production mode needs "
                + ", ".join(k for k in VNPAY_URLS if k not in extra)
                + " (see deploy/prod.env.example)"
            )
        return cls(
            var_dir=var_dir,
            jwt_secret=given["HELPDESK_JWT_SECRET"],
            pg_password=given["HELPDESK_PG_PASSWORD"],
            redis_password=given["HELPDESK_REDIS_PASSWORD"],
            rasa_api_token=given["HELPDESK_RASA_API_TOKEN"],
            vnpay_tmn_code=given["VNPAY_TMN_CODE"],
            vnpay_hash_secret=given["VNPAY_HASH_SECRET"],
            pg_port=int(env.get("HELPDESK_PG_PORT", 55432)),
            pg_user=env.get("HELPDESK_PG_USER", "helpdesk"),
            billing_db=env.get("HELPDESK_BILLING_DB", "billing"),
            tracker_db=env.get("HELPDESK_TRACKER_DB", "rasa_tracker"),
            redis_port=int(env.get("HELPDESK_REDIS_PORT", 56379)),
            rasa_ports=_ports(env.get("HELPDESK_RASA_PORTS", "5006 5007")),
            actions_ports=_ports(env.get("HELPDESK_ACTIONS_PORTS", "5056")),
            public_rasa_port=int(env.get("HELPDESK_PUBLIC_RASA_PORT", 5005)),
            single_rasa_port=int(env.get("HELPDESK_SINGLE_RASA_PORT", 5015)),
            public_actions_port=int(env.get("HELPDESK_PUBLIC_ACTIONS_PORT", 5055)),
            public_web_port=public_web_port,
            web_backend_port=int(env.get("HELPDESK_WEB_BACKEND_PORT", 8001)),
            actions_timeout=int(env.get("HELPDESK_ACTIONS_TIMEOUT", 20)),
            model=Path(env.get("HELPDESK_MODEL", str(ROOT / "models" / "helpdesk.tar.gz"))),
            actions_module=env.get("HELPDESK_ACTIONS_MODULE", "actions"),
            credentials=Path(env.get("HELPDESK_CREDENTIALS", str(ROOT / "credentials.yml"))),
            with_web=env.get("HELPDESK_PROD_WEB", "1") != "0",
            seed_demo=trial or env.get("HELPDESK_SEED_DEMO", "0") == "1",
            tracker_synchronous_commit=env.get("HELPDESK_TRACKER_SYNC_COMMIT", "off") == "on",
            extra_env=extra,
        )

    @property
    def billing_url(self) -> str:
        return f"postgresql+psycopg2://{self.pg_user}:{self.pg_password}@127.0.0.1:{self.pg_port}/{self.billing_db}"

    @property
    def tracker_url(self) -> str:
        return f"postgresql+psycopg2://{self.pg_user}:{self.pg_password}@127.0.0.1:{self.pg_port}/{self.tracker_db}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.public_rasa_port}"

    @property
    def single_rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.single_rasa_port}"

    def service_env(self) -> Dict[str, str]:
        """The environment every child process gets (endpoints.prod.yml reads these)."""
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update(
            {
                "HELPDESK_MODE": "production",
                "RASA_TELEMETRY_ENABLED": "false",
                "PYTHONPATH": str(ROOT),
                "HELPDESK_JWT_SECRET": self.jwt_secret,
                "VNPAY_TMN_CODE": self.vnpay_tmn_code,
                "VNPAY_HASH_SECRET": self.vnpay_hash_secret,
                "BILLING_DATABASE_URL": self.billing_url,
                "HELPDESK_ACTIONS_URL": f"http://127.0.0.1:{self.public_actions_port}/webhook",
                # the web app derives the widget's socket.io URL from this: the public web port, where
                # nginx also routes /socket.io/ to Rasa, keeps the sticky route cookie first-party
                "HELPDESK_RASA_URL": f"http://127.0.0.1:{self.public_web_port}",
                "HELPDESK_RASA_API_TOKEN": self.rasa_api_token,
                # every server on loopback (rasa-sdk reads SANIC_HOST; the web app HELPDESK_BIND_HOST)
                "SANIC_HOST": "127.0.0.1",
                "HELPDESK_BIND_HOST": "127.0.0.1",
                # the help-center origins: CORS of Rasa's API, socket.io's Origin check, CSRF checks
                "HELPDESK_ALLOWED_ORIGINS": f"http://localhost:{self.public_web_port},http://127.0.0.1:{self.public_web_port}",
                "HELPDESK_RASA_PUBLIC_URL": f"http://localhost:{self.public_web_port}",
                "HELPDESK_WEB_PORT": str(self.web_backend_port),
                "HELPDESK_PUBLIC_WEB_URL": f"http://127.0.0.1:{self.public_web_port}",
                "HELPDESK_PG_HOST": "127.0.0.1",
                "HELPDESK_PG_PORT": str(self.pg_port),
                "HELPDESK_PG_USER": self.pg_user,
                "HELPDESK_PG_PASSWORD": self.pg_password,
                "HELPDESK_TRACKER_DB": self.tracker_db,
                "HELPDESK_REDIS_HOST": "127.0.0.1",
                "HELPDESK_REDIS_PORT": str(self.redis_port),
                "HELPDESK_REDIS_PASSWORD": self.redis_password,
                # Rasa's tracker store pool per server: enough for concurrent turns, far below max_connections
                "SQL_POOL_SIZE": os.environ.get("SQL_POOL_SIZE", "10"),
                "SQL_MAX_OVERFLOW": os.environ.get("SQL_MAX_OVERFLOW", "20"),
            }
        )
        return env


def _trial_secrets(var_dir: Path, names: List[str]) -> Dict[str, str]:
    """Throwaway secrets for a local trial, kept in var_dir so restarts reuse them."""
    path = var_dir / "trial-secrets.env"
    known: Dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                known[key] = value
    for name in names:
        if name not in known:
            known[name] = "TRIAL0001" if name == "VNPAY_TMN_CODE" else secrets.token_hex(24)
    var_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# generated by scripts/run_prod.sh --trial: NOT FOR PRODUCTION\n"
        + "".join(f"{k}={v}\n" for k, v in sorted(known.items()))
    )
    path.chmod(0o600)
    bar = "!" * 78
    print(
        f"\n{bar}\n!! TRIAL RUN: throwaway secrets (generated once) for {', '.join(names)}\n"
        f"!! stored in {path}\n!! Never use a trial run for real customers or payments: set the secrets"
        f" yourself\n!! (deploy/prod.env.example) and start without --trial.\n{bar}\n",
        file=sys.stderr,
        flush=True,
    )
    return {name: known[name] for name in names}


# ---------------------------------------------------------------------------------------------
# processes with pid files


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


def rasa_api_headers(api_token: str, minutes: int = 5) -> Dict[str, str]:
    """The header that opens Rasa's HTTP API: a short-lived admin JWT signed with
    ``HELPDESK_RASA_API_TOKEN`` (Rasa runs with ``--jwt-secret``, not ``--auth-token``, so the
    credential travels in ``Authorization`` and never in a URL, where nginx would log it)."""
    now = int(time.time())
    claims = {"user": {"username": "operator", "role": "admin"}, "iat": now, "exp": now + minutes * 60}
    return {"Authorization": "Bearer " + jwt.encode(claims, api_token, algorithm="HS256")}


def _get(url: str, timeout: float = 2.0, headers: Optional[Dict[str, str]] = None) -> Optional[bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return response.read()
    except Exception:
        return None


class Processes:
    """Detached children, each in its own process group, remembered by pid file."""

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir, self.log_dir = run_dir, log_dir

    def pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def pid(self, name: str) -> Optional[int]:
        try:
            pid = int(self.pidfile(name).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def spawn(self, name: str, argv: List[str], env: Dict[str, str]) -> int:
        if self.pid(name):
            return self.pid(name)  # type: ignore[return-value]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pidfile(name).write_text(f"{process.pid}\n")
        return process.pid

    def exited(self, name: str) -> bool:
        return self.pidfile(name).exists() and self.pid(name) is None

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        pid = self.pid(name)
        if pid:
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                while _alive(pid):
                    time.sleep(0.1)
        self.pidfile(name).unlink(missing_ok=True)

    def names(self) -> List[str]:
        return sorted(p.stem for p in self.run_dir.glob("*.pid")) if self.run_dir.exists() else []


# ---------------------------------------------------------------------------------------------
# PostgreSQL: a cluster of the profile's own, password auth on 127.0.0.1, data kept across runs


def postgres_bindir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )
    for directory in reversed(candidates):
        if all((directory / tool).exists() for tool in ("postgres", "initdb", "pg_ctl", "psql")):
            return directory
    raise ProdError("PostgreSQL server binaries not found: run scripts/run_prod.sh (installs postgresql)")


class Postgres:
    OS_USER = "postgres"

    def __init__(self, config: ProdConfig) -> None:
        self.config = config
        self.data = config.var_dir / "pgdata"
        self.bindir = postgres_bindir()

    def _as_owner(self, argv: List[str], **kwargs) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", self.OS_USER, "--"] + argv
        return subprocess.run(argv, capture_output=True, text=True, **kwargs)

    def _init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(self.OS_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", self.OS_USER], check=True)
            shutil.chown(self.data, self.OS_USER)
        self.data.chmod(0o700)
        if os.geteuid() == 0 and self._as_owner(["test", "-w", str(self.data)]).returncode:
            raise ProdError(
                f"the {self.OS_USER} user cannot reach {self.data}: every parent directory"
                " must be searchable by it (e.g. chmod 755)"
            )
        result = self._as_owner(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        if result.returncode:
            raise ProdError(f"initdb failed: {result.stderr.strip()}")

    def running(self) -> bool:
        return self._as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"]).returncode == 0

    def start(self) -> None:
        self._init()
        if not self.running():
            log = self.config.var_dir / "log" / "postgres.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.touch()
            if os.geteuid() == 0:
                shutil.chown(log, self.OS_USER)
            options = (
                f"-p {self.config.pg_port} -k {self.data} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200 -c shared_buffers=128MB"
            )
            result = self._as_owner(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                    "start",
                ]
            )
            if result.returncode:
                raise ProdError(
                    f"PostgreSQL did not start (port {self.config.pg_port}): "
                    f"{result.stderr.strip() or result.stdout.strip()}; see {log}"
                )
        self._ensure_databases()

    def stop(self) -> None:
        if (self.data / "PG_VERSION").exists() and self.running():
            self._as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._as_owner(
            [
                str(self.bindir / "psql"),
                "-h",
                str(self.data),
                "-p",
                str(self.config.pg_port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ]
        )
        if result.returncode:
            raise ProdError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def _ensure_databases(self) -> None:
        user, password = self.config.pg_user, self.config.pg_password.replace("'", "''")
        exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'")
        verb = "ALTER" if exists else "CREATE"
        self.psql(f"{verb} ROLE \"{user}\" LOGIN PASSWORD '{password}'")
        for database in (self.config.billing_db, self.config.tracker_db):
            if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"):
                self.psql(f'CREATE DATABASE "{database}" OWNER "{user}" ENCODING \'UTF8\'')
        # Rasa writes the tracker synchronously inside its event loop, so every commit's flush to
        # disk stalls all conversations of that server (here: 100-200 ms per new conversation
        # with a flush, 25 ms without). The tracker database may therefore skip waiting for the
        # flush: a PostgreSQL crash (not a Rasa crash) can lose the last ~0.6 s of conversation
        # events, never corrupt them. The billing database always waits: payments are durable.
        sync = "on" if self.config.tracker_synchronous_commit else "off"
        self.psql(f'ALTER DATABASE "{self.config.tracker_db}" SET synchronous_commit = {sync}')

    def set_connections_allowed(self, database: str, allowed: bool) -> None:
        """Make one database unavailable (fault tests) while the cluster keeps serving the others."""
        self.psql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            self.psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")


# ---------------------------------------------------------------------------------------------
# the whole profile


class ProdStack:
    def __init__(self, config: ProdConfig) -> None:
        self.config = config
        self.run_dir = config.var_dir / "run"
        self.log_dir = config.var_dir / "log"
        self.processes = Processes(self.run_dir, self.log_dir)
        self.postgres = Postgres(config)

    # -- rendering the configuration files ----------------------------------------------------
    def _render(self, template: Path, values: Dict[str, str]) -> str:
        text = template.read_text()
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", value)
        if "@@" in text:
            raise ProdError(f"unfilled placeholder in {template}: {text[text.index('@@') :][:40]}")
        return text

    def nginx_conf(self) -> Path:
        c = self.config
        nginx_dir = c.var_dir / "nginx"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (nginx_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        user_line = ""
        if os.geteuid() == 0:  # workers drop root; they only need the temp dirs
            user_line = "user www-data;" if _user_exists("www-data") else "user nobody nogroup;"
            worker_user = "www-data" if _user_exists("www-data") else "nobody"
            for path in (nginx_dir / "tmp").rglob("*"):
                shutil.chown(path, worker_user)
            shutil.chown(nginx_dir / "tmp", worker_user)
        server = "        server 127.0.0.1:{} max_fails=3 fail_timeout=2s;"
        text = self._render(
            DEPLOY / "nginx.conf.template",
            {
                "USER_LINE": user_line,
                "PID_FILE": str(nginx_dir / "nginx.pid"),
                "LOG_DIR": str(self.log_dir),
                "TMP_DIR": str(nginx_dir / "tmp"),
                "RASA_PROXY_CONF": str(DEPLOY / "rasa_proxy.conf"),
                "RASA_SERVERS": "\n".join(server.format(p) for p in c.rasa_ports),
                "RASA_FIRST_SERVER": server.format(c.rasa_ports[0]),
                "ACTION_SERVERS": "\n".join(server.format(p) for p in c.actions_ports),
                "WEB_BACKEND_PORT": str(c.web_backend_port),
                "PUBLIC_RASA_PORT": str(c.public_rasa_port),
                "SINGLE_RASA_PORT": str(c.single_rasa_port),
                "PUBLIC_ACTIONS_PORT": str(c.public_actions_port),
                "PUBLIC_WEB_PORT": str(c.public_web_port),
                "ACTIONS_TIMEOUT": str(c.actions_timeout),
                "ACTIONS_FALLBACK_VI": nginx_single_quoted(try_again_response("vi")),
                "ACTIONS_FALLBACK_EN": nginx_single_quoted(try_again_response("en")),
            },
        )
        path = nginx_dir / "nginx.conf"
        path.write_text(text)
        return path

    def redis_conf(self) -> Path:
        c = self.config
        data = c.var_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        path = c.var_dir / "redis.conf"
        # the shipped settings, then what depends on this installation (the password stays out of `ps`)
        path.write_text(
            (DEPLOY / "redis.conf").read_text() + f"\nport {c.redis_port}\ndir {data}\nrequirepass {c.redis_password}\n"
        )
        path.chmod(0o600)
        return path

    # -- parts --------------------------------------------------------------------------------
    def start_postgres(self) -> None:
        self.postgres.start()

    def init_billing_db(self) -> None:
        env = self.config.service_env()
        for command in (["init-db"], ["seed-demo"] if self.config.seed_demo else None):
            if command is None:
                continue
            result = subprocess.run(
                [str(VENV_BIN / "python"), "-m", "billing_core", *command],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            if result.returncode:
                raise ProdError(
                    f"python -m billing_core {command[0]} failed: {(result.stderr or result.stdout).strip()[-800:]}"
                )

    def start_redis(self) -> None:
        redis_server = shutil.which("redis-server")
        if not redis_server:
            raise ProdError("redis-server not found: run scripts/run_prod.sh (installs redis-server)")
        self.processes.spawn("redis", [redis_server, str(self.redis_conf())], self.config.service_env())

    def redis_ready(self) -> bool:
        try:
            import redis

            return bool(
                redis.Redis(
                    host="127.0.0.1", port=self.config.redis_port, password=self.config.redis_password, socket_timeout=1
                ).ping()
            )
        except Exception:
            return False

    def start_actions(self, port: Optional[int] = None) -> None:
        for each in [port] if port else self.config.actions_ports:
            # rasa-sdk listens on SANIC_HOST (service_env: 127.0.0.1), never on every interface
            self.processes.spawn(
                f"actions-{each}",
                [
                    str(VENV_BIN / "rasa"),
                    "run",
                    "actions",
                    "--port",
                    str(each),
                    "--actions",
                    self.config.actions_module,
                ],
                self.config.service_env(),
            )

    def start_rasa(self, port: Optional[int] = None) -> None:
        c = self.config
        if not c.model.exists():
            raise ProdError(f"no trained model at {c.model}: run `make train` (scripts/train_if_changed.sh)")
        cors = [f"http://localhost:{c.public_web_port}", f"http://127.0.0.1:{c.public_web_port}"]
        for each in [port] if port else c.rasa_ports:
            argv = [
                str(VENV_BIN / "rasa"),
                "run",
                "--model",
                str(c.model),
                "--port",
                str(each),
                "--interface",
                "127.0.0.1",
                "--endpoints",
                str(DEPLOY / "endpoints.prod.yml"),
                "--enable-api",
                # the API token is the key of JWTs sent as `Authorization: Bearer` (rasa_api_headers)
                "--jwt-secret",
                c.rasa_api_token,
                "--jwt-method",
                "HS256",
                "--cors",
                *cors,
            ]
            if c.credentials.exists():
                argv += ["--credentials", str(c.credentials)]
            self.processes.spawn(f"rasa-{each}", argv, {**RASA_SERVER_ENV, **c.service_env()})

    def start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise ProdError("nginx not found: run scripts/run_prod.sh (installs nginx)")
        conf = self.nginx_conf()
        prefix = str(conf.parent) + "/"
        test = subprocess.run(
            [nginx, "-t", "-q", "-p", prefix, "-c", str(conf), "-e", str(self.log_dir / "nginx-error.log")],
            capture_output=True,
            text=True,
        )
        if test.returncode:
            raise ProdError(f"nginx configuration rejected: {test.stderr.strip()}")
        # the pid file written by nginx itself names the same master process
        self.processes.spawn(
            "nginx-master",
            [nginx, "-p", prefix, "-c", str(conf), "-e", str(self.log_dir / "nginx-error.log"), "-g", "daemon off;"],
            self.config.service_env(),
        )

    def start_web(self) -> None:
        self.processes.spawn("web", [str(VENV_BIN / "python"), "-m", "webapp"], self.config.service_env())

    # -- readiness ----------------------------------------------------------------------------
    def checks(self) -> Dict[str, Callable[[], bool]]:
        c = self.config
        checks = {"redis": self.redis_ready}
        for port in c.actions_ports:
            checks[f"actions-{port}"] = lambda p=port: _get(f"http://127.0.0.1:{p}/health") is not None
        for port in c.rasa_ports:
            checks[f"rasa-{port}"] = lambda p=port: self.rasa_ready(p)
        checks["nginx-master"] = lambda: _get(f"http://127.0.0.1:{c.public_actions_port}/health") is not None
        if c.with_web:
            checks["web"] = lambda: _get(f"http://127.0.0.1:{c.web_backend_port}/healthz") is not None
        return checks

    def wait_tracker_schema(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        first = f"rasa-{self.config.rasa_ports[0]}"
        while not self.postgres.psql("SELECT to_regclass('public.events') IS NOT NULL", self.config.tracker_db) == "t":
            if self.processes.exited(first):
                raise ProdError(f"{first} exited during start:\n" + _tail(self.log_dir / f"{first}.log"))
            if time.monotonic() > deadline:
                raise ProdError(f"{first} did not create the tracker tables in {timeout:.0f} s")
            time.sleep(0.5)

    def rasa_ready(self, port: int) -> bool:
        body = _get(f"http://127.0.0.1:{port}/status", headers=rasa_api_headers(self.config.rasa_api_token))
        return body is not None and b"model_file" in body

    def wait_ready(self, names: Optional[List[str]] = None, timeout: float = 240.0) -> None:
        checks = self.checks()
        pending = {n: checks[n] for n in (names or list(checks))}
        deadline = time.monotonic() + timeout
        while pending:
            for name in list(pending):
                if self.processes.exited(name):
                    raise ProdError(
                        f"{name} exited during start; see {self.log_dir / (name + '.log')}:\n"
                        + _tail(self.log_dir / f"{name}.log")
                    )
                if pending[name]():
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise ProdError(f"not ready after {timeout:.0f} s: {', '.join(pending)}; logs in {self.log_dir}")
            time.sleep(0.5)

    # -- whole profile ------------------------------------------------------------------------
    def ports_in_use(self) -> List[int]:
        c = self.config
        ports = [
            c.pg_port,
            c.redis_port,
            *c.rasa_ports,
            *c.actions_ports,
            c.public_rasa_port,
            c.single_rasa_port,
            c.public_actions_port,
            c.public_web_port,
        ]
        if c.with_web:
            ports.append(c.web_backend_port)
        taken = []
        for port in ports:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    taken.append(port)
        return taken

    def start(self, timeout: float = 300.0) -> "ProdStack":
        self.config.var_dir.mkdir(parents=True, exist_ok=True)
        if not any(self.processes.pid(name) for name in self.processes.names()):
            taken = self.ports_in_use()
            if taken:  # e.g. `make run` still running on 5005/8000
                raise ProdError(
                    f"ports already in use: {', '.join(map(str, taken))} (a profile left running?"
                    " `scripts/run_prod.sh stop`; otherwise stop what listens there or choose"
                    " other ports with the HELPDESK_*_PORT variables)"
                )
        try:
            self.start_postgres()
            self.start_redis()
            self.init_billing_db()  # idempotent: schema (and demo data when asked) before any reader
            self.start_actions()
            # the first server creates the tracker tables; the others start once they exist
            # (in parallel they race on CREATE TABLE and retry after 5 s with a scary log line)
            self.start_rasa(self.config.rasa_ports[0])
            self.wait_tracker_schema()
            for port in self.config.rasa_ports[1:]:
                self.start_rasa(port)
            self.start_nginx()
            if self.config.with_web:
                self.start_web()
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # front to back: no new traffic first, the databases last
        order = (
            ["nginx-master", "web"]
            + [n for n in self.processes.names() if n.startswith("rasa-")]
            + [n for n in self.processes.names() if n.startswith("actions-")]
            + ["redis"]
        )
        for name in order + [n for n in self.processes.names() if n not in order]:
            self.processes.stop(name)
        self.postgres.stop()

    def status(self) -> Dict[str, str]:
        state = {name: ("running" if self.processes.pid(name) else "exited") for name in self.processes.names()}
        state["postgres"] = (
            "running" if (self.postgres.data / "PG_VERSION").exists() and self.postgres.running() else "stopped"
        )
        return state

    def summary(self) -> str:
        c = self.config
        return (
            f"\n  Help center + chat widget: http://localhost:{c.public_web_port}/   (nginx -> web app :{c.web_backend_port})\n"
            f"  Rasa (REST + socket.io):   http://localhost:{c.public_rasa_port}/webhooks/rest/webhook"
            f"   (nginx -> {', '.join(map(str, c.rasa_ports))})\n"
            f"  Rasa, first server only:   http://localhost:{c.single_rasa_port}/   (benchmarks)\n"
            f"  Action servers:            http://localhost:{c.public_actions_port}/health"
            f"   (nginx -> {', '.join(map(str, c.actions_ports))})\n"
            f"  PostgreSQL:                127.0.0.1:{c.pg_port} databases {c.billing_db}, {c.tracker_db}\n"
            f"  Redis lock store:          127.0.0.1:{c.redis_port}\n"
            f"  Logs and pid files:        {self.log_dir}, {self.run_dir}\n"
        )


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _load_env_file(path: Path) -> None:
    """KEY=VALUE lines; the environment wins over the file."""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key.strip(), value.strip().strip('"'))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Production profile: PostgreSQL, Redis, Rasa x N, nginx.")
    parser.add_argument("command", choices=["start", "stop", "status", "run"])
    parser.add_argument(
        "--trial", action="store_true", help="generate throwaway secrets when missing and seed the demo workspaces"
    )
    parser.add_argument("--env-file", type=Path, help="KEY=VALUE file (e.g. a copy of deploy/prod.env.example)")
    args = parser.parse_args(argv)
    if args.env_file:
        _load_env_file(args.env_file)
    if args.command in ("stop", "status"):
        # stopping needs no secrets: pid files and the data directory are enough
        stack = ProdStack(_config_for_stop())
        if args.command == "stop":
            stack.stop()
            print("production profile stopped")
            return 0
        state = stack.status()
        for name, value in sorted(state.items()):
            print(f"{name:16} {value}")
        return 0 if state and all(v == "running" for v in state.values()) else 1
    try:
        config = ProdConfig.from_env(trial=args.trial)
        stack = ProdStack(config)
        print(
            "starting PostgreSQL, Redis, action server(s), Rasa servers, nginx and the web app"
            " (about a minute on 2 cores)...",
            flush=True,
        )
        stack.start()
    except ProdError as error:
        print(f"run_prod: could not start: {error}", file=sys.stderr)
        return 1
    print(stack.summary(), flush=True)
    if args.command == "start":
        where = "" if config.var_dir == (ROOT / "var" / "prod").resolve() else f"HELPDESK_PROD_DIR={config.var_dir} "
        print(f"  Stop with: {where}scripts/run_prod.sh stop\n", flush=True)
        return 0
    print("  Ctrl-C stops everything.\n", flush=True)
    try:
        while True:
            dead = [n for n in stack.processes.names() if stack.processes.exited(n)]
            if dead:
                print(f"stopped: {', '.join(dead)} exited; see {stack.log_dir}", file=sys.stderr)
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def _config_for_stop() -> ProdConfig:
    """Enough configuration to find pid files and the data directory, without any secret."""
    placeholders = {name: os.environ.get(name) or "unused-for-stop" for name in REQUIRED_SECRETS}
    placeholders.update({name: os.environ.get(name) or "http://unused.invalid/" for name in VNPAY_URLS})
    return ProdConfig.from_env({**os.environ, **placeholders})


if __name__ == "__main__":
    sys.exit(main())
