"""What the agent console shows, read from billing_core and the conversation store.

A thin adapter: every fact and every sentence of policy comes from ``billing_core`` (decisions,
reasons, fixes, ``messages``); this module only enumerates the changes worth checking and
turns results into JSON. All reads, nothing is written.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional

import billing_core as bc
from billing_core import (
    BillingError,
    ChangeRequest,
    Cycle,
    WorkspaceNotFoundError,
    jsonable,
    load_catalog,
)

LANG = "vi"
CYCLES = (Cycle.MONTHLY, Cycle.YEARLY)


class UnknownWorkspace(LookupError):
    pass


def _catalog():
    return load_catalog()


def product_tiers(catalog) -> List[Dict[str, Any]]:
    """Products of the catalog (catalog order) with their tier keys and Vietnamese names."""
    return [
        {"product": key, "name": catalog.product_name(key, LANG), "tiers": list(product.tiers.keys()),
         "has_free": any(not catalog.tiers[tier].paid for tier in product.tiers)}
        for key, product in catalog.products.items()
    ]


def candidate_requests(catalog) -> Iterable[Any]:
    """Every change an agent might be asked about: each tier x cycle of each product, and Free."""
    for item in product_tiers(catalog):
        for tier in item["tiers"]:
            if not catalog.tiers[tier].paid:
                continue
            for cycle in CYCLES:
                yield ChangeRequest(product=item["product"], tier=tier, cycle=cycle)
        yield ChangeRequest(product=item["product"], tier="free", cycle=None)


def _render(code: str, params: Dict[str, Any], catalog) -> str:
    return bc.render(code, params, LANG, catalog)


def decision_json(decision, catalog) -> Dict[str, Any]:
    return bc.decision_json(decision, catalog, LANG)


def reply_for(decision_view: Dict[str, Any]) -> str:
    """The ready-to-send customer reply: summary, reasons, then the fixes as numbered steps.

    Every sentence comes from billing_core.domain.messages (via render_decision); only the layout is ours.
    """
    lines = [decision_view["summary"]]
    lines += [reason["text"] for reason in decision_view["reasons"]]
    if decision_view["fixes"]:
        lines.append("")
        lines += [f"{n}. {fix['text']}" for n, fix in enumerate(decision_view["fixes"], 1)]
    return "\n".join(lines)


def _error_json(error: BillingError, catalog) -> Dict[str, Any]:
    shown = bc.error_json(error, catalog, LANG)
    return {"allowed": False, "outcome": "BLOCKED", "effective": None, "effective_at": None,
            "rule_id": f"error:{error.code}", "summary": shown["text"], "reasons": [shown], "fixes": []}


def check(uow_factory, workspace_id: str, request: Any, now: Optional[datetime] = None) -> Dict[str, Any]:
    catalog = _catalog()
    try:
        decision = bc.check_change(uow_factory(), workspace_id, request, now=now)
    except BillingError as error:
        if isinstance(error, WorkspaceNotFoundError):
            raise UnknownWorkspace(workspace_id) from error
        return {**_error_json(error, catalog), "reply": bc.render_error(error, LANG, catalog)}
    view = decision_json(decision, catalog)
    return {**view, "reply": reply_for(view)}


def retention_text(item, catalog) -> str:
    due_date = item.due_at.date().isoformat()
    if jsonable(item.kind) == "capacity":
        params = {"kind": item.target, "amount": item.amount, "due_date": due_date}
        return bc.render("RETENTION_CAPACITY", params, LANG, catalog)
    return bc.render("RETENTION_FEATURE_DATA", {"feature": item.target, "due_date": due_date}, LANG, catalog)


def workspace_ids(uow_factory) -> List[str]:
    with uow_factory() as uow:
        return sorted(uow.workspaces.list_ids())


def overview(uow_factory, workspace_id: str, now: Optional[datetime] = None) -> Dict[str, Any]:
    now = now or bc.utcnow()
    if workspace_id not in workspace_ids(uow_factory):
        raise UnknownWorkspace(workspace_id)
    catalog = _catalog()
    summary = bc.workspace_summary(uow_factory(), workspace_id, now=now)
    changes = []
    for request in candidate_requests(catalog):
        result = check(uow_factory, workspace_id, request, now=now)
        result.pop("reply", None)
        changes.append({"product": request.product, "tier": request.tier,
                        "cycle": jsonable(request.cycle), **result})
    retention = [{**item.to_dict(), "text": retention_text(item, catalog)}
                 for item in bc.retention_preview(uow_factory(), workspace_id, now=now)]
    orders = []
    for order in bc.latest_orders(uow_factory(), workspace_id, limit=10):
        row = jsonable(order)
        code = order.response_code
        row["response_text"] = bc.response_code_text(code, LANG) if code else None
        orders.append(row)
    for sub in summary.get("subscriptions", []):
        sub["product_name"] = catalog.product_name(sub["product"], LANG)
        sub["tier_name"] = catalog.tier_name(sub["tier"], LANG)
        sub["status_name"] = bc.label("status", sub["status"], LANG)
    return {"workspace_id": workspace_id, "summary": jsonable(summary), "products": product_tiers(catalog),
            "changes": changes, "retention": retention, "orders": orders}


def latest_order_outcome(uow_factory, workspace_id: str) -> Optional[str]:
    orders = bc.latest_orders(uow_factory(), workspace_id, limit=1)
    if not orders:
        return None
    order = orders[0]
    code = order.response_code
    text = bc.response_code_text(code, LANG) if code else "chưa có kết quả từ VNPAY"
    return f"{order.txn_ref} ({jsonable(order.status)}): {text}"


def handoffs(database_url: str, limit: int = 50) -> List[Dict[str, Any]]:
    """Open requests to talk to a person, newest first, with the assistant's conversation summary."""
    from helpdesk import conversation_store

    rows = conversation_store.list_handoffs(database_url, limit=limit)
    result = []
    for row in rows:
        item = {key: row.get(key) for key in ("id", "workspace_id", "summary", "language", "status", "created_at")}
        created = item["created_at"]
        if isinstance(created, datetime) and created.tzinfo is None:  # the store keeps naive UTC
            item["created_at"] = created.replace(tzinfo=timezone.utc)
        result.append(jsonable(item))
    return result


def feedback_rates(database_url: str) -> List[Dict[str, Any]]:
    """"Was this helpful?" per topic: counts and the helpful share, lowest share first."""
    from sqlalchemy import case, func, select

    from helpdesk import conversation_store

    table = conversation_store.feedback
    helpful = func.sum(case((table.c.helpful.is_(True), 1), else_=0))
    query = select(table.c.topic, func.count().label("total"), helpful.label("helpful")).group_by(table.c.topic)
    with conversation_store.engine_for(database_url).connect() as connection:
        rows = connection.execute(query).all()
    result = [{"topic": topic, "helpful": int(yes or 0), "not_helpful": int(total - (yes or 0)),
               "total": int(total), "rate": round((yes or 0) / total, 3) if total else None}
              for topic, total, yes in rows]
    return sorted(result, key=lambda item: (item["rate"] if item["rate"] is not None else 2, item["topic"]))
