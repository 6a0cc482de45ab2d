"""The one ingestion function: raw bytes in, a typed outcome out.

Every entry point (SMTP, LMTP, IMAP, mbox/Maildir import, quarantine retry) calls `ingest` or
`ingest_prepared`. The steps, in order and all visible here:

1. `prepare` (pure, may run in a worker process; `mailgate.prepared`): hash and compress the
   raw bytes, parse, split own text from quotes/signatures, analyse search terms, compute the
   identity fingerprint. Mail that cannot be parsed becomes a quarantine entry with its
   reason.
2. `commit` (one database transaction, the caller's): refuse what moderation blocks (a banned
   sender is quarantined, a copy of erased mail is dropped; one key lookup, not on replay),
   dedupe by raw bytes then by fingerprint (a cross-post becomes one message in both lists),
   assign the thread, store the raw copy and the skeleton row (one statement on PostgreSQL),
   body, recipients, attachments, search terms, update thread activity, re-apply manual
   thread fixes when threads merged, then the people profiles.

The live path commits each message on its own (acknowledge only what is durable); the bulk
import commits batches (see `mailgate.bulk`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError

from mailgate import (
    quarantine_store,
    search_backlog,
    search_index,
    store,
    store_known,
    thread_summary,
    threads,
)
from mailgate.moderation import blocks, replay
from mailgate.parse import ParsedMessage
from mailgate.people import upkeep as people_upkeep
from mailgate.prepared import ListContext, Prepared, list_contexts, prepare

SNIPPET_CHARS = 240
SNIPPET_SCAN_CHARS = 4 * SNIPPET_CHARS  # what is split first to find a snippet
__all__ = [
    "IngestResult",
    "ListContext",
    "Outcome",
    "Prepared",
    "Where",
    "commit",
    "commit_guarded",
    "ingest",
    "list_contexts",
    "prepare",
]


class Outcome(enum.StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"


@dataclass(frozen=True, slots=True)
class Where:
    """Where a message came from: its list, the entry point, and when it arrived (naive UTC)."""

    list_name: str
    source: str
    arrival: datetime | None = None
    replay: bool = False


@dataclass(frozen=True, slots=True)
class IngestResult:
    outcome: Outcome
    list_name: str
    message_id: str | None = None
    message_pk: int | None = None
    thread_id: int | None = None
    reason: str = ""


def snippet_of(text: str) -> str:
    """The first `SNIPPET_CHARS` of `text` with its whitespace collapsed. Only the start of a
    long text is split (its last, maybe partial, word left out) when that is enough."""
    head = text[:SNIPPET_SCAN_CHARS]
    if len(head) < len(text):
        words = head.split()[:-1]
        if sum(map(len, words)) + len(words) > SNIPPET_CHARS:
            return " ".join(words)[:SNIPPET_CHARS]
    return " ".join(text.split())[:SNIPPET_CHARS]


def _message_values(p: Prepared, raw_id: int | None, assignment: threads.Assignment) -> dict:
    m = p.parsed
    assert m is not None
    snippet = snippet_of(p.own_text)
    return {
        "fingerprint": p.fingerprint,
        "raw_id": raw_id,
        "message_id": m.message_id,
        "synthetic_mid": m.synthetic_mid,
        "thread_id": assignment.thread_id,
        "parent_mid": assignment.parent,
        "link": assignment.link,
        "subject": m.subject,
        "subject_key": m.subject_key,
        "reply_like": m.reply_like,
        "from_name": m.from_name,
        "from_addr": m.from_addr,
        "date": m.date,
        "tz_offset": m.tz_offset,
        "arrived_at": p.arrival,
        "thread_index": m.thread_index,
        "thread_index_root": m.thread_index[: threads.THREAD_INDEX_ROOT_HEX]
        if m.thread_index
        else None,
        "has_attachments": any(
            not a.inline or a.content_type.startswith("application/") for a in m.attachments
        ),
        "language": p.language,
        "snippet": snippet,
        "hidden": False,
    }


def details(p: Prepared) -> tuple[dict, list[dict], list[dict]]:
    """Body, recipient and attachment rows of a prepared message (moderation re-derives a
    redacted message with it)."""
    m = p.parsed
    assert m is not None
    body = {
        "text": m.text,
        "html": m.html,
        "own_text": p.own_text,
        "zones": p.zones,
        "defects": "; ".join(m.defects)[:2000],
    }
    recipients = [
        {"kind": kind, "name": name[:300], "address": addr[:300]}
        for kind, group in (("to", m.to), ("cc", m.cc))
        for name, addr in group
    ]
    attachments = [
        {
            "position": a.position,
            "filename": a.filename[:500],
            "content_type": a.content_type[:200],
            "size": a.size,
            "sha256": a.sha256,
            "content_id": a.content_id[:250] if a.content_id else None,
            "inline": a.inline,
        }
        for a in m.attachments
    ]
    return body, recipients, attachments


def _linkable(m: ParsedMessage) -> threads.Linkable:
    return threads.Linkable(
        mid=m.message_id,
        aliases=m.aliases,
        parent=m.parent,
        references=m.references,
        thread_index=m.thread_index,
        subject_key=m.subject_key,
        reply_like=m.reply_like,
        date=m.date,
        subject=m.subject,
    )


def commit(
    conn: Connection,
    p: Prepared,
    ctx: ListContext,
    where: Where,
    pending: store.PendingRows | None = None,
) -> IngestResult:
    """Store a prepared message in the caller's transaction; idempotent.

    Rows nothing reads during ingest go to `pending` (the bulk import flushes them once per
    batch); without it they are written before returning.
    """
    if pending is None:
        pending = store.PendingRows()
        result = commit(conn, p, ctx, where, pending)
        pending.flush(conn)
        return result
    if p.parsed is None:
        return _quarantine(conn, p, ctx, where, p.reason)
    m = p.parsed
    known = pending.extras.get(blocks.SNAPSHOT_KEY)
    if not where.replay and (refused := blocks.check(conn, ctx.name, m.from_addr, p.sha256,
                                                     p.fingerprint, known)):  # fmt: skip
        return _refuse(conn, p, ctx, where, *refused)
    cache = pending.extras.get(store_known.KNOWN_KEY)
    raw_id, identified = store_known.known(conn, p.sha256, p.fingerprint, cache)
    if raw_id is not None and (pk := store.copy_in_list(conn, raw_id, ctx.list_id)):
        return IngestResult(Outcome.DUPLICATE, ctx.name, m.message_id, pk)
    existing = store.message_by_fingerprint(conn, p.fingerprint) if identified else None
    if existing is not None:
        return _cross_post(conn, p, ctx, where, existing, raw_id, pending)
    assignment = threads.assign_thread(conn, _linkable(m))
    pk = _store_message(conn, p, ctx, where, raw_id, assignment, pending)
    thread_id = _update_thread(conn, assignment, m, pk)
    return IngestResult(Outcome.STORED, ctx.name, m.message_id, pk, thread_id)


def _refuse(
    conn: Connection, p: Prepared, ctx: ListContext, where: Where, kind: str, reason: str
) -> IngestResult:
    """Mail moderation blocks: a banned sender's is quarantined (kept, with the reason), a
    copy of erased mail is dropped (reported as a duplicate: nothing new to keep)."""
    mid = p.parsed.message_id if p.parsed else None
    if kind == blocks.ERASED:
        return IngestResult(Outcome.DUPLICATE, ctx.name, mid, reason=reason)
    return _quarantine(conn, p, ctx, where, reason)


def _quarantine(
    conn: Connection, p: Prepared, ctx: ListContext, where: Where, reason: str
) -> IngestResult:
    quarantine_store.keep(
        conn,
        sha256=p.sha256,
        size=p.size,
        compressed=p.compressed,
        reason=reason,
        list_name=ctx.name,
        source=where.source,
    )
    return IngestResult(Outcome.QUARANTINED, ctx.name, reason=reason)


def _store_message(
    conn: Connection,
    p: Prepared,
    ctx: ListContext,
    where: Where,
    known_raw: int | None,
    assignment: threads.Assignment,
    pending: store.PendingRows,
) -> int:
    """The raw copy unless it is `known_raw`, the skeleton row and list membership (one
    statement on PostgreSQL); body, recipients, attachments and the search document (with
    its date-ordered key and markers) are queued in `pending`."""
    m = p.parsed
    assert m is not None
    values = _message_values(p, known_raw, assignment)
    people = people_upkeep.pending_for(pending)
    values["person_id"] = people.person_id(conn, m.from_name, m.from_addr, p.canonical)
    new_raw = store.NewRaw(p.sha256, p.size, p.compressed, p.arrival) if known_raw is None else None
    pk, raw_id = store.add_message_to_list(
        conn, values, ctx.list_id, p.arrival, bump=_bumps(assignment), new_raw=new_raw
    )
    _raw_kept(p, ctx, where, raw_id, pending, p.fingerprint)
    people.add_terms(values["person_id"], ctx.list_id, pk, p.topics)
    body, recipients, attachments = details(p)
    search = search_index.placement(
        p.search or {},
        message_pk=pk,
        date=m.date,
        list_ids=[ctx.list_id],
        has_attachments=values["has_attachments"],
        language=p.language,
    )
    store.add_details(pending, pk, body, recipients, attachments, search)
    return pk


def _keep_raw(
    conn: Connection,
    p: Prepared,
    ctx: ListContext,
    where: Where,
    known_id: int | None,
    pending: store.PendingRows,
) -> int:
    raw_id = (
        known_id
        if known_id is not None
        else store.add_raw(conn, p.sha256, p.size, p.compressed, p.arrival, known_new=True)
    )
    _raw_kept(p, ctx, where, raw_id, pending)
    return raw_id


def _raw_kept(
    p: Prepared,
    ctx: ListContext,
    where: Where,
    raw_id: int,
    pending: store.PendingRows,
    fingerprint: str | None = None,
) -> None:
    """Note a raw copy kept for this list (and, for a new message, its `fingerprint`): in the
    chunk cache, and in the delivery ledger."""
    if (cache := pending.extras.get(store_known.KNOWN_KEY)) is not None:
        cache.stored(p.sha256, raw_id, fingerprint)
    if not where.replay:
        store.record_delivery(pending, raw_id, ctx.list_id, p.arrival, where.source)


def _cross_post(
    conn: Connection,
    p: Prepared,
    ctx: ListContext,
    where: Where,
    existing: tuple[int, int, str, datetime],
    raw_id: int | None,
    pending: store.PendingRows,
) -> IngestResult:
    pk, thread_id, mid, date = existing
    if store.in_list(conn, pk, ctx.list_id):
        return IngestResult(Outcome.DUPLICATE, ctx.name, mid, pk, thread_id)
    raw_id = _keep_raw(conn, p, ctx, where, raw_id, pending)
    store.add_to_list(conn, pk, ctx.list_id, raw_id, date, p.arrival)
    people = people_upkeep.pending_for(pending)
    person = people.person_id(conn, "", p.parsed.from_addr, p.canonical)  # type: ignore[union-attr]
    people.add_terms(person, ctx.list_id, pk, p.topics)
    queued = store.queued_search_doc(pending, pk)
    if queued is not None:  # the message came earlier in this batch: its row is not written
        queued["meta"] = search_index.with_list(queued["meta"], ctx.list_id)
    else:
        if (writer := pending.extras.get(search_backlog.WRITER_KEY)) is not None:
            writer.wait()  # this import's documents are all written
        search_backlog.add_list(conn, pk, ctx.list_id)  # another import's may still be on its way
    thread_summary.refresh_thread(conn, thread_id)
    return IngestResult(Outcome.STORED, ctx.name, mid, pk, thread_id)


def _bumps(a: threads.Assignment) -> bool:
    """Whether storing the message counts it in its thread's summary (a new thread, or a
    reply joining one thread); otherwise `_update_thread` recomputes the summary."""
    return a.created or not (a.merged or a.parent is None)


def _update_thread(conn: Connection, a: threads.Assignment, m: ParsedMessage, pk: int) -> int:
    """Thread summary, then links of messages the newcomer may parent. A Thread-Index parent
    can be dated after its child (clocks differ), so such messages re-link the whole thread.
    A merge may undo a moderator's split or move: those fixes are applied again. Returns the
    message's thread."""
    since = None if a.merged or m.thread_index else m.date
    if a.created:
        return a.thread_id
    if not _bumps(a):
        thread_summary.refresh_thread(conn, a.thread_id)
    threads.relink_weak(conn, a.thread_id, since)
    return replay.after_merge(conn, pk, a.thread_id) if a.merged else a.thread_id


def commit_guarded(conn: Connection, p: Prepared, ctx: ListContext, where: Where) -> IngestResult:
    """`commit` inside a savepoint: a message the database refuses (a value it cannot store)
    is quarantined with the database's reason instead of failing the caller's transaction; a
    unique-key race with another writer is retried once. Operational errors (database down,
    disk full) propagate: they are our faults and the sender must retry."""
    for attempt in range(2):
        try:
            with conn.begin_nested():
                return commit(conn, p, ctx, where)
        except IntegrityError:
            if attempt:
                reason = "the database refused the message (integrity error)"
                break
        except DataError as exc:
            reason = f"the database refused a value: {str(exc.orig).splitlines()[0][:300]}"
            break
    refused = replace(p, parsed=None, reason=reason)
    return commit(conn, refused, ctx, where)


def ingest(conn: Connection, raw: bytes, ctx: ListContext, where: Where) -> IngestResult:
    """Prepare and store one message in the caller's transaction (the live path)."""
    return commit_guarded(conn, prepare(raw, ctx, where.arrival), ctx, where)
