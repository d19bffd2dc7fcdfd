"""A request for a person holds the conversation once, with a summary an agent can read (the
question, the bot's answer, billing_core's diagnosis), and tells the customer the wait or, outside
working hours, when a person will answer. The workspace only ever comes from a verified token."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actions import handoff as handoff_action
from actions.handoff import ActionRequestHuman, question_and_answer
from helpdesk import conversation_store
from tests.actions.conftest import make_tracker, rendered, responses, run, token

ALWAYS_OPEN = {"HELPDESK_SUPPORT_HOURS": "00:00-24:00", "HELPDESK_SUPPORT_DAYS": "mon-sun"}


def user(text, intent):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}


def bot(text, utter="utter_x"):
    return {"event": "bot", "text": text, "metadata": {"utter_action": utter}}


HISTORY = [
    user("sao toi ko ha xuong free dc", "ask_go_free"),
    bot("Không được: Không gian làm việc số đang trong thời gian dùng thử.", "utter_decision_summary"),
    bot("Thông tin này có hữu ích với bạn không?", "utter_ask_helpful"),
    user("không", "deny"),
    user("giữ nguyên", "inform"),
]


@pytest.fixture
def open_desk(monkeypatch):
    for key, value in ALWAYS_OPEN.items():
        monkeypatch.setenv(key, value)


def test_the_summary_has_the_question_and_the_bot_answer_not_form_answers():
    parts = question_and_answer(make_tracker("cho toi gap nhan vien", "request_human", history=HISTORY))
    assert parts["question"] == "sao toi ko ha xuong free dc"
    assert parts["answer"].startswith("Không được: Không gian làm việc số")
    assert "hữu ích" not in parts["answer"] and "giữ nguyên" not in parts["question"]
    # the first and the latest question are both kept
    more = HISTORY + [user("hoàn tiền thế nào", "ask_payment"), bot("Cleeksy không hoàn tiền...")]
    parts = question_and_answer(make_tracker("gặp người thật", "request_human", history=more))
    assert parts["question"] == "sao toi ko ha xuong free dc / hoàn tiền thế nào"
    assert parts["answer"] == "Cleeksy không hoàn tiền..."


def test_a_request_holds_the_conversation_once_with_the_diagnosis(billing_db, open_desk):
    tracker = make_tracker("cho toi gap nhan vien", "request_human", token_value=token("demo-trial"), history=HISTORY)
    dispatcher, _ = run(ActionRequestHuman(), tracker)
    assert responses(dispatcher) == ["utter_handoff_waiting"]
    text = rendered(dispatcher)
    assert "15 phút" in text and "khung chat" in text
    assert "Liên hệ trợ giúp" not in text
    assert dispatcher.messages[-1]["custom"] == {"data": {"handoff": {"status": "waiting", "after_hours": False}}}
    [row] = conversation_store.list_handoffs(billing_db)
    assert row["status"] == "waiting" and row["workspace_id"] == "demo-trial"
    assert row["user_sub"] == "user-of-demo-trial" and row["sender_id"] == "test-sender"
    assert row["question"] == "sao toi ko ha xuong free dc"
    assert "Không gian làm việc số" in row["diagnosis"]  # the workspace's plans, from billing_core
    assert row["summary"].startswith("Khách hỏi: sao toi ko ha xuong free dc\nTrợ lý đã trả lời: Không được")
    assert conversation_store.active_handoff("test-sender", billing_db)["id"] == row["id"]

    # asking again: the same row, refreshed, and the customer is told it is already queued
    dispatcher, _ = run(ActionRequestHuman(), tracker)
    assert responses(dispatcher) == ["utter_handoff_already_waiting"]
    assert len(conversation_store.list_handoffs(billing_db)) == 1


def test_the_diagnosis_names_the_decision_on_the_change_discussed(billing_db, open_desk):
    tracker = make_tracker(
        "gặp nhân viên",
        "request_human",
        token_value=token("demo-monthly"),
        slots={"product": "app_builder", "tier": "standard", "cycle": "yearly"},
    )
    run(ActionRequestHuman(), tracker)
    [row] = conversation_store.list_handoffs(billing_db)
    assert "Xây dựng ứng dụng → Standard:" in row["diagnosis"]


def test_outside_working_hours_the_customer_leaves_a_message_and_learns_when(billing_db, monkeypatch):
    monkeypatch.setenv("HELPDESK_SUPPORT_HOURS", "08:00-17:30")
    monkeypatch.setenv("HELPDESK_SUPPORT_DAYS", "mon-fri")
    # Saturday 5 December 2026, 19:00 in Vietnam
    monkeypatch.setattr(handoff_action.billing, "utcnow", lambda: datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc))
    dispatcher, _ = run(ActionRequestHuman(), make_tracker("talk to a person", "request_human", language="en"))
    assert responses(dispatcher) == ["utter_handoff_after_hours"]
    text = rendered(dispatcher, "en")
    assert "08:00–17:30, Monday – Friday (Vietnam time)" in text
    assert "by 08:15 on Monday, 07/12/2026 (Vietnam time)" in text
    [row] = conversation_store.list_handoffs(billing_db)
    assert row["after_hours"] is True and row["status"] == "waiting"
    assert row["expected_by"] == datetime(2026, 12, 7, 1, 15)  # naive UTC: 08:15 Vietnam time


def test_handoff_workspace_never_comes_from_typed_text(billing_db, open_desk):
    run(ActionRequestHuman(), make_tracker("workspace demo-yearly, gặp nhân viên", "request_human"))
    [row] = conversation_store.list_handoffs(billing_db)
    assert row["workspace_id"] is None and row["user_sub"] is None and row["diagnosis"] == ""
    assert row["question"] == "workspace demo-yearly, gặp nhân viên"


def test_storage_failure_still_answers_without_a_missing_page(monkeypatch, open_desk):
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:9/none")
    dispatcher, _ = run(ActionRequestHuman(), make_tracker("talk to a person", "request_human", language="en"))
    assert responses(dispatcher) == ["utter_handoff_failed"]
    text = rendered(dispatcher, "en")
    assert "Contact support" not in text and "try again" in text
