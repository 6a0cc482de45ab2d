"""Hide and unhide messages: kept in storage, shown nowhere.

`messages.hidden` is honoured by every reader (web pages, search, feeds, mbox exports,
profiles, digests); this module sets it, records the Message-ID in `moderation_hidden` so a
rebuild hides it again (`replay.rehide`), and recomputes the thread summaries so list pages
and counts leave the message out.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from mailgate import thread_summary
from mailgate.models import Message
from mailgate.moderation.common import Target
from mailgate.moderation_models import HiddenMessage
from mailgate.store import utcnow

msgs_t = Message.__table__
hidden_t = HiddenMessage.__table__


def set_hidden(conn: Connection, targets: list[Target], hidden: bool) -> int:
    """Hide (or show again) these messages; returns how many changed."""
    mids = sorted({t.message_id for t in targets})
    changed = sum(t.hidden != hidden for t in targets)
    conn.execute(update(msgs_t).where(msgs_t.c.message_id.in_(mids)).values(hidden=hidden))
    known = set(
        conn.execute(select(hidden_t.c.message_id).where(hidden_t.c.message_id.in_(mids))).scalars()
    )
    if hidden and set(mids) - known:
        now = utcnow()
        conn.execute(
            insert(hidden_t), [{"message_id": m, "created_at": now} for m in set(mids) - known]
        )
    if not hidden:
        conn.execute(delete(hidden_t).where(hidden_t.c.message_id.in_(mids)))
    for tid in sorted({t.thread_id for t in targets}):
        thread_summary.refresh_thread(conn, tid)
    return changed
