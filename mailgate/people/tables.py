"""Table handles and the dialect-aware upserts of the people tables.

Used by every module of `mailgate.people`; nothing outside the package writes these tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.fastsql import FastStatement
from mailgate.models import (
    Body,
    MailingList,
    Message,
    MessageList,
    Person,
    PersonAddress,
    PersonMerge,
    PersonName,
    PersonTerm,
)

persons_t: Table = Person.__table__  # type: ignore[assignment]
addresses_t: Table = PersonAddress.__table__  # type: ignore[assignment]
names_t: Table = PersonName.__table__  # type: ignore[assignment]
merges_t: Table = PersonMerge.__table__  # type: ignore[assignment]
terms_t: Table = PersonTerm.__table__  # type: ignore[assignment]
msgs_t: Table = Message.__table__  # type: ignore[assignment]
bodies_t: Table = Body.__table__  # type: ignore[assignment]
mlists_t: Table = MessageList.__table__  # type: ignore[assignment]
lists_t: Table = MailingList.__table__  # type: ignore[assignment]
UPSERT_ROWS = 2_000


def _insert(conn: Connection, table: Table):  # type: ignore[no-untyped-def]
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _greatest(conn: Connection, a, b):  # type: ignore[no-untyped-def]
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def _upsert(conn: Connection, table: Table, keys: list[str], adds: list[str]) -> FastStatement:
    """INSERT, or on a key conflict add `adds` to the row and keep the greatest last_pk
    (one compiled statement per table and dialect)."""
    cache_key = (table.name, conn.dialect.name)
    found = _UPSERTS.get(cache_key)
    if found is None:
        stmt = _insert(conn, table)
        set_ = {name: table.c[name] + stmt.excluded[name] for name in adds}
        if "last_pk" in table.c:
            set_["last_pk"] = _greatest(conn, table.c.last_pk, stmt.excluded.last_pk)
        found = _UPSERTS[cache_key] = FastStatement(
            stmt.on_conflict_do_update(index_elements=keys, set_=set_)
        )
    return found


_UPSERTS: dict[tuple[str, str], FastStatement] = {}


def add_names(conn: Connection, rows: Sequence[dict]) -> None:
    """Add to the counts of (address, name) rows: dicts with address, name, count."""
    if not rows:
        return
    stmt = _upsert(conn, names_t, ["address", "name"], ["count"])
    for start in range(0, len(rows), UPSERT_ROWS):
        stmt.executemany(conn, rows[start : start + UPSERT_ROWS])


def add_terms(conn: Connection, rows: Sequence[dict]) -> None:
    """Add to per-person term counts: dicts with person_id, list_id, term, display, tf, docs,
    last_pk (rows sorted by key, so concurrent writers lock in the same order)."""
    if not rows:
        return
    stmt = _upsert(conn, terms_t, ["person_id", "list_id", "term"], ["tf", "docs"])
    for start in range(0, len(rows), UPSERT_ROWS):
        stmt.executemany(conn, rows[start : start + UPSERT_ROWS])
