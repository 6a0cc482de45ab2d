"""SMTP and LMTP receivers through smtplib against the running gateway, on both backends:
accepted mail is archived (once per list), strangers get 550 5.1.1, oversize 552 5.3.4, our
own faults 451 4.3.0, LMTP answers per recipient, command addresses are queued, STARTTLS."""

from __future__ import annotations

import asyncio
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from mailgate import store
from mailgate.db import Database
from mailgate.ingest.smtp import GatewayHandler
from mailgate.models import CommandInbox, Message, MessageList, Quarantine
from tests.mailfactory import make_mail
from tests.services import LOOPBACK, GatewayThread

LIMIT = 20_000
SENDER = "alice@example.org"


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@pytest.fixture
def gw_settings(settings):
    smtp = {"port": 0, "lmtp": True, "lmtp_port": 0, "prepare_workers": 0}
    return replace(settings, max_message_bytes=LIMIT, sections={"smtp": smtp})


@pytest.fixture
def gateway(gw_settings, db: Database):
    with GatewayThread(gw_settings, db) as gw:
        yield gw


def send(port: int, raw: bytes, to: list[str]) -> dict:
    with smtplib.SMTP(LOOPBACK, port, timeout=30) as smtp:
        return smtp.sendmail(SENDER, to, crlf(raw))


def count(db: Database, model, *where) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_list_mail_is_archived_once_per_list(gateway, db: Database) -> None:
    port = gateway.port("smtp")
    assert send(port, make_mail("one@example.org", "Premier"), ["dev@lists.example.org"]) == {}
    assert count(db, Message, Message.message_id == "one@example.org") == 1
    cross = make_mail("two@example.org", "Cross-post", to="dev@lists.example.org")
    send(port, cross, ["dev@lists.example.org", "ANNONCES@lists.example.org"])
    assert count(db, Message, Message.message_id == "two@example.org") == 1
    with db.reader() as session:
        pk = session.scalar(select(Message.id).where(Message.message_id == "two@example.org"))
    assert count(db, MessageList, MessageList.message_pk == pk) == 2


def test_strangers_are_refused_and_nothing_is_relayed(gateway) -> None:
    raw = make_mail("three@example.org")
    for address in ("nobody@lists.example.org", "someone@elsewhere.example"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(gateway.port("smtp"), raw, [address])
        code, reply = refused.value.recipients[address]
        assert code == 550 and reply.startswith(b"5.1.1")


def test_oversize_mail_gets_552_5_3_4(gateway, db: Database) -> None:
    big = make_mail("big@example.org", body=("y" * 70 + "\n") * (LIMIT // 60))
    with pytest.raises(smtplib.SMTPSenderRefused) as declared:  # SIZE declared at MAIL
        send(gateway.port("smtp"), big, ["dev@lists.example.org"])
    assert declared.value.smtp_code == 552 and b"5.3.4" in declared.value.smtp_error
    with smtplib.SMTP(LOOPBACK, gateway.port("smtp"), timeout=30) as smtp:
        smtp.ehlo()
        assert smtp.mail(SENDER)[0] == 250  # no SIZE: found out during DATA
        assert smtp.rcpt("dev@lists.example.org")[0] == 250
        code, reply = smtp.data(crlf(big))
    assert code == 552 and reply.startswith(b"5.3.4")
    assert count(db, Message) == 0


def test_command_addresses_are_queued(gateway, db: Database) -> None:
    raw = make_mail("cmd@example.org", "subscribe", to="dev-request@lists.example.org")
    addresses = [
        "dev-request@lists.example.org",
        "secret-owner@lists.example.org",
        "mailgate@lists.example.org",
    ]
    send(gateway.port("smtp"), raw, addresses)
    with db.reader() as session:
        rows = session.execute(select(CommandInbox.kind, CommandInbox.list_name)).all()
    assert sorted(rows, key=str) == sorted(
        [("request", "dev"), ("owner", "secret"), ("bot", None)], key=str
    )
    assert count(db, Message) == 0


def test_unparseable_mail_is_kept_in_quarantine_and_acknowledged(gateway, db) -> None:
    assert send(gateway.port("smtp"), b"just some words\n", ["dev@lists.example.org"]) == {}
    assert count(db, Quarantine) == 1


def _lmtp_deliver(port: int, recipients: list[str], raw: bytes) -> list[tuple[int, bytes]]:
    """LHLO/MAIL/RCPT/DATA by hand: smtplib.LMTP reads only one reply after DATA."""
    with smtplib.LMTP(LOOPBACK, port) as lmtp:
        lmtp.ehlo_or_helo_if_needed()
        assert lmtp.mail(SENDER)[0] == 250
        accepted = [r for r in recipients if lmtp.rcpt(r)[0] == 250]
        assert lmtp.docmd("DATA")[0] == 354
        lmtp.send(re.sub(rb"(?m)^\.", b"..", crlf(raw)) + b".\r\n")
        return [lmtp.getreply() for _ in accepted]


def test_lmtp_answers_once_per_accepted_recipient(gateway, db: Database) -> None:
    recipients = [
        "dev@lists.example.org",
        "stranger@lists.example.org",
        "annonces@lists.example.org",
    ]
    replies = _lmtp_deliver(gateway.port("lmtp"), recipients, make_mail("lmtp@example.org"))
    assert [code for code, _ in replies] == [250, 250]
    assert b"dev@lists.example.org" in replies[0][1]
    assert b"annonces@lists.example.org" in replies[1][1]
    assert count(db, MessageList) == 2


def test_lmtp_oversize_answers_per_recipient(gateway) -> None:
    big = make_mail("lbig@example.org", body=("z" * 70 + "\n") * (LIMIT // 60))
    replies = _lmtp_deliver(
        gateway.port("lmtp"), ["dev@lists.example.org", "annonces@lists.example.org"], big
    )
    assert [(code, reply[:5]) for code, reply in replies] == [(552, b"5.3.4")] * 2


def test_our_faults_answer_451_and_the_retry_succeeds(gateway, db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE raw_messages RENAME TO raw_messages_away"))
    raw = make_mail("retry@example.org")
    with pytest.raises(smtplib.SMTPDataError) as failed:
        send(gateway.port("smtp"), raw, ["dev@lists.example.org"])
    assert failed.value.smtp_code == 451 and failed.value.smtp_error.startswith(b"4.3.0")
    replies = _lmtp_deliver(gateway.port("lmtp"), ["dev@lists.example.org"], raw)
    assert replies[0][0] == 451
    with db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE raw_messages_away RENAME TO raw_messages"))
    assert send(gateway.port("smtp"), raw, ["dev@lists.example.org"]) == {}
    assert count(db, Message, Message.message_id == "retry@example.org") == 1


def test_exception_hook_answers_a_temporary_failure(gw_settings, db: Database) -> None:
    handler = GatewayHandler(gw_settings, None, 10)  # type: ignore[arg-type]
    reply = asyncio.run(handler.handle_exception(RuntimeError("boom")))
    assert reply.startswith("451 4.3.0")


def test_concurrent_senders_are_all_archived(gateway, db: Database) -> None:
    port, senders, per_sender = gateway.port("smtp"), 6, 8
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            with smtplib.SMTP(LOOPBACK, port, timeout=30) as smtp:
                for i in range(per_sender):
                    raw = make_mail(f"c{n}-{i}@example.org", f"Message {n}/{i}")
                    smtp.sendmail(SENDER, ["dev@lists.example.org"], crlf(raw))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert count(db, Message) == senders * per_sender
    writer = gateway.services[0].handler.writer
    assert writer.committed_jobs == senders * per_sender


def _self_signed(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_starttls_is_offered_only_when_configured(gateway, gw_settings, db, tmp_path) -> None:
    with smtplib.SMTP(LOOPBACK, gateway.port("smtp"), timeout=30) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
    cert, key = _self_signed(tmp_path)
    smtp_section = {"port": 0, "tls_cert": str(cert), "tls_key": str(key), "require_starttls": True}
    tls_settings = replace(gw_settings, sections={"smtp": smtp_section})
    with GatewayThread(tls_settings, db) as tls_gateway:
        raw = make_mail("tls@example.org")
        with smtplib.SMTP(LOOPBACK, tls_gateway.port("smtp"), timeout=30) as smtp:
            smtp.ehlo()
            assert smtp.mail(SENDER)[0] == 530  # plain text refused when TLS is required
            smtp.rset()
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            smtp.starttls(context=context)
            assert smtp.sendmail(SENDER, ["dev@lists.example.org"], crlf(raw)) == {}
    assert count(db, Message, Message.message_id == "tls@example.org") == 1


def _raw_of(db: Database, mid: str) -> bytes:
    with db.reader() as session:
        raw_id = session.scalar(select(Message.raw_id).where(Message.message_id == mid))
        return store.raw_bytes(session.connection(), raw_id)


def test_data_is_kept_byte_for_byte(gateway, db: Database) -> None:
    body = ".leading dot\n..two dots\n.\nnot the end\n" + "long " * 400 + "\n\xe9t\xe9\n"
    raw = crlf(make_mail("bytes@example.org", body=body, charset="latin-1"))
    assert send(gateway.port("smtp"), raw, ["dev@lists.example.org"]) == {}
    assert _raw_of(db, "bytes@example.org") == raw  # dots unstuffed, long line kept


def test_commands_pipelined_after_data_are_answered(gateway, db: Database) -> None:
    raw = crlf(make_mail("pipe@example.org"))
    with socket.create_connection((LOOPBACK, gateway.port("smtp")), timeout=30) as sock:
        stream = sock.makefile("rb")
        stream.readline()
        sock.sendall(b"HELO client\r\nMAIL FROM:<a@example.org>\r\n")
        sock.sendall(b"RCPT TO:<dev@lists.example.org>\r\nDATA\r\n")
        replies = [stream.readline()[:3] for _ in range(4)]
        sock.sendall(raw + b".\r\nNOOP\r\nQUIT\r\n")  # NOOP sent before the 250 came
        replies += [stream.readline()[:3] for _ in range(3)]
    assert replies == [b"250", b"250", b"250", b"354", b"250", b"250", b"221"]
    assert count(db, Message, Message.message_id == "pipe@example.org") == 1
