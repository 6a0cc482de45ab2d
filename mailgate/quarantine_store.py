"""The quarantine: mail that could not be archived, kept raw (compressed) with its reason.

`keep` is called by the ingest pipeline (once per bytes and reason: a retry that fails again
counts an attempt); `entries`, `raw_of` and `resolve` by `mailgate quarantine list` and
`mailgate quarantine retry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from mailgate.models import Quarantine
from mailgate.store import decompress, utcnow

MAX_REASON_CHARS = 2_000
quarantine_t = Quarantine.__table__


def keep(
    conn: Connection,
    *,
    sha256: str,
    size: int,
    compressed: bytes,
    reason: str,
    list_name: str,
    source: str,
) -> int:
    """Keep mail that could not be archived, with its reason (once per bytes and reason)."""
    existing = conn.execute(
        select(quarantine_t.c.id).where(
            quarantine_t.c.sha256 == sha256, quarantine_t.c.resolved_at.is_(None)
        )
    ).scalar()
    if existing is not None:
        conn.execute(
            update(quarantine_t)
            .where(quarantine_t.c.id == existing)
            .values(reason=reason, attempts=quarantine_t.c.attempts + 1)
        )
        return existing
    return conn.execute(
        insert(quarantine_t).values(
            sha256=sha256,
            size=size,
            data=compressed,
            reason=reason[:MAX_REASON_CHARS],
            list_name=list_name,
            source=source,
            created_at=utcnow(),
            attempts=1,
        )
    ).inserted_primary_key[0]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: int
    list_name: str
    source: str
    reason: str
    size: int
    created_at: datetime
    attempts: int


def entries(conn: Connection, *, include_resolved: bool = False) -> list[QuarantineEntry]:
    """The quarantined mail, oldest first (only what is still waiting, by default)."""
    query = select(
        quarantine_t.c.id,
        quarantine_t.c.list_name,
        quarantine_t.c.source,
        quarantine_t.c.reason,
        quarantine_t.c.size,
        quarantine_t.c.created_at,
        quarantine_t.c.attempts,
    ).order_by(quarantine_t.c.id)
    if not include_resolved:
        query = query.where(quarantine_t.c.resolved_at.is_(None))
    return [QuarantineEntry(*row) for row in conn.execute(query).all()]


def raw_of(conn: Connection, entry_id: int) -> tuple[bytes, str] | None:
    """The raw bytes of an entry and the list they were for."""
    row = conn.execute(
        select(quarantine_t.c.data, quarantine_t.c.list_name).where(quarantine_t.c.id == entry_id)
    ).first()
    return (decompress(row.data), row.list_name) if row else None


def resolve(conn: Connection, entry_id: int) -> None:
    """Mark an entry handled (a retry stored it)."""
    conn.execute(
        update(quarantine_t).where(quarantine_t.c.id == entry_id).values(resolved_at=utcnow())
    )
