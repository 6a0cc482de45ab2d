"""Copies of erased or redacted text outside the archive tables: mail waiting in the outbox
(digests not yet sent), sent mail kept in the outbox, handled command mail, confirmations.

`scrub_copies` finds them by decoding each mail (headers and text parts, HTML unescaped,
whitespace folded) and looking for the erased Message-IDs (plain or as archive URL segments)
and distinctive passages (a subject, the start of the text, a redacted passage). Unsent
outbox rows are deleted, with their digest run records when a `digest_runs` table exists, so
the next digest run composes them again without the erased message; sent rows keep their
row (exactly-once bookkeeping) but lose their content. Tables that do not exist (yet) are
skipped. Called by `erasure` and `redaction`.
"""

from __future__ import annotations

import email
import email.policy
import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, MetaData, Table, delete, inspect, select, update

from mailgate import links, mime
from mailgate.outbox import unpack
from mailgate.store import decompress

SCAN_BATCH = 200
MIN_NEEDLE_CHARS = 12
SNIPPET_NEEDLE_CHARS = 60
ERASED_PLACEHOLDER = b""


@dataclass
class ScrubCounts:
    outbox_deleted: int = 0
    outbox_blanked: int = 0
    digest_runs_deleted: int = 0
    command_mail_deleted: int = 0
    confirmations_scrubbed: int = 0


def fold(text: str) -> str:
    return " ".join(html.unescape(text).split()).casefold()


def needles_for(
    mids: Iterable[str], passages: Iterable[str], min_chars: int = MIN_NEEDLE_CHARS
) -> list[str]:
    """What identifies erased content in a mail: Message-IDs (also as URL segments) and
    passages long enough (`min_chars`) not to match unrelated mail."""
    found = set()
    for mid in mids:
        found |= {fold(mid), fold(links.mid_segment(mid))}
    for passage in passages:
        folded = fold(passage)[:SNIPPET_NEEDLE_CHARS].strip()
        if len(folded) >= min_chars:
            found.add(folded)
    return sorted(n for n in found if n)


def mail_text(data: bytes) -> str:
    """Folded text of a mail: its raw headers and every decoded text part."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    parts = [data.split(b"\n\n", 1)[0].decode("utf-8", "replace")]
    for _position, part in mime.iter_leaves(msg):
        if part.get_content_maintype() == "text":
            parts.append(mime.part_text(part))
    from mailgate.headers import decode_header

    parts.append(decode_header(msg.get("Subject")))
    return fold("\n".join(parts))


def _table(conn: Connection, name: str) -> Table | None:
    if not inspect(conn).has_table(name):
        return None
    return Table(name, MetaData(), autoload_with=conn)


def _matching(conn: Connection, table: Table, column: str, needles: list[str], where=None,  # type: ignore[no-untyped-def]
              stored: Callable[[bytes], bytes] = bytes):  # fmt: skip
    """Rows (id, extra...) of `table` whose mail in `column` contains a needle, in batches.
    `stored` turns the column's bytes back into the mail (the command inbox compresses it)."""
    last = 0
    while True:
        query = select(table).where(table.c.id > last).order_by(table.c.id).limit(SCAN_BATCH)
        if where is not None:
            query = query.where(where)
        rows = conn.execute(query).all()
        if not rows:
            return
        for row in rows:
            data = getattr(row, column) or b""
            if data and any(n in mail_text(stored(bytes(data))) for n in needles):
                yield row
        last = rows[-1].id


def _digest_runs(conn: Connection, outbox_ids: list[int], keys: list[str]) -> int:
    runs = _table(conn, "digest_runs")
    if runs is None or not (outbox_ids or keys):
        return 0
    if "outbox_id" in runs.c:
        return conn.execute(delete(runs).where(runs.c.outbox_id.in_(outbox_ids))).rowcount
    if "dedupe_key" in runs.c:
        return conn.execute(delete(runs).where(runs.c.dedupe_key.in_(keys))).rowcount
    return 0


def _scrub_outbox(conn: Connection, needles: list[str], counts: ScrubCounts) -> None:
    outbox = _table(conn, "outbox")
    if outbox is None:
        return
    unsent, keys, sent = [], [], []
    for row in _matching(conn, outbox, "data", needles, stored=unpack):
        if row.sent_at is None:
            unsent.append(row.id)
            keys += [row.dedupe_key] if row.dedupe_key else []
        else:
            sent.append(row.id)
    if unsent:
        counts.digest_runs_deleted += _digest_runs(conn, unsent, keys)
        conn.execute(delete(outbox).where(outbox.c.id.in_(unsent)))
    if sent:
        conn.execute(update(outbox).where(outbox.c.id.in_(sent)).values(data=ERASED_PLACEHOLDER))
    counts.outbox_deleted += len(unsent)
    counts.outbox_blanked += len(sent)


def _scrub_commands(conn: Connection, needles: list[str], counts: ScrubCounts) -> None:
    inbox = _table(conn, "command_inbox")
    if inbox is None:
        return
    handled_rows = inbox.c.handled_at.is_not(None)
    done = [r.id for r in _matching(conn, inbox, "data", needles, handled_rows, decompress)]
    if done:
        conn.execute(delete(inbox).where(inbox.c.id.in_(done)))
        handled = _table(conn, "command_log")  # the command worker's record (sender address)
        if handled is not None:
            conn.execute(delete(handled).where(handled.c.inbox_id.in_(done)))
    counts.command_mail_deleted += len(done)


def _scrub_confirmations(conn: Connection, needles: list[str], counts: ScrubCounts) -> None:
    table = _table(conn, "confirmations")
    if table is None:
        return
    used = conn.execute(select(table.c.token, table.c.params, table.c.summary)).all()
    hits = [
        token
        for token, params, summary in used
        if any(n in fold(f"{params} {summary}") for n in needles)
    ]
    if hits:
        conn.execute(
            update(table).where(table.c.token.in_(hits)).values(params="{}", summary="(removed)")
        )
    counts.confirmations_scrubbed += len(hits)


def scrub_copies(conn: Connection, needles: list[str]) -> ScrubCounts:
    """Remove the copies of erased or redacted content that `needles` identify."""
    counts = ScrubCounts()
    if not needles:
        return counts
    _scrub_outbox(conn, needles, counts)
    _scrub_commands(conn, needles, counts)
    _scrub_confirmations(conn, needles, counts)
    return counts
