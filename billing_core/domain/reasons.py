"""Reason and Fix value objects, and every code the domain emits.

A ``Reason`` explains a decision (a blocking problem, or an informational note such as "applies
at the next renewal"); a ``Fix`` is one step the customer takes first. Both carry a code and
plain JSON-able params (str, int, bool, lists of str, dates as ISO strings); the text lives in
``billing_core.domain.messages``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict


@dataclass(frozen=True)
class Reason:
    code: str
    params: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


@dataclass(frozen=True)
class Fix:
    code: str
    params: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


# --- blocking reasons (catalog rule reasons) ---------------------------------------------
NO_CHANGE = "NO_CHANGE"
PAYMENT_PENDING = "PAYMENT_PENDING"
ALREADY_SCHEDULED = "ALREADY_SCHEDULED"
NO_FREE_EDITION = "NO_FREE_EDITION"
TIER_NOT_OFFERED = "TIER_NOT_OFFERED"
TRIAL_NOT_OVER = "TRIAL_NOT_OVER"
ADDON_REQUIRES_PAID_BASE = "ADDON_REQUIRES_PAID_BASE"
YEARLY_TO_MONTHLY_ON_UPGRADE = "YEARLY_TO_MONTHLY_ON_UPGRADE"
ADDON_CYCLE_LONGER_THAN_BASE = "ADDON_CYCLE_LONGER_THAN_BASE"
MIN_SEATS = "MIN_SEATS"
CAPACITY_LIMIT_EXCEEDED = "CAPACITY_LIMIT_EXCEEDED"
CAPACITY_NEEDS_UPGRADE = "CAPACITY_NEEDS_UPGRADE"
UNSUPPORTED_CHANGE = "UNSUPPORTED_CHANGE"

# --- informational reasons of allowed decisions -------------------------------------------
UPGRADE_IMMEDIATE = "UPGRADE_IMMEDIATE"
DOWNGRADE_NEXT_CYCLE = "DOWNGRADE_NEXT_CYCLE"
FREE_IMMEDIATE = "FREE_IMMEDIATE"

# --- notes (catalog rule notes, and the retention notes the domain adds) -----------------
CANCELS_SCHEDULED_CHANGE = "CANCELS_SCHEDULED_CHANGE"
REPLACES_SCHEDULED_CHANGE = "REPLACES_SCHEDULED_CHANGE"
SHOWN_AS_NEXT_RENEWAL_PLAN = "SHOWN_AS_NEXT_RENEWAL_PLAN"
PAID_PERIOD_USED_IN_FULL = "PAID_PERIOD_USED_IN_FULL"
CAPACITY_WILL_BE_REMOVED = "CAPACITY_WILL_BE_REMOVED"
FEATURE_DATA_WILL_BE_DELETED = "FEATURE_DATA_WILL_BE_DELETED"

# --- fixes ---------------------------------------------------------------------------------
FIX_CHOOSE_DIFFERENT_PLAN = "FIX_CHOOSE_DIFFERENT_PLAN"
FIX_FINISH_PENDING_PAYMENT = "FIX_FINISH_PENDING_PAYMENT"
FIX_WAIT_FOR_ORDER_EXPIRY = "FIX_WAIT_FOR_ORDER_EXPIRY"
FIX_NOTHING_TO_DO = "FIX_NOTHING_TO_DO"
FIX_CANCEL_SCHEDULED_CHANGE = "FIX_CANCEL_SCHEDULED_CHANGE"
FIX_UPGRADE_TO_PAID_TIER = "FIX_UPGRADE_TO_PAID_TIER"
FIX_CHOOSE_OFFERED_TIER = "FIX_CHOOSE_OFFERED_TIER"
FIX_WAIT_UNTIL_TRIAL_END = "FIX_WAIT_UNTIL_TRIAL_END"
FIX_BUY_PAID_PLAN = "FIX_BUY_PAID_PLAN"
FIX_BUY_PAID_BASE_FIRST = "FIX_BUY_PAID_BASE_FIRST"
FIX_END_ADDON_FIRST = "FIX_END_ADDON_FIRST"
FIX_KEEP_YEARLY = "FIX_KEEP_YEARLY"
FIX_SWITCH_BASE_CYCLE_FIRST = "FIX_SWITCH_BASE_CYCLE_FIRST"
FIX_MOVE_ADDON_CYCLE_FIRST = "FIX_MOVE_ADDON_CYCLE_FIRST"
FIX_WAIT_FOR_ADDON_CHANGE = "FIX_WAIT_FOR_ADDON_CHANGE"
FIX_SET_MIN_SEATS = "FIX_SET_MIN_SEATS"
FIX_REDUCE_CAPACITY = "FIX_REDUCE_CAPACITY"
FIX_CHOOSE_HIGHER_TIER = "FIX_CHOOSE_HIGHER_TIER"
FIX_BUY_PRODUCT_FOR_CAPACITY = "FIX_BUY_PRODUCT_FOR_CAPACITY"
FIX_BUY_CAPACITY_SEPARATELY = "FIX_BUY_CAPACITY_SEPARATELY"
FIX_CONTACT_SUPPORT = "FIX_CONTACT_SUPPORT"

# --- summaries of a decision (messages.render_decision) ------------------------------------
SUMMARY_IMMEDIATE = "SUMMARY_IMMEDIATE"
SUMMARY_IMMEDIATE_FREE = "SUMMARY_IMMEDIATE_FREE"
SUMMARY_NEXT_CYCLE = "SUMMARY_NEXT_CYCLE"
SUMMARY_BLOCKED = "SUMMARY_BLOCKED"

# --- quote lines and notes -----------------------------------------------------------------
QUOTE_PLAN = "QUOTE_PLAN"
QUOTE_PLAN_FREE = "QUOTE_PLAN_FREE"
QUOTE_PLAN_PRORATED = "QUOTE_PLAN_PRORATED"
QUOTE_PRORATION_CREDIT = "QUOTE_PRORATION_CREDIT"
QUOTE_ADDON = "QUOTE_ADDON"
QUOTE_ADDON_PRORATED = "QUOTE_ADDON_PRORATED"
QUOTE_PACKS_ROUNDED_UP = "QUOTE_PACKS_ROUNDED_UP"
QUOTE_CREDIT_CAPPED = "QUOTE_CREDIT_CAPPED"
QUOTE_SAMPLE_PRICES = "QUOTE_SAMPLE_PRICES"
QUOTE_YEARLY_SAVINGS = "QUOTE_YEARLY_SAVINGS"
QUOTE_CHARGED_AT_RENEWAL = "QUOTE_CHARGED_AT_RENEWAL"

# --- retention preview items ----------------------------------------------------------------
RETENTION_CAPACITY = "RETENTION_CAPACITY"
RETENTION_FEATURE_DATA = "RETENTION_FEATURE_DATA"


def all_codes() -> tuple:
    """Every code constant defined in this module."""
    return tuple(
        sorted(value for name, value in globals().items() if name.isupper() and isinstance(value, str))
    )
