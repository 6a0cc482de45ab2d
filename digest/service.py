"""The `digest` service of `mailgate serve`: makes due digests on schedule.

Every `[digest] check_seconds` (60 by default) it runs `digest.send.make_digests` in a worker
thread and, when something was queued, wakes the `outbox` service that delivers it. Several
serving processes may run it at once: `digest_runs` keeps every digest to one. Registered with
`add_service` by `mailgate.cli_digest`.
"""

from __future__ import annotations

import logging

from digest.send import make_digests
from digest.settings import DigestSettings, digest_settings
from mailgate import outbound
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.polling import PollingService

log = logging.getLogger("mailgate.digest")


class DigestService(PollingService):
    """Checks for due digests every `check_seconds` until stopped."""

    name = "digest"

    def __init__(self, db: Database, settings: Settings, options: DigestSettings) -> None:
        super().__init__(options.check_seconds)
        self.db, self.settings, self.options = db, settings, options

    def describe(self) -> str:
        return f"digest: checking for due digests every {self.options.check_seconds}s"

    def work(self) -> bool:
        report = make_digests(self.db, self.settings, options=self.options)
        if report.queued:
            log.info("digests queued: %d (%d with nothing new)", report.queued, report.empty)
            outbound.wake_outbox()
        return False


async def start_digests(ctx) -> DigestService | None:  # type: ignore[no-untyped-def]
    """The `digest` service (None when `[digest] enabled = false`)."""
    options = digest_settings(ctx.settings)
    if not options.enabled:
        return None
    service = DigestService(ctx.db, ctx.settings, options)
    service.start()
    return service
