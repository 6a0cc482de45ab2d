"""Digest benchmark: render and hand 10,000 personalized digests to a loopback SMTP sink.

Usage: python bench/digest.py [--backend sqlite|postgresql] [--messages 100000]
       [--subscribers 10000] [--cache-dir bench/.cache] [--rebuild] [--seed 7] [--profile]

The archive is the synthetic one of `bench/search_corpus.py` (eight lists in French and
English, one private, reply chains, hidden messages), built once through the bulk loader of
`bench/search_load.py` and kept: SQLite in `<cache-dir>/digest-<N>.db`, PostgreSQL in the
database `mailgate_bench_digest_<N>`. Each run starts from no subscriptions, no digest runs and
an empty outbox, then subscribes `--subscribers` readers (authors of the archive, so their own
threads and replies to them rank first): 60% daily digests of every list they may see, 25%
daily digests of one list, 15% weekly digests (Monday 08:00 Europe/Paris); one in ten follows
and mutes a few threads; 200 readers may read the private list. The clock is set to Monday
2025-06-30 09:30 in Paris, so every digest is due.

It then runs `digest.send.run_digests` in this process (plan, make and queue in batches, hand
to the relay after each batch over reused connections) against a minimal SMTP sink in another
process (`bench/smtp_sink.py`), and prints: the archive, the wall time by phase, digests per
second, bytes handed over, and the check that each reader with news got exactly one digest.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import secrets
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import make_url

from bench import search_load
from bench.search_corpus import LISTS, PEOPLE, person
from bench.smtp_sink import Sink
from digest.send import run_digests
from mailgate.config import ListConfig, Settings
from mailgate.db import open_database
from mailgate.digest_models import DigestRun
from mailgate.models import Message, MessageList, Outbox, Subscription, ThreadPref

PG_ADMIN = os.environ.get(
    "MAILGATE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NOW = datetime(2025, 6, 30, 7, 30)  # naive UTC: Monday 09:30 in Paris
BOARD_READERS = 200
PREFS_SHARE = 0.1


def database_url(backend: str, count: int, cache_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{(cache_dir / f'digest-{count}.db').resolve()}"
    name = f"mailgate_bench_digest_{count}"
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def ensure_pg_database(url: str, rebuild: bool) -> None:
    from sqlalchemy import create_engine

    name = make_url(url).database
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if exists and rebuild:
            conn.execute(text(f'DROP DATABASE "{name}"'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def readers(count: int, seed: int) -> list[tuple[str, str, str]]:
    """(address, list name or "", frequency) of each subscriber."""
    rng = random.Random(seed)
    public = [name for name, _lang, _share, vis in LISTS if vis == "public"]
    out, seen = [], set()
    for number in rng.sample(range(PEOPLE), PEOPLE):
        if person(number)[1] in seen:
            continue
        seen.add(person(number)[1])
        if len(out) == count:
            break
        draw = rng.random()
        if draw < 0.60:
            out.append((person(number)[1], "", "daily"))
        elif draw < 0.85:
            out.append((person(number)[1], rng.choice(public), "daily"))
        else:
            out.append((person(number)[1], "", "weekly"))
    return out


def bench_settings(url: str, cache_dir: Path, board: tuple[str, ...], port: int) -> Settings:
    lists = tuple(
        ListConfig(
            name=name,
            address=f"{name}@lists.example.org",
            language=language,
            visibility=visibility,
            readers=board if visibility == "private" else (),
        )
        for name, language, _share, visibility in LISTS
    )
    return Settings(
        data_dir=cache_dir,
        database_url=url,
        lists=lists,
        language="fr",
        base_url="https://archives.example.org",
        sections={"relay": {"host": "127.0.0.1", "port": port, "timeout": 60}},
    )


def reset(db, subs: list[tuple[str, str, str]], seed: int) -> None:
    """No digests, no outbox; the subscriptions and follow/mute choices of this run."""
    rng = random.Random(seed + 1)
    now = NOW
    with db.engine.begin() as conn:
        for model in (DigestRun, Outbox, ThreadPref, Subscription):
            conn.execute(delete(model))
        rows = [
            {"address": a, "list_name": lst, "frequency": freq, "weekday": 0, "hour": 8,
             "timezone": "Europe/Paris", "token": secrets.token_urlsafe(24),
             "created_at": now, "updated_at": now}
            for a, lst, freq in subs
        ]  # fmt: skip
        for offset in range(0, len(rows), 2_000):
            conn.execute(insert(Subscription), rows[offset : offset + 2_000])
        recent = list(
            conn.scalars(
                select(Message.thread_id)
                .join(MessageList, MessageList.message_pk == Message.id)
                .where(MessageList.arrived_at > NOW - timedelta(days=7))
                .distinct()
            )
        )
        prefs = []
        for address, _lst, _freq in subs:
            if recent and rng.random() < PREFS_SHARE:
                for tid, state in zip(
                    rng.sample(recent, min(3, len(recent))),
                    ("follow", "mute", "follow"),
                    strict=False,
                ):
                    prefs.append(
                        {"address": address, "thread_id": tid, "state": state, "updated_at": now}
                    )
        if prefs:
            conn.execute(insert(ThreadPref), prefs)


def describe(db) -> str:
    info = search_load.describe(db)
    with db.engine.connect() as conn:
        week = conn.scalar(
            text("SELECT count(*) FROM message_lists WHERE arrived_at > :t"),
            {"t": NOW - timedelta(days=7)},
        )
    return (
        f"{info['messages']:,} messages, {info['threads']:,} threads, {info['size_mb']} MB; "
        f"{week} messages in the last week"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--cache-dir", type=Path, default=Path(__file__).parent / ".cache")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print the top of a profile")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(args.backend, args.messages, args.cache_dir)
    if args.backend == "sqlite" and args.rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(make_url(url).database + suffix).unlink(missing_ok=True)
    if args.backend == "postgresql":
        ensure_pg_database(url, args.rebuild)
    subs = readers(args.subscribers, args.seed)
    board = tuple(a for a, _l, _f in subs[:BOARD_READERS])
    print(f"digest benchmark ({args.backend}, {os.cpu_count()} CPUs)")
    with Sink() as sink:
        settings = bench_settings(url, args.cache_dir, board, sink.port)
        db = open_database(settings)
        built = search_load.ensure_archive(db, settings, args.messages, args.seed, args.workers)
        if built:
            print(f"  archive built in {built:.0f} s (cached for the next runs)")
        print(f"  archive: {describe(db)}")
        reset(db, subs, args.seed)
        profiler = cProfile.Profile() if args.profile else None
        load = os.getloadavg()[0]
        cpu = time.process_time()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        report = run_digests(db, settings, now=NOW)
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        count, size, by_rcpt, sink_cpu = sink.stats()
    check = (
        "OK"
        if (len(by_rcpt) == count == report.queued and set(by_rcpt.values()) <= {1})
        else "MISMATCH"
    )
    phases = ", ".join(f"{name} {sec:.1f} s" for name, sec in report.seconds.items())
    print(
        f"  subscribers: {args.subscribers:,} ({report.due:,} due); "
        f"digests queued {report.queued:,}, nothing new {report.empty:,}; "
        f"sent {report.sent:,}, failed {report.failed}"
    )
    print(
        f"  wall time: {wall:.1f} s (load average {load:.1f} at the start; {phases}; "
        "delivery runs in a thread alongside build and write)"
    )
    print(f"  CPU time: {cpu:.1f} s in mailgate (all threads), {sink_cpu:.1f} s in the sink")
    print(
        f"  throughput: {report.sent / wall:,.0f} digests/s; {size / 2**20:,.1f} MB handed to the "
        f"sink, {size / max(count, 1) / 1024:.1f} KiB per digest"
    )
    print(f"  sink: {count:,} messages to {len(by_rcpt):,} recipients: exactly one each: {check}")
    db.dispose()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
