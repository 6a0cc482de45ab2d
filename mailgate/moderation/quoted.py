"""Quoted copies of a redacted passage: the messages of the same thread that quote it.

A reply usually quotes what it answers, with ``>`` marks or as an Outlook-style history, so
a passage redacted from one message is still in the replies that quote it. `find` returns,
for each other message of the redacted messages' threads, the passage as it is written there
(its words may be split across quoted lines, each starting with quote marks), but only where
it lies in quoted or forwarded text: what a reply's author wrote is theirs, and a moderator
names that message to redact it. `html_pattern` finds the same words in an HTML part, across
markup. Called by `redaction.redact`.
"""

from __future__ import annotations

import bisect
import html
import json
import re
from collections.abc import Iterable

from sqlalchemy import Connection, select

from mailgate.models import Body, Message

QUOTED_KINDS = frozenset({"quote", "forwarded"})
MAX_SCANNED_MESSAGES = 5_000  # messages of the threads read to look for quoted copies
MAX_PASSAGE_WORDS = 400
# Between two words of the passage: spaces, or line ends each followed by quote marks.
_TEXT_GAP = r"(?:[ \t]*(?:\n[ \t>]*)+|[ \t]+)"
_HTML_GAP = r"(?:\s|&nbsp;|&#160;|&gt;|<[^<>]*>)+"
msgs_t, bodies_t = Message.__table__, Body.__table__


def _words(passage: str) -> list[str]:
    return passage.split()[:MAX_PASSAGE_WORDS]


def text_pattern(passage: str) -> re.Pattern[str]:
    """The passage's words in order, separated as a quoting client may have rewritten them."""
    return re.compile(_TEXT_GAP.join(map(re.escape, _words(passage))))


def html_pattern(passage: str) -> re.Pattern[str]:
    """The passage's words in an HTML source, whatever markup or spaces lie between them."""
    return re.compile(_HTML_GAP.join(re.escape(html.escape(w)) for w in _words(passage)))


def _quoted_lines(zones: str) -> set[int]:
    try:
        spans = json.loads(zones or "[]")
    except ValueError:
        return set()
    return {i for kind, start, end in spans if kind in QUOTED_KINDS for i in range(start, end)}


def occurrences(text: str, zones: str, pattern: re.Pattern[str]) -> list[str]:
    """The distinct matches of `pattern` in `text` whose lines all lie in quoted zones."""
    quoted = _quoted_lines(zones)
    if not quoted:
        return []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    found: list[str] = []
    for match in pattern.finditer(text):
        first = bisect.bisect_right(line_starts, match.start()) - 1
        last = bisect.bisect_right(line_starts, max(match.end() - 1, match.start())) - 1
        if all(i in quoted for i in range(first, last + 1)) and match.group() not in found:
            found.append(match.group())
    return found


def find(
    conn: Connection, thread_ids: Iterable[int], skip: Iterable[int], passage: str
) -> dict[int, list[str]]:
    """Message pk -> the passage's quoted occurrences, for the messages of these threads other
    than `skip` (the messages redacted already)."""
    words = _words(passage)
    if not words:
        return {}
    rows = conn.execute(
        select(msgs_t.c.id, bodies_t.c.text, bodies_t.c.zones)
        .join(bodies_t, bodies_t.c.message_pk == msgs_t.c.id)
        .where(
            msgs_t.c.thread_id.in_(sorted(set(thread_ids))),
            msgs_t.c.id.not_in(sorted(set(skip))),
            bodies_t.c.text.contains(max(words, key=len), autoescape=True),
        )
        .order_by(msgs_t.c.id)
        .limit(MAX_SCANNED_MESSAGES)
    )
    pattern = text_pattern(passage)
    found = {pk: occurrences(text or "", zones, pattern) for pk, text, zones in rows}
    return {pk: matches for pk, matches in found.items() if matches}
