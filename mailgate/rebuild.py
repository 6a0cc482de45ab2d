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

from sqlalchemy import delete, insert, select

from mailgate import search_index
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
    SearchDoc,
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


def _search_rows(conn, pks: list[int]) -> tuple[dict, dict, dict]:
    """Recipients, attachment names and list ids of these messages."""
    recipients: dict[int, list[tuple[str, str]]] = {}
    for pk, name, addr in conn.execute(
        select(
            Recipient.__table__.c.message_pk,
            Recipient.__table__.c.name,
            Recipient.__table__.c.address,
        ).where(Recipient.__table__.c.message_pk.in_(pks))
    ):
        recipients.setdefault(pk, []).append((name, addr))
    files: dict[int, list[str]] = {}
    att = Attachment.__table__
    for pk, filename, cid, inline in conn.execute(
        select(att.c.message_pk, att.c.filename, att.c.content_id, att.c.inline).where(
            att.c.message_pk.in_(pks)
        )
    ):
        if not cid or not inline:
            files.setdefault(pk, []).append(filename)
    lists: dict[int, list[int]] = {}
    ml = MessageList.__table__
    for pk, list_id in conn.execute(
        select(ml.c.message_pk, ml.c.list_id).where(ml.c.message_pk.in_(pks))
    ):
        lists.setdefault(pk, []).append(list_id)
    return recipients, files, lists


def _search_doc(row, recipients: dict, files: dict, lists: dict) -> dict:
    terms = search_index.terms(
        subject=row.subject,
        from_name=row.from_name,
        from_addr=row.from_addr,
        recipients=recipients.get(row.id, []),
        filenames=files.get(row.id, []),
        own_text=row.own_text,
        language=row.language,
    )
    return {
        "message_pk": row.id,
        **search_index.placement(
            terms,
            message_pk=row.id,
            date=row.date,
            list_ids=lists.get(row.id, []),
            has_attachments=row.has_attachments,
            language=row.language,
        ),
    }


def rebuild_search(db: Database) -> int:
    """Re-analyse every message's search terms and recreate the full-text index."""
    msgs, bodies = Message.__table__, Body.__table__
    count, last = 0, 0
    with db.engine.begin() as conn:
        search_index.clear(conn)
        while True:
            rows = conn.execute(
                select(
                    msgs.c.id,
                    msgs.c.subject,
                    msgs.c.from_name,
                    msgs.c.from_addr,
                    msgs.c.language,
                    msgs.c.date,
                    msgs.c.has_attachments,
                    bodies.c.own_text,
                )
                .join(bodies, bodies.c.message_pk == msgs.c.id)
                .where(msgs.c.id > last)
                .order_by(msgs.c.id)
                .limit(REPLAY_FETCH_ROWS)
            ).all()
            if not rows:
                return count
            details = _search_rows(conn, [r.id for r in rows])
            docs = [_search_doc(r, *details) for r in rows]
            conn.execute(insert(SearchDoc.__table__), docs)
            count += len(rows)
            last = rows[-1].id
