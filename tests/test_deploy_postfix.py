"""The deployment of deploy/postfix: a real Postfix hands the list domain to mailgate's LMTP
(transport map) and relays mailgate's outbound mail to the next hop (here an aiosmtpd sink)."""

from __future__ import annotations

import smtplib
import threading
import time
from dataclasses import replace
from email.message import EmailMessage

from sqlalchemy import select

from mailgate import outbound
from mailgate.models import Message
from tests.postfix import Postfix
from tests.services import LOOPBACK, START_TIMEOUT, GatewayThread, free_port

DOMAIN = "lists.example.org"
POLL_SECONDS = 0.05


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        threading.Event().wait(POLL_SECONDS)
    raise AssertionError(f"timed out waiting for {what}")


def _message(to: str, subject: str, mid: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Jeanne Martin <jeanne@example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = mid
    msg.set_content("Bonjour,\nle compte rendu est en pièce jointe.\n")
    return msg


def _lmtp_settings(settings):  # type: ignore[no-untyped-def]
    sections = {
        **settings.sections,
        "smtp": {"enabled": False, "lmtp": True, "lmtp_port": 0, "prepare_workers": 0},
        "web": {"enabled": False},
    }
    return replace(settings, sections=sections)


def test_postfix_delivers_list_mail_to_the_archive_over_lmtp(settings, db, sink) -> None:
    settings = _lmtp_settings(settings)
    _, relay_port = sink
    with GatewayThread(settings, db) as gateway:
        postfix = Postfix(lmtp_port=gateway.port("lmtp"), relay_port=relay_port, domain=DOMAIN)
        try:
            postfix.start()
            with smtplib.SMTP(LOOPBACK, postfix.port, timeout=START_TIMEOUT) as client:
                client.send_message(
                    _message(f"dev@{DOMAIN}", "Réunion de lundi", "<postfix-1@example.com>")
                )

            def archived() -> bool:
                with db.reader() as session:
                    return (
                        session.scalar(
                            select(Message.subject).where(
                                Message.message_id == "postfix-1@example.com"
                            )
                        )
                        is not None
                    )

            wait_for(archived, "the message in the archive")
            assert postfix.wait_log("status=sent"), postfix.log()[-2000:]
            assert "relay=127.0.0.1" in postfix.log()
        finally:
            postfix.close()


def test_outbound_mail_leaves_through_postfix(settings, db, sink) -> None:
    handler, relay_port = sink
    lmtp_port = free_port()  # nothing listens: no list mail in this test
    postfix = Postfix(lmtp_port=lmtp_port, relay_port=relay_port, domain=DOMAIN)
    try:
        postfix.start()
        settings = replace(
            settings,
            sections={**settings.sections, "relay": {"port": postfix.port, "timeout": 10}},
        )
        digest = outbound.build_message(
            settings,
            to="lecteur@example.com",
            subject="Résumé de la semaine",
            text="Trois fils actifs cette semaine.\n",
            html="<p>Trois fils actifs cette semaine.</p>",
        )
        with db.engine.begin() as conn:
            outbound.enqueue(conn, digest, kind="digest", dedupe_key="digest:lecteur:2024-W10")
        stats = outbound.deliver_due(db, settings)
        assert (stats.sent, stats.failed) == (1, 0)
        wait_for(lambda: handler.messages, "the digest at the next hop")
        mail_from, rcpts, data = handler.messages[0]
        assert rcpts == ["lecteur@example.com"]
        assert mail_from == f"mailgate@{DOMAIN}"
        assert str(digest["Message-ID"]).encode() in data
        assert b"Auto-Submitted: auto-generated" in data
        assert postfix.wait_log("status=sent"), postfix.log()[-2000:]
    finally:
        postfix.close()
