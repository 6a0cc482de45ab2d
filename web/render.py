"""Message bodies as safe HTML: zones folded, links made clickable, addresses obfuscated.

Text bodies are escaped and laid out by their zones (`bodies.zones`: [kind, start, end] over
the text's lines): the author's own text is shown, quotes, attributions, signatures,
disclaimers and list footers are folded in `<details>` (works without JavaScript), forwarded
messages are shown open. HTML bodies go through nh3 with a short allow-list: no scripts, no
event handlers, no style, no forms or frames, only http(s)/mailto links, and images only from
the message's own attachments (cid:), never remote. For anonymous readers addresses become
`local@…`. Rendered bodies are cached by content. Called by `web.views` and `web.feeds`.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import nh3
from markupsafe import Markup, escape

from mailgate.archive_reads import AttachmentRow, BodyRow, MessageRow

CACHE_ENTRIES = 20_000
FOLDED = frozenset({"quote", "attribution", "signature", "disclaimer", "footer"})
OPEN = frozenset({"fwd-header", "forwarded"})
LABEL_ORDER = ("quote", "forwarded", "signature", "disclaimer", "footer", "attribution")
_ADDRESS = re.compile(r"([\w.!#$%&'*+/=?^`{|}~-]+)@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_TAGS = re.compile(r"(<[^>]*>)")
_URL = re.compile(r"https?://[^\s<>\"']+", re.I)
_URL_TRAILING = ".,;:!?)]}'\""
_PATCH = re.compile(r"^(?:diff --git |--- a/|\+\+\+ b/|@@ -\d)", re.M)

HTML_TAGS = frozenset(
    [
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    ]
)
HTML_ATTRIBUTES = {
    "*": {"lang", "dir", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "title", "noscript", "template", "svg", "math"}
)


def obfuscate(text: str) -> str:
    """`jean.dupont@groupe-exemple.example` -> `jean.dupont@…`."""
    return _ADDRESS.sub(r"\1@…", text)


def show_address(address: str, hide: bool) -> str:
    return obfuscate(address) if hide else address


def sender_label(row: MessageRow, hide: bool) -> str:
    """How a message's sender is shown: the name, else the (maybe obfuscated) address."""
    if row.from_name and row.from_name != row.from_addr:
        return show_address(row.from_name, hide)
    return show_address(row.from_addr, hide) or "?"


def highlighted(text: str, highlights: Sequence[tuple[int, int]], hide: bool) -> Markup:
    """Escaped text with `<mark>` around the highlighted spans; for anonymous readers
    addresses are obfuscated whole (a highlight inside an address is dropped, not split)."""
    spans = [m.span() for m in _ADDRESS.finditer(text)] if hide else []
    keep = sorted(
        (start, end)
        for start, end in highlights
        if 0 <= start < end <= len(text) and not any(a < end and start < b for a, b in spans)
    )
    out, position = [], 0
    for start, end in keep:
        if start < position:
            continue
        plain, marked = text[position:start], text[start:end]
        out.append(str(escape(obfuscate(plain) if hide else plain)))
        out.append(f"<mark>{escape(obfuscate(marked) if hide else marked)}</mark>")
        position = end
    rest = text[position:]
    out.append(str(escape(obfuscate(rest) if hide else rest)))
    return Markup("".join(out))


def is_patch(text: str) -> bool:
    """Whether a body looks like a patch or diff (shown in a monospace font)."""
    return _PATCH.search(text) is not None


def linkify(text: str) -> Markup:
    """Escape text and turn http(s) URLs into links."""
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILING)
        end = match.start() + len(url)
        out.append(str(escape(text[pos : match.start()])))
        out.append(f'<a href="{escape(url)}" rel="nofollow noopener noreferrer">{escape(url)}</a>')
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def _segments(lines: list[str], zones: list[list]) -> list[tuple[str, int, int]]:
    """(kind, start, end) covering every line, zone gaps marked 'gap'."""
    valid = sorted(
        (int(z[1]), int(z[2]), str(z[0]))
        for z in zones
        if isinstance(z, list) and len(z) == 3 and isinstance(z[1], int) and isinstance(z[2], int)
    )
    segments: list[tuple[str, int, int]] = []
    pos = 0
    for start, end, kind in valid:
        start, end = max(start, pos), min(end, len(lines))
        if end <= start:
            continue
        if start > pos:
            segments.append(("gap", pos, start))
        segments.append((kind, start, end))
        pos = end
    if pos < len(lines):
        segments.append(("gap", pos, len(lines)))
    return segments


def _group(kind: str) -> str:
    """Zones shown together: own text; quotes with their attribution; signature-like tails;
    forwarded text (shown open)."""
    if kind in ("quote", "attribution"):
        return "folded-quote"
    if kind in FOLDED:
        return "folded-tail"
    return "open" if kind in OPEN else "own"


def _blocks(lines: list[str], zones: list[list]) -> list[tuple[str, list[str]]]:
    """Group segments into shown blocks: ('own', lines), ('folded:<kind>', lines), ('open:..')."""
    blocks: list[tuple[str, set[str], list[str]]] = []
    for kind, start, end in _segments(lines, zones):
        chunk = lines[start:end]
        blank = not any(line.strip() for line in chunk)
        if kind == "gap" and blank:
            if blocks:
                blocks[-1][2].extend(chunk)  # separator lines stay with the block before
            continue
        group = _group(kind)
        if blocks and blocks[-1][0] == group:
            blocks[-1][1].add(kind)
            blocks[-1][2].extend(chunk)
        else:
            blocks.append((group, {kind}, list(chunk)))
    result = []
    for group, kinds, chunk in blocks:
        while chunk and not chunk[-1].strip():
            chunk.pop()
        while chunk and not chunk[0].strip():
            chunk.pop(0)
        if chunk:
            label = next((k for k in LABEL_ORDER if k in kinds), "quote")
            state = "open" if group == "open" else "folded"
            result.append(("own" if group == "own" else f"{state}:{label}", chunk))
    return result


def render_text(body: BodyRow, t: Callable[[str], str], hide_addresses: bool) -> Markup:
    """The text body with its zones; quotes and signatures folded behind `<details>`."""
    text = obfuscate(body.text) if hide_addresses else body.text
    lines = text.split("\n")
    parts: list[str] = []
    for group, chunk in _blocks(lines, body.zones or [["own", 0, len(lines)]]):
        html = linkify("\n".join(chunk))
        if group == "own":
            parts.append(f'<div class="own">{html}</div>')
            continue
        state, kind = group.split(":", 1)
        summary = f"{escape(t(kind))} ({len(chunk)} {escape(t('lines'))})"
        opened = " open" if state == "open" else ""
        parts.append(
            f'<details class="zone z-{kind}"{opened}><summary>{summary}</summary>'
            f'<div class="quoted">{html}</div></details>'
        )
    return Markup("".join(parts))


def sanitize_html(html: str, cid_urls: dict[str, str], hide_addresses: bool) -> Markup:
    """Sanitized HTML of a message: allow-listed tags, no remote images, cid: from attachments."""

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            if value.lower().startswith("cid:"):
                return cid_urls.get(value[4:].strip("<> "))
            return None  # remote and data: images are never loaded
        if attr == "href" and value.lower().startswith("cid:"):
            return None
        if hide_addresses and attr == "href" and value.lower().startswith("mailto:"):
            return None
        return obfuscate(value) if hide_addresses else value

    clean = nh3.clean(
        html,
        tags=set(HTML_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in HTML_ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    if hide_addresses:  # text between tags; attributes were handled by the filter
        clean = "".join(
            piece if piece.startswith("<") else obfuscate(piece) for piece in _TAGS.split(clean)
        )
    return Markup(clean)


def cid_urls(attachments: list[AttachmentRow], url_for: Callable[[AttachmentRow], str]) -> dict:
    """Content-ID -> attachment URL for the images an HTML body embeds."""
    return {a.content_id.strip("<> "): url_for(a) for a in attachments if a.content_id}


class BodyCache:
    """Rendered text bodies by (message, content digest, obfuscation, language): a changed body
    (redaction, rebuild) has another digest, so the cache never serves stale text."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def render(
        self, pk: int, body: BodyRow, t: Callable[[str], str], lang: str, hide: bool
    ) -> Markup:
        digest = hashlib.blake2b(
            body.text.encode("utf-8", "surrogatepass") + repr(body.zones).encode(), digest_size=16
        ).digest()
        key = (pk, digest, hide, lang)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        rendered = render_text(body, t, hide)
        with self._lock:
            self._items[key] = rendered
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return rendered
