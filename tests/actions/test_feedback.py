""" "Was this helpful?" is recorded with its topic, and a storage failure never breaks the
conversation (requests for a person: test_handoff.py)."""

from __future__ import annotations

from actions.feedback import ActionRecordFeedback, answered_topic
from helpdesk import conversation_store
from tests.actions.conftest import make_tracker, responses, run, token


def asked_after(text: str, intent: str) -> list:
    """The events of a question answered by a rule that ends with utter_ask_helpful."""
    return [
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.99}}},
        {"event": "action", "name": "utter_upgrade_howto"},
        {"event": "bot", "text": "1. ...", "metadata": {"utter_action": "utter_upgrade_howto"}},
        {"event": "action", "name": "utter_ask_helpful"},
        {
            "event": "bot",
            "text": "Thông tin này có hữu ích với bạn không?",
            "metadata": {"utter_action": "utter_ask_helpful"},
        },
        {"event": "action", "name": "action_listen"},
    ]


def test_the_topic_is_the_question_answered_before_was_this_helpful():
    history = asked_after("làm sao hạ gói", "ask_downgrade_howto")
    assert answered_topic(make_tracker("có", "affirm", history=history)) == "downgrade_howto"
    # an older answer does not count once a newer question was asked
    history = asked_after("làm sao nâng cấp", "ask_upgrade_howto") + asked_after("dùng thử bao lâu", "ask_trial")
    assert answered_topic(make_tracker("có", "affirm", history=history)) == "trial"
    # a yes with no question before it is filed as "other"
    assert answered_topic(make_tracker("có", "affirm")) == "other"


def test_yes_and_no_are_recorded_with_the_topic(billing_db):
    run(
        ActionRecordFeedback(),
        make_tracker("có", "affirm", history=asked_after("làm sao nâng cấp", "ask_upgrade_howto")),
    )
    dispatcher, _ = run(
        ActionRecordFeedback(),
        make_tracker(
            "không", "deny", token_value=token("demo-trial"), history=asked_after("sao ko len free dc", "ask_go_free")
        ),
    )
    assert responses(dispatcher) == ["utter_feedback_sorry"]  # a "no" also offers a person
    rows = conversation_store.list_feedback(billing_db)
    assert [(r["topic"], r["helpful"], r["workspace_id"]) for r in rows] == [
        ("go_free", False, "demo-trial"),
        ("upgrade_howto", True, None),
    ]


def test_storage_failure_still_answers(monkeypatch):
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:9/none")
    dispatcher, _ = run(
        ActionRecordFeedback(), make_tracker("yes", "affirm", history=asked_after("trial?", "ask_trial"))
    )
    assert responses(dispatcher) == ["utter_feedback_thanks"]
