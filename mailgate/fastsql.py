"""Hot-path statements run on the DBAPI cursor of the caller's connection.

SQLAlchemy's per-execution bookkeeping costs several times what SQLite spends on a small
indexed lookup or insert, and the ingest writer runs a dozen of those per message. Here a
statement is still built and compiled by SQLAlchemy (same SQL, same type conversion on the
way in), once per dialect and set of parameter names, then executed on the raw cursor inside
the caller's transaction. Results are returned as plain tuples: use it for statements whose
results are integers and strings (ids), or `typed_all` to have dates converted; `copy` writes
many rows of a plain INSERT (COPY on PostgreSQL, for the rows of an ingest batch). Called by
`store`, `threads`, `people` and `moderation`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

Processor = Callable[[Any], Any]
# How SQLAlchemy's SQLite DATETIME stores a datetime unless told otherwise.
_SQLITE_DATETIME_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
COPY_MIN_ROWS = 8  # fewer rows are inserted one by one (the live path writes one message)


class FastStatement:
    """A statement compiled once per (dialect, parameter names) and run on the DBAPI cursor."""

    def __init__(self, statement: Executable, *, returns_id: bool = False) -> None:
        self.statement = statement
        self.returns_id = returns_id
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, list, dict]] = {}
        self._results: dict[str, list[Processor | None]] = {}

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> tuple[str, list, dict]:
        dialect = conn.dialect
        statement = self.statement
        if self.returns_id and isinstance(statement, Insert) and dialect.name != "sqlite":
            statement = statement.returning(statement.table.c.id)  # type: ignore[attr-defined]
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        processors: dict[str, Processor] = {}
        for bind, name in compiled.bind_names.items():
            processor = _bind_processor(bind.type.dialect_impl(dialect), dialect)
            if processor is not None:
                processors[name] = processor
        defaults = {
            name: _column_default(statement, name, value)
            for name, value in compiled.params.items()
            if name not in keys
        }
        names = list(compiled.positiontup or compiled.params)
        return (
            compiled.string,
            names,
            {
                "processors": processors,
                "defaults": defaults,
                "positional": compiled.positiontup is not None,
            },
        )

    def _entry(self, conn: Connection, keys: tuple[str, ...]) -> tuple[str, list, dict]:
        key = (conn.dialect.name, keys)
        entry = self._compiled.get(key)
        if entry is None:
            entry = self._compiled[key] = self._compile(conn, keys)
        return entry

    def _arguments(self, extra: dict, names: list, params: Mapping[str, Any]) -> Any:
        if not extra["processors"] and not extra["defaults"]:
            return [params[name] for name in names] if extra["positional"] else params
        values = {**extra["defaults"], **params}
        for name, processor in extra["processors"].items():
            values[name] = processor(values[name])
        return [values[name] for name in names] if extra["positional"] else values

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run with `params`; returns the DBAPI cursor."""
        sql, names, extra = self._entry(conn, tuple(params))
        arguments = self._arguments(extra, names, params)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, arguments)
        except conn.dialect.loaded_dbapi.Error as exc:
            # The same exception classes SQLAlchemy raises (DataError, IntegrityError...).
            raise DBAPIError.instance(
                sql, arguments, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from exc
        return cursor

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row, in order (one DBAPI executemany per run of rows with the same
        keys)."""
        for start, end in _runs(rows):
            sql, names, extra = self._entry(conn, tuple(rows[start]))
            arguments = [self._arguments(extra, names, row) for row in rows[start:end]]
            cursor = conn.connection.cursor()
            try:
                if len(arguments) == 1:  # a driver's executemany costs more for one row
                    cursor.execute(sql, arguments[0])
                else:
                    cursor.executemany(sql, arguments)
            except conn.dialect.loaded_dbapi.Error as exc:
                raise DBAPIError.instance(
                    sql, arguments[:1], exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
                ) from exc

    def copy(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (this statement is a plain INSERT): on PostgreSQL with a binary COPY,
        which costs the server and the driver a fraction of one INSERT per row and escapes no
        text; for fewer than `COPY_MIN_ROWS` rows (a COPY takes two round trips) and elsewhere
        with `executemany`. Errors are raised as `executemany` raises them."""
        if conn.dialect.name != "postgresql" or len(rows) < COPY_MIN_ROWS:
            self.executemany(conn, rows)
            return
        table = self.statement.table  # type: ignore[attr-defined]
        quote = conn.dialect.identifier_preparer.quote
        for start, end in _runs(rows):
            _sql, names, extra = self._entry(conn, tuple(rows[start]))
            columns = ", ".join(map(quote, names))
            sql = f"COPY {quote(table.name)} ({columns}) FROM STDIN (FORMAT BINARY)"
            try:
                with conn.connection.cursor().copy(sql) as stream:
                    stream.set_types([_type_name(table.c[name], conn) for name in names])
                    for row in rows[start:end]:
                        values = self._arguments(extra, names, row)
                        stream.write_row([values[name] for name in names])
            except conn.dialect.loaded_dbapi.Error as exc:
                raise DBAPIError.instance(
                    sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
                ) from exc

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        row = self.execute(conn, params).fetchone()
        return row[0] if row else None

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple | None:
        return self.execute(conn, params).fetchone()

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple]:
        return self.execute(conn, params).fetchall()

    def typed_all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple]:
        """`all` with each column converted as SQLAlchemy would (dates, booleans on SQLite)."""
        processors = self._results.get(conn.dialect.name)
        if processors is None:
            dialect = conn.dialect
            processors = self._results[dialect.name] = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns  # type: ignore[attr-defined]
            ]
        rows = self.all(conn, params)
        if not any(processors):
            return rows
        return [
            tuple(
                value if f is None else f(value) for f, value in zip(processors, row, strict=True)
            )
            for row in rows
        ]

    def insert(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an INSERT and return the new row's id."""
        cursor = self.execute(conn, params)
        if conn.dialect.name == "sqlite":
            return cursor.lastrowid
        return cursor.fetchone()[0]

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        return self.execute(conn, params).rowcount


def _bind_processor(impl: Any, dialect: Any) -> Processor | None:
    """The type's bind processor; for SQLite datetimes in SQLAlchemy's default storage format,
    one that writes a naive datetime with `datetime.isoformat` (the same text, a tenth of the
    cost of formatting each field: the writer binds a dozen dates per message)."""
    processor = impl.bind_processor(dialect)
    if processor is None or getattr(impl, "_storage_format", None) != _SQLITE_DATETIME_FORMAT:
        return processor

    def process(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return processor(value)

    return process


def _type_name(column: Any, conn: Connection) -> str:
    """The PostgreSQL type of a column as the driver names it (``varchar``, ``int4``...)."""
    return column.type.compile(dialect=conn.dialect).split("(")[0].lower()


def _runs(rows: Sequence[Mapping[str, Any]]) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of consecutive rows with the same keys."""
    start = 0
    while start < len(rows):
        keys = tuple(rows[start])
        end = start + 1
        while end < len(rows) and tuple(rows[end]) == keys:
            end += 1
        yield start, end
        start = end


def _converted(processors: list[Processor | None], row: tuple) -> tuple:
    return tuple(v if f is None else f(v) for f, v in zip(processors, row, strict=True))


def _column_default(statement: Any, name: str, fallback: Any) -> Any:
    """The scalar default of an INSERT column the caller did not give."""
    table = getattr(statement, "table", None)
    column = table.c.get(name) if table is not None else None
    default = getattr(column, "default", None)
    if default is not None and getattr(default, "is_scalar", False):
        return default.arg
    return fallback
