"""The one place where actions call billing_core, and where its failures become polite replies.

Actions stay thin: they turn a tracker into a ``ChangeRequest`` (or a workspace id), call a
``billing_core`` use case here, and hand the rendered texts (``billing_core.domain.messages``) to a
text of actions/responses.yml (``actions.texts.say``). A ``BillingError`` becomes its own
message in the user's language; anything else (database down, a bug) is logged and answered
with ``utter_personal_unavailable``; the conversation never crashes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Optional, TypeVar

from rasa_sdk.executor import CollectingDispatcher

import billing_core as bc
from actions import texts
from actions.texts import say
from billing_core import (  # noqa: F401  (actions call billing.utcnow())
    BillingError,
    ChangeRequest,
    SqlAlchemyUnitOfWork,
    load_catalog,
    utcnow,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Unavailable(Exception):
    """billing_core could not answer: the user has already been told, the caller falls back."""


def unit_of_work():
    return SqlAlchemyUnitOfWork()


def catalog():
    return load_catalog()


def call(dispatcher: CollectingDispatcher, lang: str, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a billing_core use case; on failure tell the user and raise ``Unavailable``."""

    try:
        return use_case(*args, **kwargs)
    except BillingError as error:
        try:
            message = bc.render_error(error, lang, catalog())
        except Exception:  # a rendering bug must not turn a clear refusal into a crash
            logger.exception("could not render %s", getattr(error, "code", error))
            message = None
        if message:
            say(dispatcher, lang, "utter_billing_error", message=message)
        else:
            say(dispatcher, lang, "utter_personal_unavailable")
        raise Unavailable() from error
    except Exception as error:  # database unreachable, unexpected bug: log it, answer politely
        logger.exception("billing_core call %s failed", getattr(use_case, "__name__", use_case))
        say(dispatcher, lang, "utter_personal_unavailable")
        raise Unavailable() from error


def change_request(
    product: str,
    tier: str,
    cycle: Optional[str] = None,
    seats: Optional[int] = None,
    addons: Optional[Dict[str, int]] = None,
):

    return ChangeRequest(product=product, tier=tier, cycle=cycle, seats=seats, addons=dict(addons or {}))


# --- rendering (the words come from billing_core.domain.messages) --------------------------------


def bullet_list(items: Iterable[str]) -> str:
    return "\n".join(f"• {item}" for item in items if item)


def numbered_list(items: Iterable[str]) -> str:
    return "\n".join(f"{n}. {item}" for n, item in enumerate((i for i in items if i), start=1))


def _as_list(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    # render_decision gives reasons as {"code", "message"} and fixes as plain strings.
    return [str(v.get("message") or "") if isinstance(v, dict) else str(v) for v in value if v]


def render_decision(decision, lang: str) -> Dict[str, Any]:
    rendered = bc.render_decision(decision, lang, catalog())
    return {
        "summary": rendered.get("summary") or "",
        "reasons": _as_list(rendered.get("reasons")),
        "fixes": _as_list(rendered.get("fixes")),
    }


# A fix of billing_core's decision -> the button that starts it: (title text, payload template).
# The payload names the intent that starts the flow and the entities it needs, so a click goes
# straight to the checkout, the cancellation, the trial answer...; {placeholders} come from the
# fix's params. Fixes without a flow to start (wait, reduce the amount) get no button.
FIX_BUTTONS: Dict[str, tuple] = {
    "FIX_CANCEL_SCHEDULED_CHANGE": ("utter_button_cancel_downgrade", '/cancel_downgrade{{"product":"{product}"}}'),
    "FIX_UPGRADE_TO_PAID_TIER": ("utter_button_buy_plan", '/buy_upgrade{{"product":"{product}"}}'),
    "FIX_BUY_PAID_PLAN": ("utter_button_buy_plan", '/buy_upgrade{{"product":"{product}"}}'),
    "FIX_CHOOSE_HIGHER_TIER": ("utter_button_buy_plan", '/buy_upgrade{{"product":"{product}"}}'),
    "FIX_BUY_PRODUCT_FOR_CAPACITY": ("utter_button_buy_plan", '/buy_upgrade{{"product":"{product}"}}'),
    "FIX_BUY_PAID_BASE_FIRST": ("utter_button_buy_base", '/buy_upgrade{{"product":"{base}"}}'),
    "FIX_SWITCH_BASE_CYCLE_FIRST": (
        "utter_button_switch_base_cycle",
        '/buy_upgrade{{"product":"{base}","cycle":"{cycle}"}}',
    ),
    "FIX_MOVE_ADDON_CYCLE_FIRST": (
        "utter_button_switch_addon_cycle",
        '/buy_upgrade{{"product":"{addon}","cycle":"{cycle}"}}',
    ),
    "FIX_KEEP_YEARLY": ("utter_button_keep_yearly", '/buy_upgrade{{"product":"{product}","cycle":"yearly"}}'),
    "FIX_BUY_CAPACITY_SEPARATELY": ("utter_button_buy_capacity", '/buy_upgrade{{"product":"{product}"}}'),
    "FIX_FINISH_PENDING_PAYMENT": ("utter_button_payment_status", "/ask_payment_status"),
    "FIX_WAIT_UNTIL_TRIAL_END": ("utter_button_trial", "/ask_trial"),
    "FIX_NOTHING_TO_DO": ("utter_button_next_renewal", "/ask_next_renewal"),
    "FIX_END_ADDON_FIRST": ("utter_button_human", "/request_human"),
    "FIX_WAIT_FOR_ADDON_CHANGE": ("utter_button_next_renewal", "/ask_next_renewal"),
    "FIX_CONTACT_SUPPORT": ("utter_button_human", "/request_human"),
}


def fix_buttons(decision, lang: str) -> List[Dict[str, str]]:
    """One button per fix that a flow of the assistant can start (same payload once)."""
    buttons: List[Dict[str, str]] = []
    for fix in getattr(decision, "fixes", None) or []:
        spec = FIX_BUTTONS.get(fix.code)
        if spec is None:
            continue
        title_text, payload = spec
        try:
            payload = payload.format(**{k: v for k, v in dict(fix.params).items() if isinstance(v, (str, int))})
        except (KeyError, IndexError):
            continue  # a fix without the param its button needs: the text still says what to do
        title = (
            texts.render(title_text, lang, **{k: _param_text(k, v, lang) for k, v in dict(fix.params).items()}) or {}
        ).get("text")
        if title and all(b["payload"] != payload for b in buttons):
            buttons.append({"title": title, "payload": payload})
    return buttons


def _param_text(name: str, value: Any, lang: str) -> str:
    if name in ("product", "base", "addon") and isinstance(value, str):
        return product_name(value, lang)
    if name == "cycle" and isinstance(value, str):
        return bc.label("cycle", value, lang)
    return str(value)


def utter_decision(dispatcher: CollectingDispatcher, decision, lang: str) -> None:
    """Summary, then why (or the details of an allowed change), then the fixes as steps, each
    fix that a flow can start also as a button that starts it."""
    texts_ = render_decision(decision, lang)
    if texts_["summary"]:
        say(dispatcher, lang, "utter_decision_summary", summary=texts_["summary"])
    if texts_["reasons"]:
        response = "utter_decision_notes" if decision.allowed else "utter_decision_reasons"
        say(dispatcher, lang, response, reasons=bullet_list(texts_["reasons"]))
    if texts_["fixes"]:
        say(
            dispatcher,
            lang,
            "utter_decision_fixes",
            fixes=numbered_list(texts_["fixes"]),
            buttons=fix_buttons(decision, lang),
        )


def render(code: str, params: Dict[str, Any], lang: str) -> str:
    return bc.render(code, params, lang, catalog())


def product_name(product: str, lang: str) -> str:
    try:
        return catalog().product_name(product, lang)
    except Exception:
        return product


def tier_name(tier: str, lang: str) -> str:
    try:
        return catalog().tier_name(tier, lang)
    except Exception:
        return tier


def format_vnd(amount: int, lang: str = "vi") -> str:
    return bc.format_vnd(int(amount), lang)


@dataclass
class Subscriptions:
    """What a workspace has (bc.workspace_view's summary, JSON-ready), and the decisions and the
    retention preview on the same read of it (one unit of work for a whole answer)."""

    view: Any  # bc.WorkspaceView

    @property
    def summary(self) -> Dict[str, Any]:
        return self.view.summary

    def check(self, dispatcher: CollectingDispatcher, lang: str, request: Any) -> Any:
        """bc.check_change on this read; ``Unavailable`` after telling the user when it is refused."""
        return call(dispatcher, lang, self.view.check, request)

    def retention(self, dispatcher: CollectingDispatcher, lang: str) -> List[Any]:
        return call(dispatcher, lang, self.view.retention)

    @property
    def items(self) -> List[Dict[str, Any]]:
        return list(self.summary.get("subscriptions") or [])

    def of(self, product: str) -> Optional[Dict[str, Any]]:
        return next((s for s in self.items if s.get("product") == product), None)

    @property
    def scheduled(self) -> List[Dict[str, Any]]:
        """Downgrades waiting for the next renewal ("Gói gia hạn tiếp theo"), with their product."""
        return [
            dict(s.get("next_renewal_plan") or {}, product=s.get("product"))
            for s in self.items
            if s.get("downgrade_scheduled") and s.get("next_renewal_plan")
        ]


def workspace_summary(
    dispatcher: CollectingDispatcher, lang: str, workspace_id: str, now: Optional[datetime] = None
) -> Subscriptions:
    """The workspace's summary; ``Unavailable`` after telling the user it does not exist."""

    view = call(dispatcher, lang, bc.workspace_view, unit_of_work(), workspace_id, now=now)
    if not view.summary:
        say(dispatcher, lang, "utter_workspace_not_found", workspace=workspace_id)
        raise Unavailable()
    return Subscriptions(view)


def render_quote(quote, lang: str) -> Dict[str, str]:
    """{"lines", "notes", "total"} of a quote; every line's words come from billing_core.domain.messages."""

    lines = []
    for line in quote.lines:
        text = render(line.code, dict(line.params), lang)
        amount = format_vnd(abs(line.amount_vnd), lang)
        lines.append(f"{text}: {'−' if line.amount_vnd < 0 else ''}{amount}")
    notes = [render(note.code, dict(note.params), lang) for note in getattr(quote, "notes", []) or []]
    return {"lines": bullet_list(lines), "notes": bullet_list(notes), "total": format_vnd(quote.total_vnd, lang)}


def render_retention_item(item, lang: str) -> str:
    """One line of the retention preview ("RETENTION_CAPACITY" / "RETENTION_FEATURE_DATA")."""
    kind = item.kind.value
    if kind == "capacity":
        return render("RETENTION_CAPACITY", {"kind": item.target, "amount": item.amount, "due_date": item.due_at}, lang)
    return render("RETENTION_FEATURE_DATA", {"feature": item.target, "due_date": item.due_at}, lang)
