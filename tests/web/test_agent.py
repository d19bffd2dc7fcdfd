"""The agent console API: agents only; a customer token never reaches it, whatever it names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from billing_core import label, load_catalog
from helpdesk.identity import issue_token
from tests.web.conftest import ROOT, WEB_TEST_SECRET

pytestmark = pytest.mark.timeout(120)

API_ROUTES = [
    ("GET", "/agent/api/workspaces", None),
    ("GET", "/agent/api/workspaces/demo-monthly", None),
    ("GET", "/agent/api/handoffs", None),
    ("GET", "/agent/api/feedback", None),
    (
        "POST",
        "/agent/api/triage",
        {
            "workspace_id": "demo-monthly",
            "product": "app_builder",
            "tier": "standard",
            "cycle": "yearly",
            "seen": "blocked",
        },
    ),
]


def call(web, method, path, body=None, token=None, headers=None):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{web.url}{path}", json=body, headers=headers, timeout=60)


@pytest.fixture
def agent(api_token):
    return api_token(role="agent")


@pytest.mark.parametrize("method, path, body", API_ROUTES)
def test_customer_tokens_get_403_on_every_agent_route_even_for_their_own_workspace(web, api_token, method, path, body):
    for workspace_id in ("demo-monthly", "demo-free"):
        answer = call(web, method, path, body, token=api_token(workspace_id))
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "forbidden" and "khách hàng" in answer.json()["message"]
        assert "subscriptions" not in answer.text and "changes" not in answer.text


@pytest.mark.parametrize("method, path, body", API_ROUTES)
def test_no_bad_or_expired_token_gets_401(web, method, path, body):
    expired = issue_token(
        "demo-agent",
        "support",
        "agent",
        secret=WEB_TEST_SECRET,
        now=datetime.now(timezone.utc) - timedelta(hours=2),
        minutes=10,
    )
    forged = issue_token("demo-agent", "support", "agent", secret="not-the-secret-0123456789abcdefghij")
    for token in (None, "garbage", expired, forged):
        assert call(web, method, path, body, token=token).status_code == 401
    # the demo session cookie alone is not an API credential
    session = requests.Session()
    session.post(f"{web.url}/helpcenter/demo-login", json={"role": "agent"}, timeout=10)
    assert session.request(method, f"{web.url}{path}", json=body, timeout=10).status_code == 401


def test_an_agent_sees_demo_monthly_at_a_glance(web, agent):
    answer = call(web, "GET", "/agent/api/workspaces", token=agent)
    assert answer.status_code == 200
    assert {"demo-monthly", "demo-free", "demo-yearly"} <= set(answer.json()["workspaces"])
    view = call(web, "GET", "/agent/api/workspaces/demo-monthly", token=agent).json()
    subscriptions = {s["product"]: s for s in view["summary"]["subscriptions"]}
    assert subscriptions["digital_workspace"]["cycle"] == "monthly"
    assert subscriptions["digital_workspace"]["product_name"] == "Không gian làm việc số"
    changes = {(c["product"], c["tier"], c["cycle"]): c for c in view["changes"]}
    # every tier x cycle of every product, and Free
    assert {("app_builder", t, c) for t in ("starter", "standard") for c in ("monthly", "yearly")} <= set(changes)
    assert ("app_builder", "free", None) in changes and ("digital_workspace", "premium", "yearly") in changes
    blocked = changes[("app_builder", "standard", "yearly")]
    assert blocked["outcome"] == "BLOCKED" and blocked["allowed"] is False
    assert blocked["reasons"][0]["text"] and blocked["fixes"][0]["text"]
    assert "Không gian làm việc số" in blocked["fixes"][0]["text"]
    assert changes[("app_builder", "free", None)]["outcome"] == "BLOCKED"
    assert changes[("digital_workspace", "free", None)]["outcome"] == "NEXT_CYCLE"
    assert changes[("digital_workspace", "premium", "monthly")]["outcome"] == "IMMEDIATE"
    assert {o["outcome"] for o in view["changes"]} <= {"IMMEDIATE", "NEXT_CYCLE", "BLOCKED"}
    assert isinstance(view["retention"], list) and isinstance(view["orders"], list)


def test_retention_and_orders_are_shown_with_their_words(web, agent):
    scheduled = call(web, "GET", "/agent/api/workspaces/demo-downgrade-scheduled", token=agent).json()
    assert scheduled["retention"], "a scheduled downgrade lists what will be deleted"
    assert all(item["text"] and item["due_at"] for item in scheduled["retention"])
    pending = call(web, "GET", "/agent/api/workspaces/demo-pending-payment", token=agent).json()
    assert pending["orders"] and pending["orders"][0]["status"] == "pending"
    assert pending["orders"][0]["txn_ref"]


def assert_named_from_the_catalog(item, catalog):
    """A product/tier/cycle row carries the catalog's Vietnamese names (billing_core's label for the cycle)."""
    assert item["product_name"] == catalog.product_name(item["product"], "vi")
    assert item["tier_name"] == catalog.tier_name(item["tier"], "vi")
    assert item["cycle_name"] == (label("cycle", item["cycle"], "vi") if item["cycle"] else None)


def test_the_console_is_given_the_catalogs_names_for_every_product_tier_and_cycle(web, agent):
    catalog = load_catalog()
    view = call(web, "GET", "/agent/api/workspaces/demo-downgrade-scheduled", token=agent).json()
    assert [p["product"] for p in view["products"]] == list(catalog.products)
    for item in view["products"]:
        offered = catalog.products[item["product"]].tiers
        assert item["name"] == catalog.product_name(item["product"], "vi")
        assert item["tier_names"] == {tier: catalog.tier_name(tier, "vi") for tier in offered}
    assert view["cycles"] == [{"cycle": c, "name": label("cycle", c, "vi")} for c in catalog.cycles]
    assert view["changes"] and view["summary"]["subscriptions"]
    for item in view["changes"] + view["summary"]["subscriptions"]:
        assert_named_from_the_catalog(item, catalog)
    scheduled = [s["next_renewal_plan"] for s in view["summary"]["subscriptions"] if s["downgrade_scheduled"]]
    assert scheduled, "demo-downgrade-scheduled has a scheduled plan"
    for plan in scheduled:
        assert_named_from_the_catalog(plan, catalog)
    orders = call(web, "GET", "/agent/api/workspaces/demo-pending-payment", token=agent).json()["orders"]
    assert orders
    for order in orders:
        assert_named_from_the_catalog(order, catalog)


def test_the_names_follow_the_catalog_file_not_the_code(tmp_path):
    from webapp.agent_data import cycle_names, plan_names, product_tiers

    text = (ROOT / "billing_core" / "catalog.yaml").read_text(encoding="utf-8")
    renamed = text.replace('name: {vi: "Standard"', 'name: {vi: "Tiêu chuẩn"')
    renamed = renamed.replace('name: {vi: "Xây dựng ứng dụng"', 'name: {vi: "Ứng dụng riêng"')
    assert renamed.count("Tiêu chuẩn") == 1 and renamed.count("Ứng dụng riêng") == 1
    (tmp_path / "catalog.yaml").write_text(renamed, encoding="utf-8")
    catalog = load_catalog(tmp_path / "catalog.yaml", use_cache=False)

    app_builder = next(p for p in product_tiers(catalog) if p["product"] == "app_builder")
    assert app_builder["name"] == "Ứng dụng riêng" and app_builder["tier_names"]["standard"] == "Tiêu chuẩn"
    row = plan_names({"product": "app_builder", "tier": "standard", "cycle": "yearly"}, catalog)
    assert (row["product_name"], row["tier_name"], row["cycle_name"]) == (
        "Ứng dụng riêng",
        "Tiêu chuẩn",
        label("cycle", "yearly", "vi"),
    )
    assert plan_names({"product": "app_builder", "tier": "free", "cycle": None}, catalog)["cycle_name"] is None
    assert [c["cycle"] for c in cycle_names(catalog)] == list(catalog.cycles)


def test_triage_narrows_to_the_rule_and_proposes_a_vietnamese_reply(web, agent):
    body = {
        "workspace_id": "demo-monthly",
        "product": "app_builder",
        "tier": "standard",
        "cycle": "yearly",
        "seen": "blocked",
    }
    result = call(web, "POST", "/agent/api/triage", body, token=agent).json()
    assert result["outcome"] == "BLOCKED" and result["rule_id"]
    assert result["assessment"].startswith("Khớp")
    reply = result["reply"]
    assert result["reasons"][0]["text"] in reply and result["fixes"][0]["text"] in reply
    assert "1. " in reply
    # the same change where it is allowed: the agent is told it does not match what the customer saw
    allowed = call(web, "POST", "/agent/api/triage", {**body, "cycle": "monthly"}, token=agent).json()
    assert allowed["outcome"] == "IMMEDIATE" and allowed["assessment"].startswith("Không khớp")


def test_triage_of_a_free_downgrade_of_an_add_on(web, agent):
    body = {"workspace_id": "demo-ow-trial-ended", "product": "operations_workflow", "tier": "free", "seen": "blocked"}
    result = call(web, "POST", "/agent/api/triage", body, token=agent).json()
    assert result["outcome"] == "BLOCKED"
    assert "Free" in result["reply"]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"workspace_id": "demo-monthly", "product": "crm", "tier": "standard"}, "bad_product"),
        ({"workspace_id": "demo-monthly", "product": "app_builder", "tier": "gold"}, "bad_tier"),
        (
            {"workspace_id": "demo-monthly", "product": "app_builder", "tier": "standard", "cycle": "weekly"},
            "bad_cycle",
        ),
        ({"workspace_id": "../etc/passwd", "product": "app_builder", "tier": "standard"}, "bad_workspace_id"),
        (
            {"workspace_id": "demo-monthly", "product": "app_builder", "tier": "standard", "seen": "<b>x</b>"},
            "bad_seen",
        ),
        ({"workspace_id": "demo-monthly", "product": "app_builder", "tier": "standard", "note": "x" * 501}, "bad_note"),
        ("not an object", "json_required"),
    ],
)
def test_bad_triage_input_gets_a_clear_vietnamese_message(web, agent, body, code):
    answer = call(web, "POST", "/agent/api/triage", body, token=agent)
    assert answer.status_code == 400
    assert answer.json()["error"] == code and answer.json()["message"]


def test_a_bad_cycle_is_answered_with_the_catalogs_cycles_by_name(web, agent):
    body = {"workspace_id": "demo-monthly", "product": "app_builder", "tier": "standard", "cycle": "weekly"}
    message = call(web, "POST", "/agent/api/triage", body, token=agent).json()["message"]
    assert all(label("cycle", cycle, "vi") in message for cycle in load_catalog().cycles), message


def test_unknown_workspaces_are_404_not_a_traceback(web, agent):
    assert call(web, "GET", "/agent/api/workspaces/no-such-workspace", token=agent).status_code == 404
    body = {"workspace_id": "no-such-workspace", "product": "app_builder", "tier": "standard"}
    assert call(web, "POST", "/agent/api/triage", body, token=agent).status_code == 404


def test_the_console_reads_the_handoff_queue_and_helpful_rate_per_topic(web, agent):
    from helpdesk import conversation_store

    conversation_store.record_handoff(
        "u-1", "Khách hỏi vì sao không hạ xuống Free được <script>", "demo-monthly", url=web.database_url
    )
    for helpful in (True, True, False):
        conversation_store.record_feedback("u-1", "go_free", helpful, "demo-monthly", url=web.database_url)
    conversation_store.record_feedback("u-2", "payment", False, url=web.database_url)
    queue = call(web, "GET", "/agent/api/handoffs", token=agent).json()["handoffs"]
    mine = [item for item in queue if item["summary"].startswith("Khách hỏi vì sao")]
    assert mine and mine[0]["workspace_id"] == "demo-monthly"
    assert mine[0]["created_at"].endswith("+00:00")  # an explicit UTC time, shown in the agent's zone
    topics = {t["topic"]: t for t in call(web, "GET", "/agent/api/feedback", token=agent).json()["topics"]}
    assert topics["go_free"]["helpful"] >= 2 and topics["go_free"]["not_helpful"] >= 1
    assert topics["payment"]["rate"] == 0.0 and topics["payment"]["not_helpful"] == 1


def test_the_console_page_is_served_with_a_strict_policy(web):
    answer = requests.get(f"{web.url}/agent", timeout=10)
    assert answer.status_code == 200 and "/static/dist/agent.js" in answer.text
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


def test_triage_replies_greet_never_repeat_the_current_plan_and_never_send_the_customer_to_support(web, agent):
    # demo-yearly is on Standard yearly: asking for the same plan is a fact, not "…sang gói Standard"
    body = {
        "workspace_id": "demo-yearly",
        "product": "digital_workspace",
        "tier": "standard",
        "cycle": "yearly",
        "seen": "blocked",
    }
    result = call(web, "POST", "/agent/api/triage", body, token=agent).json()
    assert result["reply"].startswith("Chào bạn, cảm ơn bạn đã liên hệ Cleeksy.")
    assert "sang gói Standard" not in result["reply"] and "đang dùng gói Standard" in result["reply"]
    assert "sang gói Standard" not in result["summary"]
    assert "liên hệ bộ phận hỗ trợ" not in result["reply"].lower()
    assert "no_change" not in result["assessment"] and result["assessment"].startswith("Khách đang dùng đúng gói")
    for seen in ("blocked", "next_cycle", "payment_failed", "other"):
        body = {
            "workspace_id": "demo-monthly",
            "product": "app_builder",
            "tier": "standard",
            "cycle": "yearly",
            "seen": seen,
        }
        result = call(web, "POST", "/agent/api/triage", body, token=agent).json()
        assert result["rule_id"] not in result["assessment"], "no internal rule name is shown to the agent"


def test_the_support_fix_becomes_the_agents_own_words():
    from webapp.agent_data import AGENT_HANDLES, reply_for

    view = {
        "rule_id": "x",
        "summary": "Chưa thể …",
        "reasons": [{"text": "Lý do."}],
        "fixes": [{"code": "FIX_CONTACT_SUPPORT", "text": "Nhắn “gặp nhân viên” …"}],
    }
    reply = reply_for(view)
    assert AGENT_HANDLES in reply and "gặp nhân viên" not in reply and "1." not in reply


def test_feedback_topics_have_names_and_older_ratings_count_with_their_topic(web, agent):
    from helpdesk import conversation_store

    conversation_store.record_feedback("u-9", "ask_trial", True, url=web.database_url)  # filed under the intent
    conversation_store.record_feedback("u-9", "trial", False, url=web.database_url)
    conversation_store.record_feedback("u-9", "something_retired", True, url=web.database_url)
    topics = {t["topic"]: t for t in call(web, "GET", "/agent/api/feedback", token=agent).json()["topics"]}
    assert topics["trial"]["name"] == "Dùng thử" and topics["trial"]["total"] >= 2
    assert topics["other"]["name"] == "Khác"
    assert all("_" not in t["name"] for t in topics.values())
