"""The "commands" service of `mailgate serve`: runs the command worker continuously.

It handles the command inbox every `[commands] poll_seconds` (default 2), or at once when the
gateway calls `wake_commands()` after queueing command mail, and wakes the outbox service
when replies were queued. Started by `mailgate.cli_commands` through `add_service`.
"""

from __future__ import annotations

import logging
from typing import Any

from mailgate.commands.worker import BATCH_LIMIT, rate_limit, run_once
from mailgate.config import ConfigError, Settings, register_keys
from mailgate.db import Database
from mailgate.outbound import wake_outbox
from mailgate.polling import PollingService, Waker

log = logging.getLogger("mailgate.commands")
DEFAULT_POLL_SECONDS = 2.0
_commands_waker = Waker()
register_keys("commands", ("poll_seconds", "enabled"))


def wake_commands() -> None:
    """Ask running command services of this process to look at the inbox now (any thread)."""
    _commands_waker.wake()


def poll_seconds(settings: Settings) -> float:
    value = settings.section("commands").get("poll_seconds", DEFAULT_POLL_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError("[commands] poll_seconds must be a positive number")
    return float(value)


class CommandService(PollingService):
    """Handles queued command mail until stopped."""

    name = "commands"

    def __init__(self, db: Database, settings: Settings) -> None:
        super().__init__(poll_seconds(settings), _commands_waker)
        self.db, self.settings = db, settings
        rate_limit(settings)

    def describe(self) -> str:
        return (
            f"commands: handling the command inbox (every {self.poll_seconds:g} s, or when woken)"
        )

    def work(self) -> bool:
        stats = run_once(self.db, self.settings)
        if stats.queued:
            wake_outbox()
        return stats.handled >= BATCH_LIMIT  # more may be waiting


async def start_commands(ctx: Any) -> CommandService | None:
    """The "commands" service (None when `[commands] enabled = false`)."""
    if ctx.settings.section("commands").get("enabled", True) is False:
        return None
    service = CommandService(ctx.db, ctx.settings)
    service.start()
    return service
