"""The support agent's console: page + JSON API under /agent (token role ``agent`` required).

GET  /agent                          the console page (it fetches its data with the agent token)
GET  /agent/api/workspaces           workspace ids
GET  /agent/api/workspaces/<id>      subscriptions, every possible change with its decision,
                                     retention schedule, recent orders with their VNPAY outcome
POST /agent/api/triage               {workspace_id, product, tier, cycle, seen} -> the rule at work
                                     and a ready-to-send reply in Vietnamese
GET  /agent/api/handoffs             customers who asked for a person, with a summary
GET  /agent/api/feedback             "was this helpful?" rate per topic

A customer token gets 403 on every API route, whatever workspace it names; no token 401.
"""
from __future__ import annotations

import re
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request

from billing_core import ChangeRequest, Cycle
from webapp import agent_data, auth
from webapp.app import run_blocking
from webapp.page_templates import page

WORKSPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PRODUCTS = ("digital_workspace", "operations_workflow", "app_builder")
TIERS = ("free", "starter", "standard", "premium")
CYCLES = ("monthly", "yearly")
MAX_NOTE_LENGTH = 500
SYMPTOMS = ("blocked", "next_cycle", "payment_failed", "other")


def _bad(code: str, message_vi: str) -> Any:
    return auth.error(400, code, message_vi)


def _unknown_workspace() -> Any:
    return auth.error(404, "unknown_workspace", "Không tìm thấy không gian làm việc này.")


def uow(request: Request):
    return request.app.ctx.uow_factory


def database_url(request: Request) -> str:
    return request.app.ctx.settings.database_url


def create_blueprint(settings: Any = None) -> Blueprint:
    bp = Blueprint("agent", url_prefix="/agent")

    @bp.get("/")
    async def console(request: Request) -> Any:
        return page("agent_console.html", {"demo": auth.is_demo()})

    @bp.get("/api/workspaces")
    @auth.agent_required
    async def list_workspaces(request: Request) -> Any:
        return response.json({"workspaces": await run_blocking(agent_data.workspace_ids, uow(request))})

    @bp.get("/api/workspaces/<workspace_id>")
    @auth.agent_required
    async def workspace(request: Request, workspace_id: str) -> Any:
        if not WORKSPACE_ID.match(workspace_id):
            return _bad("bad_workspace_id", "Mã không gian làm việc không hợp lệ.")
        try:
            return response.json(await run_blocking(agent_data.overview, uow(request), workspace_id))
        except agent_data.UnknownWorkspace:
            return _unknown_workspace()

    @bp.post("/api/triage")
    @auth.agent_required
    async def triage(request: Request) -> Any:
        try:
            body = request.json
        except Exception:
            body = None
        if not isinstance(body, dict):
            return _bad("json_required", "Gửi dữ liệu dạng JSON: workspace_id, product, tier, cycle.")
        workspace_id = body.get("workspace_id")
        product, tier, cycle = body.get("product"), body.get("tier"), body.get("cycle") or None
        seen = body.get("seen") or "other"
        note = body.get("note") or ""
        if not isinstance(workspace_id, str) or not WORKSPACE_ID.match(workspace_id):
            return _bad("bad_workspace_id", "Mã không gian làm việc không hợp lệ.")
        if product not in PRODUCTS:
            return _bad("bad_product", "Chọn gói giải pháp: Không gian làm việc số, Quy trình vận hành hoặc Xây dựng ứng dụng.")
        if tier not in TIERS:
            return _bad("bad_tier", "Chọn gói đích: Free, Starter, Standard hoặc Premium.")
        if cycle is not None and cycle not in CYCLES:
            return _bad("bad_cycle", "Chu kỳ thanh toán phải là theo tháng hoặc theo năm.")
        if seen not in SYMPTOMS:
            return _bad("bad_seen", "Chọn điều khách hàng đã thấy trong danh sách.")
        if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
            return _bad("bad_note", f"Ghi chú tối đa {MAX_NOTE_LENGTH} ký tự.")

        change = ChangeRequest(product=product, tier=tier, cycle=Cycle(cycle) if cycle and tier != "free" else None)
        try:
            result = await run_blocking(agent_data.check, uow(request), workspace_id, change)
        except agent_data.UnknownWorkspace:
            return _unknown_workspace()
        return response.json({"workspace_id": workspace_id, "request": {"product": product, "tier": tier, "cycle": cycle},
                              "seen": seen, "note": note, **result,
                              "assessment": await run_blocking(assess, uow(request), seen, result, workspace_id)})

    @bp.get("/api/handoffs")
    @auth.agent_required
    async def handoffs(request: Request) -> Any:
        return response.json({"handoffs": await run_blocking(agent_data.handoffs, database_url(request))})

    @bp.get("/api/feedback")
    @auth.agent_required
    async def feedback(request: Request) -> Any:
        return response.json({"topics": await run_blocking(agent_data.feedback_rates, database_url(request))})

    return bp


def assess(uow_factory, seen: str, result: dict, workspace_id: str) -> str:
    """Does what the customer saw match the rule at work? (agent-facing guidance, not policy)"""
    outcome, rule = result.get("outcome"), result.get("rule_id")
    if seen == "blocked":
        if outcome == "BLOCKED":
            return f"Khớp: thay đổi này bị chặn bởi quy tắc {rule}. Gửi khách lý do và các bước khắc phục bên dưới."
        return ("Không khớp: với dữ liệu hiện tại thay đổi này được phép. Hỏi lại khách đã chọn gói và chu kỳ nào, "
                "hoặc gói của khách vừa thay đổi.")
    if seen == "next_cycle":
        if outcome == "NEXT_CYCLE":
            return f"Khớp: quy tắc {rule} áp dụng thay đổi này từ kỳ thanh toán tiếp theo (mục Gói gia hạn tiếp theo)."
        if outcome == "IMMEDIATE":
            return "Không khớp: thay đổi này áp dụng ngay khi thanh toán thành công. Kiểm tra đơn hàng gần đây bên dưới."
        return f"Thay đổi này hiện bị chặn bởi quy tắc {rule}."
    if seen == "payment_failed":
        latest = agent_data.latest_order_outcome(uow_factory, workspace_id)
        if latest:
            return f"Đơn hàng gần nhất {latest}. Xem bảng đơn hàng bên dưới."
        return "Không gian làm việc này chưa có đơn hàng nào: khách chưa đến bước thanh toán VNPAY."
    return f"Quy tắc đang áp dụng: {rule}."

