"""The "Related elsewhere" section: threads and people on the reader's other lists about the
topics of the threads in their digest.

`related_elsewhere` is the one function digests call. It uses the people package's
`related_for_threads` when that package is installed (imported lazily) and has an answer;
otherwise it falls back to search: the distinctive words of the digest's leading subjects,
searched with `mailgate.search` as the reader (so private lists stay private, hidden messages
stay out) in the other lists, newest first over the last `RECENT_DAYS`. `digest.build` asks
once per thread and per set of visible lists in a run and merges the answers for each
reader's leading threads (`merge`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from mailgate import analysis
from mailgate.access import Viewer
from mailgate.config import Settings
from mailgate.search import QueryError, search
from mailgate.subjects import display_subject

log = logging.getLogger("mailgate.digest")
SOURCE_THREADS = 3
WORDS_PER_THREAD = 2
MIN_WORD_CHARS = 5
RECENT_DAYS = 180
HITS_PER_RESULT = 4  # messages read per related thread wanted (several may share a thread)
STOPWORDS = frozenset(
    str.split(
        "about after again avant avec besoin bonjour cette comme depuis demain encore entre "
        "faire hello merci notre nouvelle nouveau other pour quelques question réunion there "
        "these those thanks update votre would with without sujet subject point suite"
    )
)


@dataclass(frozen=True, slots=True)
class RelatedThread:
    thread_id: int
    subject: str
    list_name: str
    message_id: str


@dataclass(frozen=True, slots=True)
class Related:
    threads: tuple[RelatedThread, ...] = ()
    people: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.threads or self.people)


EMPTY = Related()


def _people_api() -> Any:
    try:
        from mailgate.people import related_for_threads  # type: ignore[attr-defined]
    except ImportError:
        return None
    return related_for_threads


def distinctive_words(subjects: Sequence[str]) -> list[str]:
    """A few words of these subjects worth searching for (long, not common, no digits)."""
    words: list[str] = []
    for subject in subjects[:SOURCE_THREADS]:
        candidates = [
            w.lower()
            for w in analysis.tokenize(display_subject(subject))
            if len(w) >= MIN_WORD_CHARS and w.isalpha() and w.lower() not in STOPWORDS
        ]
        candidates.sort(key=len, reverse=True)
        words += [w for w in candidates[:WORDS_PER_THREAD] if w not in words]
    return words


def _by_search(
    conn: Connection,
    settings: Settings,
    viewer: Viewer,
    subjects: Sequence[str],
    other_lists: Sequence[str],
    exclude_threads: frozenset[int],
    *,
    end: datetime,
    limit: int,
) -> Related:
    words = distinctive_words(subjects)
    if not words or not other_lists:
        return EMPTY
    since = (end - timedelta(days=RECENT_DAYS)).strftime("%Y-%m-%d")
    query = "(" + " OR ".join(f"subject:{w}" for w in words) + f") after:{since}"
    try:
        page = search(
            conn, settings, query, viewer=viewer, lists=list(other_lists),
            limit=limit * HITS_PER_RESULT, order="newest", now=end,
        )  # fmt: skip
    except QueryError:
        return EMPTY
    threads: list[RelatedThread] = []
    people: list[str] = []
    for hit in page.hits:
        if hit.thread_id in exclude_threads or not hit.lists:
            continue
        if len(threads) < limit and all(t.thread_id != hit.thread_id for t in threads):
            subject = display_subject(hit.subject)
            threads.append(RelatedThread(hit.thread_id, subject, hit.list, hit.message_id))
        name = hit.from_name.strip() or hit.from_addr.split("@")[0]
        if len(people) < limit and name not in people:
            people.append(name)
    return Related(tuple(threads), tuple(people))


def _from_people(result: Any, limit: int) -> Related:
    """Adapt the people package's answer (threads and people) to `Related`."""
    threads = tuple(
        RelatedThread(
            t.thread_id,
            display_subject(t.subject),
            (list(getattr(t, "lists", ())) or [""])[0],
            getattr(t, "message_id", ""),
        )
        for t in list(result.threads)[:limit]
    )
    people = tuple(getattr(p, "name", str(p)) for p in list(getattr(result, "people", ()))[:limit])
    return Related(threads, people)


def related_elsewhere(
    conn: Connection,
    settings: Settings,
    viewer: Viewer,
    *,
    thread_ids: Sequence[int],
    subjects: Sequence[str],
    scope: Sequence[int],
    other_lists: Sequence[str],
    exclude_threads: frozenset[int],
    end: datetime,
    limit: int,
) -> Related:
    """Threads and people on `other_lists` about the topics of `thread_ids` (best first)."""
    if limit <= 0 or not thread_ids:
        return EMPTY
    api = _people_api()
    if api is not None:
        try:
            with conn.begin_nested():  # a failure must not abort the caller's transaction
                answer = api(conn, settings, list(thread_ids), scope=list(scope), limit=limit)
            found = _from_people(answer, limit)
            if found:  # empty: profiles not computed (yet); search still finds threads
                return found
        except Exception:  # the section is a bonus: never lose a digest over it
            log.exception("related_for_threads failed; using search instead")
    return _by_search(
        conn, settings, viewer, subjects, other_lists, exclude_threads, end=end, limit=limit
    )


def merge(answers: Sequence[Related], exclude_threads: frozenset[int], limit: int) -> Related:
    """One section from the answers for several threads: taken in turn, best first, without
    repeats or threads the digest already shows."""
    threads: list[RelatedThread] = []
    people: list[str] = []
    seen = set(exclude_threads)
    for rank in range(max((len(a.threads) for a in answers), default=0)):
        for answer in answers:
            if rank < len(answer.threads) and answer.threads[rank].thread_id not in seen:
                seen.add(answer.threads[rank].thread_id)
                threads.append(answer.threads[rank])
    for rank in range(max((len(a.people) for a in answers), default=0)):
        for answer in answers:
            if rank < len(answer.people) and answer.people[rank] not in people:
                people.append(answer.people[rank])
    return Related(tuple(threads[:limit]), tuple(people[:limit]))
