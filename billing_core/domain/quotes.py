"""What a change costs: ``quote(catalog, workspace, request, now) -> Quote`` (integer VND).

Proration is day-based (the formula the README quotes)::

    remaining_days = (day(period_end) - day(now)).days      # clamped to 0..period_days
    period_days    = (day(period_end) - day(period_start)).days
    where day() is the calendar day in Vietnam (billing_core.domain.clock.vietnam_date)
    old_price      = current seats x current tier's price for the current cycle
    new_price      = target seats x target tier's price for the target cycle

    same cycle, paid plan running (the period end does not move):
        charge = new_price * remaining_days // period_days - old_price * remaining_days // period_days
    cycle change (monthly -> yearly), or coming from trial / Free / expired / nothing:
        a new period starts now and lasts one cycle (calendar months, see add_months)
        charge = new_price - old_price * remaining_days // period_days   (credit 0 if nothing was paid)

    extended capacity: packs x pack price for the cycle of the product that OWNS the kind,
        prorated to the end of that product's period (billing_core.domain.pricing); capacity
        already held is charged again (and its unused part credited) only when its owner starts
        a new period
    total_vnd = sum of the lines                # never negative: a change whose credit exceeds
                                                # its price is scheduled at the renewal instead
                                                # (decision credit_kept_change_at_renewal)

Example (Stripe's, in VND): 100.000 -> 200.000 per month on day 15 of a 30-day period costs
200.000 x 15 // 30 - 100.000 x 15 // 30 = 50.000.

A change at the next renewal (NEXT_CYCLE) is quoted as the full price of its first period (the
plan and the extended capacity it keeps), charged at the renewal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

from billing_core.domain import reasons as R
from billing_core.domain.clock import add_months, business_day
from billing_core.domain.model import Cycle, Outcome, Workspace
from billing_core.domain.pricing import (
    QuoteLine,
    charged_period,
    immediate_lines,
    next_period_end,
    remaining_and_period_days,
    renewal_lines,
)
from billing_core.domain.reasons import Reason
from billing_core.domain.rules import ChangeRequest, PlanTarget, decide

__all__ = [  # charged_period, remaining_and_period_days and add_months are re-exported for callers
    "Quote",
    "QuoteLine",
    "add_months",
    "charged_period",
    "quote",
    "remaining_and_period_days",
    "yearly_savings",
]

if TYPE_CHECKING:
    from billing_core.domain.catalog import Catalog


@dataclass
class Quote:
    target: PlanTarget
    timing: str  # "immediate" (charged now) or "next_cycle" (charged at the renewal)
    lines: List[QuoteLine]
    total_vnd: int
    period_start: datetime
    period_end: Optional[datetime]  # None for Free
    yearly_savings_vnd: int  # 12 x monthly - yearly for the target's seats (0 when yearly is not cheaper)
    notes: List[Reason] = field(default_factory=list)
    prices_are_samples: bool = True
    currency: str = "VND"

    def to_dict(self) -> Dict[str, Any]:
        return {
            "target": self.target.to_dict(),
            "timing": self.timing,
            "lines": [line.to_dict() for line in self.lines],
            "total_vnd": self.total_vnd,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "yearly_savings_vnd": self.yearly_savings_vnd,
            "notes": [note.to_dict() for note in self.notes],
            "prices_are_samples": self.prices_are_samples,
            "currency": self.currency,
        }


def yearly_savings(catalog: "Catalog", product: str, tier: str, seats: int) -> int:
    if not catalog.tiers[tier].paid or tier not in catalog.products[product].tiers:
        return 0
    monthly = catalog.seat_price(product, tier, "monthly") * seats
    yearly = catalog.seat_price(product, tier, "yearly") * seats
    return max(0, 12 * monthly - yearly)


def quote(catalog: "Catalog", workspace: Workspace, request: ChangeRequest, now: datetime) -> Quote:
    """Price the change as the rules time it (validation errors as in ``decide``)."""
    decision = decide(catalog, workspace, request, now)
    target, facts = decision.target, decision.facts
    current = workspace.subscription(target.product)
    priced = target.tier in catalog.products[target.product].tiers
    notes: List[Reason] = []
    at_renewal = decision.outcome is Outcome.NEXT_CYCLE or (
        decision.outcome is Outcome.BLOCKED and facts["direction"] == "downgrade" and facts["from_status"] == "active"
    )
    if at_renewal and current is not None and current.period_end is not None:
        timing = "next_cycle"
        start = current.period_end
        anchor = (current.billing_anchor or current.period_start) if target.cycle == current.cycle else None
        end = next_period_end(start, target.cycle.months, anchor) if target.cycle else None  # as renew() will
        if target.paid and priced:  # cast: a paid target has a cycle (resolve_target)
            lines = renewal_lines(
                catalog,
                workspace,
                target.product,
                target.tier,
                cast(Cycle, target.cycle).value,
                target.seats,
                keep_within_limit=True,
            )
        else:
            lines = [QuoteLine(R.QUOTE_PLAN_FREE, {"product": target.product, "tier": target.tier}, 0)]
        notes.append(Reason(R.QUOTE_CHARGED_AT_RENEWAL, {"renewal_date": business_day(start).isoformat()}))
        if facts.get("credit_exceeds_charge"):
            notes.append(
                Reason(
                    R.QUOTE_CREDIT_KEPT_UNTIL_RENEWAL,
                    {
                        "product": target.product,
                        "period_end_date": business_day(start).isoformat(),
                    },
                )
            )
    else:
        timing = "immediate"
        lines, start, end = immediate_lines(catalog, workspace, target, now)

    for kind, amount in target.addons.items():
        requested = target.requested_addons.get(kind, amount)
        if requested != amount:
            notes.append(
                Reason(
                    R.QUOTE_PACKS_ROUNDED_UP,
                    {
                        "kind": kind,
                        "requested": requested,
                        "amount": amount,
                        "pack_size": catalog.capacity[kind].pack_size,
                    },
                )
            )
    line_sum = sum(line.amount_vnd for line in lines)
    if line_sum < 0:  # only a refused change can get here (an allowed one keeps its credit)
        notes.append(Reason(R.QUOTE_CREDIT_CAPPED, {"credit_vnd": -line_sum}))
    savings = yearly_savings(catalog, target.product, target.tier, target.seats) if priced else 0
    if savings and target.cycle is not None and target.cycle.value == "monthly":
        notes.append(Reason(R.QUOTE_YEARLY_SAVINGS, {"savings_vnd": savings, "seats": target.seats}))
    if catalog.prices_are_samples:
        notes.append(Reason(R.QUOTE_SAMPLE_PRICES, {}))
    return Quote(
        target=target,
        timing=timing,
        lines=lines,
        total_vnd=max(0, line_sum),
        period_start=start,
        period_end=end,
        yearly_savings_vnd=savings,
        notes=notes,
        prices_are_samples=catalog.prices_are_samples,
        currency=catalog.currency,
    )
