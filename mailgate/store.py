"""Archive writes (idempotent adds, quarantine) and the core read queries.

Writes use SQLAlchemy Core on the connection of the caller's transaction so that a bulk import
can put thousands of messages in one transaction and the live path one message per durable
commit. Reads return small typed rows for the CLI, the web archive, commands and digests.
Called by `pipeline`, `cli` and the readers.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import zstandard
from sqlalchemy import Connection, DateTime, Integer, bindparam, insert, select, text, update

from mailgate import search_index, thread_summary
from mailgate.config import ListConfig
from mailgate.fastsql import FastStatement
from mailgate.models import (
    Attachment,
    Body,
    Delivery,
    MailingList,
    Message,
    MessageList,
    RawMessage,
    Recipient,
    SearchDoc,
)

RAW_COMPRESSION_LEVEL = 3  # Zstandard's default level
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_codecs = threading.local()  # zstandard contexts are not safe to share between threads
raw_t = RawMessage.__table__
msgs_t = Message.__table__
mlists_t = MessageList.__table__
lists_t = MailingList.__table__


def utcnow() -> datetime:
    """Now as a naive UTC datetime (the stored form)."""
    return datetime.now(UTC).replace(tzinfo=None)


def compress(raw: bytes) -> bytes:
    """The stored form of raw bytes: a Zstandard frame (about twice as fast as zlib level 1
    and a little smaller on mail)."""
    compressor = getattr(_codecs, "compressor", None)
    if compressor is None:
        compressor = _codecs.compressor = zstandard.ZstdCompressor(level=RAW_COMPRESSION_LEVEL)
    return compressor.compress(raw)


def decompress(data: bytes) -> bytes:
    """Raw bytes from their stored form: a Zstandard frame, or zlib (rows written by
    earlier versions)."""
    if data.startswith(ZSTD_MAGIC):
        return zstandard.ZstdDecompressor().decompress(data)
    return zlib.decompress(data)


def sync_lists(conn: Connection, lists: Sequence[ListConfig]) -> dict[str, int]:
    """Make the configured lists exist in the database; returns ids by name."""
    existing = {row.name: row for row in conn.execute(select(lists_t)).all()}
    for lst in lists:
        values = {
            "address": lst.address,
            "description": lst.description,
            "visibility": lst.visibility,
            "language": lst.language,
        }
        row = existing.get(lst.name)
        if row is None:
            conn.execute(insert(lists_t).values(name=lst.name, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            conn.execute(update(lists_t).where(lists_t.c.id == row.id).values(**values))
    return {name: lid for lid, name in conn.execute(select(lists_t.c.id, lists_t.c.name))}


# Statements are built once: constructing them per message costs more than running them.
_FIND_RAW = FastStatement(select(raw_t.c.id).where(raw_t.c.sha256 == bindparam("sha")))
_ADD_RAW = FastStatement(insert(raw_t), returns_id=True)
_RAW_DATA = select(raw_t.c.data).where(raw_t.c.id == bindparam("id"))
_COPY_IN_LIST = FastStatement(
    select(mlists_t.c.message_pk).where(
        mlists_t.c.raw_id == bindparam("raw"), mlists_t.c.list_id == bindparam("lid")
    )
)
_BY_FINGERPRINT = select(msgs_t.c.id, msgs_t.c.thread_id, msgs_t.c.message_id, msgs_t.c.date).where(
    msgs_t.c.fingerprint == bindparam("fp")
)
_IN_LIST = FastStatement(
    select(mlists_t.c.message_pk).where(
        mlists_t.c.message_pk == bindparam("pk"), mlists_t.c.list_id == bindparam("lid")
    )
)
_ADD_DELIVERY = FastStatement(insert(Delivery.__table__))
_ADD_TO_LIST = FastStatement(insert(mlists_t))
_ADD_MESSAGE = FastStatement(insert(msgs_t), returns_id=True)
_ADD_BODY = FastStatement(insert(Body.__table__))
_ADD_RECIPIENTS = FastStatement(insert(Recipient.__table__))
_ADD_ATTACHMENTS = FastStatement(insert(Attachment.__table__))
_ADD_SEARCH = FastStatement(insert(SearchDoc.__table__))


def find_raw(conn: Connection, sha256: str) -> int | None:
    return _FIND_RAW.scalar(conn, {"sha": sha256})


def add_raw(
    conn: Connection,
    sha256: str,
    size: int,
    compressed: bytes,
    when: datetime,
    *,
    known_new: bool = False,
) -> int:
    """Store a raw copy (or return the id of the identical one already stored)."""
    existing = None if known_new else find_raw(conn, sha256)
    if existing is not None:
        return existing
    return _ADD_RAW.insert(conn, _raw_params(NewRaw(sha256, size, compressed, when)))


def raw_bytes(conn: Connection, raw_id: int) -> bytes | None:
    data = conn.execute(_RAW_DATA, {"id": raw_id}).scalar()
    return decompress(data) if data is not None else None


def copy_in_list(conn: Connection, raw_id: int, list_id: int) -> int | None:
    """The message stored from exactly these bytes on this list, if any."""
    return _COPY_IN_LIST.scalar(conn, {"raw": raw_id, "lid": list_id})


def message_by_fingerprint(
    conn: Connection, fingerprint: str
) -> tuple[int, int, str, datetime] | None:
    """(pk, thread id, Message-ID, date) of the message with this identity (`known` says
    cheaply whether there is one)."""
    row = conn.execute(_BY_FINGERPRINT, {"fp": fingerprint}).first()
    return tuple(row) if row else None  # type: ignore[return-value]


def in_list(conn: Connection, message_pk: int, list_id: int) -> bool:
    return _IN_LIST.first(conn, {"pk": message_pk, "lid": list_id}) is not None


def record_delivery(
    pending: PendingRows, raw_id: int, list_id: int, arrived_at: datetime, source: str
) -> None:
    """Note in the ledger that these bytes arrived through this list (replayed by rebuild)."""
    pending.rows[_ADD_DELIVERY].append(
        {"raw_id": raw_id, "list_id": list_id, "arrived_at": arrived_at, "source": source[:200]}
    )


def add_to_list(
    conn: Connection,
    message_pk: int,
    list_id: int,
    raw_id: int,
    date: datetime,
    arrived_at: datetime,
) -> None:
    _ADD_TO_LIST.execute(
        conn,
        {
            "message_pk": message_pk,
            "list_id": list_id,
            "raw_id": raw_id,
            "date": date,
            "arrived_at": arrived_at,
        },
    )


def add_message(conn: Connection, values: dict) -> int:
    return _ADD_MESSAGE.insert(conn, values)


@dataclass(frozen=True, slots=True)
class NewRaw:
    """A raw copy not stored yet, to store with its message (`add_message_to_list`)."""

    sha256: str
    size: int
    data: bytes
    received_at: datetime


def add_message_to_list(
    conn: Connection,
    values: dict,
    list_id: int,
    arrived_at: datetime,
    *,
    bump: bool,
    new_raw: NewRaw | None = None,
) -> tuple[int, int]:
    """Store a message row and its membership of a list (thread and date from `values`, the
    raw copy from `values["raw_id"]`, or `new_raw` stored first); with `bump`, count it in its
    thread's summary (`thread_summary.note_message`). One round trip on PostgreSQL. Returns
    the message id and the raw copy's id."""
    if conn.dialect.name != "postgresql":
        if new_raw is not None:
            values["raw_id"] = _ADD_RAW.insert(conn, _raw_params(new_raw))
        pk = add_message(conn, values)
        add_to_list(conn, pk, list_id, values["raw_id"], values["date"], arrived_at)
        if bump:
            thread_summary.note_message(conn, values["thread_id"], list_id, values["date"])
        return pk, values["raw_id"]
    key = (tuple(values), bump, new_raw is not None)
    statement = _MESSAGE_IN_LIST.get(key)
    if statement is None:
        statement = _MESSAGE_IN_LIST[key] = _message_in_list(conn, *key)
    params = {"lid": list_id, "ml_arrived": arrived_at}
    if bump:
        params["tid"] = values["thread_id"]
    if new_raw is not None:
        params |= {f"r_{name}": value for name, value in _raw_params(new_raw).items()}
    return tuple(statement.execute(conn, values | params).fetchone())  # type: ignore[return-value]


def _raw_params(raw: NewRaw) -> dict[str, Any]:
    """The raw_messages row of `raw` (its fields are the table's columns)."""
    return {name: getattr(raw, name) for name in _RAW_COLUMNS}


_MESSAGE_IN_LIST: dict[tuple[tuple[str, ...], bool, bool], FastStatement] = {}
_RAW_COLUMNS = ("sha256", "size", "data", "received_at")


def _message_in_list(
    conn: Connection, keys: tuple[str, ...], bump: bool, new_raw: bool
) -> FastStatement:
    """PostgreSQL: the raw copy (when new), the message row, its list membership and the
    thread summary bump in one statement of data-modifying WITHs."""
    quote = conn.dialect.identifier_preparer.quote
    date = quote("date")
    raw = (
        f"r AS (INSERT INTO raw_messages ({', '.join(_RAW_COLUMNS)}) "
        f"VALUES ({', '.join(f':r_{name}' for name in _RAW_COLUMNS)}) RETURNING id), "
        if new_raw
        else ""
    )
    placeholders = [
        "(SELECT id FROM r)" if new_raw and key == "raw_id" else f":{key}" for key in keys
    ]
    bumps = f", {thread_summary.PG_BUMP_CTES}" if bump else ""
    sql = text(
        f"WITH {raw}m AS (INSERT INTO messages ({', '.join(map(quote, keys))}) "
        f"VALUES ({', '.join(placeholders)}) RETURNING id, raw_id, {date}), "
        f"ml AS (INSERT INTO message_lists (message_pk, list_id, raw_id, {date}, arrived_at) "
        f"SELECT id, :lid, raw_id, {date}, :ml_arrived FROM m RETURNING message_pk, raw_id)"
        f"{bumps} SELECT message_pk, raw_id FROM ml"
    ).bindparams(
        *(
            bindparam(key, type_=msgs_t.c[key].type)
            for key in keys
            if not (new_raw and key == "raw_id")
        ),
        bindparam("lid", type_=Integer()),
        bindparam("ml_arrived", type_=DateTime()),
        *([bindparam("tid", type_=Integer())] if bump else []),
        *(
            bindparam(f"r_{name}", type_=raw_t.c[name].type)
            for name in (_RAW_COLUMNS if new_raw else ())
        ),
    )
    return FastStatement(sql)


class PendingRows:
    """Rows that nothing reads while ingesting (bodies, recipients, attachments, search
    terms, the delivery ledger), written together with one executemany per table.

    The bulk import flushes once per batch; the live path flushes before its commit. Either
    way the rows are in the same transaction as their message.
    """

    def __init__(self) -> None:
        self.rows: dict[FastStatement, list[dict]] = {
            _ADD_BODY: [],
            _ADD_RECIPIENTS: [],
            _ADD_ATTACHMENTS: [],
            _ADD_SEARCH: [],
            _ADD_DELIVERY: [],
        }
        # Other derived rows of the batch (people profiles), each with its own flush(conn).
        self.extras: dict[str, Any] = {}

    def flush(self, conn: Connection) -> None:
        for statement, rows in self.rows.items():
            if rows:
                if statement is _ADD_SEARCH:
                    add_search_docs(conn, rows)
                else:
                    statement.copy(conn, rows)
                rows.clear()
        for extra in self.extras.values():
            extra.flush(conn)


def add_search_docs(conn: Connection, rows: Sequence[dict]) -> None:
    """Write search documents now (a COPY on PostgreSQL), and on SQLite their index entries
    (the only way documents enter `search_docs`)."""
    _ADD_SEARCH.copy(conn, rows)
    search_index.index_documents(conn, rows)


def take_search_docs(pending: PendingRows) -> list[dict]:
    """The search documents queued in `pending`, which no longer holds them."""
    docs = list(pending.rows[_ADD_SEARCH])
    pending.rows[_ADD_SEARCH].clear()
    return docs


def queued_search_doc(pending: PendingRows, message_pk: int) -> dict | None:
    """The search document of `message_pk` if it is still waiting in `pending`."""
    for row in pending.rows[_ADD_SEARCH]:
        if row["message_pk"] == message_pk:
            return row
    return None


def add_details(
    pending: PendingRows,
    pk: int,
    body: dict,
    recipients: list[dict],
    attachments: list[dict],
    search: dict,
) -> None:
    """Queue the body, recipients, attachment metadata and search terms of a new message."""
    pending.rows[_ADD_BODY].append(body | {"message_pk": pk})
    pending.rows[_ADD_RECIPIENTS].extend(r | {"message_pk": pk} for r in recipients)
    pending.rows[_ADD_ATTACHMENTS].extend(a | {"message_pk": pk} for a in attachments)
    pending.rows[_ADD_SEARCH].append(search | {"message_pk": pk})
