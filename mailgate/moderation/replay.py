"""Re-applying moderation to derived data: after `mailgate rebuild` and after ingest merges.

`replay_all` (called by `mailgate.rebuild` once the deliveries are replayed) hides again the
messages moderators hid and applies every manual thread fix in order. `after_merge` (called
by the pipeline only when a new message merged threads) applies the fixes that name a
message of the merged thread, so a split or move stays in place.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from mailgate import thread_summary
from mailgate.models import Message
from mailgate.moderation import threadfix
from mailgate.moderation.common import ModerationError
from mailgate.moderation_models import HiddenMessage

msgs_t = Message.__table__
hidden_t = HiddenMessage.__table__


def rehide(conn: Connection) -> int:
    """Set `hidden` again on the messages moderators hid; returns how many."""
    hidden_mids = select(hidden_t.c.message_id)
    tids = set(
        conn.execute(
            select(msgs_t.c.thread_id).where(msgs_t.c.message_id.in_(hidden_mids)).distinct()
        ).scalars()
    )
    count = conn.execute(
        update(msgs_t).where(msgs_t.c.message_id.in_(hidden_mids)).values(hidden=True)
    ).rowcount
    for tid in sorted(tids):
        thread_summary.refresh_thread(conn, tid)
    return count


def replay_all(conn: Connection) -> tuple[int, int]:
    """Hides and thread fixes, all of them; returns (messages hidden, fixes applied)."""
    hidden = rehide(conn)
    applied = sum(_apply(conn, fix) for fix in threadfix.fixes(conn))
    return hidden, applied


def _apply(conn: Connection, fix: threadfix.Fix) -> bool:
    """Apply one stored fix; one that no longer makes sense (its messages changed) is
    skipped rather than failing the rebuild or the ingest."""
    try:
        return threadfix.apply_fix(conn, fix) is not None
    except ModerationError:
        return False


def after_merge(conn: Connection, message_pk: int, thread_id: int) -> int:
    """Apply the fixes of a thread that just absorbed another; returns the message's thread."""
    members = set(
        conn.execute(select(msgs_t.c.message_id).where(msgs_t.c.thread_id == thread_id)).scalars()
    )
    relevant = threadfix.fixes(conn, members)
    if not relevant:
        return thread_id
    for fix in relevant:
        _apply(conn, fix)
    return conn.execute(select(msgs_t.c.thread_id).where(msgs_t.c.id == message_pk)).scalar_one()
