"""A person's topics: the terms and phrases that set their own text apart from other people's.

Scoring (tf-idf over people): how many of the person's messages use the term, how often,
against how many people use it at all; phrases weigh a little more than single words. Only
lists in the reader's `scope` count, and the evidence (the newest message showing the term,
per list) is a visible, not hidden message. Called by `mailgate.people.profiles` and
`mailgate.people.expertise` (related people).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from mailgate import analysis
from mailgate.people.tables import msgs_t, persons_t, terms_t

CANDIDATE_TERMS = 400
PHRASE_WEIGHT = 1.3
EVIDENCE_PER_TOPIC = 3


@dataclass(frozen=True)
class Topic:
    term: str  # the analysed key (stems, space-separated for a phrase)
    display: str  # as written
    score: float
    messages: int
    evidence: list[str] = field(default_factory=list)  # Message-IDs


def _own_terms(conn: Connection, person_id: int, scope: Sequence[int]) -> dict[str, list]:
    """term -> [display, tf, docs, evidence pks] summed over the lists in scope."""
    found: dict[str, list] = {}
    query = select(
        terms_t.c.term, terms_t.c.display, terms_t.c.tf, terms_t.c.docs, terms_t.c.last_pk
    ).where(terms_t.c.person_id == person_id, terms_t.c.list_id.in_(list(scope) or [-1]))
    for term, display, tf, docs, last in conn.execute(query):
        row = found.get(term)
        if row is None:
            found[term] = [display, tf, docs, {last}]
        else:
            row[1] += tf
            row[2] += docs
            row[3].add(last)
    return found


def people_using(conn: Connection, terms: Sequence[str]) -> dict[str, int]:
    """How many persons used each term (anywhere: a count reveals no list or message)."""
    if not terms:
        return {}
    query = (
        select(terms_t.c.term, func.count(func.distinct(terms_t.c.person_id)))
        .where(terms_t.c.term.in_(list(terms)))
        .group_by(terms_t.c.term)
    )
    return dict(conn.execute(query).all())  # type: ignore[arg-type]


def name_terms(conn: Connection) -> set[str]:
    """The analysed words of everyone's display names: greetings ("Merci Manon") are no
    topic."""
    found: set[str] = set()
    for name in conn.execute(select(persons_t.c.name).distinct()).scalars():
        for word in analysis.tokenize(name or ""):
            if len(word) > 2 and not word.islower():
                found.update(analysis.analyze(word, "fr") + analysis.analyze(word, "en"))
    return found


def person_count(conn: Connection) -> int:
    return (
        conn.execute(
            select(func.count()).select_from(persons_t).where(persons_t.c.merged_into.is_(None))
        ).scalar()
        or 1
    )


def weight(term: str, docs: int, tf: int, users: int, persons: int) -> float:
    """The tf-idf weight of a term for one person."""
    idf = math.log((persons + 1) / (users + 0.5))
    phrase = PHRASE_WEIGHT if " " in term else 1.0
    return (1 + math.log(docs)) * (1 + 0.25 * math.log(max(tf, 1))) * max(idf, 0.0) * phrase


def _evidence(conn: Connection, pks: set[int]) -> dict[int, str]:
    if not pks:
        return {}
    query = select(msgs_t.c.id, msgs_t.c.message_id).where(
        msgs_t.c.id.in_(list(pks)), msgs_t.c.hidden.is_(False)
    )
    return dict(conn.execute(query).all())  # type: ignore[arg-type]


def topics_of(
    conn: Connection, person_id: int, scope: Sequence[int], *, limit: int = 20
) -> list[Topic]:
    """The person's most distinctive terms on the lists in `scope`, best first."""
    own = _own_terms(conn, person_id, scope)
    if not own:
        return []
    names = name_terms(conn)
    shortlist = sorted(
        (t for t in own if not names.intersection(t.split())),
        key=lambda t: (-own[t][2], -own[t][1], t),
    )[:CANDIDATE_TERMS]
    users = people_using(conn, shortlist)
    persons = person_count(conn)
    scored = sorted(
        ((weight(t, own[t][2], own[t][1], users.get(t, 1), persons), t) for t in shortlist),
        key=lambda x: (-x[0], x[1]),
    )[:limit]
    ids = _evidence(conn, {pk for _s, t in scored for pk in own[t][3]})
    return [
        Topic(
            term=t,
            display=own[t][0],
            score=round(s, 4),
            messages=own[t][2],
            evidence=[ids[pk] for pk in sorted(own[t][3], reverse=True) if pk in ids][
                :EVIDENCE_PER_TOPIC
            ],
        )
        for s, t in scored
    ]
