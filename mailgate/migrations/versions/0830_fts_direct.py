"""SQLite: search documents enter the FTS5 index by a plain INSERT, not a trigger.

A trigger runs its INSERT into `search_fts` inside a statement savepoint, and FTS5 writes its
pending terms out as a new segment at every savepoint: one tiny segment per document, each
merged again later. Inserted by `mailgate.search_index.index_documents` after the documents
of a batch, the terms of the whole batch become one segment at the commit (the delete and
update triggers stay: erasure and cross-posts are rare). PostgreSQL is unchanged.

Revision ID: 0830_fts_direct
Revises: 0820_search_backlog
"""

from alembic import op

revision = "0830_fts_direct"
down_revision = "0820_search_backlog"
branch_labels = None
depends_on = None

FTS_COLUMNS = "subject, body, people, recipients, files, meta"
NEW_VALUES = "new.subject, new.body, new.people, new.recipients, new.files, new.meta"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS search_docs_ai")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN "
            f"INSERT INTO search_fts(rowid, {FTS_COLUMNS}) VALUES (new.sort_key, {NEW_VALUES}); "
            "END"
        )
