"""The serving process's composition: the durable writer plus every service, started in order.

`run_gateway` brings the configured lists into the database, starts the durable writer
(`ingest.writer`), then every service starter in `SERVICE_STARTERS` (SMTP, LMTP, IMAP
pollers; the web archive and the digest scheduler join with `add_service` from their own
`cli.py`), waits for the stop event, and ends the services in reverse order before the writer
commits what it accepted. `mailgate serve` (`mailgate.cli_serve`) runs it under signal
handlers; the tests run it in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from mailgate import store
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.ingest.imap import imap_config, start_imap
from mailgate.ingest.lmtp import start_lmtp
from mailgate.ingest.service import ServeContext, Service, ServiceStarter
from mailgate.ingest.smtp import smtp_config, start_smtp
from mailgate.ingest.writer import IngestWriter
from mailgate.pipeline import list_contexts

log = logging.getLogger("mailgate.serve")

SERVICE_STARTERS: list[ServiceStarter] = [start_smtp, start_lmtp, start_imap]


def add_service(starter: ServiceStarter) -> None:
    """Run one more service in `mailgate serve` (the web archive, the digest scheduler...)."""
    if starter not in SERVICE_STARTERS:
        SERVICE_STARTERS.append(starter)


def check_config(settings: Settings) -> None:
    """Validate every section the gateway reads, before anything starts."""
    smtp_config(settings)
    imap_config(settings)


async def run_gateway(
    settings: Settings,
    db: Database,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[list[Service]], None] | None = None,
    starters: Sequence[ServiceStarter] | None = None,
) -> None:
    """Start the writer and the services, wait for `stop`, then shut everything down."""
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, store.sync_lists(conn, settings.lists))
    writer = IngestWriter(db, contexts, workers=smtp_config(settings).prepare_workers)
    writer.start()
    context = ServeContext(settings, db, writer)
    services: list[Service] = []
    try:
        for starter in SERVICE_STARTERS if starters is None else starters:
            service = await starter(context)
            if service is not None:
                services.append(service)
                log.info("%s", service.describe())
        if not services:
            log.warning("nothing to serve: SMTP and LMTP are disabled and no IMAP source is set")
        if on_ready is not None:
            on_ready(services)
        await stop.wait()
        log.info("stopping")
    finally:
        for service in reversed(services):
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)
        await asyncio.to_thread(writer.stop)
        log.info("stopped")
