"""Answers that depend on who asks: from the asker's own workspace when their token is valid,
the general rule of the help article (actions/responses.yml) plus how to get a personal answer otherwise.

Every answer is recomputed from billing_core on each turn; the workspace comes from the
verified token (or, for a support agent, from the workspace they name).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, Dict, List, Optional, Text, cast

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import billing_core as bc
from actions import billing
from actions.billing import Unavailable
from actions.context import (
    Asker,
    header,
    identity_of,
    language_of,
    latest_entities,
    latest_intent,
    latest_text,
    resolve_asker,
)
from actions.labels import as_datetime, date_text, datetime_text, word
from actions.parsing import (
    PRODUCTS,
    canonical_cycle,
    canonical_product,
    canonical_tier,
    folded_text,
    parse_change,
)
from actions.texts import say


def named_products(tracker: Tracker) -> List[str]:
    """Products the latest message names (entities first, then the folded-text parser)."""
    named = [canonical_product(v) for v in latest_entities(tracker, "product")]
    found = [p for p in named if p]
    if not found:
        parsed = parse_change(latest_text(tracker)).product
        found = [parsed] if parsed else []
    return list(dict.fromkeys(found))


def named_value(tracker: Tracker, entity: str, canonical, parsed_value: Optional[str]) -> Optional[str]:
    for value in latest_entities(tracker, entity):
        key = canonical(value)
        if key:
            return key
    return parsed_value


class PersonalAnswer(Action, ABC):
    """Template: the general rule for anonymous users, the personal answer for known ones."""

    general_response = ""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        lang = language_of(tracker)
        asker = resolve_asker(tracker, dispatcher)
        if asker.identity is None:
            self.general(dispatcher, tracker, lang)
            say(dispatcher, lang, "utter_login_for_personal")
            return []
        if not asker.workspace_id:
            say(dispatcher, lang, "utter_agent_needs_workspace")
            self.general(dispatcher, tracker, lang)
            return asker.events
        try:
            events = self.personal(dispatcher, tracker, lang, asker) or []
        except Unavailable:
            self.general(dispatcher, tracker, lang)
            events = []
        return asker.events + events

    def general(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> None:
        say(dispatcher, lang, self.general_response)

    @abstractmethod
    def personal(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str, asker: Asker
    ) -> Optional[List[Dict]]:
        """Answer from ``asker.workspace_id``; raise billing.Unavailable to fall back to the rule."""


class ActionAnswerGoFree(PersonalAnswer):
    """ "Can I go Free?": the decision for a move to Free of each product asked about (or held)."""

    general_response = "utter_go_free"

    def name(self) -> Text:
        return "action_answer_go_free"

    def personal(self, dispatcher, tracker, lang, asker):
        summary = billing.workspace_summary(dispatcher, lang, asker.workspace_id)
        products = named_products(tracker) or [s["product"] for s in summary.items] or ["digital_workspace"]
        header(dispatcher, asker)
        for product in products:
            billing.utter_decision(
                dispatcher, summary.check(dispatcher, lang, billing.change_request(product, "free")), lang
            )
        return []


class ActionAnswerBillingCycle(PersonalAnswer):
    """ "Can I pay App Builder yearly?": the decision for that cycle on the current tier."""

    general_response = "utter_billing_cycle"

    def name(self) -> Text:
        return "action_answer_billing_cycle"

    def personal(self, dispatcher, tracker, lang, asker):
        parsed = parse_change(latest_text(tracker))
        cycle = named_value(tracker, "cycle", canonical_cycle, parsed.cycle)
        summary = billing.workspace_summary(dispatcher, lang, asker.workspace_id)
        if cycle is None or asks_for_the_rule(latest_text(tracker)):
            # "monthly or yearly?", "why can't yearly go monthly?": the rule, and where they stand.
            self.general(dispatcher, tracker, lang)
            header(dispatcher, asker)
            utter_plans(dispatcher, summary, lang)
            return []
        # "Can I pay App Builder yearly?": the decision for that cycle on the current tier, for the
        # products named, else for every paid-tier product not already on that cycle.
        products = named_products(tracker) or [
            s["product"] for s in summary.items if s.get("tier") != "free" and s.get("cycle") != cycle
        ]
        header(dispatcher, asker)
        if not products:
            utter_plans(dispatcher, summary, lang)
            return []
        for product in products:
            current = summary.of(product)
            tier = named_value(tracker, "tier", canonical_tier, parsed.tier)
            if tier is None and mentions_upgrade(latest_text(tracker)):
                # "Can an upgrade switch my cycle?": the next plan up is the upgrade in question.
                tier = next_tier_up(product, (current or {}).get("tier"))
            tier = tier or (current or {}).get("tier") or "starter"
            if tier == "free":
                tier = "starter"  # a cycle only exists on a paid tier: ask about the entry paid tier
            decision = summary.check(dispatcher, lang, billing.change_request(product, tier, cycle=cycle))
            billing.utter_decision(dispatcher, decision, lang)
        return []


_UPGRADE_WORDS = ("nang cap", "nang goi", "len goi", "upgrade", "upgrading")


def mentions_upgrade(text: str) -> bool:
    padded = folded_text(text)
    return any(f" {w} " in padded for w in _UPGRADE_WORDS)


def next_tier_up(product: str, current: Optional[str]) -> Optional[str]:
    """The lowest paid tier of ``product`` above ``current`` (None at the top)."""
    catalog = billing.catalog()
    rank = catalog.tiers[current].rank if current in catalog.tiers else -1
    higher = sorted(
        (catalog.tiers[t].rank, t)
        for t in catalog.products[product].tiers
        if catalog.tiers[t].rank > rank and catalog.tiers[t].paid
    )
    return higher[0][1] if higher else None


_RULE_QUESTIONS = ("tai sao", "vi sao", "la sao", "la gi", "nghia la", "why", "what is", "what does", "what are")


def asks_for_the_rule(text: str) -> bool:
    padded = folded_text(text)
    return any(f" {q} " in padded for q in _RULE_QUESTIONS)


def trial_days_left(subscription: Dict[str, Any], now: datetime) -> Optional[int]:
    if subscription.get("trial_days_left") is not None:
        return int(subscription["trial_days_left"])
    end = as_datetime(subscription.get("period_end"))
    # The one "days left" of the business calendar (Vietnamese days), as check and show count.
    return bc.days_left(end, now)


class ActionAnswerTrial(PersonalAnswer):
    """ "How many trial days are left?" for every product of the workspace."""

    general_response = "utter_trial"

    def name(self) -> Text:
        return "action_answer_trial"

    def personal(self, dispatcher, tracker, lang, asker):
        summary = billing.workspace_summary(dispatcher, lang, asker.workspace_id)
        now = billing.utcnow()
        header(dispatcher, asker)
        wanted = named_products(tracker)
        shown = 0
        for sub in summary.items:
            if wanted and sub.get("product") not in wanted:
                continue
            name = billing.product_name(sub["product"], lang)
            days = trial_days_left(sub, now) if sub.get("status") == "trial" else None
            end = as_datetime(sub.get("period_end"))
            if days == 0 and end is not None and end > now:
                # Never "0 days left" on the last day: say it ends today, and when.
                ends = bc.format_datetime(end, lang)
                say(dispatcher, lang, "utter_trial_last_day", product=name, time=ends)
            elif sub.get("status") == "trial":
                say(
                    dispatcher,
                    lang,
                    "utter_trial_days_left",
                    product=name,
                    days=days,
                    date=date_text(sub.get("period_end"), lang),
                )
            else:
                say(
                    dispatcher,
                    lang,
                    "utter_trial_not_running",
                    product=name,
                    status=word(sub.get("status"), lang),
                    tier=billing.tier_name(sub.get("tier", ""), lang),
                )
            shown += 1
        if not shown:
            say(dispatcher, lang, "utter_no_subscription", workspace=asker.workspace_id)
        say(dispatcher, lang, "utter_trial_after")
        return []


class ActionAnswerNextRenewal(PersonalAnswer):
    """ "What is my next renewal plan?": scheduled changes, else how each plan renews."""

    general_response = "utter_next_renewal"

    def name(self) -> Text:
        return "action_answer_next_renewal"

    def personal(self, dispatcher, tracker, lang, asker):
        summary = billing.workspace_summary(dispatcher, lang, asker.workspace_id)
        header(dispatcher, asker)
        scheduled = {c.get("product"): c for c in summary.scheduled}
        for sub in summary.items:
            product = cast(str, sub.get("product"))  # every subscription of a summary names its product
            name = billing.product_name(product, lang)
            change = scheduled.get(product)
            if change:
                say(
                    dispatcher,
                    lang,
                    "utter_next_renewal_scheduled",
                    product=name,
                    tier=billing.tier_name(change.get("tier", ""), lang),
                    cycle=word(change.get("cycle"), lang),
                    seats=change.get("seats"),
                    date=date_text(change.get("effective_at"), lang),
                )
            elif sub.get("status") == "active":
                say(
                    dispatcher,
                    lang,
                    "utter_next_renewal_same",
                    product=name,
                    tier=billing.tier_name(sub.get("tier", ""), lang),
                    cycle=word(sub.get("cycle"), lang),
                    date=date_text(sub.get("period_end"), lang),
                    renewal=word(sub.get("renewal_mode"), lang),
                )
            else:
                say(
                    dispatcher,
                    lang,
                    "utter_next_renewal_unpaid",
                    product=name,
                    status=word(sub.get("status"), lang),
                    tier=billing.tier_name(sub.get("tier", ""), lang),
                )
        return []


def utter_plans(dispatcher: CollectingDispatcher, summary: "billing.Subscriptions", lang: str) -> None:
    for sub in summary.items:
        say(
            dispatcher,
            lang,
            "utter_plan_item",
            product=billing.product_name(sub.get("product", ""), lang),
            tier=billing.tier_name(sub.get("tier", ""), lang),
            status=word(sub.get("status"), lang),
            cycle=word(sub.get("cycle"), lang),
            seats=sub.get("seats"),
            date=date_text(sub.get("period_end"), lang),
        )
    if not summary.items:
        say(dispatcher, lang, "utter_no_subscription", workspace=summary.summary.get("workspace_id", ""))


class ActionAnswerMyPlan(PersonalAnswer):
    general_response = "utter_my_plan"

    def name(self) -> Text:
        return "action_answer_my_plan"

    def personal(self, dispatcher, tracker, lang, asker):
        summary = billing.workspace_summary(dispatcher, lang, asker.workspace_id)
        header(dispatcher, asker)
        utter_plans(dispatcher, summary, lang)
        return []


class ActionAnswerDataRetention(PersonalAnswer):
    """ "What will be deleted if I downgrade, and when?": the decision's notes for a named
    target, else the workspace's retention preview (scheduled downgrades, pending deletions)."""

    general_response = "utter_data_retention"

    def name(self) -> Text:
        return "action_answer_data_retention"

    def personal(self, dispatcher, tracker, lang, asker):
        parsed = parse_change(latest_text(tracker))
        products = named_products(tracker)
        tier = named_value(tracker, "tier", canonical_tier, parsed.tier)
        workspace = billing.workspace_summary(dispatcher, lang, asker.workspace_id)
        if products and tier:
            header(dispatcher, asker)
            for product in products:
                decision = workspace.check(dispatcher, lang, billing.change_request(product, tier))
                billing.utter_decision(dispatcher, decision, lang)
            return []
        items = workspace.retention(dispatcher, lang)
        header(dispatcher, asker)
        if not items:
            say(dispatcher, lang, "utter_retention_nothing")
            self.general(dispatcher, tracker, lang)
            return []
        lines = [billing.render_retention_item(item, lang) for item in items]
        say(dispatcher, lang, "utter_retention_items", lines=billing.bullet_list(lines))
        return []


class ActionAnswerPaymentStatus(PersonalAnswer):
    """ "Did my payment go through?": the latest order's state, a failure's code in words."""

    general_response = "utter_payment_status_general"

    def name(self) -> Text:
        return "action_answer_payment_status"

    def personal(self, dispatcher, tracker, lang, asker):
        orders = billing.call(dispatcher, lang, bc.latest_orders, billing.unit_of_work(), asker.workspace_id, limit=1)
        if not orders:
            say(dispatcher, lang, "utter_no_orders", workspace=asker.workspace_id)
            return []
        order = orders[0]
        status = order.status.value
        common: Dict[str, Any] = {"txn_ref": order.txn_ref, "amount": billing.format_vnd(order.amount_vnd, lang)}
        if status == "paid":
            plan = f"{billing.product_name(order.product, lang)} {billing.tier_name(order.tier, lang)}"
            say(dispatcher, lang, "utter_order_paid", paid_at=datetime_text(order.paid_at, lang), plan=plan, **common)
        elif status == "failed":
            reason = bc.response_code_text(order.response_code, lang)
            say(dispatcher, lang, "utter_order_failed", reason=reason, **common)
        elif status == "pending" and as_datetime(order.expires_at) > billing.utcnow():
            say(dispatcher, lang, "utter_order_pending", expires_at=datetime_text(order.expires_at, lang), **common)
        else:
            say(dispatcher, lang, "utter_order_expired", **common)
        return []


class ActionCancelDowngrade(PersonalAnswer):
    """Shows the scheduled downgrade and asks to confirm its cancellation (nothing written yet)."""

    general_response = "utter_cancel_downgrade_general"

    def name(self) -> Text:
        return "action_cancel_downgrade"

    def personal(self, dispatcher, tracker, lang, asker):
        if not asker.is_customer:
            say(dispatcher, lang, "utter_agent_no_changes")
            return []
        summary = billing.workspace_summary(dispatcher, lang, asker.workspace_id)
        wanted = named_products(tracker)
        changes = [c for c in summary.scheduled if not wanted or c.get("product") in wanted]
        if not changes:
            say(dispatcher, lang, "utter_cancel_downgrade_none", workspace=asker.workspace_id)
            return [SlotSet("pending_cancel_product", None)]
        change = changes[0]
        say(
            dispatcher,
            lang,
            "utter_cancel_downgrade_confirm",
            product=billing.product_name(change["product"], lang),
            tier=billing.tier_name(change.get("tier", ""), lang),
            date=date_text(change.get("effective_at"), lang),
        )
        return [SlotSet("pending_cancel_product", change["product"])]


class ActionConfirmCancelDowngrade(Action):
    """The yes/no after ActionCancelDowngrade; only a "yes" from the same verified customer writes."""

    def name(self) -> Text:
        return "action_confirm_cancel_downgrade"

    async def run(self, dispatcher, tracker, domain):
        lang = language_of(tracker)
        product = tracker.get_slot("pending_cancel_product")
        clear = [SlotSet("pending_cancel_product", None)]
        if not product:
            if latest_intent(tracker) == "cancel_downgrade":  # asked again: answered again
                return await ActionCancelDowngrade().run(dispatcher, tracker, domain)
            dispatcher.utter_message(response="utter_anything_else")
            return clear
        if latest_intent(tracker) not in ("affirm", "cancel_downgrade"):  # "ừ, hủy đi" is a yes
            say(dispatcher, lang, "utter_cancel_downgrade_kept")
            return clear
        identity = identity_of(tracker)
        if identity is None or not identity.is_customer:
            say(dispatcher, lang, "utter_login_for_personal")
            return clear
        try:
            billing.call(
                dispatcher,
                lang,
                bc.cancel_scheduled_change,
                billing.unit_of_work(),
                identity.workspace_id,
                product,
                actor=f"assistant:{identity.sub}",
            )
        except Unavailable:
            return clear
        say(dispatcher, lang, "utter_cancel_downgrade_done", product=billing.product_name(product, lang))
        return clear


__all__ = [name for name in dir() if name.startswith("Action")] + ["PRODUCTS"]
