"""The deployment of deploy/postfix: a real Postfix hands the list domain to mailgate's LMTP
(transport map) and relays mailgate's outbound mail to the next hop (here an aiosmtpd sink)."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from mailgate.models import Message
from tests.postfix import Postfix
from tests.services import LOOPBACK, START_TIMEOUT, GatewayThread, free_port

DOMAIN = "lists.example.org"
POLL_SECONDS = 0.05


class Sink:
    """An aiosmtpd handler keeping every message it is given (the relay's next hop)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname=LOOPBACK, port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


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
