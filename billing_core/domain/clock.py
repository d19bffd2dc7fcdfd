"""Time as the business counts it: instants in UTC, calendar days in Vietnam (UTC+7, no DST).

THE business calendar. Every date a customer reads or a rule decides on is ``business_day``
(the Vietnamese calendar day of an instant); every "days left" is ``days_left``; every "one
month later" is ``add_months`` (calendar months counted on the Vietnamese calendar, keeping the
billing anchor's day: 31/01 -> 28/02 -> 31/03). A purchase made at 23:00 in Hanoi belongs to
that day, not to the next UTC day, whatever the server's time zone.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone
from typing import Optional

VIETNAM = timezone(timedelta(hours=7), "ICT")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken as UTC (what SQLite gives back)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def utc_or_now(moment: Optional[datetime]) -> datetime:
    """``moment`` as aware UTC, or the current instant when it is None (use cases take ``now``)."""
    return utcnow() if moment is None else as_utc(moment)


def business_day(moment: datetime) -> date:
    """The calendar day in Vietnam at ``moment`` (a naive value is UTC): the one business calendar."""
    return as_utc(moment).astimezone(VIETNAM).date()


vietnam_date = business_day  # the older name, kept for callers


def days_left(end: Optional[datetime], now: datetime) -> Optional[int]:
    """Whole Vietnamese calendar days from today to the day of ``end`` (0 on that day and after;
    None when there is no end). The one "days left" of check, show, quotes and the assistant."""
    if end is None:
        return None
    return max(0, (business_day(end) - business_day(now)).days)


def add_months(value: datetime, months: int, anchor_day: Optional[int] = None) -> datetime:
    """``value`` plus whole calendar months ("Tháng = tròn 1 tháng"), on the Vietnamese calendar.

    The day is ``anchor_day`` (default: ``value``'s own day in Vietnam), clamped to the month's
    last day: 31 Jan + 1 month = 28/29 Feb, and with ``anchor_day=31`` 28 Feb + 1 month = 31 Mar
    (a billing cycle anchor, as Stripe keeps it). Aware values come back in their own zone;
    naive values are taken as UTC and come back naive.
    """
    naive = value.tzinfo is None
    local = as_utc(value).astimezone(VIETNAM)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = anchor_day if anchor_day is not None else local.day
    moved = local.replace(year=year, month=month, day=min(day, calendar.monthrange(year, month)[1]))
    if naive:
        return moved.astimezone(timezone.utc).replace(tzinfo=None)
    return moved.astimezone(value.tzinfo)


def anchor_day_of(anchor: datetime) -> int:
    """The day of the month (in Vietnam) a billing period anchored at ``anchor`` renews on."""
    return as_utc(anchor).astimezone(VIETNAM).day
