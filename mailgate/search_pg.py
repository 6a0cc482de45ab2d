"""PostgreSQL's choice for each search: the GIN index or walking the dates, and date chunks.

Called by `mailgate.search` (to decide: `route`) and `mailgate.search_sql` (to apply). A query is
answered from the GIN index unless its words are all very common (`GIN_BELOW`): then walking
the date-ordered key from the newest document and testing each one fills a page before the
index would have built its bitmaps. A walk tests at most `WALK_ROWS` documents (`walk_rows`);
when they hold too few matches (a phrase can be far rarer than its words), the GIN index
answers for the older ones.

The GIN index returns its matches in no useful order, and fetching every one of them to keep
the newest reads every matching row of the archive (tens of thousands of random reads when the
operating system's cache is cold). So the index is asked one date chunk at a time, newest
first: a chunk covers about as many documents as should hold the matches still wanted
(`chunk_documents`, from the share of documents that match, then from the matches found),
PostgreSQL intersects the GIN bitmap with the sort-key range and reads only that chunk's rows;
a chunk that falls short is followed by a larger one. A range the index matches few times
(`UNCHUNKED_MATCHES`) is asked at once, as is the rest after `MAX_CHUNKS`. A phrase is checked
row by row and its words may match far more documents than it does: the first page of a
relevance search stops after about `MATCH_BUDGET` index matches, a count after `COUNT_BUDGET`
(the caller ranks or extrapolates from what was found).

The planner's own choice is not reliable here: it estimates a phrase as if its words were
independent (``"firedues pour"`` looks common) and walks millions of rows. The decision uses
the lexeme frequencies PostgreSQL keeps in `pg_stats` for `search_docs.tsv` (read once every
few minutes), through `TsQuery.selectivity`; without statistics (a database never analysed)
the planner decides.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Connection, text

from mailgate.search_expr import Markers, TsQuery
from mailgate.search_index import META_ATTACHMENT, list_term

GIN_BELOW = 0.1  # queries matching less than this share of documents use the GIN index
WALK_ROWS = 20_000  # a date walk tests at most this many documents, then the GIN index takes over
WALK_MIN_ROWS = 4_000  # a walk may test this many whatever the share says (a phrase is rarer)
WALK_MARGIN = 2.0  # and walks only when twice the rows a full page needs (at most) are enough
CHUNK_MARGIN = 1.25  # a date chunk covers 1.25 times the documents expected to hold the matches
CHUNK_GROWTH = 4  # a chunk covers at most 4 times the documents already covered
MAX_CHUNKS = 8  # then the GIN index answers for the rest of the range in one statement
UNCHUNKED_MATCHES = 2_000  # and at once when it matches at most this many documents of it
MIN_RATE = 1e-6  # matches per document assumed when a chunk found none
MATCH_BUDGET = 10_000  # index matches a relevance window reads at most (estimated)
COUNT_BUDGET = 3_000  # and a count (estimated beyond)
BUDGET_LEFT_MIN = 500  # a budget with less left than this stops the search
STATS_TTL_SECONDS = 300.0
GIN = "gin"
WALK = "walk"

_STATS = text(
    "SELECT s.most_common_elems::text, s.most_common_elem_freqs, c.reltuples "
    "FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename "
    "AND c.relnamespace = to_regnamespace(s.schemaname) "
    "WHERE s.tablename = 'search_docs' AND s.attname = 'tsv' "
    "AND s.schemaname = current_schema()"
)
_lock = threading.Lock()
_cache: dict[str, tuple[float, Stats | None]] = {}


@dataclass(frozen=True)
class Stats:
    """Lexeme frequencies (share of documents; the rarest tracked share for a lexeme not
    tracked) and the number of documents, as of the last ANALYZE."""

    freq: Callable[[str], float]
    documents: float


def _load(conn: Connection) -> Stats | None:
    row = conn.execute(_STATS).first()
    if row is None or row[0] is None or not row[1]:
        return None
    lexemes = row[0].strip("{}").split(",")
    freqs = list(row[1])
    known = dict(zip(lexemes, freqs[: len(lexemes)], strict=True))
    rarest = freqs[len(lexemes)] if len(freqs) > len(lexemes) else min(freqs)
    return Stats(lambda lexeme: known.get(lexeme, rarest), max(float(row[2]), 1.0))


def statistics(conn: Connection) -> Stats | None:
    """The statistics of `search_docs.tsv`, or None before the first ANALYZE; cached per
    database for `STATS_TTL_SECONDS`."""
    key = conn.engine.url.render_as_string(hide_password=True)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and now - cached[0] < STATS_TTL_SECONDS:
        return cached[1]
    loaded = _load(conn)
    with _lock:
        _cache[key] = (now, loaded)
    return loaded


def forget() -> None:
    """Drop the cached statistics (after an ANALYZE that should count at once)."""
    with _lock:
        _cache.clear()


def walk_rows(limit: int, share: float | None) -> int:
    """How many of the newest documents a date walk for `limit` matches tests: twice as many
    as the share of matching documents says the page needs (at least `WALK_MIN_ROWS`: the
    walk stops at a full page anyway), or 0 (no walk: the GIN index, in chunks) when that is
    more than `WALK_ROWS`. Reading every document of a long walk costs far more than the GIN
    index's matches when they are not in memory."""
    if not share:
        return WALK_ROWS
    rows = math.ceil(WALK_MARGIN * limit / share)
    return max(rows, WALK_MIN_ROWS) if rows <= WALK_ROWS else 0


def chunk_documents(wanted: int, rate: float, covered: float = 0.0) -> float:
    """How many documents the next date chunk should cover to hold `wanted` more matches at
    `rate` matches per document, at most `CHUNK_GROWTH` times the documents already covered
    (when some are: the rate seen there may be a fluke)."""
    documents = CHUNK_MARGIN * wanted / max(rate, MIN_RATE)
    if covered:
        documents = min(documents, CHUNK_GROWTH * covered)
    return max(documents, 1.0)


@dataclass(frozen=True)
class Chunks:
    """Where a chunked GIN search stands: the range left, the documents already covered and
    the matches found in them, sort keys per document, the lowest key, the share of documents
    the index returns (at most) and the index matches it may still read (None: no limit)."""

    lower: int | None
    upper: int
    covered: float
    found: int
    density: float
    lowest: int
    share: float
    budget: float | None

    def below(self, floor: int, found: int) -> Chunks:
        """The state once [floor, upper) is done and held `found` matches."""
        documents = (self.upper - floor) / self.density
        budget = None if self.budget is None else self.budget - documents * self.share
        return replace(self, upper=floor, covered=self.covered + documents,
                       found=self.found + found, budget=budget)  # fmt: skip


def chunk_floor(state: Chunks, wanted: int, last: bool = False) -> int | None:
    """The lower end of the next chunk (None: the rest of the range), within the budget. The
    rest goes in one statement when the index can match few of its documents anyway."""
    rate = max(state.found, 0.5) / state.covered if state.covered else state.share
    documents = chunk_documents(wanted, rate, state.covered)
    bottom = max(state.lowest, state.lower or state.lowest)
    rest = (state.upper - bottom) / state.density
    if last or documents >= rest or rest * state.share <= UNCHUNKED_MATCHES:
        if state.budget is None or rest * state.share <= state.budget:
            return None
        documents = rest
    if state.budget is not None:
        documents = min(documents, state.budget / state.share)
    return max(state.upper - int(documents * state.density), bottom + 1)


def choose(selectivity: float | None) -> str | None:
    """The route for a query matching at most this share of documents."""
    if selectivity is None:
        return None
    return GIN if selectivity < GIN_BELOW else WALK


def apply(conn: Connection, route: str | None) -> None:
    """Make the planner take `route` for the next statement (transaction-local settings)."""
    if route is None:
        return
    conn.execute(
        text(
            "SELECT set_config('enable_bitmapscan', :bitmap, true), "
            "set_config('enable_seqscan', :seq, true)"
        ),
        {"bitmap": "off" if route == WALK else "on", "seq": "off" if route == GIN else "on"},
    )


def reset(conn: Connection, route: str | None) -> None:
    if route is not None:
        conn.execute(
            text(
                "SELECT set_config('enable_bitmapscan', 'on', true), "
                "set_config('enable_seqscan', 'on', true)"
            )
        )


def route(conn: Connection, trees: dict | None, markers: Markers) -> dict:
    """GIN index or date walk for a search (the `search_sql.Plan` fields `route`, `share`
    and `documents`); empty without statistics or without anything to look up."""
    stats = statistics(conn)
    if stats is None or (not trees and not markers.lists and not markers.has_attachment):
        return {}
    renderer = TsQuery()
    shares = [renderer.selectivity(tree, stats.freq) for tree in (trees or {}).values()]
    share = max(shares) if shares else 1.0
    if markers.lists:
        share = min(share, sum(stats.freq(list_term(lid)) for lid in markers.lists))
    if markers.has_attachment:
        share = min(share, stats.freq(META_ATTACHMENT))
    return {"route": choose(share), "share": share, "documents": stats.documents}
