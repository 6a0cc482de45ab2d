"""Profiles kept up to date: at ingest (batched), after moderation, and rebuilt on demand.

The ingest pipeline calls `pending_for(pending)` to get the batch's `PendingPeople`, asks it
for the person of each sender (`person_id`, filling `messages.person_id`) and queues the
message's topic terms (`add_terms`); the rows are written once per batch by
`store.PendingRows.flush`, like bodies and search documents. `refresh_people` recomputes
some persons from their visible messages (after a hide or an erase); `rebuild_people`
recomputes every profile (`mailgate rebuild --people`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from mailgate.config import Settings
from mailgate.fastsql import FastStatement
from mailgate.people.config import canonical_address, people_settings
from mailgate.people.names import best_name
from mailgate.people.tables import (
    add_names,
    add_terms,
    addresses_t,
    bodies_t,
    mlists_t,
    msgs_t,
    names_t,
    persons_t,
    terms_t,
)
from mailgate.people.terms import authored_text, message_terms
from mailgate.store import PendingRows, utcnow

PENDING_KEY = "people"
REFRESH_BATCH = 500

_BY_ADDRESS = FastStatement(
    select(addresses_t.c.person_id).where(addresses_t.c.address == bindparam("a"))
)
_BY_CANONICAL = FastStatement(
    select(addresses_t.c.person_id).where(addresses_t.c.canonical == bindparam("c")).limit(1)
)
_ADD_PERSON = FastStatement(insert(persons_t), returns_id=True)
_ADD_ADDRESS = FastStatement(insert(addresses_t))


@dataclass(frozen=True, slots=True)
class _Authored:
    """The fields of a stored message that `authored_text` reads."""

    parent: str | None
    reply_like: bool
    subject: str


class PendingPeople:
    """The people rows of one ingest batch: sender lookups (cached for the batch), display
    names and topic terms, aggregated in memory and written by `flush`."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: Counter[tuple[str, str]] = Counter()
        # (person, list) -> term -> [display, tf, docs, last message pk]
        self.terms: dict[tuple[int, int], dict[str, list]] = {}

    def person_id(self, conn: Connection, name: str, address: str, canonical: str) -> int | None:
        """The person of a sender, created when the address (or its canonical form) is new."""
        address = address.strip().lower()
        if not address:
            return None
        if name and name.lower() != address:
            self.names[(address, name[:300])] += 1
        found = self.ids.get(address)
        if found is None:
            found = _resolve(conn, name, address, canonical or address)
            self.ids[address] = found
        return found

    def add_terms(
        self, person_id: int | None, list_id: int, message_pk: int, terms: Iterable[tuple]
    ) -> None:
        if person_id is None:
            return
        mine = self.terms.get((person_id, list_id))
        if mine is None:
            mine = self.terms[(person_id, list_id)] = {}
        for key, display, count in terms:
            row = mine.get(key)
            if row is None:
                mine[key] = [display, count, 1, message_pk]
            else:
                row[1] += count
                row[2] += 1
                if message_pk > row[3]:
                    row[3] = message_pk

    def flush(self, conn: Connection) -> None:
        add_names(
            conn,
            [{"address": a, "name": n, "count": c} for (a, n), c in sorted(self.names.items())],
        )
        add_terms(
            conn,
            [
                {
                    "person_id": p,
                    "list_id": lid,
                    "term": term,
                    "display": d,
                    "tf": tf,
                    "docs": docs,
                    "last_pk": last,
                }
                for (p, lid), mine in sorted(self.terms.items())
                for term, (d, tf, docs, last) in sorted(mine.items())
            ],
        )
        self.names.clear()
        self.terms.clear()


def _resolve(conn: Connection, name: str, address: str, canonical: str) -> int:
    found = _BY_ADDRESS.scalar(conn, {"a": address})
    if found is not None:
        return found
    found = _BY_CANONICAL.scalar(conn, {"c": canonical})
    now = utcnow()
    if found is None:
        label = name.strip() or address.split("@")[0]
        found = _ADD_PERSON.insert(conn, {"name": label[:300], "created_at": now})
    _ADD_ADDRESS.execute(
        conn,
        {
            "address": address,
            "person_id": found,
            "canonical": canonical,
            "source": "auto",
            "added_at": now,
        },
    )
    return found


def pending_for(pending: PendingRows) -> PendingPeople:
    """The people part of a batch's pending rows (created on first use)."""
    people = pending.extras.get(PENDING_KEY)
    if people is None:
        people = pending.extras[PENDING_KEY] = PendingPeople()
    return people  # type: ignore[return-value]


def _visible_rows(conn: Connection, person_ids: Sequence[int], after: int) -> list:
    """(pk, person, list, language, own text) of not-hidden messages, by pk from `after`."""
    query = (
        select(
            msgs_t.c.id,
            msgs_t.c.person_id,
            mlists_t.c.list_id,
            msgs_t.c.language,
            bodies_t.c.own_text,
            msgs_t.c.subject,
            msgs_t.c.parent_mid,
            msgs_t.c.reply_like,
        )
        .join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id)
        .join(bodies_t, bodies_t.c.message_pk == msgs_t.c.id)
        .where(msgs_t.c.hidden.is_(False), msgs_t.c.id > after)
        .order_by(msgs_t.c.id)
        .limit(REFRESH_BATCH)
    )
    if person_ids:
        query = query.where(msgs_t.c.person_id.in_(list(person_ids)))
    else:
        query = query.where(msgs_t.c.person_id.is_not(None))
    return conn.execute(query).all()


def _recount(conn: Connection, person_ids: Sequence[int]) -> int:
    """Recompute the term rows of these persons (all when empty); returns messages read."""
    pending, last, seen = PendingPeople(), 0, 0
    while rows := _visible_rows(conn, person_ids, last):
        for row in rows:
            pk, person, list_id, language = row[:4]
            text = authored_text(
                _Authored(row.parent_mid, row.reply_like, row.subject), row.own_text or ""
            )
            terms = message_terms(text, language if language in ("fr", "en") else "fr")
            pending.add_terms(person, list_id, pk, terms)
        seen += len(rows)
        last = rows[-1][0]
        pending.flush(conn)
    return seen


def _rename(conn: Connection, person_ids: Iterable[int]) -> None:
    """Set each person's display name to the best of the names seen with their addresses."""
    for person_id in person_ids:
        rows = conn.execute(
            select(names_t.c.name, names_t.c.count, addresses_t.c.address)
            .join(addresses_t, addresses_t.c.address == names_t.c.address)
            .where(addresses_t.c.person_id == person_id)
        ).all()
        fallback = conn.execute(
            select(addresses_t.c.address).where(addresses_t.c.person_id == person_id).limit(1)
        ).scalar()
        name = best_name([(r.name, r.count) for r in rows], fallback or "")
        if name:
            conn.execute(
                update(persons_t).where(persons_t.c.id == person_id).values(name=name[:300])
            )


def refresh_people(conn: Connection, settings: Settings, person_ids: Sequence[int]) -> int:
    """Recompute the topics and names of these persons from their visible (not hidden)
    messages, in the caller's transaction; call after hiding or erasing messages."""
    ids = sorted({int(p) for p in person_ids if p is not None})
    if not ids:
        return 0
    conn.execute(delete(terms_t).where(terms_t.c.person_id.in_(ids)))
    count = _recount(conn, ids)
    _rename(conn, ids)
    return count


def _assign_missing(conn: Connection, settings: Settings) -> None:
    """Give a person to messages stored without one (before people existed)."""
    options = people_settings(settings)
    pending = PendingPeople()
    rows = conn.execute(
        select(msgs_t.c.id, msgs_t.c.from_name, msgs_t.c.from_addr).where(
            msgs_t.c.person_id.is_(None), msgs_t.c.from_addr != ""
        )
    ).all()
    for pk, name, addr in rows:
        canonical = canonical_address(addr, options.domain_aliases, options.plus_separator)
        person = pending.person_id(conn, name, addr, canonical)
        conn.execute(update(msgs_t).where(msgs_t.c.id == pk).values(person_id=person))
    pending.flush(conn)


def _recount_names(conn: Connection) -> None:
    conn.execute(delete(names_t))
    rows = conn.execute(
        select(msgs_t.c.from_addr, msgs_t.c.from_name).where(msgs_t.c.from_addr != "")
    ).all()
    counts = Counter((a, n[:300]) for a, n in rows if n and n.lower() != a)
    add_names(conn, [{"address": a, "name": n, "count": c} for (a, n), c in counts.items()])


def rebuild_people(conn: Connection, settings: Settings) -> int:
    """Recompute every profile (names, topics) and give a person to every sender; identity
    decisions (merges, splits) are kept. Returns the number of messages read."""
    _assign_missing(conn, settings)
    _recount_names(conn)
    conn.execute(delete(terms_t))
    count = _recount(conn, ())
    _rename(conn, conn.execute(select(persons_t.c.id)).scalars().all())
    return count
