"""The fast path of `mailgate.outbound` for bulk mail (digests): serialized bytes, no
`EmailMessage`.

`build_prepared` takes the same arguments as `outbound.build_message` and gives the same
message (same headers, multipart/alternative with quoted-printable UTF-8 parts, CRLF line
ends) as bytes ready for `outbound.enqueue`, about 30 times faster: the parts are encoded by
`binascii.b2a_qp` in C, ASCII header values are written as they are (non-ASCII ones as RFC 2047
encoded words, written here too), and nothing is parsed back. Addresses must be ASCII here
(callers with internationalized addresses use `build_message`). Called by `digest.compose`.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

from mailgate.config import Settings
from mailgate.routing import bot_address

ORIGIN_HEADER = "X-Mailgate-Origin"
BOUNDARY_BYTES = 12
ENCODED_WORD_BYTES = 45  # base64: 60 characters, 72 with the =?utf-8?b?...?= frame
FOLD_AT = 78


class BulkError(ValueError):
    """Input the fast path does not handle (a non-ASCII address)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message already serialized, with its envelope: what `outbound.enqueue` stores."""

    data: bytes
    message_id: str
    recipients: tuple[str, ...]
    envelope_from: str


def _clean(value: str) -> str:
    """One header line: CR, LF and other control characters become spaces (no injection)."""
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else " " for c in value)


def _fold(name: str, value: str) -> str:
    """`Name: value` folded at spaces into lines of at most 78 characters where it can be."""
    line = f"{name}: {value}"
    if len(line) <= FOLD_AT:
        return line
    lines, current = [], f"{name}:"
    for word in value.split(" "):
        if current.strip() and len(current) + 1 + len(word) > FOLD_AT:
            lines.append(current)
            current = ""
        current += " " + word
    return "\r\n".join([*lines, current])


def _encoded_words(value: str) -> str:
    """RFC 2047 base64 encoded words, each under 76 characters, never splitting a character;
    folded between words (decoders join adjacent encoded words without the space)."""
    words, chunk, size = [], [], 0
    for char in value:
        width = len(char.encode("utf-8"))
        if size + width > ENCODED_WORD_BYTES:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    words.append("".join(chunk))
    return "\r\n ".join(
        "=?utf-8?b?" + binascii.b2a_base64(w.encode("utf-8"), newline=False).decode() + "?="
        for w in words
    )


def _header(name: str, value: str) -> bytes:
    value = _clean(value)
    if value.isascii():
        return f"{_fold(name, value)}\r\n".encode("ascii")
    return f"{name}: {_encoded_words(value)}\r\n".encode("ascii")


def _address(value: str) -> str:
    value = _clean(value).strip()
    if not value.isascii():
        raise BulkError(f"the bulk path needs ASCII addresses, not {value!r}")
    return value


def _part(subtype: str, text: str) -> bytes:
    text = text.replace("\r\n", "\n")
    body = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    encoded = binascii.b2a_qp(body, quotetabs=False, istext=True, header=False)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii") + encoded.replace(b"\n", b"\r\n")


def build_prepared(
    settings: Settings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    sender: str | None = None,
    list_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Prepared:
    """`outbound.build_message` for one ASCII recipient, serialized (`Auto-Submitted:
    auto-generated`)."""
    rcpt = _address(to)
    origin = _address(sender or bot_address(settings))
    message_id = make_msgid(domain=settings.domain)
    lines = [
        _header("From", origin),
        _header("To", rcpt),
        _header("Subject", subject),
        _header("Date", format_datetime(datetime.now(UTC))),
        _header("Message-ID", message_id),
        b"Auto-Submitted: auto-generated\r\n",
        _header(ORIGIN_HEADER, settings.domain),
    ]
    if list_id:
        lines.append(_header("List-Id", list_id))
    lines += [_header(name, value) for name, value in (headers or {}).items()]
    lines.append(b"MIME-Version: 1.0\r\n")
    if html is None:
        return Prepared(b"".join(lines) + _part("plain", text), message_id, (rcpt,), origin)
    boundary = "=_mg_" + secrets.token_hex(BOUNDARY_BYTES)  # '=_' never occurs in QP
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode())
    mark = f"--{boundary}\r\n".encode()
    lines += [mark, _part("plain", text), b"\r\n", mark, _part("html", html)]
    lines.append(f"\r\n--{boundary}--\r\n".encode())
    return Prepared(b"".join(lines), message_id, (rcpt,), origin)
