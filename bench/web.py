"""Web archive benchmark: page latencies (p50/p95) and throughput with 50 concurrent clients.

Usage: python bench/web.py [--backend sqlite|postgresql] [--archive PATH] [--copies N]
                           [--cache DIR] [--requests N] [--clients N] [--seconds S]

The archive (built once, then reused from --cache): the openwrt-devel corpus imported --copies
times (14 by default: over 100,000 messages) with rewritten Message-IDs and subjects so the
copies stay separate threads, plus one synthetic 1,000-message thread. The server is the real
`mailgate web` command in its own process (uvicorn); latencies are measured from this process
(httpx, one keep-alive connection), throughput with Debian's `wrk` when installed (else httpx).
Printed: archive size, p50/p95 of the list page (first and deeper keyset pages), the
1,000-message thread, a message page, a feed and the search page, then requests/s and errors
with --clients concurrent keep-alive clients for --seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate import links, store
from mailgate.bulk import import_messages
from mailgate.config import load_settings
from mailgate.db import open_database
from mailgate.ingest.mbox import read_archive
from mailgate.models import Message, ThreadList
from mailgate.pipeline import list_contexts

CORPUS_FILE = Path("shared/corpus/openwrt-devel/openwrt-devel-2019-2020.mbox.gz")
DEFAULT_ARCHIVE = next(
    (p / CORPUS_FILE for p in Path(__file__).resolve().parents if (p / CORPUS_FILE).exists()),
    CORPUS_FILE,
)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "mailgate_bench_web"
LIST = "openwrt-devel"
BIG_THREAD = 1_000
BIG_ROOT = "big-thread-0@bench.mailgate.example"
MIN_MESSAGES = 100_000
START_TIMEOUT = 60.0
_ID_HEADER = re.compile(rb"^(message-id|in-reply-to|references):", re.I)
_SUBJECT = re.compile(rb"^subject:", re.I)
_THREAD_INDEX = re.compile(rb"^thread-index:", re.I)


def _rewrite(raw: bytes, copy: int) -> bytes:
    """Copy `copy` of a message: every id in the id headers and the subject get a suffix, and
    Outlook's Thread-Index goes, so that copies never link to each other."""
    if copy == 0:
        return raw
    end = raw.find(b"\n\n")
    head, body = (raw[:end], raw[end:]) if end >= 0 else (raw, b"")
    lines = head.split(b"\n")
    in_ids = in_subject = False
    for i, line in enumerate(lines):
        if line[:1] not in (b" ", b"\t"):
            in_ids, in_subject = bool(_ID_HEADER.match(line)), bool(_SUBJECT.match(line))
            if in_subject:
                lines[i] = line.rstrip(b"\r") + f" #{copy}".encode()
        if in_ids:
            lines[i] = lines[i].replace(b"@", f".c{copy}@".encode())
    kept = [line for line in lines if not _THREAD_INDEX.match(line)]
    return b"\n".join(kept) + body


def _big_thread() -> Iterator[tuple[bytes, None]]:
    """A 1,000-message discussion: each reply answers a random earlier one and quotes it."""
    rng = random.Random(5)
    start = datetime(2021, 3, 1, 8, 0, tzinfo=UTC)
    texts: list[str] = []
    for i in range(BIG_THREAD):
        mid = f"big-thread-{i}@bench.mailgate.example"
        parent = rng.randrange(i) if i else None
        own = "\n".join(
            f"Point {i}.{n}: the build of target {rng.randrange(90)} fails at step {n}; "
            f"see https://git.example.org/commit/{rng.getrandbits(40):x}"
            for n in range(rng.randrange(2, 7))
        )
        quote = "\n".join("> " + line for line in texts[parent].splitlines()[:12]) if i else ""
        headers = [
            f"From: Dev {i % 97} <dev{i % 97}@bench.mailgate.example>",
            f"To: {LIST}@lists.openwrt.org",
            f"Subject: {'Re: ' if i else ''}[RFC] big discussion about the build system",
            f"Date: {format_datetime(start + timedelta(minutes=17 * i))}",
            f"Message-ID: <{mid}>",
        ]
        if parent is not None:
            pmid = f"big-thread-{parent}@bench.mailgate.example"
            headers += [f"In-Reply-To: <{pmid}>", f"References: <{BIG_ROOT}> <{pmid}>"]
        body = f"Hello,\n\n{own}\n\n{quote}\n\n-- \nDev {i % 97}\n" if i else f"{own}\n"
        texts.append(own)
        yield (
            ("\n".join(headers) + "\nContent-Type: text/plain; charset=utf-8\n\n" + body).encode(),
            None,
        )


def _fresh_postgres(admin_url: str) -> str:
    """An empty PostgreSQL database for the bench archive; returns its URL."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    return make_url(admin_url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def build(cache: Path, archive: Path, copies: int, pg_admin: str | None) -> Path:
    """The cached archive's configuration file (built on first use)."""
    config = cache / "mailgate.toml"
    done = cache / "built"
    if done.exists():
        return config
    if cache.exists():
        shutil.rmtree(cache)  # an interrupted build: start again
    cache.mkdir(parents=True)
    url = _fresh_postgres(pg_admin) if pg_admin else ""
    config.write_text(
        f'data_dir = "{cache}"\ndatabase_url = "{url}"\n'
        'timezone = "Europe/Paris"\nlanguage = "en"\n'
        f'base_url = "http://127.0.0.1"\n[[lists]]\nname = "{LIST}"\n'
        f'address = "{LIST}@lists.openwrt.org"\nlanguage = "en"\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    db = open_database(settings)
    with db.engine.begin() as conn:
        ctx = list_contexts(settings, store.sync_lists(conn, settings.lists))[LIST]
    for copy in range(copies):
        began = time.perf_counter()
        items = ((_rewrite(m.raw, copy), m.arrival) for m in read_archive(archive))
        summary = import_messages(db, ctx, items, source=f"bench:{copy}")
        print(
            f"  copy {copy}: {summary.imported} in {time.perf_counter() - began:.0f} s", flush=True
        )
    import_messages(db, ctx, _big_thread(), source="bench:big", workers=1)
    db.dispose()
    done.write_text("ok\n")
    return config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(config: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [str(Path(sys.executable).parent / "mailgate"), "web", "--config", str(config)]
    server = subprocess.Popen([*command, "--port", str(port), "--log-level", "warning"])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/static/archive.css", timeout=2)
            return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not start")


def _samples(config: Path) -> dict[str, list[str]]:
    """URLs to request: list pages (first and keyset), the big thread, messages, feeds."""
    settings = load_settings(config)
    db = open_database(settings, run_migrations=False)
    with db.reader() as session:
        total = session.scalar(select(func.count()).select_from(Message))
        mids = session.scalars(select(Message.message_id).order_by(func.random()).limit(400)).all()
        big = session.scalar(select(Message.thread_id).where(Message.message_id == BIG_ROOT))
        activity = session.execute(
            select(ThreadList.last_date, ThreadList.thread_id).order_by(func.random()).limit(100)
        ).all()
        threads = session.scalars(
            select(ThreadList.thread_id).where(ThreadList.message_count.between(3, 30)).limit(200)
        ).all()
    db.dispose()
    print(f"archive: {total:,} messages")
    if total < MIN_MESSAGES:
        print(f"  warning: fewer than {MIN_MESSAGES:,} messages")
    deeper = [f"/l/{LIST}/?before={links.cursor_token(d, t)}" for d, t in activity]
    return {
        "list page": [f"/l/{LIST}/"] * 20 + deeper,
        "thread (1,000 messages)": [links.thread_path(big)],
        "thread (3-30 messages)": [links.thread_path(t) for t in threads],
        "message page": [links.message_path(m) for m in mids],
        "feed": [links.list_feed_path(LIST)] + [links.thread_feed_path(t) for t in threads[:50]],
        "search page": [f"/search?q={w}" for w in ("kernel", "patch", "wifi", "build", "uboot")],
    }


def _latencies(base: str, urls: list[str], count: int) -> tuple[list[float], int]:
    times, errors = [], 0
    rng = random.Random(11)
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get(urls[0])  # warm the connection and the first caches
        for _ in range(count):
            began = time.perf_counter()
            response = client.get(rng.choice(urls))
            times.append((time.perf_counter() - began) * 1000)
            errors += response.status_code != 200
    return times, errors


async def _load(base: str, urls: list[str], clients: int, seconds: float) -> tuple[int, int]:
    done = errors = 0
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient, seed: int) -> None:
        nonlocal done, errors
        rng = random.Random(seed)
        while time.monotonic() < stop:
            try:
                response = await client.get(rng.choice(urls))
                errors += response.status_code != 200
            except httpx.HTTPError:
                errors += 1
            done += 1

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client, seed) for seed in range(clients)))
    return done, errors


WRK_SCRIPT = """
paths = {%s}
math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%%x+)"), 16) or 0))
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, e.status,
    e.connect, e.read, e.write, e.timeout, summary.duration, latency:percentile(95)))
end
"""


def _wrk(base: str, urls: list[str], clients: int, seconds: float) -> tuple[int, int, float]:
    """Load with wrk (Debian's `wrk`): (requests, errors, seconds)."""
    script = Path(tempfile.mkdtemp()) / "paths.lua"
    quoted = (u.replace("\\", "\\\\").replace('"', '\\"') for u in urls)
    script.write_text(WRK_SCRIPT % ", ".join(f'"{u}"' for u in quoted))
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK "))
    count, status, connect, read, write, timeout, micros, p95 = (int(x) for x in line.split()[1:])
    errors = status + connect + read + write + timeout
    print(f"  wrk: p95 {p95 / 1000:.0f} ms; errors: {status} status, {connect} connect, "
          f"{read} read, {write} write, {timeout} timeout")  # fmt: skip
    return count, errors, micros / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    parser.add_argument("--copies", type=int, default=14)
    parser.add_argument("--cache", type=Path, default=None, help="default ~/.cache/mailgate/...")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="PostgreSQL server (admin URL)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    cache = args.cache or Path.home() / ".cache/mailgate" / f"bench-web-{args.backend}"
    pg_admin = args.pg_admin if args.backend == "postgresql" else None
    config = build(cache, args.archive, args.copies, pg_admin)
    print(f"backend: {args.backend}")
    samples = _samples(config)
    server, base = _start(config)
    try:
        if importlib.util.find_spec("mailgate.search") is None:
            samples.pop("search page")
            print("search page: the search engine is not installed in this tree")
        for name, urls in samples.items():
            count = 30 if name.startswith("thread (1,000") else args.requests
            times, errors = _latencies(base, urls, count)
            q = statistics.quantiles(times, n=20)
            print(f"{name:24} p50 {statistics.median(times):7.1f} ms   p95 {q[18]:7.1f} ms"
                  f"   ({count} requests, {errors} errors)")  # fmt: skip
        mix = samples["list page"] + samples["message page"] + samples["thread (3-30 messages)"]
        mix += samples["feed"]
        if shutil.which("wrk"):
            done, errors, seconds = _wrk(base, mix, args.clients, args.seconds)
            tool = "wrk"
        else:
            done, errors = asyncio.run(_load(base, mix, args.clients, args.seconds))
            seconds, tool = args.seconds, "httpx"
        print(f"throughput: {done / seconds:.0f} requests/s with {args.clients} clients ({tool}) "
              f"over {seconds:.0f} s, {errors} errors (mix of pages)")  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
