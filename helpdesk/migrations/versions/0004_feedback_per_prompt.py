"""One "was this helpful?" answer per prompt: the prompt's id on each answer, unique per
conversation, so rating the same answer again replaces the earlier rating (docs/decisions.md §22).
Answers from before have no id and stay as they are.

Revision ID: h0004_feedback_per_prompt
Revises: h0003_rest_deliveries
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "h0004_feedback_per_prompt"
down_revision = "h0003_rest_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("prompt", sa.String(32), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.create_index("uq_feedback_sender_prompt", ["sender_id", "prompt"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("uq_feedback_sender_prompt")
        batch.drop_column("updated_at")
        batch.drop_column("prompt")
