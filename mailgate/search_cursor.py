"""Opaque page cursors of `mailgate.search`: where the next page starts, tied to one query.

A cursor is URL-safe base64 of a small JSON object: the query's fingerprint (query text,
lists, order, grouping, viewer), the clock of the first page (so relative dates and recency
stay the same from page to page), the first page's total, and the keyset position. A cursor
that was altered, or belongs to another search, is refused with a `QueryError`; whatever it
says, the access check still applies to the page it opens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from mailgate.access import Viewer
from mailgate.query import QueryError

CURSOR_VERSION = 1
MAX_CURSOR_CHARS = 2_000
MODES = ("r", "n")  # relevance keyset, newest-first keyset


@dataclass(frozen=True)
class Cursor:
    """A position: `mode` "r" (score, key of the last hit, window floor) or "n" (the key
    below which the next page starts)."""

    mode: str
    now: float = 0.0
    total: int = 0
    estimate: bool = False
    score: float = 0.0
    key: int = 0
    floor: int | None = None
    truncated: bool = False

    @property
    def clock(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


_TYPES = {
    "mode": (str,),
    "now": (int, float),
    "total": (int,),
    "estimate": (bool,),
    "score": (int, float),
    "key": (int,),
    "floor": (int, type(None)),
    "truncated": (bool,),
}


def fingerprint(
    q: str, lists: Sequence[str] | None, order: str, grouped: bool, viewer: Viewer
) -> str:
    data = json.dumps([q, sorted(lists or []), order, grouped, viewer.name, viewer.all_lists])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def encode(cursor: Cursor, tag: str) -> str:
    data = {"v": CURSOR_VERSION, "f": tag, **asdict(cursor)}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _valid(data: dict) -> bool:
    names = {f.name for f in fields(Cursor)}
    if set(data) - names or "mode" not in data or data["mode"] not in MODES:
        return False
    for name, value in data.items():
        flag = _TYPES[name] == (bool,)
        if not isinstance(value, _TYPES[name]) or (isinstance(value, bool) and not flag):
            return False
    return 0 <= data.get("now", 0) < 2**32 and data.get("key", 0) >= 0


def decode(token: str, tag: str) -> Cursor:
    """The cursor in `token`, checked against the query's fingerprint."""
    try:
        if len(token) > MAX_CURSOR_CHARS:
            raise ValueError
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or data.pop("v", None) != CURSOR_VERSION:
            raise ValueError
        if data.pop("f", None) != tag or not _valid(data):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise QueryError("this page link is invalid or belongs to another search") from None
    return Cursor(**data)
