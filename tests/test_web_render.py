"""Body rendering units (pure): zones folded, links, highlights, address obfuscation."""

from __future__ import annotations

from mailgate.archive_reads import BodyRow
from web.render import highlighted, linkify, obfuscate, render_text


def t(key: str) -> str:
    return key


def test_highlights_never_split_an_address_for_anonymous_readers() -> None:
    text = "Write to jean.dupont@groupe-exemple.example about the budget"
    start = text.index("jean")
    budget = text.index("budget")
    html = highlighted(text, [(start, start + 4), (budget, budget + 6)], hide=True)
    assert "groupe-exemple" not in html and "jean.dupont@…" in html
    assert "<mark>budget</mark>" in html and "<mark>jean" not in html
    shown = highlighted(text, [(start, start + 4)], hide=False)
    assert "<mark>jean</mark>.dupont@groupe-exemple.example" in shown


def test_highlights_escape_text() -> None:
    assert str(highlighted("<b>x</b>", [(3, 4)], hide=False)) == "&lt;b&gt;<mark>x</mark>&lt;/b&gt;"


def test_linkify_escapes_and_trims_punctuation() -> None:
    html = str(linkify('see https://a.example/x?y=1&z=2). <script>"'))
    assert '<a href="https://a.example/x?y=1&amp;z=2" rel="nofollow noopener noreferrer">' in html
    assert html.endswith("). &lt;script&gt;&#34;")


def test_zones_fold_quotes_and_signatures_apart() -> None:
    text = "Hello\n\n> quoted\n> more\n\n-- \nJean\n"
    zones = [["own", 0, 1], ["quote", 2, 4], ["signature", 5, 7]]
    html = str(render_text(BodyRow(text=text, zones=zones, html=None), t, hide_addresses=False))
    assert html.startswith('<div class="own">Hello</div>')
    assert '<details class="zone z-quote"><summary>quote (2 lines)</summary>' in html
    assert '<details class="zone z-signature">' in html


def test_bad_zones_still_show_every_line() -> None:
    text = "one\ntwo\nthree"
    for zones in ([["quote", 5, 2]], [["own", -3, 99]], [["x"]], "junk"):
        html = str(render_text(BodyRow(text=text, zones=zones, html=None), t, False))  # type: ignore[arg-type]
        assert all(word in html for word in ("one", "two", "three"))


def test_obfuscate() -> None:
    assert obfuscate("a.b+c@d-e.example.org, x@y") == "a.b+c@…, x@y"
