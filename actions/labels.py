"""Words for the facts of a subscription (status, cycle, renewal) and dates, from
billing_core.domain.messages (its labels and date formats), so the chat, the console and the CLI agree.

Vocabulary only, not policy: rules and their explanations come from billing_core.domain.messages and
the general answers from actions/responses.yml.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional, overload

import billing_core as bc

_GROUPS = {
    "trial": "status",
    "active": "status",
    "expired": "status",
    "free": "status",
    "monthly": "cycle",
    "yearly": "cycle",
    "manual": "renewal_mode",
    "auto": "renewal_mode",
}


def word(key: Any, lang: str) -> str:
    key = getattr(key, "value", key)
    if key is None:
        return bc.label("cycle", "none", lang)
    text = bc.label(_GROUPS.get(str(key), "status"), str(key), lang)
    # Labels are capitalised for tables; inside a sentence a status reads in lower case.
    return text[:1].lower() + text[1:] if _GROUPS.get(str(key), "status") == "status" else text


@overload  # a datetime stays one (an order's expires_at), other values may not parse
def as_datetime(value: datetime) -> datetime: ...
@overload
def as_datetime(value: Any) -> Optional[datetime]: ...
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
    return bc.format_date(moment, lang) if moment else "—"


def datetime_text(value: Any, lang: str) -> str:
    moment = as_datetime(value)
    return bc.format_datetime(moment, lang) if moment else "—"
