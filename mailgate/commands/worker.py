"""The command worker: handle what the gateway queued in `command_inbox`, one message at a time.

Each message is handled in one transaction: claimed (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
two serving processes never take the same one; SQLite has a single writer), checked, answered
(replies are queued in the outbox in the same transaction) and marked `handled_at` with its
`outcome`. So a crash before commit leaves the message to handle again, and a committed one is
never answered twice. Checks, in order: mail that must never be answered (auto-replies,
bounces, list traffic, mailgate's own, machine senders), a delivery seen before (same
Message-ID to the same address: the `command_log` key), and the per-sender rate limit
(`[commands] rate_limit` replies per `rate_window_minutes`; the sender is told once when the
limit is reached, then ignored). An unexpected error is retried `MAX_ATTEMPTS` times, then
recorded as failed. Called by `mailgate commands run-once` and the "commands" service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailgate import outbound
from mailgate.commands.context import Context, Reply
from mailgate.commands.request import Request, ignore_reason, read_request
from mailgate.commands.respond import reply_language, respond, send_reply
from mailgate.config import ConfigError, Settings, register_keys
from mailgate.db import Database
from mailgate.models import CommandInbox, CommandLog
from mailgate.store import decompress, utcnow

log = logging.getLogger("mailgate.commands")
BATCH_LIMIT = 100
MAX_ATTEMPTS = 3
MAX_OUTCOME_CHARS = 1000
DEFAULT_RATE_LIMIT = 20
DEFAULT_RATE_WINDOW_MINUTES = 60
inbox_t = CommandInbox.__table__
log_t = CommandLog.__table__
register_keys("commands", ("rate_limit", "rate_window_minutes"))


@dataclass(frozen=True)
class RateLimit:
    replies: int
    window: timedelta


def rate_limit(settings: Settings) -> RateLimit:
    """`[commands] rate_limit` and `rate_window_minutes`, validated."""
    section = settings.section("commands")
    replies = section.get("rate_limit", DEFAULT_RATE_LIMIT)
    minutes = section.get("rate_window_minutes", DEFAULT_RATE_WINDOW_MINUTES)
    for key, value in (("rate_limit", replies), ("rate_window_minutes", minutes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"[commands] {key} must be a positive integer")
    return RateLimit(replies, timedelta(minutes=minutes))


@dataclass
class WorkerStats:
    """What one run did, by outcome: replied, confirmed, ignored, duplicate, failed, retry."""

    counts: dict[str, int] = field(default_factory=dict)
    queued: int = 0

    @property
    def handled(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "retry")

    def add(self, status: str, queued: int) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        self.queued += queued


def run_once(
    db: Database, settings: Settings, *, now: datetime | None = None, limit: int = BATCH_LIMIT
) -> WorkerStats:
    """Handle up to `limit` queued messages (oldest first); returns what was done."""
    rate_limit(settings)  # a bad setting is reported before anything is touched
    stats = WorkerStats()
    tried: set[int] = set()
    while len(tried) < limit:
        result = _handle_next(db, settings, now or utcnow(), tried)
        if result is None:
            break
        stats.add(*result)
    if stats.handled:
        _compact_erasures(db)
    return stats


def _compact_erasures(db: Database) -> None:
    """An erasure or redaction confirmed by mail leaves no copy behind in the database files."""
    from mailgate.moderation.compaction import compact_if_pending

    try:
        compact_if_pending(db)
    except Exception:  # the next run compacts again; the commands themselves are done
        log.exception("compacting after an erasure failed; it will be retried")


def _claim(conn: Connection, tried: set[int]) -> Any:
    query = (
        select(inbox_t.c.id, inbox_t.c.kind, inbox_t.c.list_name, inbox_t.c.recipient,
               inbox_t.c.data, inbox_t.c.attempts)
        .where(inbox_t.c.handled_at.is_(None))
        .order_by(inbox_t.c.id)
        .limit(1)
    )  # fmt: skip
    if tried:
        query = query.where(inbox_t.c.id.not_in(tried))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).first()


def _handle_next(
    db: Database, settings: Settings, now: datetime, tried: set[int]
) -> tuple[str, int] | None:
    with db.engine.begin() as conn:
        row = _claim(conn, tried)
        if row is None:
            return None
        tried.add(row.id)
        try:
            with conn.begin_nested():
                queued, outcome = handle(conn, settings, row, now)
        except Exception as exc:
            log.exception("command message %d failed", row.id)
            return _failure(conn, settings, row, exc, now)
        _finish(conn, row.id, outcome, now)
    status = outcome.split(":", 1)[0].split()[0]
    log.info("command message %d: %s", row.id, outcome)
    return status, queued


def _finish(conn: Connection, inbox_id: int, outcome: str, now: datetime, **extra: Any) -> None:
    conn.execute(
        update(inbox_t)
        .where(inbox_t.c.id == inbox_id)
        .values(handled_at=now, outcome=outcome[:MAX_OUTCOME_CHARS], **extra)
    )


def handle(conn: Connection, settings: Settings, row: Any, now: datetime) -> tuple[int, str]:
    """(messages queued, outcome) for one inbox row."""
    raw = decompress(row.data)
    request = read_request(row.id, row.kind, row.list_name, row.recipient, raw)
    reason = ignore_reason(request, settings, outbound.is_automated(request.message))
    if reason:
        return 0, f"ignored: {reason}"
    try:
        with conn.begin_nested():
            conn.execute(
                insert(log_t).values(
                    dedupe_key=request.dedupe_key, inbox_id=row.id, sender=request.sender,
                    created_at=now, replies=0,
                )
            )  # fmt: skip
    except IntegrityError:
        return 0, "duplicate: this message was handled before"
    limited = _rate_limited(conn, settings, request, now)
    if limited is not None:
        queued, outcome = limited
    else:
        queued, outcome = respond(conn, settings, request, now)
    conn.execute(
        update(log_t).where(log_t.c.dedupe_key == request.dedupe_key).values(replies=queued)
    )
    return queued, outcome


def _rate_limited(
    conn: Connection, settings: Settings, request: Request, now: datetime
) -> tuple[int, str] | None:
    """None when the sender may get an answer; else (queued, outcome): told once, then silence."""
    limit = rate_limit(settings)
    answered = conn.execute(
        select(func.count())
        .select_from(log_t)
        .where(
            log_t.c.sender == request.sender,
            log_t.c.created_at >= now - limit.window,
            log_t.c.replies > 0,
        )
    ).scalar_one()
    if answered < limit.replies:
        return None
    if answered > limit.replies:
        return 0, "ignored: rate limit"
    ctx = Context(conn, settings, request, reply_language(settings, request, []), now)
    minutes = int(limit.window.total_seconds() // 60)
    queued = send_reply(ctx, [Reply(ctx.t("rate_limited", minutes=minutes))])
    return queued, "ignored: rate limit reached (sender told)"


def _failure(
    conn: Connection, settings: Settings, row: Any, exc: Exception, now: datetime
) -> tuple[str, int]:
    """Count a failed attempt; after MAX_ATTEMPTS mark the message failed and tell the sender."""
    attempts = row.attempts + 1
    detail = f"{type(exc).__name__}: {exc}"
    if attempts < MAX_ATTEMPTS:
        conn.execute(
            update(inbox_t)
            .where(inbox_t.c.id == row.id)
            .values(attempts=attempts, outcome=f"retry: {detail}"[:MAX_OUTCOME_CHARS])
        )
        return "retry", 0
    _finish(conn, row.id, f"failed: {detail}", now, attempts=attempts)
    return "failed", _apologise(conn, settings, row, now)


def _apologise(conn: Connection, settings: Settings, row: Any, now: datetime) -> int:
    try:
        with conn.begin_nested():
            request = read_request(
                row.id, row.kind, row.list_name, row.recipient, decompress(row.data)
            )
            if ignore_reason(request, settings, outbound.is_automated(request.message)):
                return 0
            ctx = Context(conn, settings, request, reply_language(settings, request, []), now)
            return send_reply(ctx, [Reply(ctx.t("failed"))])
    except Exception:
        log.exception("telling the sender of command message %d failed", row.id)
        return 0
