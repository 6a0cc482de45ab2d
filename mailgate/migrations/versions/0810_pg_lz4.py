"""PostgreSQL: LZ4 for the large text columns, no second compression of raw mail.

Message bodies and search documents are the bulk of what an import writes; PostgreSQL's
default TOAST compression (pglz) made compressing them the largest share of the server's work
per message. LZ4 compresses several times faster for a little less space. Raw mail is already
compressed (Zstandard) and is stored out of line without trying again. Only values written
from now on change; servers built without LZ4 keep pglz. SQLite: nothing to do.

Revision ID: 0810_pg_lz4
Revises: 0800_digests
"""

from alembic import op
from sqlalchemy import text

revision = "0810_pg_lz4"
down_revision = "0800_digests"
branch_labels = None
depends_on = None

LZ4_COLUMNS = {
    "bodies": ("text", "html", "own_text", "zones"),
    "search_docs": ("subject", "body", "people", "recipients", "files", "tsv"),
}
PRECOMPRESSED = {"raw_messages": "data", "quarantine": "data"}


def _lz4_available() -> bool:
    row = (
        op.get_bind()
        .execute(text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"))
        .first()
    )
    return row is not None and "lz4" in (row[0] or [])


def _set(method: str, storage: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column in PRECOMPRESSED.items():
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STORAGE {storage}')
    if not _lz4_available():
        return
    for table, columns in LZ4_COLUMNS.items():
        for column in columns:
            op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION {method}')


def upgrade() -> None:
    _set("lz4", "EXTERNAL")


def downgrade() -> None:
    _set("pglz", "EXTENDED")
