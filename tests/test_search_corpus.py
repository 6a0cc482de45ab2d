"""The search cases of tests/data/french-enterprise/expected.json on both backends, and the
same answers from SQLite and PostgreSQL for the same archive.

Four ``from:`` cases expect the other addresses of the same person (an alias at work, a
personal address): identities come from the people subsystem; until it is there these tests
give `search` a `same_person` hook built from the corpus's own list of people, which is the
interface that subsystem plugs into.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mailgate import store
from mailgate.access import ADMINISTRATOR, ANONYMOUS
from mailgate.bulk import import_messages
from mailgate.db import open_database
from mailgate.ingest.mbox import read_archive
from mailgate.pipeline import list_contexts
from mailgate.search import search
from tests.conftest import FRENCH, FRENCH_LISTS, french_settings, make_settings

EXPECTED = json.loads((FRENCH / "expected.json").read_text(encoding="utf-8"))
CASES = EXPECTED["search_cases"]
NOW = datetime(2025, 7, 1, tzinfo=UTC)
ADDRESSES = {
    entry["address"]: [a["address"] for a in person["addresses"]]
    for person in EXPECTED["people"]
    for entry in person["addresses"]
}
FROM_ADDRESS = {m["message_id"]: m["from_address"] for m in EXPECTED["messages"]}
EXTRA_QUERIES = (
    "réseau OR innovation",
    "budget -list:comite-direction",
    "list:innovation after:2025-02",
    "has:attachment",
    '"réseau social"',
    "subject:hackathon",
    "to:innovation@listes.groupe-exemple.example wifi",
    "filename:pdf",
    "date:2025-01..2025-02 collaboration",
    "",
)


def same_person(_conn, address: str) -> list[str]:
    """What the people subsystem will answer: every address of the person."""
    return ADDRESSES.get(address.lower(), [address])


def needs_identities(case: dict) -> bool:
    query = case["query"]
    if not query.startswith("from:"):
        return False
    address = query.split()[0][len("from:") :]
    return any(FROM_ADDRESS[mid] != address for mid in case["must_match"])


def load_corpus(settings):
    fr = french_settings(settings)
    db = open_database(fr)
    with db.engine.begin() as conn:
        contexts = list_contexts(fr, store.sync_lists(conn, fr.lists))
    for name in FRENCH_LISTS:
        items = ((m.raw, m.arrival) for m in read_archive(FRENCH / f"{name}.mbox"))
        import_messages(db, contexts[name], items, source="test", workers=1)
    return db, fr


def results(db, settings, query: str, **options) -> list:
    options.setdefault("viewer", ADMINISTRATOR)
    with db.reader() as session:
        page = search(session.connection(), settings, query, now=NOW, limit=100, **options)
    return page


def check_case(db, settings, case: dict, hook) -> list[str]:
    page = results(db, settings, case["query"], same_person=hook)
    found = [hit.message_id for hit in page.hits]
    expected = zip(case["must_match"], case["must_match_keys"], strict=True)
    problems = [f"missing {key}" for mid, key in expected if mid not in found]
    excluded = zip(case.get("must_not_match", []), case.get("must_not_match_keys", []), strict=True)
    problems += [f"unexpected {key}" for mid, key in excluded if mid in found]
    first = case.get("rank_first")
    if first and set(found[: len(first)]) != set(first):
        problems.append(f"not ranked first: {case['rank_first_keys']}")
    return [f"{case['query']}: {p}" for p in problems]


@pytest.fixture
def corpus(settings):
    db, fr = load_corpus(settings)
    yield db, fr
    db.dispose()


def test_expected_search_cases(corpus) -> None:
    db, settings = corpus
    problems = [p for case in CASES for p in check_case(db, settings, case, same_person)]
    assert not problems
    assert len(CASES) == 33


def test_cases_without_identities(corpus) -> None:
    """Without the people subsystem, every case that needs no alias passes, and an alias
    case still finds the messages sent from the address itself."""
    db, settings = corpus
    plain = [case for case in CASES if not needs_identities(case)]
    assert len(plain) == len(CASES) - 4
    assert not [p for case in plain for p in check_case(db, settings, case, None)]
    for case in CASES:
        if needs_identities(case):
            address = case["query"][len("from:") :]
            own = {mid for mid in case["must_match"] if FROM_ADDRESS[mid] == address}
            found = {hit.message_id for hit in results(db, settings, case["query"]).hits}
            assert own <= found and own, case["query"]


def test_private_list_is_searched_only_by_its_readers(corpus) -> None:
    db, settings = corpus
    private = {m["message_id"] for m in EXPECTED["messages"] if "comite-direction" in m["lists"]}
    for query in ("budget", "list:comite-direction", "", "arbitrages"):
        found = {h.message_id for h in results(db, settings, query, viewer=ANONYMOUS).hits}
        assert not found & private, query
    every = {h.message_id for h in results(db, settings, "list:comite-direction").hits}
    assert every == private


def _answers(db, settings) -> dict:
    out = {}
    for query in [case["query"] for case in CASES] + list(EXTRA_QUERIES):
        for order in ("relevance", "newest"):
            page = results(db, settings, query, order=order, same_person=same_person)
            out[(query, order)] = (
                page.total,
                page.total_is_estimate,
                [(h.message_id, round(h.score, 9), h.snippet, h.lists) for h in page.hits],
            )
    return out


def test_both_backends_give_the_same_answers(tmp_path, pg_url) -> None:
    from tests.conftest import DEFAULT_LISTS, _empty_postgres

    _empty_postgres(pg_url)
    answers = []
    for url in (f"sqlite:///{tmp_path / 'same.db'}", pg_url):
        settings = make_settings(tmp_path, url, DEFAULT_LISTS)
        db, fr = load_corpus(replace(settings, database_url=url))
        answers.append(_answers(db, fr))
        db.dispose()
    sqlite, postgres = answers
    differing = [key for key in sqlite if sqlite[key] != postgres[key]]
    assert not differing, differing[:5]
    assert sum(1 for value in sqlite.values() if value[2]) > 60


def test_postgres_routes_give_the_same_answers(tmp_path, pg_url, monkeypatch) -> None:
    """On PostgreSQL, the GIN index, the date walk (with its hand-over to the index) and the
    planner's own choice all return the same pages."""
    from sqlalchemy import text

    from mailgate import search_pg
    from tests.conftest import DEFAULT_LISTS, _empty_postgres

    _empty_postgres(pg_url)
    db, settings = load_corpus(make_settings(tmp_path, pg_url, DEFAULT_LISTS))
    queries = [case["query"] for case in CASES] + list(EXTRA_QUERIES)
    search_pg.forget()
    planner = _answers_for(db, settings, queries)  # no statistics yet: the planner decides
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE search_docs"))
    monkeypatch.setattr(search_pg, "WALK_ROWS", 7)
    monkeypatch.setattr(search_pg, "CHUNK_MARGIN", 0.02)  # several chunks per search
    monkeypatch.setattr(search_pg, "UNCHUNKED_MATCHES", 0)
    for threshold in (0.0, 1.01, search_pg.GIN_BELOW):
        monkeypatch.setattr(search_pg, "GIN_BELOW", threshold)
        search_pg.forget()
        with db.engine.connect() as conn:
            assert search_pg.statistics(conn) is not None
        assert _answers_for(db, settings, queries) == planner, threshold
    db.dispose()


def _answers_for(db, settings, queries) -> dict:
    out = {}
    for query in queries:
        for order in ("relevance", "newest"):
            page = results(db, settings, query, order=order, same_person=same_person)
            out[(query, order)] = [h.message_id for h in page.hits]
    return out
