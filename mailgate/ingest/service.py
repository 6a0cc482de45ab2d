"""What `mailgate serve` runs: services started from a shared context, stopped in reverse.

A service starter is an async function taking the `ServeContext` and returning a started
`Service` (or None when the service is not configured). The receivers (`smtp`, `lmtp`) and the
IMAP pollers (`imap`) are services; `mailgate.cli_serve` holds the list of starters, which
the web archive and the digest scheduler join by adding theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from mailgate.config import Settings
from mailgate.db import Database
from mailgate.ingest.writer import IngestWriter


@dataclass(frozen=True)
class ServeContext:
    """What every service may use: settings, the database, and the durable writer."""

    settings: Settings
    db: Database
    writer: IngestWriter


class Service(Protocol):
    """A running service: `describe()` for the start-up log, `stop()` to end it cleanly."""

    name: str

    def describe(self) -> str: ...

    async def stop(self) -> None: ...


ServiceStarter = Callable[[ServeContext], Awaitable["Service | None"]]
