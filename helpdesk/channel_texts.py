"""The few texts the chat channels say themselves, without Rasa or an action: the answer to an
oversized message (helpdesk/channel.py) and the acknowledgement of a message held for a person
(helpdesk/relay.py). They live in actions/responses.yml with every other text, in the shape of a
domain response (a Vietnamese default, an English variation conditioned on ``language``), and are
read here once; importing the actions package would load every action into Rasa's process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

RESPONSES_FILE = Path(__file__).resolve().parent.parent / "actions" / "responses.yml"


@lru_cache(maxsize=1)
def _responses() -> Dict[str, Any]:
    return yaml.safe_load(RESPONSES_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def texts(name: str) -> Dict[str, str]:
    """``{"vi": ..., "en": ...}`` of one response of actions/responses.yml (KeyError if it has none)."""
    found: Dict[str, str] = {}
    for variation in _responses()[name]:
        english = any(c.get("name") == "language" and c.get("value") == "en" for c in variation.get("condition") or [])
        found["en" if english else "vi"] = variation["text"]
    if "vi" not in found:
        raise KeyError(f"{name} has no Vietnamese text in {RESPONSES_FILE.name}")
    return found


def render(name: str, lang: str, **params: str) -> str:
    """The text in ``lang`` (Vietnamese when it has no such variation), ``{placeholders}`` filled."""
    text = texts(name).get(lang) or texts(name)["vi"]
    for key, value in params.items():
        text = text.replace("{" + key + "}", value)
    return text
