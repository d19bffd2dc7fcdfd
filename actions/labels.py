"""Words for the facts of a subscription (status, cycle, renewal) and dates in Vietnam time.

Vocabulary only, not policy: the rules and their explanations come from billing_core.messages
and the general answers from domain.yml.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

VIETNAM = timezone(timedelta(hours=7), "GMT+7")  # no daylight saving in Vietnam

_WORDS = {
    "vi": {
        "trial": "đang dùng thử", "active": "đang hoạt động", "expired": "đã hết hạn", "free": "bản Free",
        "monthly": "theo tháng", "yearly": "theo năm", "manual": "Gia hạn thủ công", "auto": "Gia hạn tự động",
        "pending": "chờ thanh toán", "paid": "đã thanh toán", "failed": "không thành công",
    },
    "en": {
        "trial": "on trial", "active": "active", "expired": "expired", "free": "Free edition",
        "monthly": "monthly", "yearly": "yearly", "manual": "manual renewal", "auto": "auto renewal",
        "pending": "waiting for payment", "paid": "paid", "failed": "failed",
    },
}


def word(key: Any, lang: str) -> str:
    key = getattr(key, "value", key)
    if key is None:
        return "—"
    return _WORDS["en" if lang == "en" else "vi"].get(str(key), str(key))


def as_datetime(value: Any) -> Optional[datetime]:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def date_text(value: Any, lang: str) -> str:
    moment = as_datetime(value)
    if moment is None:
        return "—"
    local = moment.astimezone(VIETNAM)
    return local.strftime("%d/%m/%Y") if lang != "en" else local.strftime("%d %b %Y")


def datetime_text(value: Any, lang: str) -> str:
    moment = as_datetime(value)
    if moment is None:
        return "—"
    local = moment.astimezone(VIETNAM)
    return local.strftime("%H:%M %d/%m/%Y") if lang != "en" else local.strftime("%H:%M, %d %b %Y (GMT+7)")
