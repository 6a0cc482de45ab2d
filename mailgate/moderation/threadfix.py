"""Manual thread fixes: move a message (with its replies) under another one, split a thread
at a message, merge two threads.

Each fix is stored in `thread_fixes` and applied by `apply_fix`, which is idempotent: `replay`
applies the fixes again after `mailgate rebuild` and whenever ingest merges threads (a late
message linking both halves of a split thread must not undo the split). A moved message's
parent is marked `manual` so that weak (subject, Thread-Index) re-linking leaves it alone.
Replies are found by walking parent links iteratively (no recursion over user data).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from mailgate import thread_summary, threads
from mailgate.models import Message, Thread, ThreadNode, ThreadRedirect
from mailgate.moderation.common import ModerationError
from mailgate.moderation_models import ThreadFix
from mailgate.store import utcnow

msgs_t = Message.__table__
nodes_t = ThreadNode.__table__
threads_t = Thread.__table__
fixes_t = ThreadFix.__table__
redirects_t = ThreadRedirect.__table__
MOVE, SPLIT, MERGE = "move", "split", "merge"
KINDS = (MOVE, SPLIT, MERGE)
MAX_SUBTREE = 100_000


@dataclass(frozen=True, slots=True)
class Fix:
    id: int
    kind: str
    mid: str
    target_mid: str | None


def thread_of(conn: Connection, mid: str) -> int | None:
    """The thread of the (first stored) message with this Message-ID."""
    return conn.execute(
        select(msgs_t.c.thread_id).where(msgs_t.c.message_id == mid).order_by(msgs_t.c.id).limit(1)
    ).scalar()


def replies_of(conn: Connection, thread_id: int, mid: str) -> set[str]:
    """`mid` and every Message-ID below it in its thread (messages and ghosts), by parent
    links, walked breadth first."""
    children: dict[str, set[str]] = {}
    edges = conn.execute(
        select(msgs_t.c.message_id, msgs_t.c.parent_mid).where(msgs_t.c.thread_id == thread_id)
    ).all()
    edges += conn.execute(
        select(nodes_t.c.mid, nodes_t.c.parent_mid).where(nodes_t.c.thread_id == thread_id)
    ).all()
    for child, parent in edges:
        if parent:
            children.setdefault(parent, set()).add(child)
    found, queue = {mid}, deque([mid])
    while queue and len(found) < MAX_SUBTREE:
        for child in children.get(queue.popleft(), ()):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


def _members(conn: Connection, thread_id: int) -> set[str]:
    return set(
        conn.execute(select(msgs_t.c.message_id).where(msgs_t.c.thread_id == thread_id)).scalars()
    )


def _new_thread(conn: Connection) -> int:
    return conn.execute(insert(threads_t).values(subject="", message_count=0)).inserted_primary_key[
        0
    ]


def _relocate(conn: Connection, mids: set[str], old: int, new: int) -> None:
    for table, column in ((msgs_t, msgs_t.c.message_id), (nodes_t, nodes_t.c.mid)):
        conn.execute(
            update(table).where(column.in_(mids), table.c.thread_id == old).values(thread_id=new)
        )


def _set_parent(conn: Connection, mid: str, parent: str | None) -> None:
    conn.execute(
        update(msgs_t)
        .where(msgs_t.c.message_id == mid)
        .values(parent_mid=parent, link=threads.MANUAL)
    )
    conn.execute(update(nodes_t).where(nodes_t.c.mid == mid).values(parent_mid=parent))


def _settle(conn: Connection, thread_id: int, into: int) -> None:
    """Recompute a thread that lost messages; an emptied one redirects to `into`."""
    if _members(conn, thread_id):
        thread_summary.refresh_thread(conn, thread_id)
        return
    conn.execute(update(redirects_t).where(redirects_t.c.new_id == thread_id).values(new_id=into))
    conn.execute(insert(redirects_t).values(old_id=thread_id, new_id=into))
    conn.execute(update(nodes_t).where(nodes_t.c.thread_id == thread_id).values(thread_id=into))
    thread_summary.refresh_thread(conn, thread_id)  # clears its per-list rows
    conn.execute(delete(threads_t).where(threads_t.c.id == thread_id))


def split(conn: Connection, mid: str) -> int | None:
    """Give `mid` and its replies a thread of their own; returns it (None: nothing to do)."""
    old = thread_of(conn, mid)
    if old is None:
        return None
    moving = replies_of(conn, old, mid)
    _set_parent(conn, mid, None)
    if not _members(conn, old) - moving:
        thread_summary.refresh_thread(conn, old)
        return old
    new = _new_thread(conn)
    _relocate(conn, moving, old, new)
    thread_summary.refresh_thread(conn, old)
    thread_summary.refresh_thread(conn, new)
    return new


def move(conn: Connection, mid: str, target: str) -> int | None:
    """Put `mid` and its replies under `target`, in target's thread; returns that thread."""
    old, dest = thread_of(conn, mid), thread_of(conn, target)
    if old is None or dest is None:
        return None
    moving = replies_of(conn, old, mid)
    if target in moving:
        raise ModerationError("a message cannot be moved under itself or one of its replies")
    _set_parent(conn, mid, target)
    if old != dest:
        _relocate(conn, moving, old, dest)
        _settle(conn, old, dest)
    thread_summary.refresh_thread(conn, dest)
    return dest


def merge(conn: Connection, mid: str, target: str) -> int | None:
    """Merge the thread of `mid` into the thread of `target`; returns the merged thread."""
    source, dest = thread_of(conn, mid), thread_of(conn, target)
    if source is None or dest is None:
        return None
    if source != dest:
        threads.merge_threads(conn, dest, [source])
    return dest


def apply_fix(conn: Connection, fix: Fix) -> int | None:
    if fix.kind == SPLIT:
        return split(conn, fix.mid)
    if fix.kind == MOVE and fix.target_mid:
        return move(conn, fix.mid, fix.target_mid)
    if fix.kind == MERGE and fix.target_mid:
        return merge(conn, fix.mid, fix.target_mid)
    return None


def add_fix(conn: Connection, kind: str, mid: str, target: str | None, actor: str) -> Fix:
    """Store a fix and apply it."""
    if kind not in KINDS:
        raise ModerationError(f"unknown thread fix {kind!r}")
    if target is not None and thread_of(conn, target) is None:
        raise ModerationError(f"no archived message has the Message-ID <{target}>")
    fix_id = conn.execute(
        insert(fixes_t).values(
            kind=kind, mid=mid, target_mid=target, created_at=utcnow(), actor=actor[:336]
        )
    ).inserted_primary_key[0]
    fix = Fix(fix_id, kind, mid, target)
    apply_fix(conn, fix)
    return fix


def fixes(conn: Connection, mids: set[str] | None = None) -> list[Fix]:
    """Stored fixes in the order they were made (those naming one of `mids`, or all)."""
    query = select(fixes_t.c.id, fixes_t.c.kind, fixes_t.c.mid, fixes_t.c.target_mid)
    if mids is not None:
        query = query.where(fixes_t.c.mid.in_(mids) | fixes_t.c.target_mid.in_(mids))
    return [Fix(*row) for row in conn.execute(query.order_by(fixes_t.c.id)).all()]


def remove_fix(conn: Connection, fix_id: int) -> bool:
    """Forget a fix (threads change back at the next `mailgate rebuild`)."""
    return bool(conn.execute(delete(fixes_t).where(fixes_t.c.id == fix_id)).rowcount)


def forget_message(conn: Connection, mids: set[str]) -> None:
    """Drop the fixes naming erased messages."""
    conn.execute(delete(fixes_t).where(fixes_t.c.mid.in_(mids) | fixes_t.c.target_mid.in_(mids)))
