"""The texts only custom actions send (actions/responses.yml), rendered here instead of by Rasa.

Rasa's validator counts a domain response as unused unless a rule or story names it, and it
cannot see ``dispatcher.utter_message(response=...)`` in actions; so those texts live next to
the actions and ``say`` does what Rasa's NLG did for them:
- the variation conditioned on ``language: en`` for English, the unconditioned one otherwise;
- ``{placeholders}`` filled like rasa/core/nlg/interpolator.py: a placeholder without a value
  leaves that field unfilled (logged), it never raises;
- text and buttons (the variation's, then any the action adds) go to the dispatcher, with the
  text's name as ``utter_action``: the key Rasa itself put in the bot event's metadata.
"""

from __future__ import annotations

import copy
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from rasa_sdk.executor import CollectingDispatcher

logger = logging.getLogger(__name__)

RESPONSES_FILE = Path(__file__).with_name("responses.yml")
_PLACEHOLDER = re.compile(r"{([^\n{}]+?)}")


@lru_cache(maxsize=1)
def responses() -> Dict[str, List[Dict[str, Any]]]:
    """Every text by name, read once per process."""
    with RESPONSES_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def _is_language(variation: Dict[str, Any], lang: str) -> bool:
    return any(
        c.get("type") == "slot" and c.get("name") == "language" and c.get("value") == lang
        for c in variation.get("condition") or []
    )


def variation(name: str, lang: str) -> Optional[Dict[str, Any]]:
    """The variation Rasa would pick for this language: the matching condition, else the default."""
    variations = responses().get(name)
    if not variations:
        return None
    chosen = next((v for v in variations if _is_language(v, lang)), None)
    if chosen is None:
        chosen = next((v for v in variations if not v.get("condition")), None)
    return chosen


def fill(template: str, values: Dict[str, Any]) -> str:
    """Rasa's interpolate_text: every {name} from values; a missing one leaves the text as written."""
    try:
        text = _PLACEHOLDER.sub(r"{0[\1]}", template).format(values)
        if "0[" in text:  # a {{escaped}} placeholder: Rasa returns the template unescaped
            return template.format({})
        return text
    except (KeyError, IndexError, ValueError, AttributeError):
        logger.warning("text %r needs a value that was not given; sent unfilled", template[:60])
        return template


def _fill_all(value: Any, values: Dict[str, Any]) -> Any:
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, list):
        return [_fill_all(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill_all(item, values) for key, item in value.items()}
    return value


def render(name: str, lang: str, **params: Any) -> Optional[Dict[str, Any]]:
    """{"text", "buttons"} of a text in the language, or None for an unknown name."""
    chosen = variation(name, lang)
    if chosen is None:
        return None
    chosen = copy.deepcopy(chosen)
    return {"text": fill(chosen.get("text") or "", params), "buttons": _fill_all(chosen.get("buttons") or [], params)}


def say(
    dispatcher: CollectingDispatcher,
    lang: str,
    name: str,
    buttons: Optional[List[Dict[str, Any]]] = None,
    **params: Any,
) -> None:
    """Send the text ``name`` in ``lang`` (vi by default); ``buttons`` are added after its own."""
    rendered = render(name, lang, **params)
    if rendered is None:
        # Rasa sends nothing for an unknown response either; the unit tests keep this from happening.
        logger.error("no text named %s in %s", name, RESPONSES_FILE.name)
        return
    dispatcher.utter_message(
        text=rendered["text"], buttons=rendered["buttons"] + list(buttons or []), utter_action=name
    )
