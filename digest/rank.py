"""Which threads one reader's digest shows, in which order (pure, over `digest.gather` data).

Order: first the reader's own threads, then threads with replies to the reader's messages,
then threads the reader follows, then the others; within each tier by activity and participation
(new messages, distinct new authors, a bonus when the reader took part earlier), newest
first on ties. Muted threads are left out. A thread cross-posted to several of the reader's
lists appears once; a thread whose only new messages are the reader's own is no news and
stays out. Called by `digest.send` for every reader.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.gather import Context, ListWindow, NewMessage, ThreadContext
from mailgate.subjects import display_subject

MAX_PARTICIPANTS = 6
AUTHOR_WEIGHT = 2
TOOK_PART_BONUS = 3
FOLLOW = "follow"
MUTE = "mute"


@dataclass(frozen=True, slots=True)
class DigestThread:
    """One thread as a digest shows it."""

    thread_id: int
    list_name: str
    subject: str
    new_count: int
    total_count: int
    participants: tuple[str, ...]
    more_participants: int
    snippet: str
    latest_mid: str
    latest_date: datetime
    mine: bool
    replies_to_me: int
    followed: bool
    took_part: bool

    @property
    def tier(self) -> int:
        if self.mine:
            return 0
        if self.replies_to_me:
            return 1
        return 2 if self.followed else 3


@dataclass(frozen=True, slots=True)
class Selection:
    """The threads shown (ranked) and how many more were new but did not fit."""

    threads: tuple[DigestThread, ...]
    more: int
    candidate_ids: frozenset[int]


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary before `limit` characters, with '…'."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.") + "…"


def _name(message: NewMessage) -> str:
    return message.from_name.strip() or message.from_addr.split("@")[0]


def _merge(windows: Sequence[tuple[str, ListWindow]]) -> dict[int, tuple[str, list, int]]:
    """thread id -> (first list name, new messages without duplicates, size on the lists)."""
    merged: dict[int, tuple[str, list, int]] = {}
    for list_name, window in windows:
        for thread_id, messages in window.by_thread.items():
            size = window.thread_sizes.get(thread_id, len(messages))
            found = merged.get(thread_id)
            if found is None:
                merged[thread_id] = (list_name, list(messages), size)
                continue
            seen = {m.pk for m in found[1]}
            extra = [m for m in messages if m.pk not in seen]
            combined = sorted(found[1] + extra, key=lambda m: (m.date, m.pk))
            merged[thread_id] = (found[0], combined, max(found[2], size))
    return merged


def _thread(
    thread_id: int,
    entry: tuple[str, list[NewMessage], int],
    me: frozenset[str],
    context: Context,
    followed: bool,
    snippet_chars: int,
) -> DigestThread:
    list_name, messages, size = entry
    info = context.threads.get(thread_id, ThreadContext())
    authors = Counter(_name(m) for m in messages if m.from_addr.lower() not in me)
    names = [name for name, _count in authors.most_common()]
    latest = messages[-1]
    replies = sum(
        1
        for m in messages
        if m.from_addr.lower() not in me
        and context.parent_authors.get(m.parent_mid or "", "") in me
    )
    return DigestThread(
        thread_id=thread_id,
        list_name=list_name,
        subject=display_subject(messages[0].subject),
        new_count=len(messages),
        total_count=max(size, len(messages)),
        participants=tuple(names[:MAX_PARTICIPANTS]),
        more_participants=max(0, len(names) - MAX_PARTICIPANTS),
        snippet=shorten(latest.snippet, snippet_chars),
        latest_mid=latest.message_id,
        latest_date=latest.date,
        mine=info.root_author in me,
        replies_to_me=replies,
        followed=followed,
        took_part=bool(info.authors & me),
    )


def _key(thread: DigestThread) -> tuple:
    authors = len(thread.participants) + thread.more_participants
    activity = thread.new_count + AUTHOR_WEIGHT * authors
    activity += TOOK_PART_BONUS if thread.took_part else 0
    return (thread.tier, -activity, -thread.latest_date.timestamp(), thread.thread_id)


def select_threads(
    addresses: Iterable[str],
    windows: Sequence[tuple[str, ListWindow]],
    context: Context,
    prefs: dict[int, str],
    *,
    max_threads: int,
    snippet_chars: int,
) -> Selection:
    """Rank the new threads of `windows` for the reader with these addresses."""
    me = frozenset(a.lower() for a in addresses)
    merged = _merge(windows)
    threads = [
        _thread(tid, entry, me, context, prefs.get(tid) == FOLLOW, snippet_chars)
        for tid, entry in merged.items()
        if prefs.get(tid) != MUTE and not all(m.from_addr.lower() in me for m in entry[1])
    ]
    threads.sort(key=_key)
    shown = tuple(threads[:max_threads])
    return Selection(shown, len(threads) - len(shown), frozenset(merged))
