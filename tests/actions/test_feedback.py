""" "Was this helpful?" is recorded once per prompt with the topic of the answer that prompt followed,
from any prompt (also one far above, after other questions), and a storage failure never breaks the
conversation (requests for a person: test_handoff.py; docs/decisions.md §22)."""

from __future__ import annotations

import json

import pytest
import yaml

from actions.feedback import TOPICS, ActionRecordFeedback, answered_topic
from helpdesk import conversation_store, ratings
from tests.actions.conftest import DOMAIN, ROOT, SECRET, make_tracker, render_message, responses, run, token
from webapp.agent_data import TOPIC_NAMES, topic_key

PROMPT_TEXT = {"vi": "Thông tin này có hữu ích với bạn không?", "en": "Was this information helpful?"}
BASE = 1764561234.25
SENDER = "test-sender"  # make_tracker's conversation


def prompt_buttons(lang: str = "vi"):
    """The prompt's buttons as Rasa renders them from domain.yml (doubled braces undone)."""
    variation = next(v for v in DOMAIN["responses"]["utter_ask_helpful"] if bool(v.get("condition")) == (lang == "en"))
    return [
        {"title": b["title"], "payload": b["payload"].replace("{{", "{").replace("}}", "}")}
        for b in variation["buttons"]
    ]


def asked_after(text: str, intent: str, at: float = BASE, lang: str = "vi") -> list:
    """The events of a question answered by a rule that ends with utter_ask_helpful, as the tracker
    store keeps them (the prompt's bot event has the timestamp that is its id)."""
    return [
        {
            "event": "user",
            "timestamp": at,
            "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": 0.99}},
        },
        {"event": "action", "timestamp": at + 0.01, "name": "utter_upgrade_howto"},
        {"event": "bot", "timestamp": at + 0.02, "text": "1. ...", "metadata": {"utter_action": "utter_upgrade_howto"}},
        {"event": "action", "timestamp": at + 0.03, "name": "utter_ask_helpful"},
        {
            "event": "bot",
            "timestamp": at + 0.04,
            "text": PROMPT_TEXT[lang],
            "data": {"buttons": prompt_buttons(lang)},
            "metadata": {"utter_action": "utter_ask_helpful"},
        },
        {"event": "action", "timestamp": at + 0.05, "name": "action_listen"},
    ]


def prompt_of(history: list, nth: int = -1) -> float:
    """The timestamp (id) of the nth prompt in these events."""
    return [e["timestamp"] for e in history if e.get("event") == "bot" and e.get("data")][nth]


def click(history, rating="yes", prompt=None, lang="vi", token_value=None, raw_prompt=None, metadata=None):
    """The tracker of a click on a prompt's button, with the payload the channel stamped on it."""
    entities = {"rating": rating}
    if raw_prompt is not None:
        entities["prompt"] = raw_prompt
    elif prompt is not None:
        entities["prompt"] = ratings.prompt_id(prompt)
    text = "/rate_answer" + json.dumps(entities, separators=(",", ":"))
    tracker = make_tracker(
        text,
        "rate_answer",
        entities=[{"entity": k, "value": v} for k, v in entities.items()],
        token_value=token_value,
        language=lang,
        history=history,
        confidence=1.0,
    )
    if metadata:
        tracker.latest_message["metadata"].update(metadata)
    return tracker


def rows(url):
    return [(r["topic"], r["helpful"]) for r in reversed(conversation_store.list_feedback(url))]


def three_answers():
    return (
        asked_after("làm sao nâng cấp", "ask_upgrade_howto", BASE)
        + asked_after("dùng thử bao lâu", "ask_trial", BASE + 10)
        + asked_after("thanh toán vnpay thế nào", "ask_payment", BASE + 20)
    )


def test_the_topic_is_the_question_answered_before_was_this_helpful():
    history = asked_after("làm sao hạ gói", "ask_downgrade_howto")
    assert answered_topic(make_tracker("có", "affirm", history=history)) == "downgrade_howto"
    # an older answer does not count once a newer question was asked
    history = asked_after("làm sao nâng cấp", "ask_upgrade_howto") + asked_after(
        "dùng thử bao lâu", "ask_trial", BASE + 5
    )
    assert answered_topic(make_tracker("có", "affirm", history=history)) == "trial"
    # a yes with no question before it has no topic
    assert answered_topic(make_tracker("có", "affirm")) == "other"


def test_yes_and_no_typed_after_the_prompt_are_recorded_with_the_topic(billing_db):
    run(
        ActionRecordFeedback(),
        make_tracker("có", "affirm", history=asked_after("làm sao nâng cấp", "ask_upgrade_howto")),
    )
    dispatcher, _ = run(
        ActionRecordFeedback(),
        make_tracker(
            "không",
            "deny",
            token_value=token("demo-trial"),
            history=asked_after("sao ko len free dc", "ask_go_free", BASE + 30),
        ),
    )
    assert responses(dispatcher) == ["utter_feedback_sorry"]  # a "no" also offers a person
    found = conversation_store.list_feedback(billing_db)
    assert [(r["topic"], r["helpful"], r["workspace_id"]) for r in found] == [
        ("go_free", False, "demo-trial"),
        ("upgrade_howto", True, None),
    ]
    assert [r["prompt"] for r in found] == [ratings.prompt_id(BASE + 30.04), ratings.prompt_id(BASE + 0.04)]


def test_a_click_on_an_older_prompt_rates_the_answer_that_prompt_followed(billing_db):
    history = three_answers()
    dispatcher, events = run(ActionRecordFeedback(), click(history, "yes", prompt_of(history, 0)))
    assert rows(billing_db) == [("upgrade_howto", True)]
    assert responses(dispatcher) == ["utter_feedback_thanks"] and events == []  # the thanks, nothing else
    dispatcher, _ = run(ActionRecordFeedback(), click(history, "no", prompt_of(history, 1)))
    assert rows(billing_db) == [("upgrade_howto", True), ("trial", False)]
    assert responses(dispatcher) == ["utter_feedback_sorry"]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/request_human"  # a "no" offers a person


def test_a_second_rating_of_the_same_prompt_replaces_the_first(billing_db):
    history = three_answers()
    oldest = prompt_of(history, 0)
    run(ActionRecordFeedback(), click(history, "yes", oldest))
    run(ActionRecordFeedback(), click(history, "yes", oldest))
    assert rows(billing_db) == [("upgrade_howto", True)]  # clicked twice: counted once
    run(ActionRecordFeedback(), click(history, "no", oldest))
    assert rows(billing_db) == [("upgrade_howto", False)]  # changed their mind: the latest counts
    [row] = conversation_store.list_feedback(billing_db)
    assert row["updated_at"] is not None and row["created_at"] <= row["updated_at"]
    # "có" typed right after the latest prompt, then its button: one answer for that prompt
    run(ActionRecordFeedback(), make_tracker("có", "affirm", history=history))
    run(ActionRecordFeedback(), click(history, "no", prompt_of(history)))
    assert rows(billing_db) == [("upgrade_howto", False), ("payment", False)]


def test_a_prompt_older_than_the_loaded_turns_is_rated_by_what_the_channel_found(billing_db):
    # The tracker store loads the last turns only: the prompt is not among the events the action
    # gets; the channel looked it up in the whole conversation (helpdesk/channel.rated_prompt).
    recent = asked_after("thanh toán vnpay thế nào", "ask_payment", BASE + 500)
    old = BASE + 0.04
    found = {ratings.RATED_KEY: ratings.prompt_claim((ratings.prompt_id(old), "ask_data_retention"), SENDER, SECRET)}
    dispatcher, _ = run(ActionRecordFeedback(), click(recent, "yes", old, metadata=found))
    assert rows(billing_db) == [("data_retention", True)]
    assert responses(dispatcher) == ["utter_feedback_thanks"]
    run(ActionRecordFeedback(), click(recent, "no", old, metadata=found))
    assert rows(billing_db) == [("data_retention", False)]  # the same prompt, so replaced
    # what the channel found for another prompt is not this click's prompt
    other = {ratings.RATED_KEY: ratings.prompt_claim((ratings.prompt_id(old + 1), "ask_trial"), SENDER, SECRET)}
    run(ActionRecordFeedback(), click(recent, "yes", old, metadata=other))
    # nor is a claim the channel did not sign for this conversation, or one altered on the way
    for claim in (
        ratings.prompt_claim((ratings.prompt_id(old), "ask_trial"), "another-conversation", SECRET),
        ratings.prompt_claim((ratings.prompt_id(old), "ask_trial"), SENDER, "not-the-server-secret-0123456789abc"),
        {**found[ratings.RATED_KEY], "intent": "ask_trial"},
        {"prompt": ratings.prompt_id(old), "intent": "ask_trial"},
    ):
        run(ActionRecordFeedback(), click(recent, "yes", old, metadata={ratings.RATED_KEY: claim}))
    assert rows(billing_db) == [("data_retention", False)]


BAD_PROMPTS = [
    pytest.param("abc", id="not-a-number"),
    pytest.param("-1764561234.29", id="negative"),
    pytest.param("0", id="zero"),
    pytest.param("1e308", id="exponent"),
    pytest.param("inf", id="infinite"),
    pytest.param("9" * 30, id="huge"),
    pytest.param("1" * 40, id="too-long"),
    pytest.param(1764561234.29, id="a-number-not-a-string"),
    pytest.param(["1764561234.29"], id="a-list"),
    pytest.param({"x": 1}, id="an-object"),
    pytest.param("1764561299.5", id="no-such-prompt"),
    pytest.param(repr(BASE + 0.02), id="an-answer-not-a-prompt"),
]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("bad", BAD_PROMPTS)
def test_a_bad_or_forged_prompt_id_records_nothing_and_still_answers_politely(billing_db, bad, lang):
    history = three_answers()
    # a claim in the metadata does not help either (the channel drops a client's copy, and signs
    # only what it found in the conversation)
    forged = {ratings.RATED_KEY: {"prompt": str(bad), "intent": "ask_trial", "sig": "0" * 64}}
    dispatcher, events = run(ActionRecordFeedback(), click(history, "yes", raw_prompt=bad, lang=lang, metadata=forged))
    assert conversation_store.list_feedback(billing_db) == []
    assert responses(dispatcher) == ["utter_feedback_thanks"] and events == []
    expected = "Thank you for your feedback!" if lang == "en" else "Cleeksy chân thành cảm ơn"
    assert expected in render_message(dispatcher.messages[0], lang)


def test_two_prompt_ids_in_one_click_record_nothing(billing_db):
    history = three_answers()
    tracker = click(history, "yes", prompt_of(history, 0))
    tracker.latest_message["entities"].append({"entity": "prompt", "value": ratings.prompt_id(prompt_of(history, 1))})
    dispatcher, _ = run(ActionRecordFeedback(), tracker)
    assert conversation_store.list_feedback(billing_db) == []
    assert responses(dispatcher) == ["utter_feedback_thanks"]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("rating", ["maybe", "", "YES!", 1])
def test_a_button_that_says_neither_yes_nor_no_records_nothing(billing_db, rating, lang):
    history = three_answers()
    dispatcher, _ = run(ActionRecordFeedback(), click(history, rating, prompt_of(history, 0), lang=lang))
    assert conversation_store.list_feedback(billing_db) == []
    assert responses(dispatcher) == ["utter_rating_unclear"]
    said = render_message(dispatcher.messages[0], lang)
    assert ("Yes or No" in said) if lang == "en" else ("Có hoặc Không" in said)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Câu trả lời phía trên rất hữu ích", True),
        ("cau tl tren ko huu ich", False),
        ("Your previous answer didn't help", False),
        ("The answer above was really useful", True),
        ("câu trả lời này sai", False),
        ("the previous answer was not useful", False),  # "useful" is there, and so is "not"
    ],
)
def test_a_rating_typed_about_the_answer_rates_the_latest_prompt(billing_db, text, expected):
    history = three_answers()
    # the NLU marks no yes/no in typed text (its entity is only the buttons'): read from the words
    noise = [{"entity": "rating", "value": "yes"}]
    run(ActionRecordFeedback(), make_tracker(text, "rate_answer", entities=noise, history=history))
    assert rows(billing_db) == [("payment", expected)]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_typed_rating_that_says_neither_yes_nor_no_records_nothing(billing_db, lang):
    history = three_answers()
    dispatcher, _ = run(
        ActionRecordFeedback(), make_tracker("câu trả lời phía trên", "rate_answer", history=history, language=lang)
    )
    assert conversation_store.list_feedback(billing_db) == []
    assert responses(dispatcher) == ["utter_rating_unclear"]


def test_a_rating_typed_with_no_prompt_in_the_conversation_records_nothing(billing_db):
    dispatcher, _ = run(ActionRecordFeedback(), make_tracker("the answer above was helpful", "rate_answer"))
    assert conversation_store.list_feedback(billing_db) == []
    assert responses(dispatcher) == ["utter_feedback_thanks"]


def asked_about():
    """Every intent whose answer ends with "was this helpful?" in the rules and stories."""
    intents = set()
    for name in ("rules.yml", "stories.yml"):
        data = yaml.safe_load((ROOT / "data" / name).read_text(encoding="utf-8"))
        for flow in data.get("rules", []) + data.get("stories", []):
            intent = None
            for step in flow.get("steps", []):
                intent = step.get("intent", intent)
                if step.get("action") == "utter_ask_helpful" and intent:
                    intents.add(intent)
    return intents


def test_every_answer_that_asks_was_this_helpful_has_a_topic_the_console_names():
    assert len(asked_about()) >= 9
    for intent in asked_about():
        assert intent in TOPICS, f"{intent}: its ratings would be filed under 'other'"
    for topic in list(TOPICS.values()) + ["other"]:
        assert topic_key(topic) == topic and TOPIC_NAMES[topic] and "_" not in TOPIC_NAMES[topic]


def test_storage_failure_still_answers(monkeypatch):
    monkeypatch.setenv("BILLING_DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:9/none")
    dispatcher, _ = run(
        ActionRecordFeedback(), make_tracker("yes", "affirm", history=asked_after("trial?", "ask_trial"))
    )
    assert responses(dispatcher) == ["utter_feedback_thanks"]
    history = three_answers()
    dispatcher, _ = run(ActionRecordFeedback(), click(history, "no", prompt_of(history, 0), lang="en"))
    assert responses(dispatcher) == ["utter_feedback_sorry"]
