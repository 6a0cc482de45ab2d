"""Bulk import driver: many messages through the ingest pipeline, fast and with bounded memory.

Parsing and analysis (`pipeline.prepare`) run in worker processes; this process commits the
results in order, a batch of messages per transaction. Bytes already archived on the list are
recognised by their hash before any parsing, so re-importing an archive is a quick no-op.
In-flight work is bounded, so memory does not grow with the archive. Used by `mailgate import`
and `mailgate rebuild`.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Select, exists, select, text
from sqlalchemy.exc import DataError, IntegrityError

from mailgate import ids, search_backlog, store, store_known
from mailgate.db import Database
from mailgate.models import MessageList, RawMessage
from mailgate.moderation import blocks
from mailgate.pipeline import (
    IngestResult,
    ListContext,
    Outcome,
    Prepared,
    Where,
    commit,
    commit_guarded,
    prepare,
)
from mailgate.store import PendingRows

_Item = tuple[bytes, datetime | None, str]  # raw bytes, arrival, hash of the bytes

BATCH_MESSAGES = 1_000
# PostgreSQL: the tables the writer looks things up in. Their planner statistics are refreshed
# whenever this import has doubled them, so that cached plans made while they were small (a
# sequential scan of a nearly empty table) are replanned.
LOOKUP_TABLES = (
    "raw_messages",
    "messages",
    "message_lists",
    "thread_nodes",
    "threads",
    "thread_lists",
    "persons",
    "person_addresses",
    "person_terms",
)
CHUNK_MESSAGES = 32
MAX_CHUNKS_IN_FLIGHT = 16
WORKER_NICENESS = 10  # added to the workers' nice value (Unix)


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)

    def add(self, outcome: Outcome, reason: str = "") -> None:
        if outcome is Outcome.STORED:
            self.imported += 1
        elif outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        else:
            self.quarantined += 1
            self.reasons[reason] += 1

    @property
    def total(self) -> int:
        return self.imported + self.duplicates + self.quarantined


def _prepare_chunk(chunk: list[_Item], ctx: ListContext) -> list[Prepared]:
    return [prepare(raw, ctx, arrival, sha) for raw, arrival, sha in chunk]


def already_here_query(shas: list[str], list_id: int) -> Select:
    """Which of these raw-byte hashes are already on the list. The list test is a correlated
    EXISTS so that the query starts from the hashes: as a join, SQLite (without statistics)
    walked every message of the list for each chunk, a cost that grew with the archive."""
    raw, ml = RawMessage.__table__, MessageList.__table__
    on_list = exists().where(ml.c.raw_id == raw.c.id, ml.c.list_id == list_id)
    return select(raw.c.sha256).where(raw.c.sha256.in_(sorted(set(shas))), on_list)


def _already_here(conn: Connection, shas: list[str], list_id: int) -> set[str]:
    """`already_here_query`'s answer (one query for a chunk)."""
    return set(conn.execute(already_here_query(shas, list_id)).scalars())


def _new_only(
    conn: Connection,
    group: list[tuple[bytes, datetime | None]],
    ctx: ListContext,
    summary: ImportSummary,
) -> list[_Item]:
    """The messages of `group` whose bytes are not on the list yet, with their hash; the
    others are counted as duplicates. Copies within the group, or of messages still in
    flight, are found by `commit` (same outcome, only later)."""
    shas = [ids.sha256_hex(raw) for raw, _arrival in group]
    here = _already_here(conn, shas, ctx.list_id)
    kept = []
    for (raw, arrival), sha in zip(group, shas, strict=True):
        if sha in here:
            summary.add(Outcome.DUPLICATE)
        else:
            kept.append((raw, arrival, sha))
    return kept


def _chunks(
    items: Iterable[tuple[bytes, datetime | None]],
    conn: Connection,
    ctx: ListContext,
    summary: ImportSummary,
) -> Iterator[list[_Item]]:
    group: list[tuple[bytes, datetime | None]] = []
    for item in items:
        group.append(item)
        if len(group) >= CHUNK_MESSAGES:
            if chunk := _new_only(conn, group, ctx, summary):
                yield chunk
            group = []
    if group and (chunk := _new_only(conn, group, ctx, summary)):
        yield chunk


def _prepared_chunks(
    chunks: Iterator[list[_Item]], ctx: ListContext, workers: int
) -> Iterator[list[Prepared]]:
    if workers <= 1:
        for chunk in chunks:
            yield _prepare_chunk(chunk, ctx)
        return
    with worker_pool(workers) as pool:
        pending: collections.deque[Future[list[Prepared]]] = collections.deque()
        for chunk in chunks:
            pending.append(pool.submit(_prepare_chunk, chunk, ctx))
            if len(pending) >= MAX_CHUNKS_IN_FLIGHT:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """The processes that prepare messages. They run at a lower priority than this process:
    the writer is the stage every message waits for (and, on PostgreSQL, so is the server
    process it waits on), so when all cores are busy it goes first."""
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_lower_priority)


def _lower_priority() -> None:
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _pending(conn: Connection) -> PendingRows:
    """Pending rows of a new batch, with the moderation blocks read once for the batch."""
    pending = PendingRows()
    known = blocks.snapshot(conn)
    if known is not None:
        pending.extras[blocks.SNAPSHOT_KEY] = known
    return pending


class _Batch:
    """The messages of one transaction. If the database refuses one of them, the batch is
    rolled back and replayed message by message, each in a savepoint, so that the bad message
    is quarantined with the database's reason and the others are stored."""

    def __init__(
        self,
        conn: Connection,
        ctx: ListContext,
        where: Where,
        writer: search_backlog.SearchWriter | None = None,
    ) -> None:
        self.conn, self.ctx, self.where, self.writer = conn, ctx, where, writer
        self.transaction = conn.begin()
        self.pending = _pending(conn)
        if writer is not None:
            self.pending.extras[search_backlog.WRITER_KEY] = writer
        self.items: list[Prepared] = []
        self.results: list[IngestResult] = []
        self.guarded = False

    def prefetch(self, chunk: list[Prepared]) -> None:
        """PostgreSQL: ask what the database knows of a chunk's messages in two queries, not
        one round trip each (on SQLite a lookup costs less than the cache's bookkeeping)."""
        if self.guarded or self.conn.dialect.name != "postgresql":
            return
        cache = self.pending.extras.setdefault(store_known.KNOWN_KEY, store_known.KnownCache())
        parsed = [p for p in chunk if p.parsed is not None]
        cache.prefetch(self.conn, [p.sha256 for p in parsed], [p.fingerprint for p in parsed])

    def add(self, prepared: Prepared) -> None:
        self.items.append(prepared)
        if self.guarded:
            self.results.append(commit_guarded(self.conn, prepared, self.ctx, self.where))
            return
        try:
            self.results.append(commit(self.conn, prepared, self.ctx, self.where, self.pending))
        except (DataError, IntegrityError):
            self._replay_guarded()

    def _replay_guarded(self) -> None:
        if self.writer is not None:  # a cross-post may change a document still in flight
            self.writer.wait()
        self.transaction.rollback()
        self.transaction = self.conn.begin()
        self.pending = PendingRows()
        self.guarded = True
        self.results = [commit_guarded(self.conn, p, self.ctx, self.where) for p in self.items]

    def finish(self) -> list[IngestResult]:
        """Commit the batch. With a search writer, the batch's search documents are written
        after the commit, on its connection (their messages are in the backlog until then)."""
        docs: list[dict] = []
        try:
            if self.writer is not None:
                docs = store.take_search_docs(self.pending)
                self.writer.defer(self.conn, docs)
            self.pending.flush(self.conn)
            self.transaction.commit()
        except (DataError, IntegrityError):
            docs = []  # the guarded replay writes them in the batch
            self._replay_guarded()
            self.transaction.commit()
        if self.writer is not None:
            self.writer.submit(docs)
        return self.results


def import_messages(
    db: Database,
    ctx: ListContext,
    items: Iterable[tuple[bytes, datetime | None]],
    *,
    source: str,
    workers: int | None = None,
    on_message: Callable[[], None] | None = None,
    replay: bool = False,
) -> ImportSummary:
    """Ingest `items` (raw bytes, arrival) into the list of `ctx`, committing in batches.

    One connection does the writing: the duplicate pre-check runs inside the open batch
    transaction, so it sees messages of the batch not yet committed. On PostgreSQL a second
    one writes the search documents of committed batches (`mailgate.search_backlog`); the
    import returns once they are all written.
    """
    summary = ImportSummary()
    where = Where(list_name=ctx.name, source=source, replay=replay)
    writer = search_backlog.SearchWriter(db.engine) if db.dialect == "postgresql" else None
    try:
        with db.engine.connect() as conn:
            search_backlog.catch_up(conn)
            _import(conn, ctx, items, summary, where, writer, workers, on_message)
    except BaseException:
        if writer is not None:
            writer.stop()
        raise
    if writer is not None:
        writer.wait()
    return summary


def _import(
    conn: Connection,
    ctx: ListContext,
    items: Iterable[tuple[bytes, datetime | None]],
    summary: ImportSummary,
    where: Where,
    writer: search_backlog.SearchWriter | None,
    workers: int | None,
    on_message: Callable[[], None] | None,
) -> None:
    statistics = _Statistics(conn)
    conn.commit()
    batch = _Batch(conn, ctx, where, writer)
    chunks = _chunks(items, conn, ctx, summary)
    jobs = workers if workers is not None else default_workers()
    for prepared_chunk in _prepared_chunks(chunks, ctx, jobs):
        batch.prefetch(prepared_chunk)
        for prepared in prepared_chunk:
            batch.add(prepared)
            if on_message:
                on_message()
            if len(batch.items) >= BATCH_MESSAGES:
                statistics.after_batch(conn, _count(summary, batch.finish()))
                batch = _Batch(conn, ctx, where, writer)
    _count(summary, batch.finish())


class _Statistics:
    """When to refresh the PostgreSQL planner statistics of `LOOKUP_TABLES` during an import:
    after the first batch, then each time the import has doubled the messages table. Without
    it, plans cached while an archive's first messages arrived scan whole tables for every
    later message (the cost grows with the square of the archive)."""

    def __init__(self, conn: Connection) -> None:
        self.enabled = conn.dialect.name == "postgresql"
        self.stored = self.existing = 0
        if self.enabled:
            self.existing = max(int(conn.execute(_ESTIMATE).scalar() or 0), 0)
        self.next_at = self.existing

    def after_batch(self, conn: Connection, stored: int) -> None:
        self.stored += stored
        if not self.enabled or not stored or self.stored <= self.next_at:
            return
        conn.execute(text(f"ANALYZE {', '.join(LOOKUP_TABLES)}"))
        conn.commit()
        self.next_at = 2 * self.stored + self.existing


_ESTIMATE = text("SELECT reltuples FROM pg_class WHERE relname = 'messages'")


def _count(summary: ImportSummary, results: list[IngestResult]) -> int:
    """Add the results of a batch to the summary; the number of messages stored."""
    for result in results:
        summary.add(result.outcome, result.reason)
    return sum(result.outcome is Outcome.STORED for result in results)
