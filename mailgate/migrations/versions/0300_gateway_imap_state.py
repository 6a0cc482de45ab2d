"""Gateway: progress and lease of each IMAP source.

Revision ID: 0300_gateway
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0300_gateway"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imap_state",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("mailbox", sa.String(length=600), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("imap_state")
