"""Import benchmark: messages/s and peak RSS importing the openwrt-devel archive.

Usage: python bench/import.py [--archive PATH] [--backend sqlite|postgresql|both] [--jobs N]
                              [--runs N]

Each backend gets a fresh database; the script prints the summary (imported, duplicates,
quarantined with reasons), the rate, the CPU time per message of the importing process, of
its workers and, on PostgreSQL, of the local server's processes (with the rate the machine's
cores allow at that cost: the import is CPU-bound), the peak RSS of the importing process and
of its worker processes, and the rate of a second, no-op import of the same archive. With
`--runs N` it does so N times, one backend after the other in each round, and ends with the
median import rates and the PostgreSQL ÷ SQLite ratio of each round (this machine's speed
varies from run to run). Thread agreement is checked in the first round.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate import store
from mailgate.bulk import import_messages
from mailgate.config import Settings, with_list
from mailgate.db import open_database
from mailgate.ingest.mbox import read_archive
from mailgate.models import Message
from mailgate.pipeline import list_contexts
from tests.threading_check import compare, reference_groups

DEFAULT_ARCHIVE = (
    Path(__file__).resolve().parent.parent.parent
    / "shared"
    / "corpus"
    / "openwrt-devel"
    / "openwrt-devel-2019-2020.mbox.gz"
)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _run(url: str, archive: Path, jobs: int | None, check_threads: bool = True) -> float:
    """Import the archive twice into a fresh database; returns the rate of the first import."""
    settings = with_list(Settings(data_dir=Path(tempfile.mkdtemp()), database_url=url), "bench")
    db = open_database(settings)
    with db.engine.begin() as conn:
        ctx = list_contexts(settings, store.sync_lists(conn, settings.lists))["bench"]
    server = db.dialect == "postgresql"
    rates = []
    for label in ("import", "re-import"):
        cpu = _cpu(server)
        start = time.perf_counter()
        summary = import_messages(
            db,
            ctx,
            ((m.raw, m.arrival) for m in read_archive(archive)),
            source="bench",
            workers=jobs,
        )
        elapsed = time.perf_counter() - start
        cpu = tuple(after - before for after, before in zip(_cpu(server), cpu, strict=True))
        print(
            f"  {label}: {summary.total} messages in {elapsed:.1f} s = "
            f"{summary.total / elapsed:,.0f} msg/s (imported {summary.imported}, duplicates "
            f"{summary.duplicates}, quarantined {summary.quarantined})"
        )
        for reason, count in summary.reasons.items():
            print(f"    quarantined {count}: {reason}")
        _print_cpu(summary.total, elapsed, *cpu)
        rates.append(summary.total / elapsed)
    if check_threads:
        _agreement(db, archive)
    db.dispose()
    return rates[0]


def _cpu(server: bool) -> tuple[float, float, float]:
    """CPU seconds used so far by this process (the reader and the writer), by its ended
    child processes (the preparing workers, counted once their pool has shut down) and, if
    `server`, by the local PostgreSQL server's processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = time.process_time()
    return own, children.ru_utime + children.ru_stime, _server_cpu() if server else 0.0


def _server_cpu() -> float:
    """CPU seconds of the running processes named ``postgres`` (Linux `/proc`; 0 elsewhere).
    Processes that end during the import (autovacuum workers) are missed."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:  # the process ended meanwhile
            continue
        if fields[0].endswith("(postgres"):
            total += sum(int(tick) for tick in fields[1].split()[11:13])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.0


def _print_cpu(messages: int, elapsed: float, own: float, workers: float, server: float) -> None:
    """Where the CPU went, and the rate the machine's cores allow at that much CPU a message:
    the import is CPU-bound, so that bound is what a faster import has to lower."""
    cores = os.cpu_count() or 1
    total = own + workers + server
    if not messages or not total:
        return
    parts = [
        f"importer {own / messages * 1e3:.2f}",
        f"preparing workers {workers / messages * 1e3:.2f}",
    ]
    if server:
        parts.append(f"PostgreSQL server {server / messages * 1e3:.2f}")
    print(
        f"    CPU ms/msg: {', '.join(parts)}; {total / elapsed:.2f} of {cores} cores busy; at "
        f"{total / messages * 1e3:.2f} ms a message, {cores} cores allow at most "
        f"{cores * messages / total:,.0f} msg/s"
    )


def _agreement(db, archive: Path) -> None:
    """How the threads compare with plain References/In-Reply-To grouping."""
    with db.reader() as session:
        threads = dict(session.execute(select(Message.message_id, Message.thread_id)).all())
    groups = reference_groups(m.raw for m in read_archive(archive))
    total, split, joined = compare(groups, threads)
    print(
        f"  threads vs References/In-Reply-To: {total} reference groups, {split} split, "
        f"{joined} threads joining several groups (Thread-Index or subject)"
    )


def _postgres_url() -> tuple[str, str]:
    name = f"mailgate_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def _drop(name: str) -> None:
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _sqlite(archive: Path, jobs: int | None, first: bool) -> float:
    print("SQLite:")
    with tempfile.TemporaryDirectory() as tmp:
        return _run(f"sqlite:///{tmp}/bench.db", archive, jobs, first)


def _postgresql(archive: Path, jobs: int | None, first: bool) -> float:
    print("PostgreSQL:")
    url, name = _postgres_url()
    try:
        return _run(url, archive, jobs, first)
    finally:
        _drop(name)


def _summary(rates: dict[str, list[float]]) -> None:
    """The median, least and greatest import rates of several rounds, and the PostgreSQL ÷
    SQLite ratio of each round (both ran one after the other, so the machine was alike)."""
    for backend, values in rates.items():
        print(
            f"{backend} import over {len(values)} runs: median {statistics.median(values):,.0f} "
            f"msg/s (least {min(values):,.0f}, greatest {max(values):,.0f})"
        )
    if len(rates) == 2:
        ratios = ", ".join(f"{pg / lite:.2f}" for lite, pg in zip(*rates.values(), strict=True))
        print(f"PostgreSQL ÷ SQLite, round by round: {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--runs", type=int, default=1, help="rounds (each on fresh databases)")
    args = parser.parse_args()
    if not args.archive.exists():
        sys.exit(f"archive not found: {args.archive}")
    backends = {"SQLite": _sqlite, "PostgreSQL": _postgresql}
    if args.backend != "both":
        backends = {k: v for k, v in backends.items() if k.lower() == args.backend}
    rates: dict[str, list[float]] = {name: [] for name in backends}
    for round_number in range(max(args.runs, 1)):
        for name, run in backends.items():
            rates[name].append(run(args.archive, args.jobs, round_number == 0))
    if args.runs > 1:
        _summary(rates)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: importer {own:.0f} MB, largest worker {workers:.0f} MB")


if __name__ == "__main__":
    main()
