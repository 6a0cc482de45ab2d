"""The fictional French enterprise corpus (tests/data/french-enterprise) end to end, on both
backends: every entry archived, threads, parents, dates, decoding, authors and own text as
recorded in its expected.json."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from mailgate import store
from mailgate.bulk import import_messages
from mailgate.db import open_database
from mailgate.ingest.mbox import read_archive
from mailgate.mime import strip_trailing_footer
from mailgate.models import Body, Message
from mailgate.pipeline import list_contexts
from tests.conftest import FRENCH, FRENCH_LISTS, french_settings

EXPECTED = json.loads((FRENCH / "expected.json").read_text(encoding="utf-8"))
OWN_TEXT_FLOOR = 0.95


def _norm(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def archive(settings):
    fr = french_settings(settings)
    db = open_database(fr)
    with db.engine.begin() as conn:
        contexts = list_contexts(fr, store.sync_lists(conn, fr.lists))
    summaries = {
        name: import_messages(
            db,
            contexts[name],
            ((m.raw, m.arrival) for m in read_archive(FRENCH / f"{name}.mbox")),
            source="test",
            workers=1,
        )
        for name in FRENCH_LISTS
    }
    with db.reader() as session:
        rows = session.execute(select(Message, Body).join(Body, Body.message_pk == Message.id))
        stored = {m.message_id: (m, b) for m, b in rows}
    yield summaries, stored
    db.dispose()


def _by_id() -> dict[str, dict]:
    return {m["message_id"]: m for m in EXPECTED["messages"] if m["message_id"]}


def test_every_entry_is_archived(archive) -> None:
    summaries, stored = archive
    assert sum(s.total for s in summaries.values()) == EXPECTED["counts"]["mbox_entries"]
    assert sum(s.quarantined for s in summaries.values()) == 0
    assert len(stored) == EXPECTED["counts"]["unique_messages"]


def test_threads_and_parents_match(archive) -> None:
    _summaries, stored = archive
    expected = _by_id()
    groups: dict[str, set[int]] = {}
    for mid, msg in expected.items():
        groups.setdefault(msg["thread"], set()).add(stored[mid][0].thread_id)
    assert all(len(tids) == 1 for tids in groups.values()), groups
    assert len({next(iter(t)) for t in groups.values()}) == len(groups)
    wrong = {
        m["key"]: (m["parent"], stored[mid][0].parent_mid)
        for mid, m in expected.items()
        if stored[mid][0].parent_mid != m["parent"]
    }
    assert not wrong


def test_dates_authors_and_decoding(archive) -> None:
    _summaries, stored = archive
    for mid, m in _by_id().items():
        msg, body = stored[mid]
        intended = datetime.fromisoformat(m["date"]).astimezone(UTC).replace(tzinfo=None)
        assert msg.date == intended, (m["key"], m["date_header"])
        assert msg.from_addr == m["from_address"], m["key"]
        if m["text"] is not None:
            # A footer quoted at the very end looks like the list's own: accept either.
            ours = _norm(strip_trailing_footer(body.text))
            expected = {_norm(m["text"]), _norm(strip_trailing_footer(m["text"]))}
            assert ours in expected, m["key"]


def test_own_text_matches(archive) -> None:
    _summaries, stored = archive
    checked = exact = 0
    misses = []
    for mid, m in _by_id().items():
        if m["text"] is None:
            continue
        checked += 1
        own = stored[mid][1].own_text
        if _norm(own) == _norm(m["own_text"]):
            exact += 1
        else:
            misses.append(m["key"])
        quoted = [
            line
            for z in m["zones"]
            if z["kind"] in ("quote", "attribution")
            for line in m["text"].split("\n")[z["start"] : z["end"]]
            if len(line) > 25
        ]
        assert not [q for q in quoted if q in own.split("\n")], m["key"]
    assert exact / checked >= OWN_TEXT_FLOOR, misses
