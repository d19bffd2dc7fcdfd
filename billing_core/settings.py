"""billing_core's settings (``BILLING_*``, ``VNPAY_*``) and the product's mode, read once per process.

Every other module asks ``current()`` instead of reading the environment, so a value cannot
change between two requests and every setting has one name, one default and one check here.

The mode (``demo`` or ``production``) has one source, ``resolve_mode``:

* ``HELPDESK_MODE`` when it is set (``demo`` or ``production``; anything else is refused);
* otherwise ``production`` as soon as a private ``HELPDESK_JWT_SECRET`` is set (a private secret
  means a real deployment: no demo login, no VNPAY stand-in), and ``demo`` when there is none
  (``make run`` on a fresh machine: the one-command demo).

Tests that change the environment call ``reload()`` (tests/conftest.py does it before each test).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

MODES = ("demo", "production")

# The documented demo secret of the chat tokens (helpdesk.identity re-exports it). Known to
# everyone on purpose: a stack signing with it is a demo, and production refuses it.
DEMO_JWT_SECRET = "cleeksy-demo-secret-change-me-0123456789"

VNPAY_NAMES = ("VNPAY_TMN_CODE", "VNPAY_HASH_SECRET", "VNPAY_PAYMENT_URL", "VNPAY_RETURN_URL", "VNPAY_API_URL")


class SettingsError(ValueError):
    """A setting has a value the product refuses to start with; the message names it."""


def resolve_mode(env: Mapping[str, str]) -> Tuple[str, str]:
    """(mode, why): the one rule that decides between the demo and production."""
    explicit = (env.get("HELPDESK_MODE") or "").strip().lower()
    if explicit:
        if explicit not in MODES:
            raise SettingsError(f"HELPDESK_MODE must be 'demo' or 'production', not {explicit!r}")
        return explicit, f"HELPDESK_MODE={explicit}"
    secret = (env.get("HELPDESK_JWT_SECRET") or "").strip()
    if secret and secret != DEMO_JWT_SECRET:
        return "production", "a private HELPDESK_JWT_SECRET is set"
    return "demo", "no private HELPDESK_JWT_SECRET is set"


@dataclass(frozen=True)
class BillingSettings:
    mode: str
    mode_reason: str
    database_url: str  # "" = a SQLite file under the project's var/ (unit_of_work.database_url)
    vnpay: Mapping[str, str] = field(default_factory=dict, repr=False)  # VNPAY_* as given, stripped
    vnpay_sandbox_ipn_url: str = ""  # demo: where the local stand-in sends its IPN (the web app)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "BillingSettings":
        env = os.environ if environ is None else environ
        mode, reason = resolve_mode(env)
        vnpay: Dict[str, str] = {name: (env.get(name) or "").strip() for name in VNPAY_NAMES}
        return cls(
            mode=mode,
            mode_reason=reason,
            database_url=(env.get("BILLING_DATABASE_URL") or "").strip(),
            vnpay=vnpay,
            vnpay_sandbox_ipn_url=(env.get("VNPAY_SANDBOX_IPN_URL") or "").strip(),
        )


_current: Optional[BillingSettings] = None


def current() -> BillingSettings:
    """The process's settings, read from the environment on first use and kept."""
    global _current
    if _current is None:
        _current = BillingSettings.from_env()
    return _current


def reload() -> None:
    """Forget the kept settings (tests that change the environment)."""
    global _current
    _current = None
