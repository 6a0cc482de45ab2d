"""Search results: pagination (both orders, grouped by thread, beyond the ranked window),
totals, snippets and highlights, ranking, settings, on both backends."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from mailgate import rebuild
from mailgate.config import ConfigError
from mailgate.pipeline import Where, ingest
from mailgate.query import QueryError
from mailgate.search_settings import SearchSettings, search_settings
from tests.mailfactory import make_mail
from tests.search_data import load, run

COUNT = 25
THREADS = 5
EXAMPLE_CONFIG = Path(__file__).parent.parent / "deploy" / "mailgate.example.toml"


@pytest.fixture
def many(db, contexts, settings):
    """25 messages saying "pagination", in 5 threads, one hour apart."""
    with db.engine.begin() as conn:
        for i in range(COUNT):
            parent = f"p{i - THREADS}@t" if i >= THREADS else None
            subject = f"{'Re: ' if parent else ''}Sujet {i % THREADS}"
            words = " ".join(["pagination"] * (1 + i % 3))
            raw = make_mail(
                f"p{i}@t", subject, minutes=60 * i, in_reply_to=parent, body=f"{words} n{i}\n"
            )
            ingest(conn, raw, contexts["dev"], Where("dev", "test"))
    return db, settings


def _all_pages(db, settings, query: str, **options) -> list[list]:
    pages, cursor = [], None
    for _ in range(COUNT + 2):
        page = run(db, settings, query, cursor=cursor, **options)
        pages.append(page.hits)
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("pagination does not end")


def test_newest_first_pages(many) -> None:
    db, settings = many
    first = run(db, settings, "pagination", order="newest", limit=10)
    assert first.total == COUNT and not first.total_is_estimate
    pages = _all_pages(db, settings, "pagination", order="newest", limit=10)
    assert [len(p) for p in pages] == [10, 10, 5]
    mids = [hit.message_id for page in pages for hit in page]
    assert mids == [f"p{i}@t" for i in reversed(range(COUNT))]


def test_relevance_pages_cover_every_match_once(many) -> None:
    db, settings = many
    pages = _all_pages(db, settings, "pagination", limit=7)
    hits = [hit for page in pages for hit in page]
    assert sorted(h.message_id for h in hits) == sorted(f"p{i}@t" for i in range(COUNT))
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("order", ["relevance", "newest"])
def test_pages_of_threads(many, order: str) -> None:
    db, settings = many
    first = run(db, settings, "pagination", order=order, group_by_thread=True, limit=2)
    assert first.total == COUNT
    pages = _all_pages(db, settings, "pagination", order=order, group_by_thread=True, limit=2)
    threads = [hit.thread_id for page in pages for hit in page]
    assert len(threads) == len(set(threads)) == THREADS
    if order == "newest":
        assert [hit.message_id for hit in pages[0]] == ["p24@t", "p23@t"]
        assert pages[0][0].thread_matches == COUNT // THREADS


@pytest.mark.parametrize("grouped", [False, True])
def test_beyond_the_ranked_window_pages_go_on_newest_first(many, grouped: bool) -> None:
    db, settings = many
    small = replace(settings, sections={"search": {"rank_window": 10, "count_limit": 10}})
    first = run(db, small, "pagination", limit=4, group_by_thread=grouped)
    assert first.total_is_estimate and first.total > 10
    pages = _all_pages(db, small, "pagination", limit=4, group_by_thread=grouped)
    hits = [hit for page in pages for hit in page]
    if grouped:
        assert len({h.thread_id for h in hits}) == len(hits) == THREADS
    else:
        assert sorted(h.message_id for h in hits) == sorted(f"p{i}@t" for i in range(COUNT))
        ranked = {h.message_id for h in hits[:10]}
        assert ranked == {f"p{i}@t" for i in range(15, 25)}  # the window: 10 newest


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("limit", [4, 12])
def test_postgres_index_budget_ranks_the_newest_matches_then_goes_on(
    many, monkeypatch, limit: int
) -> None:
    """On PostgreSQL, a first relevance page whose index budget runs out ranks the matches
    found so far (the newest); the pages then go on newest first and cover every match once."""
    from sqlalchemy import text

    from mailgate import search_pg

    db, settings = many
    assert db.dialect == "postgresql"
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE search_docs"))
    monkeypatch.setattr(search_pg, "WALK_ROWS", 3)  # no walk: date chunks of the GIN index
    monkeypatch.setattr(search_pg, "MATCH_BUDGET", 9)
    monkeypatch.setattr(search_pg, "BUDGET_LEFT_MIN", 1)
    monkeypatch.setattr(search_pg, "UNCHUNKED_MATCHES", 0)
    search_pg.forget()
    try:
        first = run(db, settings, "pagination", limit=limit)
        assert first.total_is_estimate and len(first.hits) == limit
        assert {h.message_id for h in first.hits} <= {f"p{i}@t" for i in range(12, 25)}
        pages = _all_pages(db, settings, "pagination", limit=limit)
    finally:
        search_pg.forget()
    hits = [hit for page in pages for hit in page]
    assert sorted(h.message_id for h in hits) == sorted(f"p{i}@t" for i in range(COUNT))


def test_filter_only_and_exact_totals(many) -> None:
    db, settings = many
    page = run(db, settings, "list:dev", limit=3)
    assert page.total == COUNT and not page.total_is_estimate
    assert [h.message_id for h in page.hits] == ["p24@t", "p23@t", "p22@t"]


def test_cursors_belong_to_their_search(many) -> None:
    db, settings = many
    cursor = run(db, settings, "pagination", limit=5).next_cursor
    assert cursor
    with pytest.raises(QueryError, match="another search"):
        run(db, settings, "pagination n1", cursor=cursor, limit=5)
    with pytest.raises(QueryError, match="invalid"):
        run(db, settings, "pagination", cursor="not-a-cursor", limit=5)
    with pytest.raises(QueryError):
        run(db, settings, "pagination", cursor=cursor, limit=5, order="newest")
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for field, value in (("key", "x"), ("now", 1e30), ("mode", "z"), ("floor", True), ("x", 1)):
        forged = base64.urlsafe_b64encode(json.dumps(data | {field: value}).encode()).decode()
        with pytest.raises(QueryError, match="invalid"):
            run(db, settings, "pagination", cursor=forged, limit=5)


def test_page_size_is_bounded(many) -> None:
    db, settings = many
    assert len(run(db, settings, "pagination", limit=0).hits) == 1
    capped = replace(settings, sections={"search": {"max_page_size": 10}})
    assert len(run(db, capped, "pagination", limit=500).hits) == 10


def test_snippets_highlight_the_matched_words(db, contexts, settings) -> None:
    load(db, contexts)
    hit = run(db, settings, "réseau wifi").hits[0]
    assert hit.message_id == "m1@t"
    words = {hit.snippet.text[s:e] for s, e in hit.snippet.highlights}
    assert words == {"réseau", "wifi"}
    assert "".join(text for text, _ in hit.snippet.parts()) == hit.snippet.text
    assert [t for t, marked in hit.subject_snippet.parts() if marked] == ["Wifi"]
    entreprise = run(db, settings, "entreprise").hits[0].snippet
    assert [entreprise.text[s:e] for s, e in entreprise.highlights] == ["l'entreprise"]


def test_snippet_of_a_long_text_is_around_the_match(db, contexts, settings) -> None:
    body = ("Du texte sans intérêt. " * 40) + "Le mot rarissime est ici. " + ("Fin. " * 60)
    with db.engine.begin() as conn:
        ingest(conn, make_mail("long@t", "Long", body=body), contexts["dev"], Where("dev", "t"))
    snippet = run(db, settings, "rarissime").hits[0].snippet
    assert snippet.text.startswith("…") and snippet.text.endswith("…")
    assert len(snippet.text) <= 250
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["rarissime"]


def test_ranking_favours_the_subject_and_recency(db, contexts, settings) -> None:
    mails = [
        ("old-subject@t", "Inventaire du stock", "Rien de spécial.", 0),
        ("old-body@t", "Divers", "Il faut refaire un inventaire complet.", 60),
        ("new-body@t", "Autre", "Un inventaire complet est prévu.", 60 * 24 * 300),
    ]
    with db.engine.begin() as conn:
        for mid, subject, body, minutes in mails:
            raw = make_mail(mid, subject, body=body, minutes=minutes)
            ingest(conn, raw, contexts["dev"], Where("dev", "t"))
    ranked = [h.message_id for h in run(db, settings, "inventaire").hits]
    assert ranked[0] == "old-subject@t"
    assert ranked.index("new-body@t") < ranked.index("old-body@t")
    newest = [h.message_id for h in run(db, settings, "inventaire", order="newest").hits]
    assert newest == ["new-body@t", "old-body@t", "old-subject@t"]
    with pytest.raises(ValueError):
        run(db, settings, "inventaire", order="oldest")


def test_rebuilding_the_index_gives_the_same_answers(db, contexts, settings) -> None:
    load(db, contexts)
    queries = ("réseau", "from:alice", "list:secret", "has:attachment", "to:alice@example.org")
    before = {q: [h.message_id for h in run(db, settings, q).hits] for q in queries}
    assert rebuild.rebuild_search(db) == 8
    after = {q: [h.message_id for h in run(db, settings, q).hits] for q in queries}
    assert before == after


def test_search_settings_are_validated() -> None:
    from mailgate.config import Settings

    assert search_settings(Settings()) == SearchSettings()
    good = Settings(sections={"search": {"rank_window": 50, "recency_weight": 0}})
    assert search_settings(good).rank_window == 50
    for bad in (
        {"rank_windw": 10},
        {"rank_window": "big"},
        {"rank_window": 1.5},
        {"count_limit": 0},
        {"recency_weight": True},
    ):
        with pytest.raises(ConfigError, match=r"\[search\]"):
            search_settings(Settings(sections={"search": bad}))


def test_every_search_setting_is_documented() -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "[search]" in text
    for name in SearchSettings.__dataclass_fields__:
        assert f"{name} =" in text, name
