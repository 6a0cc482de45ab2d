"""Outbound mail (outbox), confirmations by reply, and reader preferences (digests, follow/mute).

Revision ID: 0400_outbound
Revises: 0100_search
"""

import sqlalchemy as sa
from alembic import op

revision = "0400_outbound"
down_revision = "0100_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True, unique=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("envelope_from", sa.String(length=320), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("failed_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
    )
    op.create_index("ix_outbox_due", "outbox", ["sent_at", "failed_at", "next_attempt_at"])
    op.create_table(
        "confirmations",
        sa.Column("token", sa.String(length=64), primary_key=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
    )
    op.create_index("ix_confirmations_address", "confirmations", ["address"])
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("frequency", sa.String(length=8), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ux_subscriptions_address_list", "subscriptions", ["address", "list_name"], unique=True
    )
    op.create_table(
        "thread_prefs",
        sa.Column("address", sa.String(length=320), primary_key=True),
        sa.Column("thread_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("thread_prefs")
    op.drop_index("ux_subscriptions_address_list", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index("ix_confirmations_address", table_name="confirmations")
    op.drop_table("confirmations")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
