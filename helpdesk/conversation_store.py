"""The assistant's own records: "Was this helpful?" answers, hand-offs to a person, and the
messages of each conversation.

They live in the same database as billing (``BILLING_DATABASE_URL``) so the agent console can
list them next to the workspace, but in tables of their own: this is assistant data, and
billing_core neither knows nor writes them. The schema is Alembic's (helpdesk/migrations, its own
version table), brought to head on first use in a process (idempotent).

A "was this helpful?" answer is kept once per prompt (``prompt``: the prompt's id,
helpdesk/ratings.py): rating the same answer again replaces the earlier rating
(docs/decisions.md §22). Rows from before prompts had ids have none and each count once.

A hand-off holds a conversation for a person: ``waiting`` (in the console queue; the channel no
longer passes the customer's messages to the bot), ``taken`` (an agent answers), then
``returned`` (the bot answers again) or ``closed``. A conversation has at most one active hand-off:
asking again updates it, so the customer appears once in the queue.

Messages (``chat_messages``) are what the widget shows: the customer's (``user``), the bot's
(``bot``), an agent's (``agent``) and notices about the hand-off (``system``). They are keyed by the
conversation and, for a verified user, by the token's subject and workspace: the history on any
device.

A REST client has no socket to push to: it gets an agent's replies and the hand-off notices in the
responses to its own calls. ``rest_deliveries`` keeps, per conversation, the last of those messages
a REST response carried (``claim_for_rest``), so each is returned once, in order, by whichever Rasa
server answers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    create_engine,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from billing_core import database_url, get_engine
from helpdesk import migrations

log = logging.getLogger(__name__)

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
    Column("prompt", String(32), nullable=True),  # the rated prompt's id: one row per prompt
    Column("updated_at", DateTime, nullable=True),  # when a second rating replaced the first
    Index("uq_feedback_sender_prompt", "sender_id", "prompt", unique=True),
)

handoff_requests = Table(
    "handoff_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False),
    Column("workspace_id", String(64), nullable=True),  # only from a verified token
    Column("summary", Text, nullable=False),
    Column("language", String(2), nullable=False, default="vi"),
    Column("status", String(16), nullable=False, default="waiting"),
    Column("created_at", DateTime, nullable=False),  # naive UTC, like every time here
    Column("user_sub", String(128), nullable=True),
    Column("question", Text, nullable=True),
    Column("bot_answer", Text, nullable=True),
    Column("diagnosis", Text, nullable=True),
    Column("after_hours", Boolean, nullable=False, default=False, server_default="0"),
    Column("expected_by", DateTime, nullable=True),
    Column("agent", String(128), nullable=True),
    Column("taken_at", DateTime, nullable=True),
    Column("updated_at", DateTime, nullable=True),
    Column("closed_at", DateTime, nullable=True),
    Index("ix_handoff_requests_sender_status", "sender_id", "status"),
)

PUSHED = ("agent", "system")  # what the channels deliver to the customer: agent replies, hand-off notices
# Written out as literals, not bound: a partial index serves a query only when the planner can see
# that the query's condition implies the index's, and SQLite cannot see it through "IN (?, ?)".
_PUSHED_SQL = "role IN (%s)" % ", ".join("'%s'" % role for role in PUSHED)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False),
    Column("user_sub", String(128), nullable=True),  # only from a verified token
    Column("workspace_id", String(64), nullable=True),  # only from a verified token
    Column("role", String(8), nullable=False),  # user | bot | agent | system
    Column("text", Text, nullable=False),
    Column("buttons", Text, nullable=True),  # JSON [{title, payload}]
    Column("handoff_id", Integer, nullable=True),
    Column("author", String(128), nullable=True),  # the agent's subject for agent messages
    Column("created_at", DateTime, nullable=False),
    Index("ix_chat_messages_sender", "sender_id", "id"),
    Index("ix_chat_messages_user", "user_sub", "workspace_id", "id"),
    # Agent replies and hand-off notices are a few rows among thousands, and the cursors that look
    # for them stop at the last one delivered: without these, every REST turn and every second's
    # push poll read each bot and customer message written since (docs/decisions.md §33).
    Index("ix_chat_messages_pushed", "id", postgresql_where=text(_PUSHED_SQL), sqlite_where=text(_PUSHED_SQL)),
    Index(
        "ix_chat_messages_sender_pushed",
        "sender_id",
        "id",
        postgresql_where=text(_PUSHED_SQL),
        sqlite_where=text(_PUSHED_SQL),
    ),
)
_IS_PUSHED = chat_messages.c.role.in_([literal_column(f"'{role}'") for role in PUSHED])

rest_deliveries = Table(
    "rest_deliveries",
    metadata,
    Column("sender_id", String(128), primary_key=True),
    Column("delivered_id", Integer, nullable=False),  # the last chat_messages.id a REST response carried
    Column("updated_at", DateTime, nullable=False),
)

WAITING, TAKEN, RETURNED, CLOSED = "waiting", "taken", "returned", "closed"
ACTIVE = (WAITING, TAKEN)
ROLES = ("user", "bot", "agent", "system", "restart")  # restart: the customer started over here
MAX_SENDER = 128
MAX_SUMMARY = 2000
MAX_TOPIC = 64
MAX_PROMPT = 32
MAX_MESSAGE = 4000
MAX_BUTTONS = 12
CLAIM_ATTEMPTS = 8

# The statements of every turn, built once: building and keying a statement cost more than running it.
_INSERT_MESSAGE = insert(chat_messages)
_ACTIVE_HANDOFF = (
    select(handoff_requests)
    .where(and_(handoff_requests.c.sender_id == bindparam("sender"), handoff_requests.c.status.in_(ACTIVE)))
    .order_by(handoff_requests.c.id.desc())
    .limit(1)
)
_OWED = (
    select(chat_messages)
    .where(
        and_(
            chat_messages.c.sender_id == bindparam("sender"),
            chat_messages.c.id > bindparam("cursor"),
            _IS_PUSHED,
        )
    )
    .order_by(chat_messages.c.id)
    .limit(bindparam("limit", type_=Integer))
)
# The cursor and what is owed after it, in one round trip: no row when the conversation has no
# cursor yet; one row without a message when nothing is owed.
_CURSOR_AND_OWED = (
    select(rest_deliveries.c.delivered_id.label("rest_cursor"), *chat_messages.c)
    .select_from(
        rest_deliveries.outerjoin(
            chat_messages,
            and_(
                chat_messages.c.sender_id == rest_deliveries.c.sender_id,
                chat_messages.c.id > rest_deliveries.c.delivered_id,
                _IS_PUSHED,
            ),
        )
    )
    .where(rest_deliveries.c.sender_id == bindparam("sender"))
    .order_by(chat_messages.c.id)
    .limit(bindparam("limit", type_=Integer))
)
_MOVE_CURSOR = (
    update(rest_deliveries)
    .where(
        and_(rest_deliveries.c.sender_id == bindparam("sender"), rest_deliveries.c.delivered_id == bindparam("cursor"))
    )
    .values(delivered_id=bindparam("to"), updated_at=bindparam("at"))
)

# A customer's turn on PostgreSQL, in one statement (autocommit): the hand-off holding the
# conversation, the message kept under it (when ``keep``), the REST cursor and whether anything is
# owed after it. The common turn (a cursor, nothing owed) needs nothing more: it was six round trips
# (pre-ping, BEGIN, the hand-off, the insert, the cursor, COMMIT). PostgreSQL runs a data-modifying
# CTE once whatever reads it; the rest of the statement sees the snapshot before the insert, which
# changes nothing here (a customer's message is never owed to the customer).
_HOLDING = _ACTIVE_HANDOFF.cte("holding")
_KEPT_COLUMNS = [c for c in chat_messages.c if c.name not in ("id", "handoff_id")]
_KEPT = (
    insert(chat_messages)
    .from_select(
        [*(c.name for c in _KEPT_COLUMNS), "handoff_id"],
        select(
            *(bindparam(c.name, type_=c.type) for c in _KEPT_COLUMNS), select(_HOLDING.c.id).scalar_subquery()
        ).where(bindparam("keep", type_=Boolean)),
    )
    .returning(chat_messages.c.id)
    .cte("kept")
)
_REST_CURSOR = (
    select(rest_deliveries.c.delivered_id).where(rest_deliveries.c.sender_id == bindparam("sender")).scalar_subquery()
)
# A conversation's first REST call (``claim``, no cursor yet) also creates its cursor, where
# ``_rest_start`` puts it: after everything in the conversation (the message just kept included),
# or just before the first agent reply or notice of the hand-off holding it, which the caller is
# then owed. Every conversation's opening message took eight round trips here.
_OPEN_HANDOFF_PUSHED = (
    select(func.min(chat_messages.c.id))
    .where(
        and_(
            chat_messages.c.sender_id == bindparam("sender"),
            chat_messages.c.handoff_id == select(_HOLDING.c.id).scalar_subquery(),
            _IS_PUSHED,
        )
    )
    .scalar_subquery()
)
_LATEST = func.greatest(
    func.coalesce(
        select(func.max(chat_messages.c.id)).where(chat_messages.c.sender_id == bindparam("sender")).scalar_subquery(),
        0,
    ),
    func.coalesce(select(func.max(_KEPT.c.id)).scalar_subquery(), 0),
)
_STARTED = (
    postgresql_insert(rest_deliveries)
    .from_select(
        ["sender_id", "delivered_id", "updated_at"],
        select(
            bindparam("sender", type_=String),
            func.least(_LATEST, func.coalesce(_OPEN_HANDOFF_PUSHED - 1, _LATEST)),
            bindparam("at", type_=DateTime),
        ).where(
            and_(
                bindparam("claim", type_=Boolean),
                ~exists().where(rest_deliveries.c.sender_id == bindparam("sender")),
            )
        ),
    )
    .on_conflict_do_nothing(index_elements=["sender_id"])  # another call created it: claim as usual
    .returning(rest_deliveries.c.delivered_id)
    .cte("started")
)
_ONE_ROW = select(literal_column("1").label("one")).subquery("one_row")
_TURN_IN_ONE_STATEMENT = select(
    _REST_CURSOR.label("rest_cursor"),
    select(_STARTED.c.delivered_id).scalar_subquery().label("started_at"),
    # read only when the cursor is new (nearly never): it scans the conversation's messages
    case((_REST_CURSOR.is_(None), _OPEN_HANDOFF_PUSHED)).label("open_handoff_pushed"),
    exists()
    .where(
        and_(
            chat_messages.c.sender_id == bindparam("sender"),
            chat_messages.c.id > _REST_CURSOR,
            _IS_PUSHED,
        )
    )
    .label("owed"),
    select(func.count()).select_from(_KEPT).scalar_subquery().label("kept"),
    *_HOLDING.c,
).select_from(_ONE_ROW.outerjoin(_HOLDING, true()))

_engines: Dict[str, Engine] = {}
_autocommit_engines: Dict[str, Engine] = {}
_ready: set = set()
_lock = threading.Lock()


class HandoffError(Exception):
    """A hand-off that cannot do what was asked: ``code`` says why (unknown, not_yours, finished)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _migrate(url: str) -> None:
    for attempt in range(3):
        try:
            migrations.upgrade_head(url)
            return
        except (IntegrityError, OperationalError, ProgrammingError):
            # another process (action server, Rasa, web app start together) migrated at the same moment
            if attempt == 2:
                raise
            log.info("conversation store: concurrent migration, retrying")


def engine_for(url: Optional[str] = None) -> Engine:
    resolved = url or database_url()
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = get_engine(resolved)  # share the billing pool (and SQLite pragmas)
            _engines[resolved] = engine
        if resolved not in _ready:
            _migrate(resolved)
            _ready.add(resolved)
        return engine


@contextmanager
def _one_statement(url: Optional[str], rows: int = 1) -> Iterator[Any]:
    """A connection for one statement that is whole on its own. On PostgreSQL it runs in autocommit:
    a statement is atomic there, and the BEGIN and COMMIT around it were two of a write's three
    round trips. In a transaction on SQLite, whose driver inserts several rows one by one, and for
    more ``rows`` than psycopg2 sends in one ``INSERT ... VALUES`` page."""
    engine = engine_for(url)
    one_page = rows <= getattr(engine.dialect, "executemany_values_page_size", 0)
    if engine.dialect.name != "postgresql" or not one_page:
        with engine.begin() as connection:
            yield connection
        return
    with _autocommit_engine(engine).connect() as connection:
        yield connection


def _autocommit_engine(engine: Engine) -> Engine:
    """A pool of its own whose connections stay in autocommit: switching a pooled connection in and
    out of it costs a ``SET default_transaction_isolation`` round trip each time (measured: three a
    turn), more than the BEGIN and COMMIT it saves."""
    key = engine.url.render_as_string(hide_password=False)
    with _lock:
        autocommit = _autocommit_engines.get(key)
        if autocommit is None:
            autocommit = _autocommit_engines[key] = create_engine(
                engine.url, isolation_level="AUTOCOMMIT", pool_pre_ping=True, pool_size=2, future=True
            )
        return autocommit


def _utcnow(now: Optional[datetime] = None) -> datetime:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).replace(tzinfo=None) if now.tzinfo else now


def _clean(value: Optional[str], limit: int) -> str:
    # Stored as plain text and shown escaped by the console; only length and control chars matter here.
    text = "".join(ch for ch in (value or "") if ch == "\n" or ch >= " ")
    return text[:limit]


def _language(value: str) -> str:
    return value if value in ("vi", "en") else "vi"


def _row(row: Any, leave_out: str = "") -> Dict[str, Any]:
    item = dict(row._mapping)
    item.pop(leave_out, None)
    if "buttons" in item:
        try:
            item["buttons"] = json.loads(item["buttons"]) if item["buttons"] else []
        except ValueError:
            item["buttons"] = []
    return item


# --- feedback --------------------------------------------------------------------------------------


def record_feedback(
    sender_id: str,
    topic: str,
    helpful: bool,
    workspace_id: Optional[str] = None,
    language: str = "vi",
    url: Optional[str] = None,
    now: Optional[datetime] = None,
    prompt: Optional[str] = None,
) -> bool:
    """Keep a "was this helpful?" answer. With the prompt's id, a conversation has one answer per
    prompt: a second one replaces the first (its yes/no and language; the topic is the prompt's).
    True when a new answer was counted, False when an earlier one was replaced."""
    at = _utcnow(now)
    row = {
        "sender_id": _clean(sender_id, MAX_SENDER) or "unknown",
        "workspace_id": workspace_id,
        "topic": _clean(topic, MAX_TOPIC) or "unknown",
        "helpful": bool(helpful),
        "language": _language(language),
        "created_at": at,
        "prompt": _clean(prompt, MAX_PROMPT) or None,
    }
    engine = engine_for(url)
    for attempt in range(2):
        try:
            with engine.begin() as connection:
                if row["prompt"] is not None and _replace_feedback(connection, row, at):
                    return False
                connection.execute(insert(feedback).values(**row))
                return True
        except IntegrityError:
            # the same prompt rated twice at the same moment (two servers): the second replaces
            if attempt == 1:
                raise
    return False  # not reached


def _replace_feedback(connection: Any, row: Dict[str, Any], at: datetime) -> bool:
    values: Dict[str, Any] = {"helpful": row["helpful"], "language": row["language"], "updated_at": at}
    if row["workspace_id"]:
        values["workspace_id"] = row["workspace_id"]
    done = connection.execute(
        update(feedback)
        .where(and_(feedback.c.sender_id == row["sender_id"], feedback.c.prompt == row["prompt"]))
        .values(**values)
    )
    return done.rowcount > 0


def list_feedback(url: Optional[str] = None, limit: int = 100) -> List[dict]:
    with engine_for(url).connect() as connection:
        rows = connection.execute(select(feedback).order_by(feedback.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


def feedback_counts(url: Optional[str] = None) -> List[Dict[str, Any]]:
    """[(topic, total, helpful)] over every answer ever given, whatever prompt asked it."""
    helpful = func.sum(func.cast(feedback.c.helpful, Integer))
    query = select(feedback.c.topic, func.count().label("total"), helpful.label("helpful")).group_by(feedback.c.topic)
    with engine_for(url).connect() as connection:
        return [
            {"topic": topic, "total": int(total), "helpful": int(yes or 0)}
            for topic, total, yes in connection.execute(query).all()
        ]


# --- hand-offs -------------------------------------------------------------------------------------


def record_handoff(
    sender_id: str,
    summary: str,
    workspace_id: Optional[str] = None,
    language: str = "vi",
    url: Optional[str] = None,
    now: Optional[datetime] = None,
    *,
    user_sub: Optional[str] = None,
    question: str = "",
    bot_answer: str = "",
    diagnosis: str = "",
    after_hours: bool = False,
    expected_by: Optional[datetime] = None,
) -> Dict[str, Any]:
    """Hold this conversation for a person. Returns the hand-off with ``created``: False when the
    conversation was already waiting or taken (then its summary is refreshed, no second row)."""
    sender = _clean(sender_id, MAX_SENDER) or "unknown"
    at = _utcnow(now)
    fields = {
        "workspace_id": workspace_id,
        "user_sub": _clean(user_sub, MAX_SENDER) or None,
        "summary": _clean(summary, MAX_SUMMARY),
        "question": _clean(question, MAX_SUMMARY),
        "bot_answer": _clean(bot_answer, MAX_SUMMARY),
        "diagnosis": _clean(diagnosis, MAX_SUMMARY),
        "language": _language(language),
        "updated_at": at,
    }
    with engine_for(url).begin() as connection:
        active = connection.execute(
            select(handoff_requests.c.id)
            .where(and_(handoff_requests.c.sender_id == sender, handoff_requests.c.status.in_(ACTIVE)))
            .order_by(handoff_requests.c.id.desc())
        ).first()
        if active is not None:
            # asked again: a fresher summary, but never forget who it is
            refreshed = {k: v for k, v in fields.items() if v or k not in ("workspace_id", "user_sub")}
            connection.execute(update(handoff_requests).where(handoff_requests.c.id == active.id).values(**refreshed))
            handoff_id, created = active.id, False
        else:
            result = connection.execute(
                insert(handoff_requests).values(
                    sender_id=sender,
                    status=WAITING,
                    created_at=at,
                    after_hours=bool(after_hours),
                    expected_by=_utcnow(expected_by) if expected_by else None,
                    **fields,
                )
            )
            handoff_id, created = result.inserted_primary_key[0], True
    return {**get_handoff(handoff_id, url), "created": created}


def get_handoff(handoff_id: int, url: Optional[str] = None) -> Dict[str, Any]:
    with engine_for(url).connect() as connection:
        row = connection.execute(select(handoff_requests).where(handoff_requests.c.id == handoff_id)).first()
    if row is None:
        raise HandoffError("unknown")
    return _row(row)


def active_handoff(sender_id: str, url: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The hand-off holding this conversation (waiting or taken), or None: the bot answers."""
    with engine_for(url).connect() as connection:
        return _active_handoff_in(connection, sender_id)


def list_handoffs(
    url: Optional[str] = None,
    limit: int = 100,
    workspace_id: Optional[str] = None,
    statuses: Optional[Sequence[str]] = None,
) -> List[dict]:
    query = select(handoff_requests).order_by(handoff_requests.c.id.desc()).limit(limit)
    if workspace_id is not None:
        query = query.where(handoff_requests.c.workspace_id == workspace_id)
    if statuses:
        query = query.where(handoff_requests.c.status.in_(list(statuses)))
    with engine_for(url).connect() as connection:
        return [_row(r) for r in connection.execute(query)]


_NOTICES = {
    # what the customer reads when the hand-off changes hands (the console shows it too)
    TAKEN: {
        "vi": "Nhân viên hỗ trợ {agent} đã nhận cuộc trò chuyện và sẽ trả lời bạn ngay tại đây.",
        "en": "Support agent {agent} has joined and will answer you here.",
    },
    RETURNED: {
        "vi": "Nhân viên hỗ trợ đã chuyển bạn lại cho trợ lý tự động. Bạn có thể tiếp tục đặt câu hỏi.",
        "en": "The support agent handed you back to the assistant. You can keep asking questions.",
    },
    CLOSED: {
        "vi": "Nhân viên hỗ trợ đã kết thúc cuộc trò chuyện. Cảm ơn bạn! "
        "Trợ lý tự động sẽ trả lời các câu hỏi tiếp theo.",
        "en": "The support agent closed the conversation. Thank you! The assistant will answer your next questions.",
    },
}


def _transition(
    handoff_id: int,
    agent: str,
    status: str,
    allowed_from: Sequence[str],
    url: Optional[str],
    now: Optional[datetime],
    agent_name: Optional[str] = None,
) -> Dict[str, Any]:
    at = _utcnow(now)
    agent = _clean(agent, MAX_SENDER)
    with engine_for(url).begin() as connection:
        row = connection.execute(select(handoff_requests).where(handoff_requests.c.id == handoff_id)).first()
        if row is None:
            raise HandoffError("unknown")
        if row.status not in ACTIVE:
            raise HandoffError("finished")
        if row.status == TAKEN and row.agent != agent:
            raise HandoffError("not_yours")
        if row.status not in allowed_from:
            raise HandoffError("not_taken")
        values: Dict[str, Any] = {"status": status, "updated_at": at, "agent": agent}
        if status == TAKEN:
            values["taken_at"] = at
        if status in (RETURNED, CLOSED):
            values["closed_at"] = at
        # the status in the WHERE clause: of two agents taking it at once, one wins
        done = connection.execute(
            update(handoff_requests)
            .where(and_(handoff_requests.c.id == handoff_id, handoff_requests.c.status == row.status))
            .values(**values)
        )
        if done.rowcount != 1:
            raise HandoffError("not_yours")
        notice = _NOTICES[status][_language(row.language)].format(agent=agent_name or agent)
        connection.execute(
            insert(chat_messages).values(
                sender_id=row.sender_id,
                user_sub=row.user_sub,
                workspace_id=row.workspace_id,
                role="system",
                text=notice,
                buttons=None,
                handoff_id=handoff_id,
                author=agent,
                created_at=at,
            )
        )
    return get_handoff(handoff_id, url)


def take_handoff(
    handoff_id: int,
    agent: str,
    url: Optional[str] = None,
    now: Optional[datetime] = None,
    agent_name: Optional[str] = None,
) -> Dict[str, Any]:
    return _transition(handoff_id, agent, TAKEN, (WAITING,), url, now, agent_name)


def hand_back(handoff_id: int, agent: str, url: Optional[str] = None, now: Optional[datetime] = None) -> Dict[str, Any]:
    return _transition(handoff_id, agent, RETURNED, ACTIVE, url, now)


def close_handoff(
    handoff_id: int, agent: str, url: Optional[str] = None, now: Optional[datetime] = None
) -> Dict[str, Any]:
    return _transition(handoff_id, agent, CLOSED, ACTIVE, url, now)


def cancel_by_customer(sender_id: str, url: Optional[str] = None, now: Optional[datetime] = None) -> bool:
    """The customer started over: their waiting or taken hand-off ends (the bot answers again)."""
    at = _utcnow(now)
    with engine_for(url).begin() as connection:
        done = connection.execute(
            update(handoff_requests)
            .where(and_(handoff_requests.c.sender_id == sender_id, handoff_requests.c.status.in_(ACTIVE)))
            .values(status=CLOSED, closed_at=at, updated_at=at)
        )
    return done.rowcount > 0


# --- messages --------------------------------------------------------------------------------------


def _message_row(
    sender_id: str,
    role: str,
    text: str,
    *,
    user_sub: Optional[str] = None,
    workspace_id: Optional[str] = None,
    buttons: Optional[List[Dict[str, str]]] = None,
    handoff_id: Optional[int] = None,
    author: Optional[str] = None,
    now: Optional[datetime] = None,
) -> Dict[str, Any]:
    if role not in ROLES:
        raise ValueError(f"unknown message role {role!r}")
    cleaned = [
        {"title": _clean(str(b.get("title", "")), 200), "payload": _clean(str(b.get("payload", "")), 500)}
        for b in (buttons or [])[:MAX_BUTTONS]
        if isinstance(b, dict)
    ]
    return {
        "sender_id": _clean(sender_id, MAX_SENDER) or "unknown",
        "user_sub": _clean(user_sub, MAX_SENDER) or None,
        "workspace_id": workspace_id,
        "role": role,
        "text": _clean(text, MAX_MESSAGE),
        "buttons": json.dumps(cleaned, ensure_ascii=False) if cleaned else None,
        "handoff_id": handoff_id,
        "author": _clean(author, MAX_SENDER) or None,
        "created_at": _utcnow(now),
    }


def add_message(
    sender_id: str,
    role: str,
    text: str,
    *,
    user_sub: Optional[str] = None,
    workspace_id: Optional[str] = None,
    buttons: Optional[List[Dict[str, str]]] = None,
    handoff_id: Optional[int] = None,
    author: Optional[str] = None,
    url: Optional[str] = None,
    now: Optional[datetime] = None,
) -> int:
    row = _message_row(
        sender_id,
        role,
        text,
        user_sub=user_sub,
        workspace_id=workspace_id,
        buttons=buttons,
        handoff_id=handoff_id,
        author=author,
        now=now,
    )
    with _one_statement(url) as connection:
        return connection.execute(_INSERT_MESSAGE, row).inserted_primary_key[0]


def add_bot_replies(
    sender_id: str,
    replies: Sequence[Tuple[str, Optional[List[Dict[str, Any]]]]],
    *,
    user_sub: Optional[str] = None,
    workspace_id: Optional[str] = None,
    url: Optional[str] = None,
    now: Optional[datetime] = None,
) -> None:
    """A turn's bot replies (text, buttons), in order, all of them or none.

    One statement for all of them: on PostgreSQL psycopg2 sends one ``INSERT ... VALUES (..), (..)``
    (up to its page size of 1000 rows; a turn has a few), whose rows take their ids in the order
    listed (as the tracker store's insert of a turn's events); SQLite inserts them one after another
    in one transaction. Each reply's own statement was a round trip apiece."""
    rows = [
        _message_row(sender_id, "bot", text, user_sub=user_sub, workspace_id=workspace_id, buttons=buttons, now=now)
        for text, buttons in replies
    ]
    if rows:
        with _one_statement(url, rows=len(rows)) as connection:
            connection.execute(_INSERT_MESSAGE, rows)


def conversation(sender_id: str, url: Optional[str] = None, after_id: int = 0, limit: int = 200) -> List[dict]:
    """The messages of one conversation, oldest first (the console's view of a hand-off)."""
    query = (
        select(chat_messages)
        .where(and_(chat_messages.c.sender_id == sender_id, chat_messages.c.id > after_id))
        .order_by(chat_messages.c.id.desc())
        .limit(limit)
    )
    with engine_for(url).connect() as connection:
        return [_row(r) for r in reversed(connection.execute(query).all())]


def history(user_sub: str, workspace_id: Optional[str], url: Optional[str] = None, limit: int = 100) -> List[dict]:
    """A verified user's latest messages in this workspace since they last started over, oldest first,
    whatever device wrote them."""
    mine = and_(chat_messages.c.user_sub == user_sub, chat_messages.c.workspace_id == workspace_id)
    with engine_for(url).connect() as connection:
        restarted = (
            connection.execute(
                select(func.max(chat_messages.c.id)).where(and_(mine, chat_messages.c.role == "restart"))
            ).scalar()
            or 0
        )
        query = (
            select(chat_messages)
            .where(and_(mine, chat_messages.c.id > restarted))
            .order_by(chat_messages.c.id.desc())
            .limit(limit)
        )
        return [_row(r) for r in reversed(connection.execute(query).all())]


def messages_to_push(after_id: int, url: Optional[str] = None, limit: int = 200) -> List[dict]:
    """Agent and hand-off messages newer than ``after_id``: what the channel sends to the sockets."""
    query = (
        select(chat_messages)
        .where(and_(chat_messages.c.id > after_id, _IS_PUSHED))
        .order_by(chat_messages.c.id)
        .limit(limit)
    )
    with engine_for(url).connect() as connection:
        return [_row(r) for r in connection.execute(query)]


def last_message_id(url: Optional[str] = None) -> int:
    with engine_for(url).connect() as connection:
        return int(connection.execute(select(func.max(chat_messages.c.id))).scalar() or 0)


# --- delivery over REST ----------------------------------------------------------------------------


def _rest_start(connection: Any, sender_id: str) -> Tuple[int, bool]:
    """Where a conversation's REST deliveries begin, the first time its REST caller is answered: after
    everything already in it (older replies went to the widget), except the agent replies and notices
    of a hand-off still open, which the caller is owed; and whether anything is owed from there (False
    when the start is its latest message). One statement: this is every conversation's first message."""
    open_handoff = (
        select(func.max(handoff_requests.c.id))
        .where(and_(handoff_requests.c.sender_id == sender_id, handoff_requests.c.status.in_(ACTIVE)))
        .scalar_subquery()
    )
    last, first = connection.execute(
        select(
            select(func.max(chat_messages.c.id)).where(chat_messages.c.sender_id == sender_id).scalar_subquery(),
            select(func.min(chat_messages.c.id))
            .where(
                and_(
                    chat_messages.c.sender_id == sender_id,
                    chat_messages.c.handoff_id == open_handoff,  # NULL (no row) without an open hand-off
                    _IS_PUSHED,
                )
            )
            .scalar_subquery(),
        )
    ).one()
    last = int(last or 0)
    start = min(last, int(first) - 1) if first is not None else last
    return start, start < last


class _CursorMoved(Exception):
    """Another call claimed this conversation's messages first: look again from the new cursor."""


def _active_handoff_in(connection: Any, sender_id: str) -> Optional[Dict[str, Any]]:
    row = connection.execute(_ACTIVE_HANDOFF, {"sender": sender_id}).first()
    return _row(row) if row is not None else None


def _claim_in(connection: Any, sender_id: str, limit: int, at: datetime) -> List[dict]:
    found = connection.execute(_CURSOR_AND_OWED, {"sender": sender_id, "limit": limit}).all()
    if found:
        cursor = found[0].rest_cursor
        rows = [row for row in found if row.id is not None]
    else:  # the first REST call of this conversation
        cursor, owed = _rest_start(connection, sender_id)
        connection.execute(insert(rest_deliveries).values(sender_id=sender_id, delivered_id=cursor, updated_at=at))
        # nothing after the latest message: a reply written since that read goes to the next call
        rows = connection.execute(_OWED, {"sender": sender_id, "cursor": cursor, "limit": limit}).all() if owed else []
    if not rows:
        return []
    moved = connection.execute(_MOVE_CURSOR, {"sender": sender_id, "cursor": cursor, "to": rows[-1].id, "at": at})
    if moved.rowcount != 1:
        raise _CursorMoved()
    return [_row(r, leave_out="rest_cursor") for r in rows]


def _claiming(sender_id: str, url: Optional[str], work: Callable[[Any], Any], unclaimed: Callable[[Any], Any]) -> Any:
    """``work(connection)`` in one transaction, again from the start when another call moved the REST
    cursor (compare-and-set) or created it at the same moment; ``unclaimed(connection)`` (the same
    work without the claim: the messages wait for the next call) when it kept moving."""
    engine = engine_for(url)
    for attempt in range(CLAIM_ATTEMPTS):
        try:
            with engine.begin() as connection:
                return work(connection)
        except (_CursorMoved, IntegrityError):
            pass
        except OperationalError:
            # SQLite: another call wrote since this one read (WAL refuses the upgrade); a real failure
            # is raised after the last attempt
            if attempt == CLAIM_ATTEMPTS - 1:
                raise
        time.sleep(0.01 * (attempt + 1))
    log.warning("REST deliveries of %s: the cursor kept moving; nothing returned this time", sender_id)
    with engine.begin() as connection:
        return unclaimed(connection)


def claim_for_rest(
    sender_id: str, url: Optional[str] = None, limit: int = 200, now: Optional[datetime] = None
) -> List[dict]:
    """This conversation's agent replies and hand-off notices that no REST response has carried yet,
    oldest first; each is returned by one call only (the cursor moves by compare-and-set, so two
    calls at the same moment, on one Rasa server or two, never both get a message)."""
    at = _utcnow(now)
    return _claiming(sender_id, url, lambda connection: _claim_in(connection, sender_id, limit, at), lambda _: [])


def open_turn(
    sender_id: str,
    said: str = "",
    *,
    claim_rest: bool = True,
    user_sub: Optional[str] = None,
    workspace_id: Optional[str] = None,
    url: Optional[str] = None,
    limit: int = 200,
    now: Optional[datetime] = None,
) -> Tuple[Optional[Dict[str, Any]], List[dict]]:
    """A customer's message arrives: the hand-off holding the conversation (None: the bot answers)
    and the message kept (``said``, when it shows anything; with that hand-off's id), in one write;
    over REST (``claim_rest``) also what the caller is owed, claimed as ``claim_for_rest`` claims it,
    when there is something to claim. The claim is a write of its own, after the message: when it
    fails the message and its hand-off still stand and the replies wait for the next call (they
    are not lost: the cursor did not move). The socket pushes what is owed instead
    (``messages_to_push``): it claims nothing."""
    at = _utcnow(now)
    message = (
        _message_row(sender_id, "user", said, user_sub=user_sub, workspace_id=workspace_id, now=at)
        if said.strip()
        else None
    )
    handoff, cursor, owed = _keep_turn(sender_id, message, url, claim_rest, at)
    if not claim_rest or (cursor is not None and not owed):
        return handoff, []
    try:
        return handoff, claim_for_rest(sender_id, url, limit, now=at)
    except Exception:
        log.exception("REST deliveries of %s: the claim failed; the replies wait for the next call", sender_id)
        return handoff, []


def _keep_turn(
    sender_id: str, message: Optional[Dict[str, Any]], url: Optional[str], claim: bool, at: datetime
) -> Tuple[Optional[Dict[str, Any]], Optional[int], bool]:
    """The hand-off holding the conversation, with ``message`` kept under it; the REST cursor (None:
    not created yet; on PostgreSQL a REST call creates it here) and whether anything is owed after it."""
    engine = engine_for(url)
    if engine.dialect.name == "postgresql":
        values = message or dict.fromkeys(c.name for c in _KEPT_COLUMNS)  # keep=False: nothing inserted
        params = {c.name: values[c.name] for c in _KEPT_COLUMNS}
        params.update(sender=sender_id, keep=message is not None, claim=claim, at=at)
        with _autocommit_engine(engine).connect() as connection:
            found = connection.execute(_TURN_IN_ONE_STATEMENT, params).one()
        handoff = {c.name: found._mapping[c.name] for c in handoff_requests.c} if found.id is not None else None
        if found.rest_cursor is None and found.started_at is not None:  # the cursor was created now
            return handoff, found.started_at, found.open_handoff_pushed is not None
        return handoff, found.rest_cursor, bool(found.owed)
    with engine.begin() as connection:
        handoff = _active_handoff_in(connection, sender_id)
        if message is not None:
            connection.execute(_INSERT_MESSAGE, dict(message, handoff_id=handoff["id"] if handoff else None))
        found = connection.execute(_CURSOR_AND_OWED, {"sender": sender_id, "limit": 1}).first()
    if found is None:
        return handoff, None, False
    return handoff, found.rest_cursor, found.id is not None


def skip_for_rest(sender_id: str, url: Optional[str] = None, now: Optional[datetime] = None) -> None:
    """The REST caller started over: nothing written before now is delivered any more (a conversation
    without a cursor yet needs none: its first one starts after what is already there)."""
    at = _utcnow(now)
    with engine_for(url).begin() as connection:
        last = int(
            connection.execute(
                select(func.max(chat_messages.c.id)).where(chat_messages.c.sender_id == sender_id)
            ).scalar()
            or 0
        )
        connection.execute(
            update(rest_deliveries)
            .where(and_(rest_deliveries.c.sender_id == sender_id, rest_deliveries.c.delivered_id < last))
            .values(delivered_id=last, updated_at=at)
        )
