"""Hostile mail renders inert (script tags, on* handlers, javascript: links, CSS tricks,
<meta refresh>, <base>, SVG with script, frames, forms), dangerous attachments download instead
of rendering, and addresses are obfuscated for anonymous readers but not for signed-in ones.
Both backends; the crafted messages come from tests/webarchive.py."""

from __future__ import annotations

import base64
import gzip
import re
import xml.etree.ElementTree as ET

import pytest

from mailgate import links
from tests.webarchive import HOSTILE_MID, LAB, PASSWORDS, WEIRD_MID, Site, site_factory

__all__ = ["site_factory"]
DANGEROUS = (
    r"<script",
    r"\son[a-z]+\s*=",
    r"javascript:",
    r"javascript&colon;",
    r"expression\(",
    r"style\s*=",
    r"<style",
    r"<meta\s+http-equiv",
    r"<base",
    r"<iframe",
    r"<object",
    r"<embed",
    r"<math",
    r"evil\.example",
    r"tracker\.example",
    r"data:image",
)
ATOM = "{http://www.w3.org/2005/Atom}"
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(site_factory, request: pytest.FixtureRequest) -> Site:
    return site_factory(request.param)


def alice() -> dict[str, str]:
    return {
        "Authorization": "Basic "
        + base64.b64encode(f"alice:{PASSWORDS['alice']}".encode()).decode()
    }


def html_body(page: str) -> str:
    start = page.index('<div class="html-body"')
    return page[start : page.index("</details>", start)]


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_hostile_html_is_inert(site: Site) -> None:
    page = site.client().get(links.message_path(HOSTILE_MID)).text
    body = html_body(page)
    for pattern in DANGEROUS:
        assert not re.search(pattern, body, re.I), pattern
    assert 'href="http://ok.example/page"' in body and 'rel="nofollow noopener noreferrer"' in body
    image = re.search(r'<img src="([^"]+)"', body)
    assert image and image.group(1).startswith(links.message_path(HOSTILE_MID) + "/a/")
    assert body.count("src=") == 1  # remote and data: images lose their source
    assert "<form" not in body and "<svg" not in body
    assert "overlay" in body and "js link" in body  # the text stays, the tricks go


def test_hostile_pages_have_no_script_anywhere(site: Site) -> None:
    c = site.client()
    message = c.get(links.message_path(HOSTILE_MID))
    thread = c.get(re.findall(r'href="(/t/\d+/)', message.text)[0])
    feed = c.get("/l/labo/atom.xml")
    for response in (message, thread, feed):
        assert "<script" not in response.text
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", response.text, re.I)
        assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in response.text or (
            "&lt;script&gt;alert('subject')&lt;/script&gt;" in response.text
        )
    assert "&lt;img src=x onerror=alert(1)&gt;" in thread.text


def test_dangerous_attachments_download(site: Site) -> None:
    c = site.client()
    page = c.get(links.message_path(HOSTILE_MID)).text
    urls = {
        name: url for url, name in re.findall(r'<a href="([^"]+/a/\d+/[^"]*)">([^<]+)</a>', page)
    }
    assert {"evil.html", "image.svg", "logo.png"} <= set(urls)
    for name in ("evil.html", "image.svg"):
        response = c.get(urls[name].replace("&amp;", "&"))
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert "sandbox" in response.headers["content-security-policy"]
    logo = c.get(urls["logo.png"])
    assert logo.headers["content-type"] == "image/png" and logo.content.startswith(b"\x89PNG")


def test_addresses_obfuscated_for_anonymous_readers(site: Site) -> None:
    anonymous = site.client()
    signed_in = site.client(headers=alice())
    path = links.message_path(HOSTILE_MID)
    page = anonymous.get(path).text
    assert not ADDRESS.search(visible_text(page)), ADDRESS.search(visible_text(page))
    assert "paul.durand@…" in page and "mailto:" not in page
    assert "paul.durand@groupe-exemple.example" in signed_in.get(path).text
    thread = re.findall(r'href="(/t/\d+/)', page)[0]
    assert not ADDRESS.search(visible_text(anonymous.get(thread).text))
    feed = ET.fromstring(anonymous.get("/l/labo/atom.xml").content)
    for tag in ("author", "content", "title"):
        for element in feed.iter(f"{ATOM}{tag}"):
            assert not ADDRESS.search("".join(element.itertext())), tag
    raw = anonymous.get(path + "/raw").text
    assert "evil@..." in raw and f"Message-ID: <{HOSTILE_MID}>" in raw
    assert "paul.durand@groupe-exemple.example" not in raw
    assert "paul.durand@groupe-exemple.example" in signed_in.get(path + "/raw").text
    mbox = gzip.decompress(anonymous.get(path + "/t.mbox.gz").content).decode()
    assert "evil@attacker.example" not in mbox and HOSTILE_MID in mbox
    person = re.findall(r'href="(/p/[0-9a-f]+/)"', page)[0]
    assert not ADDRESS.search(visible_text(anonymous.get(person).text))


def test_french_thread_obfuscated_for_anonymous(site: Site) -> None:
    c = site.client()
    listing = c.get("/l/support-informatique/").text
    for thread in re.findall(r'href="(/t/\d+/)"', listing)[:4]:
        text = visible_text(c.get(thread).text)
        assert not ADDRESS.search(text), ADDRESS.search(text)


def test_addresses_in_subjects_obfuscated_for_anonymous(site: Site) -> None:
    anonymous, signed_in = site.client(), site.client(headers=alice())
    path = links.message_path(WEIRD_MID)
    for url in (path, f"/l/{LAB}/", f"/l/{LAB}/2025/03/", f"/l/{LAB}/atom.xml"):
        text = anonymous.get(url).text
        assert "zoe@groupe-exemple.example" not in text, url
    assert "Identifiant bizarre (zoe@…)" in anonymous.get(path).text
    assert "zoe@groupe-exemple.example" in signed_in.get(path).text
