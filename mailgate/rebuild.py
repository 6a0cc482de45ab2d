"""`mailgate rebuild`: re-derive the archive from the raw messages and the delivery ledger.

Parsed fields, threads, bodies, the search index and profiles are all derived; this module
clears them and replays every delivery, in arrival order, through the same ingest pipeline.
Raw messages, the delivery ledger and the quarantine are never touched, nor are identity
decisions (persons, their addresses and the merge log): replayed mail finds its person
again. Moderation is applied again at the end (hidden messages, manual thread fixes:
`mailgate.moderation.replay`). Called by the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import delete, select

from mailgate import search_backlog, search_index, store
from mailgate.bulk import ImportSummary, import_messages
from mailgate.db import Database
from mailgate.models import (
    Attachment,
    Body,
    Delivery,
    Message,
    MessageList,
    RawMessage,
    Recipient,
    SearchBacklog,
    Thread,
    ThreadList,
    ThreadNode,
    ThreadRedirect,
)
from mailgate.moderation import replay
from mailgate.people_models import PersonName, PersonTerm
from mailgate.pipeline import ListContext
from mailgate.store import decompress

DERIVED_TABLES = (
    SearchBacklog,
    PersonTerm,
    PersonName,
    Attachment,
    Recipient,
    Body,
    MessageList,
    Message,
    ThreadList,
    Thread,
    ThreadNode,
    ThreadRedirect,
)
REPLAY_FETCH_ROWS = 500


def clear_derived(db: Database) -> None:
    """Delete every derived row (one transaction)."""
    with db.engine.begin() as conn:
        search_index.clear(conn)
        for model in DERIVED_TABLES:
            conn.execute(delete(model.__table__))


def _deliveries(db: Database, list_id: int) -> Iterator[tuple[bytes, datetime | None]]:
    deliveries, raws = Delivery.__table__, RawMessage.__table__
    last_id = 0
    while True:
        with db.reader() as session:
            rows = session.execute(
                select(deliveries.c.id, raws.c.data, deliveries.c.arrived_at)
                .join(raws, raws.c.id == deliveries.c.raw_id)
                .where(deliveries.c.list_id == list_id, deliveries.c.id > last_id)
                .order_by(deliveries.c.id)
                .limit(REPLAY_FETCH_ROWS)
            ).all()
        if not rows:
            return
        for row in rows:
            yield decompress(row.data), row.arrived_at
        last_id = rows[-1].id


def rebuild_all(
    db: Database, contexts: dict[str, ListContext], *, workers: int | None = None
) -> ImportSummary:
    """Clear derived data and replay all deliveries of the configured lists."""
    clear_derived(db)
    total = ImportSummary()
    for ctx in contexts.values():
        summary = import_messages(
            db, ctx, _deliveries(db, ctx.list_id), source="rebuild", workers=workers, replay=True
        )
        total.imported += summary.imported
        total.duplicates += summary.duplicates
        total.quarantined += summary.quarantined
        total.reasons.update(summary.reasons)
    with db.engine.begin() as conn:
        replay.replay_all(conn)
    return total


def rebuild_search(db: Database) -> int:
    """Re-analyse every message's search terms and recreate the full-text index."""
    msgs = Message.__table__
    count, last = 0, 0
    with db.engine.begin() as conn:
        search_index.clear(conn)
        conn.execute(delete(SearchBacklog.__table__))  # every document is written again
        while True:
            rows = conn.execute(
                search_backlog.stored_rows()
                .where(msgs.c.id > last)
                .order_by(msgs.c.id)
                .limit(REPLAY_FETCH_ROWS)
            ).all()
            if not rows:
                return count
            store.add_search_docs(conn, search_backlog.documents(conn, rows))
            count += len(rows)
            last = rows[-1].id
