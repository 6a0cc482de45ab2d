"""Thread summaries: message counts and first/last dates per thread and per list.

`note_message` bumps them for one new visible message (two cheap statements on SQLite; on
PostgreSQL `store.add_message_to_list` runs `PG_BUMP_CTES` inside the message's own insert);
`refresh_thread` recomputes them from the thread's visible messages (after merges, moves,
hiding). Called by `mailgate.threads`, `mailgate.store`, the ingest pipeline and moderation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Connection,
    DateTime,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from mailgate.fastsql import FastStatement
from mailgate.models import Message, MessageList, Thread, ThreadList

msgs_t = Message.__table__
mlists_t = MessageList.__table__
threads_t = Thread.__table__
tlists_t = ThreadList.__table__
_NEW_THREAD_LIST = FastStatement(insert(tlists_t))

_VISIBLE = and_(msgs_t.c.thread_id == bindparam("tid"), msgs_t.c.hidden.is_(False))
_THREAD_TOTALS = select(func.count(), func.min(msgs_t.c.date), func.max(msgs_t.c.date)).where(
    _VISIBLE
)
_THREAD_ROOT = (
    select(msgs_t.c.message_id, msgs_t.c.subject)
    .where(_VISIBLE)
    .order_by(msgs_t.c.parent_mid.is_not(None), msgs_t.c.date, msgs_t.c.id)
    .limit(1)
)
_UPDATE_THREAD = update(threads_t).where(threads_t.c.id == bindparam("tid"))
_CLEAR_THREAD_LISTS = delete(tlists_t).where(tlists_t.c.thread_id == bindparam("tid"))
_PER_LIST = (
    select(mlists_t.c.list_id, func.count(), func.min(msgs_t.c.date), func.max(msgs_t.c.date))
    .join(msgs_t, msgs_t.c.id == mlists_t.c.message_pk)
    .where(_VISIBLE)
    .group_by(mlists_t.c.list_id)
)


def refresh_thread(conn: Connection, thread_id: int) -> None:
    """Recompute a thread's summary row and per-list activity from its visible messages."""
    params = {"tid": thread_id}
    count, first, last = conn.execute(_THREAD_TOTALS, params).one()
    root = conn.execute(_THREAD_ROOT, params).first()
    values = {"message_count": count, "first_date": first, "last_date": last}
    if root is not None:
        values |= {"root_mid": root.message_id, "subject": root.subject}
    conn.execute(_UPDATE_THREAD, params | values)
    conn.execute(_CLEAR_THREAD_LISTS, params)
    rows = [
        {
            "thread_id": thread_id,
            "list_id": lid,
            "message_count": n,
            "first_date": lo,
            "last_date": hi,
        }
        for lid, n, lo, hi in conn.execute(_PER_LIST, params).all()
    ]
    if rows:
        conn.execute(insert(tlists_t), rows)


# SQLite: min() and max() with two arguments are its scalar least/greatest.
_DATE = bindparam("date", type_=DateTime())  # typed: the SQLite form has microseconds
_BUMP_THREAD = FastStatement(
    update(threads_t)
    .where(threads_t.c.id == bindparam("tid"))
    .values(
        message_count=threads_t.c.message_count + 1,
        first_date=func.coalesce(func.min(threads_t.c.first_date, _DATE), _DATE),
        last_date=func.coalesce(func.max(threads_t.c.last_date, _DATE), _DATE),
    )
)
_BUMP_LIST = FastStatement(
    update(tlists_t)
    .where(tlists_t.c.thread_id == bindparam("tid"), tlists_t.c.list_id == bindparam("lid"))
    .values(
        message_count=tlists_t.c.message_count + 1,
        first_date=func.min(tlists_t.c.first_date, _DATE),
        last_date=func.max(tlists_t.c.last_date, _DATE),
    )
)
# PostgreSQL's bumps, as data-modifying WITHs that `store.add_message_to_list` runs with the
# message's own insert (creating the thread's row for the list when it is the first message
# there). Parameters :tid, :lid and :date.
PG_BUMP_CTES = (
    "bump_thread AS (UPDATE threads SET message_count = message_count + 1, "
    "first_date = coalesce(least(first_date, :date), :date), "
    "last_date = coalesce(greatest(last_date, :date), :date) WHERE id = :tid), "
    "bump_list AS (INSERT INTO thread_lists (thread_id, list_id, first_date, last_date, "
    "message_count) VALUES (:tid, :lid, :date, :date, 1) ON CONFLICT (thread_id, list_id) "
    "DO UPDATE SET message_count = thread_lists.message_count + 1, "
    "first_date = least(thread_lists.first_date, excluded.first_date), "
    "last_date = greatest(thread_lists.last_date, excluded.last_date))"
)


def note_message(conn: Connection, thread_id: int, list_id: int, date: datetime) -> None:
    """Cheap summary update for one new visible message in a thread (SQLite; see the module
    docstring for PostgreSQL)."""
    params = {"tid": thread_id, "lid": list_id, "date": date}
    _BUMP_THREAD.execute(conn, params)
    if not _BUMP_LIST.rowcount(conn, params):
        _NEW_THREAD_LIST.execute(
            conn,
            {
                "thread_id": thread_id,
                "list_id": list_id,
                "first_date": date,
                "last_date": date,
                "message_count": 1,
            },
        )
