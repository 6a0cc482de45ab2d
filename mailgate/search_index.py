"""The full-text index: analysed terms per message, kept in the message's own transaction.

Terms come from `analysis` (folded, elision-free, stemmed per language), so SQLite FTS5 and
PostgreSQL index the same tokens and answer alike. Each `search_docs` row also holds:

* `sort_key`: the message date (UTC seconds) and its id in one integer (`sort_key`), unique and
  ordered newest-last, so "newest first", date ranges and keyset pagination are ranges of
  one integer that both engines walk in index order;
* `meta`: marker terms, `zqd` on every document, `zqg<language>` (the language its terms were
  stemmed in), `zql<list id>` per list the message is on and `zqh` when it has attachments,
  so list, language and attachment filters are index lookups.

SQLite (schema 0100_search): an external-content FTS5 table `search_fts(subject, body, people,
recipients, files, meta)` whose rowid is `sort_key`; a field filter is an FTS5 column filter.
New documents enter it by `index_documents`, right after their rows (a batch's terms then make
one index segment: migration 0830); triggers carry deletes and updates. PostgreSQL: a stored
tsvector `search_docs.tsv` (GIN index) holding the plain terms of subject, people, files and
body, plus field-tagged copies (`zqs` subject, `zqf` people, `zqa` files, `zqt` recipients,
prefixed to each term) and the meta terms, so a field filter is a plain lexeme lookup with no
recheck. Words of the form ``zq...`` are therefore reserved on PostgreSQL. `create_sql` is the
first version of the DDL (migration 0001); migration 0100_search holds the current one.
Called by the ingest pipeline (`terms`, `placement`, `add_list`), rebuild, search and
moderation.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, text

from mailgate import analysis

MAX_INDEXED_CHARS = 200_000
FTS_COLUMNS = ("subject", "body", "people", "recipients", "files", "meta")
SORT_KEY_SHIFT = 31  # message ids are 31-bit (PostgreSQL INTEGER primary keys)
MAX_SORT_SECONDS = 2**32 - 1  # dates after 2106 share the last second (order by id)
META_ALL = "zqd"
META_ATTACHMENT = "zqh"
META_LIST_PREFIX = "zql"
META_LANGUAGE_PREFIX = "zqg"

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
    """The statements that created the first full-text objects (migration 0001)."""
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


def date_seconds(when: datetime) -> int:
    """Seconds since 1970 of a naive UTC datetime, clamped to what a sort key can hold."""
    return min(max(calendar.timegm(when.utctimetuple()), 0), MAX_SORT_SECONDS)


def sort_key(when: datetime, message_pk: int) -> int:
    """The unique, date-ordered key of a message: (UTC seconds << 31) | id."""
    if not 0 < message_pk < 2**SORT_KEY_SHIFT:
        raise ValueError(f"message id {message_pk} does not fit in a sort key")
    return (date_seconds(when) << SORT_KEY_SHIFT) | message_pk


def date_key(when: datetime) -> int:
    """The smallest sort key of a message dated at or after `when` (naive or aware UTC)."""
    return date_seconds(when) << SORT_KEY_SHIFT


def list_term(list_id: int) -> str:
    return f"{META_LIST_PREFIX}{list_id}"


def language_term(language: str) -> str:
    return f"{META_LANGUAGE_PREFIX}{language}"


def meta(list_ids: Iterable[int], has_attachments: bool, language: str) -> str:
    """The marker terms of a document (see the module docstring)."""
    words = [META_ALL, language_term(language)]
    words += [list_term(lid) for lid in sorted(set(list_ids))]
    if has_attachments:
        words.append(META_ATTACHMENT)
    return " ".join(words)


def placement(
    search: dict[str, str],
    *,
    message_pk: int,
    date: datetime,
    list_ids: Iterable[int],
    has_attachments: bool,
    language: str,
) -> dict[str, object]:
    """A search document row: the analysed columns of `terms`, its sort key and markers."""
    return search | {
        "sort_key": sort_key(date, message_pk),
        "meta": meta(list_ids, has_attachments, language),
    }


_FTS_INSERT = (
    f"INSERT INTO search_fts(rowid, {', '.join(FTS_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(FTS_COLUMNS) + 1))})"
)


def index_documents(conn: Connection, docs: Sequence[Mapping[str, object]]) -> None:
    """SQLite: add documents just inserted into `search_docs` to the FTS5 index (PostgreSQL
    indexes its generated column by itself). Every writer of `search_docs` rows calls this
    (through `mailgate.store.add_search_docs`)."""
    if docs and conn.dialect.name == "sqlite":
        rows = [(doc["sort_key"], *(doc[column] for column in FTS_COLUMNS)) for doc in docs]
        conn.exec_driver_sql(_FTS_INSERT, rows)


_META_OF = text("SELECT meta FROM search_docs WHERE message_pk = :pk")
_SET_META = text("UPDATE search_docs SET meta = :meta WHERE message_pk = :pk").bindparams(
    bindparam("meta"), bindparam("pk")
)


def with_list(meta_terms: str, list_id: int) -> str:
    """`meta_terms` with the marker of one more list."""
    if list_term(list_id) in meta_terms.split():
        return meta_terms
    return f"{meta_terms} {list_term(list_id)}"


def add_list(conn: Connection, message_pk: int, list_id: int) -> bool:
    """Mark a stored document as being on one more list (a cross-post found later); False
    when the message has no document (yet: see `mailgate.search_backlog.add_list`)."""
    current = conn.execute(_META_OF, {"pk": message_pk}).scalar()
    if current is None:
        return False
    if with_list(current, list_id) != current:
        conn.execute(_SET_META, {"meta": with_list(current, list_id), "pk": message_pk})
    return True


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
