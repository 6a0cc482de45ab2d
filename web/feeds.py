"""Atom feeds (RFC 4287) of a list's newest messages and of a thread's newest messages.

Entry ids and links are the permanent message URLs (`mailgate.links.message_url`); content is
the message text (plain, shortened), with addresses obfuscated for anonymous readers exactly
as on the pages. A private list's feed needs the same credentials as its pages and is a 404
otherwise. The XML is streamed entry by entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mailgate import archive_reads as reads
from mailgate import links
from mailgate.archive_reads import MessageRow
from mailgate.threadview import resolve_thread_id
from web.render import obfuscate, show_address
from web.state import Page, not_found, reading

FEED_TEXT_CHARS = 4_000
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    return escape(_XML_INVALID.sub("", text))


def _entries(p: Page, conn: Connection, rows: list[MessageRow]) -> list[str]:
    settings = p.state.settings
    bodies = reads.bodies(conn, [row.pk for row in rows])
    out = []
    for row in rows:
        body = bodies.get(row.pk)
        text = body.text[:FEED_TEXT_CHARS] if body else row.snippet
        if p.hide:
            text = obfuscate(text)
        url = links.message_url(settings, row.message_id)
        name = row.from_name if row.from_name and row.from_name != row.from_addr else row.from_addr
        out.append(
            f"<entry><id>{_x(url)}</id><title>{_x(show_address(row.subject, p.hide))}</title>"
            f"<updated>{p.t.iso(row.date)}</updated>"
            f"<author><name>{_x(show_address(name, p.hide))}</name></author>"
            f'<link rel="alternate" type="text/html" href={quoteattr(url)}/>'
            f'<content type="text" xml:lang={quoteattr(row.language)}>{_x(text)}</content>'
            "</entry>\n"
        )
    return out


def _feed(
    p: Page, title: str, page_url: str, feed_url: str, entries: list[str], updated: str
) -> Response:
    def stream() -> Iterator[str]:
        yield '<?xml version="1.0" encoding="utf-8"?>\n'
        yield f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{p.t.language}">\n'
        title_text = _x(show_address(title, p.hide))
        yield f"<id>{_x(page_url)}</id><title>{title_text}</title><updated>{updated}</updated>\n"
        yield f'<link rel="self" href={quoteattr(feed_url)}/>'
        yield f'<link rel="alternate" href={quoteattr(page_url)}/>\n'
        yield from entries
        yield "</feed>\n"

    return StreamingResponse(
        stream(),
        media_type="application/atom+xml; charset=utf-8",
        headers={"cache-control": "private, no-cache", "vary": "Authorization"},
    )


@reading
def list_feed(request: Request, p: Page, conn: Connection) -> Response:
    name = request.path_params["name"]
    lid = p.visible_list(name)
    if lid is None:
        raise not_found()
    rows = reads.latest_list_messages(conn, lid, p.state.web.feed_entries)
    settings = p.state.settings
    updated = p.t.iso(rows[0].date) if rows else "1970-01-01T00:00:00+00:00"
    return _feed(
        p,
        name,
        links.list_url(settings, name),
        links.absolute(settings, links.list_feed_path(name)),
        _entries(p, conn, rows),
        updated,
    )


@reading
def thread_feed(request: Request, p: Page, conn: Connection) -> Response:
    thread_id = resolve_thread_id(conn, request.path_params["thread_id"])
    rows = (
        [row for row, _d in reads.thread_messages(conn, thread_id, p.list_ids)] if thread_id else []
    )
    if not rows or thread_id is None:
        raise not_found()
    rows.sort(key=lambda row: (row.date, row.pk), reverse=True)
    rows = rows[: p.state.web.feed_entries]
    settings = p.state.settings
    return _feed(
        p,
        min(rows, key=lambda row: (row.date, row.pk)).subject,
        links.thread_url(settings, thread_id),
        links.absolute(settings, links.thread_feed_path(thread_id)),
        _entries(p, conn, rows),
        p.t.iso(rows[0].date),
    )
