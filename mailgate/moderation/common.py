"""Shared pieces of moderation: the error type, finding target messages, the audit log.

Used by every moderation module and by the CLI; reads and writes through the caller's
connection (the caller owns the transaction).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from sqlalchemy import Connection, insert, select

from mailgate import ids
from mailgate.models import MailingList, Message, MessageList
from mailgate.moderation_models import ModerationLog
from mailgate.store import utcnow

msgs_t = Message.__table__
mlists_t = MessageList.__table__
lists_t = MailingList.__table__
log_t = ModerationLog.__table__
MAX_REASON_CHARS = 2_000
CLI_ACTOR_PREFIX = "cli:"
MAIL_ACTOR_PREFIX = "mail:"


class ModerationError(Exception):
    """A moderation request that cannot be carried out; the message says why (for users)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One stored message a moderation action names."""

    pk: int
    message_id: str
    thread_id: int
    from_addr: str
    person_id: int | None
    hidden: bool
    lists: tuple[str, ...]


def clean_target_mid(value: str) -> str:
    """A Message-ID from what a moderator typed: `<id>`, `id`, or an archive URL `.../m/id`."""
    value = value.strip()
    if "/m/" in value:
        value = unquote(value.split("/m/", 1)[1].split("/", 1)[0])
    mid = ids.clean_mid(value if value.startswith("<") else f"<{value}>")
    if not mid:
        raise ModerationError(f"not a Message-ID: {value[:100]!r}")
    return mid


def lists_of(conn: Connection, pks: list[int]) -> dict[int, tuple[str, ...]]:
    """Names of the lists each message is on."""
    found: dict[int, list[str]] = {}
    query = (
        select(mlists_t.c.message_pk, lists_t.c.name)
        .join(lists_t, lists_t.c.id == mlists_t.c.list_id)
        .where(mlists_t.c.message_pk.in_(pks))
        .order_by(lists_t.c.name)
    )
    for pk, name in conn.execute(query):
        found.setdefault(pk, []).append(name)
    return {pk: tuple(names) for pk, names in found.items()}


TARGET_COLUMNS = (
    msgs_t.c.id,
    msgs_t.c.message_id,
    msgs_t.c.thread_id,
    msgs_t.c.from_addr,
    msgs_t.c.person_id,
    msgs_t.c.hidden,
)


def _targets(conn: Connection, condition) -> list[Target]:  # type: ignore[no-untyped-def]
    rows = conn.execute(select(*TARGET_COLUMNS).where(condition).order_by(msgs_t.c.id)).all()
    names = lists_of(conn, [r.id for r in rows]) if rows else {}
    return [
        Target(r.id, r.message_id, r.thread_id, r.from_addr, r.person_id, bool(r.hidden),
               names.get(r.id, ()))
        for r in rows
    ]  # fmt: skip


def find_targets(conn: Connection, mid: str) -> list[Target]:
    """Every stored message with this Message-ID (hidden ones included); an error if none."""
    mid = clean_target_mid(mid)
    found = _targets(conn, msgs_t.c.message_id == mid)
    if not found:
        raise ModerationError(f"no archived message has the Message-ID <{mid}>")
    return found


def targets_from(conn: Connection, addresses: list[str]) -> list[Target]:
    """Every stored message sent from one of these addresses."""
    return _targets(conn, msgs_t.c.from_addr.in_([a.strip().lower() for a in addresses]))


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str,
    reason: str = "",
    list_name: str = "",
    details: dict | None = None,
) -> int:
    """Write one audit log entry; returns its id."""
    return conn.execute(
        insert(log_t).values(
            created_at=utcnow(),
            actor=actor[:336],
            action=action,
            list_name=list_name[:200],
            target=target,
            reason=(reason or "")[:MAX_REASON_CHARS],
            details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True),
        )
    ).inserted_primary_key[0]


@dataclass(frozen=True, slots=True)
class LogEntry:
    id: int
    created_at: datetime
    actor: str
    action: str
    list_name: str
    target: str
    reason: str
    details: str
    compacted_at: datetime | None


def log_entries(
    conn: Connection, *, list_names: list[str] | None = None, limit: int = 50
) -> list[LogEntry]:
    """The newest audit log entries (of these lists, and of the archive as a whole)."""
    query = select(log_t).order_by(log_t.c.id.desc()).limit(limit)
    if list_names is not None:
        query = query.where(log_t.c.list_name.in_([*list_names, ""]))
    return [LogEntry(*row) for row in conn.execute(query).all()]


def people_api():  # type: ignore[no-untyped-def]
    """`mailgate.people` when that package is installed, else None (people actions then say
    they are not available)."""
    try:
        from mailgate import people  # type: ignore[attr-defined]
    except ImportError:
        return None
    return people if hasattr(people, "refresh_people") else None


def refresh_people(conn: Connection, settings, person_ids) -> None:  # type: ignore[no-untyped-def]
    """Recompute the profiles of these people, when the people package is there."""
    api = people_api()
    wanted = sorted({p for p in person_ids if p is not None})
    if api is not None and wanted:
        api.refresh_people(conn, settings, wanted)
