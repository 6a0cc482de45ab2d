"""Redaction: remove a passage of text or an attachment from a message, leaving a tombstone.

The raw copies themselves are rewritten (the passage or the attachment part replaced by a
visible tombstone), then everything derived is computed again from the new bytes through the
ingest pipeline's own `prepare`: body, zones, snippet, subject, attachments, search terms.
Redaction is therefore irreversible, like erasure: nothing keeps the removed text (only the
hash of the original bytes, so that ingest drops the original if it is delivered again).
A passage is also removed where other messages of the thread quote it (`quoted`).
Called by `actions`.
"""

from __future__ import annotations

import email
import email.policy
import functools
import html
import re
from collections.abc import Callable
from email.header import Header
from email.message import Message as MimeMessage

from sqlalchemy import Connection, delete, insert, select, update

from mailgate import ids, mime, pipeline, search_index, thread_summary
from mailgate.config import Settings
from mailgate.headers import decode_header
from mailgate.models import Attachment, Body, Message, MessageList, RawMessage, SearchDoc
from mailgate.moderation import blocks, purge, quoted
from mailgate.moderation.common import ModerationError, Target, lists_of
from mailgate.store import compress, decompress

TOMBSTONE = "[retiré par la modération / removed by the moderators]"
ATTACHMENT_TOMBSTONE_NAME = "removed-by-moderation.txt"
MIN_REDACTION_CHARS = 3
msgs_t, bodies_t, att_t = Message.__table__, Body.__table__, Attachment.__table__
raw_t, mlists_t, docs_t = RawMessage.__table__, MessageList.__table__, SearchDoc.__table__


def _parse(raw: bytes) -> MimeMessage:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def _set_text(part: MimeMessage, text: str) -> None:
    del part["Content-Transfer-Encoding"]
    part.set_payload(text, "utf-8")


def redact_text_bytes(
    raw: bytes, passage: str, html_words: re.Pattern[str] | None = None
) -> bytes | None:
    """The message with every occurrence of `passage` (in the subject and the text parts)
    replaced by the tombstone, and in HTML parts every match of `html_words` too; None when
    the passage is not there."""
    msg, changed = _parse(raw), False
    subject = decode_header(msg.get("Subject"))
    if passage in subject:
        del msg["Subject"]
        msg["Subject"] = Header(subject.replace(passage, TOMBSTONE), "utf-8").encode()
        changed = True
    for _position, part in mime.iter_leaves(msg):
        if part.get_content_maintype() != "text" or part.get(
            "Content-Disposition", ""
        ).lower().startswith("attachment"):
            continue
        text = mime.part_text(part)
        new = text.replace(passage, TOMBSTONE)
        if part.get_content_subtype() == "html":
            new = new.replace(html.escape(passage), html.escape(TOMBSTONE))
            if html_words is not None:
                new = html_words.sub(html.escape(TOMBSTONE), new)
        if new != text:
            _set_text(part, new)
            changed = True
    return msg.as_bytes() if changed else None


def redact_part_bytes(raw: bytes, position: int) -> bytes | None:
    """The message with the attachment at `position` replaced by a small text tombstone."""
    msg = _parse(raw)
    part = mime.part_at(msg, position)
    if part is None:
        return None
    for name in list(part.keys()):
        del part[name]
    part["Content-Type"] = "text/plain"
    part["Content-Disposition"] = f'attachment; filename="{ATTACHMENT_TOMBSTONE_NAME}"'
    _set_text(part, TOMBSTONE + "\n")
    return msg.as_bytes()


def _raw_ids(conn: Connection, pk: int) -> list[int]:
    copies = set(conn.execute(select(mlists_t.c.raw_id).where(mlists_t.c.message_pk == pk)))
    own = conn.execute(select(msgs_t.c.raw_id).where(msgs_t.c.id == pk)).scalar_one()
    return sorted({own, *(r[0] for r in copies)})


def _store_raw(conn: Connection, raw_id: int, new: bytes) -> None:
    conn.execute(
        update(raw_t)
        .where(raw_t.c.id == raw_id)
        .values(data=compress(new), size=len(new), sha256=ids.sha256_hex(new))
    )


def _context(conn: Connection, settings: Settings, pk: int) -> pipeline.ListContext:
    from mailgate.models import MailingList

    lists_t = MailingList.__table__
    name, list_id = conn.execute(
        select(lists_t.c.name, lists_t.c.id)
        .join(mlists_t, mlists_t.c.list_id == lists_t.c.id)
        .where(mlists_t.c.message_pk == pk)
        .order_by(lists_t.c.id)
        .limit(1)
    ).one()
    return pipeline.list_contexts(settings, {name: list_id})[name]


def rederive(conn: Connection, settings: Settings, pk: int, raw: bytes) -> None:
    """Compute the message's derived rows again from (rewritten) raw bytes."""
    row = conn.execute(select(msgs_t).where(msgs_t.c.id == pk)).one()
    p = pipeline.prepare(raw, _context(conn, settings, pk), row.arrived_at)
    if p.parsed is None:
        raise ModerationError(f"the redacted message could not be read again: {p.reason}")
    body, _recipients, attachments = pipeline.details(p)
    has_attachments = any(
        not a.inline or a.content_type.startswith("application/") for a in p.parsed.attachments
    )
    conn.execute(
        update(msgs_t).where(msgs_t.c.id == pk).values(
            subject=p.parsed.subject,
            subject_key=p.parsed.subject_key,
            snippet=" ".join(p.own_text.split())[: pipeline.SNIPPET_CHARS],
            has_attachments=has_attachments,
        )
    )  # fmt: skip
    conn.execute(update(bodies_t).where(bodies_t.c.message_pk == pk).values(**body))
    conn.execute(delete(att_t).where(att_t.c.message_pk == pk))
    if attachments:
        conn.execute(insert(att_t), [a | {"message_pk": pk} for a in attachments])
    list_ids = list(conn.execute(select(mlists_t.c.list_id).where(mlists_t.c.message_pk == pk)))
    meta = search_index.meta([r[0] for r in list_ids], has_attachments, row.language)
    conn.execute(update(docs_t).where(docs_t.c.message_pk == pk).values(**p.search, meta=meta))
    thread_summary.refresh_thread(conn, row.thread_id)


def _rewrite_copies(
    conn: Connection, pk: int, rewrite: Callable[[bytes], bytes | None]
) -> tuple[list[str], bytes | None]:
    """Rewrite every raw copy of a message; (hashes of the copies changed, new primary copy)."""
    old_shas, new_primary = [], None
    primary = conn.execute(select(msgs_t.c.raw_id).where(msgs_t.c.id == pk)).scalar()
    for raw_id in _raw_ids(conn, pk):
        sha, data = conn.execute(
            select(raw_t.c.sha256, raw_t.c.data).where(raw_t.c.id == raw_id)
        ).one()
        new = rewrite(decompress(data))
        if new is None:
            continue
        _store_raw(conn, raw_id, new)
        old_shas.append(sha)
        new_primary = new if raw_id == primary else new_primary
    return old_shas, new_primary


def _redact_one(
    conn: Connection,
    settings: Settings,
    pk: int,
    rewrite: Callable[[bytes], bytes | None],
    actor: str,
) -> bool:
    """Rewrite a message's copies, block the old bytes and derive it again; False when no
    copy changed."""
    old_shas, new_primary = _rewrite_copies(conn, pk, rewrite)
    if not old_shas:
        return False
    fingerprint = conn.execute(select(msgs_t.c.fingerprint).where(msgs_t.c.id == pk)).scalar()
    blocks.block_hashes(conn, old_shas, [fingerprint], actor)
    if new_primary is not None:
        rederive(conn, settings, pk, new_primary)
    return True


def _text_rewrite(
    occurrences: list[str], html_words: re.Pattern[str] | None = None
) -> Callable[[bytes], bytes | None]:
    """A rewrite of raw bytes removing each of `occurrences`; it gives None when none is there."""

    def rewrite(raw: bytes) -> bytes | None:
        changed = False
        for occurrence in occurrences:
            new = redact_text_bytes(raw, occurrence, html_words)
            if new is not None:
                raw, changed = new, True
        return raw if changed else None

    return rewrite


def redact(
    conn: Connection,
    settings: Settings,
    targets: list[Target],
    actor: str,
    *,
    passage: str | None = None,
    position: int | None = None,
    quotes_allowed: Callable[[tuple[str, ...]], bool] | None = None,
) -> tuple[int, int]:
    """Redact a passage or the attachment at `position` from these messages (every stored
    copy); a passage also from where other messages of their threads quote it, on the lists
    `quotes_allowed` accepts. Returns how many messages changed: named, quoting. An error
    when nothing matched."""
    if passage is not None and len(passage.strip()) < MIN_REDACTION_CHARS:
        raise ModerationError(f"the text to remove must have {MIN_REDACTION_CHARS}+ characters")
    html_words = quoted.html_pattern(passage) if passage is not None else None
    if passage is not None:
        rewrite = _text_rewrite([passage], html_words)
    else:
        rewrite = functools.partial(redact_part_bytes, position=position or 0)
    changed = sum(_redact_one(conn, settings, t.pk, rewrite, actor) for t in targets)
    if not changed:
        what = "the text" if passage is not None else f"attachment {position}"
        raise ModerationError(f"{what} was not found in the message")
    if passage is None:
        return changed, 0
    quoting = _redact_quotes(conn, settings, targets, passage, html_words, actor, quotes_allowed)
    # the request itself, mail and confirmation, held the passage
    purge.scrub_copies(conn, purge.needles_for([], [passage], MIN_REDACTION_CHARS))
    return changed, quoting


def _redact_quotes(
    conn: Connection,
    settings: Settings,
    targets: list[Target],
    passage: str,
    html_words: re.Pattern[str] | None,
    actor: str,
    allowed: Callable[[tuple[str, ...]], bool] | None,
) -> int:
    """Remove the passage where other messages of the targets' threads quote it (in HTML
    parts, every match of `html_words`)."""
    found = quoted.find(conn, [t.thread_id for t in targets], [t.pk for t in targets], passage)
    names = lists_of(conn, list(found)) if found else {}
    return sum(
        _redact_one(conn, settings, pk, _text_rewrite(matches, html_words), actor)
        for pk, matches in found.items()
        if allowed is None or allowed(names.get(pk, ()))
    )
