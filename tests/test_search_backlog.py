"""Search documents of a bulk import: written after their batch on PostgreSQL (a second
connection), all there when the import returns, and rebuilt from the backlog after a crash."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, insert, select

from mailgate import bulk, search_backlog
from mailgate.access import ANONYMOUS
from mailgate.models import Message, SearchBacklog, SearchDoc
from mailgate.search import search
from tests.mailfactory import make_mail

DOC_COLUMNS = ("message_pk", "subject", "body", "people", "recipients", "files", "sort_key", "meta")


def _docs(db) -> list[tuple]:
    docs = SearchDoc.__table__
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*(docs.c[c] for c in DOC_COLUMNS)))]


def _count(db, model) -> int:
    with db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model.__table__))


def _import(db, ctx, count: int, word: str = "tournesol") -> None:
    mails = [
        make_mail(f"doc{i}@example.org", f"Sujet {i}", body=f"Texte {i} {word}\n")
        for i in range(count)
    ]
    bulk.import_messages(db, ctx, [(raw, None) for raw in mails], source="t", workers=1)


def test_every_document_is_written_when_the_import_returns(
    db, contexts, settings, monkeypatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH_MESSAGES", 3)  # several batches, documents in flight
    _import(db, contexts["dev"], 10)
    assert _count(db, SearchDoc) == _count(db, Message) == 10
    assert _count(db, SearchBacklog) == 0
    with db.engine.connect() as conn:
        page = search(conn, settings, "tournesol", viewer=ANONYMOUS, limit=50)
    assert page.total == 10


def test_documents_left_in_the_backlog_are_written_by_the_next_import(db, contexts) -> None:
    """A crash after a batch committed, before its documents were written: the next import
    writes them first, the same as they would have been."""
    _import(db, contexts["dev"], 4)
    before = _docs(db)
    lost = [row[0] for row in before[:3]]
    with db.engine.begin() as conn:
        conn.execute(delete(SearchDoc.__table__).where(SearchDoc.message_pk.in_(lost)))
        conn.execute(insert(SearchBacklog.__table__), [{"message_pk": pk} for pk in lost])
    bulk.import_messages(db, contexts["dev"], [], source="t", workers=1)
    assert sorted(_docs(db)) == sorted(before)
    assert _count(db, SearchBacklog) == 0


def test_documents_that_no_longer_fit_are_skipped(db, contexts) -> None:
    """Between a batch and its documents, a moderator may erase a message or derive its
    document again: the other documents are still written and the backlog emptied."""
    _import(db, contexts["dev"], 3)
    before = sorted(_docs(db))
    kept_pk, erased_pk, lost_pk = (row[0] for row in before)
    docs = [dict(zip(DOC_COLUMNS, row, strict=True)) for row in before]
    with db.engine.begin() as conn:
        conn.execute(delete(SearchDoc.__table__).where(SearchDoc.message_pk == lost_pk))
        conn.execute(delete(SearchDoc.__table__).where(SearchDoc.message_pk == erased_pk))
        conn.execute(delete(Message.__table__).where(Message.id == erased_pk))
        conn.execute(insert(SearchBacklog.__table__), [{"message_pk": kept_pk}])
    with db.engine.connect() as conn:
        search_backlog.write(conn, docs)
    after = sorted(_docs(db))
    assert [row[0] for row in after] == sorted([kept_pk, lost_pk])
    assert after == [row for row in before if row[0] != erased_pk]
    assert _count(db, SearchBacklog) == 0


def test_an_import_that_fails_leaves_every_committed_message_indexed_or_in_the_backlog(
    db, contexts, monkeypatch
) -> None:
    """The archive breaks off mid-way: the import raises its own error, the batches it
    committed keep their documents (written, or in the backlog for the next import)."""
    monkeypatch.setattr(bulk, "BATCH_MESSAGES", 3)

    def items():
        for i in range(bulk.CHUNK_MESSAGES + 3):  # one chunk prepared, then the error
            yield make_mail(f"cut{i}@example.org", f"Coupure {i}", body="texte\n"), None
        raise OSError("archive cut short")

    with pytest.raises(OSError, match="cut short"):
        bulk.import_messages(db, contexts["dev"], items(), source="t", workers=1)
    committed = bulk.CHUNK_MESSAGES // 3 * 3  # whole batches; the open one is rolled back
    assert _count(db, Message) == committed
    assert _count(db, SearchDoc) + _count(db, SearchBacklog) == committed
    bulk.import_messages(db, contexts["dev"], [], source="t", workers=1)
    assert (_count(db, SearchDoc), _count(db, SearchBacklog)) == (committed, 0)


def test_a_cross_post_while_the_document_is_on_its_way_marks_both_lists(db, contexts) -> None:
    """A message is in the backlog (its batch committed, its document not written yet) when
    a copy arrives on another list: once the document is written it carries both lists."""
    from mailgate import store
    from mailgate.models import MessageList
    from mailgate.search_index import list_term

    _import(db, contexts["dev"], 1)
    (doc,) = [dict(zip(DOC_COLUMNS, row, strict=True)) for row in _docs(db)]
    pk, other = doc["message_pk"], contexts["annonces"].list_id
    with db.engine.begin() as conn:  # as if the writer had not got to it yet
        conn.execute(delete(SearchDoc.__table__))
        conn.execute(insert(SearchBacklog.__table__), [{"message_pk": pk}])
    with db.engine.begin() as conn:  # the cross-post, stored meanwhile
        date = conn.scalar(select(Message.date).where(Message.id == pk))
        raw_id = conn.scalar(select(MessageList.raw_id).where(MessageList.message_pk == pk))
        store.add_to_list(conn, pk, other, raw_id, date, date)
        search_backlog.add_list(conn, pk, other)
    with db.engine.connect() as conn:
        search_backlog.write(conn, [doc])
    ((meta,),) = [row[-1:] for row in _docs(db)]
    assert list_term(other) in meta.split() and list_term(contexts["dev"].list_id) in meta.split()
    assert _count(db, SearchBacklog) == 0
