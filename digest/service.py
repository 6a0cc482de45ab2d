"""The `digest` service of `mailgate serve`: makes due digests on schedule.

Every `[digest] check_seconds` (60 by default) it runs `digest.send.make_digests` in a worker
thread and, when something was queued, wakes the `outbox` service that delivers it. Several
serving processes may run it at once: `digest_runs` keeps every digest to one. Registered with
`add_service` by `mailgate.cli_digest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from digest.send import make_digests
from digest.settings import DigestSettings, digest_settings
from mailgate import outbound
from mailgate.config import Settings
from mailgate.db import Database

log = logging.getLogger("mailgate.digest")


class DigestService:
    """Checks for due digests every `check_seconds` until stopped."""

    name = "digest"

    def __init__(self, db: Database, settings: Settings, options: DigestSettings) -> None:
        self.db, self.settings, self.options = db, settings, options
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def describe(self) -> str:
        return f"digest: checking for due digests every {self.options.check_seconds}s"

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _once(self) -> None:
        try:
            report = await asyncio.to_thread(
                make_digests, self.db, self.settings, options=self.options
            )
        except Exception:
            log.exception("digest run failed; trying again at the next check")
            return
        finally:
            self.runs += 1
        if report.queued:
            log.info("digests queued: %d (%d with nothing new)", report.queued, report.empty)
            outbound.wake_outbox()

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self._once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.options.check_seconds)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


async def start_digests(ctx) -> DigestService | None:  # type: ignore[no-untyped-def]
    """The `digest` service (None when `[digest] enabled = false`)."""
    options = digest_settings(ctx.settings)
    if not options.enabled:
        return None
    service = DigestService(ctx.db, ctx.settings, options)
    service.start()
    return service
