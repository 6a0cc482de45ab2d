"""A digest run: make every due digest and queue it exactly once, then (optionally) deliver.

Exactly once: each digest is recorded in `digest_runs` under (subscription, period) in the
same transaction as its `outbound.enqueue` (dedupe key `digest:<subscription>:<period>`).
A run killed at any point leaves either both rows or neither: a rerun skips what was queued
and makes what was not, and the outbox (leases, retries) delivers each queued mail once.
Digests with nothing new are recorded too (no mail), so the next one starts after them.
Readers are handled in batches of `[digest] batch_size`: made on a read connection (no
write lock held while rendering), then written in one short transaction; a delivery thread
hands committed batches to the relay while the next ones are made.

`run_digests` is what `mailgate digest send` and the scheduler of `mailgate serve`
(`digest.service`) call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError

from digest.build import Builder, Built, Due, period_of, plan_due
from digest.settings import DigestSettings, digest_settings
from mailgate import outbound, prefs
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.digest_models import DigestRun
from mailgate.outbound_bulk import Prepared
from mailgate.outbox import worker_id as outbound_worker_id

log = logging.getLogger("mailgate.digest")
runs_t = DigestRun.__table__
KIND = "digest"
DELIVER_BATCH = 500


@dataclass
class RunReport:
    """What one run did."""

    due: int = 0
    queued: int = 0
    empty: int = 0
    already: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    built: list[Built] = field(default_factory=list)


def dedupe_key(due: Due) -> str:
    return f"digest:{due.sub.id}:{due.period.key}"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Conflict(Exception):
    """A digest of the batch was queued meanwhile (by another run)."""


def _run_row(built: Built, outbox_id: int | None, now: datetime) -> dict:
    due = built.due
    return {
        "subscription_id": due.sub.id, "address": due.sub.address, "period": due.period.key,
        "period_start": due.period.start, "period_end": due.period.end,
        "thread_count": built.thread_count, "outbox_id": outbox_id, "created_at": now,
    }  # fmt: skip


def _record(conn: Connection, batch: Sequence[Built], now: datetime) -> None:
    """Queue the digests of `batch` and record their runs (raises _Conflict if one was
    already queued: the caller's transaction then rolls back)."""
    bulk = [b for b in batch if isinstance(b.message, Prepared)]
    ids = outbound.enqueue_many(conn, [(b.message, dedupe_key(b.due)) for b in bulk], kind=KIND)
    outbox_ids: dict[int, int | None] = {id(b): i for b, i in zip(bulk, ids, strict=True)}
    for built in batch:
        if built.message is not None and not isinstance(built.message, Prepared):
            key = dedupe_key(built.due)
            outbox_ids[id(built)] = outbound.enqueue(conn, built.message, kind=KIND, dedupe_key=key)
        if built.message is not None and outbox_ids[id(built)] is None:
            raise _Conflict
    rows = [_run_row(b, outbox_ids.get(id(b)), now) for b in batch]
    conn.execute(insert(runs_t), rows)


def _write(db: Database, batch: Sequence[Built], report: RunReport) -> None:
    """Record a batch in one transaction; on a conflict (another run got there), one by one."""
    now = utcnow()
    try:
        with db.engine.begin() as conn:
            _record(conn, batch, now)
        done = [True] * len(batch)
    except (IntegrityError, _Conflict):
        done = []
        for built in batch:
            try:
                with db.engine.begin() as conn:
                    _record(conn, [built], now)
                done.append(True)
            except (IntegrityError, _Conflict):
                done.append(False)
    for built, ok in zip(batch, done, strict=True):
        if not ok:
            report.already += 1
        elif built.message is None:
            report.empty += 1
        else:
            report.queued += 1


def _batches(items: Sequence[Due], size: int) -> Iterable[Sequence[Due]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def _ordered(due: list[Due]) -> list[Due]:
    """Readers of the same lists and period next to each other (warm caches)."""
    return sorted(due, key=lambda d: (d.period.end, d.period.start, d.sub.list_name, d.sub.id))


def make_digests(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    addresses: Iterable[str] | None = None,
    dry_run: bool = False,
    options: DigestSettings | None = None,
    after_batch: Callable[[RunReport], None] | None = None,
    report: RunReport | None = None,
) -> RunReport:
    """Make and queue every digest due at `now` (nothing is written when `dry_run`);
    `after_batch` runs after each batch is committed (delivery, so mail flows early)."""
    options = options or digest_settings(settings)
    now = now or utcnow()
    report = report if report is not None else RunReport()
    clock = time.perf_counter()
    build_seconds = write_seconds = 0.0
    with db.reader() as session:
        conn = session.connection()
        due = _ordered(plan_due(conn, settings, options, now, addresses=addresses))
        builder = Builder(conn, settings, options)
    report.due = len(due)
    report.seconds["plan"] = time.perf_counter() - clock
    for batch in _batches(due, options.batch_size):
        start = time.perf_counter()
        with db.reader() as session:
            conn = session.connection()
            builder.bind(conn)
            choices = prefs.thread_prefs_for(conn, sorted({d.sub.address for d in batch}))
            built = [builder.build(d, choices.get(d.sub.address, {})) for d in batch]
        middle = time.perf_counter()
        build_seconds += middle - start
        if dry_run:
            report.built.extend(built)
            continue
        _write(db, built, report)
        write_seconds += time.perf_counter() - middle
        if after_batch is not None:
            after_batch(report)
    report.seconds.update(build=build_seconds, write=write_seconds)
    return report


def deliver(db: Database, settings: Settings, report: RunReport, *, worker: str) -> None:
    """Hand queued mail to the relay until nothing is due now (retries wait for later)."""
    start = time.perf_counter()
    while True:
        stats = outbound.deliver_due(db, settings, limit=DELIVER_BATCH, worker=worker)
        report.sent += stats.sent
        report.retried += stats.retried
        report.failed += stats.failed
        if stats.sent + stats.retried + stats.failed == 0:
            break
    report.seconds["deliver"] = report.seconds.get("deliver", 0.0) + time.perf_counter() - start


class Deliverer(threading.Thread):
    """Delivers the outbox in the background while the next batch of digests is made: the
    relay's round trips overlap the rendering. `nudge()` after a batch is committed,
    `finish()` at the end (a last pass, then the thread ends; its error is raised)."""

    def __init__(self, db: Database, settings: Settings, report: RunReport) -> None:
        super().__init__(name="digest-delivery", daemon=True)
        self.db, self.settings, self.report = db, settings, report
        self.worker = outbound_worker_id()
        self._wake = threading.Event()
        self._done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                last = self._done.is_set()
                deliver(self.db, self.settings, self.report, worker=self.worker)
                if last:
                    return
        except BaseException as exc:  # handed to the caller by finish()
            self.error = exc

    def nudge(self, _report: RunReport | None = None) -> None:
        self._wake.set()

    def finish(self) -> None:
        self._done.set()
        self._wake.set()
        self.join()
        if self.error is not None:
            raise self.error


def run_digests(
    db: Database,
    settings: Settings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    send: bool = True,
) -> RunReport:
    """Make and queue the due digests; unless `send` is False, deliver the outbox meanwhile
    (from the first committed batch on) and until nothing is due."""
    report = RunReport()
    deliverer = Deliverer(db, settings, report) if send and not dry_run else None
    if deliverer is not None:
        deliverer.start()
    start = time.perf_counter()
    try:
        make_digests(
            db, settings, now=now, dry_run=dry_run, report=report,
            after_batch=deliverer.nudge if deliverer else None,
        )  # fmt: skip
    finally:
        if deliverer is not None:
            deliverer.finish()  # also what other processes queued, and retries now due
    report.seconds["total"] = time.perf_counter() - start
    if report.queued or report.empty:
        log.info(
            "digests: %d queued, %d with nothing new, %d already done",
            report.queued, report.empty, report.already,
        )  # fmt: skip
    return report


def preview(
    db: Database,
    settings: Settings,
    address: str,
    *,
    now: datetime | None = None,
    list_name: str | None = None,
) -> list[Built]:
    """The digests `address` would get now (its subscriptions, else a daily one of every list
    it may see), from one nominal period back; nothing is written."""
    options = digest_settings(settings)
    now = now or utcnow()
    address = address.strip().lower()
    with db.reader() as session:
        conn = session.connection()
        subs = [s for s in prefs.subscriptions_of(conn, address) if s.frequency != "off"]
        if list_name is not None:
            subs = [s for s in subs if s.list_name == list_name]
        if not subs:
            subs = [
                prefs.Subscription(
                    id=0, address=address, list_name=list_name or "", frequency="daily",
                    weekday=prefs.DEFAULT_WEEKDAY, hour=prefs.DEFAULT_HOUR,
                    timezone=settings.timezone, token="preview",
                )
            ]  # fmt: skip
        builder = Builder(conn, settings, options)
        choices = prefs.thread_prefs_of(conn, address)
        return [
            builder.build(Due(s, period_of(s, settings, options, now, None)), choices) for s in subs
        ]
