"""`who knows` and `profile` by e-mail, on both backends, through the people API
(`mailgate.people`): end to end through the SMTP receiver and the relay sink, only what the
sender may read."""

from __future__ import annotations

from mailgate.commands.worker import run_once
from tests.commands_support import BOB, Mail, body_of, outbox, queue, refresh_people
from tests.test_commands_e2e import send, served, sink, wait_count  # noqa: F401  (fixtures)
from tests.test_commands_worker import cdb, cset  # noqa: F401  (fixtures)


def test_who_knows_through_smtp(served) -> None:  # noqa: F811
    cset_, db, gw, relay = served
    refresh_people(db, cset_)
    send(gw, Mail(subject="who knows coffee", sender=BOB, mid="wk@example.org"))
    [reply] = wait_count(relay, 1)
    text = body_of(reply.message)
    assert reply.recipients == [BOB]
    assert "Bob Durand" in text and "http://archive.test/m/" in text


def test_who_knows_and_profile_show_only_readable_lists(cdb, cset) -> None:  # noqa: F811
    refresh_people(cdb, cset)
    queue(cdb, cset, Mail(subject="who knows merger", sender=BOB, mid="w1@example.org"))
    queue(cdb, cset, Mail(subject="qui connaît espresso", sender=BOB, mid="w2@example.org"))
    queue(cdb, cset, Mail(subject="profile alice@example.org", sender=BOB, mid="p1@example.org"))
    queue(cdb, cset, Mail(subject="profile nobody@example.org", sender=BOB, mid="p2@example.org"))
    run_once(cdb, cset)
    merger, espresso, profile, nobody = (body_of(m) for _, m in outbox(cdb))
    assert "merger@example.org" not in merger and "Merger" not in merger
    assert "Bob Durand" in espresso and "http://archive.test/m/espresso@example.org" in espresso
    assert "Profile of alice@example.org" in profile and "merger" not in profile.lower()
    assert "I know nothing about nobody@example.org" in nobody
