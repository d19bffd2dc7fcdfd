"""Four fixes to Rasa 3.6's hot path and footprint, installed when the assistant's NLU components or
its tracker store load. Each gives the same results as Rasa's own code, at less cost.

1. Rasa validates every custom action's reply with ``jsonschema.validate(result, spec)``, which
checks the fixed reply schema against the JSON-Schema meta-schema and builds a new validator on
every call: about 14 ms of CPU per custom action here, the largest single cost of a personal
answer. The schema never changes, so its validator is built and checked once; every reply is
still validated against the same schema and a bad one fails with the same error as before.

2. Rasa turns every stored event back into an object through ``Event.resolve_by_type``, which
walks the whole tree of ``Event`` subclasses (about 60 classes, recursively) for each event: about
0.2 ms per event, the largest cost of loading a tracker (a turn loads 60-100 events; Rasa's own
store loads the whole session, thousands in a long conversation). The type names are looked up in
a table instead, built from the same walk and in the same order (the first class with a name wins,
as in Rasa's loop), rebuilt when a name is not found (a subclass defined later).

3. Every policy, for every action it predicts in a turn, recomputes the tracker's past states
(``DialogueStateTracker.past_states``: it replays the tracker once per event), 8-10 times a turn
on the same events: 17 % of a turn's CPU here. The states are kept on the tracker for the events it
has (count and identity of the last event: a tracker only ever appends) and the arguments; each
caller gets its own copy, since featurizers edit the states they get.

4. To load a trained DIET model, Rasa trains it for one step on one example ("to build weights of
the correct size"), then overwrites every weight from the checkpoint. That step traces Keras'
whole training graph (gradients, optimizer) and keeps it: about 590 MB of a Rasa server's 1.2 GB,
never used again by a server that only predicts. The weights are built by the one prediction
Rasa already runs after loading instead: the checkpoint is opened first, its values restored into
each variable as the prediction creates it (TensorFlow's deferred restoration), and the load
fails unless every variable the model made was restored from the checkpoint. Fine-tuning
(``rasa train --finetune``) and a load without a prediction example keep Rasa's own way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Text, Type

import jsonschema
import tensorflow as tf
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.models import RasaModel

# Rasa's own methods, kept so that tests can compare them with ours on the same input.
RASA_VALIDATE_ACTION_RESULT = RemoteAction.__dict__["_validate_action_result"]
RASA_RESOLVE_BY_TYPE = Event.__dict__["resolve_by_type"].__func__
RASA_PAST_STATES = DialogueStateTracker.__dict__["past_states"]
RASA_MODEL_LOAD = RasaModel.__dict__["load"].__func__
_STATES = "_helpdesk_past_states"


@lru_cache(maxsize=1)
def _reply_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    error = best_match(_reply_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


_EVENT_TYPES: Dict[Text, Type[Event]] = {}


def _event_types() -> Dict[Text, Type[Event]]:
    table: Dict[Text, Type[Event]] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)  # the first one, as Rasa's loop returns
    return table


def resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """``Event.resolve_by_type`` by table: same class, same fallbacks, same error."""
    cls = _EVENT_TYPES.get(type_name)
    if cls is None:
        _EVENT_TYPES.clear()
        _EVENT_TYPES.update(_event_types())
        cls = _EVENT_TYPES.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # backwards compatibility to support old TopicSet evts
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def _copy_states(states: List[Dict[Text, Any]]) -> List[Dict[Text, Any]]:
    # a state is {part: {feature: str | tuple}}: two levels are all a caller can change
    return [{part: dict(sub) if isinstance(sub, dict) else sub for part, sub in state.items()} for state in states]


def past_states(
    self: DialogueStateTracker,
    domain: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[Dict[Text, Any]]:
    """``DialogueStateTracker.past_states``, computed once per version of the tracker and arguments."""
    events = self.events
    version = (len(events), id(events[-1]) if events else None)
    cache = self.__dict__.get(_STATES)
    if cache is None or cache[0] != version:
        cache = (version, {})
        self.__dict__[_STATES] = cache
    key = (id(domain), omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data))
    states = cache[1].get(key)
    if states is None:
        states = RASA_PAST_STATES(
            self,
            domain,
            omit_unset_slots=omit_unset_slots,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only_data,
        )
        cache[1][key] = states
    return _copy_states(states)


def load_for_prediction(
    cls: Type[RasaModel],
    model_file_name: Text,
    model_data_example: Any,
    predict_data_example: Any = None,
    finetune_mode: bool = False,
    *args: Any,
    **kwargs: Any,
) -> RasaModel:
    """``RasaModel.load`` without the training step: the same weights, built by a prediction."""
    if finetune_mode or not predict_data_example:
        return RASA_MODEL_LOAD(
            cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
        )
    model = cls(*args, **kwargs)
    config = kwargs.get("config", {})
    # compiled as Rasa compiles it, so the model is in the state Rasa's callers expect
    model.compile(
        optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)), run_eagerly=config.get(RUN_EAGERLY)
    )
    restored = model.load_weights(model_file_name)
    model.run_inference(predict_data_example)
    restored.assert_existing_objects_matched()
    return model


def install() -> None:
    """Idempotent: the compiled-once reply validation, the event-type table, the states cache, the
    load without a training step."""
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(resolve_by_type)
    DialogueStateTracker.past_states = past_states
    RasaModel.load = classmethod(load_for_prediction)
