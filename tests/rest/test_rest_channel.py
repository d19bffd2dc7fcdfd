"""The assistant through Rasa's REST channel, against the running servers.

Hostile input must get a polite reply and never write billing data; identity comes only from a
verified token, never from what a customer types.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from helpdesk import conversation_store

pytestmark = pytest.mark.timeout(300)


def say(stack, message, token=None, sender=None):
    payload = {"sender": sender or f"rest-{uuid.uuid4().hex[:10]}", "message": message}
    if token is not None:
        payload["metadata"] = {"token": token}
    response = requests.post(f"http://127.0.0.1:{stack.ports.rasa}/webhooks/rest/webhook", json=payload, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def texts(replies):
    return "\n".join(r.get("text", "") for r in replies)


# the assistant's own tables (helpdesk/conversation_store.py, its migrations' version table, and an
# older name of the feedback table)
ASSISTANT_TABLES = {*conversation_store.metadata.tables, "helpdesk_alembic_version", "conversation_feedback"}


def billing_snapshot(url):
    """Everything that says what a workspace has: if any of it changes, billing data was written."""
    engine = create_engine(url)
    with engine.connect() as connection:
        tables = [name for name in inspect(connection).get_table_names() if not name.startswith("alembic")]
        assert tables, f"no tables in {url}: the snapshot would compare nothing"
        snapshot = {}
        for table in tables:
            if table in ASSISTANT_TABLES:
                continue  # assistant data, not billing data
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).fetchall()
            snapshot[table] = sorted(map(repr, rows))
    engine.dispose()
    return snapshot


HOSTILE = [
    pytest.param("", id="empty"),
    pytest.param("    \t  ", id="whitespace"),
    pytest.param("nâng cấp " * 700, id="5000-characters"),
    pytest.param("😀🎉🔥💸", id="emoji-only"),
    pytest.param("<script>alert('x')</script>", id="script-tag"),
    pytest.param('<img src=x onerror="alert(1)"> hạ gói', id="html-attribute"),
    pytest.param("'; DROP TABLE subscriptions; --", id="sql-fragment"),
    pytest.param("1 OR 1=1; UPDATE subscriptions SET tier='premium'", id="sql-update"),
    pytest.param("nâng cấp Премиум 升级 プラン upgrade", id="mixed-scripts"),
    pytest.param("\u202etrial\u202c \u0000", id="control-characters"),
]


@pytest.mark.parametrize("message", HOSTILE)
def test_hostile_input_gets_a_polite_reply_and_writes_nothing(live_stack, token_for, message):
    before = billing_snapshot(live_stack.database_url)
    replies = say(live_stack, message, token=token_for("demo-monthly"))
    after = billing_snapshot(live_stack.database_url)

    assert before == after, "billing data changed after hostile input"
    body = texts(replies)
    if message.strip():
        assert body.strip(), f"no reply to {message[:40]!r}"
    assert "<script" not in body.lower()
    assert "onerror" not in body.lower()
    assert "traceback" not in body.lower()


def test_long_message_is_answered_not_dropped(live_stack):
    replies = say(live_stack, "Làm sao để nâng cấp gói? " + "x" * 4980)
    assert texts(replies).strip()


def test_anonymous_question_gets_the_general_rule_and_how_to_get_a_personal_answer(live_stack):
    body = texts(say(live_stack, "sao toi ko ha xuong free dc"))
    assert "30" in body  # the 30-day trial rule of the article
    assert re.search(r"đăng nhập|dang nhap|log in", body, re.IGNORECASE)


def test_customer_gets_their_own_trial_days(live_stack, token_for):
    body = texts(say(live_stack, "toi con bao nhieu ngay dung thu", token=token_for("demo-trial")))
    assert re.search(r"\b18\b", body), body


def test_expired_token_is_treated_as_anonymous_without_failing(live_stack, token_for):
    expired = token_for("demo-trial", minutes=-5)
    body = texts(say(live_stack, "toi con bao nhieu ngay dung thu", token=expired))
    assert body.strip()
    assert not re.search(r"\b18\b", body)


def test_forged_token_is_treated_as_anonymous(live_stack, token_for):
    forged = token_for("demo-trial", secret="not-the-secret")
    body = texts(say(live_stack, "toi con bao nhieu ngay dung thu", token=forged))
    assert body.strip()
    assert not re.search(r"\b18\b", body)


def test_customer_cannot_read_another_workspace_by_typing_its_id(live_stack, token_for):
    body = texts(
        say(
            live_stack,
            "kiểm tra workspace demo-trial giúp tôi, còn bao nhiêu ngày dùng thử?",
            token=token_for("demo-yearly"),
        )
    )
    assert not re.search(r"\b18\b", body), "a customer saw another workspace's trial days"


def test_english_question_gets_an_english_answer(live_stack):
    body = texts(say(live_stack, "How do I downgrade my plan?"))
    assert re.search(r"next (billing|renewal)", body, re.IGNORECASE), body


def test_replies_are_json_text_not_html(live_stack):
    replies = say(live_stack, "<b>bold</b> làm sao nâng cấp")
    assert isinstance(replies, list)
    json.dumps(replies)  # serialisable
    assert "<b>" not in texts(replies)


def _subscription(url, workspace_id, product):
    import billing_core as bc

    summary = bc.workspace_summary(bc.SqlAlchemyUnitOfWork(url), workspace_id)
    return next(s for s in summary["subscriptions"] if s["product"] == product)


def test_downgrade_in_the_chat_follows_the_articles_steps_and_shows_as_next_renewal(live_stack, token_for):
    """Issue 12: lower plan -> survey -> what will change -> confirmation -> review -> "Hạ gói"."""
    token, sender = token_for("demo-yearly"), f"rest-{uuid.uuid4().hex[:10]}"
    url = live_stack.database_url
    replies = say(live_stack, '/request_downgrade{"product":"app_builder","tier":"starter"}', token, sender)
    assert "lý do" in texts(replies)  # the survey comes first, reasons as buttons
    assert any(r.get("buttons") for r in replies)
    replies = say(live_stack, "Chi phí cao", token, sender)
    changes = texts(replies)
    assert "Kết nối API" in changes and "7 ngày" in changes  # locked features, capacity rule
    assert _subscription(url, "demo-yearly", "app_builder")["downgrade_scheduled"] is False
    replies = say(
        live_stack,
        "Tôi xác nhận hạ gói và không thể truy cập các tính năng nâng cao sau khi kết thúc chu kỳ thanh toán",
        token,
        sender,
    )
    assert "Xem lại gói mới" in texts(replies)
    replies = say(live_stack, "Hạ gói", token, sender)
    assert "Gói gia hạn tiếp theo" in texts(replies)
    scheduled = _subscription(url, "demo-yearly", "app_builder")
    assert scheduled["downgrade_scheduled"] is True and scheduled["next_renewal_plan"]["tier"] == "starter"
    # ... and cancelled from the chat
    say(live_stack, '/cancel_downgrade{"product":"app_builder"}', token, sender)
    say(live_stack, "/affirm", token, sender)
    assert _subscription(url, "demo-yearly", "app_builder")["downgrade_scheduled"] is False


def test_anonymous_downgrade_request_gets_the_rule_and_how_to_log_in(live_stack):
    replies = say(live_stack, "/request_downgrade")
    assert "đăng nhập" in texts(replies) and "kỳ thanh toán tiếp theo" in texts(replies)
