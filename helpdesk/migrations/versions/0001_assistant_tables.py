"""The assistant's first tables: "was this helpful?" answers and requests for a person.

Databases made before the migrations existed already have these two tables (created on first
use); they are kept as they are and only stamped.

Revision ID: h0001_assistant_tables
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "h0001_assistant_tables"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "feedback" not in existing:
        op.create_table(
            "feedback",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("sender_id", sa.String(128), nullable=False),
            sa.Column("workspace_id", sa.String(64), nullable=True),
            sa.Column("topic", sa.String(64), nullable=False),
            sa.Column("helpful", sa.Boolean(), nullable=False),
            sa.Column("language", sa.String(2), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        )
    if "handoff_requests" not in existing:
        op.create_table(
            "handoff_requests",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("sender_id", sa.String(128), nullable=False),
            sa.Column("workspace_id", sa.String(64), nullable=True),
            sa.Column("summary", sa.Text(), nullable=False),
            sa.Column("language", sa.String(2), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("handoff_requests")
    op.drop_table("feedback")
