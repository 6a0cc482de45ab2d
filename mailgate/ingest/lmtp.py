"""The LMTP receiver: what a local MTA (Postfix `lmtp:` transport) delivers list mail through.

Same rules as the SMTP receiver (`ingest.smtp`), with the RFC 2033 difference that matters:
after DATA there is one reply per accepted recipient, in RCPT order, and each recipient is
committed on its own (a fault on one list does not hold back the others). aiosmtpd's LMTP
session answers once after DATA; `LmtpHandler` and `GatewayLMTP` answer per recipient, also
when the message is too big. Started by `mailgate serve`.
"""

from __future__ import annotations

from typing import Any

from aiosmtpd.lmtp import LMTP

from mailgate.ingest.service import ServeContext
from mailgate.ingest.smtp import (
    BUSY,
    TEMPFAIL,
    GatewayHandler,
    Receiver,
    smtp_config,
    start_receiver,
)
from mailgate.ingest.smtp_session import AIOSMTPD_SIZE_REPLIES, FastData, size_reply
from mailgate.ingest.writer import ItemResult
from mailgate.routing import Route


class LmtpHandler(GatewayHandler):
    """One status per recipient after DATA; each recipient's list committed separately."""

    protocol = "lmtp"
    atomic = False

    def reply(
        self,
        rcpt_tos: list[str],
        routes: dict[str, Route],
        results: list[ItemResult] | None,
        fault: str,
    ) -> str:
        by_address = {r.route.address: r for r in results or ()}
        lines = []
        for address in rcpt_tos:
            route = next((r for r in routes.values() if r.address == _norm(address)), None)
            result = by_address.get(route.address) if route else None
            if result is not None and result.ok:
                lines.append(f"250 2.1.5 <{address}> OK: message archived")
            else:
                failure = BUSY if fault.startswith("busy") else TEMPFAIL
                lines.append(f"{failure[:9]} <{address}> {failure[10:]}")
        return "\r\n".join(lines)


def _norm(address: str) -> str:
    return address.strip().strip("<>").lower()


class GatewayLMTP(FastData, LMTP):
    """aiosmtpd's LMTP session, reading DATA in blocks, answering rejections per recipient."""

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status in AIOSMTPD_SIZE_REPLIES:
            status = size_reply(self.data_size_limit)
        await super().push(status)

    async def reject_data(self, status: str) -> None:
        await self.push("\r\n".join(status for _ in self.envelope.rcpt_tos))


async def start_lmtp(ctx: ServeContext) -> Receiver | None:
    """Service starter of the LMTP receiver (None unless `[smtp] lmtp = true`)."""
    config = smtp_config(ctx.settings)
    if not config.lmtp:
        return None
    handler = LmtpHandler(ctx.settings, ctx.writer, config.max_recipients)
    return await start_receiver(
        "lmtp", GatewayLMTP, handler, config, ctx.settings, (config.lmtp_host, config.lmtp_port)
    )
