"""MIME structure of one message: its main text, HTML, attachments and list footers (pure).

`extract_body` walks the parts without recursion (depth and count are capped), picks the main
text (text/plain preferred, HTML converted to text otherwise), decodes charsets with fallbacks,
separates list footers that a list server added as their own part, and lists attachments with
their decoded names (RFC 2231 and RFC 2047), sizes and hashes. `part_at` finds a part again by
its position (the web archive uses it to serve an attachment from the raw message). Called by
`parse` and the readers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import Compat32
from typing import Any

from mailgate.charsets import decode_bytes
from mailgate.headers import decode_header, safe_text
from mailgate.htmltext import html_to_text

MAX_MIME_DEPTH = 40
MAX_PARTS = 1_000
MAX_TEXT_CHARS = 2_000_000
MAX_FILENAME_CHARS = 500
MAX_CONTENT_TYPE_CHARS = 200
MAX_CONTENT_ID_CHARS = 250
MAX_FOOTER_LINES = 15
MAX_FOOTER_CHARS = 2_000
MAX_INLINE_FOOTER_LINES = 6
MAX_CACHED_CHARSETS = 1_024  # Content-Type values whose charset is remembered
CONTAINER_TYPES = frozenset({"message/rfc822", "message/global"})
_FOOTER_MARKERS = re.compile(
    r"mailing list|listinfo|liste de diffusion|mailman/options|unsubscribe|désabonn", re.I
)
_FOOTER_RULE = re.compile(r"^_{10,}\s*$", re.M)
_FOOTER_END = re.compile(r"https?://\S+|\S+@\S+|unsubscribe|désabonn|mailing list", re.I)


class _FittingFieldsAsIs(Compat32):
    """compat32, except that a header field whose lines all fit and hold printable ASCII is
    written as it is, without building an `email.header.Header` to fold it again: compat32
    leaves such a field unchanged, and the Header costs most of the time of serialising an
    attached message (which `_leaf_bytes` does to hash and serve it)."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if self.linesep == "\n" and _fits_as_is(name, value, self.max_line_length):
            return f"{name}: {value}\n"
        return super()._fold(name, value, sanitize)


def _fits_as_is(name: str, value: Any, limit: int | None) -> bool:
    """Whether compat32 would write `value` unchanged: printable ASCII (tabs allowed), the
    first line not blank and, with the field name, within `limit`; each further line starts
    with a space or tab, is not blank and is within `limit`; no line ends with white space
    (compat32 drops a trailing space in some places)."""
    if not isinstance(value, str) or not value.isascii() or limit is None:
        return False
    lines = value.split("\n")
    if len(name) + 2 + len(lines[0]) > limit or not lines[0].strip():
        return False
    for number, line in enumerate(lines):
        if not line.replace("\t", " ").isprintable():
            return False
        if number and (not line.strip() or len(line) > limit or line[0] not in " \t"):
            return False
        if line[-1] in " \t":
            return False
    return True


ATTACHED_MESSAGE_POLICY = _FittingFieldsAsIs()
_CHARSETS: dict[str, str | None] = {}


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    position: int
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str | None
    inline: bool


@dataclass(slots=True)
class BodyParts:
    text: str = ""
    html: str | None = None
    text_from_html: bool = False
    footer: str = ""
    attachments: list[AttachmentInfo] = field(default_factory=list)
    embedded: list[tuple[int, Message]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def iter_leaves(msg: Message) -> Iterator[tuple[int, Message]]:
    """(position, part) for every non-multipart part, in document order, without recursion.

    Attached messages (message/rfc822) are leaves: their own parts belong to them.
    """
    stack: list[tuple[Message, int]] = [(msg, 0)]
    position = 0
    while stack and position < MAX_PARTS:
        part, depth = stack.pop()
        payload = part.get_payload()  # (on a leaf it may raise: malformed mail is refused)
        if part.is_multipart() and part.get_content_type() not in CONTAINER_TYPES:
            if depth < MAX_MIME_DEPTH and isinstance(payload, list):
                stack.extend((child, depth + 1) for child in reversed(payload))
            continue
        yield position, part
        position += 1


def part_at(msg: Message, position: int) -> Message | None:
    """The leaf part at `position` (as numbered by `iter_leaves`), or None."""
    return next((part for pos, part in iter_leaves(msg) if pos == position), None)


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (an attached message is serialised)."""
    return _leaf_bytes(part, part.get_content_type())


def _leaf_bytes(part: Message, ctype: str) -> bytes:
    """part_bytes for a part whose content type (get_content_type) is known."""
    if ctype in CONTAINER_TYPES:
        inner = part.get_payload()
        if isinstance(inner, list) and inner:
            return inner[0].as_bytes(policy=ATTACHED_MESSAGE_POLICY)
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    return str(part.get_payload()).encode("utf-8", "surrogateescape")


def part_text(part: Message) -> str:
    """Decoded text of a text part, with charset fallbacks."""
    return _leaf_text(part, part.get_content_type())


def _leaf_text(part: Message, ctype: str) -> str:
    raw = _leaf_bytes(part, ctype)
    text = decode_bytes(raw, content_charset(part))
    return safe_text(text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS])


def content_charset(part: Message) -> str | None:
    """`part.get_content_charset()`, remembered for each Content-Type value: reading the
    parameters is most of its cost, and list mail repeats a few values."""
    value = part.get("content-type")
    if not isinstance(value, str):
        return part.get_content_charset()
    try:
        return _CHARSETS[value]
    except KeyError:
        charset = part.get_content_charset()
        if len(_CHARSETS) >= MAX_CACHED_CHARSETS:
            _CHARSETS.clear()
        _CHARSETS[value] = charset
        return charset


def is_list_footer(text: str) -> bool:
    """True for the short note a list server appends (Mailman's "___ / list mailing list")."""
    if len(text) > MAX_FOOTER_CHARS:
        return False
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines or len(lines) > MAX_FOOTER_LINES:
        return False
    return bool(_FOOTER_MARKERS.search(text)) and (
        bool(_FOOTER_RULE.search(text)) or len(lines) <= 4
    )


def strip_trailing_footer(text: str) -> str:
    """The text without a list footer appended at its very end (inline, after a ___ rule)."""
    cut = text.rfind("\n____")
    if cut == -1:
        return text
    tail = text[cut:]
    lines = [line for line in tail.splitlines() if line.strip()]
    ends_as_footer = bool(lines) and bool(_FOOTER_END.search(lines[-1]))
    if len(lines) <= MAX_INLINE_FOOTER_LINES and ends_as_footer and is_list_footer(tail):
        return text[:cut]
    return text


def _leaf_headers(part: Message) -> tuple[str, str | None, str]:
    """(get_content_type(), get_content_disposition(), file name) of a part, reading its
    Content-Type and Content-Disposition once (each lookup scans all of a message's headers)."""
    content_type = part.get("content-type")
    disposition = part.get("content-disposition")
    if content_type is None:
        ctype = part.get_default_type()
    else:
        ctype = _first_param(content_type)
        ctype = ctype if ctype.count("/") == 1 else "text/plain"
    filename = _filename(part, content_type, disposition)
    return ctype, None if disposition is None else _first_param(disposition), filename


def _first_param(value: object) -> str:
    """The value before the parameters, lower-case, as email.message reads it."""
    return str(value).partition(";")[0].strip().lower()


def _filename(part: Message, content_type: object, disposition: object) -> str:
    if not (_may_hold_name(content_type) or _may_hold_name(disposition)):
        return ""  # get_filename would find no parameter and return None
    try:
        name = part.get_filename()
    except (LookupError, UnicodeError, ValueError):
        name = None
    return decode_header(name) if name else ""


def _may_hold_name(value: object) -> bool:
    """A "filename" or "name" parameter, or an RFC 2231 one ("*"), may be in this header."""
    if value is None:
        return False
    text = str(value)
    return "name" in text.lower() or "*" in text


def _attachment(
    position: int, part: Message, ctype: str, disposition: str | None, filename: str
) -> AttachmentInfo:
    data = _leaf_bytes(part, ctype)
    content_id = part.get("Content-ID")
    if not filename and ctype in CONTAINER_TYPES:
        inner = part.get_payload()
        subject = (
            decode_header(inner[0].get("Subject")) if isinstance(inner, list) and inner else ""
        )
        filename = f"{subject or 'message'}.eml"
    return AttachmentInfo(
        position=position,
        filename=(filename or f"part-{position}")[:MAX_FILENAME_CHARS],
        content_type=safe_text(ctype)[:MAX_CONTENT_TYPE_CHARS],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_id=decode_header(content_id).strip("<>")[:MAX_CONTENT_ID_CHARS]
        if content_id
        else None,
        inline=(disposition or "inline") == "inline",
    )


def extract_body(msg: Message) -> BodyParts:
    """The main text, HTML, footers and attachments of a parsed message."""
    body = BodyParts()
    texts: list[str] = []
    for position, part in iter_leaves(msg):
        ctype, disposition, filename = _leaf_headers(part)
        if ctype in CONTAINER_TYPES:
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                body.embedded.append((position, inner[0]))
            body.attachments.append(_attachment(position, part, ctype, disposition, filename))
        elif ctype == "text/plain" and disposition != "attachment" and not filename:
            text = _leaf_text(part, ctype)
            if (texts or body.html is not None) and is_list_footer(text):
                body.footer = text
            else:
                texts.append(text)
        elif (
            ctype == "text/html"
            and disposition != "attachment"
            and not (filename and body.html is not None)
        ):
            if body.html is None:
                body.html = _leaf_text(part, ctype)
        else:
            body.attachments.append(_attachment(position, part, ctype, disposition, filename))
    _choose_text(body, texts)
    if len(body.attachments) >= MAX_PARTS:
        body.defects.append(f"more than {MAX_PARTS} MIME parts; the rest were ignored")
    return body


def _choose_text(body: BodyParts, texts: list[str]) -> None:
    if len(texts) == 1 and body.html is not None and is_list_footer(texts[0]):
        body.footer, texts = texts[0], []
    if texts:
        body.text = "\n\n".join(t.rstrip("\n") for t in texts if t.strip()) or texts[0]
    elif body.html is not None:
        body.text = html_to_text(body.html)
        body.text_from_html = True
