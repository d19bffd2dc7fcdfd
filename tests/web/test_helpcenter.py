"""The help-center page, the demo login and the widget's token endpoint (python -m webapp)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
import requests

from helpdesk.identity import verify_token
from tests.web.conftest import WEB_TEST_SECRET, start_web

pytestmark = pytest.mark.timeout(120)

DEMO_WORKSPACES = [
    "demo-trial",
    "demo-trial-ended",
    "demo-free",
    "demo-monthly",
    "demo-yearly",
    "demo-ow-trial-ended",
    "demo-downgrade-scheduled",
    "demo-pending-payment",
]


def page_config(html):
    match = re.search(r'<script id="helpdesk-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no configuration block"
    return json.loads(match.group(1))


def test_the_help_center_page_carries_the_article_and_the_widget(web):
    answer = requests.get(f"{web.url}/", timeout=10)
    assert answer.status_code == 200
    html = answer.text
    assert '<html lang="vi">' in html
    for heading in (
        "Nâng cấp gói giải pháp",
        "Hạ gói giải pháp",
        "Khắc phục vấn đề hay gặp phải",
        "Không thể hạ xuống bản Free",
    ):
        assert heading in html
    assert "Trong vòng 7 ngày hệ thống sẽ tự động xóa" in html and "trong vòng 90 ngày" in html
    assert 'src="/static/dist/widget.js"' in html and 'id="hdw-log"' in html
    config = page_config(html)
    assert config["demo"] is True
    assert [w["id"] for w in config["demo_workspaces"]] == DEMO_WORKSPACES
    # from HELPDESK_RASA_URL's port at start, never from the request's Host (issue 9: CSP injection)
    assert config["rasa_url"] == "http://localhost:5005" and config["socket_path"] == "/socket.io"
    # scripts only from this origin, and the chat server is the only other place the page talks to
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "ws://localhost:5005" in csp and "unsafe-inline" not in csp


def test_the_widget_assets_are_served_locally(web):
    for path, kind in (
        ("/static/dist/widget.js", "javascript"),
        ("/static/dist/agent.js", "javascript"),
        ("/static/dist/helpdesk.css", "css"),
    ):
        answer = requests.get(f"{web.url}{path}", timeout=10)
        assert answer.status_code == 200, f"{path}: run `npm ci && npm run build` in frontend/"
        assert kind in answer.headers["content-type"]
    widget = requests.get(f"{web.url}/static/dist/widget.js", timeout=10).text
    assert "session_request" in widget and "user_uttered" in widget
    assert "innerHTML" not in widget  # bot and user strings are only ever set as text
    assert "https://cdn" not in widget and "unpkg.com" not in widget


def test_the_page_config_cannot_be_broken_out_of_by_the_host_header(web):
    answer = requests.get(f"{web.url}/", headers={"Host": "evil</script><script>alert(1)</script>:8000"}, timeout=10)
    assert answer.status_code in (200, 400)
    if answer.status_code == 200:
        assert "<script>alert(1)" not in answer.text


@pytest.mark.parametrize("workspace_id", DEMO_WORKSPACES)
def test_demo_login_as_any_demo_customer_gives_a_short_lived_token_for_that_workspace(web, workspace_id):
    session = requests.Session()
    login = session.post(f"{web.url}/helpcenter/demo-login", json={"workspace_id": workspace_id}, timeout=10)
    assert login.status_code == 200
    assert login.json()["workspace_id"] == workspace_id
    cookie = next(c for c in session.cookies if c.name == "helpdesk_demo_session")
    assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in login.headers["set-cookie"].lower()
    answer = session.get(f"{web.url}/helpcenter/token", timeout=10)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    identity = verify_token(answer.json()["token"], WEB_TEST_SECRET, datetime.now(timezone.utc))
    assert identity is not None
    assert (identity.workspace_id, identity.role) == (workspace_id, "customer")
    lifetime = (identity.expires_at - datetime.now(timezone.utc)).total_seconds()
    assert 0 < lifetime <= 15 * 60


def test_demo_login_as_an_agent(web):
    session = requests.Session()
    assert session.post(f"{web.url}/helpcenter/demo-login", json={"role": "agent"}, timeout=10).status_code == 200
    identity = verify_token(session.get(f"{web.url}/helpcenter/token", timeout=10).json()["token"], WEB_TEST_SECRET)
    assert identity.role == "agent"


@pytest.mark.parametrize(
    "body, status",
    [
        ({"workspace_id": "not-a-demo"}, 400),
        ({"workspace_id": "demo-monthly", "role": "admin"}, 400),
        ({"workspace_id": "<script>alert(1)</script>"}, 400),
        ({"workspace_id": ["demo-monthly"]}, 400),
    ],
)
def test_bad_demo_logins_get_a_vietnamese_message_and_no_session(web, body, status):
    session = requests.Session()
    answer = session.post(f"{web.url}/helpcenter/demo-login", json=body, timeout=10)
    assert answer.status_code == status
    assert answer.json()["message"] and "<script>" not in answer.text
    assert not list(session.cookies)
    assert session.get(f"{web.url}/helpcenter/token", timeout=10).status_code == 401


def test_demo_login_refuses_a_non_json_form_post(web):
    answer = requests.post(f"{web.url}/helpcenter/demo-login", data={"workspace_id": "demo-monthly"}, timeout=10)
    assert answer.status_code == 415 and "set-cookie" not in answer.headers


def test_without_a_session_the_token_endpoint_says_so_and_the_page_still_works(web):
    answer = requests.get(f"{web.url}/helpcenter/token", timeout=10)
    assert answer.status_code == 401 and "quy định chung" in answer.json()["message"]
    forged = requests.get(
        f"{web.url}/helpcenter/token", cookies={"helpdesk_demo_session": "forged.value.here"}, timeout=10
    )
    assert forged.status_code == 401
    assert requests.get(f"{web.url}/", cookies={"helpdesk_demo_session": "garbage"}, timeout=10).status_code == 200


def test_an_api_token_is_not_a_session_cookie(web, api_token):
    token = api_token("demo-monthly")
    answer = requests.get(f"{web.url}/helpcenter/token", cookies={"helpdesk_demo_session": token}, timeout=10)
    assert answer.status_code == 401


def test_logout_forgets_the_session(web, login):
    session = login("demo-free")
    assert session.get(f"{web.url}/helpcenter/me", timeout=10).json()["workspace_id"] == "demo-free"
    assert session.post(f"{web.url}/helpcenter/logout", json={}, timeout=10).status_code == 200
    assert session.get(f"{web.url}/helpcenter/token", timeout=10).status_code == 401
    assert session.get(f"{web.url}/helpcenter/me", timeout=10).json()["role"] is None


def test_production_mode_has_no_demo_login(tmp_path):
    server = start_web(
        tmp_path,
        mode="production",
        HELPDESK_JWT_SECRET="p" * 40,
        VNPAY_TMN_CODE="TESTCODE",
        VNPAY_HASH_SECRET="s" * 32,
        VNPAY_PAYMENT_URL="https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
        VNPAY_RETURN_URL="https://example.com/vnpay/return",
        VNPAY_API_URL="https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
    )
    try:
        login = requests.post(f"{server.url}/helpcenter/demo-login", json={"workspace_id": "demo-monthly"}, timeout=10)
        assert login.status_code == 404 and not login.cookies
        page = requests.get(f"{server.url}/", timeout=10)
        assert page.status_code == 200 and page_config(page.text)["demo"] is False
    finally:
        server.stop()
