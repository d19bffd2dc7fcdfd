"""The compiled-once reply validation accepts and refuses exactly what Rasa's own does; the event
type table resolves every event type name to the class Rasa's own walk finds; a DIET model loaded
without Rasa's training step predicts exactly as one loaded Rasa's way."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, SlotSet, UserUttered, deserialise_events
from rasa.shared.utils.common import all_subclasses

import helpdesk.nlu_components  # noqa: F401  (loading the components installs the fix)
from helpdesk import rasa_speedups

ACTION = RemoteAction("action_answer_trial", None)

VALID = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "language", "value": "en"}],
        "responses": [{"text": "Còn 18 ngày", "buttons": [{"title": "Có", "payload": "/affirm"}]}],
    },
    {"events": [{"event": "followup", "name": "action_listen"}], "responses": [{"response": "utter_greet"}]},
]
INVALID = [
    {"events": "not a list", "responses": []},
    {"events": [{"name": "no event key"}], "responses": []},
    {"events": [], "responses": "text"},
]


def test_loading_the_components_installs_the_compiled_validator():
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result


@pytest.mark.parametrize("reply", VALID)
def test_valid_replies_pass_as_with_rasa(reply):
    assert rasa_speedups.RASA_VALIDATE_ACTION_RESULT(ACTION, reply) is True
    assert ACTION._validate_action_result(reply) is True


@pytest.mark.parametrize("reply", INVALID)
def test_invalid_replies_fail_with_rasas_message(reply):
    with pytest.raises(ValidationError) as rasa_error:
        rasa_speedups.RASA_VALIDATE_ACTION_RESULT(ACTION, reply)
    with pytest.raises(ValidationError) as our_error:
        ACTION._validate_action_result(reply)
    assert our_error.value.message == rasa_error.value.message
    assert "Failed to validate Action server response" in our_error.value.message


def test_loading_the_components_installs_the_event_type_table_and_states_cache():
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.tensorflow.models import RasaModel

    assert Event.resolve_by_type is rasa_speedups.resolve_by_type
    assert DialogueStateTracker.past_states is rasa_speedups.past_states
    assert RasaModel.__dict__["load"].__func__ is rasa_speedups.load_for_prediction


def test_every_event_type_resolves_to_the_class_rasa_finds():
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert rasa_speedups.resolve_by_type(name) is rasa_speedups.RASA_RESOLVE_BY_TYPE(name), name


def test_unknown_names_fall_back_or_fail_like_rasa():
    assert rasa_speedups.resolve_by_type("topic") is None
    assert rasa_speedups.resolve_by_type("no-such-event", SlotSet) is SlotSet
    with pytest.raises(ValueError) as ours:
        rasa_speedups.resolve_by_type("no-such-event")
    with pytest.raises(ValueError) as theirs:
        rasa_speedups.RASA_RESOLVE_BY_TYPE("no-such-event")
    assert str(ours.value) == str(theirs.value)


def test_an_event_class_defined_later_is_found():
    class LateEvent(SlotSet):
        type_name = "helpdesk_test_late_event"

    assert rasa_speedups.resolve_by_type("helpdesk_test_late_event") is LateEvent


def test_stored_events_deserialise_as_before():
    dumped = [
        UserUttered("xin chào", {"name": "greet", "confidence": 1.0}).as_dict(),
        SlotSet("language", "vi").as_dict(),
    ]
    events = deserialise_events(dumped)
    assert [type(e) for e in events] == [UserUttered, SlotSet]
    assert [e.as_dict() for e in events] == dumped


def _tracker(turns: int):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, ActiveLoop
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load("domain.yml")
    tracker = DialogueStateTracker("states", domain.slots)
    for turn in range(turns):
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(
            UserUttered(f"m{turn}", {"name": ["greet", "ask_trial", "buy_upgrade"][turn % 3], "confidence": 1.0})
        )
        if turn % 4 == 2:
            tracker.update(ActionExecuted("checkout_form"))
            tracker.update(ActiveLoop("checkout_form" if turn % 8 == 2 else None))
        tracker.update(SlotSet("product", f"p{turn % 2}"))
        tracker.update(ActionExecuted("utter_greet"))
    return domain, tracker


@pytest.mark.parametrize(
    "omit,ignore,rule_only",
    [(False, False, None), (True, False, None), (False, True, {"slots": ["product"], "loops": []})],
)
def test_past_states_are_rasas_at_every_step_and_callers_cannot_spoil_them(omit, ignore, rule_only):
    from rasa.shared.core.events import ActionExecuted

    domain, tracker = _tracker(6)
    kwargs = dict(omit_unset_slots=omit, ignore_rule_only_turns=ignore, rule_only_data=rule_only)
    for step in range(4):
        expected = rasa_speedups.RASA_PAST_STATES(tracker, domain, **kwargs)
        first = tracker.past_states(domain, **kwargs)
        assert first == expected
        for state in first:  # what a featurizer does (drops the text, changes parts)
            state.pop("user", None)
            state["extra"] = {"x": 1}
        assert tracker.past_states(domain, **kwargs) == expected  # the cached states unharmed
        tracker.update(
            ActionExecuted("action_listen")
            if step % 2
            else UserUttered(f"later {step}", {"name": "thank", "confidence": 1.0})
        )
        assert tracker.past_states(domain, **kwargs) == rasa_speedups.RASA_PAST_STATES(tracker, domain, **kwargs)


def test_past_states_of_a_copy_and_of_different_arguments_are_their_own():
    domain, tracker = _tracker(5)
    with_slots = tracker.past_states(domain)
    without = tracker.past_states(domain, omit_unset_slots=True)
    assert with_slots == rasa_speedups.RASA_PAST_STATES(tracker, domain)
    assert without == rasa_speedups.RASA_PAST_STATES(tracker, domain, omit_unset_slots=True)
    earlier = tracker.travel_back_in_time(tracker.events[8].timestamp)
    assert earlier.past_states(domain) == rasa_speedups.RASA_PAST_STATES(earlier, domain)
    assert len(earlier.past_states(domain)) < len(with_slots)


LOAD_BOTH_WAYS = r"""
import asyncio, json, sys
from rasa.core.agent import Agent
from rasa.utils.tensorflow.models import RasaModel
import helpdesk.nlu_components  # noqa: F401  (imported by the model's graph: installs ours on import)
from helpdesk import rasa_speedups

texts = json.loads(sys.argv[2])
fits = []
original_fit = RasaModel.fit
RasaModel.fit = lambda self, *a, **k: fits.append(1) or original_fit(self, *a, **k)

async def parse_all(agent):
    return [await agent.parse_message(text) for text in texts]

results = {}
for way in ("rasa", "ours"):
    rasa_speedups.install()
    if way == "rasa":
        RasaModel.load = classmethod(rasa_speedups.RASA_MODEL_LOAD)
    fits.clear()
    parsed = asyncio.run(parse_all(Agent.load(sys.argv[1])))
    results[way] = {"fits": len(fits), "parsed": [
        {"ranking": p["intent_ranking"], "entities": p["entities"]} for p in parsed]}
print("RESULT" + json.dumps(results))
"""


def test_a_model_loaded_without_the_training_step_predicts_exactly_as_rasas_load(tmp_path):
    """Intent rankings (every confidence) and entities, on texts of every kind, are identical
    whichever way DIET's weights were built; only Rasa's way runs a training step."""
    import json
    import os
    import subprocess
    import sys

    from helpdesk.stack import MODEL, ROOT

    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: `make test` trains it first (scripts/train_if_changed.sh)")
    texts = [
        "xin chao",
        "tôi muốn nâng cấp App Builder lên Premium theo năm cho 12 người",
        "ha goi khong gian lam viec so xuong starter dc ko",
        "How many trial days do I have left?",
        "mua them 50 GB",
        "?",
    ]
    script = tmp_path / "load_both_ways.py"
    script.write_text(LOAD_BOTH_WAYS)
    done = subprocess.run(
        [sys.executable, str(script), str(MODEL), json.dumps(texts)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    results = json.loads(line[len("RESULT") :])
    assert results["rasa"]["fits"] >= 1 and results["ours"]["fits"] == 0
    assert results["ours"]["parsed"] == results["rasa"]["parsed"]
    assert any(p["entities"] for p in results["ours"]["parsed"])  # the texts do exercise entities
