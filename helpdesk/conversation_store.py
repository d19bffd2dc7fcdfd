"""The assistant's own records: "Was this helpful?" answers and requests to talk to a person.

They live in the same database as billing (``BILLING_DATABASE_URL``) so the agent console can
list them next to the workspace, but in tables of their own: this is assistant data, and
billing_core neither knows nor writes them. Tables are created on first use (idempotent).
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Dict, List, Optional

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)
from sqlalchemy.engine import Engine

from billing_core import database_url, get_engine

metadata = MetaData()

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False),
    Column("workspace_id", String(64), nullable=True),  # only from a verified token
    Column("topic", String(64), nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("language", String(2), nullable=False, default="vi"),
    Column("created_at", DateTime, nullable=False),  # naive UTC
)

handoff_requests = Table(
    "handoff_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False),
    Column("workspace_id", String(64), nullable=True),  # only from a verified token
    Column("summary", Text, nullable=False),
    Column("language", String(2), nullable=False, default="vi"),
    Column("status", String(16), nullable=False, default="open"),
    Column("created_at", DateTime, nullable=False),  # naive UTC
)

MAX_SENDER = 128
MAX_SUMMARY = 2000
MAX_TOPIC = 64

_engines: Dict[str, Engine] = {}
_ready: set = set()
_lock = threading.Lock()


def _database_url(url: Optional[str]) -> str:
    if url:
        return url
    # Same resolution as billing_core (env var, else var/billing.db), without importing its ORM.

    return database_url()


def engine_for(url: Optional[str] = None) -> Engine:
    resolved = _database_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            try:
                engine = get_engine(resolved)  # share the billing pool (and SQLite pragmas)
            except ImportError:  # pragma: no cover - billing_core is always installed with the assistant
                engine = create_engine(resolved, future=True)
            _engines[resolved] = engine
        if resolved not in _ready:
            metadata.create_all(engine, checkfirst=True)
            _ready.add(resolved)
        return engine


def _utcnow(now: Optional[datetime]) -> datetime:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now


def _clean(value: str, limit: int) -> str:
    # Stored as plain text and shown escaped by the console; only length and control chars matter here.
    text = "".join(ch for ch in (value or "") if ch == "\n" or ch >= " ")
    return text[:limit]


def record_feedback(sender_id: str, topic: str, helpful: bool, workspace_id: Optional[str] = None,
                    language: str = "vi", url: Optional[str] = None, now: Optional[datetime] = None) -> None:
    row = {
        "sender_id": _clean(sender_id, MAX_SENDER) or "unknown",
        "workspace_id": workspace_id,
        "topic": _clean(topic, MAX_TOPIC) or "unknown",
        "helpful": bool(helpful),
        "language": language if language in ("vi", "en") else "vi",
        "created_at": _utcnow(now),
    }
    with engine_for(url).begin() as connection:
        connection.execute(insert(feedback).values(**row))


def record_handoff(sender_id: str, summary: str, workspace_id: Optional[str] = None, language: str = "vi",
                   url: Optional[str] = None, now: Optional[datetime] = None) -> None:
    row = {
        "sender_id": _clean(sender_id, MAX_SENDER) or "unknown",
        "workspace_id": workspace_id,
        "summary": _clean(summary, MAX_SUMMARY),
        "language": language if language in ("vi", "en") else "vi",
        "status": "open",
        "created_at": _utcnow(now),
    }
    with engine_for(url).begin() as connection:
        connection.execute(insert(handoff_requests).values(**row))




def list_feedback(url: Optional[str] = None, limit: int = 100) -> List[dict]:
    with engine_for(url).connect() as connection:
        rows = connection.execute(select(feedback).order_by(feedback.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def list_handoffs(url: Optional[str] = None, limit: int = 100, workspace_id: Optional[str] = None) -> List[dict]:
    query = select(handoff_requests).order_by(handoff_requests.c.id.desc()).limit(limit)
    if workspace_id is not None:
        query = query.where(handoff_requests.c.workspace_id == workspace_id)
    with engine_for(url).connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query)]
