"""Initial schema: workspaces and their subscriptions, capacity, scheduled changes, orders,
retention tasks, and the append-only audit log.

Revision ID: 0001_initial_schema
Revises:
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0001_initial_schema"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False, autoincrement=True)


def _fk(table: str) -> sa.Column:
    return sa.Column(
        "workspace_id",
        sa.String(64),
        sa.ForeignKey("workspaces.id", name=f"fk_{table}_workspace_id_workspaces", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workspaces"),
    )
    op.create_table(
        "subscriptions",
        _id(),
        _fk("subscriptions"),
        sa.Column("product", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=True),
        sa.Column("cycle", sa.String(20), nullable=True),
        sa.Column("renewal_mode", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_table(
        "capacity_purchases",
        _id(),
        _fk("capacity_purchases"),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("purchased_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_capacity_purchases"),
    )
    op.create_table(
        "scheduled_changes",
        _id(),
        _fk("scheduled_changes"),
        sa.Column("product", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("cycle", sa.String(20), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(), nullable=False),
        sa.Column("survey_answer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduled_changes"),
    )
    op.create_table(
        "orders",
        _id(),
        _fk("orders"),
        sa.Column("txn_ref", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("product", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("cycle", sa.String(20), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("addons", sa.JSON(), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("renewal_mode", sa.String(20), nullable=False),
        sa.Column("response_code", sa.String(8), nullable=True),
        sa.Column("transaction_no", sa.String(64), nullable=True),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("txn_ref", name="uq_orders_txn_ref"),
    )
    op.create_table(
        "retention_tasks",
        _id(),
        _fk("retention_tasks"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target", sa.String(60), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_tasks"),
    )
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    for table in ("subscriptions", "capacity_purchases", "scheduled_changes", "orders",
                  "retention_tasks", "audit_log"):
        op.create_index(f"ix_{table}_workspace_id", table, ["workspace_id"])
    op.create_index("ix_orders_status_expires_at", "orders", ["status", "expires_at"])
    op.create_index("ix_retention_tasks_status_due_at", "retention_tasks", ["status", "due_at"])


def downgrade() -> None:
    for table in ("audit_log", "retention_tasks", "orders", "scheduled_changes",
                  "capacity_purchases", "subscriptions", "workspaces"):
        op.drop_table(table)
