"""The blind conversation set keeps its shape (issue 12), and the runner's verdicts mean what the
set's header says. Playing the set needs the trained model: `make eval`."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import eval_conversations as runner  # noqa: E402

from helpdesk.text import has_vietnamese_marks  # noqa: E402


def test_at_least_150_multi_turn_conversations_in_the_asked_proportions():
    conversations = runner.load_conversations()  # the first batch alone has the proportions
    assert len(conversations) >= 150
    counts = Counter(c["category"] for c in conversations)
    assert set(counts) <= set(runner.CATEGORIES)
    with_token = sum(1 for c in conversations if c.get("workspace"))
    assert with_token >= len(conversations) / 3
    assert counts["english"] >= len(conversations) / 5
    no_marks = sum(
        1
        for c in conversations
        if not any(has_vietnamese_marks(t["user"]) for t in c["turns"]) and c["category"] != "english"
    )
    assert no_marks >= len(conversations) / 3
    assert sum(len(c["turns"]) for c in conversations) >= 200


def test_a_turn_passes_only_when_every_expectation_holds():
    turn = {"expect": ["action_answer_trial|action_answer_followup"], "not": ["utter_default"], "says": ["ngày"]}
    assert runner.turn_verdict(turn, ["action_answer_followup", "utter_trial_days_left"], "Còn 18 ngay") == []
    assert runner.turn_verdict(turn, ["utter_default"], "Còn 18 ngày") == [
        "expected action_answer_trial|action_answer_followup",
        "did not expect utter_default",
    ]
    assert runner.turn_verdict(turn, ["action_answer_trial"], "...") == ["reply lacks 'ngày'"]


def test_what_ran_is_read_from_the_turns_events():
    events = [
        {"event": "user", "text": "a"},
        {"event": "action", "name": "old"},
        {"event": "user", "text": "b"},
        {"event": "action", "name": "action_answer_trial"},
        {
            "event": "bot",
            "text": "Còn 18 ngày",
            "metadata": {"utter_action": "utter_trial_days_left"},
            "data": {"buttons": [{"title": "Nâng cấp"}]},
        },
        {"event": "action", "name": "action_listen"},
    ]
    ran, said = runner.ran_and_said(runner.events_of_last_turn(events))
    assert ran == ["action_answer_trial", "utter_trial_days_left"]
    assert "18" in said and "Nâng cấp" in said


def test_later_batches_are_multi_turn_and_all_batches_are_played():
    later = [c for c in runner.load_conversations(None) if c["batch"] != "blind_eval.yml"]
    assert later and all(len(c["turns"]) > 1 for c in later)
    ids = [c["id"] for c in runner.load_conversations(None)]
    assert len(ids) == len(set(ids)) >= 200
