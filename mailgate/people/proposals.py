"""Merge proposals: addresses that are probably one person, never merged without a decision.

Evidence: the same display name (any word order or spelling case) in one configured company
domain; a company address and a personal-service address with the same name; a name
contained in another in one company domain ("Chloé Fontaine" and "Chloé Fontaine –
Communication interne"). Counter-evidence: two addresses that reply to each other are two
people (homonyms talk to each other; one person does not answer themself), and so are two
company addresses in different organisations' domains (low confidence). Called by
`mailgate people proposals` and the tests; `apply_proposals` merges those above a threshold.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.orm import aliased

from mailgate.config import Settings
from mailgate.people.config import PeopleSettings, people_settings
from mailgate.people.identity import merge_people
from mailgate.people.names import MIN_NAME_TOKENS, name_tokens
from mailgate.people.tables import addresses_t, merges_t, msgs_t, names_t, persons_t

SAME_DOMAIN = 0.9
PERSONAL_SERVICE = 0.8
CONTAINED_NAME = 0.7
OTHER_ORGANISATION = 0.4
UNKNOWN_DOMAINS = 0.3
REPLY_EACH_OTHER = 0.05
DEFAULT_APPLY = 0.7
MAX_GROUP = 20  # a name shared by more persons than this is too common to propose on


@dataclass
class Proposal:
    person_id: int
    other_id: int
    confidence: float
    evidence: list[str] = field(default_factory=list)
    addresses: tuple[str, str] = ("", "")


def _identities(conn: Connection) -> dict[int, list[tuple[str, frozenset[str]]]]:
    """(address, name tokens) per live person, one entry per name seen (or the address)."""
    found: dict[int, list[tuple[str, frozenset[str]]]] = defaultdict(list)
    rows = conn.execute(
        select(addresses_t.c.person_id, addresses_t.c.address, names_t.c.name)
        .join(persons_t, persons_t.c.id == addresses_t.c.person_id)
        .outerjoin(names_t, names_t.c.address == addresses_t.c.address)
        .where(persons_t.c.merged_into.is_(None))
    ).all()
    for person, address, name in rows:
        found[person].append((address, name_tokens(name or address)))
    return found


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


def _judge(a: str, b: str, contained: bool, options: PeopleSettings) -> tuple[float, str]:
    da, db = _domain(a), _domain(b)
    company = options.company_domains
    if da == db and da in company:
        if contained:
            return CONTAINED_NAME, f"one name contains the other in {da}"
        return SAME_DOMAIN, f"same name in company domain {da}"
    if contained:
        return 0.0, ""
    personal = options.personal_domains
    if (da in company and db in personal) or (db in company and da in personal):
        return PERSONAL_SERVICE, "same name, company and personal address"
    if da in company and db in company:
        return OTHER_ORGANISATION, f"same name in two organisations ({da}, {db}): may be homonyms"
    return UNKNOWN_DOMAINS, "same name"


def _replied(conn: Connection, one: int, other: int) -> bool:
    parent = aliased(msgs_t)
    query = (
        select(msgs_t.c.id)
        .join(parent, parent.c.message_id == msgs_t.c.parent_mid)
        .where(
            or_(
                and_(msgs_t.c.person_id == one, parent.c.person_id == other),
                and_(msgs_t.c.person_id == other, parent.c.person_id == one),
            )
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None


def _split_pairs(conn: Connection) -> set[frozenset[int]]:
    rows = conn.execute(
        select(merges_t.c.person_id, merges_t.c.other_id).where(merges_t.c.action != "merge")
    )
    return {frozenset(r) for r in rows}


def _candidates(identities: dict) -> dict[frozenset[int], tuple[str, str, bool]]:
    """Pairs of persons sharing a name (or one name inside the other)."""
    by_pair: dict[frozenset[str], set[tuple[int, str, frozenset[str]]]] = defaultdict(set)
    for person, entries in identities.items():
        for address, tokens in entries:
            if len(tokens) >= MIN_NAME_TOKENS:
                for pair in itertools.combinations(sorted(tokens), 2):
                    by_pair[frozenset(pair)].add((person, address, tokens))
    found: dict[frozenset[int], tuple[str, str, bool]] = {}
    for members in by_pair.values():
        if len({m[0] for m in members}) > MAX_GROUP:
            continue
        for (p1, a1, t1), (p2, a2, t2) in itertools.combinations(sorted(members), 2):
            if p1 == p2 or not (t1 <= t2 or t2 <= t1):
                continue
            key = frozenset((p1, p2))
            contained = t1 != t2
            if key not in found or (found[key][2] and not contained):
                found[key] = (a1, a2, contained)
    return found


def proposals(conn: Connection, settings: Settings) -> list[Proposal]:
    """Probable merges, most confident first; nothing is changed."""
    options = people_settings(settings)
    refused = _split_pairs(conn)
    out: list[Proposal] = []
    for key, (a1, a2, contained) in _candidates(_identities(conn)).items():
        if key in refused:
            continue
        confidence, why = _judge(a1, a2, contained, options)
        if confidence <= 0:
            continue
        one, other = sorted(key)
        evidence = [why]
        if _replied(conn, one, other):
            confidence = REPLY_EACH_OTHER
            evidence.append("they reply to each other: two people")
        out.append(Proposal(one, other, confidence, evidence, (a1, a2)))
    out.sort(key=lambda p: (-p.confidence, p.person_id, p.other_id))
    return out


def apply_proposals(
    conn: Connection, settings: Settings, *, min_confidence: float = DEFAULT_APPLY, actor: str
) -> list[Proposal]:
    """Merge every proposal at or above `min_confidence` (an administrator's decision)."""
    applied = []
    current: dict[int, int] = {}

    def find(pid: int) -> int:
        while pid in current:
            pid = current[pid]
        return pid

    for proposal in proposals(conn, settings):
        if proposal.confidence < min_confidence:
            continue
        keep, other = sorted((find(proposal.person_id), find(proposal.other_id)))
        if keep == other:
            continue
        merge_people(
            conn, keep, other, actor=actor, reason="; ".join(proposal.evidence), settings=settings
        )
        current[other] = keep
        applied.append(proposal)
    return applied
