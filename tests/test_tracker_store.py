"""The windowed SQL tracker store: a turn sees the same state as with the whole conversation loaded,
new events are appended exactly once, and the whole history stays in the database."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.utils.endpoints import read_endpoint_config
from sqlalchemy.engine.url import make_url

from helpdesk import ratings
from helpdesk.tracker_store import STORED, WindowedSQLTrackerStore
from tests.dbs import chosen_engine, new_billing_database_url

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
INTENTS = ["ask_trial", "ask_my_plan", "buy_upgrade", "inform", "affirm", "deny", "thank", "greet"]
TEXT_SLOTS = ["product", "tier", "cycle", "renewal_mode", "checkout_status", "requested_slot"]


def run(coroutine):
    return asyncio.run(coroutine)


def database(tmp_path, name="tracker"):
    """Where a store keeps its events: a SQLite file, or with BILLING_TEST_DB=postgres (the
    production profile's tracker store) a fresh PostgreSQL database."""
    if chosen_engine() == "sqlite":
        return dict(dialect="sqlite", db=str(tmp_path / f"{name}.db"))
    url = make_url(new_billing_database_url(tmp_path))
    return dict(
        dialect="postgresql",
        host=url.host,
        port=url.port,
        db=url.database,
        username=url.username,
        password=url.password,
    )


def stores(tmp_path, window=4):
    where = database(tmp_path)
    return (
        WindowedSQLTrackerStore(domain=DOMAIN, window_turns=window, **where),
        SQLTrackerStore(domain=DOMAIN, **where),
    )


def turn_events(rng: random.Random, turn: int):
    """One turn as Rasa writes it: the user's message, slots, maybe a form, a pause, a reset."""
    events = [UserUttered(f"message {turn}", {"name": rng.choice(INTENTS), "confidence": 1.0})]
    for slot in rng.sample(TEXT_SLOTS, rng.randint(0, 3)):
        events.append(SlotSet(slot, rng.choice([None, f"{slot}-{turn}"])))
    roll = rng.random()
    if roll < 0.15:
        events += [ActionExecuted("checkout_form"), ActiveLoop("checkout_form")]
    elif roll < 0.25:
        events += [ActionExecuted("checkout_form"), ActiveLoop(None)]
    elif roll < 0.30:
        events.append(ConversationPaused())
    elif roll < 0.35:
        events.append(ConversationResumed())
    elif roll < 0.38:
        events.append(AllSlotsReset())
    elif roll < 0.40:
        events.append(Restarted())
    events += [ActionExecuted("utter_greet"), ActionExecuted("action_listen")]
    return events


def same_state(windowed, full, history=5):
    assert windowed.current_slot_values() == full.current_slot_values()
    assert windowed.active_loop_name == full.active_loop_name
    assert windowed.is_paused() == full.is_paused()
    assert windowed.latest_message.text == full.latest_message.text
    assert windowed.latest_action_name == full.latest_action_name
    # what the policies see (max_history 5) is the same
    assert windowed.past_states(DOMAIN)[-history:] == full.past_states(DOMAIN)[-history:]


@pytest.mark.parametrize("seed", range(6))
def test_windowed_tracker_has_the_state_of_the_whole_conversation(tmp_path, seed):
    windowed, full = stores(tmp_path)
    rng = random.Random(seed)
    sender = f"conversation-{seed}"
    tracker = run(windowed.get_or_create_tracker(sender))
    for turn in range(40):
        tracker = run(windowed.retrieve(sender))
        for event in turn_events(rng, turn):
            tracker.update(event)
        run(windowed.save(tracker))
        loaded, whole = run(windowed.retrieve(sender)), run(full.retrieve(sender))
        same_state(loaded, whole)
        if turn >= 8:  # past the window: only the last turns and the state are loaded
            assert len(loaded.events) < len(whole.events)
    # every event is stored once, in order, and the full history is still there
    history = run(windowed.retrieve_full_tracker(sender))
    texts = [e.text for e in history.events if isinstance(e, UserUttered)]
    assert texts == [f"message {turn}" for turn in range(40)]


def test_save_appends_only_new_events_even_when_saved_twice(tmp_path):
    windowed, full = stores(tmp_path, window=2)
    sender = "twice"
    tracker = run(windowed.get_or_create_tracker(sender))
    for turn in range(6):
        tracker = run(windowed.retrieve(sender))
        tracker.update(UserUttered(f"m{turn}", {"name": "greet", "confidence": 1.0}))
        run(windowed.save(tracker))
        tracker.update(ActionExecuted("utter_greet"))
        tracker.update(ActionExecuted("action_listen"))
        run(windowed.save(tracker))
        run(windowed.save(tracker))  # nothing new: nothing written
    assert getattr(tracker, STORED) == len(tracker.events)
    whole = run(full.retrieve(sender))
    assert [e.text for e in whole.events if isinstance(e, UserUttered)] == [f"m{t}" for t in range(6)]
    assert sum(1 for e in whole.events if isinstance(e, ActionExecuted) and e.action_name == "utter_greet") == 6


def test_a_new_session_starts_with_its_own_events(tmp_path):
    windowed, full = stores(tmp_path, window=2)
    sender = "sessions"
    tracker = run(windowed.get_or_create_tracker(sender))
    for turn in range(5):
        tracker.update(UserUttered(f"old {turn}", {"name": "greet", "confidence": 1.0}))
        tracker.update(SlotSet("product", f"old-{turn}"))
        tracker.update(ActionExecuted("action_listen"))
    run(windowed.save(tracker))
    tracker = run(windowed.retrieve(sender))
    for event in (
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("tier", "standard"),
        ActionExecuted("action_listen"),
        UserUttered("new", {"name": "greet", "confidence": 1.0}),
    ):
        tracker.update(event)
    run(windowed.save(tracker))
    loaded = run(windowed.retrieve(sender))
    same_state(loaded, run(full.retrieve(sender)))
    assert loaded.get_slot("product") is None and loaded.get_slot("tier") == "standard"
    for turn in range(4):  # the new session outgrows the window: still nothing of the old one
        loaded.update(ActionExecuted("action_listen"))
        loaded.update(UserUttered(f"new {turn}", {"name": "greet", "confidence": 1.0}))
        run(windowed.save(loaded))
        loaded = run(windowed.retrieve(sender))
        same_state(loaded, run(full.retrieve(sender)), history=2)  # a window of two turns
    assert loaded.get_slot("product") is None and loaded.get_slot("tier") == "standard"
    assert not any(isinstance(e, UserUttered) and e.text.startswith("old") for e in loaded.events)
    # the whole history, every session, exactly as Rasa's own store reads it
    whole = run(windowed.retrieve_full_tracker(sender))
    assert [e.as_dict() for e in whole.events] == [e.as_dict() for e in run(full.retrieve_full_tracker(sender)).events]
    assert any(isinstance(e, UserUttered) and e.text == "old 0" for e in whole.events)
    assert list(run(windowed.keys())) == list(run(full.keys())) == [sender]


def test_endpoints_files_name_this_store(tmp_path):
    """Rasa falls back to memory, with a mere warning, when it cannot import a store: both profiles
    must name one that imports, with settings it accepts."""
    for path in (ROOT / "endpoints.yml", ROOT / "deploy" / "endpoints.prod.yml"):
        store = yaml.safe_load(path.read_text())["tracker_store"]
        assert store["type"] == "helpdesk.tracker_store.WindowedSQLTrackerStore", path
        assert int(store["window_turns"]) >= 6  # the hand-off summary reads six messages
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    config.kwargs["db"] = str(tmp_path / "t.db")
    store = TrackerStore.create(config, DOMAIN)
    assert isinstance(store, WindowedSQLTrackerStore)
    assert store.engine.url.drivername == "sqlite"


def test_window_must_be_positive(tmp_path):
    with pytest.raises(ValueError):
        WindowedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "x.db"), window_turns=0)


PROMPT_BUTTONS = [
    {"title": "Có", "payload": '/rate_answer{"rating":"yes"}'},
    {"title": "Không", "payload": '/rate_answer{"rating":"no"}'},
]


def answered(tracker, intent, text):
    """One answered question, as the rules play it: the answer, then "was this helpful?"; the
    prompt's bot event timestamp (its id)."""
    tracker.update(UserUttered(text, {"name": intent, "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_upgrade_howto"))
    tracker.update(BotUttered("1. ...", metadata={"utter_action": "utter_upgrade_howto"}))
    tracker.update(ActionExecuted("utter_ask_helpful"))
    prompt = BotUttered(
        "Hữu ích không?", data={"buttons": PROMPT_BUTTONS}, metadata={"utter_action": "utter_ask_helpful"}
    )
    tracker.update(prompt)
    tracker.update(ActionExecuted("action_listen"))
    return prompt.timestamp, tracker.events[-4].timestamp  # the prompt's, and the answer's


def test_a_prompt_older_than_the_window_is_found_in_the_whole_conversation(tmp_path):
    windowed, full = stores(tmp_path, window=3)
    sender = "rated"
    tracker = run(windowed.get_or_create_tracker(sender))
    first, answer = answered(tracker, "ask_data_retention", "dữ liệu bị xóa khi nào")
    second, _ = answered(tracker, "ask_trial", "dùng thử bao lâu")
    for turn in range(6):
        answered(tracker, "ask_payment", f"thanh toán {turn}")
    run(windowed.save(tracker))
    loaded = run(windowed.retrieve(sender))
    # the turn Rasa loads does not have them ...
    assert not any(getattr(e, "timestamp", None) in (first, second) for e in loaded.events)
    # ... the stored conversation does
    assert run(windowed.rated_prompt(sender, first)) == "ask_data_retention"
    assert run(windowed.rated_prompt(sender, second)) == "ask_trial"
    assert run(windowed.rated_prompt(sender, answer)) is None  # an answer, not a prompt
    near_miss = first + 0.0001  # an id off by a tenth of a millisecond names no prompt ...
    while near_miss in {getattr(e, "timestamp", None) for e in tracker.events}:
        near_miss += 0.00001  # ... unless a later event happens to have that very timestamp
    assert run(windowed.rated_prompt(sender, near_miss)) is None
    assert run(windowed.rated_prompt("someone-else", first)) is None
    # through Rasa's wrappers, and with a store that only has Rasa's full tracker: the same
    wrapped = FailSafeTrackerStore(AwaitableTrackerStore(windowed))
    for store in (wrapped, full, FailSafeTrackerStore(AwaitableTrackerStore(full))):
        assert run(ratings.find_in_store(store, sender, first)) == (ratings.prompt_id(first), "ask_data_retention")
        assert run(ratings.find_in_store(store, sender, second)) == (ratings.prompt_id(second), "ask_trial")
        assert run(ratings.find_in_store(store, sender, answer)) is None
        assert run(ratings.find_in_store(store, "someone-else", first)) is None


def stored_rows(store, sender):
    """(type, intent, action, event without its timestamp) of each stored row, in order; each row's
    timestamp column is its event's."""
    rows = []
    with store.engine.connect() as connection:
        for type_name, timestamp, intent, action, data in connection.execute(
            sa.text(
                "SELECT type_name, timestamp, intent_name, action_name, data FROM events"
                " WHERE sender_id = :sender ORDER BY id"
            ),
            dict(sender=sender),
        ):
            event = json.loads(data)
            assert event.pop("timestamp") == timestamp
            rows.append((type_name, intent, action, event))
    return rows


def test_saves_write_the_rows_rasa_writes(tmp_path):
    """The store writes events with one Core insert instead of Rasa's ORM: the same columns, in the
    same order, for a new conversation, a loaded one and a second session, as Rasa's own save."""
    ours = WindowedSQLTrackerStore(domain=DOMAIN, window_turns=2, **database(tmp_path, "ours"))
    rasa = SQLTrackerStore(domain=DOMAIN, **database(tmp_path, "rasa"))
    rng = random.Random(7)
    turns = [turn_events(rng, turn) for turn in range(8)]
    new_session = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    for store in (ours, rasa):
        tracker = run(store.get_or_create_tracker("same"))
        for event in turns[0]:  # a new conversation's first save
            tracker.update(event)
        run(store.save(tracker))
        for events in turns[1:4] + [new_session] + turns[4:]:
            tracker = run(store.retrieve("same"))  # ours: a window and the state; Rasa: the session
            for event in events:
                tracker.update(event)
            run(store.save(tracker))
            if store is ours:  # nothing new: nothing written (Rasa's own save writes part of a new
                run(store.save(tracker))  # session again: it counts from its start's timestamp)
    assert stored_rows(ours, "same") == stored_rows(rasa, "same")
    assert len(stored_rows(ours, "same")) == 1 + sum(len(t) for t in turns) + len(new_session)  # 1: action_listen


def test_a_turn_reads_its_conversation_in_one_statement_and_writes_it_in_one(tmp_path):
    """A conversation shorter than the window is read by one statement and saved by one; longer,
    by three. On PostgreSQL they run in autocommit: no BEGIN, COMMIT or ROLLBACK round trips."""
    windowed, _ = stores(tmp_path, window=4)
    statements = []
    sa.event.listen(windowed.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    sender = "counted"
    tracker = run(windowed.get_or_create_tracker(sender))
    rng = random.Random(3)
    for turn in range(8):
        statements.clear()
        tracker = run(windowed.retrieve(sender))
        read = len(statements)
        for event in turn_events(rng, turn):
            tracker.update(event)
        statements.clear()
        run(windowed.save(tracker))
        assert len(statements) == 1, statements
        assert read == (1 if turn < 4 else 3), (turn, statements)
    with windowed.engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        if windowed.engine.dialect.name == "postgresql":
            assert dbapi.autocommit is True


def test_a_new_conversation_is_read_once_and_not_counted_before_its_first_save(tmp_path):
    """A conversation's first message: the window read finds nothing, so the new tracker is saved
    without first counting what is stored (Rasa's create-and-save did: a round trip more on the
    slowest message of all); what ends up stored is what Rasa stores (test above)."""
    windowed, _ = stores(tmp_path, window=4)
    statements = []
    sa.event.listen(windowed.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    listening = run(windowed.get_or_create_tracker("new-listening"))
    assert len(statements) == 2, statements  # the read, the insert of its action_listen
    assert not any("count(" in statement for statement in statements)

    statements.clear()
    quiet = run(windowed.get_or_create_tracker("new-quiet", append_action_listen=False))  # Rasa's processor
    assert len(statements) == 1, statements  # the read; nothing to write yet
    for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]:
        quiet.update(event)
    statements.clear()
    run(windowed.save(quiet))
    assert len(statements) == 1, statements
    assert [row[0] for row in stored_rows(windowed, "new-quiet")] == ["action", "session_started", "action"]
    assert [row[0] for row in stored_rows(windowed, "new-listening")] == ["action"]

    statements.clear()
    again = run(windowed.get_or_create_tracker("new-listening"))  # stored now: loaded, not made again
    assert len(statements) == 1 and [e.as_dict() for e in again.events] == [e.as_dict() for e in listening.events]


def test_a_slow_database_does_not_stall_other_conversations(tmp_path):
    """Rasa serves every conversation on one event loop: while one turn's load and save wait for
    the database, the loop keeps serving others (docs/decisions.md §29). Each statement is made
    to take 0.2 s; a ticker on the same loop must keep ticking through load, save, the rating
    lookup, the full history and the list of conversations, and each must come back whole."""
    windowed, _ = stores(tmp_path, window=4)
    sender = "slow-db"
    tracker = run(windowed.get_or_create_tracker(sender))
    rng = random.Random(5)
    for turn in range(6):
        for event in turn_events(rng, turn):
            tracker.update(event)
        run(windowed.save(tracker))
    expected = [e.as_dict() for e in run(windowed.retrieve(sender)).events]
    sa.event.listen(windowed.engine, "before_cursor_execute", lambda *a: time.sleep(0.2))

    async def ticking(work):
        ticks = []

        async def ticker():
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        started = time.monotonic()
        result = await work
        elapsed = time.monotonic() - started
        task.cancel()
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        return result, elapsed, max(gaps, default=elapsed)

    loaded, elapsed, longest_gap = run(ticking(windowed.retrieve(sender)))
    assert [e.as_dict() for e in loaded.events] == expected
    assert elapsed >= 0.2 and longest_gap < 0.15, (elapsed, longest_gap)

    loaded.update(UserUttered("thêm một câu", {"name": "inform", "confidence": 1.0}))
    _, elapsed, longest_gap = run(ticking(windowed.save(loaded)))
    assert elapsed >= 0.2 and longest_gap < 0.15, (elapsed, longest_gap)

    _, elapsed, longest_gap = run(ticking(windowed.rated_prompt(sender, 123.0)))
    assert elapsed >= 0.2 and longest_gap < 0.15, (elapsed, longest_gap)
    assert run(windowed.retrieve(sender)).events[-1].text == "thêm một câu"

    full, elapsed, longest_gap = run(ticking(windowed.retrieve_full_tracker(sender)))
    assert elapsed >= 0.2 and longest_gap < 0.15, (elapsed, longest_gap)
    assert full.events[-1].text == "thêm một câu" and len(full.events) >= len(loaded.events)
    keys, elapsed, longest_gap = run(ticking(windowed.keys()))
    assert elapsed >= 0.2 and longest_gap < 0.15, (elapsed, longest_gap)
    assert list(keys) == [sender]
