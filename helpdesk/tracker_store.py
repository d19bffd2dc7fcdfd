"""Rasa's SQL tracker store, loading only the part of a conversation that a turn needs.

Rasa 3.6 rebuilds the whole tracker of the current session on every message: it reads every
event from the database, replays them, featurizes the whole history for every policy and sends
every event to the action server. A turn therefore costs more the longer the conversation is
(43 ms at turn 5, 401 ms at turn 300 here). This store keeps every event in the database, as
Rasa's own does (the console, ``GET /conversations/<id>/tracker`` and analytics read the full
history through ``retrieve_full_tracker``), but a turn loads:

- the events of the last ``window_turns`` user messages of the session (the policies look at
  five turns; the actions at most six user messages: the hand-off summary; a rating of an older
  "was this helpful?" prompt is looked up by ``rated_prompt``, helpdesk/ratings.py), and
- before them, the state that older events left: the latest value of every slot, the active loop
  (form) and whether the conversation is paused, as the ``SlotSet``/``ActiveLoop``/
  ``ConversationPaused`` events that set them.

The resulting tracker has the same slots, form and pause state as the full one and the same
recent turns, so the policies predict the same actions and actions read the same slots, at a cost
that no longer depends on the conversation's length. A conversation shorter than the window is
loaded whole, exactly as Rasa does.

``save`` appends only the events added since the tracker was loaded (Rasa's own ``save`` counts
the stored events and would skip new events of a tracker loaded in part).

In endpoints.yml::

    tracker_store:
      type: helpdesk.tracker_store.WindowedSQLTrackerStore
      dialect: sqlite            # or postgresql (host, port, username, password)
      db: var/rasa-tracker.db
      window_turns: 10
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any, Dict, List, Optional, Text

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401  (sa.orm.session)
import sqlalchemy.pool  # noqa: F401
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from helpdesk import rasa_speedups, ratings

rasa_speedups.install()  # the store deserialises events: with the type table (rasa_speedups.py)

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_TURNS = 10
INDEX_NAME = "ix_events_sender_type_id"
# Set on a tracker this store loaded: how many of its events are already in the database.
STORED = "_helpdesk_stored_events"
# The current session's events, as Rasa's SQLTrackerStore._event_query selects them: from the
# latest SessionStarted's timestamp on, or all of them before the first session starts.
_SESSION_START = (
    f"(SELECT max(timestamp) FROM events WHERE sender_id = :sender AND type_name = '{SessionStarted.type_name}')"
)
SESSION_EVENTS = (
    "SELECT {columns} FROM events WHERE sender_id = :sender"
    f" AND (timestamp >= {_SESSION_START} OR {_SESSION_START} IS NULL)"
)
# One statement: a first row (the session's first id, its user message ``window_turns`` back, and
# the action before that message, from which the window starts), then, when the session is shorter
# than the window (no such message), every event of the session in order.
WINDOW_OR_SESSION = (
    "WITH session AS ("
    f"SELECT coalesce(max(id), 0) AS start FROM events WHERE sender_id = :sender AND type_name = '{SessionStarted.type_name}'"
    "), window_user AS ("
    "SELECT session.start, (SELECT id FROM events WHERE sender_id = :sender"
    f" AND type_name = '{UserUttered.type_name}' AND id >= session.start ORDER BY id DESC LIMIT 1 OFFSET :skip) AS cut"
    " FROM session"
    "), head AS ("
    "SELECT window_user.start, coalesce((SELECT max(id) FROM events WHERE sender_id = :sender"
    " AND type_name = 'action' AND id >= window_user.start AND id < window_user.cut), window_user.cut) AS cut"
    " FROM window_user"
    ") "
    "SELECT head.start, -1 AS id, head.cut, NULL AS data FROM head "
    "UNION ALL "
    + SESSION_EVENTS.format(columns="NULL, events.id, NULL, events.data").replace(
        "FROM events WHERE", "FROM events, head WHERE head.cut IS NULL AND", 1
    )
    + " ORDER BY 2"
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never wait for the writer; NORMAL: a commit is durable against a crash of the
    # process (the case the supervisor handles), not against a power cut, and costs no fsync.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class WindowedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` whose ``retrieve`` loads the last ``window_turns`` turns plus the state.

    Its queries (every one: the turn's load and save, the rating lookup, the full history and the
    list of conversations) run in a worker thread (``asyncio.to_thread``): Rasa serves every conversation on
    one event loop, and Rasa's own store queries on it, so each round trip to the database stalled
    every other conversation's turn (a fifth of the loop's time under load, docs/decisions.md §29).
    A conversation's turns stay in order: Rasa holds its lock across load, turn and save."""

    engine: sa.engine.Engine  # set by SQLTrackerStore.__init__ (Rasa leaves it unannotated)

    def __init__(self, *args: Any, window_turns: int = DEFAULT_WINDOW_TURNS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        window_turns = int(window_turns)
        if window_turns < 1:
            raise ValueError(f"window_turns must be at least 1, not {window_turns}")
        self.window_turns = window_turns
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 opens and closes a new SQLite connection for every session (NullPool):
            # a tenth of a turn here. One process, one event loop thread: keep a few open.
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(
                url, poolclass=sa.pool.QueuePool, pool_size=2, max_overflow=8, connect_args={"check_same_thread": False}
            )
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        elif self.engine.dialect.name == "postgresql":
            # Every statement of this store is whole on its own: a read is one statement (or, for
            # a conversation longer than the window, three, under the conversation's lock, so no
            # turn writes between them) and a save is one multi-row INSERT. Autocommit drops the
            # BEGIN and COMMIT/ROLLBACK round trips around each: 9 statements a turn became 3.
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", **create_engine_kwargs(url))
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self._ensure_index()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The current session's tracker: the last turns, after the state older events left."""
        return self._loaded(sender_id, await asyncio.to_thread(self._load_window, sender_id))

    def _loaded(self, sender_id: Text, events: List[Dict[Text, Any]]) -> Optional[DialogueStateTracker]:
        tracker = self._tracker_of(sender_id, events)
        if tracker is not None:
            setattr(tracker, STORED, len(tracker.events))
        return tracker

    async def get_or_create_tracker(
        self, sender_id: Text, max_event_history: Optional[int] = None, append_action_listen: bool = True
    ) -> DialogueStateTracker:
        """Rasa's, except that a conversation whose read found no event at all starts as stored up to
        nothing: Rasa's ``create_tracker`` saves the new tracker at once, and the save of a tracker the
        store did not load first counts what is stored (a round trip on every conversation's first
        message, whose answer is the slowest of all: docs/decisions.md §30). The new tracker is
        saved as Rasa saves it (its ``action_listen``, or nothing)."""
        self.max_event_history = max_event_history
        events = await asyncio.to_thread(self._load_window, sender_id)
        tracker = self._loaded(sender_id, events)
        if tracker is not None:
            return tracker
        if events:  # stored events but no domain to make them a tracker yet: Rasa's way
            return await self.create_tracker(sender_id, append_action_listen=append_action_listen)
        tracker = self.init_tracker(sender_id)
        if append_action_listen:
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        setattr(tracker, STORED, 0)
        await self.save(tracker)
        return tracker

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        """Every event of every session (the console, analytics), read off the event loop too."""
        return self._tracker_of(conversation_id, await asyncio.to_thread(self._all_events, conversation_id))

    def _tracker_of(self, sender_id: Text, events: List[Dict[Text, Any]]) -> Optional[DialogueStateTracker]:
        """The tracker those events make, as Rasa's store makes it (None without events or a domain)."""
        if not events or not self.domain:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    async def keys(self) -> List[Text]:
        return await asyncio.to_thread(self._keys)

    def _all_events(self, sender_id: Text) -> List[Dict[Text, Any]]:
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=True)
            return [json.loads(row.data) for row in query.all()]

    def _keys(self) -> List[Text]:
        with self.session_scope() as session:
            return [sender_id for (sender_id,) in session.query(self.SQLEvent.sender_id).distinct().all()]

    def _load_window(self, sender_id: Text) -> List[Dict[Text, Any]]:
        with self.engine.connect() as connection:
            return self._windowed_events(connection, sender_id)

    def _ensure_index(self) -> None:
        """One index serves every query of a windowed load from the index alone: the session's
        start, the window's first user message, the latest event of each state-setting kind."""
        statement = sa.text(
            f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON events (sender_id, type_name, id, action_name)"
        )
        try:
            with self.engine.begin() as connection:
                connection.execute(statement)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as error:
            # another Rasa server created it at the same moment
            logger.info(f"index {INDEX_NAME} not created here: {error}")

    def _windowed_events(self, connection: Any, sender_id: Text) -> List[Dict[Text, Any]]:
        # plain SQL on a Core connection (no ORM objects) and the index (sender_id, type_name, id,
        # action_name): one statement for a conversation shorter than the window, three otherwise
        run = lambda sql, **params: connection.execute(sa.text(sql), dict(sender=sender_id, **params))  # noqa: E731
        rows = run(WINDOW_OR_SESSION, skip=self.window_turns - 1).fetchall()
        start, cut = rows[0][0], rows[0][2]
        if cut is None:  # shorter than the window: the whole session, as Rasa loads it
            return [json.loads(row[3]) for row in rows[1:]]
        latest = run(
            "SELECT type_name, action_name, max(id) FROM events WHERE sender_id = :sender"
            " AND type_name IN ('slot', 'active_loop', 'pause', 'resume', 'restart', 'reset_slots')"
            " AND id >= :start AND id < :cut GROUP BY type_name, action_name",
            start=start,
            cut=cut,
        ).fetchall()

        def newest(*types: Text) -> int:
            return max((row[2] for row in latest if row[0] in types), default=0)

        # nothing before the latest restart counts; no slot before the latest slot reset
        restart = newest(Restarted.type_name)
        slots_from = max(restart, newest(AllSlotsReset.type_name))
        state_ids = [row[2] for row in latest if row[0] == SlotSet.type_name and row[2] > slots_from]
        state_ids += [
            i
            for i in (newest(ActiveLoop.type_name), newest(ConversationPaused.type_name, ConversationResumed.type_name))
            if i > restart
        ]
        rows = connection.execute(
            sa.text(
                "SELECT data FROM events WHERE sender_id = :sender AND (id >= :cut OR id IN :state) ORDER BY id"
            ).bindparams(sa.bindparam("state", expanding=True)),
            dict(sender=sender_id, cut=cut, state=state_ids or [-1]),
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    async def rated_prompt(self, sender_id: Text, timestamp: float) -> Optional[Text]:
        """The intent of the question a "was this helpful?" prompt followed ("" when none), the
        prompt found in the whole stored conversation by its bot event's timestamp (its id,
        helpdesk/ratings.py); None when this conversation has no such prompt. A rating can answer
        a prompt older than the turns ``retrieve`` loads; this costs two indexed reads whatever
        the conversation's length."""
        return await asyncio.to_thread(self._rated_prompt, sender_id, timestamp)

    def _rated_prompt(self, sender_id: Text, timestamp: float) -> Optional[Text]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, data FROM events WHERE sender_id = :sender AND type_name = :type"
                    " AND timestamp BETWEEN :low AND :high ORDER BY id DESC"
                ),
                dict(sender=sender_id, type=BotUttered.type_name, low=timestamp - 0.001, high=timestamp + 0.001),
            ).fetchall()
            for row_id, data in rows:
                event = json.loads(data)
                if event.get("timestamp") != timestamp or not ratings.is_prompt(event):
                    continue
                intent = connection.execute(
                    sa.text(
                        "SELECT intent_name FROM events WHERE sender_id = :sender AND type_name = :type"
                        " AND id < :prompt ORDER BY id DESC LIMIT 1"
                    ),
                    dict(sender=sender_id, type=UserUttered.type_name, prompt=row_id),
                ).scalar()
                return intent or ""
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Appends the events added since the tracker was loaded (or last saved), in one Core
        insert: the ORM's unit of work (an object per event, then a flush) cost a tenth of a turn."""
        await self.stream_events(tracker)
        stored = getattr(tracker, STORED, None)
        if stored is None:
            # a tracker this store did not load (a new conversation): what is stored of its
            # session, counted as Rasa's own save counts it
            stored = await asyncio.to_thread(self._stored_in_session, tracker.sender_id)
        rows = [self._row(tracker.sender_id, event) for event in itertools.islice(tracker.events, stored, None)]
        if rows:
            await asyncio.to_thread(self._insert, rows)
        setattr(tracker, STORED, len(tracker.events))

    def _stored_in_session(self, sender_id: Text) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(sa.text(SESSION_EVENTS.format(columns="count(*)")), dict(sender=sender_id)).scalar()
            )

    def _insert(self, rows: List[Dict[Text, Any]]) -> None:
        with self.engine.begin() as connection:
            connection.execute(self.SQLEvent.__table__.insert(), rows)  # ids follow the rows' order

    @staticmethod
    def _row(sender_id: Text, event: Event) -> Dict[Text, Any]:
        """The columns Rasa's SQLTrackerStore writes for an event."""
        data = event.as_dict()
        return dict(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )
