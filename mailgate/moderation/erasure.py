"""Erasure: a message, or every message of a person, gone from storage for good.

Deleted in one transaction: the search document (the SQLite triggers take the terms out of
the FTS index), body, recipients, attachments, list memberships, the message row, raw copies
no other message uses and their delivery ledger rows, quarantined copies, thread nodes no
longer needed (a node other messages still point to stays as a ghost: it carries no text),
hide marks and thread fixes. Copies elsewhere (digests not yet sent, sent mail, handled
command mail) go through `purge`. Only hashes stay (`blocks`), so the mail is dropped if it
is delivered again. `compaction` then makes the storage forget the bytes (SQLite free pages,
FTS segments, the WAL). Irreversible by design. Called by `actions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select, update

from mailgate import thread_summary
from mailgate.models import (
    Attachment,
    Body,
    Delivery,
    Message,
    MessageList,
    Quarantine,
    RawMessage,
    Recipient,
    SearchDoc,
    Thread,
    ThreadList,
    ThreadNode,
    ThreadRedirect,
)
from mailgate.moderation import blocks, purge, threadfix
from mailgate.moderation.common import Target
from mailgate.moderation_models import HiddenMessage

msgs_t, mlists_t, raw_t = Message.__table__, MessageList.__table__, RawMessage.__table__
nodes_t, threads_t = ThreadNode.__table__, Thread.__table__
PER_MESSAGE_TABLES = (SearchDoc, Body, Recipient, Attachment, MessageList)


@dataclass
class Erased:
    messages: int = 0
    raw_copies: int = 0
    threads_removed: int = 0
    scrubbed: purge.ScrubCounts | None = None


def _raw_ids(conn: Connection, pks: list[int]) -> set[int]:
    own = conn.execute(select(msgs_t.c.raw_id).where(msgs_t.c.id.in_(pks))).scalars()
    copies = conn.execute(select(mlists_t.c.raw_id).where(mlists_t.c.message_pk.in_(pks)))
    return set(own) | {r[0] for r in copies}


def _unused_raws(conn: Connection, raw_ids: set[int]) -> list[int]:
    """Of these raw copies, those no remaining message uses."""
    used = set(conn.execute(select(msgs_t.c.raw_id).where(msgs_t.c.raw_id.in_(raw_ids))).scalars())
    used |= set(
        conn.execute(select(mlists_t.c.raw_id).where(mlists_t.c.raw_id.in_(raw_ids))).scalars()
    )
    return sorted(raw_ids - used)


def _passages(conn: Connection, pks: list[int]) -> list[str]:
    """Subjects and text openings that identify the erased messages in other mail."""
    rows = conn.execute(select(msgs_t.c.subject, msgs_t.c.snippet).where(msgs_t.c.id.in_(pks)))
    return [text for row in rows for text in row if text]


def _delete_messages(conn: Connection, pks: list[int]) -> None:
    for model in PER_MESSAGE_TABLES:
        table = model.__table__
        conn.execute(delete(table).where(table.c.message_pk.in_(pks)))
    conn.execute(delete(msgs_t).where(msgs_t.c.id.in_(pks)))


def _delete_raws(conn: Connection, raw_ids: list[int]) -> list[str]:
    """Delete raw copies and their ledger rows; returns their hashes."""
    if not raw_ids:
        return []
    shas = list(conn.execute(select(raw_t.c.sha256).where(raw_t.c.id.in_(raw_ids))).scalars())
    deliveries = Delivery.__table__
    conn.execute(delete(deliveries).where(deliveries.c.raw_id.in_(raw_ids)))
    conn.execute(delete(raw_t).where(raw_t.c.id.in_(raw_ids)))
    quarantine = Quarantine.__table__
    conn.execute(delete(quarantine).where(quarantine.c.sha256.in_(shas)))
    return shas


def _settle_nodes(conn: Connection, mids: set[str]) -> set[str]:
    """Nodes of erased Message-IDs: kept as ghosts when a message or node still points to
    them, deleted otherwise. Returns the ids no stored message has any more."""
    remaining = set(
        conn.execute(select(msgs_t.c.message_id).where(msgs_t.c.message_id.in_(mids))).scalars()
    )
    gone = mids - remaining
    pointed = set(
        conn.execute(select(msgs_t.c.parent_mid).where(msgs_t.c.parent_mid.in_(gone))).scalars()
    ) | set(
        conn.execute(select(nodes_t.c.parent_mid).where(nodes_t.c.parent_mid.in_(gone))).scalars()
    )
    conn.execute(update(nodes_t).where(nodes_t.c.mid.in_(gone & pointed)).values(ghost=True))
    conn.execute(delete(nodes_t).where(nodes_t.c.mid.in_(gone - pointed)))
    return gone


def _settle_threads(conn: Connection, thread_ids: set[int]) -> int:
    """Recompute the threads that lost messages; delete those left empty."""
    removed = 0
    for tid in sorted(thread_ids):
        thread_summary.refresh_thread(conn, tid)
        if conn.execute(select(msgs_t.c.id).where(msgs_t.c.thread_id == tid).limit(1)).first():
            continue
        for table, column in (
            (nodes_t, nodes_t.c.thread_id),
            (ThreadList.__table__, ThreadList.__table__.c.thread_id),
            (ThreadRedirect.__table__, ThreadRedirect.__table__.c.new_id),
            (threads_t, threads_t.c.id),
        ):
            conn.execute(delete(table).where(column == tid))
        removed += 1
    return removed


def erase(conn: Connection, targets: list[Target], actor: str) -> Erased:
    """Erase these messages from storage (see the module docstring)."""
    pks = sorted({t.pk for t in targets})
    if not pks:
        return Erased()
    mids = {t.message_id for t in targets}
    fingerprints = list(
        conn.execute(select(msgs_t.c.fingerprint).where(msgs_t.c.id.in_(pks))).scalars()
    )
    needles = purge.needles_for(mids, _passages(conn, pks))
    raw_ids = _raw_ids(conn, pks)
    _delete_messages(conn, pks)
    shas = _delete_raws(conn, _unused_raws(conn, raw_ids))
    blocks.block_hashes(conn, shas, fingerprints, actor)
    gone = _settle_nodes(conn, mids)
    hidden = HiddenMessage.__table__
    conn.execute(delete(hidden).where(hidden.c.message_id.in_(gone)))
    threadfix.forget_message(conn, gone)
    removed = _settle_threads(conn, {t.thread_id for t in targets})
    scrubbed = purge.scrub_copies(conn, needles)
    return Erased(len(pks), len(shas), removed, scrubbed)
