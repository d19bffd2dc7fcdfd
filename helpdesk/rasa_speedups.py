"""Twelve fixes to Rasa 3.6's hot path and footprint, installed when the assistant's NLU components or
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
on the same events: 17 % of a turn's CPU here. The replay is kept on the tracker for each set of
arguments, paused after the events it has seen: asked again, it goes on with the events appended
since, exactly as Rasa's one pass over all of them would, and the states of a tracker that did not
change are not worked out again. Events after which Rasa's ``applied_events`` would drop or undo
earlier ones (a restart, a new session, a revert, a form run that rewinds to its previous run, a
loop name not seen before), or events that are not the ones seen plus more, replay from the start.
Each caller gets its own copy of the states, since featurizers edit the states they get.

4. To load a trained DIET model, Rasa trains it for one step on one example ("to build weights of
the correct size"), then overwrites every weight from the checkpoint. That step traces Keras'
whole training graph (gradients, optimizer) and keeps it: about 590 MB of a Rasa server's 1.2 GB,
never used again by a server that only predicts. The weights are built by the one prediction
Rasa already runs after loading instead: the checkpoint is opened first, its values restored into
each variable as the prediction creates it (TensorFlow's deferred restoration), and the load
fails unless every variable the model made was restored from the checkpoint. Fine-tuning
(``rasa train --finetune``) and a load without a prediction example keep Rasa's own way.

5. A served model runs its graph through dask (``DaskGraphRunner.run``) four times a turn (the
NLU, then each prediction), and every run first rebuilds the subgraph its targets need by an
unmemoised recursion, formats its inputs (the tracker) into a debug message nobody logs, and lets
dask order and schedule a chain of a dozen nodes: 9 % of the Rasa server's Python time here. The
subgraph and its order are worked out once per set of targets, and the nodes are called in that
order with the same arguments dask gives them (a parent's ``(name, output)``, an input's
``(name, value)``, the bare name of an input nobody gave). Runs with hooks (training, where
caching and fingerprints hang on them) keep dask.

6. RulePolicy finds the rules that apply by filtering every rule once per past state, parsing
and reversing the rule again for each (``_get_possible_keys``): 6 % of the Rasa server's Python
time. Each rule is parsed and reversed once; only the rules that need the previous action the
conversation's latest state has (or need none) are checked, each against the conversation's
states from the latest back, stopping at the first that does not match; the test is Rasa's
(``_is_rule_applicable``, ``_does_rule_match_state``), so the same rules are found.

7. DIET joins a message's sparse features (regex, lexical, two count vectors) by copying the first
and stacking the others onto it one at a time through ``scipy.sparse.hstack`` (``Message.
_combine_features``): 18 % of a parse here. Matrices in COO form, as every featurizer here makes
them, are joined in one step instead: the same entries in the same order (each matrix's, its
columns moved past the matrices before it), the same type and shape. Anything else is Rasa's.

8. Every parse checks whether the domain is empty by building an empty domain and comparing the
two as dictionaries (``Domain.is_empty``); the empty domain's dictionary is built once.

9. DIET's prediction goes through ``tf.function``'s general call (``RasaModel._rasa_predict``),
which on every parse works out again which of its traces fits the inputs: it flattens them,
builds their type, matches it against the signature and converts them, about a third of the
call's CPU (1.5-2 ms a parse here) for a function whose fixed input signature has exactly one
trace. That trace is kept once it exists and called directly with the inputs converted as
TensorFlow converts them (``convert_to_tensor`` with the signature's dtype as the hint). Inputs
that do not fit the signature, a model run eagerly, or one not prepared for prediction yet take
Rasa's path, which fails or traces exactly as before.

10. Half of that trace's work is the entity CRF's Viterbi decoding (``rasa.utils.tensorflow.crf.
crf_decode``): a TensorFlow while loop of a dozen tiny operations per token plus two scans back,
about 140 operations a parse, each costing more to dispatch than to compute (TensorFlow's
profiler, one parse: 2.7 of 5.2 ms). The prediction this project calls (fix 9) is its own trace of
DIET's ``predict_step``, made with the CRF layer returning its logits and lengths instead of
decoding them; the decoding is then done on those logits as Rasa's graph does it, step for step:
the Viterbi sums, maxima and back-pointers in NumPy (float32 additions and maxima, exact whatever
computes them) and each step's softmax by TensorFlow's own softmax kernel, in one call for all the
steps of a message, so every tag and every confidence is bit for bit Rasa's (including the way
Rasa's backward scan picks each earlier confidence with the previous confidence as its index).
Only a model whose one CRF is the entity type's (no role or group tags) is decoded this way; Rasa's
own trace is left as it was for Rasa's own callers (``restore_rasa`` runs it unchanged).

11. Every call to the action server (``EndpointConfig.request``) opens a new ``aiohttp`` session,
so a new TCP connection, and closes both after the reply: a connect, an accept and a close per
custom action on each side. ``EndpointConfig.session`` now hands out one session per endpoint and
event loop, kept open between requests, with the same headers, basic authentication and timeout
as Rasa's; its idle connections are dropped after 2 s, before rasa-sdk's server (Sanic's 5 s) or
nginx in front of it (4 s) closes them, so a request never goes out on a connection the other side
is closing. A connection the server closed (a restarted action server) is not reused.

12. A loaded model is about 590,000 Python objects that live as long as the server, and Python's
cyclic garbage collector walks every one of them in each full collection: 190-390 ms with the
server's event loop stopped (every conversation waits), about twice a minute under load, 3 % of
its CPU. After Rasa's ``Agent.load_model`` the objects that exist are collected once and moved to
the permanent generation (``gc.freeze``), which collections skip; what turns create is collected
as before. Loading a new model into a running server (``PUT /model``) unfreezes first, so the old
model's cycles are collected once it is replaced.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Set, Text, Tuple, Type

import aiohttp
import jsonschema
import numpy as np
import scipy.sparse
import tensorflow as tf
from jsonschema.exceptions import best_match
from keras.utils import tf_utils
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DIAGNOSTIC_DATA, DOCS_BASE_URL
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ACTION_NAME, ENTITY_ATTRIBUTE_TYPE
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig
from rasa.utils.tensorflow.constants import ENTITY_RECOGNITION, LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.layers import CRF
from rasa.utils.tensorflow.models import RasaModel
from tensorflow.python.framework import ops as tf_ops

# Rasa's own methods, kept so that tests can compare them with ours on the same input.
RASA_VALIDATE_ACTION_RESULT = RemoteAction.__dict__["_validate_action_result"]
RASA_RESOLVE_BY_TYPE = Event.__dict__["resolve_by_type"].__func__
RASA_PAST_STATES = DialogueStateTracker.__dict__["past_states"]
RASA_MODEL_LOAD = RasaModel.__dict__["load"].__func__
RASA_GRAPH_RUN = DaskGraphRunner.__dict__["run"]
RASA_GET_POSSIBLE_KEYS = RulePolicy.__dict__["_get_possible_keys"]
RASA_COMBINE_FEATURES = Message.__dict__["_combine_features"].__func__
RASA_DOMAIN_IS_EMPTY = Domain.__dict__["is_empty"]
RASA_PREDICT = RasaModel.__dict__["_rasa_predict"]
RASA_CRF_CALL = CRF.__dict__["call"]
RASA_LOAD_MODEL = Agent.__dict__["load_model"]
_STATES = "_helpdesk_past_states"
_PLANS = "_helpdesk_run_plans"
_HOOKED = "_helpdesk_has_hooks"
_TRACE = "_helpdesk_predict_trace"
_SESSION = "_helpdesk_session"
IDLE_CONNECTION_SECONDS = 2.0  # under rasa-sdk's (Sanic) 5 s and nginx's 4 s toward the action server


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


_log = logging.getLogger("rasa.engine.runner.dask")  # Rasa's logger for the message it logs
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


class _Replay:
    """Rasa's ``states_for_tracker_history`` of one tracker and one set of arguments, paused after
    the events it has seen and resumed when the tracker has appended more, exactly as one pass over
    all of them goes on. A resume that Rasa's ``applied_events`` would not treat as plain appends
    (a reset, a revert, a loop that rewinds to its previous run, a new loop name, events that are
    not the ones seen plus more) is refused, and the states are replayed from the start."""

    def __init__(self, tracker: DialogueStateTracker, domain: Any, args: Tuple[bool, bool, Any]) -> None:
        self.domain, (self.omit, self.ignore, self.rule_only) = domain, args
        events = list(tracker.events)
        self.consumed, self.last = len(events), events[-1] if events else None
        self.loop_names = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
        self.applied: List[Event] = []
        self.prior = tracker.init_copy()
        self.states: List[Dict[Text, Any]] = []
        self.last_ml: Optional[Dict[Text, Any]] = None
        self.hidden = False
        self.now: Optional[Tuple[int, List[Dict[Text, Any]]]] = None
        for event in tracker.applied_events():
            self._apply(event)

    def resume(self, tracker: DialogueStateTracker) -> bool:
        events = tracker.events
        if len(events) < self.consumed or (self.consumed and events[self.consumed - 1] is not self.last):
            return False
        new = list(itertools.islice(events, self.consumed, None))
        if any(isinstance(e, ActiveLoop) and e.name and e.name not in self.loop_names for e in new):
            return False  # Rasa's applied_events would treat earlier runs of that loop anew
        for event in new:
            if not self._plain_append(tracker, event):
                return False
            self._apply(event)
            self.consumed, self.last = self.consumed + 1, event
        return True

    def _plain_append(self, tracker: DialogueStateTracker, event: Event) -> bool:
        # the cases where Rasa's applied_events appends the event and undoes nothing
        if isinstance(event, (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted)):
            return False
        if isinstance(event, ActionExecuted) and event.action_name in self.loop_names:
            return tracker._first_loop_execution_or_unhappy_path(event.action_name, self.applied)
        return True

    def _apply(self, event: Event) -> None:
        # one step of generate_all_prior_trackers: the tracker before each action yields a state
        self.applied.append(event)
        if isinstance(event, ActionExecuted):
            state, self.last_ml, self.hidden = self._state(event.hide_rule_turn, self.last_ml, self.hidden)
            if state is not None:
                self.states.append(state)
        self.prior.update(event)

    def _state(
        self, hide_rule_turn: bool, last_ml: Optional[Dict[Text, Any]], hidden: bool
    ) -> Tuple[Optional[Dict[Text, Any]], Optional[Dict[Text, Any]], bool]:
        # the body of Rasa's loop in Domain.states_for_tracker_history, line for line, on the
        # tracker as it is now (before the next action)
        domain, prior = self.domain, self.prior
        if self.ignore:
            if not hidden:
                last_ml = domain._get_prev_action_sub_state(prior)
            if not prior.followup_action and not prior.latest_action_name == prior.active_loop_name:
                hidden = hide_rule_turn
            if hidden:
                return None, last_ml, hidden
        state = domain.get_active_state(prior, omit_unset_slots=self.omit)
        if self.ignore:
            domain._remove_rule_only_features(state, self.rule_only)
            if self.states:
                domain._substitute_rule_only_user_input(state, self.states[-1])
            if last_ml:
                state[PREVIOUS_ACTION] = last_ml
        return domain._clean_state(state), last_ml, hidden

    def past_states(self) -> List[Dict[Text, Any]]:
        if self.now is None or self.now[0] != self.consumed:
            final, _, _ = self._state(False, self.last_ml, self.hidden)  # not kept: more may follow
            self.now = (self.consumed, self.states + ([final] if final is not None else []))
        return self.now[1]


def past_states(
    self: DialogueStateTracker,
    domain: Any,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[Dict[Text, Any]]:
    """``DialogueStateTracker.past_states``: Rasa's replay of the events, resumed from where the
    previous call for the same arguments left it."""
    replays: Dict[Any, _Replay] = self.__dict__.setdefault(_STATES, {})
    key = (id(domain), omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data))
    replay = replays.get(key)
    if replay is None or replay.domain is not domain or not replay.resume(self):
        replay = replays[key] = _Replay(self, domain, (omit_unset_slots, ignore_rule_only_turns, rule_only_data))
    return _copy_states(replay.past_states())


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


# [(node name, node, the names its arguments come from)], dependencies before the nodes that need
# them, and the set of those node names
_Plan = Tuple[List[Tuple[Text, Any, Tuple[Text, ...]]], Set[Text]]


def _run_plan(runner: DaskGraphRunner, targets: Tuple[Text, ...]) -> _Plan:
    plans: Dict[Tuple[Text, ...], _Plan] = runner.__dict__.setdefault(_PLANS, {})
    plan = plans.get(targets)
    if plan is None:
        schema = runner._graph_schema.minimal_graph_schema(list(targets))
        order: List[Text] = []

        def visit(name: Text) -> None:
            node = schema.nodes.get(name)
            if node is None or name in order:
                return  # an input placeholder, or placed already
            for needed in node.needs.values():
                visit(needed)
            order.append(name)

        for target in targets:
            visit(target)
        steps = [(name, runner._instantiated_nodes[name], tuple(schema.nodes[name].needs.values())) for name in order]
        plan = plans[targets] = (steps, set(order))
    return plan


def _has_hooks(runner: DaskGraphRunner) -> bool:
    # a runner's nodes get their hooks when it is made: asked once per runner
    if _HOOKED not in runner.__dict__:
        runner.__dict__[_HOOKED] = any(node._hooks for node in runner._instantiated_nodes.values())
    return runner.__dict__[_HOOKED]


def run_graph_in_order(
    self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None
) -> Dict[Text, Any]:
    """``DaskGraphRunner.run`` for a served model: the same nodes called with the same arguments."""
    if _has_hooks(self):
        return RASA_GRAPH_RUN(self, inputs, targets)
    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    plan, node_names = _run_plan(self, run_targets)
    given = dict(inputs or {})
    for value in given.values():
        if isinstance(value, str) and value in node_names:
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug(f"Running graph with inputs: {inputs}, targets: {targets} and {self._execution_context}.")
    results: Dict[Text, Any] = {name: (name, value) for name, value in given.items()}
    try:
        for name, node, needs in plan:
            if name not in given:  # an input of a node's name stands in for the node, as in dask
                results[name] = node(*(results.get(needed, needed) for needed in needs))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results.get(target, target) for target in run_targets)


# a rule's states from the latest back: (has a previous action, [(part, [(feature, value)])])
_RuleState = Tuple[bool, List[Tuple[Text, List[Tuple[Text, Any]]]]]


@lru_cache(maxsize=8192)
def _rule_from_latest(rule_key: Text) -> Tuple[_RuleState, ...]:
    def features(sub: Dict[Text, Any]) -> List[Tuple[Text, Any]]:
        # json turns tuples into lists: back into tuples, as Rasa compares them
        return [(key, tuple(value) if isinstance(value, list) else value) for key, value in sub.items()]

    return tuple(
        (bool(state.get(PREVIOUS_ACTION)), [(part, features(sub)) for part, sub in state.items()])
        for state in reversed(json.loads(rule_key))
    )


def _rule_state_matches(parts: List[Tuple[Text, List[Tuple[Text, Any]]]], state: Dict[Text, Any]) -> bool:
    for part, features in parts:
        sub = state.get(part, {})
        for key, wanted in features:
            have = sub.get(key)
            if wanted == SHOULD_NOT_BE_SET:
                if have and have != SHOULD_NOT_BE_SET:
                    return False
            elif wanted and have != wanted:
                return False
    return True


def _rule_applies(rule: Tuple[_RuleState, ...], latest_first: Sequence[Dict[Text, Any]]) -> bool:
    # zip: a rule longer than the conversation is checked on the states there are, and a shorter
    # one only on its own, as Rasa's turn-by-turn filter does
    for (rule_has_previous, parts), state in zip(rule, latest_first, strict=False):
        has_previous = bool(state.get(PREVIOUS_ACTION))
        if not rule_has_previous and not has_previous:
            continue  # both are the conversation's start
        if not rule_has_previous or not has_previous or not _rule_state_matches(parts, state):
            return False
    return True


def _latest_action_needed(rule: Tuple[_RuleState, ...]) -> Optional[Text]:
    """The previous action a rule's latest state names (a conversation whose latest state names
    another cannot match it), or None."""
    for part, features in rule[0][1] if rule else []:
        if part == PREVIOUS_ACTION:
            for key, wanted in features:
                if key == ACTION_NAME and wanted and wanted != SHOULD_NOT_BE_SET:
                    return wanted
    return None


# id(lookup) -> (the lookup, its rules when indexed, its rules by the previous action they need)
_RULE_INDEXES: Dict[int, Tuple[Dict[Text, Text], frozenset, Dict[Optional[Text], List[Text]]]] = {}


def _rules_by_latest_action(lookup: Dict[Text, Text]) -> Dict[Optional[Text], List[Text]]:
    entry = _RULE_INDEXES.get(id(lookup))
    if entry is not None and entry[0] is lookup and entry[1] == lookup.keys():
        return entry[2]
    index: Dict[Optional[Text], List[Text]] = {}
    for key in lookup:
        index.setdefault(_latest_action_needed(_rule_from_latest(key)), []).append(key)
    if len(_RULE_INDEXES) >= 16:  # a served model has three lookups; training makes a few more
        _RULE_INDEXES.clear()
    _RULE_INDEXES[id(lookup)] = (lookup, frozenset(lookup), index)
    return index


def get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[Dict[Text, Any]]) -> Set[Text]:
    """``RulePolicy._get_possible_keys``: the rules of ``lookup`` that apply to ``states``. Only the
    rules that need the latest state's previous action, or none, are checked."""
    if not states:
        return set(lookup)
    latest_first = list(reversed(states))
    index = _rules_by_latest_action(lookup)
    latest_action = (latest_first[0].get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    candidates = index.get(None, []) + (index.get(latest_action, []) if latest_action else [])
    return {key for key in candidates if _rule_applies(_rule_from_latest(key), latest_first)}


def combine_features(features: List[Features], featurizers: List[Text]) -> Optional[Features]:
    """``Message._combine_features``: COO matrices of as many rows side by side, in one step."""
    matrices = [f.features for f in features]
    if len(matrices) < 2 or not all(type(m) is scipy.sparse.coo_matrix for m in matrices):
        return RASA_COMBINE_FEATURES(features, featurizers)
    rows = matrices[0].shape[0]
    if any(m.shape[0] != rows for m in matrices):
        return RASA_COMBINE_FEATURES(features, featurizers)  # Rasa's error
    # as scipy's own stacking builds it (scipy.sparse.bmat): the blocks' entries in order, columns
    # moved by the widths before them, the common value type, the index type of the joined shape
    offsets = np.append(0, np.cumsum([m.shape[1] for m in matrices]))
    shape = (rows, int(offsets[-1]))
    index_type = scipy.sparse._sputils.get_index_dtype(maxval=max(shape))
    data = np.concatenate([m.data for m in matrices]).astype(scipy.sparse._sputils.upcast(*(m.dtype for m in matrices)))
    row = np.concatenate([m.row for m in matrices]).astype(index_type)
    col = np.concatenate(
        [np.add(m.col, offset, dtype=index_type) for m, offset in zip(matrices, offsets, strict=False)]
    )
    joined = scipy.sparse.coo_matrix((data, (row, col)), shape=shape)
    first = features[0]
    return Features(joined, first.type, first.attribute, featurizers)


@lru_cache(maxsize=1)
def _empty_domain() -> Dict[Text, Any]:
    return Domain.empty().as_dict()


def domain_is_empty(self: Domain) -> bool:
    """``Domain.is_empty``, against an empty domain's dictionary built once."""
    return self.as_dict() == _empty_domain()


_DEFER_CRF = {"on": False}  # set while this project's prediction trace is being made (fix 10)


def crf_call(self: CRF, logits: tf.Tensor, sequence_lengths: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """Rasa's ``CRF.call``, except while fix 10's trace is made: then the logits and the lengths,
    decoded after the call by ``decode_entities``."""
    if _DEFER_CRF["on"]:
        return logits, tf.cast(sequence_lengths, tf.int32)
    return RASA_CRF_CALL(self, logits, sequence_lengths)


def _decodes_outside(model: RasaModel) -> bool:
    """A model whose only trained CRF is the entity type's: the one fix 10 decodes itself."""
    specs = getattr(model, "_entity_tag_specs", None)
    if not specs or not getattr(model, "config", {}).get(ENTITY_RECOGNITION):
        return False
    trained = [spec.tag_name for spec in specs if spec.num_tags > 0]
    return trained == [ENTITY_ATTRIBUTE_TYPE] and f"crf.{ENTITY_ATTRIBUTE_TYPE}" in model._tf_layers


def _largest_softmax(rows: np.ndarray) -> np.ndarray:
    """The largest softmax value of each row, from TensorFlow's softmax kernel (the one Rasa's graph
    runs; ``tf.nn.softmax`` on another axis only moves that axis last around the same kernel)."""
    return tf.raw_ops.Softmax(logits=rows).numpy().max(axis=-1)


def _forward(potentials: np.ndarray, length: int, transitions: np.ndarray) -> Tuple[List[Any], List[Any], Any]:
    """Viterbi's forward pass over a message's first ``length`` steps, summed as
    ``CrfDecodeForwardRnnCell`` sums: the back-pointers, each step's sums with the previous tag
    last (the axis its softmax runs over), and the last step's scores."""
    state = potentials[0]
    pointers, sums = [], []
    for step in range(1, length):
        scores = state[:, None] + transitions  # [previous tag, tag]
        pointers.append(scores.argmax(axis=0))
        sums.append(scores.T)
        state = potentials[step] + scores.max(axis=0)
    return pointers, sums, state


def _backward(
    pointers: List[Any], step_confidences: np.ndarray, last: np.ndarray, last_confidence: Any
) -> Tuple[List[int], List[Any]]:
    """The tags back from the best last one, and the confidences as Rasa's backward scan picks
    them: each earlier step's with the confidence it produced last as its index (the tag at first)."""
    tags, confidences = [int(last.argmax())], [last_confidence]
    previous = np.float32(tags[0])
    for step in range(len(pointers) - 1, -1, -1):
        tags.append(int(pointers[step][tags[-1]]))
        previous = step_confidences[step][int(previous)]
        confidences.append(previous)
    return tags[::-1], confidences[::-1]


def decode_entities(transitions: np.ndarray, outputs: Dict[Text, Any]) -> Dict[Text, Any]:
    """Fix 10's trace gives the entity CRF's logits and lengths; this gives what Rasa's CRF layer
    (with these transition weights) gives: the tags (int32) and confidences (float32), zero past
    each message's length."""
    ids_key, scores_key = f"e_{ENTITY_ATTRIBUTE_TYPE}_ids", f"e_{ENTITY_ATTRIBUTE_TYPE}_scores"
    logits, lengths = np.asarray(outputs[ids_key], np.float32), np.asarray(outputs[scores_key])
    batch, longest, tag_count = logits.shape
    ids, confidences = np.zeros((batch, longest), np.int32), np.zeros((batch, longest), np.float32)
    if longest == 1:  # crf_decode's single-step branch: the argmax and its softmax
        ids[:, 0] = logits[:, 0].argmax(axis=-1)
        confidences[:, 0] = _largest_softmax(logits[:, 0])
    else:
        for row in range(batch):
            length = int(lengths[row])
            if length <= 0:
                continue
            pointers, sums, last = _forward(logits[row], length, transitions)
            # the message's softmaxes in one call: a row per tag for each step, then the last scores
            largest = _largest_softmax(np.concatenate([*sums, last[None, :]]))
            step_confidences = largest[:-1].reshape(len(sums), tag_count)
            tags, row_confidences = _backward(pointers, step_confidences, last, largest[-1])
            ids[row, :length], confidences[row, :length] = tags, row_confidences
    mask = np.arange(longest)[None, :] < lengths[:, None]
    outputs[ids_key], outputs[scores_key] = ids * mask, confidences * mask
    return outputs


def _predict_trace(model: RasaModel) -> Optional[Tuple[Any, List[Any], Any, Optional[np.ndarray]]]:
    """(Rasa's prediction function, its signature flattened, the trace to call, and, when that trace
    leaves the entity CRF to ``decode_entities``, the CRF's transition weights, read once: a served
    model's weights do not change), once Rasa has made and traced its function."""
    function = model._tf_predict_step
    if function is None or not function.experimental_get_tracing_count():
        return None  # not made or not traced yet: Rasa's call makes and traces it
    kept = model.__dict__.get(_TRACE)
    if kept is None or kept[0] is not function:
        signature = tf.nest.flatten(function.input_signature, expand_composites=True)
        transitions = None
        if _decodes_outside(model):  # fix 10: a trace of its own, the CRF's decoding left out
            transitions = model._tf_layers[f"crf.{ENTITY_ATTRIBUTE_TYPE}"].transition_params.numpy()
            _DEFER_CRF["on"] = True
            try:
                concrete = tf.function(
                    model.predict_step, input_signature=function.input_signature
                ).get_concrete_function()
            finally:
                _DEFER_CRF["on"] = False
        else:
            concrete = function.get_concrete_function()
        kept = model.__dict__[_TRACE] = (function, signature, concrete, transitions)
    return kept


def _inputs_for(signature: List[Any], batch_in: Sequence[Any]) -> Optional[List[Any]]:
    """The batch as the trace's flat inputs, converted as ``tf.function`` converts them; None if
    it does not fit the signature (Rasa's call then raises its own error)."""
    if len(batch_in) != len(signature) or not all(isinstance(spec, tf.TensorSpec) for spec in signature):
        return None
    try:
        inputs = [
            tf_ops.convert_to_tensor(value, dtype_hint=spec.dtype)
            for value, spec in zip(batch_in, signature, strict=True)
        ]
    except (TypeError, ValueError):
        return None
    if not all(spec.is_compatible_with(given) for spec, given in zip(signature, inputs, strict=True)):
        return None
    return inputs


def predict_with_trace(self: RasaModel, batch_in: Tuple[np.ndarray, ...]) -> Dict[Text, Any]:
    """``RasaModel._rasa_predict``, calling the prediction's one trace directly once it exists."""
    trace = None if self._run_eagerly or not self.prepared_for_prediction else _predict_trace(self)
    inputs = None if trace is None else _inputs_for(trace[1], batch_in)
    if trace is None or inputs is None:
        return RASA_PREDICT(self, batch_in)
    self._training = False
    concrete = trace[2]
    outputs = tf_utils.sync_to_numpy_or_python_type(concrete._call_flat(inputs, concrete.captured_inputs))
    if trace[3] is not None:
        outputs = decode_entities(trace[3], outputs)
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


class _KeptSession:
    """``async with endpoint.session() as session``: the endpoint's session for the running loop,
    made on first use and left open on exit."""

    def __init__(self, endpoint: EndpointConfig) -> None:
        self._endpoint = endpoint

    async def __aenter__(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        kept = self._endpoint.__dict__.get(_SESSION)
        if kept is None or kept[0] is not loop or kept[1].closed:
            kept = self._endpoint.__dict__[_SESSION] = (loop, _new_session(self._endpoint))
        return kept[1]

    async def __aexit__(self, *_: Any) -> None:
        return None


def _new_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """Rasa's session (``EndpointConfig.session``), on a connector that drops idle connections early."""
    auth = None
    if endpoint.basic_auth:
        auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
    return aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS),
    )


def kept_session(self: EndpointConfig) -> Any:
    """``EndpointConfig.session``, kept between requests (fix 11)."""
    return _KeptSession(self)


def load_model_then_freeze(self: Agent, model_path: Any, fingerprint: Optional[Text] = None) -> None:
    """Rasa's ``Agent.load_model``, then the loaded model kept out of every later collection (fix 12)."""
    gc.unfreeze()  # a model loaded before this one becomes collectable garbage once it is replaced
    RASA_LOAD_MODEL(self, model_path, fingerprint)
    gc.collect()
    gc.freeze()


# (class, attribute, ours): fixes 1 to 12; Rasa's own are kept as the classes held them
_PATCHES = [
    (RemoteAction, "_validate_action_result", _validate_action_result),
    (Event, "resolve_by_type", staticmethod(resolve_by_type)),
    (DialogueStateTracker, "past_states", past_states),
    (RasaModel, "load", classmethod(load_for_prediction)),
    (DaskGraphRunner, "run", run_graph_in_order),
    (RulePolicy, "_get_possible_keys", get_possible_keys),
    (Message, "_combine_features", staticmethod(combine_features)),
    (Domain, "is_empty", domain_is_empty),
    (RasaModel, "_rasa_predict", predict_with_trace),
    (CRF, "call", crf_call),
    (EndpointConfig, "session", kept_session),
    (Agent, "load_model", load_model_then_freeze),
]
_RASAS = [(owner, name, owner.__dict__[name]) for owner, name, _ in _PATCHES]


def install() -> None:
    """Idempotent: the compiled-once reply validation, the event-type table, the resumed states
    replay, the load without a training step, the served graph run in order, the rule lookup, the
    feature join, the empty-domain check, the direct call of DIET's trace, the CRF decoded outside
    it, the kept session to the action server, the loaded model frozen out of the collector."""
    for owner, name, ours in _PATCHES:
        setattr(owner, name, ours)


def restore_rasa() -> None:
    """Rasa's own code for all twelve again (tests compare it with ours on the same model)."""
    for owner, name, rasas in _RASAS:
        setattr(owner, name, rasas)
