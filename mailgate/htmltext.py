"""HTML mail to plain text (pure): paragraphs, line breaks, lists and quotes kept readable.

Used by `mime` when a message has no text/plain part, so that HTML-only mail is searchable,
quotable and shown as text where HTML is not wanted. Scripts, styles and comments are dropped;
`<blockquote>` content is prefixed with "> " so the quote splitter recognises it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML_CHARS = 2_000_000
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "div",
        "dl",
        "dt",
        "dd",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tr",
        "ul",
    ]
)
SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.quote_depth = 0
        self.pre_depth = 0

    def _break(self) -> None:
        text = "".join(self.current)
        if not self.pre_depth:
            text = _SPACES.sub(" ", text).strip()
        self.lines.append("> " * self.quote_depth + text if text else "")
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self.skip_depth += 1
        elif tag == "br":
            self._break()
        elif tag == "blockquote":
            self._break()
            self.quote_depth += 1
        elif tag in BLOCK_TAGS:
            self._break()
            if tag == "li":
                self.current.append("- ")
            elif tag == "pre":
                self.pre_depth += 1
        elif tag in ("td", "th"):
            self.current.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == "blockquote":
            self._break()
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag in BLOCK_TAGS:
            self._break()
            if tag == "pre":
                self.pre_depth = max(0, self.pre_depth - 1)
            if tag == "p":
                self.lines.append("")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.current.append(data if self.pre_depth else data.replace("\n", " "))


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML document or fragment."""
    parser = _TextExtractor()
    try:
        parser.feed(html[:MAX_HTML_CHARS])
        parser.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read
        pass
    parser._break()
    text = "\n".join(parser.lines)
    return _BLANKS.sub("\n\n", text).strip("\n")
