"""The support agent's console: page + JSON API under /agent (token role ``agent`` required).

GET  /agent                          the console page (it fetches its data with the agent token)
GET  /agent/api/workspaces           workspace ids
GET  /agent/api/workspaces/<id>      subscriptions, every possible change with its decision,
                                     retention schedule, recent orders with their VNPAY outcome
POST /agent/api/triage               {workspace_id, product, tier, cycle, seen} -> the rule at work
                                     and a ready-to-send reply in Vietnamese
GET  /agent/api/handoffs             the queue: conversations held for a person, each once, with a
                                     summary (question, bot's answer, billing_core's diagnosis)
GET  /agent/api/handoffs/<id>        one hand-off and its conversation
POST /agent/api/handoffs/<id>/take   the agent answers it from now on (409 if another agent does)
POST /agent/api/handoffs/<id>/reply  {text}: sent live to the customer's widget (takes it if waiting)
POST /agent/api/handoffs/<id>/handback   the bot answers again
POST /agent/api/handoffs/<id>/close      finished
GET  /agent/api/feedback             "was this helpful?" rate per topic, by name

A customer token gets 403 on every API route, whatever workspace it names; no token 401.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request

from billing_core import ChangeRequest, Cycle, join_list, load_catalog
from helpdesk import conversation_store
from webapp import agent_data, auth
from webapp.page_templates import page

WORKSPACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CYCLES = tuple(cycle.value for cycle in Cycle)
MAX_NOTE_LENGTH = 500
MAX_REPLY_LENGTH = 2000
HANDOFF_ERRORS = {
    "unknown": (404, "Không tìm thấy yêu cầu này."),
    "not_yours": (409, "Một nhân viên khác đang trả lời khách này."),
    "not_taken": (409, "Hãy nhận yêu cầu trước khi trả lời."),
    "finished": (409, "Cuộc trò chuyện này đã được trả lại trợ lý hoặc đã đóng."),
}
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
        return response.json({"workspaces": await asyncio.to_thread(agent_data.workspace_ids, uow(request))})

    @bp.get("/api/workspaces/<workspace_id>")
    @auth.agent_required
    async def workspace(request: Request, workspace_id: str) -> Any:
        if not WORKSPACE_ID.match(workspace_id):
            return _bad("bad_workspace_id", "Mã không gian làm việc không hợp lệ.")
        try:
            return response.json(await asyncio.to_thread(agent_data.overview, uow(request), workspace_id))
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
        catalog = load_catalog()  # keys and names come from the catalog (a new product or tier needs no code)
        if not isinstance(product, str) or product not in catalog.products:
            names = [catalog.product_name(key, "vi") for key in catalog.products]
            return _bad("bad_product", f"Chọn gói giải pháp: {join_list(names, 'vi', choice=True)}.")
        if not isinstance(tier, str) or tier not in catalog.tiers:
            names = [catalog.tier_name(key, "vi") for key in catalog.tiers]
            return _bad("bad_tier", f"Chọn gói đích: {join_list(names, 'vi', choice=True)}.")
        if cycle is not None and cycle not in CYCLES:
            names = [item["name"] for item in agent_data.cycle_names(catalog)]
            return _bad("bad_cycle", f"Chọn chu kỳ thanh toán: {join_list(names, 'vi', choice=True)}.")
        if seen not in SYMPTOMS:
            return _bad("bad_seen", "Chọn điều khách hàng đã thấy trong danh sách.")
        if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH:
            return _bad("bad_note", f"Ghi chú tối đa {MAX_NOTE_LENGTH} ký tự.")

        change = ChangeRequest(product=product, tier=tier, cycle=Cycle(cycle) if cycle and tier != "free" else None)
        try:
            result = await asyncio.to_thread(agent_data.check, uow(request), workspace_id, change)
        except agent_data.UnknownWorkspace:
            return _unknown_workspace()
        return response.json(
            {
                "workspace_id": workspace_id,
                "request": {"product": product, "tier": tier, "cycle": cycle},
                "seen": seen,
                "note": note,
                **result,
                "assessment": await asyncio.to_thread(assess, uow(request), seen, result, workspace_id),
            }
        )

    @bp.get("/api/handoffs")
    @auth.agent_required
    async def handoffs(request: Request) -> Any:
        finished = request.args.get("all") == "1"
        return response.json(
            {
                "handoffs": await asyncio.to_thread(
                    agent_data.handoffs, database_url(request), agent=request.ctx.caller.sub, include_finished=finished
                )
            }
        )

    async def _handoff_call(fn, *args) -> Any:
        try:
            return response.json(await asyncio.to_thread(fn, *args))
        except conversation_store.HandoffError as error:
            status, message = HANDOFF_ERRORS.get(error.code, (409, "Không thực hiện được."))
            return auth.error(status, error.code, message)

    @bp.get("/api/handoffs/<handoff_id:int>")
    @auth.agent_required
    async def handoff(request: Request, handoff_id: int) -> Any:
        return await _handoff_call(agent_data.handoff_detail, database_url(request), handoff_id, request.ctx.caller.sub)

    @bp.post("/api/handoffs/<handoff_id:int>/reply")
    @auth.agent_required
    async def handoff_reply(request: Request, handoff_id: int) -> Any:
        try:
            body = request.json
        except Exception:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _bad("empty_reply", "Viết nội dung trả lời khách.")
        if len(text) > MAX_REPLY_LENGTH:
            return _bad("reply_too_long", f"Câu trả lời tối đa {MAX_REPLY_LENGTH} ký tự.")
        return await _handoff_call(
            agent_data.handoff_reply, database_url(request), handoff_id, request.ctx.caller.sub, text.strip()
        )

    @bp.post("/api/handoffs/<handoff_id:int>/<action:(take|handback|close)>")
    @auth.agent_required
    async def handoff_change(request: Request, handoff_id: int, action: str) -> Any:
        return await _handoff_call(
            agent_data.handoff_change, database_url(request), handoff_id, request.ctx.caller.sub, action
        )

    @bp.get("/api/feedback")
    @auth.agent_required
    async def feedback(request: Request) -> Any:
        return response.json({"topics": await asyncio.to_thread(agent_data.feedback_rates, database_url(request))})

    return bp


def assess(uow_factory, seen: str, result: dict, workspace_id: str) -> str:
    """Does what the customer saw match the rule at work? (agent-facing guidance, not policy)"""
    outcome = result.get("outcome")
    if result.get("rule_id") == "no_change":
        return (
            "Khách đang dùng đúng gói này: không có gì để thay đổi. "
            "Hỏi lại khách muốn đổi gói, chu kỳ hay số người dùng."
        )
    if seen == "blocked":
        if outcome == "BLOCKED":
            return "Khớp: thay đổi này đang bị chặn. Gửi khách lý do và các bước khắc phục bên dưới."
        return (
            "Không khớp: với dữ liệu hiện tại thay đổi này được phép. Hỏi lại khách đã chọn gói và chu kỳ nào, "
            "hoặc gói của khách vừa thay đổi."
        )
    if seen == "next_cycle":
        if outcome == "NEXT_CYCLE":
            return "Khớp: thay đổi này áp dụng từ kỳ thanh toán tiếp theo (mục Gói gia hạn tiếp theo)."
        if outcome == "IMMEDIATE":
            return (
                "Không khớp: thay đổi này áp dụng ngay khi thanh toán thành công. Kiểm tra đơn hàng gần đây bên dưới."
            )
        return "Không khớp: thay đổi này hiện bị chặn, chưa thể áp dụng kỳ sau. Xem lý do bên dưới."
    if seen == "payment_failed":
        latest = agent_data.latest_order_outcome(uow_factory, workspace_id)
        if latest:
            return f"Đơn hàng gần nhất {latest}. Xem bảng đơn hàng bên dưới."
        return "Không gian làm việc này chưa có đơn hàng nào: khách chưa đến bước thanh toán VNPAY."
    return result.get("summary") or ""
