"""Time as the business counts it: instants in UTC, calendar days in Vietnam (UTC+7, no DST).

A day-based rule ("30-day trial", "within 7 days", proration by days) counts Vietnamese calendar
days: a purchase made at 23:00 in Hanoi belongs to that day, not to the next UTC day.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "ICT")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken as UTC (what SQLite gives back)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def vietnam_date(moment: datetime) -> date:
    """The calendar day in Vietnam at ``moment``."""
    return as_utc(moment).astimezone(VIETNAM).date()
