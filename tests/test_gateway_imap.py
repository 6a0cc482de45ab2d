"""The IMAP poller against a real Dovecot (tests/services.py), on both backends: new mail
arrives, a restart neither repeats nor misses, a UIDVALIDITY change is handled, IDLE delivers
promptly, polling and reconnection work, processed mail is flagged/moved, and two pollers of
one source share it through the lease."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from mailgate.config import Settings
from mailgate.db import Database
from mailgate.ingest.imap import SourcePoller, start_imap
from mailgate.ingest.imap_config import imap_config
from mailgate.ingest.imap_state import new_owner
from mailgate.ingest.smtp import start_smtp
from mailgate.ingest.writer import IngestWriter
from mailgate.models import Delivery, ImapState, Message
from tests.mailfactory import make_mail
from tests.services import DOVECOT_PASSWORD, DOVECOT_USER, LOOPBACK, Dovecot, GatewayThread

PASSWORD_ENV = "MAILGATE_TEST_IMAP_PASSWORD"
WAIT = 20.0


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot().start()
    yield server
    server.close()


@pytest.fixture
def folder() -> str:
    return f"Lists/t{uuid.uuid4().hex[:10]}"


class Watcher:
    """The pollers' listener: lets a test wait on a condition instead of sleeping."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[tuple[str, SourcePoller]] = []

    def __call__(self, event: str, poller: SourcePoller) -> None:
        with self.cond:
            self.events.append((event, poller))
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, timeout), "condition not reached in time"

    def seen(self, event: str, poller: SourcePoller) -> bool:
        return (event, poller) in self.events


def imap_settings(settings: Settings, dovecot: Dovecot, folder: str, **source) -> Settings:
    base = {
        "name": "dev-inbox",
        "host": LOOPBACK,
        "port": dovecot.port,
        "tls": False,
        "user": DOVECOT_USER,
        "password_env": PASSWORD_ENV,
        "folder": folder,
        "list": "dev",
    }
    section = {"sources": [base | source], "reconnect_initial": 0.05, "reconnect_max": 0.5}
    return replace(settings, sections={"imap": section})


@pytest.fixture
def writer(db: Database, contexts) -> Iterator[IngestWriter]:
    writer = IngestWriter(db, contexts)
    writer.start()
    yield writer
    writer.stop()


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, DOVECOT_PASSWORD)


def make_poller(settings, db, writer, watcher, owner: str | None = None) -> SourcePoller:
    config = imap_config(settings)
    return SourcePoller(config.sources[0], config, db, writer, owner or new_owner(), watcher)


def count(db: Database, model) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(model))


def mails(prefix: str, n: int) -> list[bytes]:
    return [make_mail(f"{prefix}{i}@example.org", f"Sujet {prefix} {i}") for i in range(n)]


def test_restart_neither_repeats_nor_misses(dovecot, folder, settings, db, writer) -> None:
    settings = imap_settings(settings, dovecot, folder)
    dovecot.append(folder, *mails("first", 3))
    watcher = Watcher()
    first = make_poller(settings, db, writer, watcher)
    first.start()
    watcher.wait(lambda: first.fetched == 3 and watcher.seen("waiting", first))
    first.stop()
    dovecot.append(folder, *mails("second", 2))
    second = make_poller(settings, db, writer, watcher)
    second.start()
    watcher.wait(lambda: second.fetched == 2 and watcher.seen("waiting", second))
    second.stop()
    assert count(db, Message) == 5 and count(db, Delivery) == 5
    with dovecot.client() as client:
        client.select_folder(folder, readonly=True)
        assert client.search(["UNSEEN"]) == client.search(["ALL"])  # BODY.PEEK: still unread


def test_uidvalidity_change_rescans_without_duplicates(dovecot, folder, settings, db, writer):
    settings = imap_settings(settings, dovecot, folder)
    dovecot.append(folder, *mails("before", 2))
    watcher = Watcher()
    poller = make_poller(settings, db, writer, watcher)
    poller.start()
    watcher.wait(lambda: poller.fetched == 2 and watcher.seen("waiting", poller))
    poller.stop()
    dovecot.set_uidvalidity(folder, 4242)
    dovecot.append(folder, *mails("after", 1))
    again = make_poller(settings, db, writer, watcher)
    again.start()
    watcher.wait(lambda: again.fetched == 3 and watcher.seen("waiting", again))
    again.stop()
    assert count(db, Message) == 3 and count(db, Delivery) == 3
    with db.reader() as session:
        state = session.get(ImapState, "dev-inbox")
        assert (state.uidvalidity, state.last_uid) == (4242, 3)


def test_idle_delivers_promptly(dovecot, folder, settings, db, writer) -> None:
    settings = imap_settings(settings, dovecot, folder, poll_interval=3600)
    dovecot.append(folder, *mails("old", 1))
    watcher = Watcher()
    poller = make_poller(settings, db, writer, watcher)
    poller.start()
    try:
        watcher.wait(lambda: watcher.seen("idle", poller) and poller.fetched == 1)
        appended = time.monotonic()
        dovecot.append(folder, *mails("new", 1))
        watcher.wait(lambda: poller.fetched == 2)
        assert time.monotonic() - appended < 5.0
    finally:
        poller.stop()
    assert count(db, Message) == 2


def test_polling_fallback_survives_a_server_restart(dovecot, folder, settings, db, writer):
    settings = imap_settings(settings, dovecot, folder, idle=False, poll_interval=0.1)
    watcher = Watcher()
    poller = make_poller(settings, db, writer, watcher)
    poller.start()
    try:
        dovecot.append(folder, *mails("poll", 1))
        watcher.wait(lambda: poller.fetched == 1)
        assert not any(e == "idle" for e, _ in watcher.events)
        dovecot.stop()
        dovecot.start()
        dovecot.append(folder, *mails("back", 1))
        watcher.wait(lambda: poller.fetched == 2)
    finally:
        poller.stop()
    assert count(db, Message) == 2


def test_processed_mail_is_flagged_and_moved(dovecot, folder, settings, db, writer) -> None:
    done = f"{folder}-done"
    settings = imap_settings(settings, dovecot, folder, flag="$Archived", move_to=done)
    with dovecot.client() as client:
        client.create_folder(done)
    dovecot.append(folder, *mails("moved", 2))
    watcher = Watcher()
    poller = make_poller(settings, db, writer, watcher)
    poller.start()
    watcher.wait(lambda: poller.fetched == 2 and watcher.seen("waiting", poller))
    poller.stop()
    with dovecot.client() as client:
        client.select_folder(folder, readonly=True)
        assert client.search(["ALL"]) == []
        client.select_folder(done, readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
        assert len(flags) == 2 and all(b"$Archived" in f for f in flags.values())


def test_two_pollers_of_one_source_share_it(dovecot, folder, settings, db, writer) -> None:
    settings = imap_settings(settings, dovecot, folder)
    dovecot.append(folder, *mails("shared", 4))
    watcher = Watcher()
    pollers = [make_poller(settings, db, writer, watcher) for _ in range(2)]
    for poller in pollers:
        poller.start()
    try:
        watcher.wait(lambda: sum(p.fetched for p in pollers) == 4)
        watcher.wait(lambda: any(watcher.seen("waiting", p) for p in pollers))
    finally:
        for poller in pollers:
            poller.stop()
    assert sorted(p.fetched for p in pollers) == [0, 4]
    assert count(db, Message) == 4 and count(db, Delivery) == 4


def test_serve_runs_the_pollers_as_a_service(dovecot, folder, settings, db) -> None:
    settings = imap_settings(settings, dovecot, folder)
    settings = replace(settings, sections={**settings.sections, "smtp": {"enabled": False}})
    watcher = Watcher()

    async def imap_with_watcher(ctx):
        return await start_imap(ctx, listener=watcher)

    dovecot.append(folder, *mails("served", 2))
    with GatewayThread(settings, db, starters=[start_smtp, imap_with_watcher]) as gateway:
        service = gateway.service("imap")
        assert [s.name for s in gateway.services] == ["imap"]  # SMTP disabled
        assert "dev-inbox" in service.describe()
        poller = service.pollers[0]
        watcher.wait(lambda: poller.fetched == 2)
    assert count(db, Message) == 2
    with db.reader() as session:
        assert session.get(ImapState, "dev-inbox").lease_owner is None  # released on stop
