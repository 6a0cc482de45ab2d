"""The command worker on both backends, through the command inbox and the outbox tables:
replies, private lists, confirmations (and forged requests), loops, retries, rate limit, the
owner address, French, and `mailgate commands run-once`."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailgate import confirm, prefs
from mailgate.cli import main
from mailgate.commands import owner
from mailgate.commands.worker import run_once
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.models import CommandInbox, Thread
from tests.commands_support import (
    ALICE,
    BOB,
    MALLORY,
    Mail,
    body_of,
    command_settings,
    fill_archive,
    outbox,
    queue,
)

inbox_t = CommandInbox.__table__


@pytest.fixture
def cset(settings: Settings) -> Settings:
    return command_settings(settings)


@pytest.fixture
def cdb(cset: Settings) -> Database:
    from mailgate.db import open_database

    database = open_database(cset)
    fill_archive(database, cset)
    yield database
    database.dispose()


def outcomes(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.scalars(select(inbox_t.c.outcome).order_by(inbox_t.c.id)))


def test_help_is_answered_to_the_sender_only(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject="help", headers={"Reply-To": MALLORY}))
    stats = run_once(cdb, cset)
    assert stats.counts == {"replied": 1}
    [(rcpt, msg)] = outbox(cdb)
    assert rcpt == ALICE and msg["To"] == ALICE
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<cmd-1@example.org>"
    assert msg["Subject"] == "Re: help"
    assert "search QUERY" in body_of(msg) and "who knows" in body_of(msg)
    assert outcomes(cdb) == ["replied: help"]


def test_search_shows_only_what_the_sender_may_read(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject="search budget", sender=BOB, mid="b@example.org"))
    queue(cdb, cset, Mail(subject="search budget", sender=ALICE, mid="a@example.org"))
    run_once(cdb, cset)
    (_, to_bob), (_, to_alice) = outbox(cdb)
    assert "Budget planning 2025" in body_of(to_bob)
    assert "http://archive.test/m/budget-2@example.org" in body_of(to_bob)  # best of its thread
    assert "Merger" not in body_of(to_bob) and "merger" not in to_bob.as_string()
    assert "Merger budget" in body_of(to_alice)
    html = to_alice.get_body(preferencelist=("html",)).get_content()
    assert '<a href="http://archive.test/m/merger@example.org">' in html


def test_search_mbox_attaches_the_top_threads(cdb, cset) -> None:
    queue(cdb, cset, Mail(body="search --mbox budget planning", sender=BOB))
    run_once(cdb, cset)
    [(_, msg)] = outbox(cdb)
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "search.mbox"
    data = attachment.get_content()
    data = data if isinstance(data, bytes) else data.encode()
    assert data.count(b"\nFrom ") + data.startswith(b"From ") == 2  # the two budget messages
    assert b"Message-ID: <budget-2@example.org>" in data and b"merger" not in data


def test_a_bad_query_gets_a_clear_answer(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject='search "unclosed'))
    run_once(cdb, cset)
    [(_, msg)] = outbox(cdb)
    assert "could not be understood" in body_of(msg)


def _confirmation(db: Database) -> tuple[str, object]:
    found = [(r, m) for r, m in outbox(db) if confirm.find_token(str(m["Subject"]))]
    assert len(found) == 1
    rcpt, msg = found[0]
    return rcpt, msg


def test_digest_takes_effect_only_after_the_confirmation(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject="digest weekly monday 8h dev"))
    assert run_once(cdb, cset).counts == {"confirmation": 1}
    rcpt, msg = _confirmation(cdb)
    assert rcpt == ALICE and len(outbox(cdb)) == 1  # the confirmation is the only answer
    assert str(msg["Subject"]).startswith(
        "Confirm: weekly digest of the list dev on Monday at 8:00"
    )
    with cdb.engine.connect() as conn:
        assert prefs.subscriptions_of(conn, ALICE) == []
    token = confirm.find_token(str(msg["Subject"]))
    reply = Mail(subject=f"Re: {msg['Subject']}", mid="yes@example.org", in_reply_to=None)
    queue(cdb, cset, reply)
    assert run_once(cdb, cset).counts == {"confirmed": 1}
    with cdb.engine.connect() as conn:
        [sub] = prefs.subscriptions_of(conn, ALICE)
    assert (sub.list_name, sub.frequency, sub.weekday, sub.hour) == ("dev", "weekly", 0, 8)
    assert "Done: weekly digest of the list dev" in body_of(outbox(cdb)[-1][1])
    queue(cdb, cset, Mail(subject=f"Re: [{token}]", mid="again@example.org"))
    run_once(cdb, cset)
    assert "already used" in body_of(outbox(cdb)[-1][1])


def test_a_forged_request_is_never_applied_without_the_token(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject="unsubscribe", sender=BOB, mid="forged@evil.example"))
    queue(cdb, cset, Mail(subject="subscribe", sender=BOB, mid="forged2@evil.example"))
    run_once(cdb, cset)
    recipients = {rcpt for rcpt, _ in outbox(cdb)}
    assert recipients == {BOB}  # the confirmations went to the real owner of the address
    tokens = [confirm.find_token(str(m["Subject"])) for _, m in outbox(cdb)]
    forged_token = "mg-" + "A" * 24
    queue(cdb, cset, Mail(subject=f"Re: confirm [{forged_token}]", sender=BOB, mid="g1@x"))
    for n, token in enumerate(tokens):  # the attacker has a token but not Bob's mailbox
        queue(cdb, cset, Mail(subject=f"Re: [{token}]", sender=MALLORY, mid=f"m{n}@x"))
    run_once(cdb, cset)
    with cdb.engine.connect() as conn:
        assert prefs.subscriptions_of(conn, BOB) == []
    refused = [body_of(m) for r, m in outbox(cdb)[2:]]
    assert len(refused) == 3 and all("Not done: unknown token" in b for b in refused)


def test_follow_by_reply_and_mute_by_permalink(cdb, cset) -> None:
    with cdb.engine.connect() as conn:
        budget = conn.scalar(select(Thread.id).where(Thread.subject.like("Budget%")))
        coffee = conn.scalar(select(Thread.id).where(Thread.subject == "Coffee machine"))
    queue(
        cdb,
        cset,
        Mail(subject="Re: Budget", body="follow\n\n> quoted", in_reply_to="budget-2@example.org"),
    )
    queue(cdb, cset, Mail(body=f"mute http://archive.test/t/{coffee}/", mid="c2@example.org"))
    run_once(cdb, cset)
    for _, msg in list(outbox(cdb)):
        queue(cdb, cset, Mail(subject=f"Re: {msg['Subject']}", mid=f"ok-{msg['Message-ID']}"))
    run_once(cdb, cset)
    with cdb.engine.connect() as conn:
        assert prefs.thread_prefs_of(conn, ALICE) == {budget: "follow", coffee: "mute"}


def test_a_private_thread_cannot_be_followed_by_an_outsider(cdb, cset) -> None:
    queue(cdb, cset, Mail(body="follow", in_reply_to="merger@example.org", sender=BOB))
    queue(cdb, cset, Mail(body="digest daily secret", sender=BOB, mid="d@example.org"))
    run_once(cdb, cset)
    texts = [body_of(m) for _, m in outbox(cdb)]
    assert "could not tell which thread" in texts[0]
    assert "no list named “secret” that you can read" in texts[1]
    assert all(not confirm.find_token(str(m["Subject"])) for _, m in outbox(cdb))


def test_loops_bounces_and_machines_are_never_answered(cdb, cset) -> None:
    cases = [
        (Mail(subject="help", mid="1@x", headers={"Auto-Submitted": "auto-replied"}), None),
        (Mail(subject="help", mid="2@x", headers={"Precedence": "bulk"}), None),
        (Mail(subject="help", mid="3@x", headers={"List-Id": "<other.example>"}), None),
        (Mail(subject="help", mid="4@x", headers={"X-Mailgate-Origin": "x"}), None),
        (Mail(subject="help", mid="5@x"), ""),  # a bounce: empty envelope sender
        (Mail(subject="help", mid="6@x", sender="dev-request@lists.example.org"), None),
        (Mail(subject="help", mid="7@x", sender="MAILER-DAEMON@mx.example.org"), None),
    ]
    for mail, envelope in cases:
        queue(cdb, cset, mail, envelope)
    stats = run_once(cdb, cset)
    assert stats.counts == {"ignored": len(cases)} and outbox(cdb) == []


def test_a_retried_delivery_is_answered_once(cdb, cset) -> None:
    for _ in range(3):
        queue(cdb, cset, Mail(subject="help"))
    assert run_once(cdb, cset).counts == {"replied": 1, "duplicate": 2}
    assert len(outbox(cdb)) == 1


def test_each_sender_is_rate_limited(settings, cdb) -> None:
    limited = command_settings(settings, rate_limit=2, rate_window_minutes=60)
    for n in range(5):
        queue(cdb, limited, Mail(subject="help", mid=f"r{n}@example.org"))
    queue(cdb, limited, Mail(subject="help", mid="other@example.org", sender=BOB))
    run_once(cdb, limited)
    to_alice = [m for r, m in outbox(cdb) if r == ALICE]
    assert len(to_alice) == 3 and "many commands" in body_of(to_alice[-1])
    assert [r for r, _ in outbox(cdb)].count(BOB) == 1
    assert outcomes(cdb)[2:5] == [
        "ignored: rate limit reached (sender told)",
        "ignored: rate limit",
        "ignored: rate limit",
    ]


def test_french_commands_get_french_replies(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject="aide", mid="f1@x"))
    queue(cdb, cset, Mail(body="Bonjour,\nrecherche réunion\nmerci", mid="f2@x"))
    queue(cdb, cset, Mail(subject="résumé hebdomadaire", mid="f3@x"))
    queue(cdb, cset, Mail(subject="help", to="annonces-request@lists.example.org", mid="f4@x"))
    run_once(cdb, cset)
    (_, aide), (_, search), (_, confirmation), (_, listfr) = outbox(cdb)
    assert "Commandes comprises" in body_of(aide)
    assert "Réunion d'équipe" in body_of(search) and "correspondent" in body_of(search)
    assert str(confirmation["Subject"]).startswith("Confirmez : résumé hebdomadaire de toutes")
    assert "Commandes comprises" in body_of(listfr)  # the list's language wins
    assert listfr["From"] == "annonces-request@lists.example.org"
    assert listfr["List-Id"] == "<annonces.lists.example.org>"


def _confirm_all(cdb, cset) -> None:  # type: ignore[no-untyped-def]
    run_once(cdb, cset)
    for n, (_, msg) in enumerate(outbox(cdb)):
        queue(cdb, cset, Mail(subject=f"Re: {msg['Subject']}", mid=f"yes-{n}@x"))
    run_once(cdb, cset)


def test_the_digest_is_written_in_the_language_the_reader_asked_in(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject="résumé quotidien dev", mid="l1@x"))  # dev is in English
    queue(cdb, cset, Mail(subject="subscribe annonces", mid="l2@x"))  # annonces is in French
    _confirm_all(cdb, cset)
    with cdb.engine.connect() as conn:
        found = {s.list_name: s.language for s in prefs.subscriptions_of(conn, ALICE)}
    assert found == {"dev": "fr", "annonces": "en"}
    queue(cdb, cset, Mail(subject="digest off dev", mid="l3@x"))  # no language of its own
    queue(cdb, cset, Mail(subject="digest daily dev", mid="l4@x"))
    _confirm_all(cdb, cset)
    with cdb.engine.connect() as conn:
        found = {s.list_name: s.language for s in prefs.subscriptions_of(conn, ALICE)}
    assert found == {"dev": "en", "annonces": "en"}


def test_nothing_understood_gets_help(cdb, cset) -> None:
    queue(cdb, cset, Mail(subject="Question", body="Could you add me please?"))
    run_once(cdb, cset)
    [(_, msg)] = outbox(cdb)
    assert "found no command" in body_of(msg) and "Could you add me" in body_of(msg)


@pytest.fixture
def no_owner_handler():
    """No moderation handler for the owner address during the test (restored after)."""
    saved = owner.owner_handler()
    owner.unregister_owner_handler()
    yield
    if saved is not None:
        owner.register_owner_handler(saved)
    else:
        owner.unregister_owner_handler()


def test_owner_mail_without_moderation_is_forwarded_or_refused(cdb, cset, no_owner_handler) -> None:
    queue(cdb, cset, Mail(subject="Please", to="secret-owner@lists.example.org", mid="o1@x"))
    queue(cdb, cset, Mail(subject="Please", to="dev-owner@lists.example.org", mid="o2@x"))
    run_once(cdb, cset)
    (fwd_to, forward), (_, told), (_, refused) = outbox(cdb)
    assert fwd_to == "boss@example.org" and forward["Reply-To"] == ALICE
    assert "forwarded to the moderators of the list secret" in body_of(told)
    assert "was not forwarded" in body_of(refused)


def test_owner_mail_goes_to_the_registered_handler(cdb, cset, no_owner_handler) -> None:
    seen = []
    owner.register_owner_handler(lambda conn, settings, req: seen.append(req.subject) or "held")
    queue(cdb, cset, Mail(subject="Later", to="dev-owner@lists.example.org", mid="o3@x"))
    run_once(cdb, cset)
    assert seen == ["Later"] and outcomes(cdb)[-1] == "moderation: held"
    assert outbox(cdb) == []


def test_an_internal_error_is_retried_then_reported(cdb, cset, monkeypatch) -> None:
    from mailgate.commands import worker

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(worker, "respond", broken)
    queue(cdb, cset, Mail(subject="help"))
    for _ in range(worker.MAX_ATTEMPTS - 1):
        assert run_once(cdb, cset).counts == {"retry": 1}
    assert run_once(cdb, cset).counts == {"failed": 1}
    [(_, msg)] = outbox(cdb)
    assert "internal error" in body_of(msg) and "disk" not in body_of(msg)
    assert outcomes(cdb) == ["failed: RuntimeError: disk on fire"]


def test_run_once_cli(cdb, cset, tmp_path) -> None:
    config = tmp_path / "mailgate.toml"
    url = cset.database_url.replace("\\", "/")
    config.write_text(
        f'database_url = "{url}"\ndomain = "lists.example.org"\n'
        '[[lists]]\nname = "dev"\n[relay]\nenabled = false\n'
    )
    queue(cdb, cset, Mail(subject="help"))
    result = CliRunner().invoke(
        main, ["commands", "run-once", "--no-send", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "replied 1" in result.output
    status = CliRunner().invoke(main, ["commands", "status", "--config", str(config)])
    assert "pending 0" in status.output and "replied: help" in status.output


def test_scrubbing_erased_content_removes_the_command_record(cdb, cset) -> None:
    from mailgate.models import CommandLog
    from mailgate.moderation.purge import scrub_copies

    queue(cdb, cset, Mail(subject="search merger leak", sender=BOB))
    run_once(cdb, cset)
    with cdb.engine.begin() as conn:
        counts = scrub_copies(conn, ["merger leak"])
        assert counts.command_mail_deleted == 1
        assert conn.scalar(select(CommandLog.sender)) is None
