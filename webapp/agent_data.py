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
from helpdesk import conversation_store

LANG = "vi"
CYCLES = (Cycle.MONTHLY, Cycle.YEARLY)


class UnknownWorkspace(LookupError):
    pass


def _catalog():
    return load_catalog()


def product_tiers(catalog) -> List[Dict[str, Any]]:
    """Products of the catalog (catalog order) with their tier keys and Vietnamese names."""
    return [
        {
            "product": key,
            "name": catalog.product_name(key, LANG),
            "tiers": list(product.tiers.keys()),
            "tier_names": {tier: catalog.tier_name(tier, LANG) for tier in product.tiers},
            "has_free": any(not catalog.tiers[tier].paid for tier in product.tiers),
        }
        for key, product in catalog.products.items()
    ]


def cycle_name(cycle: Any) -> Optional[str]:
    """A cycle's Vietnamese name (billing_core's label), None for no cycle (trial, Free)."""
    return bc.label("cycle", cycle, LANG) if cycle else None


def cycle_names(catalog) -> List[Dict[str, Any]]:
    """The catalog's billing cycles (catalog order) with the names the assistant gives them."""
    return [{"cycle": cycle, "name": cycle_name(cycle)} for cycle in catalog.cycles]


def plan_names(item: Dict[str, Any], catalog) -> Dict[str, Any]:
    """``item`` (a product/tier/cycle row) with the catalog's names of its product, tier and cycle."""
    return {
        **item,
        "product_name": catalog.product_name(item["product"], LANG) if item.get("product") else None,
        "tier_name": catalog.tier_name(item["tier"], LANG) if item.get("tier") else None,
        "cycle_name": cycle_name(item.get("cycle")),
    }


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


GREETING = "Chào bạn, cảm ơn bạn đã liên hệ Cleeksy."
CLOSING = "Nếu cần thêm thông tin, bạn cứ trả lời tin nhắn này, mình sẽ hỗ trợ tiếp."
# the agent IS support: a reply that sends the customer to "contact support" helps nobody
AGENT_HANDLES = "Mình sẽ kiểm tra và xử lý trường hợp này giúp bạn, rồi báo lại ngay trong cuộc trò chuyện này."
NOT_FOR_THE_AGENT = {"FIX_CONTACT_SUPPORT"}


def reply_for(decision_view: Dict[str, Any]) -> str:
    """The ready-to-send customer reply: a greeting, the decision, why, the fixes as numbered steps.

    Every policy sentence comes from billing_core.domain.messages (via render_decision); only the
    greeting, the layout and the agent's own words are ours. A request for the plan the customer
    already has is answered with that fact (billing_core's NO_CHANGE summary), never "…sang gói <the same plan>".
    """
    lines = [GREETING, decision_view["summary"]]
    lines += [reason["text"] for reason in decision_view["reasons"]]
    fixes = [fix for fix in decision_view["fixes"] if fix.get("code") not in NOT_FOR_THE_AGENT]
    if fixes:
        lines.append("")
        lines += [f"{n}. {fix['text']}" for n, fix in enumerate(fixes, 1)]
    elif len(fixes) < len(decision_view["fixes"]):
        lines += ["", AGENT_HANDLES]
    lines += ["", CLOSING]
    return "\n".join(lines)


def _error_json(error: BillingError, catalog) -> Dict[str, Any]:
    shown = bc.error_json(error, catalog, LANG)
    return {
        "allowed": False,
        "outcome": "BLOCKED",
        "effective": None,
        "effective_at": None,
        "rule_id": f"error:{error.code}",
        "summary": shown["text"],
        "reasons": [shown],
        "fixes": [],
    }


def check(uow_factory, workspace_id: str, request: Any, now: Optional[datetime] = None) -> Dict[str, Any]:
    catalog = _catalog()
    try:
        decision = bc.check_change(uow_factory(), workspace_id, request, now=now)
    except BillingError as error:
        if isinstance(error, WorkspaceNotFoundError):
            raise UnknownWorkspace(workspace_id) from error
        return {
            **_error_json(error, catalog),
            "reply": "\n".join([GREETING, bc.render_error(error, LANG, catalog), "", CLOSING]),
        }
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
        change = {"product": request.product, "tier": request.tier, "cycle": jsonable(request.cycle)}
        changes.append({**plan_names(change, catalog), **result})
    retention = [
        {**item.to_dict(), "text": retention_text(item, catalog)}
        for item in bc.retention_preview(uow_factory(), workspace_id, now=now)
    ]
    orders = []
    for order in bc.latest_orders(uow_factory(), workspace_id, limit=10):
        row = jsonable(order)
        code = order.response_code
        row["response_text"] = bc.response_code_text(code, LANG) if code else None
        orders.append(plan_names(row, catalog))
    subscriptions = summary.get("subscriptions", [])
    for index, sub in enumerate(subscriptions):
        subscriptions[index] = {**plan_names(sub, catalog), "status_name": bc.label("status", sub["status"], LANG)}
        if sub.get("next_renewal_plan"):
            plan = {**sub["next_renewal_plan"], "product": sub["product"]}
            subscriptions[index]["next_renewal_plan"] = plan_names(plan, catalog)
    return {
        "workspace_id": workspace_id,
        "summary": jsonable(summary),
        "products": product_tiers(catalog),
        "cycles": cycle_names(catalog),
        "changes": changes,
        "retention": retention,
        "orders": orders,
    }


def latest_order_outcome(uow_factory, workspace_id: str) -> Optional[str]:
    orders = bc.latest_orders(uow_factory(), workspace_id, limit=1)
    if not orders:
        return None
    order = orders[0]
    code = order.response_code
    text = bc.response_code_text(code, LANG) if code else "chưa có kết quả từ VNPAY"
    return f"{order.txn_ref} ({jsonable(order.status)}): {text}"


def _utc(value: Any) -> Any:
    # the store keeps naive UTC: say so; the console shows it in Vietnam time, as the widget does
    return value.replace(tzinfo=timezone.utc) if isinstance(value, datetime) and value.tzinfo is None else value


HANDOFF_FIELDS = (
    "id",
    "workspace_id",
    "status",
    "summary",
    "question",
    "bot_answer",
    "diagnosis",
    "language",
    "after_hours",
    "expected_by",
    "agent",
    "created_at",
    "taken_at",
    "updated_at",
    "closed_at",
)
STATUS_NAMES = {"waiting": "Đang chờ", "taken": "Đang trả lời", "returned": "Đã trả lại trợ lý", "closed": "Đã đóng"}
ROLE_NAMES = {
    "user": "Khách",
    "bot": "Trợ lý",
    "agent": "Nhân viên",
    "system": "Hệ thống",
    "restart": "Khách bắt đầu lại",
}


def handoff_json(row: Dict[str, Any], agent: Optional[str] = None) -> Dict[str, Any]:
    item = {key: _utc(row.get(key)) for key in HANDOFF_FIELDS}
    item["status_name"] = STATUS_NAMES.get(item["status"], item["status"])
    item["mine"] = bool(agent and row.get("agent") == agent)
    return jsonable(item)


def message_json(row: Dict[str, Any]) -> Dict[str, Any]:
    return jsonable(
        {
            "id": row["id"],
            "role": row["role"],
            "role_name": ROLE_NAMES.get(row["role"], row["role"]),
            "text": row["text"],
            "buttons": row.get("buttons") or [],
            "at": _utc(row["created_at"]),
        }
    )


def handoffs(
    database_url: str, limit: int = 50, agent: Optional[str] = None, include_finished: bool = False
) -> List[Dict[str, Any]]:
    """The queue: conversations held for a person (waiting first, oldest first), each once."""
    statuses = None if include_finished else conversation_store.ACTIVE
    rows = conversation_store.list_handoffs(database_url, limit=limit, statuses=statuses)
    order = {"waiting": 0, "taken": 1}
    rows.sort(key=lambda r: (order.get(r["status"], 2), r["id"] if r["status"] in order else -r["id"]))
    return [handoff_json(row, agent) for row in rows]


def handoff_detail(database_url: str, handoff_id: int, agent: Optional[str] = None) -> Dict[str, Any]:
    row = conversation_store.get_handoff(handoff_id, database_url)
    messages = conversation_store.conversation(row["sender_id"], database_url, limit=200)
    return {"handoff": handoff_json(row, agent), "messages": [message_json(m) for m in messages]}


def handoff_reply(database_url: str, handoff_id: int, agent: str, text: str) -> Dict[str, Any]:
    """The agent's message to the customer (a waiting conversation is taken by the agent who answers)."""
    row = conversation_store.get_handoff(handoff_id, database_url)
    if row["status"] == conversation_store.WAITING:
        row = conversation_store.take_handoff(handoff_id, agent, database_url)
    if row["status"] != conversation_store.TAKEN:
        raise conversation_store.HandoffError("finished")
    if row["agent"] != agent:
        raise conversation_store.HandoffError("not_yours")
    conversation_store.add_message(
        row["sender_id"],
        "agent",
        text,
        user_sub=row.get("user_sub"),
        workspace_id=row.get("workspace_id"),
        handoff_id=handoff_id,
        author=agent,
        url=database_url,
    )
    return handoff_detail(database_url, handoff_id, agent)


def handoff_change(database_url: str, handoff_id: int, agent: str, action: str) -> Dict[str, Any]:
    change = {
        "take": conversation_store.take_handoff,
        "handback": conversation_store.hand_back,
        "close": conversation_store.close_handoff,
    }[action]
    change(handoff_id, agent, database_url)
    return handoff_detail(database_url, handoff_id, agent)


def history(database_url: str, user_sub: str, workspace_id: Optional[str], limit: int = 100) -> Dict[str, Any]:
    """A verified customer's conversation, whatever device they used, and who holds it now."""
    rows = conversation_store.history(user_sub, workspace_id, database_url, limit=limit)
    active = None
    if rows:
        active = conversation_store.active_handoff(rows[-1]["sender_id"], database_url)
    return {
        "messages": [message_json(m) for m in rows],
        "handoff": {"status": active["status"], "after_hours": bool(active["after_hours"])} if active else None,
    }


# "Was this helpful?" topics as the console names them. Older ratings were filed under the intent
# (ask_go_free) or under an answer's own name before the topic list existed: they count with their topic.
TOPIC_NAMES = {
    "upgrade_howto": "Cách nâng cấp",
    "downgrade_howto": "Cách hạ gói",
    "extended_capacity": "Dung lượng mở rộng",
    "billing_cycle": "Chu kỳ thanh toán",
    "go_free": "Chuyển về bản Free",
    "trial": "Dùng thử",
    "data_retention": "Lưu giữ và xóa dữ liệu",
    "payment": "Thanh toán",
    "next_renewal": "Gói gia hạn tiếp theo",
    "my_plan": "Gói đang dùng",
    "payment_status": "Trạng thái thanh toán",
    "capabilities": "Trợ lý làm được gì",
    "check_change": "Kiểm tra đổi gói",
    "cancel_downgrade": "Hủy hạ gói",
    "checkout": "Mua và thanh toán",
    "other": "Khác",
}


def topic_key(topic: str) -> str:
    key = (topic or "other").strip().lower()
    for prefix in ("ask_", "utter_", "action_answer_"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key if key in TOPIC_NAMES else "other"


def feedback_rates(database_url: str) -> List[Dict[str, Any]]:
    """ "Was this helpful?" per topic: counts and the helpful share, lowest share first."""
    merged: Dict[str, Dict[str, int]] = {}
    for row in conversation_store.feedback_counts(database_url):
        counts = merged.setdefault(topic_key(row["topic"]), {"total": 0, "helpful": 0})
        counts["total"] += row["total"]
        counts["helpful"] += row["helpful"]
    result = [
        {
            "topic": key,
            "name": TOPIC_NAMES[key],
            "helpful": c["helpful"],
            "not_helpful": c["total"] - c["helpful"],
            "total": c["total"],
            "rate": round(c["helpful"] / c["total"], 3) if c["total"] else None,
        }
        for key, c in merged.items()
    ]
    return sorted(result, key=lambda item: (item["rate"] if item["rate"] is not None else 2, item["name"]))
