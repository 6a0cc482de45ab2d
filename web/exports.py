"""Streamed gzip mbox exports: a thread (`/t/<id>/thread.mbox.gz`, `/m/<id>/t.mbox.gz`) and a
list-month (`/l/<list>/<yyyy>/<mm>.mbox.gz`).

The view checks visibility and reads the list of messages in its own session; the response
then streams, reading raw messages in small batches (each batch in a short read session) and
compressing as it goes, so memory stays flat whatever the size. For anonymous readers,
addresses in headers and readable text are obfuscated like on the pages (Message-ID,
In-Reply-To and References keep their ids so the mbox still threads; base64-encoded parts are
left as they are).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mailgate import mbox_export
from mailgate.threadview import resolve_thread_id
from web.state import Page, not_found, reading, state_of

ID_HEADERS = frozenset({b"message-id", b"in-reply-to", b"references", b"resent-message-id"})
_ADDRESS = re.compile(rb"([\w.!#$%&'*+/=?^`{|}~-]+)@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def obfuscate_raw(raw: bytes) -> bytes:
    """Addresses in a raw message become `local@...`, except in the id headers."""
    end = _HEADER_END.search(raw)
    head, body = (raw[: end.end()], raw[end.end() :]) if end else (raw, b"")
    lines = head.split(b"\n")
    keep = False
    for i, line in enumerate(lines):
        if line[:1] not in (b" ", b"\t"):
            keep = line.split(b":", 1)[0].strip().lower() in ID_HEADERS
        if not keep:
            lines[i] = _ADDRESS.sub(rb"\1@...", line)
    return b"\n".join(lines) + _ADDRESS.sub(rb"\1@...", body)


def _stream(p: Page, keys: list, filename: str) -> Response:
    db = p.state.db
    transform = obfuscate_raw if p.hide else (lambda raw: raw)
    if p.hide:
        keys = [(raw_id, sender.split("@")[0] + "@...", date) for raw_id, sender, date in keys]

    def entries() -> Iterator[bytes]:
        for start in range(0, len(keys), mbox_export.EXPORT_BATCH):
            with db.reader() as session:
                chunk = list(
                    mbox_export.entries(
                        session.connection(),
                        keys[start : start + mbox_export.EXPORT_BATCH],
                        transform,
                    )
                )
            yield from chunk

    return StreamingResponse(
        mbox_export.gzip_stream(entries()),
        media_type="application/gzip",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "private, no-cache",
            "vary": "Authorization",
        },
    )


def thread_response(p: Page, conn: Connection, thread_id: int) -> Response:
    keys = mbox_export.thread_keys(conn, thread_id, p.list_ids)
    if not keys:
        raise not_found()
    return _stream(p, keys, f"thread-{thread_id}.mbox.gz")


@reading
def thread_mbox(request: Request, p: Page, conn: Connection) -> Response:
    thread_id = resolve_thread_id(conn, request.path_params["thread_id"])
    if thread_id is None:
        raise not_found()
    return thread_response(p, conn, thread_id)


@reading
def month_mbox(request: Request, p: Page, conn: Connection) -> Response:
    name, year, month = (request.path_params[k] for k in ("name", "year", "month"))
    lid = p.visible_list(name)
    if lid is None or not (1 <= month <= 12 and 1900 <= year <= 9999):
        raise not_found()
    keys = mbox_export.month_keys(conn, lid, year, month, state_of(request).tz)
    if not keys:
        raise not_found()
    return _stream(p, keys, f"{name}-{year:04d}-{month:02d}.mbox.gz")
