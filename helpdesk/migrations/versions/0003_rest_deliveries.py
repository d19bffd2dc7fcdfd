"""Where each conversation's REST caller stands in its agent replies: the id of the last agent or
hand-off message a REST response carried (helpdesk/relay.py), so a REST client gets each of them
exactly once, whichever Rasa server answers it.

Revision ID: h0003_rest_deliveries
Revises: h0002_live_handoff
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "h0003_rest_deliveries"
down_revision = "h0002_live_handoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rest_deliveries",
        sa.Column("sender_id", sa.String(128), primary_key=True),
        sa.Column("delivered_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rest_deliveries")
