"""Email commands: retry counter on the command inbox, and the command log (dedupe, rate limit).

Revision ID: 0700_commands
Revises: 0900_moderation
"""

import sqlalchemy as sa
from alembic import op

revision = "0700_commands"
down_revision = "0900_moderation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("command_inbox") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "command_log",
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("dedupe_key"),
    )
    op.create_index("ix_command_log_sender", "command_log", ["sender"])
    op.create_index("ix_command_log_created_at", "command_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_command_log_created_at", table_name="command_log")
    op.drop_index("ix_command_log_sender", table_name="command_log")
    op.drop_table("command_log")
    with op.batch_alter_table("command_inbox") as batch:
        batch.drop_column("attempts")
