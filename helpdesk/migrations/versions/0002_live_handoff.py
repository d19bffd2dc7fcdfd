"""A live hand-off: who holds the conversation, its readable summary, and the messages of the
conversation (the widget's history on any device, the agent's replies to push to the customer).

Status of a hand-off: waiting (in the queue, bot paused) -> taken (an agent answers) -> returned
(handed back to the bot) or closed. Old "open" rows are waiting ones.

Revision ID: h0002_live_handoff
Revises: h0001_assistant_tables
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "h0002_live_handoff"
down_revision = "h0001_assistant_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_requests") as batch:
        batch.add_column(sa.Column("user_sub", sa.String(128), nullable=True))
        batch.add_column(sa.Column("question", sa.Text(), nullable=True))
        batch.add_column(sa.Column("bot_answer", sa.Text(), nullable=True))
        batch.add_column(sa.Column("diagnosis", sa.Text(), nullable=True))
        batch.add_column(sa.Column("after_hours", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("expected_by", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("agent", sa.String(128), nullable=True))
        batch.add_column(sa.Column("taken_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_handoff_requests_sender_status", ["sender_id", "status"])
    op.execute("UPDATE handoff_requests SET status = 'waiting' WHERE status = 'open'")
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("user_sub", sa.String(128), nullable=True),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.Text(), nullable=True),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_chat_messages_sender", "chat_messages", ["sender_id", "id"])
    op.create_index("ix_chat_messages_user", "chat_messages", ["user_sub", "workspace_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_chat_messages_user", table_name="chat_messages")
    op.drop_index("ix_chat_messages_sender", table_name="chat_messages")
    op.drop_table("chat_messages")
    with op.batch_alter_table("handoff_requests") as batch:
        batch.drop_index("ix_handoff_requests_sender_status")
        for name in (
            "closed_at",
            "updated_at",
            "taken_at",
            "agent",
            "expected_by",
            "after_hours",
            "diagnosis",
            "bot_answer",
            "question",
            "user_sub",
        ):
            batch.drop_column(name)
