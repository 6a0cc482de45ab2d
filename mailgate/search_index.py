"""The full-text index: analysed terms per message, kept in the message's own transaction.

Terms come from `analysis` (folded, elision-free, stemmed per language), so SQLite FTS5 and
PostgreSQL index the same tokens and answer alike. SQLite: an external-content FTS5 table
`search_fts` over `search_docs`, kept in sync by triggers. PostgreSQL: a stored, weighted
tsvector column `search_docs.tsv` with a GIN index. The DDL is applied by migrations through
`create_sql`. Called by the ingest pipeline (`terms`), rebuild and moderation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, text

from mailgate import analysis

MAX_INDEXED_CHARS = 200_000
FTS_COLUMNS = ("subject", "body", "people", "recipients", "files")

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "subject, body, people, recipients, files, content='search_docs', "
    "content_rowid='message_pk', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER IF NOT EXISTS search_docs_ai AFTER INSERT ON search_docs BEGIN "
    "INSERT INTO search_fts(rowid, subject, body, people, recipients, files) VALUES "
    "(new.message_pk, new.subject, new.body, new.people, new.recipients, new.files); END",
    "CREATE TRIGGER IF NOT EXISTS search_docs_ad AFTER DELETE ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, subject, body, people, recipients, files) "
    "VALUES ('delete', old.message_pk, old.subject, old.body, old.people, old.recipients, "
    "old.files); END",
    "CREATE TRIGGER IF NOT EXISTS search_docs_au AFTER UPDATE ON search_docs BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, subject, body, people, recipients, files) "
    "VALUES ('delete', old.message_pk, old.subject, old.body, old.people, old.recipients, "
    "old.files); INSERT INTO search_fts(rowid, subject, body, people, recipients, files) "
    "VALUES (new.message_pk, new.subject, new.body, new.people, new.recipients, new.files); END",
)
POSTGRES_DDL = (
    "ALTER TABLE search_docs ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', coalesce(subject, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(people, '')), 'B') || "
    "setweight(to_tsvector('simple', coalesce(files, '')), 'B') || "
    "setweight(to_tsvector('simple', coalesce(body, '')), 'C') || "
    "setweight(to_tsvector('simple', coalesce(recipients, '')), 'D')) STORED",
    "CREATE INDEX IF NOT EXISTS ix_search_docs_tsv ON search_docs USING gin (tsv)",
)


def create_sql(dialect: str) -> Sequence[str]:
    """The statements that create the full-text objects on this dialect."""
    return SQLITE_DDL if dialect == "sqlite" else POSTGRES_DDL


def terms(
    *,
    subject: str,
    from_name: str,
    from_addr: str,
    recipients: Iterable[tuple[str, str]],
    filenames: Iterable[str],
    own_text: str,
    language: str,
) -> dict[str, str]:
    """The analysed columns of one message's search document."""
    people = analysis.analyze(from_name, language) + analysis.analyze_address(from_addr)
    to_terms: list[str] = []
    for name, addr in recipients:
        to_terms += analysis.analyze(name, language) + analysis.analyze_address(addr)
    files = [t for name in filenames for t in analysis.analyze(name, language)]
    return {
        "subject": analysis.analyze_text(subject, language),
        "body": analysis.analyze_text(own_text[:MAX_INDEXED_CHARS], language),
        "people": " ".join(people),
        "recipients": " ".join(to_terms),
        "files": " ".join(files),
    }


def clear(conn: Connection) -> None:
    """Empty the index: the documents, and on SQLite the FTS structures with them."""
    conn.execute(text("DELETE FROM search_docs"))
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))


def optimize(conn: Connection) -> None:
    """Merge index segments (after erasures this drops deleted terms from the file)."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))


def reindex(conn: Connection) -> None:
    """Recreate the index structures from the stored terms."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('rebuild')"))
    else:
        conn.execute(text("REINDEX INDEX ix_search_docs_tsv"))
