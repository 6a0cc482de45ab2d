"""Search benchmark: p50/p95/p99 latency of `mailgate.search` on a synthetic archive.

Usage: python bench/search.py [--messages 1000000] [--backend sqlite|postgresql|both]
       [--queries 240] [--rebuild] [--optimize] [--cache-dir bench/.cache] [--seed 7]

The archive (see `bench/search_corpus.py`) is built once per backend and kept: SQLite in
`<cache-dir>/search-<N>.db`, PostgreSQL in the database `mailgate_bench_search_<N>` at
$MAILGATE_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres); pass
--rebuild to build it again. Rows go in through SQLAlchemy in bulk (executemany batches with
relaxed PRAGMAs on SQLite, COPY on PostgreSQL, the GIN index built after the load).

The queries mix rare, common and very common words, AND/OR/exclusion, phrases, from:, list:,
subject:, has:attachment and date ranges, searched as an anonymous reader (the private list is
filtered out), 20 hits per page with snippets and the total, in relevance order and newest
first. Each query runs once per order in a first pass (caches as the build left them) and
again in a second pass (warm). The script prints the build time (when it builds), the load
average, wall-clock latency percentiles overall and per kind of query, and the CPU time of
the client process (the database server's is not included on PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import search_load
from bench.search_corpus import LISTS, Writer, person
from mailgate.access import ANONYMOUS
from mailgate.config import ListConfig, Settings
from mailgate.db import open_database
from mailgate.search import search

PG_ADMIN = os.environ.get(
    "MAILGATE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2025, 7, 1, tzinfo=UTC)
CATEGORY_SIZES = {
    "rare word": 30,
    "common word": 30,
    "very common word": 20,
    "two words": 20,
    "or / exclusion": 15,
    "phrase": 20,
    "from:": 20,
    "list:": 20,
    "subject:": 20,
    "date range": 25,
    "has:attachment": 10,
    "filters only": 10,
}


def bench_settings(url: str, data_dir: Path) -> Settings:
    lists = tuple(
        ListConfig(
            name=name,
            address=f"{name}@lists.example.org",
            language=language,
            visibility=visibility,
            readers=("board-member",) if visibility == "private" else (),
        )
        for name, language, _share, visibility in LISTS
    )
    return Settings(data_dir=data_dir, database_url=url, lists=lists, timezone="Europe/Paris")


def _pick(rng: random.Random, words: list[str], low: int, high: int) -> str:
    return words[rng.randrange(low, min(high, len(words)))]


def make_queries(db, seed: int, count: int) -> list[tuple[str, str]]:
    """(category, query) pairs, deterministic for a seed."""
    rng = random.Random(seed * 31 + 1)
    writer = Writer(seed)
    with db.reader() as session:
        texts = (
            session.execute(
                text("SELECT own_text FROM bodies WHERE message_pk % 997 = 3 LIMIT 400")
            )
            .scalars()
            .all()
        )
    bigrams = []
    for own in texts:
        words = [w.strip(".,") for w in own.split() if w.strip(".,").isalpha()]
        if len(words) > 4:
            start = rng.randrange(len(words) - 2)
            bigrams.append(f'"{words[start]} {words[start + 1]}"')
    queries: list[tuple[str, str]] = []
    scale = count / sum(CATEGORY_SIZES.values())
    for category, size in CATEGORY_SIZES.items():
        for _ in range(max(1, round(size * scale))):
            vocab = writer.vocab[rng.choice(("fr", "en"))].words
            queries.append((category, _query(category, rng, vocab, bigrams)))
    return queries


def _query(category: str, rng: random.Random, vocab: list[str], bigrams: list[str]) -> str:
    rare = _pick(rng, vocab, 20_000, 60_000)
    common = _pick(rng, vocab, 100, 2_000)
    very = _pick(rng, vocab, 0, 40)
    year = rng.randrange(2013, 2025)
    month = rng.randrange(1, 12)
    name, address = person(rng.randrange(2_000))
    lst = rng.choice([n for n, _l, _s, vis in LISTS if vis == "public"])
    return {
        "rare word": rare,
        "common word": common,
        "very common word": very,
        "two words": f"{common} {_pick(rng, vocab, 60, 5_000)}",
        "or / exclusion": rng.choice(
            [f"{common} OR {rare}", f"{common} -{_pick(rng, vocab, 60, 500)}", f"{very} -{common}"]
        ),
        "phrase": rng.choice(bigrams) if bigrams else f'"{very} {common}"',
        "from:": rng.choice(
            [f"from:{address}", f'from:"{name}" {common}', f"from:{address} {very}"]
        ),
        "list:": rng.choice([f"list:{lst} {common}", f"list:{lst} {very}", f"list:{lst} {rare}"]),
        "subject:": rng.choice([f"subject:{common}", f"subject:{common} {very}"]),
        "date range": rng.choice(
            [
                f"{common} date:{year}-{month:02d}..{year}-{month + 1:02d}",
                f"{very} after:{year}-{month:02d}-01 before:{year}-{month:02d}-15",
                f"{common} before:{year}",
                f"{rare} after:{year}",
            ]
        ),
        "has:attachment": rng.choice([f"has:attachment {common}", f"{very} has:attachment"]),
        "filters only": rng.choice(
            [
                f"list:{lst}",
                f"list:{lst} date:{year}-{month:02d}",
                "has:attachment",
                f"after:{year}",
            ]
        ),
    }[category]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run_queries(db, settings, queries, order: str) -> tuple[dict, list[float]]:
    """Wall-clock ms per category, and this process's CPU ms per query."""
    timings: dict[str, list[float]] = {}
    cpu = []
    for category, query in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        with db.reader() as session:
            search(session.connection(), settings, query, viewer=ANONYMOUS, now=NOW, order=order)
        timings.setdefault(category, []).append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return timings, cpu


def report(label: str, timings: dict[str, list[float]], cpu: list[float]) -> None:
    every = [t for values in timings.values() for t in values]
    print(
        f"  {label}: {len(every)} queries  p50 {percentile(every, 0.5):.1f} ms  "
        f"p95 {percentile(every, 0.95):.1f} ms  p99 {percentile(every, 0.99):.1f} ms  "
        f"max {max(every):.1f} ms  mean {statistics.fmean(every):.1f} ms  "
        f"(client CPU p50 {percentile(cpu, 0.5):.1f} ms, p95 {percentile(cpu, 0.95):.1f} ms)"
    )
    for category, values in timings.items():
        print(
            f"    {category:17} n={len(values):3}  p50 {percentile(values, 0.5):7.1f}  "
            f"p95 {percentile(values, 0.95):7.1f}  max {max(values):7.1f} ms"
        )


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def database_url(backend: str, count: int, cache: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{(cache / f'search-{count}.db').resolve()}"
    return (
        make_url(PG_ADMIN)
        .set(database=f"mailgate_bench_search_{count}")
        .render_as_string(hide_password=False)
    )


def ensure_pg_database(url: str, rebuild: bool) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        query = text("SELECT 1 FROM pg_database WHERE datname = :n")
        exists = conn.execute(query, {"n": name}).first() is not None
        if exists and rebuild:
            conn.execute(text(f'DROP DATABASE "{name}"'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--optimize", action="store_true", help="merge FTS5 segments (SQLite)")
    parser.add_argument("--cache-dir", type=Path, default=Path(__file__).parent / ".cache")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(f"search benchmark: {args.messages:,} messages, {os.cpu_count()} CPUs")
    for backend in backends:
        url = database_url(backend, args.messages, args.cache_dir)
        if backend == "sqlite" and args.rebuild:
            for suffix in ("", "-wal", "-shm", ".json"):
                Path(make_url(url).database + suffix).unlink(missing_ok=True)
        if backend == "postgresql":
            ensure_pg_database(url, args.rebuild)
        settings = bench_settings(url, args.cache_dir)
        db = open_database(settings)
        built = search_load.ensure_archive(db, settings, args.messages, args.seed, args.workers)
        if built:
            print(f"{backend}: built in {built:.0f} s")
        if backend == "sqlite" and args.optimize:
            search_load.optimize(db)
        print(f"{backend}: {json.dumps(search_load.describe(db))}")
        queries = make_queries(db, args.seed, args.queries)
        for attempt in ("first pass", "second pass"):
            print(f"{backend} {attempt} (load average {load_average()})")
            for order in ("relevance", "newest"):
                report(order, *run_queries(db, settings, queries, order))
        db.dispose()


if __name__ == "__main__":
    main()
