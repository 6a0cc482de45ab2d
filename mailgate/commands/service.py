"""The "commands" service of `mailgate serve`: runs the command worker continuously.

It handles the command inbox every `[commands] poll_seconds` (default 2), or at once when the
gateway calls `wake_commands()` after queueing command mail, and wakes the outbox service
when replies were queued. Started by `mailgate.cli_commands` through `add_service`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from mailgate.commands.worker import BATCH_LIMIT, WorkerStats, rate_limit, run_once
from mailgate.config import ConfigError, Settings, register_keys
from mailgate.db import Database
from mailgate.outbound import wake_outbox

log = logging.getLogger("mailgate.commands")
DEFAULT_POLL_SECONDS = 2.0
_wakers: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
_wakers_lock = threading.Lock()
register_keys("commands", ("poll_seconds", "enabled"))


def wake_commands() -> None:
    """Ask running command services of this process to look at the inbox now (any thread)."""
    with _wakers_lock:
        for loop, event in list(_wakers):
            loop.call_soon_threadsafe(event.set)


def poll_seconds(settings: Settings) -> float:
    value = settings.section("commands").get("poll_seconds", DEFAULT_POLL_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError("[commands] poll_seconds must be a positive number")
    return float(value)


class CommandService:
    """Handles queued command mail until stopped."""

    name = "commands"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.poll = poll_seconds(settings)
        rate_limit(settings)
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        return f"commands: handling the command inbox (every {self.poll:g} s, or when woken)"

    def start(self) -> None:
        with _wakers_lock:
            _wakers.add((asyncio.get_running_loop(), self._wake))
        self._task = asyncio.create_task(self._run())

    async def _once(self) -> WorkerStats:
        try:
            return await asyncio.to_thread(run_once, self.db, self.settings)
        except Exception:
            log.exception("command worker run failed; retrying later")
            return WorkerStats()

    async def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            stats = await self._once()
            if stats.queued:
                wake_outbox()
            if stats.handled >= BATCH_LIMIT:
                continue  # more may be waiting
            waits = [asyncio.ensure_future(e.wait()) for e in (self._wake, self._stop)]
            await asyncio.wait(waits, timeout=self.poll, return_when="FIRST_COMPLETED")
            for waiter in waits:
                waiter.cancel()

    async def stop(self) -> None:
        self._stop.set()
        with _wakers_lock:
            _wakers.discard((asyncio.get_running_loop(), self._wake))
        if self._task is not None:
            await self._task


async def start_commands(ctx: Any) -> CommandService | None:
    """The "commands" service (None when `[commands] enabled = false`)."""
    if ctx.settings.section("commands").get("enabled", True) is False:
        return None
    service = CommandService(ctx.db, ctx.settings)
    service.start()
    return service
