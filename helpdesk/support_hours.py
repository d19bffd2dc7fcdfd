"""When people answer: the support desk's working hours in Vietnam time, and the expected wait.

Settings (read once with the others, by helpdesk/settings.py):

* ``HELPDESK_SUPPORT_HOURS``  ``HH:MM-HH:MM`` in Vietnam time (UTC+7, no daylight saving), default
  ``08:00-17:30``; ``00:00-24:00`` means all day;
* ``HELPDESK_SUPPORT_DAYS``   ``mon-fri`` (default), ``mon-sat``, ``mon-sun`` or a list such as
  ``mon,tue,thu``;
* ``HELPDESK_SUPPORT_WAIT_MINUTES``  the wait to announce during working hours (default 15).

During working hours the customer is told the expected wait; outside them, that a person will
answer from the next opening (the exact day and time, Vietnam time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import FrozenSet, Mapping, Optional

from helpdesk import settings

VIETNAM = timezone(timedelta(hours=7), "ICT")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "vi": ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class SupportHoursError(ValueError):
    pass


def _minutes(hours: str, minutes: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise SupportHoursError(f"not a time of day: {hours}:{minutes}")
    return value


def _days(text: str) -> FrozenSet[int]:
    text = text.strip().lower()
    if "-" in text and "," not in text:
        first, _, last = text.partition("-")
        if first.strip() not in DAY_KEYS or last.strip() not in DAY_KEYS:
            raise SupportHoursError(f"HELPDESK_SUPPORT_DAYS: unknown day in {text!r}")
        start, end = DAY_KEYS.index(first.strip()), DAY_KEYS.index(last.strip())
        return frozenset(range(start, end + 1)) if start <= end else frozenset([*range(start, 7), *range(0, end + 1)])
    days = [part.strip() for part in text.split(",") if part.strip()]
    if not days or any(day not in DAY_KEYS for day in days):
        raise SupportHoursError(f"HELPDESK_SUPPORT_DAYS: use mon-fri or a list such as mon,tue; got {text!r}")
    return frozenset(DAY_KEYS.index(day) for day in days)


def _configured() -> Mapping[str, str]:
    """The process's hand-off settings, as helpdesk/settings.py read them at start."""
    current = settings.current()
    return {
        "HELPDESK_SUPPORT_HOURS": current.support_hours,
        "HELPDESK_SUPPORT_DAYS": current.support_days,
        "HELPDESK_SUPPORT_WAIT_MINUTES": current.support_wait_minutes,
    }


@dataclass(frozen=True)
class SupportHours:
    opens: int = 8 * 60  # minutes after midnight, Vietnam time
    closes: int = 17 * 60 + 30
    days: FrozenSet[int] = frozenset(range(5))  # Monday=0
    wait_minutes: int = 15

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "SupportHours":
        env = _configured() if environ is None else environ
        hours = (env.get("HELPDESK_SUPPORT_HOURS") or "08:00-17:30").strip()
        match = _HOURS.match(hours)
        if not match:
            raise SupportHoursError(f"HELPDESK_SUPPORT_HOURS must look like 08:00-17:30, not {hours!r}")
        opens, closes = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if closes <= opens:
            raise SupportHoursError("HELPDESK_SUPPORT_HOURS: the desk must close after it opens (same day)")
        wait_text = (env.get("HELPDESK_SUPPORT_WAIT_MINUTES") or "15").strip()
        if not wait_text.isdigit() or not 0 < int(wait_text) <= 24 * 60:
            raise SupportHoursError(f"HELPDESK_SUPPORT_WAIT_MINUTES must be 1-1440 minutes, not {wait_text!r}")
        return cls(opens, closes, _days(env.get("HELPDESK_SUPPORT_DAYS") or "mon-fri"), int(wait_text))

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(VIETNAM)
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.opens <= minute < self.closes

    def next_opening(self, now: datetime) -> datetime:
        """The next moment the desk opens (Vietnam time); ``now`` itself when it is open."""
        if self.is_open(now):
            return now.astimezone(VIETNAM)
        local = now.astimezone(VIETNAM)
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            opening = datetime.combine(day, time(0), VIETNAM) + timedelta(minutes=self.opens)
            if day.weekday() in self.days and opening > local:
                return opening
        raise SupportHoursError("HELPDESK_SUPPORT_DAYS names no day")  # pragma: no cover - from_env refuses it

    def answer_by(self, now: datetime) -> datetime:
        """When the customer can expect a person's first answer."""
        return self.next_opening(now) + timedelta(minutes=self.wait_minutes)

    def describe(self, lang: str = "vi") -> str:
        """e.g. "08:00–17:30, thứ Hai – thứ Sáu (giờ Việt Nam)"."""
        names = DAY_NAMES["en" if lang == "en" else "vi"]
        ordered = sorted(self.days)
        if len(ordered) == 7:
            days = "every day" if lang == "en" else "tất cả các ngày"
        elif ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
            days = f"{names[ordered[0]]} – {names[ordered[-1]]}"
        else:
            days = ", ".join(names[d] for d in ordered)
        clock = f"{_clock(self.opens)}–{_clock(self.closes)}"
        zone = "Vietnam time" if lang == "en" else "giờ Việt Nam"
        return f"{clock}, {days} ({zone})"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def moment_text(when: datetime, lang: str = "vi") -> str:
    """A moment in Vietnam time the way a person says it: "09:15 thứ Hai, 07/12/2026"."""
    local = when.astimezone(VIETNAM)
    names = DAY_NAMES["en" if lang == "en" else "vi"]
    if lang == "en":
        return f"{local:%H:%M} on {names[local.weekday()]}, {local:%d/%m/%Y} (Vietnam time)"
    return f"{local:%H:%M} {names[local.weekday()]}, {local:%d/%m/%Y} (giờ Việt Nam)"
