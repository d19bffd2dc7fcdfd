"""App factory: ``create_app(settings)`` -> a Sanic app with every blueprint registered.

Blocking ``billing_core`` calls (SQLAlchemy, requests) run in the default thread pool via
``asyncio.to_thread``; each call gets its own unit of work (a unit of work holds one session and must
never be shared between requests).

Other parts add their pages as blueprints: write ``webapp/<part>.py`` exposing
``create_blueprint(settings)`` and add it to ``register_blueprints`` below.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, Callable, Optional

from sanic import Sanic, response
from sanic.request import Request

import billing_core as bc
from billing_core import (
    ConfigError,
    ipn_answer,
)
from webapp import agent, helpcenter, history, payments_routes, vnpay_sandbox
from webapp.runtime import (  # noqa: F401  (WebSettings is part of webapp.app's API)
    DEFAULT_HOST,
    DEFAULT_PORT,
    WebSettings,
    make_uow_factory,
)

log = logging.getLogger(__name__)

_app_numbers = itertools.count(1)


def register_blueprints(app: Sanic, settings: WebSettings) -> None:
    app.blueprint(payments_routes.create_blueprint(settings))
    if settings.sandbox_enabled:
        app.blueprint(vnpay_sandbox.create_blueprint(settings))
    # help-center page + widget + demo login, and the agent console (issue 5)

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
        return response.json(
            {
                "ok": True,
                "mode": settings.mode,
                "vnpay": "local stand-in" if settings.vnpay.uses_local_sandbox else "VNPAY",
            }
        )

    if settings.payment_jobs_seconds > 0:

        @app.after_server_start
        async def start_payment_jobs(app_, _loop):
            app_.add_task(_payment_jobs_loop(app_, settings))

    @app.before_server_start
    async def announce(app_, _loop):
        if settings.vnpay.uses_local_sandbox:
            log.warning(
                "VNPAY: payment links go to the LOCAL STAND-IN %s (not VNPAY); set VNPAY_PAYMENT_URL "
                "and the merchant credentials to use VNPAY",
                settings.vnpay.payment_url,
            )
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
            counts = await asyncio.to_thread(bc.run_jobs, app.ctx.uow_factory(), settings.vnpay)
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
