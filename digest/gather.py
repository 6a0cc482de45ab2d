"""What could go in digests: the new messages of each list in a window, read in batches.

A `Gatherer` lives for one send run and caches by (list, window), so thousands of readers of
the same list and period cost one query per list, not one per reader. It reads only messages
that are not hidden and are on the list asked for (erased messages have no rows left); which
lists a reader may see is decided by `digest.send` through `mailgate.access`. Thread context
(who started each thread, who took part, whom each new message answers) is read once per
thread for the ranking in `digest.rank`. Called by `digest.send` and `digest.related`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from mailgate.models import Message, MessageList, Thread

msgs_t = Message.__table__
mlists_t = MessageList.__table__
threads_t = Thread.__table__
IN_BATCH = 500
# Messages whose Date is older than this before the window are old mail imported late
# (an mbox import), not news: they stay out of digests.
LATE_ARRIVAL_SLACK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message that arrived on a list during a digest's window (no body)."""

    pk: int
    message_id: str
    thread_id: int
    parent_mid: str | None
    subject: str
    from_name: str
    from_addr: str
    date: datetime
    snippet: str


@dataclass(frozen=True, slots=True)
class ListWindow:
    """One list's new messages in a window, by thread, with each thread's size on the list."""

    list_id: int
    by_thread: dict[int, list[NewMessage]]
    thread_sizes: dict[int, int]


@dataclass(frozen=True, slots=True)
class ThreadContext:
    """Who started a thread and who wrote in it (all time, for the ranking only)."""

    root_author: str = ""
    authors: frozenset[str] = frozenset()


@dataclass(slots=True)
class Context:
    """Thread contexts by thread id and the author of each replied-to Message-ID."""

    threads: dict[int, ThreadContext] = field(default_factory=dict)
    parent_authors: dict[str, str] = field(default_factory=dict)


def _chunks(values: Sequence, size: int = IN_BATCH) -> Iterable[Sequence]:
    for offset in range(0, len(values), size):
        yield values[offset : offset + size]


class Gatherer:
    """Batched, cached reads for one digest run over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._windows: dict[tuple[int, datetime, datetime], ListWindow] = {}
        self._context = Context()
        self._asked_parents: set[str] = set()
        self.queries = 0

    @property
    def context(self) -> Context:
        """The thread contexts read so far (filled by `contexts`)."""
        return self._context

    def window(self, list_id: int, start: datetime, end: datetime) -> ListWindow:
        """New visible (not hidden) messages of a list that arrived in (start, end]."""
        key = (list_id, start, end)
        found = self._windows.get(key)
        if found is None:
            found = self._windows[key] = self._read_window(list_id, start, end)
        return found

    def _read_window(self, list_id: int, start: datetime, end: datetime) -> ListWindow:
        query = (
            select(
                msgs_t.c.id,
                msgs_t.c.message_id,
                msgs_t.c.thread_id,
                msgs_t.c.parent_mid,
                msgs_t.c.subject,
                msgs_t.c.from_name,
                msgs_t.c.from_addr,
                msgs_t.c.date,
                msgs_t.c.snippet,
            )
            .select_from(mlists_t.join(msgs_t, msgs_t.c.id == mlists_t.c.message_pk))
            .where(
                mlists_t.c.list_id == list_id,
                mlists_t.c.arrived_at > start,
                mlists_t.c.arrived_at <= end,
                mlists_t.c.date > start - LATE_ARRIVAL_SLACK,
                msgs_t.c.hidden.is_(False),
            )
            .order_by(msgs_t.c.date, msgs_t.c.id)
        )
        by_thread: dict[int, list[NewMessage]] = {}
        for row in self.conn.execute(query):
            by_thread.setdefault(row.thread_id, []).append(NewMessage(*row))
        self.queries += 1
        return ListWindow(list_id, by_thread, self._sizes(list_id, list(by_thread)))

    def _sizes(self, list_id: int, thread_ids: list[int]) -> dict[int, int]:
        """Visible (not hidden) messages of each thread on the list, all time."""
        sizes: dict[int, int] = {}
        for chunk in _chunks(thread_ids):
            query = (
                select(msgs_t.c.thread_id, func.count())
                .select_from(msgs_t.join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id))
                .where(
                    mlists_t.c.list_id == list_id,
                    msgs_t.c.thread_id.in_(chunk),
                    msgs_t.c.hidden.is_(False),
                )
                .group_by(msgs_t.c.thread_id)
            )
            sizes.update({k: v for k, v in self.conn.execute(query)})
            self.queries += 1
        return sizes

    def contexts(self, windows: Iterable[ListWindow]) -> Context:
        """Context of every thread in `windows` (read once per thread and parent per run)."""
        windows = list(windows)
        threads = sorted(
            {tid for w in windows for tid in w.by_thread} - self._context.threads.keys()
        )
        parents = sorted(
            {
                m.parent_mid
                for w in windows
                for messages in w.by_thread.values()
                for m in messages
                if m.parent_mid
            }
            - self._asked_parents
        )
        if threads:
            self._read_threads(threads)
        if parents:
            self._asked_parents.update(parents)
            self._read_parents(parents)
        return self._context

    def _read_threads(self, ids: list[int]) -> None:
        roots: dict[int, str] = {}
        authors: dict[int, set[str]] = {tid: set() for tid in ids}
        for chunk in _chunks(ids):
            root_query = select(threads_t.c.id, msgs_t.c.from_addr).select_from(
                threads_t.join(msgs_t, msgs_t.c.message_id == threads_t.c.root_mid)
            )
            roots.update(
                (tid, addr)
                for tid, addr in self.conn.execute(root_query.where(threads_t.c.id.in_(chunk)))
            )
            author_query = (
                select(msgs_t.c.thread_id, msgs_t.c.from_addr)
                .where(msgs_t.c.thread_id.in_(chunk))
                .distinct()
            )
            for thread_id, address in self.conn.execute(author_query):
                authors[thread_id].add(address.lower())
            self.queries += 2
        for thread_id in ids:
            self._context.threads[thread_id] = ThreadContext(
                (roots.get(thread_id) or "").lower(), frozenset(authors[thread_id])
            )

    def _read_parents(self, mids: list[str]) -> None:
        for chunk in _chunks(mids):
            query = select(msgs_t.c.message_id, msgs_t.c.from_addr).where(
                msgs_t.c.message_id.in_(chunk)
            )
            self._context.parent_authors.update(
                {mid: addr.lower() for mid, addr in self.conn.execute(query)}
            )
            self.queries += 1
