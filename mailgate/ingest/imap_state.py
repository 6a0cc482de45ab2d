"""Durable state of the IMAP pollers: progress (UIDVALIDITY, last UID) and a lease per source.

The progress row is updated in the same transaction as the messages it covers (through the
durable writer), so a restart resumes exactly after the last archived UID. The lease keeps
two mailgate processes sharing one database from polling the same source at once: a process
polls a source only while it holds an unexpired lease on its row, renews it every cycle, and a
progress update from a process that lost its lease fails (its transaction rolls back). The
statements are plain UPDATEs with a WHERE on the owner, which both SQLite (one writer at a
time) and PostgreSQL (row locks, re-checked under READ COMMITTED) serialise. Used by
`ingest.imap`.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailgate.models import ImapState
from mailgate.store import utcnow

state_t = ImapState.__table__
OWNER_LENGTH = 200
MAILBOX_LENGTH = 600


class LeaseLost(RuntimeError):
    """Another process took over this source (our lease expired); stop polling it."""


@dataclass(frozen=True, slots=True)
class Progress:
    mailbox: str
    uidvalidity: int | None
    last_uid: int


def new_owner() -> str:
    """A lease owner id unique to this process (host, pid and a random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:OWNER_LENGTH]


def _ensure_row(engine: Engine, source: str) -> None:
    with engine.begin() as conn:
        if conn.execute(select(state_t.c.source).where(state_t.c.source == source)).first():
            return
    try:
        with engine.begin() as conn:
            conn.execute(insert(state_t).values(source=source, mailbox="", last_uid=0))
    except IntegrityError:  # another process created it in between
        pass


def acquire_lease(engine: Engine, source: str, owner: str, seconds: float) -> bool:
    """Take or renew the lease on `source`; False while another process holds it."""
    _ensure_row(engine, source)
    now = utcnow()
    with engine.begin() as conn:
        taken = conn.execute(
            update(state_t)
            .where(
                state_t.c.source == source,
                (state_t.c.lease_owner.is_(None))
                | (state_t.c.lease_owner == owner)
                | (state_t.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
        )
        return taken.rowcount == 1


def release_lease(engine: Engine, source: str, owner: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(state_t)
            .where(state_t.c.source == source, state_t.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def load_progress(engine: Engine, source: str) -> Progress:
    with engine.begin() as conn:
        row = conn.execute(
            select(state_t.c.mailbox, state_t.c.uidvalidity, state_t.c.last_uid).where(
                state_t.c.source == source
            )
        ).first()
    return Progress(row.mailbox, row.uidvalidity, row.last_uid) if row else Progress("", None, 0)


def save_progress(
    conn: Connection, source: str, owner: str, mailbox: str, uidvalidity: int, last_uid: int
) -> None:
    """Record progress in the caller's transaction; raises LeaseLost if we no longer own it."""
    done = conn.execute(
        update(state_t)
        .where(state_t.c.source == source, state_t.c.lease_owner == owner)
        .values(
            mailbox=mailbox[:MAILBOX_LENGTH],
            uidvalidity=uidvalidity,
            last_uid=last_uid,
            updated_at=utcnow(),
        )
    )
    if done.rowcount != 1:
        raise LeaseLost(f"IMAP source {source!r} is now polled by another process")
