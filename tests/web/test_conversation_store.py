"""The conversation store's schema is Alembic's (helpdesk/migrations, its own version table):
a fresh database and one made before the migrations (tables from create_all, "open" hand-offs)
both end at head, matching the tables the code queries."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from billing_core import get_engine
from helpdesk import conversation_store, migrations


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
