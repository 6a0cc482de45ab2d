"""A small archive for the search tests: French and English messages on a public list, an
announcement list and a private one, a reply that only quotes a word, an attachment, a
cross-post, a hidden message, and dates spread over March and April 2025."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime

from sqlalchemy import text

from mailgate.access import ADMINISTRATOR, Viewer
from mailgate.pipeline import Where, ingest
from mailgate.search import SearchPage, search
from tests.mailfactory import BASE_DATE, make_mail

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
DAY = 24 * 60


def encoded(subject: str) -> str:
    """A header value as RFC 2047 encoded words when it is not ASCII."""
    return subject if subject.isascii() else Header(subject, "utf-8").encode()


def mail_with_attachment(mid: str, subject: str, filename: str, body: str, minutes: int) -> bytes:
    date = format_datetime(BASE_DATE + timedelta(minutes=minutes))
    return (
        "From: Alice Martin <alice@example.org>\n"
        "To: dev@lists.example.org\n"
        f"Subject: {subject}\nDate: {date}\nMessage-ID: <{mid}>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain; charset=utf-8\n\n"
        f"{body}\n"
        "--b1\nContent-Type: application/pdf\n"
        f'Content-Disposition: attachment; filename="{filename}"\n'
        "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b1--\n"
    ).encode()


MESSAGES = (
    (
        "dev",
        make_mail(
            "m1@t",
            encoded("Wifi du bâtiment B"),
            body="Bonjour,\n\nLe réseau wifi est lent depuis lundi. Qui peut regarder ?\n",
        ),
    ),
    (
        "dev",
        make_mail(
            "m2@t",
            encoded("Re: Wifi du bâtiment B"),
            sender="Bob Durand <bob.durand@example.org>",
            minutes=60,
            in_reply_to="m1@t",
            body="Je regarde le routeur cet après-midi.\n\n"
            "Le 3 mars 2025, Alice Martin a écrit :\n> Le réseau wifi est lent depuis lundi.\n",
        ),
    ),
    (
        "annonces",
        make_mail(
            "m3@t",
            "Quarterly budget review",
            sender="Carol White <carol@partner.example>",
            to="annonces@lists.example.org",
            minutes=120,
            headers={"Cc": "Alice Martin <alice@example.org>"},
            body="Hi all,\n\nThe meeting about the budget moves to Thursday. "
            "Please send your innovation proposals before then.\n",
        ),
    ),
    (
        "secret",
        make_mail(
            "m4@t",
            "Plan confidentiel",
            sender="Dana Roux <dana@example.org>",
            to="secret@lists.example.org",
            minutes=180,
            body="Le budget de la fusion reste confidentiel jusqu'en juin.\n",
        ),
    ),
    (
        "dev",
        mail_with_attachment(
            "m5@t",
            "Rapport annuel",
            "rapport-annuel-2024.pdf",
            "Voici le document en pièce jointe, avec les chiffres du réseau.",
            10 * DAY,
        ),
    ),
    (
        "dev",
        make_mail(
            "m6@t",
            "Collaboration inter-sites",
            sender="Bob Durand <bob.durand@example.org>",
            minutes=40 * DAY,
            body="Nous voulons collaborer davantage avec Toulouse : l'entreprise y gagne.\n",
        ),
    ),
    (
        "dev",
        make_mail(
            "m7@t",
            encoded("Message masqué"),
            minutes=50 * DAY,
            body="Ce message sur le réseau a été masqué par un modérateur.\n",
        ),
    ),
    (
        "secret",
        make_mail(
            "m8@t",
            "Annonce commune",
            sender="Dana Roux <dana@example.org>",
            to="dev@lists.example.org, secret@lists.example.org",
            minutes=45 * DAY,
            body="Une annonce commune aux deux listes sur le télétravail.\n",
        ),
    ),
)


def load(db, contexts) -> None:
    """Store the messages (m8 cross-posted to dev too) and hide m7."""
    with db.engine.begin() as conn:
        for list_name, raw in MESSAGES:
            ingest(conn, raw, contexts[list_name], Where(list_name, "test"))
        ingest(conn, MESSAGES[-1][1], contexts["dev"], Where("dev", "test"))
        conn.execute(
            text("UPDATE messages SET hidden = :yes WHERE message_id = 'm7@t'"), {"yes": True}
        )


def run(db, settings, q: str, viewer: Viewer = ADMINISTRATOR, **options) -> SearchPage:
    options.setdefault("now", NOW)
    with db.reader() as session:
        return search(session.connection(), settings, q, viewer=viewer, **options)


def ids(db, settings, q: str, viewer: Viewer = ADMINISTRATOR, **options) -> set[str]:
    return {hit.message_id for hit in run(db, settings, q, viewer, **options).hits}
