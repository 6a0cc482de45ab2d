"""Search documents written off the writer's path (PostgreSQL bulk imports), and rebuilt ones.

On PostgreSQL, computing a search document's tsvector and indexing it (GIN) is most of what
the server does for a message, and the bulk import's writer waits for it. So a batch commits
its messages with one `search_backlog` row each, and a `SearchWriter` writes the batch's
documents on a second connection, in a thread, while the writer goes on with the next batch;
a document and the removal of its backlog row commit together, and the import returns once
every document is written. What a crash leaves in the backlog is indexed by `catch_up` when
the next import starts. SQLite has one writer: its documents stay in the batch.

`documents` derives search documents from stored messages (`mailgate rebuild` and
`catch_up`). Called by `mailgate.bulk`, `mailgate.pipeline` and `mailgate.rebuild`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, Row, Select, delete, insert, select
from sqlalchemy.exc import IntegrityError

from mailgate import search_index, store
from mailgate.fastsql import FastStatement
from mailgate.models import (
    Attachment,
    Body,
    Message,
    MessageList,
    Recipient,
    SearchBacklog,
    SearchDoc,
)

WRITER_KEY = "search_writer"  # the `PendingRows` extra holding a batch's SearchWriter
CATCH_UP_ROWS = 500
backlog_t, docs_t, msgs_t, bodies_t = (
    SearchBacklog.__table__,
    SearchDoc.__table__,
    Message.__table__,
    Body.__table__,
)
_ADD_BACKLOG = FastStatement(insert(backlog_t))


class SearchWriter:
    """Writes the search documents of committed batches on its own connection, in a thread,
    one batch after the other. It is also a `PendingRows` extra of each batch, so that the
    pipeline can `wait` for it before changing a document that may still be in flight."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def flush(self, conn: Connection) -> None:
        """Nothing to write with the batch itself (see `defer`)."""

    def defer(self, conn: Connection, docs: list[dict]) -> None:
        """Inside a batch's transaction: note its messages in the backlog."""
        if docs:
            _ADD_BACKLOG.copy(conn, [{"message_pk": doc["message_pk"]} for doc in docs])

    def submit(self, docs: list[dict]) -> None:
        """Write `docs` (their batch has committed) once the previous batch's are written."""
        self.wait()
        if docs:
            self._thread = threading.Thread(
                target=self._run, args=(docs,), name="mailgate-search-writer", daemon=True
            )
            self._thread.start()

    def wait(self) -> None:
        """Return once every submitted document is written; raise what writing them raised
        (their backlog rows stay, for `catch_up`)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def stop(self) -> None:
        """The import failed: let the batch in flight finish, keep its error to itself (what
        it could not write stays in the backlog) and let the import's own error through."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._error = None

    def _run(self, docs: list[dict]) -> None:
        try:
            with self.engine.connect() as conn:
                write(conn, docs)
        except BaseException as exc:  # raised by `wait`, in the importing thread
            self._error = exc


def write(conn: Connection, docs: list[dict]) -> None:
    """Store `docs` and drop their backlog rows, in one transaction. The backlog rows go
    first: a cross-post being stored holds its row (`add_list`), so the lists read next
    include it. Should some documents no longer fit (a moderator erased the message, or
    derived its document again, meanwhile), the others are stored."""
    pks = [doc["message_pk"] for doc in docs]
    try:
        with conn.begin():
            conn.execute(delete(backlog_t).where(backlog_t.c.message_pk.in_(pks)))
            store.add_search_docs(conn, _on_lists(conn, docs, pks))
    except IntegrityError:
        with conn.begin():
            conn.execute(delete(backlog_t).where(backlog_t.c.message_pk.in_(pks)))
            stored = set(conn.scalars(select(msgs_t.c.id).where(msgs_t.c.id.in_(pks))))
            stored -= set(
                conn.scalars(select(docs_t.c.message_pk).where(docs_t.c.message_pk.in_(pks)))
            )
            kept = [doc for doc in _on_lists(conn, docs, pks) if doc["message_pk"] in stored]
            if kept:
                store.add_search_docs(conn, kept)


def _on_lists(conn: Connection, docs: list[dict], pks: list[int]) -> list[dict]:
    """`docs` with the markers of every list their message is on now (a cross-post may have
    come since the batch)."""
    lists = _list_ids(conn, pks)
    marked = []
    for doc in docs:
        meta = doc["meta"]
        for list_id in lists.get(doc["message_pk"], ()):
            meta = search_index.with_list(meta, list_id)
        marked.append(doc if meta == doc["meta"] else doc | {"meta": meta})
    return marked


def add_list(conn: Connection, message_pk: int, list_id: int) -> None:
    """`search_index.add_list` for a message whose document may still be on its way. Its
    backlog row is held until this transaction ends, so the writer, which drops the rows
    before it reads the lists, sees this one; once the writer is done, the document is
    there to mark."""
    if search_index.add_list(conn, message_pk, list_id) or conn.dialect.name != "postgresql":
        return
    waiting = backlog_t.c.message_pk == message_pk
    if conn.execute(select(backlog_t.c.message_pk).where(waiting).with_for_update()).first():
        return
    search_index.add_list(conn, message_pk, list_id)


def catch_up(conn: Connection) -> int:
    """Write the documents a stopped import left in the backlog; how many."""
    done = 0
    while pks := list(
        conn.scalars(select(backlog_t.c.message_pk).order_by("message_pk").limit(CATCH_UP_ROWS))
    ):
        rows = conn.execute(stored_rows().where(msgs_t.c.id.in_(pks))).all()
        docs = documents(conn, rows)
        conn.commit()
        write(conn, docs)
        conn.execute(delete(backlog_t).where(backlog_t.c.message_pk.in_(pks)))  # no body
        conn.commit()
        done += len(docs)
    return done


def stored_rows() -> Select:
    """What `documents` needs of each message (add a WHERE)."""
    return select(
        msgs_t.c.id,
        msgs_t.c.subject,
        msgs_t.c.from_name,
        msgs_t.c.from_addr,
        msgs_t.c.language,
        msgs_t.c.date,
        msgs_t.c.has_attachments,
        bodies_t.c.own_text,
    ).join(bodies_t, bodies_t.c.message_pk == msgs_t.c.id)


def documents(conn: Connection, rows: Sequence[Row]) -> list[dict]:
    """The search documents of stored messages (rows of `stored_rows`)."""
    details = _details(conn, [row.id for row in rows])
    return [_document(row, *details) for row in rows]


def _details(conn: Connection, pks: list[int]) -> tuple[dict, dict, dict]:
    """Recipients, attachment names and list ids of these messages."""
    recipients: dict[int, list[tuple[str, str]]] = {}
    rcpt = Recipient.__table__
    for pk, name, addr in conn.execute(
        select(rcpt.c.message_pk, rcpt.c.name, rcpt.c.address).where(rcpt.c.message_pk.in_(pks))
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
    return recipients, files, _list_ids(conn, pks)


def _list_ids(conn: Connection, pks: list[int]) -> dict[int, list[int]]:
    """The lists each of these messages is on."""
    ml = MessageList.__table__
    lists: dict[int, list[int]] = {}
    for pk, list_id in conn.execute(
        select(ml.c.message_pk, ml.c.list_id).where(ml.c.message_pk.in_(pks))
    ):
        lists.setdefault(pk, []).append(list_id)
    return lists


def _document(row: Row, recipients: dict, files: dict, lists: dict) -> dict:
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
