"""Identities: which addresses are one person; merges and splits, recorded and reversible.

Automatic merges happen at ingest and only on safe evidence (`people.config.canonical_address`:
case, plus-addressing, configured domain aliases). Everything else is a decision taken by an
administrator (`mailgate people merge|split|undo`) or confirmed by the person: `merge_people`
and `split_address` move addresses, re-point `messages.person_id`, recompute the profiles
concerned and write a `person_merges` log row that `undo` reverses. Called by the CLI, the
search hook (`mailgate.search.same_person_addresses`) and the profile readers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select, update

from mailgate.config import Settings
from mailgate.people.tables import addresses_t, merges_t, msgs_t, names_t, persons_t, terms_t
from mailgate.people.upkeep import refresh_people
from mailgate.store import utcnow


class IdentityError(ValueError):
    """An identity change that cannot be made; the message says why."""


def person_for_address(conn: Connection, address: str) -> int | None:
    """The person who writes from `address` (any case), or None when never seen."""
    return conn.execute(
        select(addresses_t.c.person_id).where(addresses_t.c.address == address.strip().lower())
    ).scalar()


def addresses_of(conn: Connection, person_id: int) -> list[str]:
    """Every address of a person, sorted."""
    return sorted(
        conn.execute(
            select(addresses_t.c.address).where(addresses_t.c.person_id == person_id)
        ).scalars()
    )


def person_name(conn: Connection, person_id: int) -> str:
    return conn.execute(select(persons_t.c.name).where(persons_t.c.id == person_id)).scalar() or ""


def _log(
    conn: Connection,
    action: str,
    person_id: int,
    other_id: int,
    addresses: list[str],
    actor: str,
    reason: str,
) -> int:
    return conn.execute(
        insert(merges_t).values(
            action=action,
            person_id=person_id,
            other_id=other_id,
            addresses=json.dumps(sorted(addresses)),
            actor=actor[:200],
            reason=reason,
            created_at=utcnow(),
        )
    ).inserted_primary_key[0]


def _move(conn: Connection, addresses: list[str], to_person: int, source: str) -> None:
    conn.execute(
        update(addresses_t)
        .where(addresses_t.c.address.in_(addresses))
        .values(person_id=to_person, source=source)
    )
    conn.execute(
        update(msgs_t).where(msgs_t.c.from_addr.in_(addresses)).values(person_id=to_person)
    )


def _live(conn: Connection, person_id: int) -> None:
    row = conn.execute(select(persons_t.c.merged_into).where(persons_t.c.id == person_id)).first()
    if row is None or row[0] is not None:
        raise IdentityError(f"no person {person_id}")


def merge_people(
    conn: Connection,
    keep_id: int,
    other_id: int,
    *,
    actor: str,
    reason: str,
    settings: Settings | None = None,
) -> int:
    """Give every address of `other_id` to `keep_id`; returns the log entry id."""
    if keep_id == other_id:
        raise IdentityError("a person cannot be merged with itself")
    _live(conn, keep_id)
    _live(conn, other_id)
    moved = addresses_of(conn, other_id)
    _move(conn, moved, keep_id, "merge")
    conn.execute(update(persons_t).where(persons_t.c.id == other_id).values(merged_into=keep_id))
    entry = _log(conn, "merge", keep_id, other_id, moved, actor, reason)
    refresh_people(conn, settings or Settings(), [keep_id, other_id])
    return entry


def split_address(
    conn: Connection, address: str, *, actor: str, reason: str, settings: Settings | None = None
) -> int:
    """Make `address` a person of its own (it was wrongly merged); returns the new person id."""
    address = address.strip().lower()
    current = person_for_address(conn, address)
    if current is None:
        raise IdentityError(f"unknown address {address}")
    if addresses_of(conn, current) == [address]:
        raise IdentityError(f"{address} is already a person of its own")
    new_id = conn.execute(
        insert(persons_t).values(name=address.split("@")[0], created_at=utcnow())
    ).inserted_primary_key[0]
    _move(conn, [address], new_id, "split")
    _log(conn, "split", new_id, current, [address], actor, reason)
    refresh_people(conn, settings or Settings(), [current, new_id])
    return new_id


def undo(conn: Connection, entry_id: int, *, actor: str, settings: Settings | None = None) -> str:
    """Reverse a logged merge or split (the newest change to those addresses first)."""
    row = conn.execute(select(merges_t).where(merges_t.c.id == entry_id)).first()
    if row is None or row.undone_at is not None:
        raise IdentityError(f"no identity change {entry_id} to undo")
    moved = json.loads(row.addresses)
    later = conn.execute(
        select(merges_t.c.id, merges_t.c.addresses).where(
            merges_t.c.id > entry_id, merges_t.c.undone_at.is_(None)
        )
    ).all()
    if any(set(json.loads(a)) & set(moved) for _i, a in later):
        raise IdentityError("a later change moved these addresses; undo it first")
    back_to = row.other_id
    conn.execute(update(persons_t).where(persons_t.c.id == back_to).values(merged_into=None))
    _move(conn, moved, back_to, "undo")
    conn.execute(update(merges_t).where(merges_t.c.id == entry_id).values(undone_at=utcnow()))
    _log(conn, "undo", back_to, row.person_id, moved, actor, f"undo of change {entry_id}")
    refresh_people(conn, settings or Settings(), [back_to, row.person_id])
    return f"{row.action} {entry_id} undone: {', '.join(moved)} back to person {back_to}"


def history(conn: Connection, limit: int = 100) -> list[dict]:
    """The newest identity changes, as dicts (for the CLI)."""
    rows = conn.execute(select(merges_t).order_by(merges_t.c.id.desc()).limit(limit)).all()
    return [
        {
            "id": r.id,
            "action": r.action,
            "person_id": r.person_id,
            "other_id": r.other_id,
            "addresses": json.loads(r.addresses),
            "actor": r.actor,
            "reason": r.reason,
            "created_at": r.created_at.isoformat(),
            "undone": r.undone_at is not None,
        }
        for r in rows
    ]


def forget_people(conn: Connection, person_ids: Sequence[int]) -> list[int]:
    """Remove every trace of people who have no message left (after an erasure on request):
    their names, addresses, topics and identity log. People with messages are kept; returns
    the ids forgotten."""
    wanted = sorted({int(p) for p in person_ids if p is not None})
    if not wanted:
        return []
    remaining = set(
        conn.execute(
            select(msgs_t.c.person_id).distinct().where(msgs_t.c.person_id.in_(wanted))
        ).scalars()
    )
    gone = [p for p in wanted if p not in remaining]
    if not gone:
        return []
    folded = select(persons_t.c.id).where(persons_t.c.merged_into.in_(gone))
    ids = sorted(set(gone) | set(conn.execute(folded).scalars()))
    addresses = list(
        conn.execute(
            select(addresses_t.c.address).where(addresses_t.c.person_id.in_(ids))
        ).scalars()
    )
    conn.execute(delete(names_t).where(names_t.c.address.in_(addresses)))
    conn.execute(delete(addresses_t).where(addresses_t.c.person_id.in_(ids)))
    conn.execute(delete(terms_t).where(terms_t.c.person_id.in_(ids)))
    conn.execute(
        delete(merges_t).where(merges_t.c.person_id.in_(ids) | merges_t.c.other_id.in_(ids))
    )
    conn.execute(delete(persons_t).where(persons_t.c.id.in_(ids)))
    return gone
