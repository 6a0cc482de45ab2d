""" "Who knows about X?" and "related people": expertise from what people wrote themselves.

`who_knows` asks the search index (`mailgate.search.body_matches`) for the messages matching
the query on the reader's lists, scores each in its author's own text only, and ranks
authors by their best few messages (more evidence counts, with diminishing returns).
`related_people` and `related_for_threads` find people (and threads) on other lists whose
topics overlap. Every read is limited to `scope`, the list ids `mailgate.access` gives the
reader; hidden messages never count. Called by the CLI, the web archive and mail commands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from mailgate.config import Settings
from mailgate.people.tables import bodies_t, lists_t, mlists_t, msgs_t, persons_t, terms_t
from mailgate.people.terms import fallback_query, message_terms
from mailgate.people.topics import people_using, person_count, topics_of, weight
from mailgate.search import body_matches

WHO_KNOWS_WINDOW = 500
EVIDENCE_MESSAGES = 5
DECAY = 0.6  # the k-th best message of a person counts DECAY**k
MAX_RATIO_AUTHOR_MESSAGES = 50
RELATED_TOPICS = 15
THREAD_MESSAGES = 200
THREAD_TOPICS = 12
SAME_LIST_WEIGHT = 0.3
FALLBACK_WEIGHT = 0.5  # a message with some of the words counts half


@dataclass(frozen=True)
class Expert:
    person_id: int
    name: str
    score: float
    evidence: list[str] = field(default_factory=list)  # Message-IDs, best first


@dataclass(frozen=True)
class Related:
    person_id: int
    name: str
    score: float
    topics: list[str] = field(default_factory=list)  # shared topics, as written
    lists: list[str] = field(default_factory=list)  # where they write about them


@dataclass(frozen=True)
class RelatedThread:
    thread_id: int
    subject: str
    score: float
    lists: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RelatedForThreads:
    people: list[Related]
    threads: list[RelatedThread]


def _names(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = conn.execute(select(persons_t.c.id, persons_t.c.name).where(persons_t.c.id.in_(ids)))
    return dict(rows.all())  # type: ignore[arg-type]


def _authors(conn: Connection, pks: list[int]) -> dict[int, tuple[int, str]]:
    found: dict[int, tuple[int, str]] = {}
    for start in range(0, len(pks), 500):
        query = select(msgs_t.c.id, msgs_t.c.person_id, msgs_t.c.message_id).where(
            msgs_t.c.id.in_(pks[start : start + 500]), msgs_t.c.person_id.is_not(None)
        )
        found.update({pk: (pid, mid) for pk, pid, mid in conn.execute(query)})
    return found


def _gather(
    conn: Connection,
    settings: Settings,
    query: str,
    scope: Sequence[int],
    per_person: dict[int, list[tuple[float, str]]],
    factor: float,
) -> None:
    """Add each matching message's own-text score to its author's evidence."""
    matches = [
        (c, s)
        for c, s in body_matches(conn, settings, query, list_ids=scope, window=WHO_KNOWS_WINDOW)
        if s > 0
    ]
    authors = _authors(conn, [c.message_pk for c, _s in matches])
    for candidate, score in matches:
        if candidate.message_pk in authors:
            pid, mid = authors[candidate.message_pk]
            if all(m != mid for _s, m in per_person[pid]):
                per_person[pid].append((score * factor, mid))


def who_knows(
    conn: Connection, settings: Settings, query: str, *, scope: Sequence[int], limit: int = 10
) -> list[Expert]:
    """People ranked by the evidence for `query` in their own messages on lists in `scope`.
    Raises `mailgate.query.QueryError` for a query that cannot be understood."""
    per_person: dict[int, list[tuple[float, str]]] = defaultdict(list)
    _gather(conn, settings, query, scope, per_person, 1.0)
    broader = fallback_query(query, settings.language)
    if broader and len(per_person) < limit:
        _gather(conn, settings, broader, scope, per_person, FALLBACK_WEIGHT)
    ranked = []
    for pid, found in per_person.items():
        found.sort(key=lambda x: -x[0])
        total = sum(s * DECAY**k for k, (s, _m) in enumerate(found[:MAX_RATIO_AUTHOR_MESSAGES]))
        ranked.append((total, pid, [m for _s, m in found[:EVIDENCE_MESSAGES]]))
    ranked.sort(key=lambda x: (-x[0], x[1]))
    names = _names(conn, [pid for _t, pid, _e in ranked[:limit]])
    return [Expert(pid, names.get(pid, ""), round(t, 4), ev) for t, pid, ev in ranked[:limit]]


def _person_lists(conn: Connection, person_id: int, scope: Sequence[int]) -> set[int]:
    query = (
        select(terms_t.c.list_id)
        .distinct()
        .where(terms_t.c.person_id == person_id, terms_t.c.list_id.in_(list(scope) or [-1]))
    )
    return set(conn.execute(query).scalars())


def _overlap(
    conn: Connection,
    weights: dict[str, tuple[float, str]],
    scope: Sequence[int],
    home: set[int],
    exclude: set[int],
    limit: int,
) -> list[Related]:
    """People (not in `exclude`) using the weighted terms on lists in scope; a list in
    `home` counts less (the point is to find people elsewhere)."""
    if not weights:
        return []
    query = select(terms_t.c.person_id, terms_t.c.list_id, terms_t.c.term, terms_t.c.docs).where(
        terms_t.c.term.in_(list(weights)), terms_t.c.list_id.in_(list(scope) or [-1])
    )
    score: dict[int, float] = defaultdict(float)
    shared: dict[int, dict[str, None]] = defaultdict(dict)
    where: dict[int, set[int]] = defaultdict(set)
    for pid, list_id, term, docs in conn.execute(query):
        if pid in exclude:
            continue
        factor = SAME_LIST_WEIGHT if list_id in home else 1.0
        score[pid] += weights[term][0] * factor * (1 + min(docs, 10) / 10)
        shared[pid][weights[term][1]] = None
        where[pid].add(list_id)
    best = sorted(score, key=lambda p: (-score[p], p))[:limit]
    names = _names(conn, best)
    list_names = dict(conn.execute(select(lists_t.c.id, lists_t.c.name)).all())
    return [
        Related(
            p,
            names.get(p, ""),
            round(score[p], 4),
            list(shared[p])[:5],
            sorted(list_names.get(lid, "") for lid in where[p]),
        )
        for p in best
    ]


def related_people(
    conn: Connection, settings: Settings, person_id: int, *, scope: Sequence[int], limit: int = 5
) -> list[Related]:
    """People on other lists writing about this person's topics."""
    topics = topics_of(conn, person_id, scope, limit=RELATED_TOPICS)
    weights = {t.term: (t.score, t.display) for t in topics}
    home = _person_lists(conn, person_id, scope)
    if home >= set(scope):
        home = set()
    return _overlap(conn, weights, scope, home, {person_id}, limit)


def _thread_rows(conn: Connection, thread_ids: Sequence[int], scope: Sequence[int]) -> list:
    query = (
        select(msgs_t.c.person_id, msgs_t.c.language, bodies_t.c.own_text, mlists_t.c.list_id)
        .join(bodies_t, bodies_t.c.message_pk == msgs_t.c.id)
        .join(mlists_t, mlists_t.c.message_pk == msgs_t.c.id)
        .where(
            msgs_t.c.thread_id.in_(list(thread_ids)),
            msgs_t.c.hidden.is_(False),
            mlists_t.c.list_id.in_(list(scope) or [-1]),
        )
        .limit(THREAD_MESSAGES)
    )
    return conn.execute(query).all()


def _thread_weights(conn: Connection, rows: list) -> dict[str, tuple[float, str]]:
    counts: dict[str, list] = {}
    for row in rows:
        language = row.language if row.language in ("fr", "en") else "fr"
        for key, display, n in message_terms(row.own_text or "", language):
            entry = counts.setdefault(key, [display, 0, 0])
            entry[1] += n
            entry[2] += 1
    users, persons = people_using(conn, list(counts)), person_count(conn)
    scored = sorted(
        ((weight(k, v[2], v[1], users.get(k, 1), persons), k) for k, v in counts.items()),
        reverse=True,
    )[:THREAD_TOPICS]
    return {k: (s, counts[k][0]) for s, k in scored if s > 0}


def _similar_threads(
    conn: Connection,
    settings: Settings,
    weights: dict,
    scope: list[int],
    skip: set[int],
    limit: int,
) -> list[RelatedThread]:
    words = sorted(weights.items(), key=lambda kv: -kv[1][0])[:5]
    terms = [f'"{d}"' for _k, (_s, d) in words if d.replace(" ", "").replace("-", "").isalnum()]
    if not terms or not scope:
        return []
    found: dict[int, float] = defaultdict(float)
    for candidate, score in body_matches(
        conn, settings, " OR ".join(terms), list_ids=scope, window=WHO_KNOWS_WINDOW
    ):
        if candidate.thread_id not in skip:
            found[candidate.thread_id] += score
    best = sorted(found, key=lambda t: -found[t])[:limit]
    subjects = (
        dict(
            conn.execute(
                select(msgs_t.c.thread_id, msgs_t.c.subject).where(
                    msgs_t.c.thread_id.in_(best), msgs_t.c.parent_mid.is_(None)
                )
            ).all()
        )
        if best
        else {}
    )
    return [RelatedThread(t, subjects.get(t, ""), round(found[t], 4)) for t in best]


def related_for_threads(
    conn: Connection,
    settings: Settings,
    thread_ids: Sequence[int],
    *,
    scope: Sequence[int],
    limit: int = 5,
) -> RelatedForThreads:
    """People and threads on other lists about the topics of these threads."""
    rows = _thread_rows(conn, thread_ids, scope)
    if not rows:
        return RelatedForThreads([], [])
    weights = _thread_weights(conn, rows)
    home = {r.list_id for r in rows}
    others = [lid for lid in scope if lid not in home]
    participants = {r.person_id for r in rows if r.person_id is not None}
    people = _overlap(conn, weights, others, set(), participants, limit)
    threads = _similar_threads(conn, settings, weights, others, set(thread_ids), limit)
    return RelatedForThreads(people, threads)
