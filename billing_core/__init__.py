"""Cleeksy billing core: catalog, plan-change rules, quotes, retention, subscriptions, VNPAY.

This module is the one public API. The assistant's actions, the web app, the helpdesk stack,
the benchmarks and the scripts import names from here and nowhere else inside the package
(an import-linter contract in ``.importlinter`` holds them to it). Inside, the layers follow
*Architecture Patterns with Python*:

- ``domain/``: plain dataclasses, the catalog, the ordered plan-change rules, quotes, retention,
  reasons and their Vietnamese/English texts. Never imports SQLAlchemy or an adapter.
- ``adapters/``: SQLAlchemy mapping, repository, unit of work, the VNPAY gateway protocol.
- ``service_layer/``: the use cases, each in one unit of work (plan changes, payments, jobs).
- ``entrypoints/``: the command line, ``python -m billing_core``.

Plain Python: it never imports Rasa.

Names are loaded on first use (PEP 562): ``import billing_core.domain...`` must not pull in
SQLAlchemy (the domain is plain Python, and a test holds it to that), and a script that only
renders a text should not pay for the ORM.
"""

import importlib
from typing import TYPE_CHECKING, Any, List

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "vnpay": "billing_core.adapters.vnpay",  # a module: the gateway protocol
    "FakeUnitOfWork": "billing_core.adapters.unit_of_work",
    "SqlAlchemyUnitOfWork": "billing_core.adapters.unit_of_work",
    "create_schema": "billing_core.adapters.unit_of_work",
    "database_url": "billing_core.adapters.unit_of_work",
    "get_engine": "billing_core.adapters.unit_of_work",
    "ConfigError": "billing_core.adapters.vnpay",
    "VnpayConfig": "billing_core.adapters.vnpay",
    "Catalog": "billing_core.domain.catalog",
    "load_catalog": "billing_core.domain.catalog",
    "VIETNAM": "billing_core.domain.clock",
    "business_day": "billing_core.domain.clock",
    "days_left": "billing_core.domain.clock",
    "utcnow": "billing_core.domain.clock",
    "vietnam_date": "billing_core.domain.clock",
    "BillingError": "billing_core.domain.errors",
    "WorkspaceNotFoundError": "billing_core.domain.errors",
    "format_date": "billing_core.domain.messages",
    "format_datetime": "billing_core.domain.messages",
    "format_vnd": "billing_core.domain.messages",
    "join_list": "billing_core.domain.messages",
    "label": "billing_core.domain.messages",
    "render": "billing_core.domain.messages",
    "render_decision": "billing_core.domain.messages",
    "render_error": "billing_core.domain.messages",
    "Cycle": "billing_core.domain.model",
    "OrderKind": "billing_core.domain.model",
    "OrderStatus": "billing_core.domain.model",
    "Outcome": "billing_core.domain.model",
    "RenewalMode": "billing_core.domain.model",
    "Quote": "billing_core.domain.quotes",
    "ChangeRequest": "billing_core.domain.rules",
    "Decision": "billing_core.domain.rules",
    "decide": "billing_core.domain.rules",
    "jsonable": "billing_core.service_layer.common",
    "DEMO_WORKSPACE_IDS": "billing_core.service_layer.demo",
    "DEMO_WORKSPACE_LABELS": "billing_core.service_layer.demo",
    "seed_demo": "billing_core.service_layer.demo",
    "run_jobs": "billing_core.service_layer.jobs",
    "Checkout": "billing_core.service_layer.payments",
    "find_order": "billing_core.service_layer.payments",
    "handle_ipn": "billing_core.service_layer.payments",
    "ipn_answer": "billing_core.service_layer.payments",
    "latest_orders": "billing_core.service_layer.payments",
    "response_code_text": "billing_core.service_layer.payments",
    "start_checkout": "billing_core.service_layer.payments",
    "cancel_pending_order": "billing_core.service_layer.payments",
    "apply_upgrade": "billing_core.service_layer.services",
    "cancel_scheduled_change": "billing_core.service_layer.services",
    "check_change": "billing_core.service_layer.services",
    "quote_change": "billing_core.service_layer.services",
    "retention_preview": "billing_core.service_layer.services",
    "schedule_downgrade": "billing_core.service_layer.services",
    "workspace_summary": "billing_core.service_layer.services",
    "WorkspaceView": "billing_core.service_layer.services",
    "workspace_view": "billing_core.service_layer.services",
    "decision_json": "billing_core.service_layer.views",
    "error_json": "billing_core.service_layer.views",
    "message_json": "billing_core.service_layer.views",
    "settings": "billing_core.settings",  # a module: BILLING_*, VNPAY_* and the mode, read once
}

# the same names, literally, so that type checkers see them exported (a test keeps the two equal)
__all__ = [
    "BillingError",
    "Catalog",
    "ChangeRequest",
    "Checkout",
    "ConfigError",
    "Cycle",
    "DEMO_WORKSPACE_IDS",
    "DEMO_WORKSPACE_LABELS",
    "Decision",
    "FakeUnitOfWork",
    "OrderKind",
    "OrderStatus",
    "Outcome",
    "Quote",
    "RenewalMode",
    "SqlAlchemyUnitOfWork",
    "VIETNAM",
    "VnpayConfig",
    "WorkspaceNotFoundError",
    "WorkspaceView",
    "apply_upgrade",
    "business_day",
    "cancel_pending_order",
    "cancel_scheduled_change",
    "check_change",
    "create_schema",
    "database_url",
    "days_left",
    "decide",
    "decision_json",
    "error_json",
    "find_order",
    "format_date",
    "format_datetime",
    "format_vnd",
    "get_engine",
    "handle_ipn",
    "ipn_answer",
    "join_list",
    "jsonable",
    "label",
    "latest_orders",
    "load_catalog",
    "message_json",
    "quote_change",
    "render",
    "render_decision",
    "render_error",
    "response_code_text",
    "retention_preview",
    "run_jobs",
    "schedule_downgrade",
    "seed_demo",
    "settings",
    "start_checkout",
    "utcnow",
    "vietnam_date",
    "vnpay",
    "workspace_summary",
    "workspace_view",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'billing_core' has no attribute {name!r}")
    loaded = importlib.import_module(module)
    value = loaded if module.endswith("." + name) else getattr(loaded, name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> List[str]:
    return sorted(list(globals()) + __all__)


if TYPE_CHECKING:  # the same names, for type checkers and readers
    from billing_core import settings
    from billing_core.adapters import vnpay
    from billing_core.adapters.unit_of_work import (
        FakeUnitOfWork,
        SqlAlchemyUnitOfWork,
        create_schema,
        database_url,
        get_engine,
    )
    from billing_core.adapters.vnpay import ConfigError, VnpayConfig
    from billing_core.domain.catalog import Catalog, load_catalog
    from billing_core.domain.clock import VIETNAM, business_day, days_left, utcnow, vietnam_date
    from billing_core.domain.errors import BillingError, WorkspaceNotFoundError
    from billing_core.domain.messages import (
        format_date,
        format_datetime,
        format_vnd,
        join_list,
        label,
        render,
        render_decision,
        render_error,
    )
    from billing_core.domain.model import Cycle, OrderKind, OrderStatus, Outcome, RenewalMode
    from billing_core.domain.quotes import Quote
    from billing_core.domain.rules import ChangeRequest, Decision, decide
    from billing_core.service_layer.common import jsonable
    from billing_core.service_layer.demo import DEMO_WORKSPACE_IDS, DEMO_WORKSPACE_LABELS, seed_demo
    from billing_core.service_layer.jobs import run_jobs
    from billing_core.service_layer.payments import (
        Checkout,
        cancel_pending_order,
        find_order,
        handle_ipn,
        ipn_answer,
        latest_orders,
        response_code_text,
        start_checkout,
    )
    from billing_core.service_layer.services import (
        WorkspaceView,
        apply_upgrade,
        cancel_scheduled_change,
        check_change,
        quote_change,
        retention_preview,
        schedule_downgrade,
        workspace_summary,
        workspace_view,
    )
    from billing_core.service_layer.views import decision_json, error_json, message_json
