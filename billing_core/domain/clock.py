"""Time as the business counts it: instants in UTC, calendar days in Vietnam (UTC+7, no DST).

A day-based rule ("30-day trial", "within 7 days", proration by days) counts Vietnamese calendar
days: a purchase made at 23:00 in Hanoi belongs to that day, not to the next UTC day.
"""
from __future__ import annotations

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


def vietnam_date(moment: datetime) -> date:
    """The calendar day in Vietnam at ``moment``."""
    return as_utc(moment).astimezone(VIETNAM).date()
