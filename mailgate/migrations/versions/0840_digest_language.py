"""Digests: a reader's own language for their digest (NULL: the list's, else the default).

Revision ID: 0840_digest_language
Revises: 0830_fts_direct
"""

import sqlalchemy as sa
from alembic import op

revision = "0840_digest_language"
down_revision = "0830_fts_direct"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("language", sa.String(length=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("language")
