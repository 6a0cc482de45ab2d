"""The archive's stable URLs (the URL contract), built without importing the web package (pure).

Mail-out code (digests, email commands, the Archived-At header) calls `message_url`,
`thread_url` and `list_url` to link to the web archive; `web.urls` builds the same paths for
the pages themselves. Paths are relative to the archive's root; full URLs start with
`Settings.base_url`.

A Message-ID is one path segment: every character outside RFC 3986 `pchar` (unreserved,
sub-delimiters, ':' and '@') is percent-encoded as UTF-8, so '/' becomes %2F, '%' %25,
'?' %3F and '#' %23. `mid_from_segment` is the exact inverse.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol
from urllib.parse import quote, unquote

MID_SAFE = "!$&'()*+,;=:@-._~"
PERSON_KEY_CHARS = 16


class _HasBaseUrl(Protocol):
    base_url: str


def mid_segment(mid: str) -> str:
    """The Message-ID as one percent-encoded path segment."""
    segment = quote(mid, safe=MID_SAFE)
    # "." and ".." would be removed by URL normalisation in browsers and proxies.
    return segment.replace(".", "%2E") if segment in (".", "..") else segment


def mid_from_segment(segment: str) -> str:
    """The Message-ID from its (still percent-encoded) path segment."""
    return unquote(segment, errors="surrogateescape")


def message_path(mid: str) -> str:
    return f"/m/{mid_segment(mid)}"


def raw_path(mid: str) -> str:
    return f"{message_path(mid)}/raw"


def message_thread_mbox_path(mid: str) -> str:
    return f"{message_path(mid)}/t.mbox.gz"


def attachment_path(mid: str, position: int, filename: str = "") -> str:
    name = quote(filename.replace("/", "_"), safe="") if filename else ""
    return f"{message_path(mid)}/a/{position}/{name}"


def thread_path(thread_id: int) -> str:
    return f"/t/{thread_id}/"


def thread_feed_path(thread_id: int) -> str:
    return f"/t/{thread_id}/atom.xml"


def thread_mbox_path(thread_id: int) -> str:
    return f"/t/{thread_id}/thread.mbox.gz"


def list_path(name: str) -> str:
    return f"/l/{quote(name, safe='')}/"


def list_feed_path(name: str) -> str:
    return f"{list_path(name)}atom.xml"


def list_month_path(name: str, year: int, month: int) -> str:
    return f"{list_path(name)}{year:04d}/{month:02d}/"


def list_month_mbox_path(name: str, year: int, month: int) -> str:
    return f"{list_path(name)}{year:04d}/{month:02d}.mbox.gz"


def person_key(address: str) -> str:
    """An opaque, stable key for a sender address (person pages never put an address in a URL)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:PERSON_KEY_CHARS]


def person_path(key: str) -> str:
    return f"/p/{quote(key, safe='')}/"


def search_path() -> str:
    return "/search"


def unsubscribe_path(token: str) -> str:
    """The one-click unsubscribe page of a digest subscription (RFC 8058 POST target)."""
    return f"/digest/unsubscribe/{quote(token, safe='')}"


def absolute(settings: _HasBaseUrl, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def message_url(settings: _HasBaseUrl, message_id: str) -> str:
    """The permalink of a message (also the Archived-At form): `<base_url>/m/<message-id>`."""
    return absolute(settings, message_path(message_id))


def thread_url(settings: _HasBaseUrl, thread_id: int) -> str:
    return absolute(settings, thread_path(thread_id))


def list_url(settings: _HasBaseUrl, name: str) -> str:
    return absolute(settings, list_path(name))


def archived_at(settings: _HasBaseUrl, message_id: str) -> str:
    """The value of an Archived-At header (RFC 5064) for a message."""
    return f"<{message_url(settings, message_id)}>"


def cursor_token(date: datetime, thread_id: int) -> str:
    """The keyset cursor of a thread list page: its last row's (last activity, thread id)."""
    return f"{date:%Y%m%d%H%M%S%f}-{thread_id}"


def parse_cursor(token: str | None) -> tuple[datetime, int] | None:
    """The inverse of `cursor_token`, None when the token is absent or malformed."""
    if not token or "-" not in token:
        return None
    stamp, _, tid = token.partition("-")
    try:
        return datetime.strptime(stamp, "%Y%m%d%H%M%S%f"), int(tid)
    except ValueError:
        return None
