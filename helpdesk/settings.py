"""The assistant's settings (``HELPDESK_*``), read once per process and checked at start.

The web app, the Rasa channels, the action server and ``make run`` (helpdesk/stack.py) read
their settings here, never from the environment per request. The mode comes from billing_core
(``billing_core.settings.resolve_mode``: one rule for every part), and this module adds what
the mode implies:

* **demo** (chosen with ``HELPDESK_MODE=demo``, or by starting without a private secret):
  tokens are signed with the documented demo secret and nothing else, every server listens on
  loopback, and the demo login and the VNPAY stand-in exist;
* **production**: a private ``HELPDESK_JWT_SECRET`` of at least 32 characters; no demo login, no
  VNPAY stand-in.

Settings (all optional):

=============================== ========================== ===================================
``HELPDESK_BIND_HOST``          ``127.0.0.1``              the address every server of
                                                           ``make run`` listens on (the one
                                                           setting to change it; demo mode
                                                           refuses a non-loopback address)
``HELPDESK_ALLOWED_ORIGINS``    the web app on localhost   help-center origins (comma list)
                                and 127.0.0.1              allowed to open the chat socket
``HELPDESK_RASA_PUBLIC_URL``    ``http://localhost:<rasa>`` where browsers reach Rasa (the
                                                           page's CSP ``connect-src``)
``HELPDESK_MAX_MESSAGE_CHARS``  2000                       longer messages are answered at the
                                                           edge without reaching the NLU
``HELPDESK_MAX_METADATA_BYTES`` 8192                       larger metadata likewise
``HELPDESK_MAX_TOKEN_HOURS``    24                         the longest ``exp - iat`` accepted
``HELPDESK_SUPPORT_HOURS``      ``08:00-17:30``            the support desk's hours, Vietnam
                                                           time (helpdesk/support_hours.py)
``HELPDESK_SUPPORT_DAYS``       ``mon-fri``                its days
``HELPDESK_SUPPORT_WAIT_MINUTES`` 15                       the wait announced during them
``HELPDESK_HANDOFF_POLL_SECONDS`` 1                        how often a Rasa server pushes agent
                                                           replies to the widget
=============================== ========================== ===================================
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple
from urllib.parse import urlsplit

from billing_core import settings as billing_settings

DEMO_JWT_SECRET = billing_settings.DEMO_JWT_SECRET
MIN_SECRET_LENGTH = 32
DEFAULT_BIND_HOST = "127.0.0.1"
DEFAULT_WEB_PORT = 8000
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
MAX_MESSAGE_CHARS = 2000
MAX_METADATA_BYTES = 8192
MAX_TOKEN_HOURS = 24

# Every Rasa server that serves the model runs TensorFlow on one thread (Rasa reads these at start):
# DIET's graph is small, and its default pools (one thread per core) spent 1-2 ms more CPU per
# parse on handing work between threads than they saved, with every core busy serving messages
# (docs/decisions.md §25). An operator's own value in the environment wins. Training is not
# started with them.
RASA_SERVER_ENV = {"TF_INTER_OP_PARALLELISM_THREADS": "1", "TF_INTRA_OP_PARALLELISM_THREADS": "1"}


class SettingsError(RuntimeError):
    """A setting the assistant refuses to start with; the message names it and says why."""


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {text!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class HelpdeskSettings:
    mode: str
    mode_reason: str
    jwt_secret: str
    bind_host: str = DEFAULT_BIND_HOST
    web_port: int = DEFAULT_WEB_PORT
    rasa_url: str = DEFAULT_RASA_URL
    rasa_public_url: str = "http://localhost:5005"
    allowed_origins: Tuple[str, ...] = ()
    max_message_chars: int = MAX_MESSAGE_CHARS
    max_metadata_bytes: int = MAX_METADATA_BYTES
    max_token_hours: int = MAX_TOKEN_HOURS
    payment_jobs_seconds: int = 300
    # the hand-off's settings as written; helpdesk/support_hours.py and relay.py check them
    support_hours: str = "08:00-17:30"
    support_days: str = "mon-fri"
    support_wait_minutes: str = "15"
    handoff_poll_seconds: str = "1"

    @property
    def is_demo(self) -> bool:
        return self.mode == "demo"

    def banner(self) -> str:
        """One line every server prints at start."""
        if self.is_demo:
            return (
                f"mode: DEMO ({self.mode_reason}): demo login and the local VNPAY stand-in are on, "
                f"tokens use the documented demo secret, listening on {self.bind_host} only"
            )
        return f"mode: PRODUCTION ({self.mode_reason}): no demo login, no VNPAY stand-in, listening on {self.bind_host}"

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "HelpdeskSettings":
        env = os.environ if environ is None else environ
        try:
            if environ is None:  # the process's own: the mode billing_core read, read once for both
                mode, reason = billing_settings.current().mode, billing_settings.current().mode_reason
            else:
                mode, reason = billing_settings.resolve_mode(env)
        except billing_settings.SettingsError as problem:
            raise SettingsError(str(problem)) from None
        secret = (env.get("HELPDESK_JWT_SECRET") or "").strip()
        bind_host = (env.get("HELPDESK_BIND_HOST") or DEFAULT_BIND_HOST).strip()
        if mode == "production":
            if not secret or secret == DEMO_JWT_SECRET:
                raise SettingsError(
                    "HELPDESK_JWT_SECRET must be set to a private value in production mode "
                    "(the documented demo secret is refused)."
                )
            if len(secret) < MIN_SECRET_LENGTH:
                raise SettingsError(
                    f"HELPDESK_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters in production mode."
                )
        else:
            if secret and secret != DEMO_JWT_SECRET:
                raise SettingsError(
                    "demo mode signs tokens with the documented demo secret only: unset HELPDESK_JWT_SECRET "
                    "for the demo, or unset HELPDESK_MODE (a private secret means production)."
                )
            secret = DEMO_JWT_SECRET
            if not is_loopback(bind_host):
                raise SettingsError(
                    f"demo mode listens on loopback only, not HELPDESK_BIND_HOST={bind_host!r} "
                    "(the demo login would be open to the network)."
                )
        web_port = _int(env, "HELPDESK_WEB_PORT", DEFAULT_WEB_PORT, 1)
        rasa_url = (env.get("HELPDESK_RASA_URL") or DEFAULT_RASA_URL).strip().rstrip("/")
        rasa_port = urlsplit(rasa_url).port or 5005
        public = (env.get("HELPDESK_RASA_PUBLIC_URL") or f"http://localhost:{rasa_port}").strip().rstrip("/")
        if urlsplit(public).scheme not in ("http", "https") or not urlsplit(public).netloc:
            raise SettingsError(f"HELPDESK_RASA_PUBLIC_URL must be an http(s) URL, not {public!r}")
        origins_text = (env.get("HELPDESK_ALLOWED_ORIGINS") or "").strip()
        if origins_text:
            origins = tuple(o.strip().rstrip("/") for o in origins_text.split(",") if o.strip())
        else:
            origins = (f"http://localhost:{web_port}", f"http://127.0.0.1:{web_port}")
        return cls(
            mode=mode,
            mode_reason=reason,
            jwt_secret=secret,
            bind_host=bind_host,
            web_port=web_port,
            rasa_url=rasa_url,
            rasa_public_url=public,
            allowed_origins=origins,
            max_message_chars=_int(env, "HELPDESK_MAX_MESSAGE_CHARS", MAX_MESSAGE_CHARS, 1),
            max_metadata_bytes=_int(env, "HELPDESK_MAX_METADATA_BYTES", MAX_METADATA_BYTES, 256),
            max_token_hours=_int(env, "HELPDESK_MAX_TOKEN_HOURS", MAX_TOKEN_HOURS, 1),
            payment_jobs_seconds=_int(env, "HELPDESK_PAYMENT_JOBS_SECONDS", 300),
            support_hours=(env.get("HELPDESK_SUPPORT_HOURS") or "08:00-17:30").strip(),
            support_days=(env.get("HELPDESK_SUPPORT_DAYS") or "mon-fri").strip(),
            support_wait_minutes=(env.get("HELPDESK_SUPPORT_WAIT_MINUTES") or "15").strip(),
            handoff_poll_seconds=(env.get("HELPDESK_HANDOFF_POLL_SECONDS") or "1").strip(),
        )


_current: Optional[HelpdeskSettings] = None


def current() -> HelpdeskSettings:
    """The process's settings: read and checked on first use, then kept."""
    global _current
    if _current is None:
        _current = HelpdeskSettings.from_env()
    return _current


def reload() -> None:
    """Forget the kept settings, billing_core's too (tests that change the environment)."""
    global _current
    _current = None
    billing_settings.reload()
