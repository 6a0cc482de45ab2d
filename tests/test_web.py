"""The web archive over HTTP (Starlette's TestClient) on SQLite and PostgreSQL: every route,
404s for unknown things, merged-thread redirects, keyset pagination, languages and dates.
Private lists, hostile mail and obfuscation have their own modules (test_web_private.py,
test_web_hostile.py); the archive comes from tests/webarchive.py."""

from __future__ import annotations

import gzip
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest
from sqlalchemy import insert, select
from starlette.testclient import TestClient

from mailgate import links
from mailgate.models import Message, MessageList, ThreadRedirect
from tests.webarchive import LAB, OUTSIDE, WEIRD_MID, Site, site_factory, web_table
from web.app import create_app

ATOM = "{http://www.w3.org/2005/Atom}"
__all__ = ["site_factory"]  # the module-scoped archive fixture


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(site_factory, request: pytest.FixtureRequest) -> Site:
    return site_factory(request.param)


def hrefs(html: str, pattern: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(rf'href="({pattern})"', html)]


def first(html: str, pattern: str) -> str:
    found = hrefs(html, pattern)
    assert found, pattern
    return found[0]


def test_every_route_answers(site: Site) -> None:
    c = site.client()
    index = c.get("/")
    assert index.status_code == 200 and 'lang="fr"' in index.text
    assert 'href="/l/rse-pilotes/"' in index.text
    listing = c.get("/l/rse-pilotes/")
    assert listing.status_code == 200 and "<svg" in listing.text
    month = first(listing.text, r"/l/rse-pilotes/\d{4}/\d{2}/")
    assert c.get(month).status_code == 200
    mbox = c.get(month[:-1] + ".mbox.gz")
    assert mbox.status_code == 200 and mbox.headers["content-type"] == "application/gzip"
    assert gzip.decompress(mbox.content).startswith(b"From ")
    feed = ET.fromstring(c.get("/l/rse-pilotes/atom.xml").content)
    assert feed.tag == f"{ATOM}feed" and feed.findall(f"{ATOM}entry")
    thread = first(listing.text, r"/t/\d+/")
    for params in ("", "?view=flat", "?mono=1", "?view=flat&mono=1"):
        page = c.get(thread + params)
        assert page.status_code == 200 and "<article" in page.text
    assert c.get(thread + "atom.xml").status_code == 200
    assert gzip.decompress(c.get(thread + "thread.mbox.gz").content).count(b"\nFrom ") >= 1
    page = c.get(thread).text
    message = first(page, r"/m/[^\"/]+")
    assert c.get(message).status_code == 200
    raw = c.get(message + "/raw")
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/plain")
    assert gzip.decompress(c.get(message + "/t.mbox.gz").content).startswith(b"From ")
    person = first(page, r"/p/[0-9a-f]+/")
    assert c.get(person).status_code == 200
    assert c.get("/static/archive.css").status_code == 200
    assert c.get("/search").status_code == 200
    assert c.get("/login").status_code == 401


def test_security_headers_on_every_response(site: Site) -> None:
    c = site.client()
    for url in ("/", "/l/rse-pilotes/", "/l/nope/", "/static/archive.css", "/l/labo/atom.xml"):
        headers = c.get(url).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"


def test_unknown_things_are_404(site: Site) -> None:
    c = site.client()
    mid = links.mid_segment(WEIRD_MID)
    for url in (
        "/l/nope/",
        "/l/nope/atom.xml",
        "/t/987654321/",
        "/t/987654321/atom.xml",
        "/t/987654321/thread.mbox.gz",
        "/m/nope@nowhere.example",
        "/m/nope@nowhere.example/raw",
        f"/m/{mid}/a/99/x.bin",
        f"/m/{mid}/unknown",
        "/p/0000000000000000/",
        "/l/rse-pilotes/1999/01/",
        "/l/rse-pilotes/2025/13/",
        "/l/rse-pilotes/1999/01.mbox.gz",
        "/nothing/here",
    ):
        response = c.get(url)
        assert response.status_code == 404, url
        assert "<script" not in response.text


def test_message_id_with_slash_and_percent(site: Site) -> None:
    c = site.client()
    path = links.message_path(WEIRD_MID)
    assert "%2F" in path and "%25" in path and "%3F" in path and "%23" in path
    page = c.get(path)
    assert page.status_code == 200 and "Identifiant bizarre" in page.text
    assert links.mid_from_segment(path.removeprefix("/m/")) == WEIRD_MID
    assert f'href="{path}"' in page.text
    assert c.get(path + "/raw").status_code == 200


def test_archived_at_form(site: Site) -> None:
    assert links.message_url(site.settings, "a/b@c") == "http://archive.test/m/a%2Fb@c"
    assert links.archived_at(site.settings, "x@y") == "<http://archive.test/m/x@y>"
    assert links.thread_url(site.settings, 7) == "http://archive.test/t/7/"
    assert links.list_url(site.settings, "rse-pilotes") == "http://archive.test/l/rse-pilotes/"


def test_merged_thread_redirects(site: Site) -> None:
    c = site.client()
    thread = first(c.get("/l/rse-pilotes/").text, r"/t/\d+/")
    thread_id = int(thread.split("/")[2])
    with site.db.session() as session:
        session.execute(insert(ThreadRedirect).values(old_id=900001, new_id=thread_id))
    moved = c.get("/t/900001/?view=flat")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"/t/{thread_id}/?view=flat"
    assert c.get("/t/900001/thread.mbox.gz").status_code == 200


def test_list_pages_by_keyset(site: Site) -> None:
    web = web_table() | {"page_size": 2}
    settings = replace(site.settings, sections={"web": web})
    c = TestClient(create_app(settings, site.db), client=OUTSIDE)
    everything = hrefs(site.client().get("/l/innovation/").text, r"/t/\d+/")
    seen: list[str] = []
    url = "/l/innovation/"
    while url:
        page = c.get(url).text
        seen += hrefs(page, r"/t/\d+/")
        older = hrefs(page, r"/l/innovation/\?before=[^\"]+")
        url = older[0] if older else ""
    assert seen == everything and len(seen) > 2


def test_languages_and_time_zone(site: Site) -> None:
    c = site.client()
    path = links.message_path("hostile-1@attacker.example")
    fr = c.get(path)
    assert 'lang="fr"' in fr.text and "3 mars 2025 à 10:00" in fr.text
    assert fr.headers["content-language"] == "fr"
    en = c.get(path, headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in en.text and "Mar 3, 2025, 10:00" in en.text
    assert "Permalink" in en.text
    assert 'datetime="2025-03-03T10:00:00+01:00"' in en.text


def test_zones_fold_behind_details(site: Site) -> None:
    c = site.client()
    with site.db.reader() as session:
        pk = session.scalars(
            select(Message.id)
            .join(MessageList, MessageList.message_pk == Message.id)
            .where(Message.subject.like("RE%"), MessageList.list_id.isnot(None))
            .order_by(Message.id)
        ).first()
        mid = session.scalar(select(Message.message_id).where(Message.id == pk))
    page = c.get(links.message_path(mid)).text
    assert '<details class="zone z-quote"' in page or "z-signature" in page
    assert "<summary>" in page


def test_month_archive_and_chart(site: Site) -> None:
    c = site.client()
    listing = c.get(f"/l/{LAB}/").text
    assert 'role="img"' in listing and "<title" in listing
    month = c.get(f"/l/{LAB}/2025/03/")
    assert month.status_code == 200 and "Identifiant bizarre" in month.text
    assert c.get(f"/l/{LAB}/2025/03.mbox.gz").status_code == 200


def test_long_threads_continue_on_parts(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from web import views

    monkeypatch.setattr(views, "THREAD_PART", 2)
    c = site.client()
    threads = hrefs(c.get("/l/rse-pilotes/").text, r"/t/\d+/")
    thread = next(t for t in threads if c.get(t).text.count("<article") == 2)
    first_part = c.get(thread).text
    assert 'aria-current="page">1<' in first_part and "part=2" in first_part
    second = c.get(thread + "?part=2").text
    assert second.count("<article") >= 1 and 'aria-current="page">2<' in second
    assert re.findall(r'id="m\d+"', first_part) != re.findall(r'id="m\d+"', second)
    assert c.get(thread + "?part=99").text.count("<article") == 2


def test_search_page(site: Site) -> None:
    c = site.client()
    found = c.get("/search", params={"q": "climat"})
    assert found.status_code == 200 and "<mark>" in found.text
    assert 'href="/m/' in found.text
    for q in ("(", "after:2025-13", "-climat"):
        bad = c.get("/search", params={"q": q})
        assert bad.status_code == 400 and 'role="alert"' in bad.text, q
    assert "unclosed" in c.get("/search", params={"q": "("}).text
    cursor = c.get("/search", params={"q": "climat", "cursor": "not-a-cursor"})
    assert cursor.status_code == 400 and "<script" not in cursor.text
    empty = c.get("/search", params={"q": "zzzyxw"})
    assert empty.status_code == 200 and "Aucun résultat" in empty.text
