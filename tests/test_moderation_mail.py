"""Moderation by email on both backends: a moderator's command waits for the reply carrying
the token mailed to them (delivered through a real aiosmtpd relay on loopback); a forged From
or a stolen token cannot act; a non-moderator cannot act at all; an author can have their
own message erased; every step lands in the audit log."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from email.message import Message as MimeMessage

import pytest
from sqlalchemy import select

from mailgate import confirm, links
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.models import Confirmation, Message, Outbox
from mailgate.moderation.common import log_entries
from mailgate.moderation.mail import handle_owner_mail
from mailgate.outbox import deliver_due
from tests.mailfactory import make_mail
from tests.moderation_kit import MODERATOR, OTHER_MODERATOR, add, client
from tests.relay_sink import RelaySink
from tests.test_moderation import BOB, ctxs, mdb, msettings, small_thread

__all__ = ["ctxs", "mdb", "msettings"]
EVE = "eve@example.org"


@pytest.fixture
def sink():
    with RelaySink() as relay:
        yield relay


@pytest.fixture
def relayed(msettings: Settings, sink: RelaySink) -> Settings:
    return replace(msettings, sections={**msettings.sections, "relay": sink.relay_section()})


def mail(sender: str, body: str, subject: str = "moderation", **headers: str) -> MimeMessage:
    mid = {"Message-ID": f"<cmd-{abs(hash(body + sender))}@x>"}
    raw = make_mail(None, subject, sender=sender, to="dev-owner@lists.example.org", body=body,
                    headers={**mid, **headers})  # fmt: skip
    return email.message_from_bytes(raw, policy=email.policy.default)


def send(db: Database, settings: Settings, msg: MimeMessage, list_name: str | None = "dev") -> str:
    with db.engine.begin() as conn:
        return handle_owner_mail(conn, settings, msg, list_name)


def delivered_token(db: Database, settings: Settings, sink: RelaySink, to: str) -> str:
    """Send the outbox through the relay and read the token of the confirmation `to` got."""
    deliver_due(db, settings)
    got = sink.wait_for(lambda ms: any(to in m.recipients and "mg-" in str(m.message["Subject"])
                                       for m in ms))  # fmt: skip
    mine = [m for m in got if to in m.recipients and "mg-" in str(m.message["Subject"])]
    token = confirm.find_token(str(mine[-1].message["Subject"]))
    assert token
    return token


def replies_to(db: Database, address: str) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(Outbox.data).where(Outbox.recipients == address)).scalars()
        return [email.message_from_bytes(bytes(r), policy=email.policy.default)
                .get_body(("plain",)).get_content() for r in rows]  # fmt: skip


def hidden(db: Database, mid: str) -> bool:
    with db.engine.connect() as conn:
        return conn.execute(select(Message.hidden).where(Message.message_id == mid)).scalar()


def test_moderator_acts_after_confirming(mdb, relayed, ctxs, sink) -> None:  # type: ignore[no-untyped-def]
    small_thread(mdb, ctxs["dev"], "Hors sujet.\n")
    outcome = send(mdb, relayed, mail(MODERATOR, "reason: hors sujet\nhide <r2@x>\n\n-- \nMod\n"))
    assert outcome == "1 command(s) answered"
    assert not hidden(mdb, "r2@x")  # nothing yet: it waits for the token
    token = delivered_token(mdb, relayed, sink, MODERATOR)
    # someone else replying with the token (stolen, or a forged From with a guess) fails
    send(mdb, relayed, mail(EVE, "ok", subject=f"Re: Confirm [{token}]"))
    send(mdb, relayed, mail(MODERATOR, "ok", subject="Re: Confirm [mg-AAAAAAAAAAAAAAAAAAAAAAAA]"))
    assert not hidden(mdb, "r2@x")
    answer = send(mdb, relayed, mail(MODERATOR, "> quoted", subject=f"Re: Confirm [{token}]"))
    assert answer.startswith("confirmation applied")
    assert hidden(mdb, "r2@x")
    assert client(relayed, mdb).get(links.message_path("r2@x")).status_code == 404
    again = send(mdb, relayed, mail(MODERATOR, "again", subject=f"Re: [{token}]"))
    assert "already used" in again  # one time only
    with mdb.engine.connect() as conn:
        [entry] = log_entries(conn)
    assert (entry.actor, entry.action, entry.target, entry.reason) == (
        f"mail:{MODERATOR}",
        "hide",
        "r2@x",
        "hors sujet",
    )
    send(mdb, relayed, mail(MODERATOR, "log"))
    assert any("hide r2@x hors sujet" in text for text in replies_to(mdb, MODERATOR))


def test_forged_from_only_reaches_the_real_moderator(mdb, relayed, ctxs, sink) -> None:  # type: ignore[no-untyped-def]
    small_thread(mdb, ctxs["dev"], "Texte.\n")
    forged = mail(MODERATOR, "erase <r2@x>", Received="from evil.example by mx")
    send(mdb, relayed, forged)
    delivered_token(mdb, relayed, sink, MODERATOR)  # the token went to the moderator only
    assert all(EVE not in m.recipients for m in sink.messages)
    with mdb.engine.connect() as conn:
        assert conn.execute(select(Message.id).where(Message.message_id == "r2@x")).first()


def test_non_moderators_cannot_act_at_all(mdb, relayed, ctxs) -> None:  # type: ignore[no-untyped-def]
    small_thread(mdb, ctxs["dev"], "Texte.\n")
    for who, line in ((EVE, "hide <r2@x>"), (EVE, "ban spam@x.example"), (EVE, "log"),
                      (OTHER_MODERATOR, "erase <r2@x>"), (BOB, "hide <r2@x>")):  # fmt: skip
        send(mdb, relayed, mail(who, line))
        assert any("refused" in text for text in replies_to(mdb, who)), (who, line)
    with mdb.engine.connect() as conn:
        assert conn.execute(select(Confirmation.token)).first() is None
        assert not conn.execute(select(Message.hidden)).scalars().all().count(True)


def test_author_erases_own_message_by_mail(mdb, relayed, ctxs, sink) -> None:  # type: ignore[no-untyped-def]
    small_thread(mdb, ctxs["dev"], "Je regrette ce message.\n")
    send(mdb, relayed, mail(BOB, "remove <r1@x>"), list_name=None)  # not Bob's: refused
    assert any("only the author" in text for text in replies_to(mdb, BOB))
    send(mdb, relayed, mail(BOB, f"remove {links.message_url(relayed, 'r2@x')}"), list_name=None)
    token = delivered_token(mdb, relayed, sink, BOB)
    assert send(mdb, relayed, mail(BOB, "oui", subject=f"Re: [{token}]"), None).startswith(
        "confirmation applied"
    )
    with mdb.engine.connect() as conn:
        assert conn.execute(select(Message.id).where(Message.message_id == "r2@x")).first() is None
        [entry] = log_entries(conn)
    assert (entry.actor, entry.action) == (f"mail:{BOB}", "erase")


def test_automated_mail_is_ignored(mdb, relayed, ctxs) -> None:  # type: ignore[no-untyped-def]
    small_thread(mdb, ctxs["dev"], "Texte.\n")
    auto = mail(MODERATOR, "hide <r2@x>", **{"Auto-Submitted": "auto-replied"})
    assert send(mdb, relayed, auto).startswith("ignored")
    assert replies_to(mdb, MODERATOR) == []
    add(mdb, ctxs["dev"], make_mail("z@x", "Autre"))
