"""The IMAP poller: archive what arrives in configured mailboxes (`[[imap.sources]]`).

One thread per source (imapclient is blocking): connect (TLS, STARTTLS or plain), log in with
the password from an environment variable or a file, select the folder, fetch every message
above the last archived UID with BODY.PEEK[] (never marks it read) and hand it to the durable
writer; the progress (UIDVALIDITY, last UID; `ingest.imap_state`) is committed after the
messages it covers, so a restart neither misses nor repeats. A changed UIDVALIDITY (or
mailbox) restarts from UID 1: the pipeline recognises what is already archived. Then wait with
IDLE when offered (else poll), reconnect with exponential backoff on errors, and optionally
flag or move processed messages. A lease on the source's state row keeps two processes from
polling it at once. Started by `mailgate serve` (`start_imap`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient

from mailgate.db import Database
from mailgate.ingest import imap_state
from mailgate.ingest.imap_config import ImapConfig, ImapSource, imap_config, read_password
from mailgate.ingest.service import ServeContext
from mailgate.ingest.writer import IngestWriter, Job
from mailgate.routing import Route, RouteKind

log = logging.getLogger("mailgate.ingest")

FETCH_CHUNK = 50
STOP_JOIN_SECONDS = 10.0
__all__ = ["ImapService", "SourcePoller", "imap_config", "start_imap"]

Listener = Callable[[str, "SourcePoller"], None]


class SourcePoller:
    """Polls one source on its own thread until `stop()`; `listener(event, poller)` hears
    'connected', 'stored' (after a committed batch), 'waiting' (before IDLE or sleeping) and
    'idle' (IDLE started: new mail will be seen at once)."""

    def __init__(
        self,
        source: ImapSource,
        config: ImapConfig,
        db: Database,
        writer: IngestWriter,
        owner: str,
        listener: Listener | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self.db = db
        self.writer = writer
        self.owner = owner
        self.listener = listener
        self.fetched = 0
        self.idling = False
        self._stop = threading.Event()
        self._client: IMAPClient | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"mailgate-imap-{source.name}", daemon=True
        )
        self._route = Route(RouteKind.LIST, source.list_name, f"imap:{source.name}")
        self._renew_every = config.lease_seconds / 3

    @property
    def mailbox(self) -> str:
        s = self.source
        return f"{s.user}@{s.host}:{s.port}/{s.folder}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (interrupting IDLE) and wait for it."""
        self._stop.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.socket().shutdown(socket.SHUT_RDWR)
        self._thread.join(STOP_JOIN_SECONDS)

    def _notify(self, event: str) -> None:
        if self.listener is not None:
            self.listener(event, self)

    def _run(self) -> None:
        delay = self.config.reconnect_initial
        engine = self.db.engine
        while not self._stop.is_set():
            try:
                if not imap_state.acquire_lease(
                    engine, self.source.name, self.owner, self.config.lease_seconds
                ):
                    self._stop.wait(self._renew_every)
                    continue
                self._session()
                delay = self.config.reconnect_initial
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.warning(
                    "imap %s: %s: %s; retrying in %.1f s",
                    self.source.name, type(exc).__name__, exc, delay,
                )  # fmt: skip
                self._stop.wait(delay)
                delay = min(delay * 2, self.config.reconnect_max)
        try:
            imap_state.release_lease(engine, self.source.name, self.owner)
        except Exception as exc:
            log.warning("imap %s: releasing the lease failed: %s", self.source.name, exc)

    def _connect(self) -> IMAPClient:
        s = self.source
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        client = IMAPClient(
            s.host, port=s.port, ssl=s.tls, ssl_context=context, timeout=self.config.timeout
        )
        try:
            if s.starttls:
                client.starttls(context)
            client.login(s.user, read_password(s))
        except Exception:
            client.shutdown()
            raise
        return client

    def _session(self) -> None:
        client = self._connect()
        self._client = client
        try:
            writable = bool(self.source.flag or self.source.move_to)
            info = client.select_folder(self.source.folder, readonly=not writable)
            uidvalidity = int(info[b"UIDVALIDITY"])
            last = self._resume(uidvalidity)
            use_idle = self.source.idle and client.has_capability("IDLE")
            self._notify("connected")
            while not self._stop.is_set():
                last = self._fetch_new(client, uidvalidity, last)
                self._renew()
                self._notify("waiting")
                if use_idle:
                    self._idle(client)
                else:
                    self._poll_wait(client)
        finally:
            self._client = None
            try:
                client.logout()
            except Exception:
                client.shutdown()

    def _renew(self) -> None:
        if not imap_state.acquire_lease(
            self.db.engine, self.source.name, self.owner, self.config.lease_seconds
        ):
            raise imap_state.LeaseLost(f"{self.source.name} is polled by another process")

    def _resume(self, uidvalidity: int) -> int:
        progress = imap_state.load_progress(self.db.engine, self.source.name)
        if progress.uidvalidity == uidvalidity and progress.mailbox == self.mailbox:
            return progress.last_uid
        if progress.uidvalidity is not None:
            log.warning(
                "imap %s: UIDVALIDITY or mailbox changed (%s %s -> %s %s): rescanning; "
                "messages already archived are recognised and skipped",
                self.source.name, progress.mailbox, progress.uidvalidity,
                self.mailbox, uidvalidity,
            )  # fmt: skip
        self._commit_progress(uidvalidity, 0)
        return 0

    def _commit_progress(self, uidvalidity: int, last_uid: int) -> None:
        def save(conn) -> None:  # type: ignore[no-untyped-def]
            imap_state.save_progress(
                conn, self.source.name, self.owner, self.mailbox, uidvalidity, last_uid
            )

        job = Job(b"", (), source=f"imap:{self.source.name}", after=save)
        self.writer.submit(job).result()

    def _fetch_new(self, client: IMAPClient, uidvalidity: int, last: int) -> int:
        uids = sorted(u for u in client.search(["UID", f"{last + 1}:*"]) if u > last)
        for start in range(0, len(uids), FETCH_CHUNK):
            if self._stop.is_set():
                break
            chunk = uids[start : start + FETCH_CHUNK]
            data = client.fetch(chunk, ["BODY.PEEK[]"])
            messages = [(u, data[u][b"BODY[]"]) for u in chunk if b"BODY[]" in data.get(u, {})]
            self._store(messages)
            self._commit_progress(uidvalidity, chunk[-1])
            last = chunk[-1]
            self.fetched += len(messages)
            self._after_processing(client, [u for u, _ in messages])
            self._notify("stored")
            self._renew()
        return last

    def _store(self, messages: list[tuple[int, bytes]]) -> None:
        """Archive fetched messages; raises (to retry later) unless every one is kept."""
        source = f"imap:{self.source.name}"
        futures = [
            (uid, self.writer.submit(Job(raw, (self._route,), source=source)))
            for uid, raw in messages
        ]
        for uid, future in futures:
            started = time.monotonic()
            result = future.result()[0]
            level = logging.INFO if result.ok else logging.ERROR
            log.log(
                level,
                "imap source=%s uid=%d message_id=%s %s:%s%s in %.0f ms",
                self.source.name, uid, f"<{result.message_id}>" if result.message_id else "-",
                result.outcome, self.source.list_name,
                f" ({result.detail})" if result.detail else "",
                (time.monotonic() - started) * 1000,
            )  # fmt: skip
            if not result.ok:
                raise RuntimeError(f"message UID {uid} could not be archived: {result.detail}")

    def _after_processing(self, client: IMAPClient, uids: list[int]) -> None:
        if not uids:
            return
        if self.source.flag:
            client.add_flags(uids, [self.source.flag])
        if self.source.move_to:
            if client.has_capability("MOVE"):
                client.move(uids, self.source.move_to)
            else:
                client.copy(uids, self.source.move_to)
                client.delete_messages(uids)
                client.expunge(uids if client.has_capability("UIDPLUS") else None)

    def _idle(self, client: IMAPClient) -> None:
        client.idle()
        self.idling = True
        self._notify("idle")
        try:
            client.idle_check(timeout=min(self.config.idle_seconds, self._renew_every))
        finally:
            self.idling = False
            if not self._stop.is_set():
                client.idle_done()

    def _poll_wait(self, client: IMAPClient) -> None:
        deadline = time.monotonic() + self.source.poll_interval
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stop.wait(min(remaining, self._renew_every))
            self._renew()
            client.noop()


class ImapService:
    """The pollers of every configured source, as one service of `mailgate serve`."""

    name = "imap"

    def __init__(self, pollers: list[SourcePoller]) -> None:
        self.pollers = pollers

    def describe(self) -> str:
        sources = ", ".join(
            f"{p.source.name} ({p.mailbox} -> {p.source.list_name})" for p in self.pollers
        )
        return f"imap polling {len(self.pollers)} source(s): {sources}"

    async def stop(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.pollers))


async def start_imap(ctx: ServeContext, listener: Listener | None = None) -> ImapService | None:
    """Service starter of the IMAP pollers (None when no source is configured)."""
    config = imap_config(ctx.settings)
    if not config.sources:
        return None
    owner = imap_state.new_owner()
    pollers = [
        SourcePoller(source, config, ctx.db, ctx.writer, owner, listener)
        for source in config.sources
    ]
    for poller in pollers:
        poller.start()
    return ImapService(pollers)
