"""Scale-out: two `mailgate serve` processes on one PostgreSQL database.

Every message is delivered to both receivers at once (as two MXes or an MTA retrying against
another host would); each is archived exactly once, replies land in their parent's thread, and
the health and metrics pages answer from the shared database. Two outbox workers
(`serve --only outbox`) drain one queue: every row reaches the relay exactly once."""

from __future__ import annotations

import random
import smtplib
import threading
import time
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from mailgate import outbound
from mailgate.config import load_settings
from mailgate.db import open_database
from mailgate.models import Message, MessageList, Outbox
from tests.conftest import _empty_postgres
from tests.mailfactory import make_mail
from tests.services import LOOPBACK, START_TIMEOUT, MailgateProcess

THREADS = 8
PER_THREAD = 5
SENDER = "alice@example.org"
LIST_ADDRESS = "dev@lists.example.org"


@pytest.fixture
def shared_pg(pg_url: str) -> str:
    _empty_postgres(pg_url)
    return pg_url


def write_config(path: Path, database_url: str, *, web: bool = False) -> Path:
    path.write_text(
        f'data_dir = "data"\ndatabase_url = "{database_url}"\ndomain = "lists.example.org"\n'
        '[[lists]]\nname = "dev"\n'
        "[smtp]\nport = 0\nprepare_workers = 0\n"
        f"[web]\nenabled = {'true' if web else 'false'}\nport = 0\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def two_servers(tmp_path: Path, shared_pg: str) -> Iterator[list[MailgateProcess]]:
    one = write_config(tmp_path / "one.toml", shared_pg, web=True)
    two = write_config(tmp_path / "two.toml", shared_pg)
    servers = [
        MailgateProcess("serve", "--config", str(one), "--only", "smtp,web").start(
            expect=("smtp", "web")
        ),
        MailgateProcess("serve", "--config", str(two), "--without", "web").start(),
    ]
    try:
        yield servers
    finally:
        codes = [server.terminate() for server in servers]
        assert codes == [0, 0], "\n".join(servers[0].lines[-10:] + servers[1].lines[-10:])


def corpus() -> list[tuple[str, bytes]]:
    """THREADS threads of PER_THREAD messages, each a reply to the previous one."""
    mails = []
    for t in range(THREADS):
        parent = None
        for i in range(PER_THREAD):
            mid = f"scale-{t}-{i}@example.org"
            raw = make_mail(
                mid, f"Fil {t}" if i == 0 else f"Re: Fil {t}", in_reply_to=parent, minutes=i
            )
            mails.append((mid, raw.replace(b"\n", b"\r\n")))
            parent = mid
    return mails


def send_all(port: int, mails: list[tuple[str, bytes]], failures: list[str]) -> None:
    """Send every message, retrying 4xx and dropped connections as an MTA does."""
    for mid, raw in mails:
        for _attempt in range(20):
            try:
                with smtplib.SMTP(LOOPBACK, port, timeout=START_TIMEOUT) as client:
                    client.sendmail(SENDER, [LIST_ADDRESS], raw)
                break
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code >= 500:
                    failures.append(f"{mid}: {exc.smtp_code}")
                    break
            except (smtplib.SMTPException, OSError):
                continue
        else:
            failures.append(f"{mid}: never accepted")


def test_two_processes_archive_each_message_once(two_servers, shared_pg: str) -> None:
    mails = corpus()
    failures: list[str] = []
    senders = []
    for n, server in enumerate(two_servers):
        order = list(mails)
        random.Random(n).shuffle(order)
        senders.append(
            threading.Thread(target=send_all, args=(server.ports["smtp"], order, failures))
        )
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(START_TIMEOUT * 4)
    assert failures == []
    engine = create_engine(shared_pg)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Message.message_id, Message.thread_id, func.count(MessageList.list_id))
            .join(MessageList, MessageList.message_pk == Message.id)
            .group_by(Message.message_id, Message.thread_id)
        ).all()
    engine.dispose()
    per_mid = {mid: (thread, count) for mid, thread, count in rows}
    assert len(rows) == len(mails) == len(per_mid)
    assert all(count == 1 for _, count in per_mid.values())
    for t in range(THREADS):
        threads = {per_mid[f"scale-{t}-{i}@example.org"][0] for i in range(PER_THREAD)}
        assert len(threads) == 1, f"thread {t} split over {threads}"
    web = two_servers[0].ports["web"]
    with urllib.request.urlopen(f"http://{LOOPBACK}:{web}/healthz", timeout=10) as response:
        assert response.read() == b"ok\n"
    with urllib.request.urlopen(f"http://{LOOPBACK}:{web}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert f"mailgate_messages_archived {len(mails)}\n" in text


OUTBOX_ROWS = 60
QUEUE_BATCH = 6
QUEUE_PAUSE = 0.15


def _queue_mail(database_url: str, tmp_path: Path) -> list[str]:
    """OUTBOX_ROWS notices queued a few at a time while the workers run; their Message-IDs."""
    settings = load_settings(write_config(tmp_path / "queue.toml", database_url))
    db = open_database(settings)
    ids = []
    try:
        for n in range(OUTBOX_ROWS):
            msg = outbound.build_message(
                settings, to=f"reader{n}@example.com", subject=f"Notice {n}", text="Bonjour\n"
            )
            with db.engine.begin() as conn:
                outbound.enqueue(conn, msg, kind="notice")
            ids.append(str(msg["Message-ID"]))
            if n % QUEUE_BATCH == QUEUE_BATCH - 1:
                threading.Event().wait(QUEUE_PAUSE)  # spread the queue over the workers' polls
    finally:
        db.dispose()
    return ids


def test_two_outbox_workers_send_each_row_once(tmp_path: Path, shared_pg: str, sink) -> None:
    handler, relay_port = sink
    relay = f"[relay]\nport = {relay_port}\npoll_seconds = 0.1\n"
    workers = []
    for name in ("a", "b"):
        config = write_config(tmp_path / f"{name}.toml", shared_pg)
        config.write_text(config.read_text() + relay)
        process = MailgateProcess("serve", "--config", str(config), "--only", "outbox")
        workers.append(process.start(expect=(), ready="outbox: relay"))
    try:
        expected = _queue_mail(shared_pg, tmp_path)
        engine = create_engine(shared_pg)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and _unsent(engine):
            threading.Event().wait(0.05)
        assert _unsent(engine) == 0
        engine.dispose()
    finally:
        codes = [worker.terminate() for worker in workers]
    assert codes == [0, 0]
    sent = [_message_id(data) for _f, _r, data in handler.messages]
    assert sorted(sent) == sorted(expected), "a row was sent twice or never"
    per_worker = [sum("outbox sent" in line for line in w.lines) for w in workers]
    assert sum(per_worker) == OUTBOX_ROWS
    print(f"rows sent per worker: {per_worker}")


def _unsent(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).where(Outbox.sent_at.is_(None))) or 0


def _message_id(data: bytes) -> str:
    return str(message_from_bytes(data)["Message-ID"])
