"""Import benchmark: messages/s and peak RSS importing the openwrt-devel archive.

Usage: python bench/import.py [--archive PATH] [--backend sqlite|postgresql|both] [--jobs N]

Each backend gets a fresh database; the script prints the summary (imported, duplicates,
quarantined with reasons), the rate, the peak RSS of the importing process and of its worker
processes, and the rate of a second, no-op import of the same archive.
"""

from __future__ import annotations

import argparse
import resource
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


def _run(url: str, archive: Path, jobs: int | None) -> None:
    settings = with_list(Settings(data_dir=Path(tempfile.mkdtemp()), database_url=url), "bench")
    db = open_database(settings)
    with db.engine.begin() as conn:
        ctx = list_contexts(settings, store.sync_lists(conn, settings.lists))["bench"]
    for label in ("import", "re-import"):
        start = time.perf_counter()
        summary = import_messages(
            db,
            ctx,
            ((m.raw, m.arrival) for m in read_archive(archive)),
            source="bench",
            workers=jobs,
        )
        elapsed = time.perf_counter() - start
        print(
            f"  {label}: {summary.total} messages in {elapsed:.1f} s = "
            f"{summary.total / elapsed:,.0f} msg/s (imported {summary.imported}, duplicates "
            f"{summary.duplicates}, quarantined {summary.quarantined})"
        )
        for reason, count in summary.reasons.items():
            print(f"    quarantined {count}: {reason}")
    _agreement(db, archive)
    db.dispose()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    if not args.archive.exists():
        sys.exit(f"archive not found: {args.archive}")
    if args.backend in ("sqlite", "both"):
        print("SQLite:")
        with tempfile.TemporaryDirectory() as tmp:
            _run(f"sqlite:///{tmp}/bench.db", args.archive, args.jobs)
    if args.backend in ("postgresql", "both"):
        print("PostgreSQL:")
        url, name = _postgres_url()
        try:
            _run(url, args.archive, args.jobs)
        finally:
            _drop(name)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: importer {own:.0f} MB, largest worker {workers:.0f} MB")


if __name__ == "__main__":
    main()
