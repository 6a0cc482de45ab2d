"""Fast structure parse: raw bytes to the standard library's compat32 `Message` tree.

The standard parser (`email.feedparser`) walks a message line by line in Python and compiles a
regular expression for every multipart boundary; on list mail that is most of the cost of
parsing. Here each header block is still parsed by the standard library (headers only), while
bodies and multipart boundaries are found with string searches, and the tree built is the one
`email.message_from_bytes` builds (same headers, defects, payloads, preambles and epilogues).
Whatever this module does not handle exactly like the standard parser returns None, and the
caller parses with the standard library: bare CR line ends, message/* and multipart/digest
parts, a multipart without boundary, with a transfer encoding, without its first or last
boundary or with repeated boundary lines, a header block not followed by a blank line, nested
boundaries that prefix each other, nesting deeper than `MAX_DEPTH`. Called by `mailgate.parse`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from email import errors
from email.message import Message
from email.parser import Parser
from email.policy import compat32
from typing import Any

MAX_DEPTH = 8  # multipart nesting handled here; deeper trees go to the standard parser
MULTIPART_ENCODINGS = ("7bit", "8bit", "binary")
INDEXED_FIELDS = 8  # a header block with this many fields gets a name index
# The standard parser's header line test (email.feedparser.headerRE), one whole line each.
_HEADER_BLOCK = re.compile(r"(?:(?:From |[\041-\071\073-\176]*:|[\t ])[^\n]*\n)*")
# One field: its name, then its value with continuation lines (names hold no colon or space).
_FIELD = re.compile(r"([\041-\071\073-\176]*):([^\n]*\n(?:[\t ][^\n]*\n)*)")
_EOL_AT_END = re.compile(r"(?:\r\n|\n)\Z")
_headers = Parser(policy=compat32)


class _Message(Message):
    """A compat32 `Message` whose `get` finds a field in a dict of the lower-case names when
    it has many fields (list mail has dozens, and the standard `get` lowercases every name on
    each call). The index is rebuilt when the field list changed."""

    _indexed: list | None = None
    _count = 0
    _index: dict[str, tuple[str, str]]

    def get(self, name: str, failobj: Any = None) -> Any:
        headers = self._headers
        if len(headers) < INDEXED_FIELDS:
            return super().get(name, failobj)
        if self._indexed is not headers or self._count != len(headers):
            index: dict[str, tuple[str, str]] = {}
            for field in reversed(headers):
                index[field[0].lower()] = field
            self._index, self._indexed, self._count = index, headers, len(headers)
        found = self._index.get(name.lower())
        return failobj if found is None else self.policy.header_fetch_parse(*found)

    def replace_header(self, _name: str, _value: Any) -> None:
        self._indexed = None  # the only change that keeps the list and its length
        super().replace_header(_name, _value)


class _Unsupported(Exception):
    """A structure the standard parser must handle."""


@dataclass(frozen=True, slots=True)
class _Mark:
    """A boundary line: where it starts, where the next line starts, and whether it closes."""

    start: int
    end: int
    close: bool


@dataclass(frozen=True, slots=True)
class _Work:
    msg: Message
    body: int
    end: int
    depth: int
    nested: bool
    boundaries: tuple[str, ...]


def parse(raw: bytes) -> Message | None:
    """The standard library's tree for `raw`, or None when only its parser can build it."""
    text = raw.decode("ascii", "surrogateescape")
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return None
    try:
        root, body = _entity(text, 0, len(text))
        work = [_Work(root, body, len(text), 0, False, ())]
        while work:
            work.extend(_body(text, work.pop()))
    except _Unsupported:
        return None
    return root


def _entity(text: str, start: int, end: int) -> tuple[Message, int]:
    """The headers of the entity at `start` and where its body starts."""
    block_end = _HEADER_BLOCK.match(text, start, end).end()  # type: ignore[union-attr]
    if text.startswith("\n", block_end, end):
        body = block_end + 1
    elif text.startswith("\r\n", block_end, end):
        body = block_end + 2
    else:
        raise _Unsupported
    msg = _Message()
    if block_end == start:
        return msg, body
    block = text[start:block_end]
    fields = _fields(block)
    if fields is not None:
        for name, value in fields:
            msg.set_raw(name, value)
        return msg, body
    msg = _headers.parsestr(block, headersonly=True)
    # A headers-only parse of a multipart notes that it has no parts yet: not a defect here.
    if msg.defects and isinstance(msg.defects[-1], errors.MultipartInvariantViolationDefect):
        msg.defects.pop()
    return msg, body


def _fields(block: str) -> list[tuple[str, str]] | None:
    """(name, value) of each field of a header block of whole lines, as the standard parser
    stores them (compat32 `header_source_parse`), or None for a block it treats specially
    (an envelope "From " line, a line starting with a colon or with white space first)."""
    if block[0] in " \t:" or block.startswith("From ") or "\nFrom " in block or "\n:" in block:
        return None
    found = _FIELD.findall(block)
    if sum(len(name) + len(value) + 1 for name, value in found) != len(block):
        return None
    return [(name, value.lstrip(" \t").rstrip("\r\n")) for name, value in found]


def _strip_eol(value: str) -> str:
    """Without its last line end (RFC 2046: it belongs to the boundary that follows)."""
    found = _EOL_AT_END.search(value)
    return value[: found.start()] if found else value


def _body(text: str, item: _Work) -> list[_Work]:
    """Set the payload of a leaf, or split a multipart and return its parts to do."""
    msg = item.msg
    maintype = msg.get_content_maintype()
    if maintype == "message":
        raise _Unsupported
    if maintype != "multipart":
        payload = text[item.body : item.end]
        msg.set_payload(_strip_eol(payload) if item.nested else payload)
        return []
    boundary = msg.get_boundary()
    encoding = str(msg.get("content-transfer-encoding", "8bit")).lower()
    if (
        boundary is None
        or encoding not in MULTIPART_ENCODINGS
        or item.depth >= MAX_DEPTH
        or msg.get_content_type() == "multipart/digest"
        or any(b.startswith(boundary) or boundary.startswith(b) for b in item.boundaries)
    ):
        raise _Unsupported
    marks = _marks(text, item.body, item.end, "--" + boundary)
    if marks[0].start > item.body:
        msg.preamble = _strip_eol(text[item.body : marks[0].start])
    epilogue = text[marks[-1].end : item.end]
    if item.nested:
        msg.epilogue = _strip_eol(epilogue) if epilogue else None
    else:
        msg.epilogue = epilogue
    msg.set_payload(None)
    parts = []
    inner = (*item.boundaries, boundary)
    for mark, following in itertools.pairwise(marks):
        part, body = _entity(text, mark.end, following.start)
        msg.attach(part)
        parts.append(_Work(part, body, following.start, item.depth + 1, True, inner))
    return parts


def _marks(text: str, start: int, end: int, separator: str) -> list[_Mark]:
    """The boundary lines of a multipart body, up to its closing one; raises _Unsupported
    when the first is missing or closing, the last is missing, or two follow each other."""
    marks: list[_Mark] = []
    position = start
    while True:
        found = text.find(separator, position, end)
        if found < 0:
            raise _Unsupported
        position = found + len(separator)
        if found != start and text[found - 1] != "\n":
            continue
        mark = _boundary_line(text, found, position, end)
        if mark is None:
            continue
        if (not marks and mark.close) or (marks and marks[-1].end == mark.start):
            raise _Unsupported
        marks.append(mark)
        if mark.close:
            return marks
        position = mark.end


def _boundary_line(text: str, start: int, after: int, end: int) -> _Mark | None:
    """The boundary line starting at `start` (its separator ends at `after`), or None when
    the line goes on with other text (email.feedparser's boundary expression)."""
    close = text.startswith("--", after, end)
    index = after + 2 if close else after
    while index < end and text[index] in " \t":
        index += 1
    if index == end:
        return _Mark(start, end, close)
    if text.startswith("\r\n", index, end):
        return _Mark(start, index + 2, close)
    if text[index] == "\n":
        return _Mark(start, index + 1, close)
    return None
