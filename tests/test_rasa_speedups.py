"""The compiled-once reply validation accepts and refuses exactly what Rasa's own does."""
from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import helpdesk.nlu_components  # noqa: F401  (loading the components installs the fix)
from helpdesk import rasa_speedups

ACTION = RemoteAction("action_answer_trial", None)

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "language", "value": "en"}],
     "responses": [{"text": "Còn 18 ngày", "buttons": [{"title": "Có", "payload": "/affirm"}]}]},
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
