"""Start and stop everything the product needs on one machine: action server, Rasa, web app.

Used by ``make run`` (``python -m helpdesk.stack run``) and by the tests that talk to live
servers, so that both start the product the same way.

Every server listens on ``HELPDESK_BIND_HOST`` (helpdesk/settings.py; default 127.0.0.1, and
demo mode refuses anything but loopback). Rasa runs without its HTTP API (no ``--enable-api``):
only the chat channels of credentials.yml are served, with CORS limited to the help-center
origins. The mode (demo or production) is checked before anything starts and printed.

Conversations are kept in Rasa's SQL tracker store on SQLite (``var/rasa-tracker.db`` for
``make run``; helpdesk/tracker_store.py), so they survive a restart. Under ``make run`` a
supervisor restarts a component that dies (after 1, 2, 4 ... 30 s when it keeps dying, each
restart logged) instead of stopping everything, and reports every component on its own health
endpoint (``GET http://127.0.0.1:5099/health``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional

from billing_core import ConfigError, VnpayConfig
from helpdesk.settings import RASA_SERVER_ENV, HelpdeskSettings, SettingsError, is_loopback

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MODEL = ROOT / "models" / "helpdesk.tar.gz"
DEFAULT_TRACKER_DB = ROOT / "var" / "rasa-tracker.db"  # endpoints.yml names it relative to ROOT


@dataclass
class Ports:
    rasa: int = 5005
    actions: int = 5055
    web: int = 8000
    supervisor: int = 0  # the supervisor's health endpoint; 0: a free port when it starts


def free_ports(count: int) -> List[int]:
    """``count`` different loopback ports nobody listens on now (the kernel picks them; the probes
    stay bound until all are picked, so no port is handed out twice)."""
    probes: List[socket.socket] = []
    try:
        for _ in range(count):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(probe)
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port() -> int:
    return free_ports(1)[0]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str, timeout: float = 2.0) -> Optional[bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except Exception:
        return None


class Component(subprocess.Popen):
    """A started server: its process, with the name the supervisor knows it by and its log file."""

    name: str = ""
    log_path: str = ""


@dataclass
class Stack:
    ports: Ports = field(default_factory=Ports)
    env: Dict[str, str] = field(default_factory=dict)
    log_dir: Path = ROOT / "var" / "log"
    model: Path = MODEL
    with_web: bool = True
    # Rasa's SQL tracker store (SQLite); default: beside the log folder (var/rasa-tracker.db)
    tracker_db: Optional[Path] = None
    stock_tracker_store: bool = False  # Rasa's own SQL store instead (benchmarks: before/after)
    processes: List["Component"] = field(default_factory=list)
    specs: Dict[str, List[str]] = field(default_factory=dict)
    supervisor: Optional["Supervisor"] = None

    def __post_init__(self) -> None:
        if self.tracker_db is None:
            self.tracker_db = Path(self.log_dir).parent / "rasa-tracker.db"

    def _environment(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "RASA_TELEMETRY_ENABLED": "false",
                "PYTHONPATH": str(ROOT),
                "HELPDESK_ACTIONS_URL": f"http://127.0.0.1:{self.ports.actions}/webhook",
                "HELPDESK_RASA_URL": f"http://127.0.0.1:{self.ports.rasa}",
                "HELPDESK_WEB_PORT": str(self.ports.web),
            }
        )
        env.update(self.env)
        # rasa-sdk's action server reads its listening address from SANIC_HOST (0.0.0.0 otherwise)
        env["SANIC_HOST"] = self.settings().bind_host
        return env

    def settings(self) -> HelpdeskSettings:
        """The settings every server of this stack will read (SettingsError when one would refuse)."""
        env = dict(os.environ)
        env.update(
            {"HELPDESK_WEB_PORT": str(self.ports.web), "HELPDESK_RASA_URL": f"http://127.0.0.1:{self.ports.rasa}"}
        )
        env.update(self.env)
        return HelpdeskSettings.from_env(env)

    def _spawn(self, name: str, argv: List[str]) -> "Component":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}-{os.getpid()}.log", "ab")
        env = self._environment()
        if name == "rasa":
            env = {**RASA_SERVER_ENV, **env}
        process = Component(
            argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() can end the whole process group
        )
        process.name = name
        process.log_path = log.name
        self.specs[name] = argv
        self.processes[:] = [p for p in self.processes if p.name != name]
        self.processes.append(process)
        return process

    def process(self, name: str) -> "Component":
        return next(p for p in self.processes if p.name == name)

    def respawn(self, name: str) -> "Component":
        """Starts ``name`` again as it was started (what is left of its process group goes first)."""
        old = self.process(name)
        try:
            os.killpg(old.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return self._spawn(name, self.specs[name])

    def start(self, timeout: float = 180.0) -> "Stack":
        if not self.model.exists():
            raise RuntimeError(f"no trained model at {self.model}: run scripts/train_if_changed.sh")
        # A server already on one of our ports would answer the readiness checks in our place.
        wanted = [self.ports.actions, self.ports.rasa] + ([self.ports.web] if self.with_web else [])
        taken = [port for port in wanted if port_in_use(port)]
        if taken:
            raise RuntimeError(f"port(s) {', '.join(map(str, taken))} already in use on 127.0.0.1")
        self._spawn(
            "actions",
            [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(self.ports.actions), "--actions", "actions"],
        )
        settings = self.settings()
        # No --enable-api: the HTTP API (trackers, /execute, /model...) is not served at all.
        self._spawn(
            "rasa",
            [
                str(VENV_BIN / "rasa"),
                "run",
                "--model",
                str(self.model),
                "--interface",
                settings.bind_host,
                "--port",
                str(self.ports.rasa),
                "--cors",
                *settings.allowed_origins,
                "--credentials",
                "credentials.yml",
                "--endpoints",
                self._endpoints_file(),
            ],
        )
        if self.with_web:
            self._spawn("web", [str(VENV_BIN / "python"), "-m", "webapp"])
        self.wait_ready(timeout)
        return self

    def _endpoints_file(self) -> str:
        """endpoints.yml with the action server's port and the tracker database substituted when
        they are not the defaults."""
        tracker_db = Path(self.tracker_db).resolve()  # type: ignore[arg-type]
        tracker_db.parent.mkdir(parents=True, exist_ok=True)
        if self.ports.actions == 5055 and tracker_db == DEFAULT_TRACKER_DB and not self.stock_tracker_store:
            return "endpoints.yml"
        text = (ROOT / "endpoints.yml").read_text().replace(":5055/", f":{self.ports.actions}/")
        text = text.replace(f"db: {DEFAULT_TRACKER_DB.relative_to(ROOT)}\n", f"db: {tracker_db}\n")
        if self.stock_tracker_store:
            text = text.replace("type: helpdesk.tracker_store.WindowedSQLTrackerStore", "type: SQL")
            text = "\n".join(line for line in text.splitlines() if "window_turns:" not in line) + "\n"
        path = self.log_dir / f"endpoints-{self.ports.actions}.yml"
        path.write_text(text)
        return str(path)

    def urls(self) -> Dict[str, str]:
        bind = self.settings().bind_host
        # a wildcard or loopback address answers on 127.0.0.1; a specific address only on itself
        host = "127.0.0.1" if bind in ("0.0.0.0", "::") or is_loopback(bind) else bind
        return {
            "actions": f"http://{host}:{self.ports.actions}/health",
            # the REST channel's health route: served once the model is loaded (Rasa loads it
            # before it starts serving)
            "rasa": f"http://{host}:{self.ports.rasa}/webhooks/rest/",
            "web": f"http://{host}:{self.ports.web}/healthz",
        }

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {k: v for k, v in self.urls().items() if k != "web" or self.with_web}
        while pending and time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.name} exited with {process.returncode}; see {process.log_path}")
            for name in list(pending):
                if self.ready(name):
                    del pending[name]
            time.sleep(0.5)
        if pending:
            self.stop()
            raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()  # no restarts while stopping
            self.supervisor = None
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def ready(self, name: str) -> bool:
        # Rasa's REST channel route answers once the model is loaded (its HTTP API, and so
        # /status, is off)
        return _get(self.urls()[name]) is not None

    def supervise(self, **options: Any) -> "Supervisor":
        """Starts the supervisor: it restarts a component that dies and serves /health."""
        self.supervisor = Supervisor(self, **options).start()
        return self.supervisor


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Supervisor:
    """Restarts a component of a started ``Stack`` that exits, with backoff, and says so.

    A component that dies is started again after ``backoff`` s, doubled for each death that
    follows within ``stable`` s of running (``1, 2, 4 ... max_backoff``); every death and restart
    goes to stderr and to ``supervisor.log`` in the log folder. ``GET /health`` on
    ``stack.ports.supervisor`` answers 200 when every component is ready, 503 otherwise, with
    each component's state (running, starting, restarting), pid, restarts and last exit.
    """

    def __init__(
        self, stack: Stack, backoff: float = 1.0, max_backoff: float = 30.0, stable: float = 60.0, poll: float = 0.25
    ) -> None:
        self.stack, self.backoff, self.max_backoff, self.stable, self.poll = stack, backoff, max_backoff, stable, poll
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.state: Dict[str, Dict[str, Any]] = {
            p.name: {
                "state": "running",
                "pid": p.pid,
                "restarts": 0,
                "last_exit": None,
                "started": time.monotonic(),
                "delay": backoff,
            }
            for p in stack.processes
        }
        self.server: Optional[ThreadingHTTPServer] = None
        self.thread: Optional[threading.Thread] = None

    # -- health endpoint ------------------------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        with self.lock:
            components = {
                name: {"state": s["state"], "pid": s["pid"], "restarts": s["restarts"], "last_exit": s["last_exit"]}
                for name, s in self.state.items()
            }
        healthy = all(c["state"] == "running" for c in components.values())
        return {"status": "ok" if healthy else "degraded", "components": components}

    def _serve(self) -> None:
        supervisor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path.split("?")[0] not in ("/health", "/healthz"):
                    self.send_error(404)
                    return
                report = supervisor.health()
                body = json.dumps(report).encode()
                self.send_response(200 if report["status"] == "ok" else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        if not self.stack.ports.supervisor:
            self.stack.ports.supervisor = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.stack.ports.supervisor), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="supervisor-health", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports.supervisor}/health"

    # -- restarts -------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        line = f"{_now()} supervisor: {message}"
        print(line, file=sys.stderr, flush=True)
        with open(Path(self.stack.log_dir) / "supervisor.log", "a") as log:
            log.write(line + "\n")

    def start(self) -> "Supervisor":
        self._serve()
        self.thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopping.wait(self.poll):
            for name, s in list(self.state.items()):
                try:
                    self._check(name, s)
                except Exception as error:  # the supervisor itself must not die
                    self.log(f"{name}: could not restart: {error!r}")

    def _check(self, name: str, s: Dict[str, Any]) -> None:
        process = self.stack.process(name)
        now = time.monotonic()
        if s["state"] == "restarting":
            if now >= s["restart_at"] and not self.stopping.is_set():
                process = self.stack.respawn(name)
                with self.lock:
                    s.update(state="starting", pid=process.pid, started=now)
                self.log(f"{name}: started again (pid {process.pid}, restart {s['restarts']})")
            return
        code = process.poll()
        if code is not None:
            if self.stopping.is_set():
                return
            # a component that ran for `stable` s starts over with the shortest delay
            delay = self.backoff if now - s["started"] >= self.stable else s["delay"]
            with self.lock:
                s.update(
                    state="restarting",
                    pid=None,
                    restarts=s["restarts"] + 1,
                    last_exit={"code": code, "at": _now()},
                    restart_at=now + delay,
                    delay=min(delay * 2, self.max_backoff),
                )
            self.log(
                f"{name} exited with {code}; restarting in {delay:.1f} s "
                f"(restart {s['restarts']}; log {process.log_path})"
            )
        elif s["state"] == "starting" and self.stack.ready(name):
            with self.lock:
                s["state"] = "running"
            self.log(f"{name}: ready again after {now - s['started']:.1f} s")

    def wait_healthy(self, timeout: float = 180.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.health()
            if report["status"] == "ok":
                return report
            time.sleep(0.25)
        raise RuntimeError(f"not healthy after {timeout:.0f} s: {self.health()}")

    def stop(self) -> None:
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=5)
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def _stop_like_ctrl_c(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _payments_banner(web_port: int) -> str:
    """Which VNPAY the pay links go to: the local stand-in (demo default) or the configured gateway."""

    try:
        config = VnpayConfig.from_env()
    except ConfigError as error:
        return f"VNPAY not configured: {error}"
    if "/sandbox/vnpay/" in config.payment_url:
        return (
            f"local VNPAY stand-in at http://localhost:{web_port}/sandbox/vnpay (not VNPAY; "
            "set VNPAY_PAYMENT_URL and the VNPAY_* credentials for the real gateway)"
        )
    return f"VNPAY at {config.payment_url}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Cleeksy billing assistant locally.")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("HELPDESK_WEB_PORT", 8000)))
    parser.add_argument("--supervisor-port", type=int, default=5099, help="the supervisor's /health")
    args = parser.parse_args(argv)
    stack = Stack(Ports(args.rasa_port, args.actions_port, args.web_port, args.supervisor_port))
    try:
        settings = stack.settings()
    except SettingsError as error:
        print(f"not started: {error}", file=sys.stderr)
        return 2
    print(settings.banner(), flush=True)
    # `kill` (SIGTERM) stops everything too, not only Ctrl-C: the servers run in sessions of
    # their own and would otherwise outlive this process.
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    print("starting the action server, Rasa and the web app (this takes ~30 s)...", flush=True)
    try:
        stack.start()
        supervisor = stack.supervise()
    except (RuntimeError, OSError) as error:
        print(f"could not start: {error}", file=sys.stderr)
        stack.stop()
        return 1
    print(
        f"\n  Help center + chat widget: http://localhost:{args.web_port}/\n"
        f"  Agent console:             http://localhost:{args.web_port}/agent\n"
        f"  Chat REST channel:         http://localhost:{args.rasa_port}/webhooks/rest/webhook"
        "   (Rasa's HTTP API is off)\n"
        f"  Action server:             http://localhost:{args.actions_port}/health\n"
        f"  Payments:                  {_payments_banner(args.web_port)}\n"
        f"  Mode:                      {settings.banner()}\n"
        f"  Conversations:             {stack.tracker_db} (kept across restarts)\n"
        f"  Health (supervisor):       {supervisor.url}\n"
        f"  Logs:                      {stack.log_dir}\n"
        "  A component that dies is restarted. Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
