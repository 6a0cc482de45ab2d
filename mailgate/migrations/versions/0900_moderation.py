"""Moderation: audit log, bans and erased-mail hashes, hidden messages, manual thread fixes.

Revision ID: 0900_moderation
Revises: 0400_outbound
"""

import sqlalchemy as sa
from alembic import op

revision = "0900_moderation"
down_revision = "0400_outbound"
branch_labels = None
depends_on = None

ACTOR = sa.String(length=336)
MID = sa.String(length=250)


def upgrade() -> None:
    op.create_table(
        "moderation_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", ACTOR, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("compacted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_moderation_log_created_at", "moderation_log", ["created_at"])
    op.create_table(
        "moderation_blocks",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", ACTOR, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_moderation_blocks_kind", "moderation_blocks", ["kind"])
    op.create_table(
        "moderation_hidden",
        sa.Column("message_id", MID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_table(
        "thread_fixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mid", MID, nullable=False),
        sa.Column("target_mid", MID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("actor", ACTOR, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_thread_fixes_mid", "thread_fixes", ["mid"])


def downgrade() -> None:
    op.drop_index("ix_thread_fixes_mid", table_name="thread_fixes")
    op.drop_table("thread_fixes")
    op.drop_table("moderation_hidden")
    op.drop_index("ix_moderation_blocks_kind", table_name="moderation_blocks")
    op.drop_table("moderation_blocks")
    op.drop_index("ix_moderation_log_created_at", table_name="moderation_log")
    op.drop_table("moderation_log")
