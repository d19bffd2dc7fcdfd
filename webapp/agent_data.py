"""What the agent console shows, read from billing_core and the conversation store.

A thin adapter: every fact and every sentence of policy comes from ``billing_core`` (decisions,
reasons, fixes, ``messages``); this module only enumerates the changes worth checking and
turns results into JSON. All reads, nothing is written.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timezone
from typing import Any, Dict, Iterable, List, Optional

from billing_core import messages, payments, services
from billing_core.catalog import load_catalog
from billing_core.domain.model import Cycle
from billing_core.domain.rules import ChangeRequest
from billing_core.errors import BillingError, WorkspaceNotFoundError

LANG = "vi"
CYCLES = (Cycle.MONTHLY, Cycle.YEARLY)


class UnknownWorkspace(LookupError):
    pass


def jsonable(value: Any) -> Any:
    """Domain values (dataclasses, enums, datetimes) as JSON-ready values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def _catalog():
    return load_catalog()


def product_tiers(catalog) -> List[Dict[str, Any]]:
    """Products of the catalog (catalog order) with their tier keys and Vietnamese names."""
    return [
        {"product": key, "name": catalog.product_name(key, LANG), "tiers": list(product.tiers.keys()),
         "has_free": any(not catalog.tiers[tier].paid for tier in product.tiers)}
        for key, product in catalog.products.items()
    ]


def candidate_requests(catalog) -> Iterable[ChangeRequest]:
    """Every change an agent might be asked about: each tier x cycle of each product, and Free."""
    for item in product_tiers(catalog):
        for tier in item["tiers"]:
            if not catalog.tiers[tier].paid:
                continue
            for cycle in CYCLES:
                yield ChangeRequest(product=item["product"], tier=tier, cycle=cycle)
        yield ChangeRequest(product=item["product"], tier="free", cycle=None)


def _render(code: str, params: Dict[str, Any], catalog) -> str:
    return messages.render(code, params, LANG, catalog)


def decision_json(decision, catalog) -> Dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "outcome": jsonable(decision.outcome),
        "effective": jsonable(decision.effective),
        "effective_at": jsonable(decision.effective_at),
        "rule_id": decision.rule_id,
        "reasons": [{"code": r.code, "params": jsonable(r.params), "text": _render(r.code, r.params, catalog)}
                    for r in decision.reasons],
        "fixes": [{"code": f.code, "params": jsonable(f.params), "text": _render(f.code, f.params, catalog)}
                  for f in decision.fixes],
    }


def reply_for(decision, catalog) -> str:
    """The ready-to-send customer reply, composed by billing_core.messages."""
    if hasattr(messages, "render_decision"):
        return messages.render_decision(decision, LANG, catalog)
    lines = [_render(r.code, r.params, catalog) for r in decision.reasons]
    if decision.fixes:
        lines.append("")
        lines.extend(f"{n}. {_render(f.code, f.params, catalog)}" for n, f in enumerate(decision.fixes, 1))
    return "\n".join(lines)


def _error_json(error: BillingError) -> Dict[str, Any]:
    return {"allowed": False, "outcome": "BLOCKED", "effective": None, "effective_at": None,
            "rule_id": f"error:{error.code}", "reasons": [{"code": error.code, "params": jsonable(error.params),
                                                         "text": error.message(LANG)}], "fixes": []}


def check(uow_factory, workspace_id: str, request: ChangeRequest, now: Optional[datetime] = None) -> Dict[str, Any]:
    catalog = _catalog()
    try:
        decision = services.check_change(uow_factory(), workspace_id, request, now=now)
    except BillingError as error:
        if isinstance(error, WorkspaceNotFoundError):
            raise UnknownWorkspace(workspace_id) from error
        return {**_error_json(error), "reply": error.message(LANG)}
    return {**decision_json(decision, catalog), "reply": reply_for(decision, catalog)}


def workspace_ids(uow_factory) -> List[str]:
    with uow_factory() as uow:
        return sorted(uow.workspaces.list_ids())


def overview(uow_factory, workspace_id: str, now: Optional[datetime] = None) -> Dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    if workspace_id not in workspace_ids(uow_factory):
        raise UnknownWorkspace(workspace_id)
    catalog = _catalog()
    summary = services.workspace_summary(uow_factory(), workspace_id, now=now)
    changes = []
    for request in candidate_requests(catalog):
        result = check(uow_factory, workspace_id, request, now=now)
        result.pop("reply", None)
        changes.append({"product": request.product, "tier": request.tier,
                        "cycle": jsonable(request.cycle), **result})
    retention = [jsonable(item) for item in services.retention_preview(uow_factory(), workspace_id, now=now)]
    orders = []
    for order in payments.latest_orders(uow_factory(), workspace_id, limit=10):
        row = jsonable(order)
        code = order.response_code
        row["response_text"] = payments.response_code_text(code, LANG) if code else None
        orders.append(row)
    return {"workspace_id": workspace_id, "summary": jsonable(summary), "products": product_tiers(catalog),
            "changes": changes, "retention": retention, "orders": orders}


def latest_order_outcome(uow_factory, workspace_id: str) -> Optional[str]:
    orders = payments.latest_orders(uow_factory(), workspace_id, limit=1)
    if not orders:
        return None
    order = orders[0]
    code = order.response_code
    text = payments.response_code_text(code, LANG) if code else "chưa có kết quả từ VNPAY"
    return f"{order.txn_ref} ({jsonable(order.status)}): {text}"


def _conversation_store():
    try:
        from helpdesk import conversation_store
    except ImportError:  # the assistant's store is not installed: nothing recorded yet
        return None
    return conversation_store


def handoffs(limit: int = 50) -> List[Dict[str, Any]]:
    store = _conversation_store()
    if store is None:
        return []
    return [jsonable(item) for item in store.handoff_requests(limit=limit)]


def feedback_rates() -> List[Dict[str, Any]]:
    store = _conversation_store()
    if store is None:
        return []
    return [jsonable(item) for item in store.feedback_rates()]
