"""Email commands end to end on both backends: commands sent with smtplib to mailgate's own SMTP
receiver (`mailgate serve`'s gateway with its "commands" and "outbox" services), replies read
from an aiosmtpd sink acting as the relay, all on loopback. Covers help, search, who knows,
follow/mute, digest settings with the confirmation round trip, a forged request, loops and
auto-replies, French."""

from __future__ import annotations

import smtplib
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from mailgate import confirm, prefs
from mailgate.commands.service import start_commands
from mailgate.db import Database, open_database
from mailgate.ingest.smtp import start_smtp
from mailgate.models import CommandInbox, Thread
from mailgate.outbound import start_outbox
from tests.commands_support import ALICE, BOB, BOT, Mail, body_of, command_settings, fill_archive
from tests.relay_sink import Received, RelaySink
from tests.services import LOOPBACK, GatewayThread

WAIT = 30.0
POLL = 0.05


@pytest.fixture
def sink():
    with RelaySink() as relay:
        yield relay


@pytest.fixture
def served(settings, sink):
    """(settings, db, gateway, sink): the archive filled, the gateway serving."""
    cset = command_settings(settings)
    sections = {
        **cset.sections,
        "smtp": {"port": 0, "prepare_workers": 0},
        "relay": sink.relay_section(poll_seconds=0.2),
    }
    cset = replace(cset, sections=sections)
    db = open_database(cset)
    fill_archive(db, cset)
    with GatewayThread(cset, db, starters=[start_smtp, start_commands, start_outbox]) as gw:
        yield cset, db, gw, sink
    db.dispose()


def send(gw: GatewayThread, mail: Mail, mail_from: str | None = None) -> None:
    raw = mail.raw().replace(b"\n", b"\r\n")
    with smtplib.SMTP(LOOPBACK, gw.port("smtp"), timeout=WAIT) as smtp:
        envelope = mail.sender if mail_from is None else mail_from
        assert smtp.sendmail(envelope, [mail.to], raw) == {}


def wait_count(sink: RelaySink, count: int) -> list[Received]:
    return sink.wait_for(lambda got: len(got) >= count, WAIT)


def handled(db: Database, count: int) -> list[str]:
    """Outcomes, once `count` command messages were handled (a condition with a deadline)."""
    t = CommandInbox.__table__
    query = select(t.c.outcome).where(t.c.handled_at.is_not(None)).order_by(t.c.id)
    outcomes: list[str] = []
    end = time.monotonic() + WAIT
    while len(outcomes) < count:
        assert time.monotonic() < end, f"only {len(outcomes)} command message(s) handled"
        time.sleep(POLL)
        with db.engine.connect() as conn:
            outcomes = list(conn.scalars(query))
    return outcomes


def test_help_and_search_are_answered_through_the_relay(served) -> None:
    _cset, _db, gw, sink = served
    send(gw, Mail(subject="help", mid="h@example.org"))
    [reply] = wait_count(sink, 1)
    assert reply.recipients == [ALICE] and reply.message["From"] == BOT
    assert reply.message["Auto-Submitted"] == "auto-replied"
    assert reply.message["Message-ID"].endswith("@lists.example.org>")
    assert "search QUERY" in body_of(reply.message)
    send(gw, Mail(body="search --mbox budget planning", sender=BOB, mid="s@example.org"))
    search = wait_count(sink, 2)[1]
    assert search.recipients == [BOB]
    text = body_of(search.message)
    assert "Budget planning 2025" in text and "http://archive.test/m/budget-2@example.org" in text
    assert "Merger" not in text  # a private list Bob may not read
    assert search.message.get_body(preferencelist=("html",)) is not None
    [mbox] = list(search.message.iter_attachments())
    assert mbox.get_content_type() == "application/mbox"


def test_digest_confirmation_round_trip(served) -> None:
    _cset, db, gw, sink = served
    send(gw, Mail(subject="digest weekly", mid="d1@example.org"))
    [confirmation] = wait_count(sink, 1)
    assert confirmation.recipients == [ALICE]
    subject = str(confirmation.message["Subject"])
    token = confirm.find_token(subject)
    assert token and confirmation.message["In-Reply-To"] == "<d1@example.org>"
    with db.engine.connect() as conn:
        assert prefs.subscriptions_of(conn, ALICE) == []
    send(gw, Mail(subject=f"Re: {subject}", body="> Hello,\n> ...", mid="d2@example.org"))
    done = wait_count(sink, 2)[1]
    assert "Done: weekly digest of all the lists you can read" in body_of(done.message)
    with db.engine.connect() as conn:
        [sub] = prefs.subscriptions_of(conn, ALICE)
    assert (sub.list_name, sub.frequency) == ("", "weekly")


def test_a_forged_request_is_never_applied(served) -> None:
    _cset, db, gw, sink = served
    # Mallory writes as Bob; the confirmation goes to Bob, who never answers.
    send(gw, Mail(subject="subscribe dev", sender=BOB, mid="forged@evil.example"), "m@evil.example")
    [confirmation] = wait_count(sink, 1)
    assert confirmation.recipients == [BOB]
    token = confirm.find_token(str(confirmation.message["Subject"]))
    # Even with the token (guessed or stolen), a reply from another address does nothing.
    send(gw, Mail(subject=f"Re: [{token}]", sender="mallory@evil.example", mid="f2@evil.example"))
    refused = wait_count(sink, 2)[1]
    assert refused.recipients == ["mallory@evil.example"]
    assert "Not done" in body_of(refused.message)
    with db.engine.connect() as conn:
        assert prefs.subscriptions_of(conn, BOB) == []


def test_follow_and_mute_threads(served) -> None:
    _cset, db, gw, sink = served
    with db.engine.connect() as conn:
        budget = conn.scalar(select(Thread.id).where(Thread.subject.like("Budget%")))
        coffee = conn.scalar(select(Thread.id).where(Thread.subject == "Coffee machine"))
    send(gw, Mail(subject="Re: Budget", body="follow", in_reply_to="budget-1@example.org"))
    send(gw, Mail(subject="mute http://archive.test/m/coffee@example.org", mid="m1@example.org"))
    confirmations = wait_count(sink, 2)
    for n, item in enumerate(confirmations):
        send(gw, Mail(subject=f"Re: {item.message['Subject']}", mid=f"yes{n}@example.org"))
    wait_count(sink, 4)
    with db.engine.connect() as conn:
        assert prefs.thread_prefs_of(conn, ALICE) == {budget: "follow", coffee: "mute"}


def test_loops_and_auto_replies_are_ignored(served) -> None:
    _cset, db, gw, sink = served
    send(gw, Mail(subject="Out of office: help", headers={"Auto-Submitted": "auto-replied"}))
    send(gw, Mail(subject="help", mid="bounce@x"), mail_from="")  # a bounce: MAIL FROM:<>
    send(gw, Mail(subject="help", mid="loop@x", headers={"X-Mailgate-Origin": "elsewhere"}))
    send(gw, Mail(subject="help", mid="list@x", headers={"Precedence": "list"}))
    send(gw, Mail(subject="help", mid="last@x"))
    outcomes = handled(db, 5)
    assert [o.split(":")[0] for o in outcomes] == ["ignored"] * 4 + ["replied"]
    [only] = wait_count(sink, 1)
    assert str(only.message["In-Reply-To"]) == "<last@x>"
    assert len(sink.messages) == 1


def test_french_commands_and_replies(served) -> None:
    _cset, _db, gw, sink = served
    send(gw, Mail(subject="aide", mid="fr1@example.org"))
    send(gw, Mail(body="recherche réunion", mid="fr2@example.org"))
    aide, found = wait_count(sink, 2)
    assert "Commandes comprises" in body_of(aide.message)
    assert aide.message.get_content_charset() in ("utf-8", None)
    assert "Réunion d'équipe" in body_of(found.message)
    send(gw, Mail(subject="résumé quotidien annonces", mid="fr3@example.org"))
    confirmation = wait_count(sink, 3)[2]
    subject = str(confirmation.message["Subject"])
    assert subject.startswith("Confirmez : résumé quotidien de la liste annonces")
    send(gw, Mail(subject=f"RE : {subject}", mid="fr4@example.org"))
    done = wait_count(sink, 4)[3]
    assert "C'est fait : résumé quotidien de la liste annonces" in body_of(done.message)


def test_owner_mail_reaches_moderation(served) -> None:
    import mailgate.cli  # noqa: F401  (the composition root wires the owner handler)
    from mailgate.cli_commands import moderation_owner_handler
    from mailgate.commands.owner import owner_handler
    from mailgate.models import Message

    assert owner_handler() is moderation_owner_handler  # wired by `mailgate.cli`
    _cset, db, gw, sink = served
    boss = "boss@example.org"  # a moderator of the private list "secret"
    order = Mail(body="hide merger@example.org leaked", sender=boss,
                 to="secret-owner@lists.example.org", mid="mod1@example.org")  # fmt: skip
    send(gw, order)
    first = wait_count(sink, 2)  # moderation's answer and its confirmation request
    assert {r for m in first for r in m.recipients} == {boss}
    tokens = [confirm.find_token(str(m.message["Subject"])) for m in first]
    [token] = [t for t in tokens if t]
    send(gw, Mail(subject=f"Re: [{token}]", sender=boss, mid="mod2@example.org"))
    done = wait_count(sink, 3)[2]
    assert "Done: <merger@example.org> hidden" in body_of(done.message)
    query = select(Message.hidden).where(Message.message_id == "merger@example.org")
    with db.engine.connect() as conn:
        assert conn.scalar(query) is True


def test_erasure_confirmed_by_mail_is_compacted(served) -> None:
    """After the worker applies a mailed erasure, compaction runs: nothing is left pending and
    the erased text is in no SQLite file (database, WAL)."""
    import mailgate.cli  # noqa: F401  (wires the owner handler)
    from mailgate.moderation.compaction import _pending_ids

    _cset, db, gw, sink = served
    boss = "boss@example.org"
    send(gw, Mail(body="erase merger@example.org request", sender=boss,
                  to="secret-owner@lists.example.org", mid="er1@example.org"))  # fmt: skip
    tokens = [confirm.find_token(str(m.message["Subject"])) for m in wait_count(sink, 2)]
    [token] = [t for t in tokens if t]
    send(gw, Mail(subject=f"Re: [{token}]", sender=boss, mid="er2@example.org"))
    assert "Done:" in body_of(wait_count(sink, 3)[2].message)
    end = time.monotonic() + WAIT
    while _pending_ids(db):  # compaction follows the worker's run
        assert time.monotonic() < end, "the erasure was never compacted"
        time.sleep(POLL)
    if db.dialect == "sqlite":
        path = Path(str(db.engine.url.database))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                assert b"Confidential budget" not in file.read_bytes()
