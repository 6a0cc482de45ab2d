"""SMTP ingest benchmark: sustained durable messages/s and acknowledgement latency.

Usage: python bench/smtp_ingest.py [--backend sqlite|postgresql] [--clients 8]
       [--messages 3000] [--workers N] [--archive PATH]

Starts `mailgate serve` as a subprocess on a fresh database, then `--clients` concurrent SMTP
clients (persistent connections over loopback) send `--messages` realistic messages: the
openwrt-devel archive when present (each given a unique Message-ID), else synthetic mail of
similar sizes. It prints the sustained rate of acknowledged messages, the p50/p90/p99/max time
from the end of DATA to the 250 reply, the writer's group-commit figures, and checks zero loss:
every acknowledged message is in the archive (count in the database == count acknowledged).
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import re
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate.ingest.mbox import read_archive
from mailgate.models import Message
from tests.services import LOOPBACK, MailgateProcess

_CORPUS = Path("corpus") / "openwrt-devel" / "openwrt-devel-2019-2020.mbox.gz"
# The shared corpus sits beside the checkout (or beside the directory of worktrees).
DEFAULT_ARCHIVE = next(
    (
        base / "shared" / _CORPUS
        for base in Path(__file__).resolve().parents[1:4]
        if (base / "shared" / _CORPUS).exists()
    ),
    Path("/nonexistent") / _CORPUS,
)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MAX_BENCH_MESSAGE = 200_000
MAX_LINE = 998
_MID = re.compile(rb"(?im)^message-id:[^\n]*\n(?:[ \t][^\n]*\n)*")
LIST = "bench@lists.example.org"


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _with_mid(raw: bytes, mid: str) -> bytes:
    header = f"Message-ID: <{mid}>\n".encode()
    raw = raw.replace(b"\r\n", b"\n")
    head, sep, body = raw.partition(b"\n\n")
    head = _MID.sub(b"", head + b"\n").rstrip(b"\n")
    return _crlf(header + head + b"\n" + sep.lstrip(b"\n") + b"\n" + body)


def load_messages(archive: Path, count: int, run: str) -> list[tuple[str, bytes]]:
    """(unique Message-ID, CRLF bytes) for `count` messages."""
    if archive.exists():
        source = (m.raw for m in read_archive(archive) if _sendable(m.raw))
        print(f"messages from {archive.name}")
    else:
        source = (_synthetic(i) for i in itertools.count())
        print("archive not found: synthetic messages")
    raws = list(itertools.islice(itertools.cycle(list(itertools.islice(source, count))), count))
    return [(f"bench-{run}-{i}@bench.invalid", _with_mid(r, f"bench-{run}-{i}@bench.invalid"))
            for i, r in enumerate(raws)]  # fmt: skip


def _sendable(raw: bytes) -> bool:
    """SMTP-valid: not oversized for a benchmark and no line over 998 bytes."""
    return len(raw) <= MAX_BENCH_MESSAGE and all(len(line) <= MAX_LINE for line in raw.split(b"\n"))


def _synthetic(i: int) -> bytes:
    body = "Lorem ipsum dolor sit amet, réunion jeudi, patch v2 attached.\n" * (20 + i % 180)
    return (
        f"From: Sender {i % 50} <s{i % 50}@example.org>\nTo: {LIST}\n"
        f"Subject: [bench] sujet {i % 300}\nDate: Mon, 3 Mar 2025 09:00:00 +0100\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body
    ).encode()


class Clients:
    def __init__(self, port: int, messages: list[tuple[str, bytes]]) -> None:
        self.port = port
        self.todo: queue.Queue[tuple[str, bytes]] = queue.Queue()
        for item in messages:
            self.todo.put(item)
        self.latencies: list[float] = []
        self.acked: list[str] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        with smtplib.SMTP(LOOPBACK, self.port, timeout=120) as smtp:
            smtp.ehlo()
            while True:
                try:
                    mid, raw = self.todo.get_nowait()
                except queue.Empty:
                    return
                smtp.mail("bench@example.org")
                smtp.rcpt(LIST)
                started = time.perf_counter()
                code, reply = smtp.data(raw)
                elapsed = time.perf_counter() - started
                with self.lock:
                    if code == 250:
                        self.acked.append(mid)
                        self.latencies.append(elapsed)
                    else:
                        self.failures.append(f"{code} {reply!r}")
                        smtp.rset()


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process `pid` and its children (prepare workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _database(backend: str, workdir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'data' / 'mailgate.db'}", None
    name = f"mailgate_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def _drop(name: str | None) -> None:
    if name:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _count_archived(url: str, mids: list[str]) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            select(func.count()).select_from(Message).where(Message.message_id.like("bench-%"))
        ).scalar()
    engine.dispose()
    return int(found or 0)


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="mailgate-bench-"))
    url, pg_name = _database(args.backend, workdir)
    config = workdir / "mailgate.toml"
    config.write_text(
        f'data_dir = "data"\ndatabase_url = "{url}"\ndomain = "lists.example.org"\n'
        f'[[lists]]\nname = "bench"\nlanguage = "en"\n'
        "[smtp]\nport = 0\n"
        + (f"prepare_workers = {args.workers}\n" if args.workers is not None else ""),
        encoding="utf-8",
    )
    messages = load_messages(args.archive, args.messages, uuid.uuid4().hex[:8])
    sizes = sorted(len(raw) for _, raw in messages)
    print(f"{len(messages)} messages, size p50 {sizes[len(sizes) // 2]:,} B, "
          f"mean {statistics.mean(sizes):,.0f} B, max {sizes[-1]:,} B")  # fmt: skip
    workers = "default" if args.workers is None else args.workers
    print(f"backend {args.backend}, {args.clients} clients, prepare_workers {workers}, "
          f"load average before start {os.getloadavg()[0]:.2f}")  # fmt: skip
    server = MailgateProcess("serve", "--config", str(config)).start()
    try:
        clients = Clients(server.ports["smtp"], messages)
        threads = [threading.Thread(target=clients.run) for _ in range(args.clients)]
        assert server.process is not None
        cpu_before = _cpu_seconds(server.process.pid)
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(server.process.pid) - cpu_before
    finally:
        server.terminate()
    _report(clients, elapsed, server.lines)
    per_message = cpu / max(1, len(clients.acked)) * 1000
    print(f"server CPU: {cpu:.1f} s = {per_message:.2f} ms per message "
          f"(one free core would sustain about {1000 / per_message:,.0f} msg/s); "
          f"load average after {os.getloadavg()[0]:.2f}")  # fmt: skip
    archived = _count_archived(url, clients.acked)
    lost = len(clients.acked) - archived
    print(f"zero loss check: acknowledged {len(clients.acked)}, in the archive {archived}, "
          f"lost {lost}: {'OK' if lost == 0 else 'FAILED'}")  # fmt: skip
    _drop(pg_name)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if lost == 0 and not clients.failures else 1


def _report(clients: Clients, elapsed: float, lines: list[str]) -> None:
    lat = [x * 1000 for x in clients.latencies]
    print(
        f"acknowledged {len(clients.acked)} in {elapsed:.1f} s = "
        f"{len(clients.acked) / elapsed:,.0f} msg/s sustained (durable: 250 after commit)"
    )
    print(f"ack latency (end of DATA -> 250): p50 {_percentile(lat, 0.5):.1f} ms, "
          f"p90 {_percentile(lat, 0.9):.1f} ms, p99 {_percentile(lat, 0.99):.1f} ms, "
          f"max {max(lat):.1f} ms")  # fmt: skip
    if clients.failures:
        print(f"failures: {len(clients.failures)}, first: {clients.failures[0]}")
    for line in lines:
        if "writer:" in line:
            print(line.split(": ", 1)[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument(
        "--workers", type=int, default=None, help="[smtp] prepare_workers (default: server's)"
    )
    parser.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
