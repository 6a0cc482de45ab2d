"""Streamed mbox exports of archived mail: a thread, a list-month; gzip-compressed on the fly.

The raw bytes of each message (the source of truth) are read in bounded batches and written
as mboxrd (`From ` lines quoted with one more '>'), so exports of any size use constant
memory. Only visible messages (not hidden, on a list the reader may see) are exported.
Called by the web archive's export routes; usable by any command that writes an mbox.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, exists, func, select

from mailgate.archive_reads import month_start_utc, next_month
from mailgate.models import Message, MessageList, RawMessage
from mailgate.store import decompress

EXPORT_BATCH = 100
GZIP_LEVEL = 6
GZIP_WBITS = 31  # zlib wbits for a gzip container
_FROM_LINE = re.compile(rb"^(>*From )", re.M)
msgs_t = Message.__table__
mlists_t = MessageList.__table__
raw_t = RawMessage.__table__


def mboxrd_entry(raw: bytes, sender: str, date: datetime) -> bytes:
    """One message as an mboxrd entry (a `From ` separator line, quoted body, blank line)."""
    body = raw.replace(b"\r\n", b"\n")
    body = _FROM_LINE.sub(rb">\1", body)
    if not body.endswith(b"\n"):
        body += b"\n"
    who = (sender or "MAILER-DAEMON").encode("ascii", "replace").replace(b" ", b"_")
    return (
        b"From "
        + who
        + b" "
        + date.strftime("%a %b %d %H:%M:%S %Y").encode()
        + b"\n"
        + body
        + b"\n"
    )


def gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Gzip-compress a stream of byte chunks, yielding compressed pieces as they fill."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def _visible(list_ids: Sequence[int]):  # type: ignore[no-untyped-def]
    on_list = exists().where(mlists_t.c.message_pk == msgs_t.c.id, mlists_t.c.list_id.in_(list_ids))
    return and_(msgs_t.c.hidden.is_(False), on_list)


Key = tuple[int, str, datetime]  # (raw id, sender address, date) of one exported message


def entries(
    conn: Connection, keys: Sequence[Key], transform: Callable[[bytes], bytes] = bytes
) -> Iterator[bytes]:
    """mboxrd entries for the given keys, raw bytes read EXPORT_BATCH at a time."""
    for start in range(0, len(keys), EXPORT_BATCH):
        chunk = keys[start : start + EXPORT_BATCH]
        data = dict(
            conn.execute(
                select(raw_t.c.id, raw_t.c.data).where(raw_t.c.id.in_([k[0] for k in chunk]))
            ).all()
        )
        for raw_id, sender, date in chunk:
            if raw_id in data:
                yield mboxrd_entry(transform(decompress(data[raw_id])), sender, date)


def thread_keys(conn: Connection, thread_id: int, list_ids: Sequence[int]) -> list[Key]:
    """The visible messages of a thread, by date (empty when none is visible)."""
    if not list_ids:
        return []
    rows = conn.execute(
        select(_visible_copy(list_ids), msgs_t.c.from_addr, msgs_t.c.date)
        .where(msgs_t.c.thread_id == thread_id, _visible(list_ids))
        .order_by(msgs_t.c.date, msgs_t.c.id)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def month_keys(conn: Connection, list_id: int, year: int, month: int, tz: ZoneInfo) -> list[Key]:
    """A list's visible messages of one local month (the copies that list delivered)."""
    start, end = month_start_utc(year, month, tz), month_start_utc(*next_month(year, month), tz)
    rows = conn.execute(
        select(mlists_t.c.raw_id, msgs_t.c.from_addr, msgs_t.c.date)
        .join(msgs_t, msgs_t.c.id == mlists_t.c.message_pk)
        .where(
            mlists_t.c.list_id == list_id,
            mlists_t.c.date >= start,
            mlists_t.c.date < end,
            msgs_t.c.hidden.is_(False),
        )
        .order_by(mlists_t.c.date, msgs_t.c.id)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _visible_copy(list_ids: Sequence[int]):  # type: ignore[no-untyped-def]
    """The raw copy of a message delivered by a list the reader may see (a cross-post's copy
    from a private list carries that list's headers)."""
    return (
        select(func.min(mlists_t.c.raw_id))
        .where(mlists_t.c.message_pk == msgs_t.c.id, mlists_t.c.list_id.in_(list_ids))
        .scalar_subquery()
    )


def message_raw(conn: Connection, pk: int, list_ids: Sequence[int]) -> bytes | None:
    """The raw bytes of a message as delivered by one of the lists `list_ids`."""
    if not list_ids:
        return None
    raw_id = conn.execute(select(_visible_copy(list_ids)).where(msgs_t.c.id == pk)).scalar()
    data = conn.execute(select(raw_t.c.data).where(raw_t.c.id == raw_id)).scalar()
    return decompress(data) if data is not None else None
