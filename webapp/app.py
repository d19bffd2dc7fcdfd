"""App factory: ``create_app(settings)`` -> a Sanic app with every blueprint registered.

Blocking ``billing_core`` calls (SQLAlchemy, requests) run in the default thread pool via
``run_blocking``; each call gets its own unit of work (a unit of work holds one session and must
never be shared between requests).

Other parts add their pages as blueprints: write ``webapp/<part>.py`` exposing
``create_blueprint(settings)`` and add it to ``register_blueprints`` below.
"""
from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from sanic import Sanic, response
from sanic.request import Request

import billing_core as bc
from billing_core import (
    ConfigError,
    SqlAlchemyUnitOfWork,
    VnpayConfig,
    database_url,
    ipn_answer,
)
from helpdesk import settings as helpdesk_settings
from helpdesk.settings import HelpdeskSettings, SettingsError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
_app_numbers = itertools.count(1)


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


async def run_blocking(fn: Callable, *args, **kwargs):
    """Run a blocking call in the thread pool so the event loop keeps serving other requests."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


def register_blueprints(app: Sanic, settings: WebSettings) -> None:
    from webapp import payments_routes

    app.blueprint(payments_routes.create_blueprint(settings))
    if settings.sandbox_enabled:
        from webapp import vnpay_sandbox

        app.blueprint(vnpay_sandbox.create_blueprint(settings))
    # help-center page + widget + demo login, and the agent console (issue 5)
    from webapp import agent, helpcenter, history

    app.blueprint(helpcenter.create_blueprint(settings))
    app.blueprint(agent.create_blueprint(settings))
    app.blueprint(history.create_blueprint(settings))  # the widget's history on any device


def create_app(settings: Optional[WebSettings] = None, uow_factory: Optional[Callable[[], Any]] = None) -> Sanic:
    """A new app. ``settings`` default to the environment; ``uow_factory`` to SQLAlchemy on its URL."""
    settings = settings or WebSettings.from_env()
    # register=False: tests and tools may build several apps in one process.
    app = Sanic(f"cleeksy_web_{next(_app_numbers)}", register=False)
    app.config.FORWARDED_SECRET = None
    app.ctx.settings = settings
    app.ctx.uow_factory = uow_factory or make_uow_factory(settings)
    register_blueprints(app, settings)

    @app.exception(Exception)
    async def ipn_always_answers_json(request: Request, exception: Exception):
        # VNPAY reads only JSON from the IPN URL: a framework error there (wrong method, bad
        # request line...) still gets VNPAY's "99" so that it retries, never an HTML error page.
        if request is not None and (request.path or "").startswith("/vnpay/ipn"):
            log.warning("IPN request failed before the handler: %r", exception)
            return response.json(ipn_answer("99"))
        return app.error_handler.default(request, exception)

    @app.get("/healthz")
    async def healthz(request: Request):
        return response.json({"ok": True, "mode": settings.mode,
                              "vnpay": "local stand-in" if settings.vnpay.uses_local_sandbox else "VNPAY"})

    if settings.payment_jobs_seconds > 0:
        @app.after_server_start
        async def start_payment_jobs(app_, _loop):
            app_.add_task(_payment_jobs_loop(app_, settings))

    @app.before_server_start
    async def announce(app_, _loop):
        if settings.vnpay.uses_local_sandbox:
            log.warning("VNPAY: payment links go to the LOCAL STAND-IN %s (not VNPAY); set VNPAY_PAYMENT_URL "
                        "and the merchant credentials to use VNPAY", settings.vnpay.payment_url)
        else:
            log.info("VNPAY: payment links go to %s", settings.vnpay.payment_url)

    return app


async def _payment_jobs_loop(app: Sanic, settings: WebSettings) -> None:
    """Every periodic job (``bc.run_jobs``, the same as ``python -m billing_core run-jobs``): close
    orders whose IPN never came (querydr), expire trials, renew, run due retention, open
    auto-renewal orders.

    Safe with several web processes: each order becomes final exactly once under its row lock.
    """

    while True:
        await asyncio.sleep(settings.payment_jobs_seconds)
        try:
            counts = await run_blocking(bc.run_jobs, app.ctx.uow_factory(), settings.vnpay)
            if any(counts.values()):
                log.info("payment jobs: %s", counts)
        except Exception:  # keep the loop alive; the next round retries
            log.exception("payment jobs failed")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = WebSettings.from_env()
    except ConfigError as error:
        print(f"web app not started: {error}", flush=True)
        return 2
    print(f"web app {settings.helpdesk.banner() if settings.helpdesk else 'mode: ' + settings.mode}", flush=True)
    if settings.vnpay.uses_local_sandbox:
        print(f"VNPAY: using the LOCAL stand-in at {settings.vnpay.payment_url} (not VNPAY)", flush=True)
    app = create_app(settings)
    app.run(host=settings.host, port=settings.port, access_log=False, motd=False, workers=1)
    return 0
