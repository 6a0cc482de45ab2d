"""The hits of one search page: message fields, visible lists, snippets with highlights.

Called by `mailgate.search` for the page of hits only (never for the whole match set): one
query for the messages and their own text, one for their lists, then snippets computed in
Python (`mailgate.search_rank.make_snippet`). Only the lists the viewer may read are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from mailgate.models import Body, MailingList, Message, MessageList
from mailgate.search_rank import Candidate, Snippet, highlight_all, highlight_terms, make_snippet

msgs_t = Message.__table__
bodies_t = Body.__table__
mlists_t = MessageList.__table__
lists_t = MailingList.__table__


@dataclass(frozen=True)
class SearchScope:
    """Names of the lists the viewer may read, by id, and how many lists there are."""

    list_names: dict[int, str] = field(default_factory=dict)
    list_count: int = 0


@dataclass(frozen=True)
class Hit:
    """One result. `snippet` is the author's own text around the matches and
    `subject_snippet` the whole subject, both plain text with highlight spans: escape them
    when rendering HTML. `lists` names only lists the viewer may read. `score` is the
    relevance (0.0 in newest-first order); when grouping by thread, `thread_matches` is how
    many messages of the thread match (1 otherwise). `date` is naive UTC, like the archive."""

    message_pk: int
    message_id: str
    thread_id: int
    lists: tuple[str, ...]
    subject: str
    from_name: str
    from_addr: str
    date: datetime
    snippet: Snippet
    subject_snippet: Snippet
    score: float = 0.0
    thread_matches: int = 1

    @property
    def list(self) -> str:
        """The first list the message is on (among those the viewer may read)."""
        return self.lists[0] if self.lists else ""


def _lists_of(conn: Connection, pks: list[int], names: dict[int, str]) -> dict[int, list[str]]:
    lists: dict[int, list[str]] = {}
    query = (
        select(mlists_t.c.message_pk, mlists_t.c.list_id)
        .where(mlists_t.c.message_pk.in_(pks))
        .order_by(mlists_t.c.date, mlists_t.c.list_id)
    )
    for pk, list_id in conn.execute(query):
        if list_id in names:
            lists.setdefault(pk, []).append(names[list_id])
    return lists


def hits_for(
    conn: Connection, items: Sequence[tuple[Candidate, float, int]], run: Any
) -> list[Hit]:
    """Hits for (candidate, score, thread matches) triples, in the order given."""
    if not items:
        return []
    pks = [candidate.message_pk for candidate, _score, _count in items]
    rows = {
        row.id: row
        for row in conn.execute(
            select(
                msgs_t.c.id,
                msgs_t.c.message_id,
                msgs_t.c.thread_id,
                msgs_t.c.subject,
                msgs_t.c.from_name,
                msgs_t.c.from_addr,
                msgs_t.c.date,
                msgs_t.c.language,
                bodies_t.c.own_text,
            )
            .outerjoin(bodies_t, bodies_t.c.message_pk == msgs_t.c.id)
            .where(msgs_t.c.id.in_(pks))
        )
    }
    lists = _lists_of(conn, pks, run.scope.list_names)
    hits = []
    for candidate, score, count in items:
        row = rows.get(candidate.message_pk)
        if row is None:  # erased since the match (another statement's snapshot)
            continue
        leaves = run.leaves.get(row.language, ())
        body_terms = highlight_terms(leaves, "body")
        subject_terms = highlight_terms(leaves, "subject")
        hits.append(
            Hit(
                message_pk=row.id,
                message_id=row.message_id,
                thread_id=row.thread_id,
                lists=tuple(lists.get(row.id, ())),
                subject=row.subject,
                from_name=row.from_name,
                from_addr=row.from_addr,
                date=row.date,
                snippet=make_snippet(row.own_text or "", row.language, body_terms),
                subject_snippet=highlight_all(row.subject, row.language, subject_terms),
                score=score,
                thread_matches=count,
            )
        )
    return hits
