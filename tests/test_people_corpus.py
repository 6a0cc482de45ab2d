"""People on real-shaped corpora, both backends: the French enterprise lists (identities and
homonyms, expertise keywords among topics, who-knows precision) and the openwrt-devel sample
(a person for every sender, DMARC-wrapped posts under their real author).

Data: tests/data/french-enterprise (an unchanged copy of the project's shared corpus
`french-enterprise/`, with its expected.json: people, addresses, homonyms, expertise) and
tests/data/openwrt-sample.mbox.gz (see tests/data/README.md).

The expertise keywords describe each person's job; many never occur in that person's own
text (about 40 of 133 do, analysed), so the floors below are set from that ceiling.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select

from mailgate import access, people, store
from mailgate.bulk import import_messages
from mailgate.db import open_database
from mailgate.ingest.mbox import read_archive
from mailgate.models import Message
from mailgate.people.terms import query_keys
from mailgate.people.topics import topics_of
from mailgate.people_models import PersonAddress
from mailgate.pipeline import list_contexts
from tests.conftest import DATA, FRENCH, FRENCH_LISTS, french_settings

EXPECTED = json.loads((FRENCH / "expected.json").read_text(encoding="utf-8"))
PEOPLE = {
    "company_domains": [
        "groupe-exemple.example", "exemple-ingenierie.example", "exemple-gmbh.example",
    ],
    "personal_domains": ["courriel.example", "webmel.example"],
}  # fmt: skip
TOP_TOPICS = 30
TOPIC_FLOOR = 0.10
P_AT_1_FLOOR = 0.25
P_AT_3_FLOOR = 0.38


@pytest.fixture
def corpus(settings):
    s = replace(french_settings(settings), sections={"people": PEOPLE})
    db = open_database(s)
    with db.engine.begin() as conn:
        contexts = list_contexts(s, store.sync_lists(conn, s.lists))
    for name in FRENCH_LISTS:
        items = ((m.raw, m.arrival) for m in read_archive(FRENCH / f"{name}.mbox"))
        import_messages(db, contexts[name], items, source="test", workers=1)
    with db.engine.begin() as conn:
        people.apply_proposals(conn, s, actor="test")
    yield s, db
    db.dispose()


def _persons(conn) -> dict[str, int | None]:
    found = {}
    for person in EXPECTED["people"]:
        ids = {people.person_for_address(conn, a["address"]) for a in person["addresses"]}
        found[person["id"]] = ids.pop() if len(ids) == 1 else None
    return found


def _matches(keyword: str, terms: list[str]) -> bool:
    keys = query_keys(keyword, "fr")
    wanted = " ".join(keys)
    return any(t == wanted or (" " in t and f" {t} " in f" {wanted} ") for t in terms) or (
        len(keys) == 1 and wanted in terms
    )


def test_identities_and_homonyms(corpus) -> None:
    _settings, db = corpus
    with db.reader() as session:
        ids = _persons(session.connection())
    assert all(ids.values()), {k: v for k, v in ids.items() if not v}
    assert len(set(ids.values())) == len(EXPECTED["people"])
    for person in EXPECTED["people"]:
        for other in person["homonyms"]:
            assert ids[person["id"]] != ids[other]


def test_expertise_topics_and_who_knows(corpus) -> None:
    settings, db = corpus
    with db.reader() as session:
        conn = session.connection()
        ids = _persons(conn)
        scope = access.visible_list_ids(conn, settings, access.ADMINISTRATOR)
        found = total = first = top3 = 0
        for person in EXPECTED["people"]:
            terms = [t.term for t in topics_of(conn, ids[person["id"]], scope, limit=TOP_TOPICS)]
            for keyword in person["expertise"]:
                total += 1
                found += _matches(keyword, terms)
                ranked = [e.person_id for e in people.who_knows(conn, settings, keyword,
                                                                scope=scope, limit=3)]  # fmt: skip
                first += ranked[:1] == [ids[person["id"]]]
                top3 += ids[person["id"]] in ranked
    print(f"topics {found}/{total}; who-knows p@1 {first / total:.3f} p@3 {top3 / total:.3f}")
    assert found / total >= TOPIC_FLOOR
    assert first / total >= P_AT_1_FLOOR and top3 / total >= P_AT_3_FLOOR


def test_private_list_stays_out_of_anonymous_profiles(corpus) -> None:
    settings, db = corpus
    with db.reader() as session:
        conn = session.connection()
        anonymous = access.visible_list_ids(conn, settings, access.ANONYMOUS)
        garnier = people.person_for_address(conn, "philippe.garnier@groupe-exemple.example")
        seen = people.profile(conn, settings, garnier, scope=anonymous)
        experts = people.who_knows(conn, settings, "comité", scope=anonymous, limit=20)
        private = {
            mid for mid, in conn.execute(
                select(Message.message_id).where(Message.id.in_(
                    select(store.mlists_t.c.message_pk).where(
                        store.mlists_t.c.list_id.not_in(anonymous))))
            )
        }  # fmt: skip
    assert "comite-direction" not in seen.lists
    shown = {m for t in seen.topics for m in t.evidence} | {m for e in experts for m in e.evidence}
    assert not shown & private


def test_openwrt_sample_every_sender_has_a_profile(db, contexts, settings) -> None:
    raws = [m.raw for m in read_archive(DATA / "openwrt-sample.mbox.gz")]
    import_messages(db, contexts["dev"], ((r, None) for r in raws), source="t", workers=1)
    scope = [contexts["dev"].list_id]
    with db.reader() as session:
        conn = session.connection()
        senders = set(conn.execute(select(Message.from_addr).distinct()).scalars())
        known = set(conn.execute(select(PersonAddress.address)).scalars())
        assert senders <= known
        assert "openwrt-devel@lists.openwrt.org" not in known
        for address in sorted(senders):
            found = people.profile(conn, settings, people.person_for_address(conn, address),
                                   scope=scope)  # fmt: skip
            assert found.messages > 0 and address in found.addresses
