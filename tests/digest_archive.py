"""A small archive for the digest tests, with one reader whose digest exercises every rule.

Reader `reader@example.org` (daily at 08:00 Europe/Paris; window 2025-03-03 07:00 UTC to
2025-03-04 07:00 UTC):
- "Budget serveurs 2025" (dev): started by the reader yesterday, Bob replies today -> own thread;
- "Kubernetes migration" (dev): started by Carol, the reader answered yesterday, Dave answers
  the reader today -> a reply to the reader;
- "Hackathon planning" (dev): busy today (Erin, Frank, Grace), one of its messages hidden;
- "Imprimante bloquée" (dev): one message today, followed by the reader;
- "Bruit permanent" (dev): many messages today, muted by the reader;
- "Projet Orion confidentiel" (secret, readable by alice only): never in the reader's digest;
- "Kubernetes cluster upgrade" (annonces, 40 days old): related elsewhere for dev readers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from mailgate import prefs
from mailgate.config import ListConfig, Settings
from mailgate.db import Database
from mailgate.models import Message
from mailgate.pipeline import ListContext, Where, ingest
from tests.mailfactory import BASE_DATE, make_mail

READER = "reader@example.org"
NOW = datetime(2025, 3, 4, 7, 30)  # naive UTC: 08:30 in Paris, after the 08:00 digest
LISTS = (
    ListConfig(name="dev", address="dev@lists.example.org", language="en"),
    ListConfig(name="annonces", address="annonces@lists.example.org", language="fr"),
    ListConfig(
        name="secret",
        address="secret@lists.example.org",
        visibility="private",
        readers=("alice@example.org",),
    ),
)
HIDDEN_TEXT = "zzhiddenzz confidential remark"
SECRET_SUBJECT = "Projet Orion confidentiel"
PRINTER_SUBJECT = "=?utf-8?q?Imprimante_bloqu=C3=A9e?="  # "Imprimante bloquée"
SIGNATURE = "Dave Durand\nHead of Platform, ACME"


def person(name: str) -> str:
    return f"{name.title()} <{name}@example.org>"


@dataclass
class Archive:
    settings: Settings
    db: Database
    thread_ids: dict[str, int]


def _post(
    conn,
    contexts: dict[str, ListContext],
    list_name: str,
    mid: str,
    subject: str,
    sender: str,
    minutes: int,
    *,
    parent: str | None = None,
    body: str = "Hello,\n\nA message.\n",
) -> int:
    to = next(lst.address for lst in LISTS if lst.name == list_name)
    raw = make_mail(
        mid, subject, sender=sender, to=to, minutes=minutes, in_reply_to=parent,
        references=[parent] if parent else None, body=body,
    )  # fmt: skip
    arrival = (BASE_DATE + timedelta(minutes=minutes)).astimezone(UTC).replace(tzinfo=None)
    result = ingest(conn, raw, contexts[list_name], Where(list_name, "test", arrival))
    assert result.message_pk is not None, result
    return result.message_pk


def build(db: Database, settings: Settings, contexts: dict[str, ListContext]) -> Archive:
    """Ingest the messages; subscribe the reader (daily, all lists); follow and mute."""
    me = f"Reader <{READER}>"
    with db.engine.begin() as conn:
        post = lambda *a, **k: _post(conn, contexts, *a, **k)  # noqa: E731
        post("dev", "budget-1@x", "Budget serveurs 2025", me, -600)
        post("dev", "budget-2@x", "Re: Budget serveurs 2025", person("bob"), 60,
             parent="budget-1@x", body="Bob agrees with the server budget.\n")  # fmt: skip
        post("dev", "kube-1@x", "Kubernetes migration", person("carol"), -900)
        post("dev", "kube-2@x", "Re: Kubernetes migration", me, -500, parent="kube-1@x")
        reply = f"Good point about the ingress.\n\n> quoted line from reader\n\n-- \n{SIGNATURE}\n"
        post("dev", "kube-3@x", "Re: Kubernetes migration", person("dave"), 120,
             parent="kube-2@x", body=reply)  # fmt: skip
        post("dev", "hack-1@x", "Hackathon planning", person("erin"), 10)
        for n, who in enumerate(("frank", "grace", "erin", "frank"), start=2):
            post("dev", f"hack-{n}@x", "Re: Hackathon planning", person(who), 10 + n * 30,
                 parent=f"hack-{n - 1}@x", body=f"Hackathon idea {n}.\n")  # fmt: skip
        hidden = post("dev", "hack-9@x", "Re: Hackathon planning", person("mallory"), 400,
                      parent="hack-5@x", body=f"{HIDDEN_TEXT}\n")  # fmt: skip
        post("dev", "printer-1@x", PRINTER_SUBJECT, person("heidi"), 200)
        post("dev", "noise-1@x", "Bruit permanent", person("ivan"), 30)
        for n in range(2, 7):
            post("dev", f"noise-{n}@x", "Re: Bruit permanent", person("ivan"), 30 + n,
                 parent=f"noise-{n - 1}@x")  # fmt: skip
        post("secret", "orion-1@x", SECRET_SUBJECT, person("judy"), 300)
        post("annonces", "k8s-1@x", "Kubernetes cluster upgrade", person("ken"), -40 * 1440)
        conn.execute(update(Message).where(Message.id == hidden).values(hidden=True))
        tids = {
            mid: tid for mid, tid in conn.execute(select(Message.message_id, Message.thread_id))
        }
        prefs.set_digest(conn, READER, "daily", hour=8, timezone="Europe/Paris")
        prefs.set_thread_pref(conn, READER, tids["printer-1@x"], "follow")
        prefs.set_thread_pref(conn, READER, tids["noise-1@x"], "mute")
    return Archive(settings, db, tids)


def with_relay(settings: Settings, port: int, **digest: object) -> Settings:
    sections = {
        **settings.sections,
        "relay": {"host": "127.0.0.1", "port": port},
        "digest": {**settings.section("digest"), **digest},
    }
    return replace(settings, lists=LISTS, sections=sections)
