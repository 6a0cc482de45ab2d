"""aiosmtpd sessions of the receivers, with three changes to aiosmtpd's behaviour.

- DATA is read in blocks, not line by line: aiosmtpd awaits every line of a message
  separately, which cost a fifth of the server's CPU per message. The message ends at the
  first CRLF "." CRLF; leading dots are unstuffed (RFC 5321 4.5.2). Lines longer than 998
  bytes are kept as they are (an archive keeps what it is given) instead of refused.
- Size rejections carry the enhanced status code: 552 5.3.4, at MAIL (declared SIZE) and
  after DATA (the rest of the message is read and discarded first, as RFC 5321 asks).
- Plain `<local@domain>` paths skip aiosmtpd's RFC 5322 address parser (slow); anything else
  still goes through it.

`GatewaySMTP` is the SMTP session; `ingest.lmtp` derives its LMTP session from `FastData`.
"""

from __future__ import annotations

import re
from typing import Any

from aiosmtpd.smtp import SMTP, syntax

READ_BLOCK = 64 * 1024
TERMINATOR = b"\r\n.\r\n"
_SIMPLE_PATH = re.compile(r"\s*<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+)>\s*(.*)\Z")
# aiosmtpd's size replies (MAIL with a too large SIZE) lack the enhanced code: rewritten.
AIOSMTPD_SIZE_REPLIES = (
    "552 Error: message size exceeds fixed maximum message size",
    "552 Error: Too much mail data",
)


def size_reply(limit: int | None) -> str:
    return f"552 5.3.4 Message too big (limit {limit} bytes)"


class FastData:
    """Mixin for aiosmtpd's SMTP/LMTP sessions: block-wise DATA and quick address parsing."""

    async def _read_message(self: Any) -> bytes | None:
        """The message after 354, dot-unstuffed; None if it exceeds the size limit."""
        reader = self._reader
        limit = self.data_size_limit or 0
        data = bytearray(b"\r\n")  # a virtual line end: the first line may be the lone dot
        too_big, searched = False, 0
        while True:
            found = data.find(TERMINATOR, searched)
            if found != -1:
                break
            if limit and len(data) > limit + len(TERMINATOR):
                too_big = True
                del data[: len(data) - len(TERMINATOR)]  # keep what may start the terminator
            searched = max(0, len(data) - len(TERMINATOR) + 1)
            block = await reader.read(READ_BLOCK)
            if not block:
                raise ConnectionResetError("connection closed during DATA")
            data += block
        leftover = data[found + len(TERMINATOR) :]
        if leftover:  # commands sent before our reply (no PIPELINING offered): keep them
            reader._buffer[0:0] = leftover
        if too_big or (limit and found > limit):  # `found`: the message's length, stuffed
            return None
        del data[found + 2 :]
        return bytes(data.replace(b"\r\n.", b"\r\n")[2:])

    def _getaddr(self: Any, arg: str) -> tuple[str | None, str | None]:
        match = _SIMPLE_PATH.match(arg) if arg else None
        if match is not None:
            return match.group(1), match.group(2)
        return SMTP._getaddr(self, arg)

    async def reject_data(self: Any, status: str) -> None:
        """Answer a rejected DATA (LMTP answers once per recipient)."""
        await self.push(status)

    @syntax("DATA")
    async def smtp_DATA(self: Any, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content = await self._read_message()
        if content is None:
            await self.reject_data(size_reply(self.data_size_limit))
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status if isinstance(status, str) else "250 OK")


class GatewaySMTP(FastData, SMTP):
    """aiosmtpd's SMTP session with the changes above."""

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status in AIOSMTPD_SIZE_REPLIES:
            status = size_reply(self.data_size_limit)
        await super().push(status)
