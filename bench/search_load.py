"""Bulk loading of the synthetic search archive (`bench/search_corpus.py`), once per database.

Rows are generated in worker processes and written by this process through SQLAlchemy:
executemany batches in large transactions on SQLite (synchronous=OFF, a big page cache; the
FTS5 triggers index as rows arrive), COPY on PostgreSQL with the GIN index dropped during the
load and built afterwards, then sequences set, VACUUM ANALYZE.
"""

from __future__ import annotations

import multiprocessing
import sys
import time

from sqlalchemy import insert, text

from bench import search_corpus as corpus
from mailgate import store
from mailgate.models import Base

CHUNK = 2_000
CHUNKS_PER_TRANSACTION = 10
TABLES = (
    "raw",
    "deliveries",
    "messages",
    "bodies",
    "recipients",
    "attachments",
    "message_lists",
    "search_docs",
    "thread_nodes",
)
TABLE_NAMES = {"raw": "raw_messages"}
SERIAL_TABLES = ("raw_messages", "deliveries", "messages", "threads", "recipients", "attachments")
_state: dict = {}


def _job(bounds: tuple[int, int]) -> corpus.Rows:
    return corpus.rows(_state["skeleton"], _state["writer"], *bounds, _state["list_ids"])


def complete(db, count: int) -> bool:
    with db.engine.connect() as conn:
        messages = conn.execute(text("SELECT count(*) FROM messages")).scalar()
        threads = conn.execute(text("SELECT count(*) FROM threads")).scalar()
    return messages == count and threads > 0


def ensure_archive(db, settings, count: int, seed: int, workers: int) -> float:
    """Build the archive unless it is already there; the build time in seconds, or 0."""
    if complete(db, count):
        return 0.0
    start = time.perf_counter()
    _empty(db)
    with db.engine.begin() as conn:
        ids = store.sync_lists(conn, settings.lists)
    list_ids = [ids[name] for name, _lang, _share, _vis in corpus.LISTS]
    skeleton = corpus.structure(count, seed)
    writer = corpus.Writer(seed)
    _state.update(skeleton=skeleton, writer=writer, list_ids=list_ids)
    chunks = [(a, min(a + CHUNK, count)) for a in range(0, count, CHUNK)]
    context = multiprocessing.get_context("fork")
    with context.Pool(max(1, workers)) as pool:
        stream = pool.imap(_job, chunks) if workers > 1 else map(_job, chunks)
        if db.dialect == "sqlite":
            _load_sqlite(db, stream, count)
        else:
            _load_postgres(db, stream, count)
    threads, thread_lists = corpus.thread_rows(skeleton, writer, list_ids)
    _write_rows(db, {"threads": threads, "thread_lists": thread_lists})
    _finish(db)
    return time.perf_counter() - start


def _empty(db) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "mailing_lists":
                conn.execute(table.delete())


def _progress(done: int, count: int, start: float) -> None:
    rate = done / max(time.perf_counter() - start, 1e-9)
    print(f"\r  {done:,}/{count:,} messages, {rate:,.0f}/s", end="", file=sys.stderr, flush=True)


def _tables() -> dict:
    return {t.name: t for t in Base.metadata.sorted_tables}


def _load_sqlite(db, stream, count: int) -> None:
    tables = _tables()
    start, done = time.perf_counter(), 0
    with db.engine.connect() as conn:
        driver = conn.connection.driver_connection
        driver.execute("PRAGMA synchronous=OFF")
        driver.execute("PRAGMA cache_size=-524288")
        transaction = conn.begin()
        for number, rows in enumerate(stream, start=1):
            for name in TABLES:
                values = getattr(rows, name)
                if values:
                    conn.execute(insert(tables[TABLE_NAMES.get(name, name)]), values)
            done += len(rows.messages)
            _progress(done, count, start)
            if number % CHUNKS_PER_TRANSACTION == 0:
                transaction.commit()
                transaction = conn.begin()
        transaction.commit()
    print(file=sys.stderr)


def _copy(cursor, table, values: list[dict]) -> None:
    if not values:
        return
    columns = list(values[0])
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in values:
            copy.write_row([row[c] for c in columns])


def _load_postgres(db, stream, count: int) -> None:
    start, done = time.perf_counter(), 0
    with db.engine.connect() as conn:
        conn.execute(text("DROP INDEX IF EXISTS ix_search_docs_tsv"))
        conn.commit()
        driver = conn.connection.driver_connection
        for number, rows in enumerate(stream, start=1):
            with driver.cursor() as cursor:
                for name in TABLES:
                    _copy(cursor, TABLE_NAMES.get(name, name), getattr(rows, name))
            done += len(rows.messages)
            _progress(done, count, start)
            if number % CHUNKS_PER_TRANSACTION == 0:
                driver.commit()
        driver.commit()
    print(file=sys.stderr)


def _write_rows(db, by_table: dict[str, list[dict]]) -> None:
    tables = _tables()
    with db.engine.begin() as conn:
        for name, values in by_table.items():
            for offset in range(0, len(values), 10_000):
                conn.execute(insert(tables[name]), values[offset : offset + 10_000])


def _finish(db) -> None:
    if db.dialect == "sqlite":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        return
    with db.engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '1GB'"))
        print("  building the GIN index", file=sys.stderr)
        conn.execute(text("CREATE INDEX ix_search_docs_tsv ON search_docs USING gin (tsv)"))
        for table in SERIAL_TABLES:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def optimize(db) -> None:
    """Merge the FTS5 index into one segment (what a maintenance job would do)."""
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO search_fts(search_fts) VALUES ('optimize')"))


def describe(db) -> dict:
    """Sizes of the archive, for the report."""
    with db.engine.connect() as conn:
        info = {
            "messages": conn.execute(text("SELECT count(*) FROM messages")).scalar(),
            "threads": conn.execute(text("SELECT count(*) FROM threads")).scalar(),
        }
        if db.dialect == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar()
            info["size_mb"] = round(pages * size / 2**20)
        else:
            info["size_mb"] = round(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar() / 2**20
            )
    return info
