"""What every blueprint of the web app shares: the settings read once at start, the thread-pool
helper for blocking billing_core calls, and the unit-of-work factory. Blueprints import this
module, never webapp.app (which imports them), so the web app has no import cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import billing_core as bc
from billing_core import ConfigError, SqlAlchemyUnitOfWork, VnpayConfig, database_url
from helpdesk import settings as helpdesk_settings
from helpdesk.settings import HelpdeskSettings, SettingsError

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class WebSettings:
    """Everything the web app needs, read once at startup (never per request)."""

    database_url: str
    vnpay: VnpayConfig
    mode: str = "demo"
    sandbox_ipn_url: str = f"http://127.0.0.1:{DEFAULT_PORT}/vnpay/ipn"
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    payment_jobs_seconds: int = 300  # every periodic job (bc.run_jobs) every N seconds; 0 = off
    extra: Mapping[str, Any] = field(default_factory=dict)  # settings of other blueprints
    helpdesk: Optional[HelpdeskSettings] = None  # HELPDESK_* as helpdesk/settings.py read them

    @property
    def sandbox_enabled(self) -> bool:
        """The local VNPAY stand-in exists in demo mode only (which listens on loopback only)."""
        return self.mode == "demo" and helpdesk_settings.is_loopback(self.host)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "WebSettings":
        """From helpdesk.settings and billing_core.settings (``environ``: read that mapping instead)."""
        try:
            assistant = helpdesk_settings.current() if environ is None else HelpdeskSettings.from_env(environ)
        except SettingsError as error:
            raise ConfigError(str(error)) from None
        vnpay_config = VnpayConfig.from_env(assistant.mode, environ)  # ConfigError in production if unsafe
        billing = bc.settings.current() if environ is None else bc.settings.BillingSettings.from_env(environ)
        db_url = billing.database_url or database_url()
        sandbox_ipn = billing.vnpay_sandbox_ipn_url or f"http://127.0.0.1:{assistant.web_port}/vnpay/ipn"
        return cls(
            database_url=db_url,
            vnpay=vnpay_config,
            mode=assistant.mode,
            sandbox_ipn_url=sandbox_ipn,
            host=assistant.bind_host,
            port=assistant.web_port,
            payment_jobs_seconds=assistant.payment_jobs_seconds,
            helpdesk=assistant,
        )


def make_uow_factory(settings: WebSettings) -> Callable[[], Any]:
    return lambda: SqlAlchemyUnitOfWork(settings.database_url)
