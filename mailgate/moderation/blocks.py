"""What ingest refuses: banned senders (address or domain, one list or all) and erased mail.

`check` is the one question the ingest pipeline asks (one primary-key lookup per message, or
none in a bulk import, which reads all blocks once per batch with `snapshot`):
mail from a banned sender is quarantined with the reason; a copy of erased or redacted mail
(its raw bytes or its identity fingerprint) is dropped as a duplicate so that an IMAP
re-scan or a re-import cannot bring it back. Bans are written by `actions`; hashes by
`erasure` and `redaction`. Only hashes are kept, never the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select

from mailgate.fastsql import FastStatement
from mailgate.moderation.common import ModerationError
from mailgate.moderation_models import ModerationBlock
from mailgate.store import utcnow

blocks_t = ModerationBlock.__table__
BAN = "ban"
ERASED = "erased"
ALL_LISTS = "*"
MAX_BAN_CHARS = 320
_KEYS = ("a1", "a2", "d1", "d2", "sha", "fp")
SNAPSHOT_KEY = "blocks"
SNAPSHOT_MAX_KEYS = 10_000  # more blocks than this: one query per message instead
_ALL_KEYS = FastStatement(select(blocks_t.c.key, blocks_t.c.kind).limit(bindparam("n")))
_CHECK = FastStatement(
    select(blocks_t.c.key, blocks_t.c.kind).where(blocks_t.c.key.in_([bindparam(k) for k in _KEYS]))
)


def ban_value(value: str) -> str:
    """A normalised ban: `user@example.org` (an address) or `@example.org` (a domain)."""
    value = value.strip().strip("<>").lower()
    if value.startswith("@"):
        value = value[1:]
        domain_only = True
    else:
        domain_only = "@" not in value
    if not value or len(value) > MAX_BAN_CHARS or any(c.isspace() for c in value):
        raise ModerationError(f"not an address or domain: {value[:80]!r}")
    if domain_only:
        if "@" in value or "." not in value:
            raise ModerationError(f"not a domain: {value[:80]!r}")
        return "@" + value
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain:
        raise ModerationError(f"not an address: {value[:80]!r}")
    return value


def ban_key(value: str, list_name: str | None) -> str:
    return f"{BAN}:{list_name or ALL_LISTS}:{value}"


def add_ban(conn: Connection, value: str, list_name: str | None, actor: str, reason: str) -> bool:
    """Ban a sender; False when the same ban exists already."""
    key = ban_key(ban_value(value), list_name)
    if conn.execute(select(blocks_t.c.key).where(blocks_t.c.key == key)).first():
        return False
    conn.execute(
        insert(blocks_t).values(
            key=key,
            kind=BAN,
            list_name=list_name or "",
            created_at=utcnow(),
            actor=actor[:336],
            reason=reason[:2000],
        )
    )
    return True


def remove_ban(conn: Connection, value: str, list_name: str | None) -> bool:
    key = ban_key(ban_value(value), list_name)
    return bool(conn.execute(delete(blocks_t).where(blocks_t.c.key == key)).rowcount)


@dataclass(frozen=True, slots=True)
class Ban:
    value: str
    list_name: str
    created_at: datetime
    actor: str
    reason: str


def bans(conn: Connection, list_names: list[str] | None = None) -> list[Ban]:
    """Current bans (of these lists and archive-wide ones, or all)."""
    query = select(blocks_t).where(blocks_t.c.kind == BAN).order_by(blocks_t.c.key)
    rows = conn.execute(query).all()
    found = [
        Ban(r.key.split(":", 2)[2], r.list_name, r.created_at, r.actor, r.reason) for r in rows
    ]
    if list_names is None:
        return found
    return [b for b in found if b.list_name in ("", *list_names)]


def block_hashes(conn: Connection, shas: list[str], fingerprints: list[str], actor: str) -> None:
    """Remember erased or redacted mail by hash so that ingest drops it if it comes again."""
    keys = {f"sha:{s}" for s in shas if s} | {f"fp:{f}" for f in fingerprints if f}
    existing = set(conn.execute(select(blocks_t.c.key).where(blocks_t.c.key.in_(keys))).scalars())
    rows = [
        {"key": k, "kind": ERASED, "list_name": "", "created_at": utcnow(), "actor": actor[:336],
         "reason": ""}
        for k in sorted(keys - existing)
    ]  # fmt: skip
    if rows:
        conn.execute(insert(blocks_t), rows)


class Snapshot:
    """Every block key with its kind, read once for a bulk-import batch so that `check`
    answers from memory. It sits among the batch's pending rows but writes nothing."""

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds

    def flush(self, conn: Connection) -> None:
        """Nothing to write."""


def snapshot(conn: Connection) -> Snapshot | None:
    """The blocks as a `Snapshot`, or None when there are too many to hold in memory."""
    rows = _ALL_KEYS.all(conn, {"n": SNAPSHOT_MAX_KEYS + 1})
    return None if len(rows) > SNAPSHOT_MAX_KEYS else Snapshot(dict(rows))


def check(
    conn: Connection,
    list_name: str,
    from_addr: str,
    sha256: str,
    fingerprint: str,
    known: Snapshot | None = None,
) -> tuple[str, str] | None:
    """(kind, explanation) when ingest must refuse this message, else None; `known` answers
    without a query (the bulk import's batch snapshot)."""
    address = (from_addr or "").lower()
    domain = "@" + address.rpartition("@")[2] if "@" in address else "@"
    params = {
        "a1": ban_key(address, None),
        "a2": ban_key(address, list_name),
        "d1": ban_key(domain, None),
        "d2": ban_key(domain, list_name),
        "sha": f"sha:{sha256}",
        "fp": f"fp:{fingerprint}",
    }
    if known is None:
        rows = _CHECK.all(conn, params)
    else:
        rows = sorted((k, known.kinds[k]) for k in set(params.values()) if k in known.kinds)
    if not rows:
        return None
    bans_found = [key for key, kind in rows if kind == BAN]
    if bans_found:
        return BAN, f"banned sender ({bans_found[0].split(':', 2)[2]})"
    return ERASED, "erased by the moderators"
