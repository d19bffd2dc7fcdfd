"""One fix to Rasa 3.6's hot path, installed when the assistant's NLU components load.

Rasa validates every custom action's reply with ``jsonschema.validate(result, spec)``, which
checks the fixed reply schema against the JSON-Schema meta-schema and builds a new validator on
every call: about 14 ms of CPU per custom action here, the largest single cost of a personal
answer. The schema never changes, so its validator is built and checked once; every reply is
still validated against the same schema and a bad one fails with the same error as before.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

import jsonschema
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

# Rasa's own method, kept so that tests can compare the two on the same replies.
RASA_VALIDATE_ACTION_RESULT = RemoteAction.__dict__["_validate_action_result"]


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


def install() -> None:
    """Idempotent: replaces RemoteAction's reply validation with the compiled-once validator."""
    RemoteAction._validate_action_result = _validate_action_result
