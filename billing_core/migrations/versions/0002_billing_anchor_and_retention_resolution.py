"""Billing cycle anchor on subscriptions (renewals keep the anchor's day: 31/01 -> 28/02 -> 31/03)
and what the retention job did with each task (deleted, or skipped and why).

Revision ID: 0002_anchor_resolution
Revises: 0001_initial_schema
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_anchor_resolution"
down_revision = "0001_initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("billing_anchor", sa.DateTime(), nullable=True))
    with op.batch_alter_table("retention_tasks") as batch:
        batch.add_column(sa.Column("resolution", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("retention_tasks") as batch:
        batch.drop_column("resolution")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("billing_anchor")
