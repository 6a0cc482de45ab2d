"""Digests: one row per (subscription, period) sent, and an index for "arrived since".

Revision ID: 0800_digests
Revises: 0600_people
"""

import sqlalchemy as sa
from alembic import op

revision = "0800_digests"
down_revision = "0600_people"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("thread_count", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ux_digest_runs_subscription_period",
        "digest_runs",
        ["subscription_id", "period"],
        unique=True,
    )
    op.create_index("ix_message_lists_list_arrived", "message_lists", ["list_id", "arrived_at"])


def downgrade() -> None:
    op.drop_index("ix_message_lists_list_arrived", table_name="message_lists")
    op.drop_index("ux_digest_runs_subscription_period", table_name="digest_runs")
    op.drop_table("digest_runs")
