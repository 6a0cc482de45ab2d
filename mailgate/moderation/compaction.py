"""Making the storage forget erased and redacted bytes, after the transaction that removed
the rows has committed.

SQLite keeps deleted content in free pages, in FTS5 segments (a deletion only adds a delete
marker until segments merge) and in the write-ahead log. `compact` therefore merges the
full-text index into one segment ('optimize'), rewrites the database file (VACUUM) and
truncates the WAL (`wal_checkpoint(TRUNCATE)`). PostgreSQL's removed rows are not readable
once deleted; `compact` runs VACUUM on the tables erasure touches so their dead tuples go
too. Audit log entries of erasures and redactions carry `compacted_at` once this has run.
The CLI compacts after each erasure; mail-confirmed erasures are compacted by
`compact_if_pending`, which the command worker (or `mailgate moderate compact`) calls after
its commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from mailgate import search_index
from mailgate.db import Database
from mailgate.moderation_models import ModerationLog
from mailgate.store import utcnow

log_t = ModerationLog.__table__
COMPACTING_ACTIONS = ("erase", "erase-person", "redact", "redact-attachment")
POSTGRES_VACUUM_TABLES = (
    "raw_messages",
    "deliveries",
    "messages",
    "bodies",
    "search_docs",
    "attachments",
    "recipients",
    "thread_nodes",
    "quarantine",
)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Compacted:
    entries: int
    wal_truncated: bool


def _pending_ids(db: Database) -> list[int]:
    with db.engine.begin() as conn:
        return list(
            conn.execute(
                select(log_t.c.id).where(
                    log_t.c.action.in_(COMPACTING_ACTIONS), log_t.c.compacted_at.is_(None)
                )
            ).scalars()
        )


def _sqlite(db: Database) -> bool:
    with db.engine.begin() as conn:
        search_index.optimize(conn)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("VACUUM")
        busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        cursor.close()
    finally:
        raw.close()
    return not busy


def _postgres(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in POSTGRES_VACUUM_TABLES:
            conn.exec_driver_sql(f"VACUUM {table}")


def _mark(db: Database, ids: list[int]) -> None:
    if ids:
        with db.engine.begin() as conn:
            conn.execute(update(log_t).where(log_t.c.id.in_(ids)).values(compacted_at=utcnow()))


def compact(db: Database) -> Compacted:
    """Forget removed bytes now (see the module docstring); marks the pending log entries."""
    ids = _pending_ids(db)
    if db.dialect == "sqlite":
        _mark(db, ids)
        truncated = _sqlite(db)
        if not truncated:
            logger.warning("a reader kept the write-ahead log open; it is truncated next time")
        return Compacted(len(ids), truncated)
    _postgres(db)
    _mark(db, ids)
    return Compacted(len(ids), True)


def compact_if_pending(db: Database) -> Compacted | None:
    """`compact` when an erasure or redaction has not been compacted yet."""
    return compact(db) if _pending_ids(db) else None
