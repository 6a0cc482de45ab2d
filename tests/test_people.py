"""People on both backends: identities (safe automatic merges, proposals, merge/split/undo),
profiles limited to what the reader may see, topics, who-knows, hidden messages, the person-
aware `from:` search and `mailgate rebuild --people`."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select, update

from mailgate import access, people, search
from mailgate.bulk import import_messages
from mailgate.models import Message
from mailgate.people_models import PersonTerm
from mailgate.pipeline import Where, ingest, list_contexts
from mailgate.store import sync_lists
from tests.mailfactory import make_mail

PEOPLE = {
    "domain_aliases": [["exemple.org", "exemple.fr"]],
    "company_domains": ["exemple.org"],
    "personal_domains": ["webmel.example"],
}
SECRET_BODY = "Le projet Zanzibar avance: la fusion confidentielle est prête.\n"


def _settings(settings):
    return replace(settings, sections={"people": PEOPLE})


def _mail(mid, sender, body, *, to="dev@lists.example.org", parent=None, subject="Sujet"):
    return make_mail(
        mid,
        subject,
        sender=sender,
        to=to,
        body=body,
        in_reply_to=parent,
        references=[parent] if parent else None,
    )


def _load(db, settings, mails):
    """mails: (list name, raw) in order, each committed on its own like the live path."""
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, sync_lists(conn, settings.lists))
    for list_name, raw in mails:
        with db.engine.begin() as conn:
            ingest(conn, raw, contexts[list_name], Where(list_name, "test"))
    return contexts


SENDERS = [
    ("dev", _mail("a1@x", "Jean Dupont <Jean.Dupont@exemple.org>",
                  "La virtualisation des serveurs Linux avec KVM.\n")),
    ("dev", _mail("a2@x", "Jean Dupont <jean.dupont+listes@exemple.org>",
                  "La virtualisation KVM et la sauvegarde des serveurs Linux.\n")),
    ("dev", _mail("a3@x", "Jean Dupont <jean.dupont@exemple.fr>",
                  "Encore la virtualisation: migration KVM terminée.\n")),
    ("dev", _mail("a4@x", "Jean Dupont <jdupont@webmel.example>",
                  "Depuis chez moi: le KVM redémarre.\n")),
    ("dev", _mail("b1@x", "Jean Dupont <jean.dupont@autre.example>",
                  "Le budget de la cantine est voté.\n", parent="a1@x")),
    ("secret", _mail("s1@x", "Jean Dupont <jean.dupont@exemple.org>", SECRET_BODY,
                     to="secret@lists.example.org")),
    ("dev", _mail("c1@x", "Claire Roux <claire@exemple.org>",
                  "Le bilan carbone et la CSRD: le bilan carbone avance.\n", parent="a2@x")),
]  # fmt: skip


@pytest.fixture
def archive(db, settings):
    s = _settings(settings)
    _load(db, s, SENDERS)
    return s


def _pid(db, address):
    with db.reader() as session:
        return people.person_for_address(session.connection(), address)


def test_safe_evidence_merges_and_nothing_else(db, archive) -> None:
    jean = _pid(db, "jean.dupont@exemple.org")
    assert jean is not None
    assert _pid(db, "JEAN.DUPONT+listes@exemple.org") == jean  # case and plus-addressing
    assert _pid(db, "jean.dupont@exemple.fr") == jean  # configured domain alias
    assert _pid(db, "jdupont@webmel.example") != jean  # personal address: proposal only
    assert _pid(db, "jean.dupont@autre.example") != jean  # homonym elsewhere: never merged
    with db.reader() as session:
        conn = session.connection()
        assert people.addresses_of(conn, jean) == [
            "jean.dupont+listes@exemple.org", "jean.dupont@exemple.fr", "jean.dupont@exemple.org",
        ]  # fmt: skip
        found = people.proposals(conn, archive)
    pairs = {frozenset(p.addresses): p for p in found}
    homonym = next(p for p in found if "jean.dupont@autre.example" in p.addresses)
    assert homonym.confidence < 0.5  # they replied to each other: two people
    assert any("jdupont@webmel.example" in key for key in pairs)


def test_merge_split_and_undo_are_recorded(db, archive) -> None:
    jean, home = _pid(db, "jean.dupont@exemple.org"), _pid(db, "jdupont@webmel.example")
    with db.engine.begin() as conn:
        entry = people.merge_people(conn, jean, home, actor="admin", reason="same person")
    assert _pid(db, "jdupont@webmel.example") == jean
    with db.reader() as session:
        rows = session.execute(select(Message.person_id).where(Message.message_id == "a4@x"))
        assert rows.scalar() == jean
    with db.engine.begin() as conn:
        people.undo(conn, entry, actor="admin")
    assert _pid(db, "jdupont@webmel.example") == home
    with db.engine.begin() as conn:
        new = people.split_address(conn, "jean.dupont@exemple.fr", actor="admin", reason="x")
        assert people.addresses_of(conn, new) == ["jean.dupont@exemple.fr"]
        with pytest.raises(people.IdentityError):
            people.merge_people(conn, jean, jean, actor="admin", reason="")
        history = people.identity.history(conn)
    assert [h["action"] for h in history] == ["split", "undo", "merge"]
    assert history[-1]["undone"] and history[-1]["actor"] == "admin"


def _scope(db, settings, viewer):
    with db.reader() as session:
        return access.visible_list_ids(session.connection(), settings, viewer)


def test_profile_never_reveals_private_lists(db, archive) -> None:
    jean = _pid(db, "jean.dupont@exemple.org")
    everyone = _scope(db, archive, access.ADMINISTRATOR)
    anonymous = _scope(db, archive, access.ANONYMOUS)
    with db.reader() as session:
        conn = session.connection()
        full = people.profile(conn, archive, jean, scope=everyone)
        public = people.profile(conn, archive, jean, scope=anonymous)
    assert "secret" in full.lists and "secret" not in public.lists
    assert public.messages == full.messages - 1
    assert any("zanzibar" in t.display.lower() for t in full.topics)
    assert not any("zanzibar" in t.display.lower() for t in public.topics)
    assert any("virtualisation" in t.display for t in public.topics)
    topic = next(t for t in public.topics if t.display == "virtualisation")
    assert topic.evidence and set(topic.evidence) <= {"a1@x", "a2@x", "a3@x"}
    assert public.names == ["Jean Dupont"] and public.threads_started == 3
    assert [c.name for c in public.correspondents] == ["Jean Dupont", "Claire Roux"] or {
        c.name for c in public.correspondents
    } == {"Jean Dupont", "Claire Roux"}


def test_who_knows_ranks_by_own_text_in_scope(db, archive) -> None:
    anonymous = _scope(db, archive, access.ANONYMOUS)
    everyone = _scope(db, archive, access.ADMINISTRATOR)
    with db.reader() as session:
        conn = session.connection()
        ranked = people.who_knows(conn, archive, "virtualisation", scope=anonymous)
        carbon = people.who_knows(conn, archive, "bilan carbone", scope=anonymous)
        hidden = people.who_knows(conn, archive, "zanzibar", scope=anonymous)
        admin = people.who_knows(conn, archive, "zanzibar", scope=everyone)
        with pytest.raises(search.QueryError):
            people.who_knows(conn, archive, '"unterminated', scope=anonymous)
    assert ranked[0].person_id == _pid(db, "jean.dupont@exemple.org")
    assert set(ranked[0].evidence) == {"a1@x", "a2@x", "a3@x"}
    assert carbon[0].name == "Claire Roux" and carbon[0].evidence == ["c1@x"]
    assert hidden == [] and admin[0].evidence == ["s1@x"]


def test_hidden_messages_stop_counting_after_refresh(db, archive) -> None:
    claire = _pid(db, "claire@exemple.org")
    with db.engine.begin() as conn:
        conn.execute(
            update(Message.__table__).where(Message.message_id == "c1@x").values(hidden=True)
        )
        people.refresh_people(conn, archive, [claire])
    scope = _scope(db, archive, access.ADMINISTRATOR)
    with db.reader() as session:
        conn = session.connection()
        assert people.who_knows(conn, archive, "carbone", scope=scope) == []
        assert people.profile(conn, archive, claire, scope=scope).messages == 0
        rows = conn.execute(select(PersonTerm.term).where(PersonTerm.person_id == claire)).all()
    assert rows == []


def test_from_search_is_person_aware(db, archive) -> None:
    with db.reader() as session:
        conn = session.connection()
        found = search.same_person_addresses(conn, "jean.dupont@exemple.fr")
        page = search.search(conn, archive, "from:jean.dupont@exemple.fr kvm",
                             viewer=access.ADMINISTRATOR)  # fmt: skip
    assert "jean.dupont@exemple.org" in found
    assert {h.message_id for h in page.hits} == {"a1@x", "a2@x", "a3@x"}


def test_related_people_on_other_lists(db, settings) -> None:
    s = _settings(settings)
    mails = [
        ("dev", _mail("r1@x", "Paul Blanc <paul@exemple.org>",
                      "La sauvegarde des serveurs Linux et la virtualisation KVM.\n",
                      subject="Serveurs")),
        ("annonces", _mail("r2@x", "Lucie Noir <lucie@exemple.org>",
                           "Notre virtualisation KVM: sauvegarde des serveurs Linux refaite.\n",
                           to="annonces@lists.example.org", subject="Infra")),
        ("annonces", _mail("r3@x", "Marc Vert <marc@exemple.org>",
                           "La cantine ouvre lundi.\n", to="annonces@lists.example.org",
                           subject="Cantine")),
    ]  # fmt: skip
    _load(db, s, mails)
    scope = _scope(db, s, access.ANONYMOUS)
    with db.reader() as session:
        conn = session.connection()
        related = people.related_people(conn, s, _pid(db, "paul@exemple.org"), scope=scope)
        thread = conn.execute(select(Message.thread_id).where(Message.message_id == "r1@x"))
        around = people.related_for_threads(conn, s, [thread.scalar()], scope=scope)
    assert [r.name for r in related] == ["Lucie Noir"] and related[0].lists == ["annonces"]
    assert [r.name for r in around.people] == ["Lucie Noir"]
    assert around.threads and around.threads[0].subject == "Infra"


def test_rebuild_people_recomputes_the_same_profiles(db, archive) -> None:
    jean = _pid(db, "jean.dupont@exemple.org")
    scope = _scope(db, archive, access.ADMINISTRATOR)
    with db.reader() as session:
        before = people.profile(session.connection(), archive, jean, scope=scope)
    with db.engine.begin() as conn:
        conn.execute(update(Message.__table__).values(person_id=None))
        assert people.rebuild_people(conn, archive) == 7
    with db.reader() as session:
        after = people.profile(session.connection(), archive, jean, scope=scope)
    assert after.topics == before.topics and after.messages == before.messages


def test_bulk_import_batches_people_rows(db, settings) -> None:
    s = _settings(settings)
    with db.engine.begin() as conn:
        contexts = list_contexts(s, sync_lists(conn, s.lists))
    raws = [raw for name, raw in SENDERS if name == "dev"]
    summary = import_messages(db, contexts["dev"], ((r, None) for r in raws), source="t", workers=1)
    assert summary.imported == len(raws)
    with db.reader() as session:
        rows = session.execute(select(Message.person_id)).scalars().all()
    assert None not in rows and len(set(rows)) == 4
