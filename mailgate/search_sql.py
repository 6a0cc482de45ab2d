"""The SQL of search on SQLite FTS5 and PostgreSQL: matching documents newest first, counts.

Called by `mailgate.search` only, with a `Plan` that already holds the engine's full-text
expression and the access decision (the list ids a viewer may read). Every query walks
`search_docs.sort_key` (date-ordered, unique) from the newest down, so "newest first", date
ranges and keyset pages are ranges of one integer: FTS5 iterates its rowid (the sort key) in
descending order and stops at the LIMIT; PostgreSQL chooses between the GIN index and a
backward scan of the sort-key index. Hidden messages and lists the viewer may not read are
always excluded here, in SQL, whatever the expression says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Row, TextClause, bindparam, text

from mailgate import search_pg
from mailgate.search_index import SORT_KEY_SHIFT
from mailgate.search_rank import Candidate

SEARCH_WORK_MEM = "32MB"
SEARCH_PREFETCH = 32  # pages a bitmap heap scan asks for ahead (effective_io_concurrency)
STORED_COLUMNS = ("subject", "body", "people", "files", "recipients")


@dataclass(frozen=True)
class Plan:
    """What to match: engine expression, sort-key range and SQL filters (access included)."""

    dialect: str
    expression: str = ""  # SQLite: the FTS5 MATCH text
    tsqueries: tuple[tuple[str | None, str | None], ...] = ()  # PostgreSQL: (language, tsquery)
    lower: int | None = None  # sort_key >= lower
    upper: int | None = None  # sort_key < upper
    list_ids: tuple[int, ...] | None = None  # on at least one of these lists (None: any)
    exclude_list_ids: tuple[int, ...] = ()
    has_attachment: bool | None = None
    message_id: str | None = None
    route: str | None = None  # PostgreSQL: search_pg.GIN or search_pg.WALK (None: planner)
    share: float | None = None  # PostgreSQL: at most this share of documents match
    documents: float | None = None  # PostgreSQL: documents in the index (statistics)


def _bound(plan: Plan, lower: int | None, upper: int | None) -> tuple[int | None, int | None]:
    lows = [v for v in (lower, plan.lower) if v is not None]
    highs = [v for v in (upper, plan.upper) if v is not None]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _filters(plan: Plan, key: str, lower: int | None, upper: int | None) -> tuple[list, dict]:
    """WHERE clauses (besides the full-text match) over `d` (search_docs), `m` (messages).

    The list checks are subqueries run per matching row (``OFFSET 0`` keeps PostgreSQL from
    turning them into a join over every list membership of the archive)."""
    clauses = ["NOT m.hidden"]
    params: dict = {}
    low, high = _bound(plan, lower, upper)
    if low is not None:
        clauses.append(f"{key} >= :lower")
        params["lower"] = low
    if high is not None:
        clauses.append(f"{key} < :upper")
        params["upper"] = high
    if plan.has_attachment is not None:
        clauses.append("m.has_attachments" if plan.has_attachment else "NOT m.has_attachments")
    if plan.list_ids is not None:
        clauses.append(
            "EXISTS (SELECT 1 FROM message_lists ml WHERE ml.message_pk = m.id "
            "AND ml.list_id IN :list_ids LIMIT 1 OFFSET 0)"
        )
        params["list_ids"] = list(plan.list_ids) or [-1]
    if plan.exclude_list_ids:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM message_lists xl WHERE xl.message_pk = m.id "
            "AND xl.list_id IN :exclude_ids LIMIT 1 OFFSET 0)"
        )
        params["exclude_ids"] = list(plan.exclude_list_ids)
    if plan.message_id is not None:
        clauses.append("m.message_id = :mid")
        params["mid"] = plan.message_id
    return clauses, params


def _pg_match(plan: Plan, params: dict) -> list[str]:
    """The full-text condition on PostgreSQL: one tsquery, or one per document language."""
    options = []
    for index, (language, tsquery) in enumerate(plan.tsqueries):
        parts = []
        if language is not None:
            parts.append(f"m.language = :lang{index}")
            params[f"lang{index}"] = language
        if tsquery:
            parts.append(f"d.tsv @@ to_tsquery('simple', :expr{index})")
            params[f"expr{index}"] = tsquery
        if not parts:
            return []
        options.append(" AND ".join(parts))
    if not options:
        return []
    return [options[0] if len(options) == 1 else "((" + ") OR (".join(options) + "))"]


def _statement(sql: str, params: dict) -> TextClause:
    statement = text(sql)
    for name in ("list_ids", "exclude_ids", "thread_ids"):
        if name in params:
            statement = statement.bindparams(bindparam(name, expanding=True))
    return statement


def _select(plan: Plan, columns: str, lower: int | None, upper: int | None) -> tuple[str, dict]:
    """SELECT ... of the matching documents, newest first (no LIMIT)."""
    if plan.dialect == "sqlite":
        clauses, params = _filters(plan, "f.rowid", lower, upper)
        if plan.message_id is not None:  # one message: look it up, then test the match
            sql = (
                f"SELECT d.sort_key AS sort_key, {columns} FROM messages m "
                "JOIN search_docs d ON d.message_pk = m.id WHERE "
                + " AND ".join(c.replace("f.rowid", "d.sort_key") for c in clauses)
                + " AND EXISTS (SELECT 1 FROM search_fts f WHERE search_fts MATCH :expr "
                "AND f.rowid = d.sort_key) ORDER BY d.sort_key DESC"
            )
            return sql, params | {"expr": plan.expression}
        sql = (
            f"SELECT f.rowid AS sort_key, {columns} FROM search_fts f "
            "JOIN search_docs d ON d.sort_key = f.rowid JOIN messages m ON m.id = d.message_pk "
            "WHERE search_fts MATCH :expr AND " + " AND ".join(clauses) + " ORDER BY f.rowid DESC"
        )
        return sql, params | {"expr": plan.expression}
    clauses, params = _filters(plan, "d.sort_key", lower, upper)
    clauses += _pg_match(plan, params)
    # On the GIN route the date index must not provide the order (it would be walked).
    order = "d.sort_key + 0" if plan.route == search_pg.GIN else "d.sort_key"
    sql = (
        f"SELECT d.sort_key AS sort_key, {columns} FROM search_docs d "
        "JOIN messages m ON m.id = d.message_pk WHERE "
        + " AND ".join(clauses)
        + f" ORDER BY {order} DESC"
    )
    return sql, params


def _run(conn: Connection, plan: Plan, sql: str, params: dict) -> list[Row]:
    """Execute a matching query on the route chosen for it; the rows, fetched."""
    search_pg.apply(conn, plan.route)
    try:
        return conn.execute(_statement(sql, params), params).all()
    finally:
        search_pg.reset(conn, plan.route)


def _walk_floor(
    conn: Connection, plan: Plan, lower: int | None, upper: int | None, rows: int
) -> int | None:
    """The sort key of the `rows`-th newest document in the range, None when there are
    fewer (a date walk tests that many documents)."""
    clauses, params = _filters(replace(plan, list_ids=None, exclude_list_ids=()), "d.sort_key",
                               lower, upper)  # fmt: skip
    clauses = [c for c in clauses if c.startswith("d.")]
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql = f"SELECT d.sort_key FROM search_docs d{where} ORDER BY d.sort_key DESC OFFSET :n LIMIT 1"
    return conn.execute(text(sql), params | {"n": max(rows, 1) - 1}).scalar()


Maker = Callable[[Plan, int | None, int | None], tuple[str, dict]]


def _walk(
    conn: Connection,
    plan: Plan,
    make: Maker,
    lower: int | None,
    upper: int | None,
    limit: int,
    rows: int,
) -> tuple[list[Row], int | None]:
    """Walk the newest `rows` documents of [lower, upper): (matches, the walk's floor or
    None when it reached `lower`)."""
    floor = _walk_floor(conn, plan, lower, upper, rows)
    if floor is None or (lower is not None and floor <= lower):
        floor = None
    sql, params = make(plan, lower if floor is None else floor, upper)
    return _run(conn, plan, sql + " LIMIT :limit", params | {"limit": limit}), floor


def _chunked(
    conn: Connection, plan: Plan, make: Maker, state: search_pg.Chunks, limit: int
) -> tuple[list[Row], int | None]:
    """The newest `limit` matches of the range left from the GIN index, one date chunk at a
    time (see `mailgate.search_pg`), and None, or the lower end of the last chunk when the
    budget of index matches ran out before the range's lower end (a walk of an older chunk
    would read every row of it from disk, the index only the matching ones)."""
    gin = replace(plan, route=search_pg.GIN)
    rows: list[Row] = []
    for attempt in range(search_pg.MAX_CHUNKS + 1):
        wanted = limit - len(rows)
        floor = search_pg.chunk_floor(state, wanted, last=attempt == search_pg.MAX_CHUNKS)
        sql, params = make(gin, state.lower if floor is None else floor, state.upper)
        found = _run(conn, gin, sql + " LIMIT :limit", params | {"limit": wanted})
        rows += found
        if len(rows) >= limit or floor is None:
            return rows, None
        state = state.below(floor, len(found))
        if state.budget is not None and state.budget < search_pg.BUDGET_LEFT_MIN:
            return rows, floor
    return rows, state.upper


def _routed(
    conn: Connection,
    plan: Plan,
    make: Maker,
    lower: int | None,
    upper: int | None,
    limit: int,
    budget: float | None = None,
) -> tuple[list, int | None]:
    """(rows of `make(plan, lower, upper)` LIMIT `limit` newest first, None when every match
    of the range was considered, else the sort key down to which they were). On PostgreSQL
    (see `mailgate.search_pg`) the GIN route asks the index in date chunks; the date walk
    tests the newest documents expected to fill the page (`walk_rows`), then hands the rest
    over to the chunked GIN index. With a `budget`, the chunks stop after about that many
    index matches (a phrase is checked row by row: its words can match far more often)."""
    if plan.route not in (search_pg.WALK, search_pg.GIN):
        sql, params = make(plan, lower, upper)
        return _run(conn, plan, sql + " LIMIT :limit", params | {"limit": limit}), None
    span = key_span(conn)
    if span is None:
        return [], None
    top = min(upper, span[1] + 1) if upper is not None else span[1] + 1
    density = (span[1] + 1 - span[0]) / max(plan.documents or 1.0, 1.0)
    share = min(max(plan.share or 1.0, search_pg.MIN_RATE), 1.0)
    state = search_pg.Chunks(lower, top, 0.0, 0, density, span[0], share, budget)
    rows: list[Row] = []
    walked = search_pg.walk_rows(limit, plan.share) if plan.route == search_pg.WALK else 0
    if walked:
        rows, floor = _walk(conn, plan, make, lower, upper, limit, walked)
        if len(rows) >= limit or floor is None:
            return rows, None
        state = replace(state, upper=floor, covered=float(walked), found=len(rows),
                        density=max((top - floor) / walked, 1.0))  # fmt: skip
    more, stopped = _chunked(conn, plan, make, state, limit - len(rows))
    return rows + more, stopped


def candidates(
    conn: Connection,
    plan: Plan,
    *,
    limit: int,
    lower: int | None = None,
    upper: int | None = None,
    columns: Sequence[str] = (),
) -> list[Candidate]:
    """Matching documents newest first, at most `limit`, within [lower, upper), with the
    analysed `columns` asked for (and the body's length when any is asked for)."""
    return window(conn, plan, limit=limit, lower=lower, upper=upper, columns=columns)[0]


def window(
    conn: Connection,
    plan: Plan,
    *,
    limit: int,
    lower: int | None = None,
    upper: int | None = None,
    columns: Sequence[str] = (),
    budget: float | None = None,
    page: int = 0,
) -> tuple[list[Candidate], int | None]:
    """`candidates`, and None, or with a `budget` of index matches on PostgreSQL the sort key
    down to which matches were looked for when it ran out first (see `_routed`); when that
    found at most `page` matches, it looks on for one more than a page, without a budget."""
    wanted = [c for c in STORED_COLUMNS if c in columns]
    select = "d.message_pk AS message_pk, m.thread_id AS thread_id, m.language AS language"
    if wanted:
        select += ", length(d.body) AS body_length"
        select += "".join(f", d.{c} AS {c}" for c in wanted)
    bottom, top = _bound(plan, lower, upper)

    def make(query_plan: Plan, low: int | None, high: int | None) -> tuple[str, dict]:
        return _select(query_plan, select, low, high)

    rows, stopped = _routed(conn, plan, make, bottom, top, limit, budget)
    if stopped is not None and len(rows) <= page:
        more, _ = _routed(conn, plan, make, bottom, stopped, page + 1 - len(rows))
        rows = rows + more
        stopped = rows[-1].sort_key if len(rows) > page else None
    found = [
        Candidate(
            row.sort_key,
            row.message_pk,
            row.thread_id,
            row.language,
            {c: getattr(row, c) for c in wanted},
            row.body_length if wanted else 0,
        )
        for row in rows
    ]
    return found, stopped


def count(
    conn: Connection, plan: Plan, *, cap: int, upper: int | None = None
) -> tuple[int, int | None, bool]:
    """(matches counted up to cap + 1, sort key of the last one counted, whether the count
    covers the whole range: on PostgreSQL it stops after `search_pg.COUNT_BUDGET` index
    matches)."""
    bottom, top = _bound(plan, None, upper)

    def make(query_plan: Plan, low: int | None, high: int | None) -> tuple[str, dict]:
        return _select(query_plan, "d.message_pk", low, high)

    rows, stopped = _routed(conn, plan, make, bottom, top, cap + 1, search_pg.COUNT_BUDGET)
    if stopped is not None:  # where counting stopped
        return len(rows), stopped, False
    return len(rows), (rows[-1].sort_key if rows else None), True


def key_span(conn: Connection) -> tuple[int, int] | None:
    """The smallest and largest sort key in the index (None when it is empty)."""
    # Two queries: SQLite answers min() or max() alone from the index, not both together.
    low = conn.execute(text("SELECT min(sort_key) FROM search_docs")).scalar()
    high = conn.execute(text("SELECT max(sort_key) FROM search_docs")).scalar()
    return None if low is None else (int(low), int(high))


def thread_matches(
    conn: Connection, plan: Plan, thread_ids: Sequence[int], lower: int | None = None
) -> dict[int, int]:
    """How many matching messages each of `thread_ids` has (at or above sort key `lower`);
    threads without any are left out. Walks the threads' messages, not the whole index."""
    if not thread_ids:
        return {}
    clauses, params = _filters(plan, "d.sort_key", lower, None)
    clauses.append("m.thread_id IN :thread_ids")
    params["thread_ids"] = list(thread_ids)
    if plan.dialect == "sqlite":
        clauses.append(
            "EXISTS (SELECT 1 FROM search_fts f WHERE search_fts MATCH :expr "
            "AND f.rowid = d.sort_key)"
        )
        params["expr"] = plan.expression
    else:
        clauses += _pg_match(plan, params)
    sql = (
        "SELECT m.thread_id, count(*) FROM messages m JOIN search_docs d "
        "ON d.message_pk = m.id WHERE " + " AND ".join(clauses) + " GROUP BY m.thread_id"
    )
    return {row[0]: row[1] for row in conn.execute(_statement(sql, params), params)}


def prepare(conn: Connection) -> None:
    """Per-transaction settings on PostgreSQL: plan each query for its own words (their
    frequencies decide between the GIN index and walking the dates); give bitmaps enough
    memory to stay exact (a lossy bitmap rechecks every row of its pages); let bitmap scans
    ask the operating system for the pages they will read next (`SEARCH_PREFETCH` at once,
    where the server can prefetch at all: its own setting is not 0); no JIT and no parallel
    workers (a LIMIT query that stops early pays their start-up for nothing)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
                f"set_config('work_mem', '{SEARCH_WORK_MEM}', true), "
                "set_config('effective_io_concurrency', CASE WHEN "
                "current_setting('effective_io_concurrency')::int = 0 THEN '0' ELSE "
                "greatest(current_setting('effective_io_concurrency')::int, "
                f"{SEARCH_PREFETCH})::text END, true), "
                "set_config('jit', 'off', true), "
                "set_config('max_parallel_workers_per_gather', '0', true)"
            )
        )


def list_names(conn: Connection) -> dict[int, str]:
    """Every list in the database: name by id."""
    return {row[0]: row[1] for row in conn.execute(text("SELECT id, name FROM mailing_lists"))}


def extrapolate(conn: Connection, plan: Plan, matched: int, lowest: int) -> int:
    """`matched` documents were found from the newest down to key `lowest`: assume the same
    rate over the whole date range of the query."""
    span = key_span(conn)
    if span is None:
        return matched
    low = max(plan.lower or span[0], span[0]) >> SORT_KEY_SHIFT
    high = min(plan.upper or span[1] + 1, span[1] + 1) >> SORT_KEY_SHIFT
    covered = high - (lowest >> SORT_KEY_SHIFT)
    if covered <= 0 or high <= low:
        return matched
    return max(matched + 1, round(matched * (high - low) / covered))
