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
from dataclasses import dataclass, replace
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


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every reader of the same windows sees of a thread; personal bits come later."""

    thread_id: int
    entry: tuple[str, list[NewMessage], int]
    new_authors: frozenset[str]
    names: tuple[str, ...]  # new authors' names, most active first
    reply_targets: dict[str, int]  # author replied to -> new replies (by someone else)
    root_author: str
    authors: frozenset[str]
    latest_date: datetime
    base: DigestThread  # as shown to a reader with no part in it


def _shared(
    thread_id: int, entry: tuple[str, list[NewMessage], int], context: Context, snippet_chars: int
) -> _Shared:
    messages = entry[1]
    info = context.threads.get(thread_id, ThreadContext())
    targets: Counter[str] = Counter()
    for m in messages:
        target = context.parent_authors.get(m.parent_mid or "", "")
        if target and target != m.from_addr.lower():
            targets[target] += 1
    names = Counter(_name(m) for m in messages)
    return _Shared(
        thread_id, entry, frozenset(m.from_addr.lower() for m in messages),
        tuple(name for name, _n in names.most_common()), dict(targets),
        info.root_author, info.authors, messages[-1].date,
        _thread(thread_id, entry, frozenset(), context, False, snippet_chars),
    )  # fmt: skip


def _personal(
    s: _Shared, me: frozenset[str], followed: bool, context: Context, chars: int
) -> DigestThread:
    """The thread as this reader sees it (the shared one unless they wrote in it today)."""
    if s.new_authors & me:
        return _thread(s.thread_id, s.entry, me, context, followed, chars)
    replies = sum(s.reply_targets.get(a, 0) for a in me)
    mine, took_part = s.root_author in me, bool(s.authors & me)
    if not (replies or mine or took_part or followed):
        return s.base
    return replace(s.base, mine=mine, replies_to_me=replies, followed=followed, took_part=took_part)


def _key(s: _Shared, me: frozenset[str], followed: bool) -> tuple:
    mine = s.root_author in me
    replies = any(a in s.reply_targets for a in me)
    tier = 0 if mine else 1 if replies else 2 if followed else 3
    activity = len(s.entry[1]) + AUTHOR_WEIGHT * len(s.names)
    activity += TOOK_PART_BONUS if s.authors & me else 0
    return (tier, -activity, -s.latest_date.timestamp(), s.thread_id)


class Ranker:
    """Ranks threads for many readers, sharing the work readers of the same lists have in
    common (one per digest run)."""

    def __init__(self, context: Context, *, max_threads: int, snippet_chars: int) -> None:
        self.context = context
        self.max_threads = max_threads
        self.snippet_chars = snippet_chars
        self._shared: dict[tuple, list[_Shared]] = {}

    def _threads(self, windows: Sequence[tuple[str, ListWindow]]) -> list[_Shared]:
        key = tuple(id(window) for _name, window in windows)
        found = self._shared.get(key)
        if found is None:
            merged = _merge(windows)
            found = [
                _shared(tid, entry, self.context, self.snippet_chars)
                for tid, entry in merged.items()
            ]
            self._shared[key] = found
        return found

    def select(
        self,
        addresses: Iterable[str],
        windows: Sequence[tuple[str, ListWindow]],
        prefs: dict[int, str],
    ) -> Selection:
        """Rank the new threads of `windows` for the reader with these addresses."""
        me = frozenset(a.lower() for a in addresses)
        shared = self._threads(windows)
        keyed = [
            (_key(s, me, prefs.get(s.thread_id) == FOLLOW), s)
            for s in shared
            if prefs.get(s.thread_id) != MUTE and not s.new_authors <= me
        ]
        keyed.sort(key=lambda pair: pair[0])
        shown = tuple(
            _personal(s, me, prefs.get(s.thread_id) == FOLLOW, self.context, self.snippet_chars)
            for _key_, s in keyed[: self.max_threads]
        )
        return Selection(shown, len(keyed) - len(shown), frozenset(s.thread_id for s in shared))
