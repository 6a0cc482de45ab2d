"""PostgreSQL's choice for each search: the GIN index or walking the dates.

Called by `mailgate.search` (to decide) and `mailgate.search_sql` (to apply). A query whose
words are rare is answered from the GIN index (then sorted by date); a query whose words are
all common is answered by walking the date-ordered key from the newest document and testing
each one, which stops as soon as a page is full. The walk first tests the newest `WALK_ROWS`
documents; when they hold too few matches (a phrase can be far rarer than its words), it goes
on only as far as it is cheaper than the GIN index, which answers for the older ones. The planner's
own choice is not reliable
here: it estimates a phrase as if its words were independent (``"firedues pour"`` looks
common) and walks millions of rows. The decision uses the lexeme frequencies PostgreSQL keeps
in `pg_stats` for `search_docs.tsv` (read once every few minutes), through
`TsQuery.selectivity`; without statistics (a database never analysed) the planner decides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, text

GIN_BELOW = 0.005  # queries matching less than this share of documents use the GIN index
WALK_ROWS = 20_000  # a date walk first tests this many documents
WALK_MAX_ROWS = 150_000  # and at most this many more when matches are thinner than expected
GIN_ROW_COST = 2.0  # a document from the GIN index costs about two walked ones
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


def walk_budget(share: float | None, documents: float | None) -> int:
    """How many more documents a date walk may test before the GIN index is cheaper (a GIN
    match costs about twice a walked row: a random page and a recheck)."""
    if share is None or documents is None:
        return WALK_MAX_ROWS
    return int(min(WALK_MAX_ROWS, GIN_ROW_COST * share * documents))


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
