"""Outbound mail on both backends: well-formed messages, the outbox sent through a real aiosmtpd
relay on loopback (retry on 4xx, failure on 5xx, exactly one send with two concurrent workers),
loop protection, confirmations by reply, reader preferences and the `mailgate outbox` CLI."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailgate import confirm, prefs
from mailgate.cli import main
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.models import Outbox
from mailgate.outbound import build_message, enqueue, is_automated
from mailgate.outbox import deliver_due
from mailgate.store import utcnow
from tests.relay_sink import RelaySink

outbox_t = Outbox.__table__


@pytest.fixture
def sink():
    with RelaySink() as relay:
        yield relay


@pytest.fixture
def relayed(settings: Settings, sink: RelaySink) -> Settings:
    return replace(settings, sections={**settings.sections, "relay": sink.relay_section()})


def _queue(db: Database, settings: Settings, to: str, **kwargs) -> int | None:
    msg = build_message(settings, to=to, subject="Réunion à l'été", text="Café ? Élodie")
    with db.engine.begin() as conn:
        return enqueue(conn, msg, kind="notice", **kwargs)


def test_messages_are_well_formed(settings: Settings) -> None:
    msg = build_message(
        settings,
        to="élodie@example.org",
        subject="Résumé de la réunion",
        text="Voilà le compte rendu, à bientôt.",
        html="<p>Voilà le compte rendu</p>",
        in_reply_to="<a@x>",
        references=["<root@x>"],
        auto_reply=True,
        list_id="<dev.lists.example.org>",
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"].endswith("@lists.example.org>")
    assert parsed["Date"] and parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["References"] == "<root@x> <a@x>"
    assert parsed["Subject"] == "Résumé de la réunion"
    assert parsed.get_content_type() == "multipart/alternative"
    assert "Voilà" in parsed.get_body(("plain",)).get_content()
    assert "=?utf-8?" in msg.as_string().split("\n\n")[0].lower()  # header encoded for 7-bit


def test_outbox_sends_once(db: Database, relayed: Settings, sink: RelaySink) -> None:
    assert _queue(db, relayed, "bob@example.org", dedupe_key="k1") is not None
    assert _queue(db, relayed, "bob@example.org", dedupe_key="k1") is None
    stats = deliver_due(db, relayed)
    assert (stats.sent, stats.retried, stats.failed) == (1, 0, 0)
    assert deliver_due(db, relayed).sent == 0
    got = sink.wait_for(lambda m: len(m) == 1)
    assert got[0].recipients == ["bob@example.org"]
    assert got[0].message["Subject"] == "Réunion à l'été"


def test_4xx_is_retried_later_and_5xx_fails(
    db: Database, relayed: Settings, sink: RelaySink
) -> None:
    sink.answers["later@example.org"] = "451 4.3.0 try again"
    sink.answers["nobody@example.org"] = "550 5.1.1 no such user"
    _queue(db, relayed, "later@example.org")
    _queue(db, relayed, "nobody@example.org")
    stats = deliver_due(db, relayed)
    assert (stats.sent, stats.retried, stats.failed) == (0, 1, 1)
    with db.engine.connect() as conn:
        rows = {r.recipients: r for r in conn.execute(select(outbox_t))}
    assert rows["nobody@example.org"].failed_at is not None
    assert "550" in rows["nobody@example.org"].last_error
    assert rows["later@example.org"].next_attempt_at > utcnow()
    assert deliver_due(db, relayed).sent == 0  # not due yet
    del sink.answers["later@example.org"]
    later = utcnow() + timedelta(hours=1)
    assert deliver_due(db, relayed, now=later).sent == 1
    sink.wait_for(lambda m: [r.recipients for r in m] == [["later@example.org"]])


def test_unreachable_relay_keeps_mail(db: Database, settings: Settings) -> None:
    from tests.services import free_port

    down = replace(settings, sections={"relay": {"host": "127.0.0.1", "port": free_port()}})
    _queue(db, down, "bob@example.org")
    assert deliver_due(db, down).retried == 1
    with db.engine.connect() as conn:
        row = conn.execute(select(outbox_t)).one()
    assert row.sent_at is None and row.failed_at is None and "unreachable" in row.last_error


def test_two_workers_never_send_a_row_twice(
    db: Database, relayed: Settings, sink: RelaySink
) -> None:
    count = 40
    for i in range(count):
        _queue(db, relayed, f"reader{i}@example.org")
    results = []

    def work(name: str) -> None:
        total = 0
        while (stats := deliver_due(db, relayed, limit=3, worker=name)).sent:
            total += stats.sent
        results.append(total)

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sum(results) == count
    got = sink.wait_for(lambda m: len(m) >= count)
    assert sorted(r.recipients[0] for r in got) == sorted(
        f"reader{i}@example.org" for i in range(count)
    )


@pytest.mark.parametrize(
    ("headers", "envelope", "automated"),
    [
        ({"From": "a@example.org"}, None, False),
        ({"From": "a@example.org", "Auto-Submitted": "auto-replied"}, None, True),
        ({"From": "a@example.org", "Auto-Submitted": "no"}, None, False),
        ({"From": "a@example.org", "Precedence": "bulk"}, None, True),
        ({"From": "a@example.org", "List-Id": "<dev.example.org>"}, None, True),
        ({"From": "MAILER-DAEMON@example.org"}, None, True),
        ({"From": "a@example.org"}, "<>", True),
        ({"From": "a@example.org", "X-Mailgate-Origin": "x"}, None, True),
        ({"From": "a@example.org", "X-Autoreply": "yes"}, None, True),
    ],
)
def test_loop_protection(headers: dict[str, str], envelope: str | None, automated: bool) -> None:
    raw = "".join(f"{k}: {v}\n" for k, v in headers.items()) + "Subject: help\n\nhelp\n"
    msg = message_from_bytes(raw.encode(), policy=policy.default)
    assert is_automated(msg, envelope) is automated


def _remember(conn, settings, address, params):  # type: ignore[no-untyped-def]
    prefs.set_digest(conn, address, params["frequency"])
    return f"digest {params['frequency']}"


def test_confirmation_round_trip(db: Database, settings: Settings) -> None:
    confirm.register_action("test-digest", _remember)
    with db.engine.begin() as conn:
        token = confirm.request_confirmation(
            conn,
            settings,
            action="test-digest",
            address="Bob@Example.org",
            params={"frequency": "weekly"},
            summary="digest weekly",
            language="fr",
        )
        mail = conn.execute(select(outbox_t)).one()
    assert token in message_from_bytes(mail.data, policy=policy.default)["Subject"]
    assert confirm.find_token(f"RE: Confirmez : digest [{token}]") == token
    with db.engine.begin() as conn:
        forged = confirm.confirm(conn, settings, token, "mallory@example.org")
        assert not forged.ok and prefs.subscriptions_of(conn, "bob@example.org") == []
        done = confirm.confirm(conn, settings, token, "bob@example.org")
        assert done.ok and done.message == "digest weekly"
        assert prefs.subscriptions_of(conn, "bob@example.org")[0].frequency == "weekly"
        again = confirm.confirm(conn, settings, token, "bob@example.org")
        assert not again.ok and "already" in again.message


def test_find_token_keeps_a_trailing_dash() -> None:
    for token in ("mg-ZCKPrYoRuaef1TlFrR5gDag-", "mg-_abcdefghijklmnopqrstu_"):
        assert confirm.find_token(f"Re: Confirm: mute the thread [{token}]") == token
        assert confirm.find_token(f"{token}\n") == token


def test_expired_confirmation_does_nothing(db: Database, settings: Settings) -> None:
    confirm.register_action("test-digest", _remember)
    short = replace(settings, sections={"commands": {"confirm_hours": 0}})
    with db.engine.begin() as conn:
        token = confirm.request_confirmation(
            conn,
            short,
            action="test-digest",
            address="bob@example.org",
            params={"frequency": "daily"},
            summary="digest daily",
        )
    with db.engine.begin() as conn:
        result = confirm.confirm(conn, short, token, "bob@example.org")
        assert not result.ok and "expired" in result.message
        assert prefs.subscriptions_of(conn, "bob@example.org") == []


def test_preferences(db: Database) -> None:
    with db.engine.begin() as conn:
        sub = prefs.set_digest(conn, "Alice@Example.org", "daily", hour=7)
        assert (sub.address, sub.frequency, sub.hour, sub.list_name) == (
            "alice@example.org",
            "daily",
            7,
            "",
        )
        sub = prefs.set_digest(conn, "alice@example.org", "weekly", weekday=4)
        assert (sub.frequency, sub.weekday, sub.hour) == ("weekly", 4, 7)
        prefs.set_digest(conn, "alice@example.org", "daily", list_name="dev")
        assert len(list(prefs.all_subscriptions(conn))) == 2
        with pytest.raises(prefs.PrefsError, match="time zone"):
            prefs.set_digest(conn, "alice@example.org", "daily", timezone="Mars/Olympus")
        assert prefs.unsubscribe_token(conn, sub.token).frequency == "off"
        assert prefs.unsubscribe_token(conn, "nope") is None
        prefs.set_thread_pref(conn, "alice@example.org", 7, "mute")
        prefs.set_thread_pref(conn, "alice@example.org", 8, "follow")
        prefs.set_thread_pref(conn, "alice@example.org", 8, None)
        assert prefs.thread_prefs_of(conn, "ALICE@example.org") == {7: "mute"}


def test_outbox_cli(db: Database, relayed: Settings, sink: RelaySink, tmp_path: Path) -> None:
    sink.answers["nobody@example.org"] = "550 5.1.1 no such user"
    _queue(db, relayed, "bob@example.org")
    _queue(db, relayed, "nobody@example.org")
    config = tmp_path / "mailgate.toml"
    config.write_text(
        f'database_url = "{relayed.db_url}"\ndata_dir = "{relayed.data_dir}"\n'
        f'[relay]\nhost = "127.0.0.1"\nport = {sink.port}\n',
        encoding="utf-8",
    )
    sent = CliRunner().invoke(main, ["outbox", "send", "--config", str(config)])
    assert sent.exit_code == 1 and "sent 1" in sent.output and "failed 1" in sent.output
    status = CliRunner().invoke(main, ["outbox", "status", "--config", str(config)])
    assert status.exit_code == 0, status.output
    assert "sent 1, failed 1" in status.output and "550 5.1.1" in status.output
