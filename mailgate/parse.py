"""Raw bytes to `ParsedMessage`: every field the archive derives from a message (pure).

The structure is the standard library's compat32 tree (lossless on bad input), built by
`mimetree` for well-formed mail and by the standard parser otherwise; header values are
decoded by `headers`, bodies by `mime`. mail-parser's forensic address parser is the fallback
for From/To/Cc values the standard library cannot split. A list server's DMARC wrapping (the
real post inside a message/rfc822 part, or a "X via list" From with the author in Reply-To) is
undone so the real author and text are kept. Called by the ingest pipeline; raises
`ParseError` with a reason for input that is not mail.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.utils
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from email.message import Message

from mailparser.utils import get_addresses as forensic_addresses

from mailgate import ids, mimetree
from mailgate.headers import (
    decode_header,
    parse_date,
    plausible,
    raw_to_text,
    received_date,
    safe_text,
)
from mailgate.mime import AttachmentInfo, BodyParts, extract_body, strip_trailing_footer
from mailgate.models import ADDRESS_LENGTH
from mailgate.subjects import strip_prefixes, stripped_key

MAX_FUTURE = timedelta(days=2)
UTF8_BOM = b"\xef\xbb\xbf"
MAX_ADDRESSES = 500
THREAD_INDEX_ROOT_BYTES = 22
THREAD_INDEX_BLOCK_BYTES = 5
MAX_THREAD_INDEX_BLOCKS = 35  # the stored hex form fits 400 characters
DMARC_NOTE_MAX_CHARS = 1_500
MAIL_HEADERS = ("from", "message-id", "date", "subject", "to", "received", "mime-version")
_SIMPLE_ADDRESS = re.compile(
    r"\s*(?:([^<>@,]*?)\s*<([^<>@\s,]+@[^<>@\s,]+)>|([^<>@\s,]+@[^<>@\s,]+))\s*$"
)
_VIA = re.compile(r"\s+via\s+\S.*$", re.I)
_WS = re.compile(r"\s+")


class ParseError(ValueError):
    """The bytes are not a message mailgate can archive; the text is the reason."""


Address = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str
    synthetic_mid: bool
    aliases: tuple[str, ...]
    subject: str
    subject_key: str
    reply_like: bool
    from_name: str
    from_addr: str
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime
    tz_offset: int
    date_source: str
    parent: str | None
    references: tuple[str, ...]
    thread_index: str | None
    thread_topic: str
    text: str
    html: str | None
    text_from_html: bool
    footer: str
    attachments: tuple[AttachmentInfo, ...]
    defects: tuple[str, ...]
    dmarc_unwrapped: bool
    body_key: str
    received: datetime | None


def header_map(msg: Message) -> dict[str, list[str]]:
    """Raw header values by lower-case name, in order (values may hold 8-bit bytes)."""
    found: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        found.setdefault(name.lower(), []).append(str(value))
    return found


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _simple_pairs(text: str) -> list[tuple[str, str]] | None:
    """Addresses of a header in the common simple forms, without the general parser:
    `Name <a@b>` or `a@b`, comma-separated, no quotes, comments or groups. None otherwise."""
    if '"' in text or "(" in text or ";" in text or "\\" in text:
        return None
    pairs = []
    for piece in text.split(","):
        match = _SIMPLE_ADDRESS.match(piece)
        if match is None:
            return None
        name, bracketed, bare = match.groups()
        pairs.append(((name or "").strip(), bracketed or bare))
    return pairs


def parse_addresses(value: str | None) -> list[Address]:
    """(display name, lower-case address) pairs; names decoded; junk entries dropped."""
    if not value:
        return []
    text = raw_to_text(value)
    pairs = _simple_pairs(text)
    if pairs is None:
        pairs = email.utils.getaddresses([text])
        if not pairs or any("@" not in addr for _name, addr in pairs if addr or _name):
            recovered = forensic_addresses(text, decode_names=False)
            pairs = recovered if any("@" in a for _n, a in recovered) else pairs
    result: list[Address] = []
    for name, addr in pairs[:MAX_ADDRESSES]:
        addr = safe_text(addr.strip().strip("<>").lower())[:ADDRESS_LENGTH]
        name = decode_header(name).strip().strip('"').strip("'").strip()[:ADDRESS_LENGTH]
        if addr or name:
            result.append((name if name.lower() != addr else "", addr))
    return result


def decode_thread_index(value: str | None) -> str | None:
    """Outlook's Thread-Index as hex (22-byte conversation root + 5-byte reply blocks)."""
    if not value:
        return None
    try:
        raw = base64.b64decode(_WS.sub("", value), validate=False)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < THREAD_INDEX_ROOT_BYTES:
        return None
    blocks = min(
        (len(raw) - THREAD_INDEX_ROOT_BYTES) // THREAD_INDEX_BLOCK_BYTES, MAX_THREAD_INDEX_BLOCKS
    )
    return raw[: THREAD_INDEX_ROOT_BYTES + blocks * THREAD_INDEX_BLOCK_BYTES].hex()


def _choose_date(
    headers: dict[str, list[str]],
    arrival: datetime,
    default_tz: tzinfo | None,
    defects: list[str],
) -> tuple[datetime, int, str]:
    parsed = parse_date(raw_to_text(_first(headers, "date") or ""), default_tz)
    if parsed and plausible(parsed[0], arrival, max_future=MAX_FUTURE):
        return parsed[0], parsed[1], "header"
    defects.append("missing or unreadable Date" if not parsed else "implausible Date")
    received = received_date(headers.get("received", []))
    if received and plausible(received, arrival, max_future=MAX_FUTURE):
        return received, 0, "received"
    return arrival, 0, "arrival"


def _is_list_sender(
    name: str, addr: str, headers: dict[str, list[str]], lists: frozenset[str]
) -> bool:
    if addr in lists or _VIA.search(name or ""):
        return True
    posts = " ".join(headers.get("list-post", []) + headers.get("x-beenthere", [])).lower()
    return bool(addr) and addr in posts


def _dmarc_author(
    headers: dict[str, list[str]], name: str, addr: str, lists: frozenset[str]
) -> Address | None:
    """The real author of a post whose From the list rewrote ("X via list")."""
    if not _is_list_sender(name, addr, headers, lists):
        return None
    for source in ("x-original-from", "reply-to"):
        candidates = parse_addresses(_first(headers, source))
        real = [c for c in candidates if c[1] and c[1] not in lists and c[1] != addr]
        if len(real) == 1:
            return real[0]
    return None


def _body_key(body: BodyParts) -> str:
    """A hash of the content: text without list footers (whitespace collapsed), attachments."""
    source = " ".join((strip_trailing_footer(body.text) or body.text).split())
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass"))
    for attachment in body.attachments:
        digest.update(attachment.sha256.encode("ascii"))
    return digest.hexdigest()


def _wrapped_post(
    headers: dict[str, list[str]], body: BodyParts, name: str, addr: str, lists: frozenset[str]
) -> Message | None:
    """The original post inside a list server's DMARC wrapper, or None."""
    if len(body.embedded) != 1 or len(body.text) > DMARC_NOTE_MAX_CHARS:
        return None
    inner = body.embedded[0][1]
    if not inner.get("From") or not _is_list_sender(name, addr, headers, lists):
        return None
    return inner


def parse_message(
    raw: bytes,
    *,
    arrival: datetime,
    default_tz: tzinfo | None = None,
    list_addresses: frozenset[str] = frozenset(),
) -> ParsedMessage:
    """Parse one message. `arrival` (naive UTC) is the fallback date."""
    if not raw.strip():
        raise ParseError("empty message")
    raw = raw.removeprefix(UTF8_BOM)
    try:
        msg = mimetree.parse(raw) or email.message_from_bytes(raw)
    except RecursionError:
        raise ParseError("MIME structure nested too deeply to parse") from None
    except Exception as exc:
        raise ParseError(f"unparseable message: {type(exc).__name__}: {exc}") from None
    headers = header_map(msg)
    if not any(name in headers for name in MAIL_HEADERS):
        raise ParseError("no mail headers found (not an e-mail message)")
    try:
        return _build(msg, headers, raw, arrival, default_tz, list_addresses)
    except RecursionError:
        raise ParseError("MIME structure nested too deeply to parse") from None


def _build(
    msg: Message,
    headers: dict[str, list[str]],
    raw: bytes,
    arrival: datetime,
    default_tz: tzinfo | None,
    lists: frozenset[str],
) -> ParsedMessage:
    defects = [type(d).__name__ for d in msg.defects]
    senders = parse_addresses(_first(headers, "from")) or parse_addresses(_first(headers, "sender"))
    from_name, from_addr = senders[0] if senders else ("", "")
    body = extract_body(msg)
    source_headers, aliases, unwrapped = headers, [], False
    inner = _wrapped_post(headers, body, from_name, from_addr, lists)
    if inner is not None:
        source_headers, body, unwrapped = header_map(inner), extract_body(inner), True
        inner_senders = parse_addresses(_first(source_headers, "from"))
        if inner_senders:
            from_name, from_addr = inner_senders[0]
        inner_mid = ids.clean_mid(_first(source_headers, "message-id"))
        aliases = [inner_mid] if inner_mid else []
    else:
        real = _dmarc_author(headers, from_name, from_addr, lists)
        if real is not None:
            (from_name, from_addr), unwrapped = real, True
    defects.extend(body.defects)
    date, offset, date_source = _choose_date(source_headers, arrival, default_tz, defects)
    subject = decode_header(_first(headers, "subject"))
    stripped, reply, _forward = strip_prefixes(subject)
    key = stripped_key(stripped)
    body_key = _body_key(body)
    mid = ids.clean_mid(_first(headers, "message-id"))
    synthetic = not mid
    if synthetic:
        mid = ids.synthetic_mid(f"{from_addr}|{date.isoformat()}|{key}|{body_key}".encode())
    to = tuple(parse_addresses(_first(headers, "to")))
    involved = {from_addr} | {a for _n, a in to}
    parent, refs = _references(headers, source_headers, mid, involved)
    aliases = [a for a in aliases if a != mid]
    return ParsedMessage(
        message_id=mid,
        synthetic_mid=synthetic,
        aliases=tuple(aliases),
        subject=subject,
        subject_key=key,
        reply_like=reply or parent is not None,
        from_name=from_name or from_addr,
        from_addr=from_addr,
        to=to,
        cc=tuple(parse_addresses(_first(headers, "cc"))),
        date=date,
        tz_offset=offset,
        date_source=date_source,
        parent=parent,
        references=tuple(refs),
        thread_index=decode_thread_index(
            _first(source_headers, "thread-index") or _first(headers, "thread-index")
        ),
        thread_topic=decode_header(_first(headers, "thread-topic")),
        text=body.text,
        html=body.html,
        text_from_html=body.text_from_html,
        footer=body.footer,
        attachments=tuple(body.attachments),
        defects=tuple(defects),
        dmarc_unwrapped=unwrapped,
        body_key=body_key,
        received=received_date(headers.get("received", [])),
    )


def _references(
    headers: dict[str, list[str]], source: dict[str, list[str]], mid: str, involved: set[str]
) -> tuple[str | None, list[str]]:
    irt = " ".join(headers.get("in-reply-to", []) + source.get("in-reply-to", [])[:1])
    refs = " ".join(headers.get("references", [])[:1] + source.get("references", [])[:1])
    return ids.parent_and_references(raw_to_text(irt), raw_to_text(refs), mid, involved)
