"""The billing domain: plain Python objects, no SQLAlchemy, no Rasa.

A ``Workspace`` is the aggregate: every plan change, order and retention task of one
workspace goes through it, and its ``version`` is bumped on every change so that the
persistence adapter can refuse a concurrent write (optimistic locking).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional


class Cycle(str, enum.Enum):
    MONTHLY = "monthly"
    YEARLY = "yearly"

    @property
    def months(self) -> int:
        return 12 if self is Cycle.YEARLY else 1


class Status(str, enum.Enum):
    TRIAL = "trial"
    ACTIVE = "active"
    EXPIRED = "expired"
    FREE = "free"


class RenewalMode(str, enum.Enum):
    MANUAL = "manual"
    AUTO = "auto"


class Effective(str, enum.Enum):
    """When an allowed change takes effect."""

    IMMEDIATE = "immediate"  # as soon as payment succeeds (or at once when nothing is owed)
    NEXT_CYCLE = "next_cycle"  # at the next renewal, shown as "next renewal plan"


class Outcome(str, enum.Enum):
    IMMEDIATE = "IMMEDIATE"
    NEXT_CYCLE = "NEXT_CYCLE"
    BLOCKED = "BLOCKED"


class OrderStatus(str, enum.Enum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # by the customer before paying (payments.cancel_pending_order)


class OrderKind(str, enum.Enum):
    UPGRADE = "upgrade"  # a plan change or purchase that applies immediately when paid
    RENEWAL = "renewal"  # the next period of an existing plan (auto renewal reminder)


class RetentionKind(str, enum.Enum):
    CAPACITY = "capacity"  # extended capacity above the new tier's limit (7 days, oldest first)
    FEATURE_DATA = "feature_data"  # data of a feature the new tier locks (90 days)


class RetentionStatus(str, enum.Enum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass
class Subscription:
    product: str  # catalog product key: digital_workspace, operations_workflow, app_builder
    tier: str  # catalog tier key: free, starter, standard, premium
    status: Status
    seats: int
    period_start: datetime
    period_end: Optional[datetime]  # None for the Free edition (free for life)
    cycle: Optional[Cycle] = None  # None while on trial or Free: nothing is billed
    renewal_mode: RenewalMode = RenewalMode.MANUAL
    # The billing cycle anchor (as Stripe calls it): the start of the first period of the current
    # cycle. Renewals keep its day of the month (31/01 -> 28/02 -> 31/03). None: period_start.
    billing_anchor: Optional[datetime] = None
    id: Optional[int] = None

    @property
    def is_paid(self) -> bool:
        """A paid, running plan (not a trial, not Free, not lapsed)."""
        return self.status is Status.ACTIVE


@dataclass
class CapacityPurchase:
    """Extended capacity bought with a plan: ``amount`` in the kind's unit (GB, docs, runs, records)."""

    kind: str  # catalog capacity key: storage, docs, automation_runs, data_records
    amount: int
    purchased_at: datetime
    id: Optional[int] = None


@dataclass
class ScheduledChange:
    """A downgrade waiting for the next renewal ("Gói gia hạn tiếp theo")."""

    product: str
    tier: str
    cycle: Optional[Cycle]
    seats: int
    effective_at: datetime
    survey_answer: str
    created_at: datetime
    id: Optional[int] = None


@dataclass
class Order:
    txn_ref: str  # unique per order; VNPAY's vnp_TxnRef
    kind: OrderKind
    product: str
    tier: str
    cycle: Cycle
    seats: int
    addons: Dict[str, int]  # capacity kind -> amount in the kind's unit
    amount_vnd: int
    status: OrderStatus
    created_at: datetime
    expires_at: datetime
    renewal_mode: RenewalMode = RenewalMode.MANUAL
    response_code: Optional[str] = None  # VNPAY vnp_ResponseCode of the last answer
    transaction_no: Optional[str] = None
    paid_at: Optional[datetime] = None
    id: Optional[int] = None


@dataclass
class RetentionTask:
    """A deletion the retention job will carry out on ``due_at`` (idempotent: done once)."""

    kind: RetentionKind
    target: str  # capacity kind, or feature key
    amount: int  # capacity units to remove (0 for feature data)
    due_at: datetime
    status: RetentionStatus
    created_at: datetime
    reason: str = ""  # e.g. "downgrade app_builder standard->starter"
    # What the job did, and why (set when it ran): "deleted", "nothing_above_limit" (the customer
    # made room, or the plan in force allows it again), "still_included" (the plan in force
    # includes the feature again). The task's status says DONE (deleted) or CANCELLED (skipped).
    resolution: str = ""
    id: Optional[int] = None


@dataclass
class AuditEntry:
    workspace_id: str
    at: datetime
    actor: str
    action: str
    detail: Dict[str, object]
    id: Optional[int] = None


@dataclass
class Workspace:
    id: str
    name: str
    created_at: datetime
    subscriptions: List[Subscription] = field(default_factory=list)
    capacity: List[CapacityPurchase] = field(default_factory=list)
    scheduled_changes: List[ScheduledChange] = field(default_factory=list)
    orders: List[Order] = field(default_factory=list)
    retention_tasks: List[RetentionTask] = field(default_factory=list)
    version: int = 1

    def subscription(self, product: str) -> Optional[Subscription]:
        return next((s for s in self.subscriptions if s.product == product), None)

    def scheduled_change(self, product: str) -> Optional[ScheduledChange]:
        return next((c for c in self.scheduled_changes if c.product == product), None)

    def pending_order(self, product: str, now: datetime) -> Optional[Order]:
        return next(
            (o for o in self.orders if o.product == product and o.status is OrderStatus.PENDING and o.expires_at > now),
            None,
        )

    def capacity_total(self, kind: str) -> int:
        return sum(p.amount for p in self.capacity if p.kind == kind)

    def touch(self) -> None:
        """Mark the aggregate changed: the adapter turns this into a version check on write."""
        self.version += 1
