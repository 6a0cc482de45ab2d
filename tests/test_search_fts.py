"""SQLite: the FTS5 index holds exactly the stored search documents after every kind of
write (bulk import in several batches, live ingest, a cross-post, an erasure, a rebuild).
Documents enter the index by a plain INSERT after their rows (migration 0830), not a
trigger; FTS5's own integrity check compares the index with the documents."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from mailgate import bulk, rebuild
from mailgate.access import ADMINISTRATOR
from mailgate.models import SearchDoc
from mailgate.moderation.common import find_targets
from mailgate.moderation.erasure import erase
from mailgate.pipeline import Where, ingest
from mailgate.search import search
from tests.mailfactory import make_mail

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _check(db) -> int:
    """Run FTS5's integrity check against the documents; the number of documents."""
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))
        return conn.scalar(select(func.count()).select_from(SearchDoc.__table__))


def _found(db, settings, query: str) -> int:
    with db.engine.connect() as conn:
        return search(conn, settings, query, viewer=ADMINISTRATOR, limit=100).total


def test_index_matches_documents_after_every_kind_of_write(
    db, contexts, settings, monkeypatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH_MESSAGES", 4)  # several batches in one import
    mails = [
        make_mail(f"f{i}@example.org", f"Lot {i}", body=f"Tournesol numéro {i}.\n")
        for i in range(10)
    ]
    bulk.import_messages(db, contexts["dev"], [(m, None) for m in mails], source="t", workers=1)
    assert _check(db) == 10
    assert _found(db, settings, "tournesol") == 10

    live = make_mail("live@example.org", "Direct", body="Une girouette arrive en direct.\n")
    with db.engine.begin() as conn:
        ingest(conn, live, contexts["dev"], Where("dev", "test"))
        ingest(conn, mails[0], contexts["annonces"], Where("annonces", "test"))  # cross-post
    assert _check(db) == 11
    assert _found(db, settings, "girouette") == 1
    assert _found(db, settings, "list:annonces tournesol") == 1

    with db.engine.begin() as conn:
        erase(conn, find_targets(conn, "f1@example.org"), "moderator@example.org")
    assert _check(db) == 10
    assert _found(db, settings, "tournesol") == 9

    assert rebuild.rebuild_search(db) == 10
    assert _check(db) == 10
    assert _found(db, settings, "tournesol OR girouette") == 10


def _varints(data: bytes, count: int) -> list[int]:
    """The first `count` SQLite varints of `data` (big-endian groups of 7 bits)."""
    values, position = [], 0
    for _ in range(count):
        value = 0
        while True:
            byte = data[position]
            position += 1
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
    return values


def test_a_batch_is_written_to_the_index_once_not_once_per_document(db, contexts) -> None:
    """Written by a trigger, each document was flushed as its own FTS5 segment (a savepoint
    per row writes FTS5's pending terms out), and later merges paid for every one of them."""
    mails = [make_mail(f"s{i}@example.org", f"S {i}", body=f"Mot{i} seul.\n") for i in range(40)]
    bulk.import_messages(db, contexts["dev"], [(m, None) for m in mails], source="t", workers=1)
    with db.engine.connect() as conn:
        structure = conn.scalar(text("SELECT block FROM search_fts_data WHERE id = 10"))
    # The structure record: a 4-byte cookie, then the number of levels and of segments.
    _levels, segments = _varints(structure[4:], 2)
    assert segments == 1
