"""May this workspace make this change, when does it apply, and if not, why not and what first?

``decide(catalog, workspace, request, now) -> Decision`` works in three steps:

1. ``resolve_target`` validates the request (unknown product/tier/cycle, bad seats, bad
   capacity amounts raise a ``BillingError``: bad input is an error, never a decision) and
   fills in what the request leaves out (``None`` keeps the current value).
2. ``derive_facts`` turns workspace + target into a flat dict of finite-domain facts, several
   of them about the RESULTING state of the whole workspace: the plans right after the change,
   and the plans after every scheduled change has also applied.
3. The ordered ``change_rules`` of the catalog are walked; the first case whose ``when``
   matches gives the outcome. A BLOCKED decision also carries the reasons of every later
   BLOCKED case that matches (the catch-all excepted), each with its fixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union, cast

from billing_core.domain import reasons as R
from billing_core.domain.clock import business_day, days_left
from billing_core.domain.errors import (
    InvalidCapacityAmountError,
    InvalidSeatsError,
    UnknownCapacityKindError,
    UnknownCycleError,
    UnknownProductError,
    UnknownTierError,
)
from billing_core.domain.model import Cycle, Effective, Outcome, RetentionKind, Status, Subscription, Workspace
from billing_core.domain.pricing import net_credit
from billing_core.domain.reasons import Fix, Reason
from billing_core.domain.retention import planned_deletions

if TYPE_CHECKING:  # the catalog module imports this one to validate rule facts
    from billing_core.domain.catalog import Catalog

STATUSES = ("none", "trial", "active", "expired", "free")
DIRECTIONS = ("new", "upgrade", "downgrade", "same")
CYCLE_CHANGES = ("longer", "shorter", "same", "none")
BOOL = (True, False)


def fact_domains(catalog: "Catalog") -> Dict[str, Tuple[Union[str, bool], ...]]:
    """Every fact a rule may test, with the values it can take (the catalog validates against it)."""
    cycles = tuple(catalog.cycles) + ("none",)
    return {
        "product": tuple(catalog.products),
        "product_role": ("base", "addon"),
        "from_status": STATUSES,
        "trial_over": BOOL,
        "tier_offered": BOOL,
        "to_free": BOOL,
        "direction": DIRECTIONS,
        "cycle_change": CYCLE_CHANGES,
        "from_cycle": cycles,
        "to_cycle": cycles,
        "payment_pending": BOOL,
        "downgrade_scheduled": BOOL,
        "same_as_scheduled": BOOL,
        "addon_cycle_exceeds_base": BOOL,
        "addon_without_paid_base": BOOL,
        "below_min_seats": BOOL,
        "buys_capacity": BOOL,
        "capacity_over_limit": BOOL,
        "credit_exceeds_charge": BOOL,
    }


@dataclass(frozen=True)
class ChangeRequest:
    """What the customer asks for. ``None`` keeps the current value; ``addons`` maps a capacity
    kind to an amount in the kind's unit (GB, docs, runs, records), bought with the change."""

    product: str
    tier: str
    cycle: Optional[Union[Cycle, str]] = None
    seats: Optional[int] = None
    addons: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanTarget:
    """The plan the request resolves to: every value filled in, capacity rounded up to whole packs."""

    product: str
    tier: str
    cycle: Optional[Cycle]  # None for Free
    seats: int
    addons: Mapping[str, int] = field(default_factory=dict)  # kind -> amount rounded up to packs
    requested_addons: Mapping[str, int] = field(default_factory=dict)  # kind -> amount as asked
    paid: bool = True

    @property
    def status(self) -> Status:
        return Status.ACTIVE if self.paid else Status.FREE

    def to_dict(self) -> Dict[str, Any]:
        return {
            "product": self.product,
            "tier": self.tier,
            "cycle": self.cycle.value if self.cycle else None,
            "seats": self.seats,
            "addons": dict(self.addons),
            "requested_addons": dict(self.requested_addons),
        }


@dataclass
class Decision:
    allowed: bool
    outcome: Outcome
    effective: Optional[Effective]
    effective_at: Optional[datetime]  # now for IMMEDIATE (applies when paid), period end for NEXT_CYCLE
    rule_id: str
    reasons: List[Reason]
    fixes: List[Fix]
    current: Optional[Subscription]
    target: PlanTarget
    facts: Dict[str, Any] = field(default_factory=dict)  # why the rule matched (for agents and tests)

    @property
    def codes(self) -> List[str]:
        return [reason.code for reason in self.reasons]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "allowed": self.allowed,
            "outcome": self.outcome.value,
            "effective": self.effective.value if self.effective else None,
            "effective_at": self.effective_at.isoformat() if self.effective_at else None,
            "rule_id": self.rule_id,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "fixes": [fix.to_dict() for fix in self.fixes],
            "target": self.target.to_dict(),
            "facts": dict(self.facts),
        }


# ---------------------------------------------------------------------------------------------
# Step 1: validate and resolve
# ---------------------------------------------------------------------------------------------
def _is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key(value: object) -> Optional[str]:
    """A catalog key as callers may spell it (" Standard ", Cycle.YEARLY); None when not text."""
    value = getattr(value, "value", value)
    return value.strip().lower() if isinstance(value, str) else None


def resolve_target(catalog: "Catalog", workspace: Workspace, request: ChangeRequest) -> PlanTarget:
    """Validate ``request`` against the catalog and fill in the values it leaves out.

    Raises UnknownProductError, UnknownTierError, UnknownCycleError, InvalidSeatsError,
    UnknownCapacityKindError or InvalidCapacityAmountError; never returns a half-valid target.
    """
    product_key = _key(request.product)
    product = catalog.products.get(product_key) if product_key is not None else None
    if product is None:
        raise UnknownProductError({"product": str(request.product), "products": list(catalog.products)})
    tier_key = _key(request.tier)
    tier = catalog.tiers.get(tier_key) if tier_key is not None else None
    if tier is None:
        raise UnknownTierError({"tier": str(request.tier), "tiers": list(catalog.tiers)})

    cycle: Optional[Cycle] = None
    if request.cycle is not None:
        raw_cycle = _key(request.cycle)
        if raw_cycle not in catalog.cycles:
            raise UnknownCycleError({"cycle": str(raw_cycle), "cycles": list(catalog.cycles)})
        cycle = Cycle(raw_cycle)

    if request.seats is not None and (
        not _is_whole_number(request.seats) or not 1 <= request.seats <= catalog.max_seats
    ):
        raise InvalidSeatsError({"seats": str(request.seats), "maximum": catalog.max_seats})

    addons: Dict[str, int] = {}
    requested: Dict[str, int] = {}
    for kind_key, amount in dict(request.addons or {}).items():
        kind_name = _key(kind_key)
        kind = catalog.capacity.get(kind_name) if kind_name is not None else None
        if kind is None:
            raise UnknownCapacityKindError({"kind": str(kind_key), "kinds": list(catalog.capacity)})
        if not _is_whole_number(amount) or not 1 <= amount <= kind.max_order_amount:
            raise InvalidCapacityAmountError(
                {"kind": kind.key, "amount": str(amount), "maximum": kind.max_order_amount}
            )
        requested[kind.key] = requested.get(kind.key, 0) + amount
        addons[kind.key] = -(-requested[kind.key] // kind.pack_size) * kind.pack_size  # whole packs, rounded up

    current = workspace.subscription(product.key)
    if not tier.paid:
        cycle = None
    elif cycle is None:
        if current is not None and current.cycle is not None and current.status is Status.ACTIVE:
            cycle = current.cycle
        else:
            cycle = Cycle(catalog.default_cycle)

    seats = request.seats
    if seats is None:
        if current is not None:
            seats = current.seats
        else:
            base = workspace.subscription(catalog.base_product)
            seats = base.seats if base is not None else catalog.min_paid_seats

    return PlanTarget(
        product=product.key,
        tier=tier.key,
        cycle=cycle,
        seats=seats,
        addons=addons,
        requested_addons=requested,
        paid=tier.paid,
    )


# ---------------------------------------------------------------------------------------------
# Step 2: facts
# ---------------------------------------------------------------------------------------------
class _Plan(NamedTuple):  # a tuple: built several times per decision, so cheap to build
    """A product's plan in a (hypothetical) workspace state."""

    tier: str
    paid: bool
    cycle: Optional[Cycle]
    seats: int
    from_schedule: bool = False  # this plan comes from a scheduled change, not the running plan


def _plan_of(sub: Subscription) -> _Plan:
    paid = sub.status is Status.ACTIVE and sub.cycle is not None  # a paid plan always has a cycle
    return _Plan(sub.tier, paid, sub.cycle if paid else None, sub.seats)


def _target_plan(target: PlanTarget) -> _Plan:
    return _Plan(target.tier, target.paid, target.cycle, target.seats)


@dataclass
class _Context:
    """Everything step 2 learnt, kept for the reason/fix parameters of step 3."""

    catalog: "Catalog"
    workspace: Workspace
    target: PlanTarget
    now: datetime
    current: Optional[Subscription]
    facts: Dict[str, Any]
    states: Tuple[Dict[str, _Plan], ...] = ()
    cycle_conflicts: List[Tuple[str, _Plan, _Plan]] = field(default_factory=list)  # (addon, addon plan, base plan)
    unpaid_base_addons: List[Tuple[str, Optional[_Plan]]] = field(default_factory=list)  # (addon, base plan)
    capacity_overflow: List[Tuple[str, int, int, str, Optional[str]]] = field(default_factory=list)


def _months(cycle: Optional[Cycle]) -> int:
    return cycle.months if cycle is not None else 0


def _paid_cycle(plan: _Plan) -> Cycle:
    """The cycle of a plan of ``cycle_conflicts``: both plans of a conflict are paid."""
    return cast(Cycle, plan.cycle)  # a paid plan always has a cycle (see _plan_of, resolve_target)


def _resulting_states(
    catalog: "Catalog", workspace: Workspace, target: PlanTarget, applies_at: Optional[datetime] = None
) -> Tuple[Dict[str, _Plan], ...]:
    """The workspace's plans right when the change applies, and once every scheduled change has applied.

    ``applies_at`` is when the change would take effect: None for now; the period end for a change
    at the renewal, so that another product's change scheduled for that moment or earlier counts
    as done by then (both Digital Workspace and App Builder going monthly at the same renewal fit).
    """
    # An expired plan carries nothing: no paid base, no capacity limit.
    now_state = {sub.product: _plan_of(sub) for sub in workspace.subscriptions if sub.status is not Status.EXPIRED}
    later_state = dict(now_state)
    for change in workspace.scheduled_changes:
        if change.product != target.product:
            plan = _Plan(
                change.tier,
                catalog.tiers[change.tier].paid if change.tier in catalog.tiers else False,
                change.cycle,
                change.seats,
                from_schedule=True,
            )
            later_state[change.product] = plan
            if applies_at is not None and change.effective_at <= applies_at:
                now_state[change.product] = plan
    now_state[target.product] = later_state[target.product] = _target_plan(target)
    return (now_state, later_state)


def derive_facts(catalog: "Catalog", workspace: Workspace, target: PlanTarget, now: datetime) -> _Context:
    """The facts of step 2 (``.facts``, a flat dict) with the details the reasons and fixes need."""
    product = catalog.products[target.product]
    current = workspace.subscription(target.product)
    to_free = not target.paid

    if current is None:
        from_status = "none"
        trial_over = True
    else:
        from_status = current.status.value
        trial_over = not (current.status is Status.TRIAL and (current.period_end is None or now < current.period_end))

    from_paid = current is not None and current.status is Status.ACTIVE
    from_cycle = current.cycle if from_paid and current is not None else None
    cycle_change = "none"
    if from_cycle is not None and target.cycle is not None:
        difference = target.cycle.months - from_cycle.months
        cycle_change = "longer" if difference > 0 else "shorter" if difference < 0 else "same"

    direction = _direction(catalog, current, from_paid, target)

    scheduled = workspace.scheduled_change(target.product)
    same_as_scheduled = bool(
        scheduled is not None
        and not target.addons
        and (scheduled.tier, scheduled.cycle, scheduled.seats) == (target.tier, target.cycle, target.seats)
    )

    facts: Dict[str, Any] = {
        "product": target.product,
        "product_role": product.role,
        "from_status": from_status,
        "trial_over": trial_over,
        "tier_offered": target.tier in product.tiers,
        "to_free": to_free,
        "direction": direction,
        "cycle_change": cycle_change,
        "from_cycle": from_cycle.value if from_cycle else "none",
        "to_cycle": target.cycle.value if target.cycle else "none",
        "payment_pending": workspace.pending_order(target.product, now) is not None,
        "downgrade_scheduled": scheduled is not None,
        "same_as_scheduled": same_as_scheduled,
        "buys_capacity": bool(target.addons),
    }
    facts["credit_exceeds_charge"] = bool(
        direction == "upgrade"
        and from_paid
        and target.tier in product.tiers
        and net_credit(catalog, workspace, target, now) > 0
    )
    applies_at = None
    if (
        from_paid
        and current is not None
        and current.period_end is not None
        and (direction == "downgrade" or facts["credit_exceeds_charge"])
    ):
        applies_at = current.period_end  # such a change waits for the renewal
    context = _Context(catalog, workspace, target, now, current, facts)
    context.states = _resulting_states(catalog, workspace, target, applies_at)
    _check_cross_product(context)
    facts["addon_cycle_exceeds_base"] = bool(context.cycle_conflicts)
    facts["addon_without_paid_base"] = bool(context.unpaid_base_addons)
    facts["below_min_seats"] = target.paid and target.seats < catalog.min_paid_seats
    _check_capacity(context)
    facts["capacity_over_limit"] = bool(context.capacity_overflow)
    return context


def _direction(catalog: "Catalog", current: Optional[Subscription], from_paid: bool, target: PlanTarget) -> str:
    """upgrade / downgrade / same / new, as the help article uses the words (see module doc)."""
    if current is None:
        return "new" if not target.paid else "upgrade"
    if not from_paid:
        # Trial, expired or Free: buying any paid tier is a purchase ("works like a new purchase").
        if target.paid:
            return "upgrade"
        if current.status is Status.FREE:
            return "upgrade" if target.addons else "same"
        return "downgrade"
    if not target.paid:
        return "downgrade"
    rank_change = catalog.tiers[target.tier].rank - catalog.tiers[current.tier].rank
    if rank_change:
        return "upgrade" if rank_change > 0 else "downgrade"
    cycle_change = _months(target.cycle) - _months(current.cycle)
    if cycle_change:
        return "upgrade" if cycle_change > 0 else "downgrade"
    if target.seats != current.seats:
        return "upgrade" if target.seats > current.seats else "downgrade"
    # Same plan: buying extended capacity on its own is a purchase that applies at once.
    return "upgrade" if target.addons else "same"


def _check_cross_product(context: _Context) -> None:
    """Record the add-on/base conflicts the change would create, in either resulting state.

    Only pairs that involve the product being changed count: an existing inconsistency elsewhere
    must not block an unrelated change.
    """
    catalog, target = context.catalog, context.target
    base_key = catalog.base_product
    for state in context.states:
        base = state.get(base_key)
        base_paid = base is not None and base.paid
        for key, plan in state.items():
            if key == base_key or not catalog.products[key].is_addon:
                continue
            if target.product not in (key, base_key) or not plan.paid:
                continue
            if not base_paid:
                if all(existing[0] != key for existing in context.unpaid_base_addons):
                    context.unpaid_base_addons.append((key, base))
            elif base is not None and _months(plan.cycle) > _months(base.cycle):  # base_paid: base is set
                if all(existing[0] != key for existing in context.cycle_conflicts):
                    context.cycle_conflicts.append((key, plan, base))


def _check_capacity(context: _Context) -> None:
    """Capacity bought with the change must fit the limit of the kind's product in both states.

    Extended capacity is bought with a paid plan: a product on trial (or absent) allows none.
    """
    catalog, workspace = context.catalog, context.workspace
    for kind, amount in context.target.addons.items():
        owner = catalog.capacity[kind].product
        total = workspace.capacity_total(kind) + amount
        for state in context.states:
            plan = state.get(owner)
            tier = plan.tier if plan is not None and plan.paid else None
            limit = catalog.quota(kind, tier).max_extra
            if total > limit:
                context.capacity_overflow.append((kind, total, limit, owner, tier))
                break


# ---------------------------------------------------------------------------------------------
# Step 3: rules, reasons, fixes
# ---------------------------------------------------------------------------------------------
def decide(catalog: "Catalog", workspace: Workspace, request: ChangeRequest, now: datetime) -> Decision:
    target = resolve_target(catalog, workspace, request)
    context = derive_facts(catalog, workspace, target, now)
    facts = context.facts

    first = None
    more_blocking = []
    for rule in catalog.change_rules:
        if not rule.matches(facts):
            continue
        if first is None:
            first = rule
            if rule.outcome != "BLOCKED":
                break
        elif rule.outcome == "BLOCKED" and rule.when and rule.reason != R.NO_CHANGE:
            more_blocking.append(rule)  # the catch-all and "nothing to change" add nothing to a real reason
    assert first is not None, "the catalog guarantees a catch-all rule"

    outcome = Outcome(first.outcome)
    main = first.reason
    if main == R.DOWNGRADE_NEXT_CYCLE and context.current is not None and context.current.tier == target.tier:
        main = R.PLAN_CHANGE_NEXT_CYCLE  # same tier: only seats or cycle change, nothing is "lowered"
    reasons = [Reason(main, _reason_params(main, context))]
    reasons += [Reason(note, _reason_params(note, context)) for note in first.notes]
    fixes: List[Fix] = []
    effective: Optional[Effective] = None
    effective_at: Optional[datetime] = None

    if outcome is Outcome.BLOCKED:
        seen = {first.reason}
        for rule in more_blocking:
            if rule.reason not in seen:
                seen.add(rule.reason)
                reasons.append(Reason(rule.reason, _reason_params(rule.reason, context)))
        if R.YEARLY_TO_MONTHLY_ON_UPGRADE in seen:
            # Keeping yearly (its fix) also keeps the add-ons within the base's cycle: moving them to
            # monthly first would contradict that fix, so the add-on cycle problem is not listed.
            reasons = [r for r in reasons if r.code != R.ADDON_CYCLE_LONGER_THAN_BASE] or reasons
        for reason in reasons:
            for fix in _fixes(reason.code, context):
                if fix not in fixes:
                    fixes.append(fix)
    else:
        if outcome is Outcome.IMMEDIATE:
            effective, effective_at = Effective.IMMEDIATE, now
        else:
            effective = Effective.NEXT_CYCLE
            current = context.current
            effective_at = current.period_end if current is not None and current.period_end else now
        reasons += _retention_notes(context, effective_at)

    return Decision(
        allowed=outcome is not Outcome.BLOCKED,
        outcome=outcome,
        effective=effective,
        effective_at=effective_at,
        rule_id=first.id,
        reasons=reasons,
        fixes=fixes,
        current=context.current,
        target=target,
        facts=facts,
    )


def _date(value: Optional[datetime]) -> Optional[str]:
    """The business day (Vietnam) of an instant, as the ISO text the messages format."""
    return business_day(value).isoformat() if value is not None else None


def _retention_notes(context: _Context, effective_at: datetime) -> List[Reason]:
    """What a downgrade or a move to Free will delete, and by when (only when something is)."""
    current, target = context.current, context.target
    if current is None or context.facts["direction"] != "downgrade" or current.tier == target.tier:
        return []

    tasks = planned_deletions(
        context.catalog, context.workspace, target.product, current.tier, target.tier, effective_at
    )
    notes = [
        Reason(R.CAPACITY_WILL_BE_REMOVED, {"kind": t.target, "amount": t.amount, "due_date": _date(t.due_at)})
        for t in tasks
        if t.kind is RetentionKind.CAPACITY
    ]
    features = [t for t in tasks if t.kind is RetentionKind.FEATURE_DATA]
    if features:
        notes.append(
            Reason(
                R.FEATURE_DATA_WILL_BE_DELETED,
                {"features": [t.target for t in features], "due_date": _date(features[0].due_at)},
            )
        )
    return notes


def _offered_paid_tiers(catalog: "Catalog", product: str) -> List[str]:
    return [key for key in catalog.products[product].tiers if catalog.tiers[key].paid]


def _reason_params(code: str, context: _Context) -> Dict[str, Any]:
    catalog, target, current, workspace = context.catalog, context.target, context.current, context.workspace
    product = target.product
    base = catalog.base_product
    scheduled = workspace.scheduled_change(product)
    if code == R.NO_CHANGE:
        return {"product": product, "tier": target.tier}
    if code == R.PAYMENT_PENDING:
        order = workspace.pending_order(product, context.now)
        return {
            "product": product,
            "order_ref": order.txn_ref if order else "",
            "expires_at": order.expires_at.isoformat(timespec="minutes") if order else "",
            "amount_vnd": order.amount_vnd if order else 0,
        }
    if code == R.ALREADY_SCHEDULED:
        return {
            "product": product,
            "tier": target.tier,
            "effective_date": _date(scheduled.effective_at) if scheduled else "",
        }
    if code == R.NO_FREE_EDITION:
        return {"product": product}
    if code == R.TIER_NOT_OFFERED:
        return {"product": product, "tier": target.tier, "tiers": list(catalog.products[product].tiers)}
    if code == R.TRIAL_NOT_OVER:
        end = current.period_end if current is not None and current.period_end else context.now
        return {
            "product": product,
            "trial_end_date": _date(end),
            "trial_end_at": end.isoformat(),
            "days_left": days_left(end, context.now),
        }
    if code == R.ADDON_REQUIRES_PAID_BASE:
        return {"addons": [key for key, _ in context.unpaid_base_addons], "base": base}
    if code == R.YEARLY_TO_MONTHLY_ON_UPGRADE:
        return {"product": product}
    if code == R.ADDON_CYCLE_LONGER_THAN_BASE:
        addon, addon_plan, base_plan = context.cycle_conflicts[0]
        return {
            "addon": addon,
            "addon_cycle": _paid_cycle(addon_plan).value,
            "base": base,
            "base_cycle": _paid_cycle(base_plan).value,
        }
    if code == R.MIN_SEATS:
        return {"minimum": catalog.min_paid_seats, "seats": target.seats}
    if code == R.CAPACITY_LIMIT_EXCEEDED:
        kind, total, limit, owner, tier = context.capacity_overflow[0]
        pack = catalog.capacity[kind].pack_size
        return {
            "kind": kind,
            "total": total,
            "limit": limit,
            "product": owner,
            "tier": tier or "none",
            "held": workspace.capacity_total(kind),
            "pack_size": pack,
            "room": max(0, limit - workspace.capacity_total(kind)),
        }
    if code == R.CAPACITY_NEEDS_UPGRADE:
        return {"product": product}
    if code == R.UNSUPPORTED_CHANGE:
        return {"product": product, "tier": target.tier}
    if code == R.UPGRADE_IMMEDIATE:
        return {
            "product": product,
            "tier": target.tier,
            "cycle": target.cycle.value if target.cycle else catalog.default_cycle,
            "seats": target.seats,
        }
    if code in (R.DOWNGRADE_NEXT_CYCLE, R.PLAN_CHANGE_NEXT_CYCLE, R.CHANGE_AT_RENEWAL_KEEPS_CREDIT):
        period_end = current.period_end if current is not None else None
        return {
            "product": product,
            "tier": target.tier,
            "effective_date": _date(period_end or context.now),
            "cycle": target.cycle.value if target.cycle else "none",
            "seats": target.seats,
            "current_tier": current.tier if current is not None else target.tier,
            "credit_vnd": net_credit(catalog, workspace, target, context.now) if current is not None else 0,
        }
    if code == R.KEEP_PLAN_WHILE_SCHEDULED:
        return {
            "product": product,
            "tier": target.tier,
            "scheduled_tier": scheduled.tier if scheduled else "",
            "scheduled_cycle": (scheduled.cycle.value if scheduled.cycle else "none") if scheduled else "none",
            "scheduled_seats": scheduled.seats if scheduled else 0,
            "effective_date": _date(scheduled.effective_at) if scheduled else "",
        }
    if code == R.FREE_IMMEDIATE:
        return {"product": product}
    if code in (R.CANCELS_SCHEDULED_CHANGE, R.REPLACES_SCHEDULED_CHANGE):
        return {
            "product": product,
            "scheduled_tier": scheduled.tier if scheduled else "",
            "scheduled_seats": scheduled.seats if scheduled else 0,
            "effective_date": _date(scheduled.effective_at) if scheduled else "",
        }
    if code == R.PAID_PERIOD_USED_IN_FULL:
        period_end = current.period_end if current is not None else None
        return {"product": product, "period_end_date": _date(period_end or context.now)}
    return {}


def _fixes(code: str, context: _Context) -> List[Fix]:
    catalog, target, workspace = context.catalog, context.target, context.workspace
    product = target.product
    base = catalog.base_product
    if code == R.NO_CHANGE:
        return [Fix(R.FIX_CHOOSE_DIFFERENT_PLAN, {"product": product})]
    if code == R.PAYMENT_PENDING:
        params = _reason_params(code, context)
        return [
            Fix(R.FIX_FINISH_PENDING_PAYMENT, {"order_ref": params["order_ref"]}),
            Fix(R.FIX_WAIT_FOR_ORDER_EXPIRY, {"expires_at": params["expires_at"]}),
        ]
    if code == R.KEEP_PLAN_WHILE_SCHEDULED:
        scheduled = workspace.scheduled_change(product)
        return [
            Fix(
                R.FIX_CANCEL_SCHEDULED_TO_KEEP,
                {
                    "product": product,
                    "tier": target.tier,
                    "scheduled_tier": scheduled.tier if scheduled else "",
                },
            )
        ]
    if code == R.NO_FREE_EDITION:
        return [Fix(R.FIX_UPGRADE_TO_PAID_TIER, {"product": product, "tiers": _offered_paid_tiers(catalog, product)})]
    if code == R.TIER_NOT_OFFERED:
        return [Fix(R.FIX_CHOOSE_OFFERED_TIER, {"product": product, "tiers": list(catalog.products[product].tiers)})]
    if code == R.TRIAL_NOT_OVER:
        params = _reason_params(code, context)
        return [
            Fix(R.FIX_WAIT_UNTIL_TRIAL_END, {"product": product, "trial_end_date": params["trial_end_date"]}),
            Fix(R.FIX_BUY_PAID_PLAN, {"product": product}),
        ]
    if code == R.ADDON_REQUIRES_PAID_BASE:
        if product == base:
            fixes = []
            for addon, _ in context.unpaid_base_addons:
                sub = workspace.subscription(addon)
                fixes.append(
                    Fix(
                        R.FIX_END_ADDON_FIRST, {"addon": addon, "period_end_date": _date(sub.period_end) if sub else ""}
                    )
                )
            return fixes
        base_plan = context.unpaid_base_addons[0][1]
        if base_plan is not None and base_plan.from_schedule:
            return [Fix(R.FIX_CANCEL_SCHEDULED_CHANGE, {"product": base})]
        return [Fix(R.FIX_BUY_PAID_BASE_FIRST, {"base": base})]
    if code == R.YEARLY_TO_MONTHLY_ON_UPGRADE:
        return [Fix(R.FIX_KEEP_YEARLY, {"product": product})]
    if code == R.ADDON_CYCLE_LONGER_THAN_BASE:
        fixes = []
        for addon, addon_plan, base_plan in context.cycle_conflicts:
            if product == base:
                pending = workspace.scheduled_change(addon)
                if pending is not None and _months(pending.cycle) <= _months(base_plan.cycle):
                    # The add-on is already on its way to a fitting cycle: the customer only waits.
                    fixes.append(
                        Fix(
                            R.FIX_WAIT_FOR_ADDON_CHANGE,
                            {
                                "addon": addon,
                                "cycle": pending.cycle.value if pending.cycle else "none",
                                "effective_date": _date(pending.effective_at),
                            },
                        )
                    )
                else:
                    fixes.append(
                        Fix(R.FIX_MOVE_ADDON_CYCLE_FIRST, {"addon": addon, "cycle": _paid_cycle(base_plan).value})
                    )
            elif base_plan.from_schedule:
                fixes.append(Fix(R.FIX_CANCEL_SCHEDULED_CHANGE, {"product": base}))
            else:
                fixes.append(Fix(R.FIX_SWITCH_BASE_CYCLE_FIRST, {"base": base, "cycle": _paid_cycle(addon_plan).value}))
        return fixes
    if code == R.MIN_SEATS:
        return [Fix(R.FIX_SET_MIN_SEATS, {"minimum": catalog.min_paid_seats})]
    if code == R.CAPACITY_LIMIT_EXCEEDED:
        kind, total, limit, owner, tier = context.capacity_overflow[0]
        pack = catalog.capacity[kind].pack_size
        # The most that fits, in whole packs (what is asked is rounded UP to packs, so offering
        # the room itself would be refused again when it is not a whole number of packs).
        room = max(0, limit - workspace.capacity_total(kind)) // pack * pack
        fixes = [Fix(R.FIX_REDUCE_CAPACITY, {"kind": kind, "max_amount": room})] if room else []
        if tier is None:
            owner_sub = workspace.subscription(owner)
            if owner_sub is None:
                fixes.append(Fix(R.FIX_BUY_PRODUCT_FOR_CAPACITY, {"product": owner, "kind": kind}))
            else:  # on trial, Free or lapsed: it has the product, it needs a paid plan of it
                fixes.append(
                    Fix(
                        R.FIX_BUY_PAID_PLAN_FOR_CAPACITY,
                        {
                            "product": owner,
                            "kind": kind,
                            "status": owner_sub.status.value,
                        },
                    )
                )
        elif any(
            catalog.tiers[key].rank > catalog.tiers[tier].rank
            and kind in offer.capacity
            and offer.capacity[kind].max_extra >= total
            for key, offer in catalog.products[owner].tiers.items()
        ):
            fixes.append(Fix(R.FIX_CHOOSE_HIGHER_TIER, {"product": owner, "kind": kind}))
        return fixes or [Fix(R.FIX_CONTACT_SUPPORT, {})]
    if code == R.CAPACITY_NEEDS_UPGRADE:
        return [Fix(R.FIX_BUY_CAPACITY_SEPARATELY, {"product": product})]
    return [Fix(R.FIX_CONTACT_SUPPORT, {})]
