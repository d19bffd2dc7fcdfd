"""Partial indexes over the messages the channels deliver (agent replies, hand-off notices): the
push poll and a REST turn's "is anything owed?" find them without reading the bot and customer
messages written since the last delivery (docs/decisions.md §33).

Revision ID: h0005_pushed_messages_index
Revises: h0004_feedback_per_prompt
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "h0005_pushed_messages_index"
down_revision = "h0004_feedback_per_prompt"
branch_labels = None
depends_on = None

# the condition of helpdesk.conversation_store._PUSHED_SQL as it was written by this revision
PUSHED_ONLY = "role IN ('agent', 'system')"


def upgrade() -> None:
    where = {"postgresql_where": sa.text(PUSHED_ONLY), "sqlite_where": sa.text(PUSHED_ONLY)}
    op.create_index("ix_chat_messages_pushed", "chat_messages", ["id"], **where)
    op.create_index("ix_chat_messages_sender_pushed", "chat_messages", ["sender_id", "id"], **where)


def downgrade() -> None:
    op.drop_index("ix_chat_messages_sender_pushed", table_name="chat_messages")
    op.drop_index("ix_chat_messages_pushed", table_name="chat_messages")
