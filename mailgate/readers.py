"""Core read queries shared by the CLI, the web archive, email commands and digests.

Readers only read: every function takes a connection and returns plain rows or dicts.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, select

from mailgate.models import Message, MessageList, ThreadList
from mailgate.threadview import display_order, ghost_parents

msgs_t = Message.__table__
mlists_t = MessageList.__table__
tlists_t = ThreadList.__table__


def list_threads(conn: Connection, list_id: int) -> Iterator[dict]:
    """Every thread of a list, oldest first, its messages (on this list) in display order."""
    thread_ids = conn.scalars(
        select(tlists_t.c.thread_id)
        .where(tlists_t.c.list_id == list_id)
        .order_by(tlists_t.c.first_date, tlists_t.c.thread_id)
    ).all()
    for thread_id in thread_ids:
        rows = conn.execute(
            select(
                msgs_t.c.id,
                msgs_t.c.message_id,
                msgs_t.c.parent_mid,
                msgs_t.c.date,
                msgs_t.c.link,
                msgs_t.c.subject,
                msgs_t.c.from_name,
                msgs_t.c.from_addr,
            )
            .join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id)
            .where(msgs_t.c.thread_id == thread_id, mlists_t.c.list_id == list_id)
        ).all()
        by_pk = {row.id: row for row in rows}
        order = display_order(
            [(r.id, r.message_id, r.parent_mid, r.date) for r in rows],
            ghost_parents(conn, thread_id),
        )
        first = by_pk[order[0].key] if order else None
        yield {
            "thread_id": thread_id,
            "subject": first.subject if first else "",
            "messages": [
                {
                    "message_id": by_pk[p.key].message_id,
                    "parent": by_pk[p.key].parent_mid,
                    "link": by_pk[p.key].link,
                    "depth": p.depth,
                    "from": by_pk[p.key].from_name or by_pk[p.key].from_addr,
                }
                for p in order
            ],
        }
