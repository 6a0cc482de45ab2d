"""Streaming readers of mail archives: mbox (mboxo and mboxrd, optionally gzip/bzip2/xz),
Maildir, a directory of message files, or one message file.

Memory does not grow with the archive: messages are yielded one at a time with the number of
bytes read so far (for progress). Used by `mailgate import` through `mailgate.bulk`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO

READ_BLOCK = 1 << 20
_FROM_LINE = re.compile(rb"^From \S*\s+(.*?)\s*$")
_MAGIC = {b"\x1f\x8b": gzip.open, b"BZ": bz2.open, b"\xfd7": lzma.open}


class ArchiveError(ValueError):
    """The path is not a readable archive; the text says why."""


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    raw: bytes
    arrival: datetime | None
    position: int
    bytes_read: int


def _open(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(stream of decompressed bytes, underlying file for progress)."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    opener = _MAGIC.get(magic)
    return (opener(raw) if opener else raw), raw  # type: ignore[operator]


def _from_line_date(line: bytes) -> datetime | None:
    match = _FROM_LINE.match(line)
    if not match:
        return None
    try:
        moment = parsedate_to_datetime(match.group(1).decode("ascii", "replace"))
    except (TypeError, ValueError, IndexError):
        return None
    if moment.year < 1985:
        return None
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment


_SEPARATOR = re.compile(rb"\n\r?\nFrom ")
_UNESCAPE = re.compile(rb"^>(>*From )", re.M)


def _split_message(chunk: bytes, position: int, bytes_read: int) -> ArchivedMessage:
    """One mbox entry (From_ line first) as an ArchivedMessage with mboxrd unescaping."""
    line_end = chunk.find(b"\n")
    from_line = chunk[: line_end if line_end != -1 else len(chunk)]
    body = chunk[line_end + 1 :] if line_end != -1 else b""
    if b">From " in body:
        body = _UNESCAPE.sub(rb"\1", body)
    return ArchivedMessage(body, _from_line_date(from_line.rstrip(b"\r")), position, bytes_read)


def read_mbox(path: Path) -> Iterator[ArchivedMessage]:
    """Messages of an mbox file, read in blocks; one '>' is removed from '>From ' lines
    (mboxrd rules, also right for mboxo in practice). A separator is a 'From ' line after a
    blank line. The block is walked by offsets: it is copied once per block read, not once
    per message."""
    stream, underlying = _open(path)
    with underlying, stream:
        buffer = stream.read(READ_BLOCK).lstrip(b"\r\n")
        if not buffer.startswith(b"From "):
            raise ArchiveError(f"{path}: not an mbox file (no 'From ' line at the start)")
        position, start, searched, eof = 0, 0, 0, False
        while start < len(buffer):
            match = _SEPARATOR.search(buffer, searched)
            if match is None and not eof:
                more = stream.read(READ_BLOCK)
                eof = not more
                searched = max(0, len(buffer) - start - 8)
                buffer, start = buffer[start:] + more, 0
                continue
            if match:
                chunk = buffer[start : match.start() + 1]
                start = searched = match.end() - 5
            else:  # the last entry: drop the one blank line that ends an mbox
                chunk = buffer[start:-1] if buffer.endswith(b"\n\n") else buffer[start:]
                start = len(buffer)
            yield _split_message(chunk, position, underlying.tell())
            position += 1


def _read_files(files: list[Path]) -> Iterator[ArchivedMessage]:
    done = 0
    for position, file in enumerate(files):
        data = file.read_bytes()
        done += len(data)
        yield ArchivedMessage(data, None, position, done)


def archive_size(path: Path) -> int:
    """Bytes the reader will go through (for a progress bar)."""
    if path.is_dir():
        return sum(f.stat().st_size for f in _message_files(path))
    return path.stat().st_size


def _message_files(path: Path) -> list[Path]:
    if (path / "cur").is_dir() or (path / "new").is_dir():
        folders = [path / "cur", path / "new"]
    else:
        folders = [path]
    return sorted(
        f
        for d in folders
        if d.is_dir()
        for f in d.iterdir()
        if f.is_file() and not f.name.startswith(".")
    )


def read_archive(path: Path) -> Iterator[ArchivedMessage]:
    """Messages of any supported archive at `path`."""
    if not path.exists():
        raise ArchiveError(f"{path}: no such file or directory")
    if path.is_dir():
        yield from _read_files(_message_files(path))
        return
    stream, underlying = _open(path)
    with underlying, stream:
        try:
            head = stream.read(5)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise ArchiveError(f"{path}: cannot read: {exc}") from None
    if head == b"From ":
        yield from read_mbox(path)
    else:
        yield from _read_files([path])
