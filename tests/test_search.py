"""Search operators, aliases, errors and access on both backends (`mailgate.search`)."""

from __future__ import annotations

import contextlib
import random

import pytest

from mailgate.access import ANONYMOUS, Viewer
from mailgate.query import QueryError
from tests.search_data import ids, load, run


@pytest.fixture
def archive(db, contexts, settings):
    load(db, contexts)
    return db, settings


def test_words_fold_stem_and_drop_elisions(archive) -> None:
    db, settings = archive
    for query in ("réseau", "RESEAU", "reseaux", "Réseaux"):
        assert ids(db, settings, query) == {"m1@t", "m5@t"}, query
    assert ids(db, settings, "collaboration") == {"m6@t"}
    assert ids(db, settings, "collaboratif") == {"m6@t"}
    assert ids(db, settings, "entreprise") == ids(db, settings, "l'entreprise") == {"m6@t"}
    assert ids(db, settings, "proposal") == {"m3@t"}  # English stemming: proposals


def test_quoted_text_and_signature_do_not_match(archive) -> None:
    db, settings = archive
    assert "m2@t" not in ids(db, settings, "lent")
    assert ids(db, settings, "routeur") == {"m2@t"}


def test_and_or_exclusion_and_groups(archive) -> None:
    db, settings = archive
    assert ids(db, settings, "wifi lent") == {"m1@t"}
    assert ids(db, settings, "wifi ET lent") == {"m1@t"}
    assert ids(db, settings, "routeur OR proposals") == {"m2@t", "m3@t"}
    assert ids(db, settings, "routeur OU proposals") == {"m2@t", "m3@t"}
    assert ids(db, settings, "wifi -routeur") == {"m1@t"}
    assert ids(db, settings, "wifi -(routeur OR lundi)") == set()
    assert ids(db, settings, "(wifi OR budget) -routeur -fusion") == {"m1@t", "m3@t"}
    assert ids(db, settings, "-routeur list:dev") == {"m1@t", "m5@t", "m6@t", "m8@t"}


def test_phrases(archive) -> None:
    db, settings = archive
    assert ids(db, settings, '"réseau wifi"') == {"m1@t"}
    assert ids(db, settings, '"wifi réseau"') == set()
    assert ids(db, settings, "inter-sites") == {"m6@t"}  # a hyphenated word is a phrase
    assert ids(db, settings, '-"réseau wifi" réseau') == {"m5@t"}


def test_from_by_address_local_part_domain_and_name(archive) -> None:
    db, settings = archive
    alice = {"m1@t", "m5@t"}
    assert ids(db, settings, "from:alice@example.org") == alice
    assert ids(db, settings, "from:ALICE@Example.org") == alice
    assert ids(db, settings, "from:<alice@example.org>") == alice
    assert ids(db, settings, "from:alice") == alice
    assert ids(db, settings, 'from:"Alice Martin"') == alice
    assert ids(db, settings, "from:martin") == alice
    assert ids(db, settings, "from:partner.example") == {"m3@t"}
    assert ids(db, settings, "from:bob.durand") == {"m2@t", "m6@t"}
    assert ids(db, settings, "from:bob.durand@example.org routeur") == {"m2@t"}
    assert ids(db, settings, "-from:bob.durand@example.org wifi") == {"m1@t"}
    for alias in ("de", "par", "expediteur", "expéditeur"):
        assert ids(db, settings, f"{alias}:alice@example.org") == alice, alias


def test_from_asks_the_person_hook_for_other_addresses(archive) -> None:
    db, settings = archive
    same = {"alice@example.org": ["alice@example.org", "carol@partner.example"]}
    found = ids(db, settings, "from:alice@example.org", same_person=lambda _c, a: same.get(a, [a]))
    assert found == {"m1@t", "m3@t", "m5@t"}


def test_to_and_bare_addresses(archive) -> None:
    db, settings = archive
    assert ids(db, settings, "to:alice@example.org") == {"m3@t"}  # Cc counts
    assert ids(db, settings, "to:annonces@lists.example.org") == {"m3@t"}
    assert ids(db, settings, 'to:"Alice Martin"') == ids(db, settings, "to:martin") == {"m3@t"}
    for alias in ("a", "à", "cc", "pour", "destinataire"):
        assert ids(db, settings, f"{alias}:alice@example.org") == {"m3@t"}, alias
    assert ids(db, settings, "alice@example.org") == {"m1@t", "m3@t", "m5@t"}
    assert "m3@t" not in ids(db, settings, "alice")  # a bare word ignores recipients


def test_subject_and_filename(archive) -> None:
    db, settings = archive
    assert ids(db, settings, "subject:budget") == {"m3@t"}  # m4 says budget in its body
    assert ids(db, settings, "budget") == {"m3@t", "m4@t"}
    assert ids(db, settings, 'subject:"bâtiment b"') == {"m1@t", "m2@t"}
    for alias in ("sujet", "objet"):
        assert ids(db, settings, f"{alias}:budget") == {"m3@t"}
    assert ids(db, settings, "filename:rapport") == {"m5@t"}
    assert ids(db, settings, "fichier:annuel") == ids(db, settings, "file:2024") == {"m5@t"}
    assert ids(db, settings, "annuel") == {"m5@t"}  # attachment names are indexed
    assert ids(db, settings, "filename:chiffres") == set()


def test_attachments(archive) -> None:
    db, settings = archive
    for query in ("has:attachment", "avec:pj", "a:pj", "has:piece-jointe"):
        assert ids(db, settings, query) == {"m5@t"}, query
    assert ids(db, settings, "réseau has:attachment") == {"m5@t"}
    assert ids(db, settings, "réseau -has:attachment") == {"m1@t"}


def test_lists(archive) -> None:
    db, settings = archive
    assert ids(db, settings, "list:annonces") == {"m3@t"}
    assert ids(db, settings, "liste:secret") == {"m4@t", "m8@t"}
    assert ids(db, settings, "list:dev list:annonces budget") == {"m3@t"}
    assert ids(db, settings, "budget -list:annonces") == {"m4@t"}
    assert ids(db, settings, "annonce -list:secret") == set()  # m8 is on secret too
    assert ids(db, settings, "list:no-such-list") == set()
    assert ids(db, settings, "budget", lists=["annonces"]) == {"m3@t"}
    assert ids(db, settings, "list:dev", lists=["annonces"]) == set()


def test_dates_absolute_and_relative(archive) -> None:
    db, settings = archive
    march_first_days = {"m1@t", "m2@t", "m3@t", "m4@t"}
    assert ids(db, settings, "before:2025-03-10") == march_first_days
    assert ids(db, settings, "avant:10/03/2025") == march_first_days
    assert ids(db, settings, "after:2025-03-10") == {"m5@t", "m6@t", "m8@t"}
    assert ids(db, settings, "apres:2025-03-10 réseau") == {"m5@t"}
    assert ids(db, settings, "depuis:2025-04") == ids(db, settings, "since:2025-04")
    assert ids(db, settings, "date:2025-04") == {"m6@t", "m8@t"}
    assert ids(db, settings, "date:2025-03..2025-03") == march_first_days | {"m5@t"}
    assert ids(db, settings, "date:..2025-02") == set()
    assert ids(db, settings, "date:2025-04-12") == {"m6@t"}
    # now = 2025-05-01: last-month is from 2025-04-01 to the end of today
    assert ids(db, settings, "date:last-month") == {"m6@t", "m8@t"}
    assert ids(db, settings, "date:mois-dernier") == {"m6@t", "m8@t"}
    assert ids(db, settings, "date:30d") == {"m6@t", "m8@t"}
    assert ids(db, settings, "date:last-week") == set()
    same = [
        ("après:2025-03-10", "after:2025-03-10"),
        ("date:semaine-derniere", "date:last-week"),
        ("date:annee-derniere", "date:last-year"),
        ("date:1a", "date:1y"),
        ("date:7j", "date:7d"),
        ("date:2s", "date:2w"),
        ("date:hier", "date:yesterday"),
        ("date:aujourdhui", "date:today"),
        ("date:2025/04", "date:2025-04"),
    ]
    for french, english in same:
        assert ids(db, settings, french) == ids(db, settings, english), french
    assert ids(db, settings, "date:last-year") == march_first_days | {"m5@t", "m6@t", "m8@t"}


def test_message_id_lookups(archive) -> None:
    db, settings = archive
    assert ids(db, settings, "<m3@t>") == {"m3@t"}
    for alias in ("mid", "id", "msgid", "message-id"):
        assert ids(db, settings, f"{alias}:m1@t") == {"m1@t"}, alias
    assert ids(db, settings, "<m3@t> budget") == {"m3@t"}
    assert ids(db, settings, "<m3@t> routeur") == set()
    assert ids(db, settings, "<m4@t>", ANONYMOUS) == set()
    assert ids(db, settings, "<m7@t>") == set()  # hidden
    assert ids(db, settings, "<nothing@t>") == set()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"réseau wifi', "unclosed quote starting at position 1"),
        ("(wifi", "unclosed '(' at position 1"),
        ("wifi)", "unmatched ')' at position 5"),
        ("wifi OR", "needs a word after it"),
        ("OR wifi", "needs a word or group before it"),
        ("form:alice", 'did you mean "from:"'),
        ("after:2025-13", "invalid date"),
        ("-wifi", "at least one word or filter that is not excluded"),
        ("has:cat", "has:attachment"),
        ("(list:dev wifi)", "applies to the whole query"),
    ],
)
def test_invalid_syntax_says_what_is_wrong(archive, query: str, message: str) -> None:
    db, settings = archive
    with pytest.raises(QueryError) as info:
        run(db, settings, query)
    assert message in str(info.value)


def test_private_lists_never_appear_for_others(archive) -> None:
    db, settings = archive
    for viewer in (ANONYMOUS, Viewer("bob")):
        for query in ("budget", "fusion", "list:secret", "confidentiel", "dana@example.org"):
            assert "m4@t" not in ids(db, settings, query, viewer), (viewer, query)
        assert ids(db, settings, "budget", viewer, lists=["secret"]) == set()
        page = run(db, settings, "télétravail", viewer)
        assert [hit.lists for hit in page.hits] == [("dev",)]  # the cross-post, named by dev
    assert ids(db, settings, "budget", Viewer("alice")) == {"m3@t", "m4@t"}
    assert run(db, settings, "budget", ANONYMOUS).total == 1
    page = run(db, settings, "télétravail", Viewer("alice"))
    assert set(page.hits[0].lists) == {"dev", "secret"}


def test_hidden_messages_are_excluded(archive) -> None:
    db, settings = archive
    assert "m7@t" not in ids(db, settings, "masqué")
    assert "m7@t" not in ids(db, settings, "réseau", order="newest")
    assert "m7@t" not in ids(db, settings, "after:2025-04-15")


def test_query_syntax_of_the_engines_is_inert(archive) -> None:
    """Engine operators typed by a user are plain words or query errors, never engine
    errors (the terms that reach FTS5 or to_tsquery are only [a-z0-9])."""
    db, settings = archive
    hostile = [
        "NEAR(wifi lent, 2)",
        "wifi* ^lent",
        "{subject}: wifi",
        "subject : wifi",
        "wifi & !lent | 'x'",
        "réseau <-> wifi",
        "'; DROP TABLE messages; --",
        'zqd zql1 "zqh"',
        "\\x00 \u0000 wifi",
        "AND OR NOT",
    ]
    rng = random.Random(4)
    alphabet = "ab \"'()-:*^{}&|!<>@.,;_%\\éœ"
    hostile += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(60)]
    for query in hostile:
        with contextlib.suppress(QueryError):
            run(db, settings, query)
    assert ids(db, settings, "wifi") == {"m1@t", "m2@t"}


def test_cross_post_in_one_batch_is_on_both_lists(db, contexts, settings) -> None:
    """A copy for a second list that arrives before the batch is written still marks the
    queued search document with both lists."""
    from mailgate import store
    from mailgate.pipeline import Where, commit, prepare
    from tests.mailfactory import make_mail

    raw = make_mail("both@t", "Commun", to="dev@lists.example.org", body="Sujet partagé.\n")
    pending = store.PendingRows()
    with db.engine.begin() as conn:
        for name in ("dev", "annonces"):
            prepared = prepare(raw, contexts[name])
            commit(conn, prepared, contexts[name], Where(name, "test"), pending)
        pending.flush(conn)
    assert ids(db, settings, "list:annonces partagé") == {"both@t"}
    assert ids(db, settings, "list:dev") == {"both@t"}
