"""What the database already holds of an incoming message: raw copies by hash, messages by
identity (fingerprint).

`known` answers both for one message in one round trip (the live path, and the bulk import
on SQLite); the bulk import on PostgreSQL keeps a `KnownCache` per batch, filled for a whole
prepared chunk in two queries and kept current with what the batch stores. Called by
`mailgate.pipeline` and `mailgate.bulk`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select

from mailgate.fastsql import FastStatement
from mailgate.models import Message, RawMessage

raw_t = RawMessage.__table__
msgs_t = Message.__table__

_KNOWN = FastStatement(
    select(
        select(raw_t.c.id).where(raw_t.c.sha256 == bindparam("sha")).scalar_subquery(),
        select(msgs_t.c.id).where(msgs_t.c.fingerprint == bindparam("fp")).scalar_subquery(),
    )
)

KNOWN_KEY = "known"


class KnownCache:
    """`known`'s answers for the messages of a prepared chunk, asked in two queries for the
    chunk (the bulk import), then kept current with what the batch stores. Kept in a batch's
    `PendingRows.extras` under `KNOWN_KEY`; nothing to write at flush."""

    def __init__(self) -> None:
        self.raws: dict[str, int | None] = {}
        self.fingerprints: dict[str, bool] = {}

    def prefetch(self, conn: Connection, shas: Iterable[str], fingerprints: Iterable[str]) -> None:
        shas = sorted(set(shas) - self.raws.keys())
        fingerprints = sorted(set(fingerprints) - self.fingerprints.keys())
        for start in range(0, len(shas), MAX_PREFETCH):
            part = shas[start : start + MAX_PREFETCH]
            found = dict(_lookup(raw_t.c.sha256, raw_t.c.id, len(part)).all(conn, _keys(part)))
            self.raws.update((sha, found.get(sha)) for sha in part)
        for start in range(0, len(fingerprints), MAX_PREFETCH):
            part = fingerprints[start : start + MAX_PREFETCH]
            rows = _lookup(msgs_t.c.fingerprint, msgs_t.c.id, len(part)).all(conn, _keys(part))
            stored = {fp for fp, _id in rows}
            self.fingerprints.update((fp, fp in stored) for fp in part)

    def stored(self, sha256: str, raw_id: int, fingerprint: str | None = None) -> None:
        self.raws[sha256] = raw_id
        if fingerprint is not None:
            self.fingerprints[fingerprint] = True

    def flush(self, conn: Connection) -> None:
        pass


MAX_PREFETCH = 64  # keys a lookup statement takes at once
_LOOKUPS: dict[tuple[str, int], FastStatement] = {}


def _lookup(key: Any, value: Any, n: int) -> FastStatement:
    """SELECT key, value WHERE key IN (n parameters), built once per column and count (the
    driver runs it without SQLAlchemy's per-execution work)."""
    statement = _LOOKUPS.get((key.table.name, n))
    if statement is None:
        keys = [bindparam(f"k{i}") for i in range(n)]
        statement = FastStatement(select(key, value).where(key.in_(keys)))
        _LOOKUPS[(key.table.name, n)] = statement
    return statement


def _keys(values: list[str]) -> dict[str, str]:
    return {f"k{i}": value for i, value in enumerate(values)}


def known(
    conn: Connection, sha256: str, fingerprint: str, cache: KnownCache | None = None
) -> tuple[int | None, bool]:
    """The id of the raw copy with these bytes (or None), and whether a message with this
    identity is stored: one round trip for the two questions every new message asks, none
    when `cache` holds both answers."""
    if cache is not None and sha256 in cache.raws and fingerprint in cache.fingerprints:
        return cache.raws[sha256], cache.fingerprints[fingerprint]
    row = _KNOWN.first(conn, {"sha": sha256, "fp": fingerprint})
    return (row[0], row[1] is not None) if row else (None, False)
