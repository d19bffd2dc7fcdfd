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

    extended capacity: packs x pack price for the cycle, prorated like new_price in the first case
    total_vnd = max(0, sum of the lines)        # an unused credit is never paid out

Example (Stripe's, in VND): 100.000 -> 200.000 per month on day 15 of a 30-day period costs
200.000 x 15 // 30 - 100.000 x 15 // 30 = 50.000.

A downgrade (NEXT_CYCLE) is quoted as the full price of its first period, charged at renewal.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from billing_core.domain.clock import vietnam_date
from billing_core.domain import reasons as R
from billing_core.domain.model import Status, Subscription, Workspace
from billing_core.domain.reasons import Reason
from billing_core.domain.rules import ChangeRequest, PlanTarget, derive_facts, resolve_target

if TYPE_CHECKING:
    from billing_core.domain.catalog import Catalog


def add_months(value: datetime, months: int) -> datetime:
    """``value`` plus whole calendar months ("Tháng = tròn 1 tháng"); the day is clamped to the
    month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class QuoteLine:
    code: str  # rendered by billing_core.domain.messages
    params: Dict[str, Any]
    amount_vnd: int  # negative for a credit

    def to_dict(self) -> Dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "amount_vnd": self.amount_vnd}


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


def _paid_period(current: Optional[Subscription], now: datetime) -> Optional[Tuple[datetime, datetime]]:
    """The running paid period, if any (a period that already ended leaves nothing to credit)."""
    if (
        current is None or current.status is not Status.ACTIVE or current.cycle is None
        or current.period_end is None or current.period_start is None or current.period_end <= now
    ):
        return None
    return current.period_start, current.period_end


def remaining_and_period_days(current: Subscription, now: datetime) -> Tuple[int, int]:
    period_days = (vietnam_date(current.period_end) - vietnam_date(current.period_start)).days
    if period_days <= 0:
        return 0, 1
    remaining = (vietnam_date(current.period_end) - vietnam_date(now)).days
    return max(0, min(remaining, period_days)), period_days


def charged_period(current: Optional[Subscription], target: PlanTarget, now: datetime) -> Tuple[datetime, Optional[datetime], bool]:
    """(start, end, same_period) of what an IMMEDIATE change charges; changes.apply uses it too."""
    if not target.paid:
        return now, None, False
    if _paid_period(current, now) is not None and current.cycle == target.cycle:
        return now, current.period_end, True
    return now, add_months(now, target.cycle.months), False


def yearly_savings(catalog: "Catalog", product: str, tier: str, seats: int) -> int:
    if not catalog.tiers[tier].paid or tier not in catalog.products[product].tiers:
        return 0
    monthly = catalog.seat_price(product, tier, "monthly") * seats
    yearly = catalog.seat_price(product, tier, "yearly") * seats
    return max(0, 12 * monthly - yearly)


def quote(catalog: "Catalog", workspace: Workspace, request: ChangeRequest, now: datetime) -> Quote:
    """Price the change as the rules would time it (validation errors as in ``decide``)."""
    target = resolve_target(catalog, workspace, request)
    facts = derive_facts(catalog, workspace, target, now).facts
    current = workspace.subscription(target.product)
    priced = target.tier in catalog.products[target.product].tiers
    cycle = target.cycle.value if target.cycle else None
    unit_price = catalog.seat_price(target.product, target.tier, cycle) if (priced and cycle) else 0
    new_price = unit_price * target.seats
    plan_params = {
        "product": target.product, "tier": target.tier, "cycle": cycle or "none", "seats": target.seats,
        "unit_price_vnd": unit_price,
    }
    lines: List[QuoteLine] = []
    notes: List[Reason] = []

    if facts["direction"] == "downgrade" and facts["from_status"] == "active":
        timing = "next_cycle"
        start = current.period_end or now
        end = add_months(start, target.cycle.months) if target.cycle else None
        lines.append(_plan_line(target, plan_params, new_price))
        lines += [
            QuoteLine(R.QUOTE_ADDON, _addon_params(catalog, kind, amount, cycle), _pack_total(catalog, kind, amount, cycle))
            for kind, amount in target.addons.items()
            if cycle
        ]
        notes.append(Reason(R.QUOTE_CHARGED_AT_RENEWAL, {"renewal_date": vietnam_date(start).isoformat()}))
    else:
        timing = "immediate"
        start, end, same_period = charged_period(current, target, now)
        paid = _paid_period(current, now)
        remaining = period_days = 0
        old_price = 0
        if paid is not None:
            remaining, period_days = remaining_and_period_days(current, now)
            old_price = catalog.seat_price(current.product, current.tier, current.cycle.value) * current.seats
        if same_period:
            lines.append(
                QuoteLine(
                    R.QUOTE_PLAN_PRORATED,
                    {**plan_params, "days": remaining, "period_days": period_days, "full_price_vnd": new_price},
                    new_price * remaining // period_days,
                )
            )
        else:
            lines.append(_plan_line(target, plan_params, new_price))
        credit = old_price * remaining // period_days if paid is not None else 0
        if credit:
            lines.append(
                QuoteLine(
                    R.QUOTE_PRORATION_CREDIT,
                    {"product": current.product, "tier": current.tier, "days": remaining, "period_days": period_days},
                    -credit,
                )
            )
        for kind, amount in target.addons.items():
            if not cycle:
                continue
            full = _pack_total(catalog, kind, amount, cycle)
            params = _addon_params(catalog, kind, amount, cycle)
            if same_period:
                lines.append(
                    QuoteLine(R.QUOTE_ADDON_PRORATED, {**params, "days": remaining, "period_days": period_days},
                              full * remaining // period_days)
                )
            else:
                lines.append(QuoteLine(R.QUOTE_ADDON, params, full))

    for kind, amount in target.addons.items():
        requested = target.requested_addons.get(kind, amount)
        if requested != amount:
            notes.append(
                Reason(
                    R.QUOTE_PACKS_ROUNDED_UP,
                    {"kind": kind, "requested": requested, "amount": amount, "pack_size": catalog.capacity[kind].pack_size},
                )
            )
    line_sum = sum(line.amount_vnd for line in lines)
    if line_sum < 0:
        notes.append(Reason(R.QUOTE_CREDIT_CAPPED, {"credit_vnd": -line_sum}))
    savings = yearly_savings(catalog, target.product, target.tier, target.seats) if priced else 0
    if savings and target.cycle is not None and target.cycle.value == "monthly":
        notes.append(Reason(R.QUOTE_YEARLY_SAVINGS, {"savings_vnd": savings, "seats": target.seats}))
    if catalog.prices_are_samples:
        notes.append(Reason(R.QUOTE_SAMPLE_PRICES, {}))
    return Quote(
        target=target, timing=timing, lines=lines, total_vnd=max(0, line_sum), period_start=start,
        period_end=end, yearly_savings_vnd=savings, notes=notes, prices_are_samples=catalog.prices_are_samples,
        currency=catalog.currency,
    )


def _plan_line(target: PlanTarget, plan_params: Dict[str, Any], price: int) -> QuoteLine:
    if not target.paid:
        return QuoteLine(R.QUOTE_PLAN_FREE, {"product": target.product, "tier": target.tier}, 0)
    return QuoteLine(R.QUOTE_PLAN, plan_params, price)


def _pack_total(catalog: "Catalog", kind: str, amount: int, cycle: str) -> int:
    capacity = catalog.capacity[kind]
    return (amount // capacity.pack_size) * capacity.pack_prices[cycle]


def _addon_params(catalog: "Catalog", kind: str, amount: int, cycle: str) -> Dict[str, Any]:
    capacity = catalog.capacity[kind]
    return {
        "kind": kind, "amount": amount, "packs": amount // capacity.pack_size, "pack_size": capacity.pack_size,
        "pack_price_vnd": capacity.pack_prices[cycle], "cycle": cycle,
    }
