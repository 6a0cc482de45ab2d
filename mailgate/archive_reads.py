"""Read queries of the browsable archive: lists, thread pages, messages, months, senders.

Every function takes a connection and the ids of the lists the reader may see (from
`access.visible_list_ids`): a message is shown only when it is not hidden and is on one of
those lists. List and thread pages read narrow skeleton rows from `messages`; bodies are read
apart (`bodies`), in bounded batches. Thread lists use keyset pagination on
(last activity, thread id) over `ix_thread_lists_activity`: no OFFSET, no COUNT(*).
Called by the web archive, feeds and exports, and usable by digests and commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, exists, func, select, tuple_

from mailgate.models import (
    Attachment,
    Body,
    MailingList,
    Message,
    MessageList,
    Recipient,
    ThreadList,
)
from mailgate.threadview import display_order, ghost_parents

BATCH = 500
msgs_t = Message.__table__
mlists_t = MessageList.__table__
tlists_t = ThreadList.__table__
lists_t = MailingList.__table__
bodies_t = Body.__table__
att_t = Attachment.__table__
rcpt_t = Recipient.__table__


@dataclass(frozen=True, slots=True)
class MessageRow:
    """The skeleton of one message (no body)."""

    pk: int
    message_id: str
    thread_id: int
    parent_mid: str | None
    subject: str
    from_name: str
    from_addr: str
    date: datetime
    has_attachments: bool
    language: str
    snippet: str


@dataclass(frozen=True, slots=True)
class ThreadRow:
    thread_id: int
    subject: str
    first_date: datetime
    last_date: datetime
    message_count: int


@dataclass(frozen=True, slots=True)
class BodyRow:
    text: str
    zones: list[list]
    html: str | None


@dataclass(frozen=True, slots=True)
class AttachmentRow:
    position: int
    filename: str
    content_type: str
    size: int
    content_id: str | None
    inline: bool


SKELETON = (
    msgs_t.c.id,
    msgs_t.c.message_id,
    msgs_t.c.thread_id,
    msgs_t.c.parent_mid,
    msgs_t.c.subject,
    msgs_t.c.from_name,
    msgs_t.c.from_addr,
    msgs_t.c.date,
    msgs_t.c.has_attachments,
    msgs_t.c.language,
    msgs_t.c.snippet,
)


def _visible(list_ids: Sequence[int]):  # type: ignore[no-untyped-def]
    on_list = exists().where(mlists_t.c.message_pk == msgs_t.c.id, mlists_t.c.list_id.in_(list_ids))
    return and_(msgs_t.c.hidden.is_(False), on_list)


def _rows(conn: Connection, query) -> list[MessageRow]:  # type: ignore[no-untyped-def]
    return [MessageRow(*row) for row in conn.execute(query).all()]


def list_ids_by_name(conn: Connection) -> dict[str, int]:
    return {name: lid for lid, name in conn.execute(select(lists_t.c.id, lists_t.c.name))}


def last_activity(conn: Connection, list_id: int) -> datetime | None:
    """The date of the latest visible message of a list (one index probe)."""
    return conn.execute(
        select(func.max(tlists_t.c.last_date)).where(tlists_t.c.list_id == list_id)
    ).scalar()


def threads_page(
    conn: Connection, list_id: int, before: tuple[datetime, int] | None, limit: int
) -> list[ThreadRow]:
    """Threads of a list by last activity, newest first, strictly after the cursor `before`;
    each with the subject of its first visible message on that list."""
    # The subject of the thread's first message on this list: the thread's own subject may be
    # that of a message on another (private) list.
    first_subject = (
        select(msgs_t.c.subject)
        .join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id)
        .where(
            msgs_t.c.thread_id == tlists_t.c.thread_id,
            mlists_t.c.list_id == list_id,
            msgs_t.c.hidden.is_(False),
        )
        .order_by(msgs_t.c.date, msgs_t.c.id)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            tlists_t.c.thread_id,
            first_subject,
            tlists_t.c.first_date,
            tlists_t.c.last_date,
            tlists_t.c.message_count,
        )
        .where(tlists_t.c.list_id == list_id)
        .order_by(tlists_t.c.last_date.desc(), tlists_t.c.thread_id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(tuple_(tlists_t.c.last_date, tlists_t.c.thread_id) < tuple_(*before))
    return [ThreadRow(*row) for row in conn.execute(query).all()]


def month_counts(conn: Connection, list_id: int, tz: ZoneInfo) -> list[tuple[int, int, int]]:
    """(year, month, messages) of a list, months in the time zone `tz`, oldest first."""
    rows = conn.execute(
        select(mlists_t.c.date)
        .join(msgs_t, msgs_t.c.id == mlists_t.c.message_pk)
        .where(mlists_t.c.list_id == list_id, msgs_t.c.hidden.is_(False))
        .order_by(mlists_t.c.date)
    ).scalars()
    counts: list[list[int]] = []
    utc = ZoneInfo("UTC")
    boundary: datetime | None = None
    for date in rows:
        if boundary is None or date >= boundary:
            local = date.replace(tzinfo=utc).astimezone(tz)
            counts.append([local.year, local.month, 0])
            boundary = month_start_utc(*next_month(local.year, local.month), tz)
        counts[-1][2] += 1
    return [(y, m, n) for y, m, n in counts]


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def month_start_utc(year: int, month: int, tz: ZoneInfo) -> datetime:
    """The first instant of a local month as a naive UTC datetime (the stored form)."""
    local = datetime(year, month, 1, tzinfo=tz)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def month_messages(
    conn: Connection, list_id: int, year: int, month: int, tz: ZoneInfo
) -> list[MessageRow]:
    """Visible messages of a list in one local month, by date."""
    start, end = month_start_utc(year, month, tz), month_start_utc(*next_month(year, month), tz)
    query = (
        select(*SKELETON)
        .join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id)
        .where(
            mlists_t.c.list_id == list_id,
            mlists_t.c.date >= start,
            mlists_t.c.date < end,
            msgs_t.c.hidden.is_(False),
        )
        .order_by(mlists_t.c.date, msgs_t.c.id)
    )
    return _rows(conn, query)


def thread_messages(
    conn: Connection, thread_id: int, list_ids: Sequence[int]
) -> list[tuple[MessageRow, int]]:
    """The visible messages of a thread in display order, each with its depth."""
    rows = _rows(conn, select(*SKELETON).where(msgs_t.c.thread_id == thread_id, _visible(list_ids)))
    if not rows:
        return []
    by_pk = {row.pk: row for row in rows}
    order = display_order(
        [(r.pk, r.message_id, r.parent_mid, r.date) for r in rows], ghost_parents(conn, thread_id)
    )
    return [(by_pk[p.key], p.depth) for p in order]


def thread_list_names(conn: Connection, thread_id: int, list_ids: Sequence[int]) -> list[str]:
    """Names of the visible lists a thread was posted to."""
    return list(
        conn.execute(
            select(lists_t.c.name)
            .join(tlists_t, tlists_t.c.list_id == lists_t.c.id)
            .where(tlists_t.c.thread_id == thread_id, lists_t.c.id.in_(list_ids))
            .order_by(lists_t.c.name)
        ).scalars()
    )


def message_list_names(conn: Connection, pk: int, list_ids: Sequence[int]) -> list[str]:
    return list(
        conn.execute(
            select(lists_t.c.name)
            .join(mlists_t, mlists_t.c.list_id == lists_t.c.id)
            .where(mlists_t.c.message_pk == pk, lists_t.c.id.in_(list_ids))
            .order_by(lists_t.c.name)
        ).scalars()
    )


def find_message(conn: Connection, message_id: str, list_ids: Sequence[int]) -> MessageRow | None:
    """The visible message with this Message-ID (the earliest, if several reuse it)."""
    if not list_ids:
        return None
    rows = _rows(
        conn,
        select(*SKELETON)
        .where(msgs_t.c.message_id == message_id, _visible(list_ids))
        .order_by(msgs_t.c.date, msgs_t.c.id)
        .limit(1),
    )
    return rows[0] if rows else None


def bodies(conn: Connection, pks: Sequence[int]) -> dict[int, BodyRow]:
    """Text, zones and HTML of the given messages, read in bounded batches."""
    found: dict[int, BodyRow] = {}
    for start in range(0, len(pks), BATCH):
        chunk = list(pks[start : start + BATCH])
        query = select(
            bodies_t.c.message_pk, bodies_t.c.text, bodies_t.c.zones, bodies_t.c.html
        ).where(bodies_t.c.message_pk.in_(chunk))
        for pk, text, zones, html in conn.execute(query):
            found[pk] = BodyRow(text=text or "", zones=_zones(zones), html=html)
    return found


def _zones(value: str | None) -> list[list]:
    try:
        zones = json.loads(value or "[]")
    except ValueError:
        return []
    return zones if isinstance(zones, list) else []


def attachments(conn: Connection, pks: Sequence[int]) -> dict[int, list[AttachmentRow]]:
    found: dict[int, list[AttachmentRow]] = {}
    for start in range(0, len(pks), BATCH):
        chunk = list(pks[start : start + BATCH])
        query = (
            select(
                att_t.c.message_pk,
                att_t.c.position,
                att_t.c.filename,
                att_t.c.content_type,
                att_t.c.size,
                att_t.c.content_id,
                att_t.c.inline,
            )
            .where(att_t.c.message_pk.in_(chunk))
            .order_by(att_t.c.message_pk, att_t.c.position)
        )
        for pk, *rest in conn.execute(query):
            found.setdefault(pk, []).append(AttachmentRow(*rest))
    return found


def recipients(conn: Connection, pk: int) -> list[tuple[str, str, str]]:
    """(kind, name, address) of a message's To and Cc recipients."""
    query = (
        select(rcpt_t.c.kind, rcpt_t.c.name, rcpt_t.c.address)
        .where(rcpt_t.c.message_pk == pk)
        .order_by(rcpt_t.c.id)
    )
    return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def latest_list_messages(conn: Connection, list_id: int, limit: int) -> list[MessageRow]:
    """The newest visible messages of a list (for its feed)."""
    query = (
        select(*SKELETON)
        .join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id)
        .where(mlists_t.c.list_id == list_id, msgs_t.c.hidden.is_(False))
        .order_by(mlists_t.c.date.desc(), mlists_t.c.message_pk.desc())
        .limit(limit)
    )
    return _rows(conn, query)


def messages_from(
    conn: Connection,
    address: str,
    list_ids: Sequence[int],
    before: tuple[datetime, int] | None,
    limit: int,
) -> list[MessageRow]:
    """Visible messages sent from `address` (stored lowercased), newest first, keyset-paginated
    on (date, id)."""
    if not list_ids:
        return []
    query = (
        select(*SKELETON)
        .where(msgs_t.c.from_addr == address.strip().lower(), _visible(list_ids))
        .order_by(msgs_t.c.date.desc(), msgs_t.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(tuple_(msgs_t.c.date, msgs_t.c.id) < tuple_(*before))
    return _rows(conn, query)


def sender_addresses(conn: Connection) -> Iterator[str]:
    """Every distinct sender address (for resolving person keys)."""
    yield from conn.execute(select(msgs_t.c.from_addr).distinct()).scalars()


def messages_by_pks(
    conn: Connection, pks: Sequence[int], list_ids: Sequence[int]
) -> list[MessageRow]:
    """The visible ones among the given messages, in the order given (for search results)."""
    if not pks or not list_ids:
        return []
    found: dict[int, MessageRow] = {}
    for start in range(0, len(pks), BATCH):
        chunk = list(pks[start : start + BATCH])
        for row in _rows(conn, select(*SKELETON).where(msgs_t.c.id.in_(chunk), _visible(list_ids))):
            found[row.pk] = row
    return [found[pk] for pk in pks if pk in found]
