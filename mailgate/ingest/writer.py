"""The durable writer of the live receivers: group commit on one writer thread.

SMTP, LMTP and the IMAP pollers hand it a `Job` (one message and where it goes: lists and
command addresses) and wait for the job's results. Jobs are prepared (parsed, analysed; pure
work) on a preparer thread or, with `workers`, in worker processes; the writer thread then
takes every prepared job that is waiting, stores them all in one transaction and commits once;
if the batch fails, it is stored again with a savepoint per job (or per recipient when each
needs its own answer, as in LMTP), so one faulty message fails alone. Only then
are the jobs' futures resolved, so a receiver acknowledges only what is durable, and messages
that arrive while a commit is being flushed share the next one: durability at the cost of one
fsync per batch, not per message, on SQLite's single writer.

A fault of ours (database down, disk full, a bug) fails the job's items (the receiver answers
451 and the sender retries; the pipeline de-duplicates what a retry brings twice). Mail that
cannot be parsed is not a fault: the pipeline quarantines it and it counts as kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from mailgate.db import Database
from mailgate.pipeline import (
    ListContext,
    Outcome,
    Prepared,
    Where,
    commit,
    commit_guarded,
    prepare,
)
from mailgate.routing import Route, RouteKind, enqueue_command
from mailgate.store import PendingRows, utcnow

log = logging.getLogger(__name__)

# Most messages committed in one transaction (bounds the time a batch holds the write lock).
MAX_BATCH_MESSAGES = 256
# Jobs accepted but not yet committed; beyond this receivers answer "busy, try later".
MAX_PENDING_JOBS = 2_000
STOP_TIMEOUT_SECONDS = 30.0
PR_SET_PDEATHSIG = 1  # prctl(2) option
PARENT_CHECK_SECONDS = 1.0
QUEUED = "queued"
FAILED = "failed"


class WriterBusy(RuntimeError):
    """Too many jobs are waiting for the database; the sender should try again later."""


class WriterStopped(RuntimeError):
    """The writer no longer accepts jobs (the server is shutting down)."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What happened to one (message, route) pair: `ok` means durably kept."""

    route: Route
    ok: bool
    outcome: str  # stored, duplicate, quarantined, queued or failed
    message_id: str | None = None
    detail: str = ""


@dataclass(slots=True)
class Job:
    """One message for one or more routes. `atomic`: all routes commit or none does.
    `after` runs in the job's savepoint once its routes are stored (e.g. IMAP state).
    `mail_from` is the SMTP envelope sender ('' for a bounce; None when unknown, e.g. IMAP)."""

    raw: bytes
    routes: tuple[Route, ...]
    source: str
    atomic: bool = True
    after: Callable[[Connection], None] | None = None
    arrival: datetime = field(default_factory=utcnow)
    mail_from: str | None = None


@dataclass(slots=True)
class _Ready:
    job: Job
    prepared: list[Prepared | None]
    future: Future[list[ItemResult]]


def _prepare_routes(
    raw: bytes, contexts: list[ListContext | None], arrival: datetime
) -> list[Prepared | None]:
    """Prepare the message once per list route (None for command routes); pure work."""
    return [prepare(raw, ctx, arrival) if ctx is not None else None for ctx in contexts]


def _warm_up() -> None:
    """Runs in a new worker process: the pipeline is imported by then."""


def _worker_init(parent: int) -> None:
    """A parsing process ends with the server, even when the server is killed (SIGKILL)."""
    try:  # Linux: the kernel signals us when the parent dies
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it died before the line above
        os._exit(0)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _make_executor(workers: int) -> Executor:
    if workers <= 0:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgate-prepare")
    # spawn: the serving process has threads, which fork would copy in an unknown state.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(os.getpid(),),
    )


class IngestWriter:
    """Group-committing writer; `submit` is thread-safe and returns a Future of results."""

    def __init__(self, db: Database, contexts: dict[str, ListContext], *, workers: int = 0) -> None:
        self.db = db
        self.contexts = contexts
        self._workers = workers
        self._executor = _make_executor(workers)
        self._ready: queue.Queue[_Ready | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self._accepting = True
        self._idle = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name="mailgate-writer", daemon=True)
        self._conn: Connection | None = None
        self.commits = 0
        self.committed_jobs = 0

    def start(self) -> None:
        self._warm_up()
        self._thread.start()

    def submit(self, job: Job) -> Future[list[ItemResult]]:
        """Queue a job; the future resolves once its results are committed (or failed)."""
        with self._lock:
            if not self._accepting:
                raise WriterStopped("the server is shutting down")
            if self._pending >= MAX_PENDING_JOBS:
                raise WriterBusy(f"{self._pending} messages waiting for the database")
            self._pending += 1
        result: Future[list[ItemResult]] = Future()
        # Running from the start: a waiter that goes away cannot cancel a job in progress.
        result.set_running_or_notify_cancel()
        contexts = [
            self.contexts.get(r.list_name or "") if r.kind is RouteKind.LIST else None
            for r in job.routes
        ]
        try:
            prepared = self._prepare(job, contexts)
        except RuntimeError as exc:  # executor shut down or broken
            self._done(1)
            raise WriterStopped(str(exc)) from None
        prepared.add_done_callback(lambda f: self._prepared(job, f, result))
        return result

    def _warm_up(self) -> None:
        """Start the parsing processes now (not when mail arrives)."""
        if self._workers > 0:
            for started in [self._executor.submit(_warm_up) for _ in range(self._workers)]:
                started.result()

    def _prepare(self, job: Job, contexts: list[ListContext | None]) -> Future:
        try:
            return self._executor.submit(_prepare_routes, job.raw, contexts, job.arrival)
        except BrokenExecutor:  # a parsing process died (killed, out of memory): start anew
            with self._lock:
                log.error("a parsing process died; starting new ones")
                self._executor.shutdown(wait=False, cancel_futures=False)
                self._executor = _make_executor(self._workers)
            return self._executor.submit(_prepare_routes, job.raw, contexts, job.arrival)

    def _prepared(self, job: Job, done: Future[list[Prepared | None]], result: Future) -> None:
        try:
            prepared = done.result()
        except BaseException as exc:  # a broken worker process, for example
            log.error("preparing a message failed: %s: %s", type(exc).__name__, exc)
            result.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            self._done(1)
            return
        self._ready.put(_Ready(job, prepared, result))

    def _done(self, count: int) -> None:
        with self._lock:
            self._pending -= count
            if self._pending == 0:
                self._idle.notify_all()

    def _take_batch(self, first: _Ready) -> tuple[list[_Ready], bool]:
        batch, stop = [first], False
        while len(batch) < MAX_BATCH_MESSAGES:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        try:
            while True:
                first = self._ready.get()
                if first is None:
                    return
                batch, stop = self._take_batch(first)
                self._commit_batch(batch)
                if stop:
                    return
        finally:
            self._drop_connection()

    def _connection(self) -> Connection:
        """The writer thread's connection, kept open between batches."""
        if self._conn is None:
            self._conn = self.db.engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _commit_batch(self, batch: list[_Ready]) -> None:
        try:
            try:
                results = self._transaction(batch, isolate=False)
            except Exception as exc:
                # One message may be at fault: redo the batch with a savepoint per job.
                log.warning("batch of %d failed (%s); retrying message by message", len(batch), exc)
                results = self._transaction(batch, isolate=True)
        except Exception as exc:
            log.error("commit of %d message(s) failed: %s: %s", len(batch), type(exc).__name__, exc)
            for ready in batch:
                ready.future.set_exception(exc)
        else:
            self.commits += 1
            self.committed_jobs += len(batch)
            for ready, job_results in zip(batch, results, strict=True):
                ready.future.set_result(job_results)
        finally:
            self._done(len(batch))

    def _transaction(self, batch: list[_Ready], *, isolate: bool) -> list[list[ItemResult]]:
        """Store the batch in one transaction and commit it (durable when this returns)."""
        conn = self._connection()
        try:
            with conn.begin():
                if isolate:
                    return [self._store_isolated(conn, ready) for ready in batch]
                pending = PendingRows()  # rows nothing reads during ingest: one insert per table
                results = [self._store_plain(conn, ready, pending) for ready in batch]
                pending.flush(conn)
                return results
        except Exception:
            self._drop_connection()  # it may be broken; the next batch opens a new one
            raise

    def _store_plain(
        self, conn: Connection, ready: _Ready, pending: PendingRows
    ) -> list[ItemResult]:
        job = ready.job
        results = [
            self._store_one(conn, job, route, prep, pending)
            for route, prep in zip(job.routes, ready.prepared, strict=True)
        ]
        if job.after is not None:
            job.after(conn)
        return results

    def _store_isolated(self, conn: Connection, ready: _Ready) -> list[ItemResult]:
        job = ready.job
        if not job.atomic:
            results = [
                self._in_savepoint(conn, job, [(route, prep)], with_after=False)[0]
                for route, prep in zip(job.routes, ready.prepared, strict=True)
            ]
            if job.after is not None and all(r.ok for r in results):
                self._in_savepoint(conn, job, [], with_after=True)
            return results
        return self._in_savepoint(
            conn, job, list(zip(job.routes, ready.prepared, strict=True)), with_after=True
        )

    def _in_savepoint(
        self,
        conn: Connection,
        job: Job,
        pairs: list[tuple[Route, Prepared | None]],
        *,
        with_after: bool,
    ) -> list[ItemResult]:
        savepoint = conn.begin_nested()
        try:
            results = [self._store_one(conn, job, route, prep) for route, prep in pairs]
            if with_after and job.after is not None:
                job.after(conn)
        except Exception as exc:
            savepoint.rollback()
            log.exception("storing a message from %s failed", job.source)
            detail = f"{type(exc).__name__}: {exc}"
            return [ItemResult(route, False, FAILED, detail=detail) for route, _ in pairs]
        savepoint.commit()
        return results

    def _store_one(
        self,
        conn: Connection,
        job: Job,
        route: Route,
        prep: Prepared | None,
        pending: PendingRows | None = None,
    ) -> ItemResult:
        """Store one route of a job. In a batch (`pending` given) a value the database refuses
        fails the batch, which is then replayed with `commit_guarded`: such a message is
        quarantined (kept) with the database's reason."""
        if route.kind is not RouteKind.LIST:
            enqueue_command(conn, job.raw, route, job.arrival, job.mail_from)
            return ItemResult(route, True, QUEUED)
        ctx = self.contexts.get(route.list_name or "")
        if ctx is None or prep is None:
            raise LookupError(f"list {route.list_name!r} is not in the database")
        where = Where(ctx.name, job.source, arrival=job.arrival)
        if pending is not None:
            result = commit(conn, prep, ctx, where, pending)
        else:
            result = commit_guarded(conn, prep, ctx, where)
        detail = result.reason if result.outcome is Outcome.QUARANTINED else ""
        return ItemResult(route, True, result.outcome.value, result.message_id, detail)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop accepting jobs, commit those already accepted, then end the thread."""
        with self._lock:
            self._accepting = False
            self._idle.wait_for(lambda: self._pending == 0, timeout)
        self._ready.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self.commits:
            log.info(
                "writer: %d message(s) in %d commit(s), %.1f per commit",
                self.committed_jobs, self.commits, self.committed_jobs / self.commits,
            )  # fmt: skip
