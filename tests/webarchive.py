"""A test archive for the web tests: the French enterprise corpus (comite-direction private,
readable by alice), plus crafted messages: hostile HTML, attachments, a Message-ID with '/'
and '%', and a sender who posts only on the private list. Also the `[web]` table the tests use
(users alice and bob, proxy header trusted from 127.0.0.1)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from mailgate import store
from mailgate.bulk import import_messages
from mailgate.config import ListConfig, Settings
from mailgate.db import Database, open_database
from mailgate.ingest.mbox import read_archive
from mailgate.pipeline import Where, ingest, list_contexts
from tests.conftest import FRENCH, FRENCH_LISTS, _empty_postgres, make_settings
from web.app import create_app

OUTSIDE = ("203.0.113.7", 40000)  # a client address that is not a trusted proxy
DOMAIN = "listes.groupe-exemple.example"
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}
PRIVATE = "comite-direction"
LAB = "labo"
HOSTILE_MID = "hostile-1@attacker.example"
WEIRD_MID = "weird/id%20+x?y#z@host.example"
SECRET_SENDER = "cachee.secrete@groupe-exemple.example"
SECRET_SUBJECT = "Projet confidentiel Orion"
# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

HOSTILE_HTML = """<html><head><meta http-equiv="refresh" content="0;url=http://evil.example/">
<base href="http://evil.example/"><style>body{background:url(javascript:alert(1))}</style>
<script>alert('head')</script></head><body onload="alert('body')">
<p style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">overlay</p>
<div style="width: expression(alert('expr'))">expr</div>
<a href="javascript:alert('js')">js link</a>
<a href="JaVaScRiPt&colon;alert('js2')">js link 2</a>
<a href=" javascript:alert('js3')">js link 3</a>
<a href="http://ok.example/page" onclick="alert('click')">ok link</a>
<img src="http://tracker.example/pixel.gif" onerror="alert('img')">
<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">
<img src="cid:logo@x" alt="logo">
<svg><script>alert('svg')</script><circle onload="alert('circle')"/></svg>
<iframe src="http://evil.example/"></iframe>
<form action="http://evil.example/"><input name="x"></form>
<object data="x.swf"></object><embed src="x.swf">
<math><mi xlink:href="javascript:alert('math')">m</mi></math>
<a href="mailto:jean.secret@groupe-exemple.example">mail jean.secret@groupe-exemple.example</a>
<p>Contact: paul.durand@groupe-exemple.example</p>
</body></html>"""


def _hostile() -> bytes:
    b64 = base64.encodebytes(PNG).decode()
    evil = base64.encodebytes(b"<script>alert('attachment')</script>").decode()
    svg = base64.encodebytes(b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>")
    return f"""From: "<img src=x onerror=alert(1)>" <evil@attacker.example>
To: {LAB}@{DOMAIN}
Subject: <script>alert('subject')</script> hostile
Date: Mon, 03 Mar 2025 10:00:00 +0100
Message-ID: <{HOSTILE_MID}>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="MIX"

--MIX
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8

Hello <script>alert('text')</script> see http://ok.example/x and javascript:alert(1)
Write to paul.durand@groupe-exemple.example please.

--ALT
Content-Type: multipart/related; boundary="REL"

--REL
Content-Type: text/html; charset=utf-8

{HOSTILE_HTML}
--REL
Content-Type: image/png; name="logo.png"
Content-ID: <logo@x>
Content-Disposition: inline; filename="logo.png"
Content-Transfer-Encoding: base64

{b64}
--REL--
--ALT--
--MIX
Content-Type: text/html; name="evil.html"
Content-Disposition: attachment; filename="evil.html"
Content-Transfer-Encoding: base64

{evil}
--MIX
Content-Type: image/svg+xml; name="image.svg"
Content-Disposition: attachment; filename="image.svg"
Content-Transfer-Encoding: base64

{svg.decode()}
--MIX--
""".encode()


def _plain(mid: str, subject: str, sender: str, to: str, body: str, minutes: int = 0) -> bytes:
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\n"
        f"Date: Tue, 04 Mar 2025 1{minutes % 10}:00:00 +0100\nMessage-ID: <{mid}>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{body}\n"
    ).encode()


def _reply(mid: str, parent: str, subject: str, to: str, body: str) -> bytes:
    """A public reply to a private message (its thread's root subject must not leak)."""
    raw = _plain(mid, subject, "Paul <paul.durand@groupe-exemple.example>", to, body, 2)
    return raw.replace(b"MIME-Version", f"In-Reply-To: <{parent}>\nMIME-Version".encode(), 1)


CROSSPOST_MID = "crosspost-1@groupe-exemple.example"


def _crosspost(name: str) -> bytes:
    """One message sent to the private list and to labo: each copy has its list's headers."""
    raw = _plain(CROSSPOST_MID, "Annonce commune", "Paul <paul.durand@groupe-exemple.example>",
                 f"{PRIVATE}@{DOMAIN}, {LAB}@{DOMAIN}", "Pour les deux listes.", 3)  # fmt: skip
    return f"List-Id: <{name}.{DOMAIN}>\n".encode() + raw


def web_table() -> dict:
    from web.auth import (
        hash_password,
        verify_password,  # noqa: F401  (the web stack is a test dependency)
    )

    return {
        "trusted_proxies": ["127.0.0.1"],
        "proxy_user_header": "X-Remote-User",
        "users": {name: hash_password(pw) for name, pw in PASSWORDS.items()},
    }


def archive_settings(base: Settings, web: dict | None = None) -> Settings:
    lists = [
        ListConfig(
            name=n,
            address=f"{n}@{DOMAIN}",
            visibility="private" if n == PRIVATE else "public",
            readers=("alice",) if n == PRIVATE else (),
        )
        for n in FRENCH_LISTS
    ]
    lists.append(ListConfig(name=LAB, address=f"{LAB}@{DOMAIN}", description="Labo <b>tests</b>"))
    sections = dict(base.sections) | {"web": web if web is not None else web_table()}
    return replace(
        base, lists=tuple(lists), domain=DOMAIN, sections=sections, timezone="Europe/Paris"
    )


def build_archive(settings: Settings) -> Database:
    """Open the database of `settings` and import the test archive into it."""
    db = open_database(settings)
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, store.sync_lists(conn, settings.lists))
    for name in FRENCH_LISTS:
        items = ((m.raw, m.arrival) for m in read_archive(FRENCH / f"{name}.mbox"))
        import_messages(db, contexts[name], items, source="test", workers=1)
    crafted = [
        (LAB, _hostile()),
        (LAB, _plain(WEIRD_MID, "Identifiant bizarre (zoe@groupe-exemple.example)",
                     "Zoé <zoe@groupe-exemple.example>", f"{LAB}@{DOMAIN}",
                     "Un identifiant avec / et %.")),
        (PRIVATE, _plain("secret-1@groupe-exemple.example", SECRET_SUBJECT,
                         f"Cachée <{SECRET_SENDER}>", f"{PRIVATE}@{DOMAIN}",
                         "Orion reste entre nous.", 1)),
        (LAB, _reply("public-reply-1@groupe-exemple.example", "secret-1@groupe-exemple.example",
                     "Question publique", f"{LAB}@{DOMAIN}", "Une question sans secret.")),
        (PRIVATE, _crosspost(PRIVATE)),
        (LAB, _crosspost(LAB)),
    ]  # fmt: skip
    with db.engine.begin() as conn:
        for name, raw in crafted:
            result = ingest(conn, raw, contexts[name], Where(list_name=name, source="test"))
            assert result.outcome == "stored", result
    return db


@dataclass
class Site:
    settings: Settings
    db: Database
    app: Starlette

    def client(self, **kwargs) -> TestClient:  # type: ignore[no-untyped-def]
        return TestClient(self.app, client=OUTSIDE, follow_redirects=False, **kwargs)


@pytest.fixture(scope="module")
def site_factory(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """Builds the test archive once per backend for this module."""
    made: list[Database] = []

    def build(backend: str) -> Site:
        tmp: Path = tmp_path_factory.mktemp(f"web-{backend}")
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'data' / 'mailgate.db'}"
        else:
            url = request.getfixturevalue("pg_url")
            _empty_postgres(url)
        settings = archive_settings(make_settings(tmp, url, ()))
        db = build_archive(settings)
        made.append(db)
        return Site(settings, db, create_app(settings, db))

    yield build
    for db in made:
        db.dispose()
