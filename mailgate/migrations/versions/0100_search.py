"""Search: a date-ordered sort key and marker terms per document; field-exact full-text index.

Adds `search_docs.sort_key` ((UTC seconds << 31) | message id, unique) and `search_docs.meta`
(``zqd``, ``zqg<language>``, ``zql<list id>`` per list, ``zqh`` with attachments), filled
from the messages.
SQLite: `search_fts` is recreated with a `meta` column and `sort_key` as its rowid, so FTS5
walks matches newest first and answers date ranges on the rowid. PostgreSQL: `tsv` is
recreated with plain terms (subject, people, files, body) plus field-tagged copies (``zqs``
subject, ``zqf`` people, ``zqa`` files, ``zqt`` recipients) and the markers, without weights.
The DDL is frozen here; `mailgate.search_index` documents it.

Revision ID: 0100_search
Revises: 0300_gateway
"""

import sqlalchemy as sa
from alembic import op

revision = "0100_search"
down_revision = "0300_gateway"
branch_labels = None
depends_on = None

FTS_COLUMNS = "subject, body, people, recipients, files, meta"
NEW_VALUES = "new.subject, new.body, new.people, new.recipients, new.files, new.meta"
OLD_VALUES = "old.subject, old.body, old.people, old.recipients, old.files, old.meta"
SQLITE_FTS = (
    f"CREATE VIRTUAL TABLE search_fts USING fts5({FTS_COLUMNS}, content='search_docs', "
    "content_rowid='sort_key', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN "
    f"INSERT INTO search_fts(rowid, {FTS_COLUMNS}) VALUES (new.sort_key, {NEW_VALUES}); END",
    "CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN "
    f"INSERT INTO search_fts(search_fts, rowid, {FTS_COLUMNS}) "
    f"VALUES ('delete', old.sort_key, {OLD_VALUES}); END",
    "CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN "
    f"INSERT INTO search_fts(search_fts, rowid, {FTS_COLUMNS}) "
    f"VALUES ('delete', old.sort_key, {OLD_VALUES}); "
    f"INSERT INTO search_fts(rowid, {FTS_COLUMNS}) VALUES (new.sort_key, {NEW_VALUES}); END",
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
)
OLD_TRIGGERS = ("search_docs_ai", "search_docs_ad", "search_docs_au")


def _tagged(column: str, tag: str) -> str:
    return f"to_tsvector('simple', regexp_replace({column}, '(\\S+)', '{tag}\\1', 'g'))"


# The tsvector stays in the row (compressed, lz4 when the server has it) so that walking the
# newest documents and testing each one against a query reads no TOAST table; a larger
# statistics target gives the planner good estimates for rare words, so it uses the GIN index
# for them rather than walking the dates.
TSV_EXPRESSION = (
    "to_tsvector('simple', subject) || "
    f"{_tagged('subject', 'zqs')} || "
    "to_tsvector('simple', people) || "
    f"{_tagged('people', 'zqf')} || "
    "to_tsvector('simple', files) || "
    f"{_tagged('files', 'zqa')} || "
    f"{_tagged('recipients', 'zqt')} || "
    "to_tsvector('simple', meta) || "
    "to_tsvector('simple', body)"
)
POSTGRES_TSV = (
    "ALTER TABLE search_docs SET (toast_tuple_target = 4080)",
    f"ALTER TABLE search_docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({TSV_EXPRESSION}) "
    "STORED, ALTER COLUMN tsv SET STORAGE MAIN, ALTER COLUMN tsv SET STATISTICS 2000{lz4}",
    "CREATE INDEX ix_search_docs_tsv ON search_docs USING gin (tsv)",
)
LZ4 = ", ALTER COLUMN tsv SET COMPRESSION lz4"
HAS_LZ4 = (
    "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)
SQLITE_FILL = (
    "UPDATE search_docs SET "
    "sort_key = (SELECT (max(0, min(4294967295, CAST(strftime('%s', m.date) AS INTEGER))) << 31)"
    " | m.id FROM messages m WHERE m.id = search_docs.message_pk), "
    "meta = 'zqd' || (SELECT ' zqg' || m.language FROM messages m "
    "WHERE m.id = search_docs.message_pk) || "
    "coalesce((SELECT ' ' || group_concat('zql' || ml.list_id, ' ') "
    "FROM message_lists ml WHERE ml.message_pk = search_docs.message_pk), '') || "
    "(SELECT CASE WHEN m.has_attachments THEN ' zqh' ELSE '' END FROM messages m "
    "WHERE m.id = search_docs.message_pk)"
)
POSTGRES_FILL = (
    "UPDATE search_docs d SET "
    "sort_key = (greatest(0, least(4294967295, floor(extract(epoch FROM m.date))::bigint)) << 31)"
    " | m.id, "
    "meta = 'zqd' || ' zqg' || m.language || "
    "coalesce((SELECT ' ' || string_agg('zql' || ml.list_id, ' ' "
    "ORDER BY ml.list_id) FROM message_lists ml WHERE ml.message_pk = d.message_pk), '') || "
    "CASE WHEN m.has_attachments THEN ' zqh' ELSE '' END "
    "FROM messages m WHERE m.id = d.message_pk"
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in OLD_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_docs_tsv")
        op.execute("ALTER TABLE search_docs DROP COLUMN IF EXISTS tsv")
    op.add_column(
        "search_docs", sa.Column("sort_key", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.add_column("search_docs", sa.Column("meta", sa.Text(), nullable=False, server_default=""))
    op.execute(SQLITE_FILL if sqlite else POSTGRES_FILL)
    op.create_index("ix_search_docs_sort_key", "search_docs", ["sort_key"], unique=True)
    if sqlite:
        for statement in SQLITE_FTS:
            op.execute(statement)
        return
    lz4 = LZ4 if op.get_bind().exec_driver_sql(HAS_LZ4).first() is not None else ""
    for statement in POSTGRES_TSV:
        op.execute(statement.replace("{lz4}", lz4))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for trigger in OLD_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_docs_tsv")
        op.execute("ALTER TABLE search_docs DROP COLUMN IF EXISTS tsv")
    op.drop_index("ix_search_docs_sort_key", table_name="search_docs")
    with op.batch_alter_table("search_docs") as batch:
        batch.drop_column("meta")
        batch.drop_column("sort_key")
    from mailgate.search_index import create_sql

    for statement in create_sql(op.get_bind().dialect.name):
        op.execute(statement)
    if sqlite:
        op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
