"""Search: one interface over SQLite FTS5 and PostgreSQL full text, access check included.

`search(conn, settings, q, viewer=...)` is what the CLI, the web search page and the email
``search`` command call. It parses `q` with `mailgate.query` (raising `QueryError` with a
message to show the user), restricts the lists to those `mailgate.access` lets the viewer read
(callers cannot skip this), always leaves hidden messages out, and returns one `SearchPage`.

How it answers fast at any size (see `mailgate.search_sql`): the engines return matching
documents newest first, walking a date-ordered key, and stop early. ``order="newest"`` reads
one page at a time (keyset on the key). ``order="relevance"`` ranks the `rank_window` newest
matches in Python (`mailgate.search_rank`: term weights per field, combined with recency);
when more documents match (a very common word), later pages go on newest first below that
window. Totals are exact up to `count_limit`, then extrapolated over the date range
(`total_is_estimate`). Cursors are opaque strings tied to the query.

Person-aware ``from:``: `same_person_addresses` maps an address to every address of the same
person (`mailgate.people`: merged and automatically joined addresses); callers may pass
their own. `body_matches` serves "who knows about X?" (`mailgate.people.expertise`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from mailgate import search_pg
from mailgate import search_sql as sql
from mailgate.access import Viewer, visible_list_ids
from mailgate.config import Settings
from mailgate.metrics import SEARCH_QUERIES
from mailgate.query import Query, QueryError, parse_query
from mailgate.search_cursor import Cursor, decode, encode, fingerprint
from mailgate.search_expr import LANGUAGES, Fts5, Markers, TsQuery, positive_leaves, resolve
from mailgate.search_hits import Hit, SearchScope, hits_for
from mailgate.search_index import date_key
from mailgate.search_rank import Candidate, Snippet, relevance, score
from mailgate.search_settings import SearchSettings, search_settings

__all__ = [
    "Hit",
    "QueryError",
    "SearchPage",
    "SearchSettings",
    "Snippet",
    "body_matches",
    "same_person_addresses",
    "search",
    "search_settings",
]

ORDERS = ("relevance", "newest")
MAX_LIST_TERMS = 64
GROUP_BATCH_FACTOR = 4
MAX_GROUP_BATCHES = 6

PersonAddresses = Callable[[Connection, str], Sequence[str]]


def same_person_addresses(conn: Connection, address: str) -> Sequence[str]:
    """Every address of the person who uses `address` (the hook for person-aware search)."""
    from mailgate.people.identity import addresses_of, person_for_address

    person = person_for_address(conn, address) if "@" in address else None
    if person is None:
        return [address]
    found = addresses_of(conn, person)
    return found if address.strip().lower() in found else [address, *found]


def body_matches(
    conn: Connection,
    settings: Settings,
    q: str,
    *,
    list_ids: Sequence[int],
    window: int,
    now: datetime | None = None,
) -> list[tuple[Candidate, float]]:
    """The `window` newest messages matching `q` on lists `list_ids` (the caller's access
    decision) with their relevance in the author's own text only (no recency); messages that
    match elsewhere only (subject, names) score 0. Raises `QueryError`. Used by who-knows."""
    clock = now or datetime.now(UTC)
    query = parse_query(q, now=clock, tz=ZoneInfo(settings.timezone))
    names = sql.list_names(conn)
    ids = {name: lid for lid, name in names.items()}
    allowed = set(list_ids) & set(names)
    if query.lists:
        allowed &= {ids[name] for name in query.lists if name in ids}
    if not allowed:
        return []
    excluded = tuple(sorted(ids[n] for n in query.exclude_lists if n in ids))
    any_of = None if allowed == set(names) else tuple(sorted(allowed))
    scope = SearchScope(list_names={lid: names[lid] for lid in allowed}, list_count=len(names))
    run = _start(conn, settings, query, scope, (any_of, excluded), None, clock)
    rows = sql.candidates(conn, run.plan, limit=window, columns=["body"])
    leaves = {
        language: [replace(leaf, columns=("body",)) for leaf in group if "body" in leaf.columns]
        for language, group in run.leaves.items()
    }
    return list(zip(rows, relevance(rows, leaves), strict=True))


@dataclass(frozen=True)
class SearchPage:
    """One page of results; `total` counts matching messages (grouped or not)."""

    hits: list[Hit]
    next_cursor: str | None
    total: int
    total_is_estimate: bool


@dataclass
class _Run:
    """Everything one search call works with."""

    conn: Connection
    options: SearchSettings
    plan: sql.Plan
    leaves: dict
    scope: SearchScope
    now: datetime
    limit: int = 20
    grouped: bool = False


@dataclass(frozen=True)
class _Entry:
    score: float
    candidate: Candidate
    thread_matches: int = 1


def _scope(
    conn: Connection, settings: Settings, viewer: Viewer, lists: Sequence[str] | None, query: Query
) -> tuple[SearchScope, tuple[int, ...] | None, tuple[int, ...]]:
    """Visible lists (the access check), then the lists asked for; (scope, any-of, none-of)."""
    names = sql.list_names(conn)
    ids = {name: lid for lid, name in names.items()}
    visible = set(visible_list_ids(conn, settings, viewer))
    allowed = set(visible)
    for wanted in (lists, query.lists):
        if wanted:
            allowed &= {ids[name] for name in wanted if name in ids}
    excluded = tuple(sorted(ids[n] for n in query.exclude_lists if n in ids))
    any_of = None if allowed == set(names) else tuple(sorted(allowed))
    scope = SearchScope(list_names={lid: names[lid] for lid in visible}, list_count=len(names))
    return scope, any_of, excluded


def _plan(
    conn: Connection,
    query: Query,
    trees: dict | None,
    scope: SearchScope,
    any_of: tuple | None,
    excluded: tuple,
) -> sql.Plan:
    """The engine expressions and SQL filters. The lists a search may return are matched as
    index markers too when they are a few lists out of many (an intersection in the index);
    a viewer who may read most lists is better served by the SQL check alone."""
    dialect = conn.dialect.name
    few = any_of is not None and len(any_of) <= min(MAX_LIST_TERMS, scope.list_count // 2)
    markers = Markers(lists=any_of if few else (), has_attachment=query.has_attachment)
    routing = search_pg.route(conn, trees, markers) if dialect == "postgresql" else {}
    return sql.Plan(
        **routing,
        dialect=dialect,
        expression=Fts5().expression(trees, markers) if dialect == "sqlite" else "",
        tsqueries=TsQuery().expressions(trees, markers) if dialect != "sqlite" else (),
        lower=date_key(query.after) if query.after else None,
        upper=date_key(query.before) if query.before else None,
        list_ids=any_of,
        exclude_list_ids=excluded,
        has_attachment=query.has_attachment,
        message_id=query.message_id,
    )


def search(
    conn: Connection,
    settings: Settings,
    q: str,
    *,
    viewer: Viewer,
    lists: Sequence[str] | None = None,
    limit: int = 20,
    cursor: str | None = None,
    group_by_thread: bool = False,
    order: str = "relevance",
    now: datetime | None = None,
    same_person: PersonAddresses | None = None,
) -> SearchPage:
    """Search the messages `viewer` may read; raises `QueryError` for an invalid query (or
    cursor) and `ConfigError` for invalid ``[search]`` settings.

    `lists` narrows the search to these list names (on top of ``list:``); `cursor` is a
    page's `next_cursor`; `now` fixes the clock (relative dates, recency); `same_person`
    replaces `same_person_addresses` for ``from:``/``to:`` addresses.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
    tag = fingerprint(q, lists, order, group_by_thread, viewer)
    state = decode(cursor, tag) if cursor else None
    clock = state.clock if state else (now or datetime.now(UTC))
    query = parse_query(q, now=clock, tz=ZoneInfo(settings.timezone))
    SEARCH_QUERIES.inc()
    scope, any_of, excluded = _scope(conn, settings, viewer, lists, query)
    if any_of == ():
        return SearchPage([], None, 0, False)
    run = _start(conn, settings, query, scope, (any_of, excluded), same_person, clock)
    run.limit, run.grouped = max(1, min(limit, run.options.max_page_size)), group_by_thread
    if order == "relevance" and (state is None or state.mode == "r"):
        entries, next_state, known_total = _relevance(run, state)
    else:
        entries, next_state, known_total = _newest(run, state)
    total, estimate = (state.total, state.estimate) if state else _total(run, known_total)
    if group_by_thread:
        entries = _with_thread_counts(run, entries)
    hits = hits_for(conn, [(e.candidate, e.score, e.thread_matches) for e in entries], run)
    token = None
    if next_state is not None:
        next_state = replace(next_state, now=clock.timestamp(), total=total, estimate=estimate)
        token = encode(next_state, tag)
    return SearchPage(hits, token, total, estimate)


def _start(
    conn: Connection,
    settings: Settings,
    query: Query,
    scope: SearchScope,
    lists: tuple[tuple[int, ...] | None, tuple[int, ...]],
    same_person: PersonAddresses | None,
    clock: datetime,
) -> _Run:
    """Resolve the words per language and build the plan (lists: any-of, none-of)."""
    expand = same_person or same_person_addresses
    trees = None
    if query.text is not None:
        trees = {
            language: resolve(query.text, lambda addr: expand(conn, addr), language)
            for language in LANGUAGES
        }
    sql.prepare(conn)
    return _Run(
        conn=conn,
        options=search_settings(settings),
        plan=_plan(conn, query, trees, scope, *lists),
        leaves={language: positive_leaves(tree) for language, tree in (trees or {}).items()},
        scope=scope,
        now=clock,
    )


def _group(entries: list[_Entry]) -> list[_Entry]:
    """The first entry of each thread, in the order given."""
    best: dict[int, _Entry] = {}
    for entry in entries:
        best.setdefault(entry.candidate.thread_id, entry)
    return list(best.values())


def _with_thread_counts(run: _Run, page: list[_Entry]) -> list[_Entry]:
    """Each thread entry with the number of matching messages in its thread."""
    counts = sql.thread_matches(run.conn, run.plan, [e.candidate.thread_id for e in page])
    return [replace(e, thread_matches=counts.get(e.candidate.thread_id, 1)) for e in page]


def _window(run: _Run, state: Cursor | None) -> tuple[list[Candidate], int | None, bool]:
    """The matches to rank, the lowest sort key ranked when not all of them are, and whether
    they are not: the newest `rank_window`, or those the first page's index budget found."""
    window = run.options.rank_window
    floor = state.floor if state else None
    columns = sorted({c for group in run.leaves.values() for leaf in group for c in leaf.columns})
    rows, stopped = sql.window(
        run.conn,
        run.plan,
        limit=window * 2 if floor is not None else window + 1,
        lower=floor,
        columns=columns,
        budget=search_pg.MATCH_BUDGET if state is None else None,
        page=run.limit,
    )
    if state is not None:
        return rows, floor, state.truncated
    if len(rows) <= window and stopped is None:
        return rows, floor, False
    rows = rows[:window]
    return rows, rows[-1].sort_key if stopped is None or len(rows) == window else stopped, True


def _relevance(
    run: _Run, state: Cursor | None
) -> tuple[list[_Entry], Cursor | None, tuple[int, bool] | None]:
    """Rank the window of newest matches; pages go on newest first below a full window (or
    below the matches PostgreSQL's index budget let the first page look for)."""
    rows, floor, truncated = _window(run, state)
    scores = score(
        rows,
        run.leaves,
        now=run.now,
        half_life_days=run.options.recency_half_life_days,
        recency_weight=run.options.recency_weight,
    )
    entries = sorted(
        (_Entry(s, c) for s, c in zip(scores, rows, strict=True)),
        key=lambda e: (-e.score, -e.candidate.sort_key),
    )
    if run.grouped:
        entries = _group(entries)
    if state is not None:
        after = (state.score, state.key)
        entries = [e for e in entries if (e.score, e.candidate.sort_key) < after]
    known = (len(rows), False) if not truncated else None
    if state is None and truncated and floor is not None:
        known = (sql.extrapolate(run.conn, run.plan, len(rows), floor), True)
    page = entries[: run.limit]
    if len(entries) > run.limit:
        last = page[-1]
        key = last.candidate.sort_key
        return (
            page,
            Cursor("r", score=last.score, key=key, floor=floor, truncated=truncated),
            known,
        )
    if truncated and floor is not None:
        return page, Cursor("n", key=floor), known
    return page, None, known


def _newest(
    run: _Run, state: Cursor | None
) -> tuple[list[_Entry], Cursor | None, tuple[int, bool] | None]:
    """Newest first from the cursor down (one page, or enough rows for a page of threads);
    a first page that holds every match also gives the exact total."""
    upper = state.key if state else None
    if run.grouped:
        return (*_newest_threads(run, upper), None)
    rows = sql.candidates(run.conn, run.plan, limit=run.limit + 1, upper=upper)
    page = [_Entry(0.0, row) for row in rows[: run.limit]]
    if len(rows) > run.limit:
        return page, Cursor("n", key=page[-1].candidate.sort_key), None
    return page, None, (len(rows), False)


def _newest_threads(run: _Run, upper: int | None) -> tuple[list[_Entry], Cursor | None]:
    """Threads by their newest match below `upper`; a thread with a match at or above
    `upper` was on an earlier page and is skipped."""
    found: list[_Entry] = []
    seen: set[int] = set()
    batch, position, exhausted = (run.limit + 1) * GROUP_BATCH_FACTOR, upper, False
    for _ in range(MAX_GROUP_BATCHES):
        rows = sql.candidates(run.conn, run.plan, limit=batch, upper=position)
        fresh = [t for t in dict.fromkeys(r.thread_id for r in rows) if t not in seen]
        earlier = sql.thread_matches(run.conn, run.plan, fresh, upper) if upper else {}
        for row in rows:
            position = row.sort_key
            if row.thread_id not in seen and row.thread_id not in earlier:
                found.append(_Entry(0.0, row))
            seen.add(row.thread_id)
            if len(found) > run.limit:
                break
        exhausted = len(rows) < batch
        if len(found) > run.limit or exhausted:
            break
        batch *= 2
    page = found[: run.limit]
    if len(found) > run.limit:
        return page, Cursor("n", key=page[-1].candidate.sort_key)
    if not exhausted and position is not None:
        return page, Cursor("n", key=position)
    return page, None


def _total(run: _Run, known: tuple[int, bool] | None) -> tuple[int, bool]:
    """Matching messages: exact up to `count_limit`, else extrapolated over the dates."""
    if known is not None:
        return known
    cap = run.options.count_limit
    matched, lowest, whole = sql.count(run.conn, run.plan, cap=cap)
    if (matched <= cap and whole) or lowest is None:
        return matched, False
    return sql.extrapolate(run.conn, run.plan, min(matched, cap), lowest), True
