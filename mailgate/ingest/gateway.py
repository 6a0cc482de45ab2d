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
from mailgate.config import ConfigError, Settings
from mailgate.db import Database
from mailgate.ingest.imap import imap_config, start_imap
from mailgate.ingest.lmtp import start_lmtp
from mailgate.ingest.service import ServeContext, Service, ServiceStarter
from mailgate.ingest.smtp import smtp_config, start_smtp
from mailgate.ingest.writer import IngestWriter
from mailgate.pipeline import list_contexts

log = logging.getLogger("mailgate.serve")

SERVICE_STARTERS: list[ServiceStarter] = [start_smtp, start_lmtp, start_imap]
RECEIVERS = frozenset({"smtp", "lmtp", "imap"})
# Name of each registered starter, as `mailgate serve --only/--without` spell it.
SERVICE_NAMES: dict[ServiceStarter, str] = {
    start_smtp: "smtp",
    start_lmtp: "lmtp",
    start_imap: "imap",
}


def starter_name(starter: ServiceStarter) -> str:
    """The name a starter was registered under; else derived from its function name
    (`start_outbox` -> "outbox", `_web_service` -> "web")."""
    if starter in SERVICE_NAMES:
        return SERVICE_NAMES[starter]
    name = getattr(starter, "__name__", "service").strip("_")
    name = name.removeprefix("start_").removesuffix("_service")
    return name or "service"


def add_service(starter: ServiceStarter, name: str | None = None) -> None:
    """Run one more service in `mailgate serve` (the web archive, the digest scheduler...).

    `name` is how `--only`/`--without` select it (default: from the function's name)."""
    if starter not in SERVICE_STARTERS:
        SERVICE_STARTERS.append(starter)
    SERVICE_NAMES[starter] = name or starter_name(starter)


def service_names() -> list[str]:
    """Names of the registered services, in start order."""
    return [starter_name(s) for s in SERVICE_STARTERS]


def select_services(only: Sequence[str] = (), without: Sequence[str] = ()) -> list[ServiceStarter]:
    """The starters `--only` keeps and `--without` drops; ConfigError names an unknown one."""
    known = service_names()
    unknown = sorted({*only, *without} - set(known))
    if unknown:
        raise ConfigError(f"unknown service(s): {', '.join(unknown)} (known: {', '.join(known)})")
    return [
        s
        for s in SERVICE_STARTERS
        if (not only or starter_name(s) in only) and starter_name(s) not in without
    ]


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
    """Start the writer and the services, wait for `stop`, then shut everything down.

    `starters` (default: every registered service) is what `--only`/`--without` selected; a
    selected service that its configuration leaves off is named in the log."""
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, store.sync_lists(conn, settings.lists))
    chosen = list(SERVICE_STARTERS if starters is None else starters)
    receives = any(starter_name(s) in RECEIVERS for s in chosen)
    # Parsing processes only where mail arrives (a web-only or worker process needs none).
    workers = smtp_config(settings).prepare_workers if receives else 0
    writer = IngestWriter(db, contexts, workers=workers)
    writer.start()
    context = ServeContext(settings, db, writer)
    services: list[Service] = []
    try:
        for starter in chosen:
            service = await starter(context)
            if service is not None:
                services.append(service)
                log.info("%s", service.describe())
            elif starters is not None:
                log.info("%s: not configured, not started", starter_name(starter))
        if not services:
            log.warning("nothing to serve: no selected service is configured to run")
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
