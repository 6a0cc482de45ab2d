"""Table handles and the dialect-aware upserts of the people tables.

Used by every module of `mailgate.people`; nothing outside the package writes these tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, String, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeEngine

from mailgate.fastsql import FastStatement
from mailgate.models import Body, MailingList, Message, MessageList
from mailgate.people_models import Person, PersonAddress, PersonMerge, PersonName, PersonTerm

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


def _unnest_upsert(conn: Connection, table: Table, keys: list[str], adds: list[str]) -> str:
    """PostgreSQL: the same upsert for a whole list of rows in one statement, each column
    passed as an array (`unnest` keeps the rows' order)."""
    columns = [c.name for c in table.c]
    cache_key = (table.name, "unnest")
    sql = _UNNEST.get(cache_key)
    if sql is None:
        quote = conn.dialect.identifier_preparer.quote
        name = quote(table.name)
        # Strings as unbounded varchar: a value too long for its column is refused (as a
        # plain INSERT refuses it), not cut short by the cast.
        arrays = ", ".join(f"%({c})s::{_array_type(conn, table.c[c].type)}[]" for c in columns)
        sets = [f"{quote(a)} = {name}.{quote(a)} + excluded.{quote(a)}" for a in adds]
        if "last_pk" in table.c:
            sets.append(f"last_pk = greatest({name}.last_pk, excluded.last_pk)")
        sql = _UNNEST[cache_key] = (
            f"INSERT INTO {name} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET {', '.join(sets)}"
        )
    return sql


_UNNEST: dict[tuple[str, str], str] = {}


def _array_type(conn: Connection, column_type: TypeEngine) -> str:
    return "varchar" if isinstance(column_type, String) else column_type.compile(conn.dialect)


def _add(conn: Connection, table: Table, keys: list[str], adds: list[str], rows: Sequence[dict]):  # type: ignore[no-untyped-def]
    if conn.dialect.name == "postgresql":
        sql = _unnest_upsert(conn, table, keys, adds)
        for start in range(0, len(rows), UPSERT_ROWS):
            part = rows[start : start + UPSERT_ROWS]
            conn.exec_driver_sql(sql, {c.name: [r[c.name] for r in part] for c in table.c})
        return
    stmt = _upsert(conn, table, keys, adds)
    for start in range(0, len(rows), UPSERT_ROWS):
        stmt.executemany(conn, rows[start : start + UPSERT_ROWS])


def add_names(conn: Connection, rows: Sequence[dict]) -> None:
    """Add to the counts of (address, name) rows: dicts with address, name, count."""
    if rows:
        _add(conn, names_t, ["address", "name"], ["count"], rows)


def add_terms(conn: Connection, rows: Sequence[dict]) -> None:
    """Add to per-person term counts: dicts with person_id, list_id, term, display, tf, docs,
    last_pk (rows sorted by key, so concurrent writers lock in the same order)."""
    if rows:
        _add(conn, terms_t, ["person_id", "list_id", "term"], ["tf", "docs"], rows)
