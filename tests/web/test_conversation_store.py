"""The conversation store's schema is Alembic's (helpdesk/migrations, its own version table):
a fresh database and one made before the migrations (tables from create_all, "open" hand-offs)
both end at head, matching the tables the code queries."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from billing_core import get_engine
from helpdesk import conversation_store, migrations
from tests.dbs import new_billing_database_url


def _differences(url):
    with get_engine(url).connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "version_table": migrations.VERSION_TABLE,
                "include_object": lambda obj, name, type_, *_: (
                    type_ != "table" or name in conversation_store.metadata.tables
                ),
            },
        )
        return compare_metadata(context, conversation_store.metadata)


def test_a_fresh_database_is_migrated_to_head_on_first_use(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    conversation_store.record_feedback("s", "trial", True, url=url)
    assert migrations.current_revision(url) == migrations.head_revision()
    assert _differences(url) == []
    tables = set(sa.inspect(get_engine(url)).get_table_names())
    assert {"feedback", "handoff_requests", "chat_messages", "rest_deliveries", migrations.VERSION_TABLE} <= tables
    assert "alembic_version" not in tables  # billing_core's history is not touched


def test_a_database_from_before_the_migrations_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = get_engine(url)
    old = sa.MetaData()
    required = {"nullable": False}
    sa.Table(
        "handoff_requests",
        old,
        sa.Column("id", sa.Integer, primary_key=True),  # as create_all made it
        sa.Column("sender_id", sa.String(128), **required),
        sa.Column("workspace_id", sa.String(64)),
        sa.Column("summary", sa.Text, **required),
        sa.Column("language", sa.String(2), **required),
        sa.Column("status", sa.String(16), **required),
        sa.Column("created_at", sa.DateTime, **required),
    )
    old.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            old.tables["handoff_requests"]
            .insert()
            .values(
                sender_id="u-old",
                workspace_id="demo-free",
                summary="cũ",
                language="vi",
                status="open",
                created_at=datetime(2026, 11, 30),
            )
        )
    migrations.upgrade_head(url)
    [row] = conversation_store.list_handoffs(url)
    assert row["summary"] == "cũ" and row["status"] == "waiting" and row["after_hours"] is False
    assert conversation_store.active_handoff("u-old", url)["id"] == row["id"]
    assert _differences(url) == []
    migrations.upgrade_head(url)  # idempotent


def test_one_rating_per_prompt_a_second_replaces_the_first(tmp_path):
    url = f"sqlite:///{tmp_path / 'ratings.db'}"
    first = datetime(2026, 12, 1, 9, 0)
    assert conversation_store.record_feedback("u-1", "trial", True, url=url, now=first, prompt="1764561234.29")
    again = datetime(2026, 12, 1, 9, 5)
    assert not conversation_store.record_feedback(
        "u-1", "trial", False, "demo-trial", "en", url=url, now=again, prompt="1764561234.29"
    )
    [row] = conversation_store.list_feedback(url)
    assert (row["helpful"], row["language"], row["workspace_id"]) == (False, "en", "demo-trial")
    assert (row["created_at"], row["updated_at"]) == (first, again)
    assert conversation_store.feedback_counts(url) == [{"topic": "trial", "total": 1, "helpful": 0}]
    # another prompt, the same prompt id in another conversation, and ratings without an id all count
    conversation_store.record_feedback("u-1", "trial", True, url=url, prompt="1764561299.5")
    conversation_store.record_feedback("u-2", "trial", True, url=url, prompt="1764561234.29")
    conversation_store.record_feedback("u-1", "trial", True, url=url)
    conversation_store.record_feedback("u-1", "trial", True, url=url)
    assert conversation_store.feedback_counts(url) == [{"topic": "trial", "total": 5, "helpful": 4}]
    # a replacement never forgets whose workspace it was
    conversation_store.record_feedback("u-2", "trial", False, None, url=url, prompt="1764561234.29")
    conversation_store.record_feedback("u-2", "trial", False, "demo-free", url=url, prompt="1764561234.29")
    conversation_store.record_feedback("u-2", "trial", True, None, url=url, prompt="1764561234.29")
    [kept] = [r for r in conversation_store.list_feedback(url) if r["sender_id"] == "u-2"]
    assert (kept["workspace_id"], kept["helpful"]) == ("demo-free", True)


def test_ratings_from_before_prompt_ids_keep_counting_after_the_migration(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    command.upgrade(migrations.alembic_config(url), "h0002_live_handoff")
    with get_engine(url).begin() as connection:
        for helpful in (True, True, False):
            connection.execute(
                sa.text(
                    "INSERT INTO feedback (sender_id, topic, helpful, language, created_at)"
                    " VALUES ('u-old', 'go_free', :helpful, 'vi', '2026-11-30 10:00:00')"
                ),
                {"helpful": helpful},
            )
    migrations.upgrade_head(url)
    assert _differences(url) == []
    assert conversation_store.feedback_counts(url) == [{"topic": "go_free", "total": 3, "helpful": 2}]
    assert {r["prompt"] for r in conversation_store.list_feedback(url)} == {None}


def test_a_turns_replies_are_kept_in_their_order(tmp_path):
    url = new_billing_database_url(tmp_path)
    replies = [
        (f"reply {n}", [{"title": f"button {n}", "payload": f"/p{n}"}] if n % 3 == 0 else None) for n in range(40)
    ]
    conversation_store.add_bot_replies("s-order", replies, user_sub="u", workspace_id="w", url=url)
    kept = conversation_store.conversation("s-order", url=url)
    assert [m["text"] for m in kept] == [text for text, _ in replies]
    assert kept[3]["buttons"] == [{"title": "button 3", "payload": "/p3"}] and kept[1]["buttons"] == []
    assert {(m["role"], m["user_sub"], m["workspace_id"]) for m in kept} == {("bot", "u", "w")}


def test_a_turns_replies_are_all_kept_or_none(tmp_path):
    """On PostgreSQL a turn's replies are one statement in autocommit (past one INSERT page, one
    transaction), and a reply the database refuses (a value longer than its column) keeps
    none of the others."""
    url = new_billing_database_url(tmp_path)
    engine = conversation_store.engine_for(url)  # migrated first: only the inserts are watched
    autocommit = []

    def watch(conn, *_):
        autocommit.append(getattr(conn.connection.dbapi_connection, "autocommit", None))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", watch)  # whichever pool runs them
    try:
        conversation_store.add_bot_replies("s-few", [("one", None), ("two", None)], url=url)
        many = [(f"reply {n}", None) for n in range(1001)]
        conversation_store.add_bot_replies("s-many", many, url=url)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", watch)
    if engine.dialect.name == "postgresql":
        assert autocommit[0] is True, "a turn's few replies: one statement, no BEGIN/COMMIT around it"
        assert autocommit[-1] is False, "more rows than one INSERT page: one transaction"
        with engine.connect() as connection:
            # one statement: a refused row takes the others with it
            kept = conversation_store._message_row("s-bad", "bot", "ok")
            refused = dict(kept, workspace_id="w" * 65)  # longer than its column: PostgreSQL refuses it
            try:
                with conversation_store._one_statement(url, rows=2) as one:
                    one.execute(conversation_store._INSERT_MESSAGE, [kept, refused])
            except sa.exc.DataError:
                pass
            else:
                raise AssertionError("PostgreSQL stored a workspace id longer than its column")
            assert (
                connection.execute(sa.text("SELECT count(*) FROM chat_messages WHERE sender_id = 's-bad'")).scalar()
                == 0
            )
    assert [m["text"] for m in conversation_store.conversation("s-few", url=url)] == ["one", "two"]
    assert len(conversation_store.conversation("s-many", url=url, limit=2000)) == 1001


def test_a_rest_turn_is_one_statement_on_postgresql_when_nothing_is_owed(tmp_path):
    """A customer's REST message: the hand-off, the message kept, the cursor (created by the first)
    and whether anything is owed after it. On PostgreSQL that is one statement (it was five round
    trips and a pre-ping, seven for the first message); on SQLite three in one transaction. The claim follows only when there is something to claim: the
    first message (the cursor is created) or a reply owed (the cursor moves)."""
    url = new_billing_database_url(tmp_path)
    engine = conversation_store.engine_for(url)
    on_postgres = engine.dialect.name == "postgresql"
    statements = []
    for counted in [engine] + ([conversation_store._autocommit_engine(engine)] if on_postgres else []):
        sa.event.listen(counted, "before_cursor_execute", lambda conn, cursor, sql, *_: statements.append(sql))
    turn = 1 if on_postgres else 3
    # the first message creates the REST cursor: on PostgreSQL in the same statement; on SQLite the
    # claim follows (no cursor yet, where the cursor starts, the cursor). Nothing can be owed after
    # the latest message.
    assert conversation_store.open_turn("s-count", "first", url=url) == (None, [])
    assert len(statements) == (1 if on_postgres else 6), statements
    statements.clear()
    handoff, owed = conversation_store.open_turn("s-count", "second", url=url)
    assert (handoff, owed) == (None, []) and len(statements) == turn, statements
    conversation_store.add_message("s-count", "system", "notice", url=url)
    statements.clear()
    _, owed = conversation_store.open_turn("s-count", "third", url=url)
    # the turn, then the claim: the cursor with what is owed, the cursor moved
    assert [m["text"] for m in owed] == ["notice"] and len(statements) == turn + 2, statements
    assert "rest_cursor" not in owed[0]
    _, owed = conversation_store.open_turn("s-count", "fourth", url=url)
    assert owed == [], "a reply was delivered twice"
    statements.clear()
    assert conversation_store.open_turn("s-count", "   ", url=url) == (None, [])  # a poll keeps nothing
    assert len(statements) == (1 if on_postgres else 2), statements
    kept = [(m["role"], m["text"]) for m in conversation_store.conversation("s-count", url=url)]
    assert kept == [("user", "first"), ("user", "second"), ("system", "notice"), ("user", "third"), ("user", "fourth")]


def test_a_turn_under_a_hand_off_keeps_its_message_under_it_in_one_statement(tmp_path):
    """The message of a conversation an agent holds carries the hand-off's id, and the turn returns
    the hand-off as the store has it (the same row ``active_handoff`` reads)."""
    url = new_billing_database_url(tmp_path)
    conversation_store.open_turn("s-held", "xin chào", url=url)
    handoff = conversation_store.record_handoff("s-held", "Khách hỏi: …", url=url)
    holding, owed = conversation_store.open_turn("s-held", "có ai không", url=url)
    assert holding == conversation_store.active_handoff("s-held", url=url) and holding["id"] == handoff["id"]
    messages = conversation_store.conversation("s-held", url=url)
    assert [(m["text"], m["handoff_id"]) for m in messages if m["role"] == "user"] == [
        ("xin chào", None),
        ("có ai không", handoff["id"]),
    ]
    assert [m["role"] for m in owed] == [m["role"] for m in messages if m["role"] in conversation_store.PUSHED]


def _plans_of_pushed_lookups(engine, statements):
    """Each captured statement that looks for delivered kinds of messages, with its plan: PostgreSQL's
    EXPLAIN ANALYZE (run in a transaction rolled back, so a turn's insert is not kept) or SQLite's
    EXPLAIN QUERY PLAN."""
    plans = []
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for sql, params in statements:
            if "IN ('agent', 'system')" not in sql:
                continue
            if engine.dialect.name == "postgresql":
                cursor.execute("SET LOCAL enable_seqscan = off")  # a small table must not hide a filter
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                plans.append((sql, cursor.fetchone()[0][0]["Plan"]))
                raw.rollback()
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                plans.append((sql, [row[-1] for row in cursor.fetchall()]))
        return plans
    finally:
        raw.close()


def _chat_message_rows_filtered_out(plan):
    own = plan.get("Rows Removed by Filter", 0) if plan.get("Relation Name") == "chat_messages" else 0
    return own * max(plan.get("Actual Loops", 1), 1) + sum(
        _chat_message_rows_filtered_out(p) for p in plan.get("Plans", [])
    )


def test_looking_for_what_is_owed_reads_no_bot_or_customer_message(tmp_path):
    """A REST turn asks whether an agent reply or notice is owed after the conversation's cursor, and
    the push poll asks for any after its own; both cursors stop at the last such message delivered.
    Those lookups read only agent and system messages, however many bot and customer messages came
    since (they read each of them before the partial indexes, so a long conversation, and every
    second's poll, cost more and more)."""
    url = new_billing_database_url(tmp_path)
    engine = conversation_store.engine_for(url)
    conversation_store.open_turn("s-long", "hello", url=url)
    conversation_store.add_message("s-long", "system", "an agent will answer", url=url)
    assert [m["text"] for m in conversation_store.open_turn("s-long", "ok", url=url)[1]] == ["an agent will answer"]
    at = datetime(2026, 12, 5, 9, 0)
    chatter = [
        {"sender_id": sender, "role": role, "text": f"{role} {n}", "created_at": at}
        for n in range(600)
        for sender in ("s-long", "s-other")
        for role in ("user", "bot")
    ]
    with engine.begin() as connection:
        connection.execute(conversation_store.chat_messages.insert(), chatter)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE chat_messages"))
    captured = []
    engines = [engine] + (
        [conversation_store._autocommit_engine(engine)] if engine.dialect.name == "postgresql" else []
    )

    def capture(conn, cursor, sql, params, *_):
        captured.append((sql, params))

    for counted in engines:
        sa.event.listen(counted, "before_cursor_execute", capture)
    try:
        assert conversation_store.open_turn("s-long", "still there?", url=url) == (None, [])
        assert conversation_store.messages_to_push(0, url=url)[-1]["text"] == "an agent will answer"
        pushed_after = conversation_store.last_message_id(url=url) - 2400
        assert conversation_store.messages_to_push(pushed_after, url=url) == []
    finally:
        for counted in engines:
            sa.event.remove(counted, "before_cursor_execute", capture)
    plans = _plans_of_pushed_lookups(engine, captured)
    assert len(plans) >= 3, [sql for sql, _ in captured]
    for sql, plan in plans:
        if engine.dialect.name == "postgresql":
            assert _chat_message_rows_filtered_out(plan) == 0, (sql, plan)
        else:
            searched = [step for step in plan if "chat_messages" in step]
            assert searched and all("_pushed " in step for step in searched), (sql, plan)
