"""`smtplib.SMTP.sendmail` with ESMTP PIPELINING (RFC 2920): two round trips per message.

MAIL FROM, every RCPT TO and DATA go out in one write and their replies are read together;
then the content and its final reply. Same results and exceptions as `sendmail` (a dict of
refused recipients; `SMTPSenderRefused`, `SMTPRecipientsRefused`, `SMTPDataError`), for a
connection whose server advertised PIPELINING (`smtp.has_extn("pipelining")`). The content
must already have CRLF line ends (what the outbox stores). Called by `mailgate.outbox`.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Sequence

_LEADING_DOT = re.compile(rb"(?m)^\.")
CRLF = b"\r\n"


def _reply(smtp: smtplib.SMTP) -> tuple[int, bytes]:
    return smtp.getreply()


def _reset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def send_pipelined(
    smtp: smtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes
) -> dict[str, tuple[int, bytes]]:
    """Send one message; the refused recipients (all refused: SMTPRecipientsRefused)."""
    commands = [f"MAIL FROM:<{sender}>"] + [f"RCPT TO:<{r}>" for r in recipients]
    smtp.send(("\r\n".join([*commands, "DATA"]) + "\r\n").encode("ascii"))
    code, text = _reply(smtp)
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in recipients:
        rcode, rtext = _reply(smtp)
        if rcode not in (250, 251):
            refused[rcpt] = (rcode, rtext)
    dcode, dtext = _reply(smtp)
    if code != 250:
        if dcode == 354:
            smtp.send(b"." + CRLF)  # an empty message, then forget it
            _reply(smtp)
        _reset(smtp)
        raise smtplib.SMTPSenderRefused(code, text, sender)
    if len(refused) == len(recipients):
        if dcode == 354:
            smtp.send(b"." + CRLF)
            _reply(smtp)
        _reset(smtp)
        raise smtplib.SMTPRecipientsRefused(refused)
    if dcode != 354:
        _reset(smtp)
        raise smtplib.SMTPDataError(dcode, dtext)
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(CRLF):
        body += CRLF
    smtp.send(body + b"." + CRLF)
    code, text = _reply(smtp)
    if code != 250:
        _reset(smtp)
        raise smtplib.SMTPDataError(code, text)
    return refused
