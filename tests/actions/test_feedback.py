""""Was this helpful?" is recorded with its topic; a request for a person is recorded with the
verified workspace only, and a storage failure never breaks the conversation."""
from __future__ import annotations

from helpdesk import conversation_store

from actions.feedback import ActionAskHelpful, ActionRecordFeedback, ActionRequestHuman
from tests.actions.conftest import make_tracker, rendered, responses, run, slot_events, token


def test_the_helpful_question_remembers_the_topic_of_the_answer(billing_db):
    dispatcher, events = run(ActionAskHelpful(), make_tracker("làm sao hạ gói", "ask_downgrade_howto"))
    assert responses(dispatcher) == ["utter_ask_helpful"]
    assert slot_events(events)["feedback_topic"] == "downgrade_howto"
    buttons = dispatcher.messages[0]["buttons"]  # yes / no, from actions/responses.yml
    assert [b["payload"] for b in buttons] == ["/affirm", "/deny"]


def test_yes_and_no_are_recorded_with_the_topic(billing_db):
    run(ActionRecordFeedback(), make_tracker("có", "affirm", slots={"feedback_topic": "upgrade_howto"}))
    dispatcher, _ = run(ActionRecordFeedback(), make_tracker(
        "không", "deny", slots={"feedback_topic": "go_free"}, token_value=token("demo-trial")))
    assert responses(dispatcher) == ["utter_feedback_sorry"]  # a "no" also offers a person
    rows = conversation_store.list_feedback(billing_db)
    assert [(r["topic"], r["helpful"], r["workspace_id"]) for r in rows] == [
        ("go_free", False, "demo-trial"), ("upgrade_howto", True, None)]


def test_handoff_is_recorded_with_the_recent_messages_and_said(billing_db):
    history = [{"event": "user", "text": "tôi muốn hoàn tiền"}, {"event": "bot", "text": "..."}]
    dispatcher, _ = run(ActionRequestHuman(), make_tracker(
        "cho tôi gặp nhân viên", "request_human", token_value=token("demo-yearly"), history=history))
    assert responses(dispatcher) == ["utter_handoff_recorded"]
    [row] = conversation_store.list_handoffs(billing_db)
    assert row["workspace_id"] == "demo-yearly" and row["sender_id"] == "test-sender"
    assert "hoàn tiền" in row["summary"] and "gặp nhân viên" in row["summary"]


def test_handoff_workspace_never_comes_from_typed_text(billing_db):
    run(ActionRequestHuman(), make_tracker("workspace demo-yearly, gặp nhân viên", "request_human"))
    [row] = conversation_store.list_handoffs(billing_db)
    assert row["workspace_id"] is None


def test_storage_failure_still_answers(monkeypatch):
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:9/none")
    dispatcher, _ = run(ActionRequestHuman(), make_tracker("talk to a person", "request_human", language="en"))
    assert responses(dispatcher) == ["utter_handoff_failed"]
    assert "Contact support" in rendered(dispatcher, "en")
    dispatcher, _ = run(ActionRecordFeedback(), make_tracker("yes", "affirm", slots={"feedback_topic": "trial"}))
    assert responses(dispatcher) == ["utter_feedback_thanks"]
