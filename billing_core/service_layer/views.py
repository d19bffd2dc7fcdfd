"""Results as JSON for programs: ONE shape of a decision and of an error, with their texts.

The command line (``--json``), the agent console and the assistant use these, so a decision reads
the same everywhere: the domain's plain values (``Decision.to_dict``) plus every reason and fix
with its text in Vietnamese and English and in the caller's language (``text``).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from billing_core.domain import errors, messages
from billing_core.domain.catalog import Catalog
from billing_core.domain.rules import Decision
from billing_core.service_layer.common import jsonable


def message_json(
    code: str, params: Optional[Mapping[str, Any]], catalog: Optional[Catalog], lang: str = "vi"
) -> Dict[str, Any]:
    """{code, params, text, message_vi, message_en} for one reason, fix, note or error."""
    params = dict(params or {})
    both = messages.render_both(code, params, catalog)
    return {"code": code, "params": jsonable(params), "text": both[f"message_{messages.normalize_lang(lang)}"], **both}


def decision_json(
    decision: Decision, catalog: Optional[Catalog], lang: str = "vi", workspace_id: Optional[str] = None
) -> Dict[str, Any]:
    """The decision for programs: allowed, outcome, effective(_at), rule_id, target, summary and the
    reasons and fixes with their texts (see ``message_json``)."""
    data = decision.to_dict()
    shown = {code: messages.render_decision(decision, code, catalog)["summary"] for code in ("vi", "en")}
    view = {
        "allowed": decision.allowed,
        "outcome": data["outcome"],
        "effective": data["effective"],
        "effective_at": data["effective_at"],
        "rule_id": decision.rule_id,
        "target": jsonable(data["target"]),
        "summary": shown[messages.normalize_lang(lang)],
        "summary_vi": shown["vi"],
        "summary_en": shown["en"],
        "reasons": [message_json(r.code, r.params, catalog, lang) for r in decision.reasons],
        "fixes": [message_json(f.code, f.params, catalog, lang) for f in decision.fixes],
    }
    return {"workspace_id": workspace_id, **view} if workspace_id is not None else view


def error_json(error: errors.BillingError, catalog: Optional[Catalog], lang: str = "vi") -> Dict[str, Any]:
    """A ``BillingError`` for programs: {code, params, text, message_vi, message_en}."""
    return message_json(error.code, error.params, catalog, lang)
