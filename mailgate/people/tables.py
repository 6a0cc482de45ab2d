"""Table handles and the dialect-aware upserts of the people tables.

Used by every module of `mailgate.people`; nothing outside the package writes these tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, func
from sqlalchemy.dialects import postgresql, sqlite

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


def add_names(conn: Connection, rows: Sequence[dict]) -> None:
    """Add to the counts of (address, name) rows: dicts with address, name, count."""
    if not rows:
        return
    stmt = _insert(conn, names_t)
    stmt = stmt.on_conflict_do_update(
        index_elements=["address", "name"], set_={"count": names_t.c.count + stmt.excluded.count}
    )
    for start in range(0, len(rows), UPSERT_ROWS):
        conn.execute(stmt, list(rows[start : start + UPSERT_ROWS]))


def add_terms(conn: Connection, rows: Sequence[dict]) -> None:
    """Add to per-person term counts: dicts with person_id, list_id, term, display, tf, docs,
    last_pk (rows sorted by key, so concurrent writers lock in the same order)."""
    if not rows:
        return
    stmt = _insert(conn, terms_t)
    stmt = stmt.on_conflict_do_update(
        index_elements=["person_id", "list_id", "term"],
        set_={
            "tf": terms_t.c.tf + stmt.excluded.tf,
            "docs": terms_t.c.docs + stmt.excluded.docs,
            "last_pk": _greatest(conn, terms_t.c.last_pk, stmt.excluded.last_pk),
        },
    )
    for start in range(0, len(rows), UPSERT_ROWS):
        conn.execute(stmt, list(rows[start : start + UPSERT_ROWS]))
