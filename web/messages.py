"""Messages: the permalink page `/m/<message-id>`, its raw source, its thread's mbox, its
attachments, and the per-message items that thread pages show.

The Message-ID is read from the undecoded path (`web.urls.message_route`). Attachments are cut
from the raw message by their stored MIME position (`mailgate.mime.part_at`); only images and
plain text are shown inline, everything else downloads, and every attachment answer carries a
sandboxing CSP. Called by `web.views`.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from mailgate import archive_reads as reads
from mailgate import mbox_export, mime
from mailgate.archive_reads import AttachmentRow, BodyRow, MessageRow
from web import exports
from web.render import cid_urls, is_patch, sanitize_html, sender_label, show_address
from web.state import Page, not_found, page, state_of
from web.urls import message_route

MAX_INDENT = 12
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
SIZE_UNITS = ("B", "KB", "MB", "GB")


@dataclass
class Item:
    """One message as a thread or message page shows it."""

    row: MessageRow
    depth: int
    body: Markup
    mono: bool
    attachments: list[dict]
    parent_pk: int | None
    sender: str
    person_url: str


def human_size(size: int) -> str:
    value = float(size)
    for unit in SIZE_UNITS:
        if value < 1024 or unit == SIZE_UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _attachments(p: Page, row: MessageRow, atts: list[AttachmentRow]) -> list[dict]:
    return [
        {
            "name": a.filename or f"part-{a.position}",
            "url": p.urls.attachment(row.message_id, a.position, a.filename),
            "size": human_size(a.size),
            "type": a.content_type,
        }
        for a in atts
        if a.filename or not a.inline
    ]


def message_items(
    p: Page,
    conn: Connection,
    rows: list[tuple[MessageRow, int]],
    bodies: dict[int, BodyRow] | None = None,
    atts: dict[int, list[AttachmentRow]] | None = None,
) -> list[Item]:
    """Rendered items (bodies from the cache when unchanged) for messages in display order."""
    pks = [row.pk for row, _depth in rows]
    bodies = reads.bodies(conn, pks) if bodies is None else bodies
    atts = reads.attachments(conn, pks) if atts is None else atts
    pk_by_mid = {row.message_id: row.pk for row, _depth in rows}
    empty = BodyRow(text="", zones=[], html=None)
    items = []
    for row, depth in rows:
        body = bodies.get(row.pk, empty)
        items.append(
            Item(
                row=row,
                depth=min(depth, MAX_INDENT),
                body=p.state.bodies.render(row.pk, body, p.t, p.t.language, p.hide),
                mono=is_patch(body.text),
                attachments=_attachments(p, row, atts.get(row.pk, [])),
                parent_pk=pk_by_mid.get(row.parent_mid or ""),
                sender=sender_label(row, p.hide),
                person_url=p.urls.person(row.from_addr) if row.from_addr else "",
            )
        )
    return items


def dispatch(request: Request) -> Response:
    """`/m/<message-id>[/raw | /t.mbox.gz | /a/<n>/<name>]`."""
    route = message_route(request.scope.get("raw_path") or b"", request.scope.get("root_path", ""))
    if route is None:
        raise not_found()
    mid, rest = route
    state = state_of(request)
    with state.db.reader() as session:
        conn = session.connection()
        p = page(request, conn)
        row = reads.find_message(conn, mid, p.list_ids)
        if row is None:
            raise not_found()
        if not rest:
            return message_page(p, conn, row)
        if rest == ["raw"]:
            return raw_source(p, conn, row)
        if rest == ["t.mbox.gz"]:
            return exports.thread_response(p, conn, row.thread_id)
        if rest[0] == "a" and len(rest) in (2, 3) and rest[1].isdigit():
            return attachment(p, conn, row, int(rest[1]))
    raise not_found()


def message_page(p: Page, conn: Connection, row: MessageRow) -> Response:
    bodies = reads.bodies(conn, [row.pk])
    atts = reads.attachments(conn, [row.pk])
    [item] = message_items(p, conn, [(row, 0)], bodies, atts)
    body = bodies.get(row.pk)
    html = None
    if body is not None and body.html:
        cids = cid_urls(
            atts.get(row.pk, []),
            lambda a: p.urls.attachment(row.message_id, a.position, a.filename),
        )
        html = sanitize_html(body.html, cids, p.hide)
    parent = reads.find_message(conn, row.parent_mid, p.list_ids) if row.parent_mid else None
    recipients = [
        (kind, show_address(name, p.hide), show_address(addr, p.hide))
        for kind, name, addr in reads.recipients(conn, row.pk)
    ]
    return p.render(
        "message.html",
        item=item,
        html=html,
        parent=parent,
        recipients=recipients,
        from_address=show_address(row.from_addr, p.hide),
        lists=reads.message_list_names(conn, row.pk, p.list_ids),
    )


def raw_source(p: Page, conn: Connection, row: MessageRow) -> Response:
    raw = mbox_export.message_raw(conn, row.pk, p.list_ids)
    if raw is None:
        raise not_found()
    if p.hide:
        raw = exports.obfuscate_raw(raw)
    try:
        raw.decode("utf-8")
        charset = "utf-8"
    except UnicodeDecodeError:
        charset = "windows-1252"
    return Response(raw, media_type=f"text/plain; charset={charset}", headers=_private(p))


def _private(p: Page) -> dict[str, str]:
    return {"cache-control": "private, no-cache", "vary": "Authorization"}


def attachment(p: Page, conn: Connection, row: MessageRow, position: int) -> Response:
    meta = next(
        (a for a in reads.attachments(conn, [row.pk]).get(row.pk, []) if a.position == position),
        None,
    )
    raw = mbox_export.message_raw(conn, row.pk, p.list_ids) if meta is not None else None
    if meta is None or raw is None:
        raise not_found()
    part = mime.part_at(email.message_from_bytes(raw, policy=email.policy.compat32), position)
    if part is None:
        raise not_found()
    data = mime.part_bytes(part)
    ctype = meta.content_type.lower()
    name = meta.filename or f"part-{position}"
    headers = _private(p) | {"content-security-policy": ATTACHMENT_CSP}
    if ctype in INLINE_TYPES:
        media = ctype
        headers["content-disposition"] = f"inline; filename*=UTF-8''{quote(name)}"
    elif ctype == "text/plain":
        media = "text/plain; charset=utf-8"
        data = mime.part_text(part).encode("utf-8", "surrogateescape")
        headers["content-disposition"] = f"inline; filename*=UTF-8''{quote(name)}"
    else:
        media = "application/octet-stream"
        headers["content-disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return Response(data, media_type=media, headers=headers)
