"""Shared pieces of the email-command tests: an archive with public and private lists, command
mail queued the way the gateway queues it, and the mail the worker queued in the outbox."""

from __future__ import annotations

from dataclasses import dataclass, replace
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage

from sqlalchemy import select

from mailgate import store
from mailgate.config import ListConfig, Settings
from mailgate.db import Database
from mailgate.models import Outbox
from mailgate.pipeline import Where, ingest, list_contexts
from mailgate.routing import classify, enqueue_command
from mailgate.store import utcnow
from tests.mailfactory import make_mail

ALICE = "alice@example.org"
BOB = "bob@example.org"
MALLORY = "mallory@evil.example"
BOT = "mailgate@lists.example.org"
SENDERS = {False: f"Alice Martin <{ALICE}>", True: f"Bob Durand <{BOB}>"}
LISTS = (
    ListConfig(name="dev", address="dev@lists.example.org", language="en"),
    ListConfig(name="annonces", address="annonces@lists.example.org", language="fr"),
    ListConfig(
        name="secret",
        address="secret@lists.example.org",
        visibility="private",
        language="en",
        readers=(ALICE,),
        moderators=("boss@example.org",),
    ),
)
ARCHIVE = (
    ("dev", "budget-1@example.org", "Budget planning 2025", "The budget for the servers.", None),
    ("dev", "budget-2@example.org", "Re: Budget planning 2025", "More budget talk.", "budget-1"),
    ("dev", "coffee@example.org", "Coffee machine", "The coffee machine is broken.", None),
    ("dev", "espresso@example.org", "Espresso tips", "Coffee grind and espresso pressure.", None),
    ("annonces", "reunion@example.org", "Réunion d'équipe", "La réunion budget est jeudi.", None),
    ("secret", "merger@example.org", "Merger budget", "Confidential budget of the merger.", None),
)


def header(value: str) -> str:
    """A header value as a mail program writes it (RFC 2047 words when not ASCII)."""
    return value if value.isascii() else Header(value, "utf-8").encode()


def command_settings(settings: Settings, **commands: object) -> Settings:
    sections = {**settings.sections, "commands": {"poll_seconds": 0.2, **commands}}
    return replace(settings, lists=LISTS, sections=sections, language="en")


def fill_archive(db: Database, settings: Settings) -> None:
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, store.sync_lists(conn, settings.lists))
        for minutes, (name, mid, subject, body, parent) in enumerate(ARCHIVE):
            raw = make_mail(
                mid,
                header(subject),
                sender=SENDERS["coffee" in body.lower()],
                to=f"{name}@lists.example.org",
                minutes=minutes,
                body=body,
                in_reply_to=f"{parent}@example.org" if parent else None,
            )
            ingest(conn, raw, contexts[name], Where(name, "test"))


def refresh_people(db: Database, settings: Settings) -> None:
    """Let the people API (when present) compute the profiles of the archive's senders."""
    from mailgate import people

    with db.engine.begin() as conn:
        ids = [people.person_for_address(conn, a) for a in (ALICE, BOB)]
        people.refresh_people(conn, settings, [i for i in ids if i is not None])


@dataclass
class Mail:
    """A command message as a user's mail program would write it."""

    subject: str = ""
    body: str = ""
    sender: str = ALICE
    to: str = BOT
    mid: str | None = "cmd-1@example.org"
    in_reply_to: str | None = None
    headers: dict[str, str] | None = None

    def raw(self) -> bytes:
        return make_mail(
            self.mid,
            header(self.subject),
            sender=self.sender,
            to=self.to,
            body=self.body,
            in_reply_to=self.in_reply_to,
            references=[self.in_reply_to] if self.in_reply_to else None,
            headers=self.headers,
        )


def queue(db: Database, settings: Settings, mail: Mail, mail_from: str | None = None) -> None:
    """Queue a command message as the gateway does (envelope sender as Return-Path)."""
    route = classify(settings, mail.to)
    assert route is not None and route.kind != "list"
    with db.engine.begin() as conn:
        envelope = mail.sender if mail_from is None else mail_from
        enqueue_command(conn, mail.raw(), route, utcnow(), envelope)


def outbox(db: Database) -> list[tuple[str, EmailMessage]]:
    """(recipients, parsed message) of everything queued for sending, oldest first."""
    t = Outbox.__table__
    with db.engine.connect() as conn:
        rows = conn.execute(select(t.c.recipients, t.c.data).order_by(t.c.id)).all()
    return [(r.recipients, message_from_bytes(r.data, policy=policy.default)) for r in rows]


def body_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()
