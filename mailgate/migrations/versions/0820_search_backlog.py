"""Search backlog: stored messages whose search document is still to be written.

A PostgreSQL bulk import commits each batch of messages with their backlog rows, then writes
their search documents on a second connection while the next batch goes on; a document and
the removal of its backlog row commit together. What a crash leaves in the backlog is indexed
when the next import starts (`mailgate.search_backlog`).

Revision ID: 0820_search_backlog
Revises: 0810_pg_lz4
"""

import sqlalchemy as sa
from alembic import op

revision = "0820_search_backlog"
down_revision = "0810_pg_lz4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_backlog",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_pk"),
    )


def downgrade() -> None:
    op.drop_table("search_backlog")
