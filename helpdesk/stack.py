"""Start and stop everything the product needs on one machine: action server, Rasa, web app.

Used by ``make run`` (``python -m helpdesk.stack run``) and by the tests that talk to live
servers, so that both start the product the same way.

Every server listens on ``HELPDESK_BIND_HOST`` (helpdesk/settings.py; default 127.0.0.1, and
demo mode refuses anything but loopback). Rasa runs without its HTTP API (no ``--enable-api``):
only the chat channels of credentials.yml are served, with CORS limited to the help-center
origins. The mode (demo or production) is checked before anything starts and printed.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from billing_core import ConfigError, VnpayConfig
from helpdesk.settings import HelpdeskSettings, SettingsError, is_loopback

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MODEL = ROOT / "models" / "helpdesk.tar.gz"


@dataclass
class Ports:
    rasa: int = 5005
    actions: int = 5055
    web: int = 8000


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


@dataclass
class Stack:
    ports: Ports = field(default_factory=Ports)
    env: Dict[str, str] = field(default_factory=dict)
    log_dir: Path = ROOT / "var" / "log"
    model: Path = MODEL
    with_web: bool = True
    processes: List[subprocess.Popen] = field(default_factory=list)

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
        env.update({"HELPDESK_WEB_PORT": str(self.ports.web), "HELPDESK_RASA_URL": f"http://127.0.0.1:{self.ports.rasa}"})
        env.update(self.env)
        return HelpdeskSettings.from_env(env)

    def _spawn(self, name: str, argv: List[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}-{os.getpid()}.log", "ab")
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self._environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() can end the whole process group
        )
        process.name = name  # type: ignore[attr-defined]
        process.log_path = log.name  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

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
            [str(VENV_BIN / "rasa"), "run", "actions", "--port", str(self.ports.actions),
             "--actions", "actions"],
        )
        settings = self.settings()
        # No --enable-api: the HTTP API (trackers, /execute, /model...) is not served at all.
        self._spawn(
            "rasa",
            [str(VENV_BIN / "rasa"), "run", "--model", str(self.model),
             "--interface", settings.bind_host, "--port", str(self.ports.rasa),
             "--cors", *settings.allowed_origins,
             "--credentials", "credentials.yml", "--endpoints", self._endpoints_file()],
        )
        if self.with_web:
            self._spawn("web", [str(VENV_BIN / "python"), "-m", "webapp"])
        self.wait_ready(timeout)
        return self

    def _endpoints_file(self) -> str:
        """endpoints.yml with the action server's port substituted when it is not the default."""
        if self.ports.actions == 5055:
            return "endpoints.yml"
        text = (ROOT / "endpoints.yml").read_text().replace(":5055/", f":{self.ports.actions}/")
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
                    raise RuntimeError(
                        f"{process.name} exited with {process.returncode}; see {process.log_path}"
                    )
            for name, url in list(pending.items()):
                body = _get(url)
                if body is not None:
                    del pending[name]
            time.sleep(0.5)
        if pending:
            self.stop()
            raise RuntimeError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")

    def stop(self) -> None:
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


def _stop_like_ctrl_c(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _payments_banner(web_port: int) -> str:
    """Which VNPAY the pay links go to: the local stand-in (demo default) or the configured gateway."""

    try:
        config = VnpayConfig.from_env()
    except ConfigError as error:
        return f"VNPAY not configured: {error}"
    if "/sandbox/vnpay/" in config.payment_url:
        return (f"local VNPAY stand-in at http://localhost:{web_port}/sandbox/vnpay (not VNPAY; "
                "set VNPAY_PAYMENT_URL and the VNPAY_* credentials for the real gateway)")
    return f"VNPAY at {config.payment_url}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Cleeksy billing assistant locally.")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("HELPDESK_WEB_PORT", 8000)))
    args = parser.parse_args(argv)
    stack = Stack(Ports(args.rasa_port, args.actions_port, args.web_port))
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
    except RuntimeError as error:
        print(f"could not start: {error}", file=sys.stderr)
        return 1
    print(
        f"\n  Help center + chat widget: http://localhost:{args.web_port}/\n"
        f"  Agent console:             http://localhost:{args.web_port}/agent\n"
        f"  Chat REST channel:         http://localhost:{args.rasa_port}/webhooks/rest/webhook"
        "   (Rasa's HTTP API is off)\n"
        f"  Action server:             http://localhost:{args.actions_port}/health\n"
        f"  Payments:                  {_payments_banner(args.web_port)}\n"
        f"  Mode:                      {settings.banner()}\n"
        f"  Logs:                      {stack.log_dir}\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    try:
        while all(p.poll() is None for p in stack.processes):
            time.sleep(1)
        dead = [p.name for p in stack.processes if p.poll() is not None]
        print(f"stopped: {', '.join(dead)} exited; see {stack.log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
