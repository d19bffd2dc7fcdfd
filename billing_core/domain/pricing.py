"""The money of a change, line by line (integer VND): the one place quotes, rules and renewals price.

* ``immediate_lines`` - what an IMMEDIATE change charges now: the plan (prorated in the running
  period, or a new period), the credit for the unused part of what was paid, the extended
  capacity bought now, and the capacity already held when its owner product starts a new period.
* ``renewal_lines`` - what the next period of a plan costs: seats plus the capacity the product owns.

Extended capacity is priced and renewed on the cycle of the product that OWNS it
(``capacity.<kind>.product``), never on the cycle of the plan it happens to be bought with: a
pack bought with Digital Workspace for Operations Workflow's automation runs is prorated to the
end of Operations Workflow's period, at its price for Operations Workflow's cycle, and renewed
with Operations Workflow. So every pack is paid exactly once for every day it is held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, cast

from billing_core.domain import reasons as R
from billing_core.domain.clock import add_months, anchor_day_of, business_day
from billing_core.domain.model import Cycle, Status, Subscription, Workspace

if TYPE_CHECKING:
    from billing_core.domain.catalog import Catalog
    from billing_core.domain.rules import PlanTarget


@dataclass(frozen=True)
class QuoteLine:
    code: str  # rendered by billing_core.domain.messages
    params: Dict[str, Any]
    amount_vnd: int  # negative for a credit

    def to_dict(self) -> Dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "amount_vnd": self.amount_vnd}


def paid_period(current: Optional[Subscription], now: datetime) -> Optional[Tuple[datetime, datetime]]:
    """The running paid period, if any (a period that already ended leaves nothing to credit)."""
    if (
        current is None
        or current.status is not Status.ACTIVE
        or current.cycle is None
        or current.period_end is None
        or current.period_start is None
        or current.period_end <= now
    ):
        return None
    return current.period_start, current.period_end


def remaining_and_period_days(current: Subscription, now: datetime) -> Tuple[int, int]:
    """(days left, days of the period), both in Vietnamese calendar days."""
    period_end = cast(datetime, current.period_end)  # callers pass a plan in its paid period (paid_period())
    period_days = (business_day(period_end) - business_day(current.period_start)).days
    if period_days <= 0:
        return 0, 1
    remaining = (business_day(period_end) - business_day(now)).days
    return max(0, min(remaining, period_days)), period_days


def next_period_end(start: datetime, months: int, anchor: Optional[datetime] = None) -> datetime:
    """The end of a period of ``months`` starting at ``start``, keeping the anchor's day."""
    return add_months(start, months, anchor_day_of(anchor) if anchor is not None else None)


def charged_period(
    current: Optional[Subscription], target: "PlanTarget", now: datetime
) -> Tuple[datetime, Optional[datetime], bool]:
    """(start, end, same_period) of what an IMMEDIATE change charges; changes.apply uses it too."""
    if not target.paid:
        return now, None, False
    if current is not None and paid_period(current, now) is not None and current.cycle == target.cycle:
        return now, current.period_end, True
    # cast: a paid target always has a cycle (resolve_target)
    return now, next_period_end(now, cast(Cycle, target.cycle).months), False


def pack_total(catalog: "Catalog", kind: str, amount: int, cycle: str) -> int:
    capacity = catalog.capacity[kind]
    return (amount // capacity.pack_size) * capacity.pack_prices[cycle]


def addon_params(catalog: "Catalog", kind: str, amount: int, cycle: str) -> Dict[str, Any]:
    capacity = catalog.capacity[kind]
    return {
        "kind": kind,
        "amount": amount,
        "packs": amount // capacity.pack_size,
        "pack_size": capacity.pack_size,
        "pack_price_vnd": capacity.pack_prices[cycle],
        "cycle": cycle,
        "product": capacity.product,
    }


def _iso(moment: Optional[datetime]) -> Optional[str]:
    return business_day(moment).isoformat() if moment is not None else None


def immediate_lines(
    catalog: "Catalog", workspace: Workspace, target: "PlanTarget", now: datetime
) -> Tuple[List[QuoteLine], datetime, Optional[datetime]]:
    """The lines of an IMMEDIATE change, and the period it starts (or keeps)."""
    current = workspace.subscription(target.product)
    start, end, same_period = charged_period(current, target, now)
    paid = paid_period(current, now)
    cycle = target.cycle.value if target.cycle else None
    priced = target.tier in catalog.products[target.product].tiers
    unit_price = catalog.seat_price(target.product, target.tier, cycle) if (priced and cycle) else 0
    new_price = unit_price * target.seats
    lines: List[QuoteLine] = []
    remaining = period_days = 0
    if paid is not None and current is not None:  # paid_period() is None without a plan
        remaining, period_days = remaining_and_period_days(current, now)
    plan_unchanged = (
        same_period and current is not None and (current.tier, current.seats) == (target.tier, target.seats)
    )

    if not plan_unchanged:  # capacity bought on its own shows no plan line and no equal credit
        plan_params = {
            "product": target.product,
            "tier": target.tier,
            "cycle": cycle or "none",
            "seats": target.seats,
            "unit_price_vnd": unit_price,
        }
        if not target.paid:
            lines.append(QuoteLine(R.QUOTE_PLAN_FREE, {"product": target.product, "tier": target.tier}, 0))
        elif same_period:
            lines.append(
                QuoteLine(
                    R.QUOTE_PLAN_PRORATED,
                    {**plan_params, "days": remaining, "period_days": period_days, "full_price_vnd": new_price},
                    new_price * remaining // period_days,
                )
            )
        else:
            lines.append(QuoteLine(R.QUOTE_PLAN, plan_params, new_price))
        if paid is not None and current is not None and current.cycle is not None:  # as paid_period() checked
            old_price = catalog.seat_price(current.product, current.tier, current.cycle.value) * current.seats
            credit = old_price * remaining // period_days
            if credit:
                lines.append(
                    QuoteLine(
                        R.QUOTE_PRORATION_CREDIT,
                        {
                            "product": current.product,
                            "tier": current.tier,
                            "days": remaining,
                            "period_days": period_days,
                        },
                        -credit,
                    )
                )

    # Capacity already held, when its owner (this product) starts a new paid period now: the new
    # period is charged in full, the unused part of the old one is credited. Only what the plan
    # keeps is charged (an excess waiting for the retention job is not paid for).
    if target.paid and not same_period and cycle is not None:  # a paid target has a cycle (resolve_target)
        for kind in catalog.capacity.values():
            if kind.product != target.product:
                continue
            held = kept_amount(catalog, workspace, kind.key, target.tier)
            if held > 0:
                lines.append(
                    QuoteLine(
                        R.QUOTE_ADDON_NEW_PERIOD,
                        {**addon_params(catalog, kind.key, held, cycle), "until_date": _iso(end)},
                        pack_total(catalog, kind.key, held, cycle),
                    )
                )
            if paid is None or current is None or current.cycle is None:  # as paid_period() checked
                continue
            paid_for = kept_amount(catalog, workspace, kind.key, current.tier)
            old = (
                pack_total(catalog, kind.key, paid_for, current.cycle.value) * remaining // period_days
                if paid_for
                else 0
            )
            if old:
                lines.append(
                    QuoteLine(
                        R.QUOTE_ADDON_CREDIT,
                        {
                            "kind": kind.key,
                            "amount": paid_for,
                            "days": remaining,
                            "period_days": period_days,
                            "until_date": _iso(current.period_end),
                        },
                        -old,
                    )
                )

    # Capacity bought now, on its owner's cycle and up to its owner's period end.
    for kind_key, amount in target.addons.items():
        owner = catalog.capacity[kind_key].product
        if owner == target.product:
            if cycle is None:
                continue  # Free carries no extended capacity (the rules refuse it)
            params = addon_params(catalog, kind_key, amount, cycle)
            full = pack_total(catalog, kind_key, amount, cycle)
            if same_period:
                lines.append(
                    QuoteLine(
                        R.QUOTE_ADDON_PRORATED,
                        {**params, "days": remaining, "period_days": period_days, "until_date": _iso(end)},
                        full * remaining // period_days,
                    )
                )
            else:
                lines.append(QuoteLine(R.QUOTE_ADDON, {**params, "until_date": _iso(end)}, full))
            continue
        owner_sub = workspace.subscription(owner)
        if owner_sub is None or owner_sub.cycle is None or paid_period(owner_sub, now) is None:
            continue  # no paid owner: the rules refuse the purchase, there is nothing to price
        owner_cycle = owner_sub.cycle.value
        owner_left, owner_days = remaining_and_period_days(owner_sub, now)
        full = pack_total(catalog, kind_key, amount, owner_cycle)
        lines.append(
            QuoteLine(
                R.QUOTE_ADDON_PRORATED,
                {
                    **addon_params(catalog, kind_key, amount, owner_cycle),
                    "days": owner_left,
                    "period_days": owner_days,
                    "until_date": _iso(owner_sub.period_end),
                },
                full * owner_left // owner_days,
            )
        )
    return lines, start, end


def kept_amount(catalog: "Catalog", workspace: Workspace, kind: str, tier: Optional[str]) -> int:
    """The extended capacity of ``kind`` a plan on ``tier`` keeps and pays for, in whole packs."""
    pack = catalog.capacity[kind].pack_size
    held = min(workspace.capacity_total(kind), catalog.quota(kind, tier).max_extra)
    return held // pack * pack


def net_credit(catalog: "Catalog", workspace: Workspace, target: "PlanTarget", now: datetime) -> int:
    """How much unused credit an IMMEDIATE change would leave over (0 when the change costs money)."""
    lines, _, _ = immediate_lines(catalog, workspace, target, now)
    return max(0, -sum(line.amount_vnd for line in lines))


def renewal_lines(
    catalog: "Catalog",
    workspace: Workspace,
    product: str,
    tier: str,
    cycle: str,
    seats: int,
    keep_within_limit: bool = True,
) -> List[QuoteLine]:
    """The next period of a plan: its seats plus the extended capacity its product owns, in whole
    packs at the plan's cycle (``keep_within_limit``: only what the tier allows, the excess being
    removed by the retention job)."""
    unit_price = catalog.seat_price(product, tier, cycle)
    lines = [
        QuoteLine(
            R.QUOTE_PLAN,
            {"product": product, "tier": tier, "cycle": cycle, "seats": seats, "unit_price_vnd": unit_price},
            unit_price * seats,
        )
    ]
    for kind in catalog.capacity.values():
        if kind.product != product:
            continue
        if keep_within_limit:
            held = kept_amount(catalog, workspace, kind.key, tier)
        else:
            held = workspace.capacity_total(kind.key) // kind.pack_size * kind.pack_size
        if held > 0:
            lines.append(
                QuoteLine(
                    R.QUOTE_ADDON,
                    addon_params(catalog, kind.key, held, cycle),
                    pack_total(catalog, kind.key, held, cycle),
                )
            )
    return lines


def renewal_amount(catalog: "Catalog", workspace: Workspace, subscription: Subscription) -> Dict[str, Any]:
    """Price of the next period of ``subscription`` (the shape payments' renewal orders use)."""
    # cast: only a paid plan is renewed, and a paid plan has a cycle
    lines = renewal_lines(
        catalog,
        workspace,
        subscription.product,
        subscription.tier,
        cast(Cycle, subscription.cycle).value,
        subscription.seats,
        keep_within_limit=True,
    )
    addons = {line.params["kind"]: line.params["amount"] for line in lines if line.code == R.QUOTE_ADDON}
    return {"amount_vnd": sum(line.amount_vnd for line in lines), "addons": addons}
