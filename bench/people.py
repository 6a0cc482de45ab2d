"""People benchmark: what profile upkeep adds to import time, and who-knows latency.

Usage: python bench/people.py [--archive PATH] [--messages N] [--compare N] [--jobs N]
                              [--database sqlite|postgresql]

Reads the openwrt-devel archive (../shared/corpus) and synthesises a larger one by repeating
it with rewritten Message-IDs (each copy is its own set of threads). First `--compare`
messages are imported twice into fresh databases, with and without the people upkeep
(identities, names, topic terms), and the overhead is printed. Then an archive of
`--messages` messages is built with upkeep on and "who knows about X?" is timed for a set of
queries (technical words and people's own top topics): p50, p95 and max.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate import access, pipeline, store
from mailgate.bulk import import_messages
from mailgate.config import Settings, with_list
from mailgate.db import open_database
from mailgate.ingest.mbox import read_archive
from mailgate.people import upkeep as people_upkeep
from mailgate.people import who_knows
from mailgate.people.topics import topics_of
from mailgate.people_models import Person
from mailgate.pipeline import list_contexts

ARCHIVE_NAME = Path("shared/corpus/openwrt-devel/openwrt-devel-2019-2020.mbox.gz")
DEFAULT_ARCHIVE = next(
    (
        parent / ARCHIVE_NAME
        for parent in Path(__file__).resolve().parents
        if (parent / ARCHIVE_NAME).exists()
    ),
    ARCHIVE_NAME,
)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WORDS = (
    "kernel", "wifi", "ath10k", "mt76", "firmware", "uboot", "switch", "dsa", "patch",
    "bootloader", "ramips", "ubus", "procd", "toolchain", "musl", "luci", "vlan", "ipq40xx",
    "sysupgrade", "nand", "openssl", "flash layout", "device tree", "ethernet driver",
)  # fmt: skip
TOPIC_QUERIES = 40
_IDS = re.compile(rb"^(message-id|in-reply-to|references):(.*(?:\n[ \t].*)*)", re.I | re.M)


def _copies(raws: list[bytes], total: int) -> Iterator[tuple[bytes, None]]:
    """`total` messages: the archive, then copies whose Message-IDs carry a copy number."""
    for index in range(total):
        copy, raw = divmod(index, len(raws))
        raw = raws[raw]
        if copy:
            head, sep, body = raw.partition(b"\n\n")
            head = _IDS.sub(lambda m, c=copy: m.group(0).replace(b">", f".c{c}>".encode()), head)
            raw = head + sep + body
        yield raw, None


def _database(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    name = f"mailgate_bench_{uuid.uuid4().hex[:10]}"
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _import(kind: str, raws: list[bytes], count: int, jobs: int | None, people_on: bool):
    settings = with_list(Settings(database_url=_database(kind)), "bench")
    db = open_database(settings)
    with db.engine.begin() as conn:
        ctx = list_contexts(settings, store.sync_lists(conn, settings.lists))["bench"]
    saved = (pipeline.people_terms.message_terms, people_upkeep.PendingPeople.person_id,
             people_upkeep.PendingPeople.add_terms)  # fmt: skip
    if not people_on:  # the pipeline as it was without profiles
        pipeline.people_terms.message_terms = lambda text, language: ()
        people_upkeep.PendingPeople.person_id = lambda self, conn, name, addr, canonical: None
        people_upkeep.PendingPeople.add_terms = lambda self, *args: None
    try:
        start = time.perf_counter()
        summary = import_messages(db, ctx, _copies(raws, count), source="bench", workers=jobs)
        elapsed = time.perf_counter() - start
    finally:
        (pipeline.people_terms.message_terms, people_upkeep.PendingPeople.person_id,
         people_upkeep.PendingPeople.add_terms) = saved  # fmt: skip
    return settings, db, elapsed, summary


def _queries(db, settings, scope: list[int]) -> list[str]:
    with db.reader() as session:
        conn = session.connection()
        ids = list(conn.execute(select(Person.id).order_by(func.random()).limit(TOPIC_QUERIES)))
        topics = [topics_of(conn, pid, scope, limit=1) for (pid,) in ids]
    picked = [t[0].display for t in topics if t and t[0].display.replace(" ", "").isalnum()]
    return [*WORDS, *picked]


def _who_knows_latency(db, settings) -> list[float]:
    with db.reader() as session:
        scope = access.visible_list_ids(session.connection(), settings, access.ANONYMOUS)
    queries = _queries(db, settings, scope)
    random.Random(7).shuffle(queries)
    timings = []
    for query in queries * 2:  # the second round runs warm
        with db.reader() as session:
            start = time.perf_counter()
            who_knows(session.connection(), settings, query, scope=scope)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--compare", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    raws = [m.raw for m in read_archive(args.archive)]
    print(f"archive: {len(raws)} messages; database: {args.database}")
    times = {}
    for people_on in (False, True, False, True):
        _s, db, elapsed, summary = _import(args.database, raws, args.compare, args.jobs, people_on)
        db.dispose()
        times.setdefault(people_on, []).append(elapsed)
        label = "with people upkeep" if people_on else "without people upkeep"
        print(f"  import {summary.imported} messages {label}: {elapsed:.1f} s "
              f"({summary.imported / elapsed:,.0f} msg/s)")  # fmt: skip
    base, with_people = min(times[False]), min(times[True])
    print(f"people upkeep adds {100 * (with_people / base - 1):.1f}% to import time "
          f"(best of 2 each; limit 20%)")  # fmt: skip
    settings, db, elapsed, summary = _import(args.database, raws, args.messages, args.jobs, True)
    print(f"archive of {summary.imported} messages built in {elapsed:.0f} s")
    timings = _who_knows_latency(db, settings)
    p95 = statistics.quantiles(timings, n=20)[18]
    print(f"who-knows over {len(timings)} queries: p50 {statistics.median(timings):.1f} ms, "
          f"p95 {p95:.1f} ms, max {max(timings):.1f} ms (limit p95 200 ms)")  # fmt: skip
    db.dispose()


if __name__ == "__main__":
    main()
