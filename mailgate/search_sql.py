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

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from mailgate.search_rank import Candidate

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


def _bound(plan: Plan, lower: int | None, upper: int | None) -> tuple[int | None, int | None]:
    lows = [v for v in (lower, plan.lower) if v is not None]
    highs = [v for v in (upper, plan.upper) if v is not None]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _filters(plan: Plan, key: str, lower: int | None, upper: int | None) -> tuple[list, dict]:
    """WHERE clauses (besides the full-text match) over `d` (search_docs), `m` (messages)."""
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
            "AND ml.list_id IN :list_ids)"
        )
        params["list_ids"] = list(plan.list_ids) or [-1]
    if plan.exclude_list_ids:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM message_lists xl WHERE xl.message_pk = m.id "
            "AND xl.list_id IN :exclude_ids)"
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


def _statement(sql: str, params: dict):  # type: ignore[no-untyped-def]
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
    sql = (
        f"SELECT d.sort_key AS sort_key, {columns} FROM search_docs d "
        "JOIN messages m ON m.id = d.message_pk WHERE "
        + " AND ".join(clauses)
        + " ORDER BY d.sort_key DESC"
    )
    return sql, params


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
    wanted = [c for c in STORED_COLUMNS if c in columns]
    select = "d.message_pk AS message_pk, m.thread_id AS thread_id, m.language AS language"
    if wanted:
        select += ", length(d.body) AS body_length"
        select += "".join(f", d.{c} AS {c}" for c in wanted)
    sql, params = _select(plan, select, lower, upper)
    rows = conn.execute(_statement(sql + " LIMIT :limit", params), params | {"limit": limit})
    return [
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


def count(
    conn: Connection, plan: Plan, *, cap: int, upper: int | None = None
) -> tuple[int, int | None]:
    """(number of matches counted up to cap + 1, sort key of the last one counted)."""
    sql, params = _select(plan, "d.message_pk", None, upper)
    sql = f"SELECT count(*), min(sort_key) FROM ({sql} LIMIT :cap) AS counted"
    matched, lowest = conn.execute(_statement(sql, params), params | {"cap": cap + 1}).one()
    return int(matched), lowest


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
    """Per-transaction settings: on PostgreSQL plan each query for its own values."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def list_names(conn: Connection) -> dict[int, str]:
    """Every list in the database: name by id."""
    return {row[0]: row[1] for row in conn.execute(text("SELECT id, name FROM mailing_lists"))}
