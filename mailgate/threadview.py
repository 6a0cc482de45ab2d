"""Thread display: parents before children, siblings by date, ghosts skipped, loops broken.

Pure layout over rows the readers fetched (no recursion, so arbitrarily deep or looping
reference chains are safe), plus the two small lookups the readers need: the recorded parents
of a thread's ids (ghosts included) and where a merged thread went. Called by
`mailgate.readers`, the web archive and the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from mailgate.models import Thread, ThreadNode, ThreadRedirect

MAX_GHOST_HOPS = 50
nodes_t = ThreadNode.__table__
threads_t = Thread.__table__


def resolve_thread_id(conn: Connection, thread_id: int) -> int | None:
    """The current id of a thread, following merges; None when it never existed."""
    if conn.execute(select(threads_t.c.id).where(threads_t.c.id == thread_id)).first():
        return thread_id
    return conn.execute(
        select(ThreadRedirect.__table__.c.new_id).where(
            ThreadRedirect.__table__.c.old_id == thread_id
        )
    ).scalar()


@dataclass(frozen=True, slots=True)
class Placed:
    """One message in display order: its depth and the message it is shown under."""

    key: int
    depth: int
    parent_key: int | None


def display_order(
    items: Sequence[tuple[int, str, str | None, datetime]],
    ghost_parents: dict[str, str | None] | None = None,
) -> list[Placed]:
    """Lay out a thread: parents before children, siblings by date, without recursion.

    `items` are (key, mid, parent mid, date) of the thread's messages; `ghost_parents` maps
    ghost ids to their own parent so a reply to a missing message is shown under that
    message's nearest archived ancestor. Reference loops are broken at the earliest message.
    """
    ghosts = ghost_parents or {}
    order = sorted(items, key=lambda it: (it[3], it[0]))
    key_of: dict[str, int] = {}
    for key, mid, _parent, _date in order:
        key_of.setdefault(mid, key)
    children: dict[int | None, list[int]] = {}
    for key, mid, parent, _date in order:
        shown = _visible_parent(parent, key_of, ghosts, mid)
        children.setdefault(shown, []).append(key)
    parent_of = {c: p for p, cs in children.items() for c in cs}
    placed: list[Placed] = []
    seen: set[int] = set()
    roots = list(children.get(None, []))
    pending = iter([key for key, _m, _p, _d in order])
    while len(seen) < len(order):
        if not roots:
            roots = [next(key for key in pending if key not in seen)]
        stack = [(key, 0) for key in reversed(roots)]
        roots = []
        while stack:
            key, depth = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            placed.append(
                Placed(key=key, depth=depth, parent_key=parent_of.get(key) if depth else None)
            )
            stack.extend((c, depth + 1) for c in reversed(children.get(key, [])) if c not in seen)
    return placed


def _visible_parent(
    parent: str | None, key_of: dict[str, int], ghosts: dict[str, str | None], own: str
) -> int | None:
    hops = 0
    while parent is not None and parent not in key_of and hops < MAX_GHOST_HOPS:
        parent = ghosts.get(parent)
        hops += 1
    if parent is None or parent == own or parent not in key_of:
        return None
    return key_of[parent]


def ghost_parents(conn: Connection, thread_id: int) -> dict[str, str | None]:
    """Parents recorded for the ids of a thread, ghosts included (for `display_order`)."""
    rows = conn.execute(
        select(nodes_t.c.mid, nodes_t.c.parent_mid).where(nodes_t.c.thread_id == thread_id)
    ).all()
    return {mid: parent for mid, parent in rows}
