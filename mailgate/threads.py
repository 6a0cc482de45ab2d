"""Threads: assigned at ingest, merged when a late message links two.

A thread is the connected set of messages linked by (1) References/In-Reply-To, including
ghost rows for ids referenced but not (yet) archived, (2) a shared Outlook Thread-Index
conversation, (3) for replies with neither, the same normalised subject within a time window.
Each link is symmetric and depends only on the two messages, so the grouping does not depend
on arrival order. Parents from headers are kept as written; parents of messages linked by
Thread-Index or subject are recomputed whenever their thread changes. Display order lives in
`threadview`, counts and dates per thread in `thread_summary`.

Called by `pipeline` and moderation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Connection,
    DateTime,
    and_,
    bindparam,
    cast,
    delete,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)

from mailgate.fastsql import FastStatement
from mailgate.models import Message, Thread, ThreadList, ThreadNode, ThreadRedirect
from mailgate.thread_summary import refresh_thread

SUBJECT_WINDOW = timedelta(days=30)
THREAD_INDEX_ROOT_HEX = 44
LINKS = ("references", "thread-index", "subject", "root", "manual")
MANUAL = "manual"  # a parent a moderator chose (`mailgate.moderation.threadfix`): kept as is
nodes_t = ThreadNode.__table__
msgs_t = Message.__table__
threads_t = Thread.__table__
tlists_t = ThreadList.__table__


@dataclass(frozen=True, slots=True)
class Linkable:
    """What threading needs to know about an incoming message."""

    mid: str
    aliases: tuple[str, ...]
    parent: str | None
    references: tuple[str, ...]
    thread_index: str | None
    subject_key: str
    reply_like: bool
    date: datetime
    subject: str


@dataclass(frozen=True, slots=True)
class Assignment:
    thread_id: int
    link: str
    parent: str | None
    merged: tuple[int, ...]
    created: bool = False


def _ti_root(thread_index: str | None) -> str | None:
    return thread_index[:THREAD_INDEX_ROOT_HEX] if thread_index else None


def _subject_linkable(item: Linkable) -> bool:
    return item.reply_like and item.parent is None and bool(item.subject_key)


# Statements are built once: constructing them per message costs more than running them.
_SUBJECT_WINDOW = and_(
    msgs_t.c.subject_key == bindparam("key"),
    msgs_t.c.date.between(bindparam("lo"), bindparam("hi")),
)
_NEW_THREAD = FastStatement(insert(threads_t), returns_id=True)
_INSERT_NODE = FastStatement(insert(nodes_t))
_REAL_NODE = FastStatement(
    update(nodes_t)
    .where(nodes_t.c.mid == bindparam("m"))
    .values(thread_id=bindparam("tid"), parent_mid=bindparam("parent"), ghost=False)
)
_GHOST_PARENT = FastStatement(
    update(nodes_t)
    .where(nodes_t.c.mid == bindparam("m"), nodes_t.c.parent_mid.is_(None))
    .values(parent_mid=bindparam("parent"))
)
_TI_CANDIDATES = FastStatement(
    select(msgs_t.c.message_id, msgs_t.c.thread_index).where(
        msgs_t.c.thread_index_root == bindparam("root"), msgs_t.c.message_id != bindparam("mid")
    )
)
_EARLIER = FastStatement(
    select(msgs_t.c.message_id)
    .where(
        msgs_t.c.thread_id == bindparam("tid"),
        msgs_t.c.date < bindparam("date"),
        msgs_t.c.message_id != bindparam("mid"),
    )
    .order_by(msgs_t.c.date.desc(), msgs_t.c.id.desc())
    .limit(1)
)
_WEAK_MEMBERS = FastStatement(
    select(
        msgs_t.c.id,
        msgs_t.c.message_id,
        msgs_t.c.thread_index,
        msgs_t.c.reply_like,
        msgs_t.c.date,
        msgs_t.c.link,
        msgs_t.c.parent_mid,
    ).where(
        msgs_t.c.thread_id == bindparam("tid"),
        msgs_t.c.link != "references",
        msgs_t.c.link != MANUAL,
        msgs_t.c.date > bindparam("since", type_=DateTime()),
    )
)
_SET_LINK = FastStatement(
    update(msgs_t)
    .where(msgs_t.c.id == bindparam("pk"))
    .values(parent_mid=bindparam("parent"), link=bindparam("link"))
)
_SET_NODE_PARENT = FastStatement(
    update(nodes_t).where(nodes_t.c.mid == bindparam("m")).values(parent_mid=bindparam("parent"))
)
EPOCH = datetime(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class _Node:
    mid: str
    thread_id: int
    parent_mid: str | None
    ghost: bool


_LOOKUPS: dict[tuple[int, bool, str], FastStatement] = {}


def _lookup_statement(n_ids: int, with_root: bool, subject_mode: str) -> FastStatement:
    """One round trip for everything threading reads: the nodes of the message's ids, the
    threads of its Outlook conversation, the threads with its subject (see `_related`)."""
    key = (n_ids, with_root, subject_mode)
    statement = _LOOKUPS.get(key)
    if statement is None:
        ids = [bindparam(f"m{i}") for i in range(n_ids)]
        node_columns = (nodes_t.c.mid, nodes_t.c.thread_id, nodes_t.c.parent_mid, nodes_t.c.ghost)
        parts = [select(literal_column("'n'"), *node_columns).where(nodes_t.c.mid.in_(ids))]
        thread_only = (
            cast(null(), nodes_t.c.mid.type),
            msgs_t.c.thread_id,
            cast(null(), nodes_t.c.parent_mid.type),
            cast(null(), nodes_t.c.ghost.type),
        )
        if with_root:
            condition = [msgs_t.c.thread_index_root == bindparam("root")]
            parts.append(select(literal_column("'t'"), *thread_only).where(*condition).distinct())
        if subject_mode != "none":
            condition = [_SUBJECT_WINDOW]
            if subject_mode == "weak":
                condition += [msgs_t.c.reply_like, msgs_t.c.link != "references"]
            parts.append(select(literal_column("'s'"), *thread_only).where(*condition).distinct())
        statement = _LOOKUPS[key] = FastStatement(union_all(*parts))
    return statement


def _related(conn: Connection, item: Linkable) -> tuple[list[_Node], set[int]]:
    """The existing nodes of the message's ids, and the threads it links to: by ids, by
    Outlook conversation, by subject."""
    ids = list(dict.fromkeys([item.mid, *item.aliases, *item.references]))
    root = _ti_root(item.thread_index)
    params: dict[str, object] = {f"m{i}": mid for i, mid in enumerate(ids)}
    mode = "none"
    if item.subject_key:
        mode = "linkable" if _subject_linkable(item) else "weak"
        params |= {
            "key": item.subject_key,
            "lo": item.date - SUBJECT_WINDOW,
            "hi": item.date + SUBJECT_WINDOW,
        }
    if root:
        params["root"] = root
    rows = _lookup_statement(len(ids), bool(root), mode).all(conn, params)
    nodes = [_Node(r[1], r[2], r[3], bool(r[4])) for r in rows if r[0] == "n"]
    return nodes, {r[2] for r in rows}


def _merge(conn: Connection, keep: int, others: Iterable[int]) -> None:
    others = sorted(set(others) - {keep})
    if not others:
        return
    for table in (nodes_t, msgs_t):
        conn.execute(update(table).where(table.c.thread_id.in_(others)).values(thread_id=keep))
    redirects = ThreadRedirect.__table__
    conn.execute(update(redirects).where(redirects.c.new_id.in_(others)).values(new_id=keep))
    conn.execute(insert(redirects), [{"old_id": old, "new_id": keep} for old in others])
    conn.execute(delete(tlists_t).where(tlists_t.c.thread_id.in_(others)))
    conn.execute(delete(threads_t).where(threads_t.c.id.in_(others)))


def merge_threads(conn: Connection, keep: int, others: Iterable[int]) -> None:
    """Merge threads into `keep` (old ids redirect to it) and recompute its summary."""
    _merge(conn, keep, others)
    refresh_thread(conn, keep)


def _record_nodes(
    conn: Connection, item: Linkable, thread_id: int, parent: str | None, nodes: list
) -> None:
    """Write the message's own node (and aliases) as real, its references as ghosts.

    A real node's parent is what its own headers say; a ghost's parent is filled once, from
    the first References chain that names it (JWZ: existing links are not changed).
    """
    known = {n.mid: n for n in nodes}
    new_rows: list[dict] = []
    for mid, node_parent in ((item.mid, parent), *((a, item.mid) for a in item.aliases)):
        if mid in known:
            _REAL_NODE.execute(conn, {"m": mid, "tid": thread_id, "parent": node_parent})
        else:
            new_rows.append(
                {"mid": mid, "thread_id": thread_id, "parent_mid": node_parent, "ghost": False}
            )
            known[mid] = None
    previous: str | None = None
    for ref in item.references:
        if ref not in known:
            new_rows.append(
                {"mid": ref, "thread_id": thread_id, "parent_mid": previous, "ghost": True}
            )
            known[ref] = None
        elif (
            known[ref] is not None
            and known[ref].ghost
            and known[ref].parent_mid is None
            and previous is not None
            and previous != ref
        ):
            _GHOST_PARENT.execute(conn, {"m": ref, "parent": previous})
        previous = ref
    if new_rows:
        _INSERT_NODE.executemany(conn, new_rows)


def weak_link(
    conn: Connection,
    thread_id: int,
    mid: str,
    thread_index: str | None,
    reply_like: bool,
    date: datetime,
) -> tuple[str, str | None]:
    """(link, parent) of a message without a parent in its headers, from its thread's members.

    Thread-Index: the message whose index is the longest proper prefix of ours. Otherwise a
    reply (by prefix or by Thread-Index) hangs under the latest earlier message of the thread.
    Anything else is a root. Depends only on the thread's members, not on arrival order.
    """
    is_child = bool(thread_index) and len(thread_index or "") > THREAD_INDEX_ROOT_HEX
    same_root = []
    if thread_index:
        same_root = _TI_CANDIDATES.all(
            conn, {"root": thread_index[:THREAD_INDEX_ROOT_HEX], "mid": mid}
        )
        prefixes = [
            r
            for r in same_root
            if r[1] and thread_index.startswith(r[1]) and len(r[1]) < len(thread_index)
        ]
        if prefixes:
            return "thread-index", max(prefixes, key=lambda r: len(r[1]))[0]
    if not (reply_like or is_child):
        return "root", None
    earlier = _EARLIER.scalar(conn, {"tid": thread_id, "date": date, "mid": mid})
    if earlier is None:
        return "root", None
    return ("thread-index" if is_child and same_root else "subject"), earlier


def assign_thread(conn: Connection, item: Linkable) -> Assignment:
    """Choose (or create) the thread of an incoming message, merging threads it links."""
    nodes, tids = _related(conn, item)
    link = "references" if item.parent else "root"
    created = not tids
    if tids:
        keep = min(tids)
        _merge(conn, keep, tids)
    else:
        keep = _NEW_THREAD.insert(
            conn,
            {
                "subject": item.subject,
                "root_mid": item.mid,
                "first_date": item.date,
                "last_date": item.date,
                "message_count": 0,
            },
        )
    parent = item.parent
    if parent is None:
        link, parent = weak_link(
            conn, keep, item.mid, item.thread_index, item.reply_like, item.date
        )
    _record_nodes(conn, item, keep, parent, nodes)
    return Assignment(
        thread_id=keep,
        link=link,
        parent=parent,
        merged=tuple(sorted(tids - {keep})),
        created=created,
    )


def relink_weak(conn: Connection, thread_id: int, since: datetime | None) -> None:
    """Re-derive link and parent of the thread's messages that have no parent in their headers
    (only those dated after `since`, whose candidates the new message can change)."""
    members = _WEAK_MEMBERS.typed_all(conn, {"tid": thread_id, "since": since or EPOCH})
    for pk, mid, thread_index, reply_like, date, old_link, old_parent in members:
        link, parent = weak_link(conn, thread_id, mid, thread_index, reply_like, date)
        if (link, parent) != (old_link, old_parent):
            _SET_LINK.execute(conn, {"pk": pk, "parent": parent, "link": link})
            _SET_NODE_PARENT.execute(conn, {"m": mid, "parent": parent})
