"""All mail mailgate originates: compose it well formed, queue it durably, never answer robots.

Command replies, confirmations, digests and moderation notices are built with
`build_message` (Message-ID, Date, UTF-8, multipart/alternative when there is HTML,
Auto-Submitted) and queued with `enqueue` in the caller's transaction, so a change and the mail
that reports it commit together. `mailgate.outbox` sends the queue through the relay
(`deliver_due`, and the `outbox` service of `mailgate serve`).

Delivery is at least once, with the window for a repeat made as small as SMTP allows: a row is
marked sent in its own short transaction right after the relay's 250 to the end of DATA. A
crash before that 250 (the relay has not accepted the message) sends it again; a crash in the
few milliseconds between the 250 and that commit can send it twice, with the same Message-ID.
A `dedupe_key` (e.g. a digest's subscription and period) makes queueing itself exactly once.

`is_automated` tells the command worker which mail must never be answered (loop protection).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid

from sqlalchemy import Connection, insert, select

from mailgate.config import Settings
from mailgate.models import Outbox
from mailgate.outbound_bulk import Prepared, build_prepared
from mailgate.outbox import SendStats, deliver_due, pack, start_outbox, wake_outbox
from mailgate.routing import bot_address
from mailgate.store import utcnow

ORIGIN_HEADER = "X-Mailgate-Origin"
KINDS = ("reply", "confirm", "digest", "notice")
IN_BATCH = 500  # dedupe keys per query in enqueue_many
AUTOMATED_PRECEDENCE = frozenset({"bulk", "list", "junk", "auto_reply"})
# Headers that mark mail as sent by a program (RFC 3834, and common vendor variants).
AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond")
LIST_HEADERS = ("List-Id", "List-Post", "List-Unsubscribe", "Mailing-List", "X-Mailman-Version")
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")

outbox_t = Outbox.__table__
__all__ = [
    "OutboundError",
    "Prepared",
    "SendStats",
    "build_message",
    "build_prepared",
    "deliver_due",
    "enqueue",
    "enqueue_many",
    "is_automated",
    "start_outbox",
    "wake_outbox",
]


class OutboundError(ValueError):
    """A message cannot be queued (no recipient, unknown kind)."""


def build_message(
    settings: Settings,
    *,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    sender: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    auto_reply: bool = False,
    list_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A well-formed UTF-8 message from mailgate (text, plus an HTML alternative if given)."""
    msg = EmailMessage()
    msg["From"] = sender or bot_address(settings)
    msg["To"] = to if isinstance(to, str) else ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=settings.domain)
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        chain = list(references) if in_reply_to in references else [*references, in_reply_to]
        msg["References"] = " ".join(chain)
    elif references:
        msg["References"] = " ".join(references)
    msg["Auto-Submitted"] = "auto-replied" if auto_reply else "auto-generated"
    msg[ORIGIN_HEADER] = settings.domain
    if list_id:
        msg["List-Id"] = list_id
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def _recipients(msg: Message, recipients: Sequence[str] | None) -> list[str]:
    if recipients is None:
        fields = [str(v) for h in ("To", "Cc", "Bcc") for v in msg.get_all(h, [])]
        recipients = [addr for _name, addr in getaddresses(fields) if addr]
    cleaned = [r.strip() for r in recipients if r and r.strip()]
    if not cleaned:
        raise OutboundError("a message needs at least one recipient")
    return cleaned


def enqueue(
    conn: Connection,
    msg: EmailMessage | Prepared,
    *,
    kind: str,
    dedupe_key: str | None = None,
    recipients: Sequence[str] | None = None,
    envelope_from: str | None = None,
) -> int | None:
    """Queue `msg` in the caller's transaction; None (nothing queued) if `dedupe_key` exists.

    `msg` is a message from `build_message`, or bytes already serialized by
    `outbound_bulk.build_prepared` (bulk mail: its recipients and sender come with it; stored
    compressed, see `outbox.pack`)."""
    if kind not in KINDS:
        raise OutboundError(f"unknown outbound kind {kind!r} (one of {', '.join(KINDS)})")
    if dedupe_key is not None:
        found = conn.scalar(select(outbox_t.c.id).where(outbox_t.c.dedupe_key == dedupe_key))
        if found is not None:
            return None
    if isinstance(msg, Prepared):
        return _insert(
            conn, kind, dedupe_key, list(recipients or msg.recipients),
            envelope_from or msg.envelope_from, msg.message_id, pack(msg.data),
        )  # fmt: skip
    to = _recipients(msg, recipients)
    if "Bcc" in msg:
        del msg["Bcc"]
    sender = envelope_from
    if sender is None:
        sender = next((a for _n, a in getaddresses([str(msg.get("From", ""))]) if a), "")
    data = msg.as_bytes(policy=SMTP)
    return _insert(conn, kind, dedupe_key, to, sender, str(msg.get("Message-ID", "")), data)


def _insert(
    conn: Connection,
    kind: str,
    dedupe_key: str | None,
    to: Sequence[str],
    sender: str,
    message_id: str,
    data: bytes,
) -> int:
    if not [r for r in to if r.strip()]:
        raise OutboundError("a message needs at least one recipient")
    now = utcnow()
    return conn.execute(
        insert(outbox_t).values(
            dedupe_key=dedupe_key,
            kind=kind,
            envelope_from=sender,
            recipients="\n".join(r.strip() for r in to if r.strip()),
            message_id=message_id,
            data=data,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            last_error="",
        )
    ).inserted_primary_key[0]


def enqueue_many(
    conn: Connection, items: Sequence[tuple[Prepared, str | None]], *, kind: str
) -> list[int | None]:
    """`enqueue` for many bulk messages (message, dedupe key) in a few statements: the row id
    of each, None where its dedupe key was already queued (or repeats an earlier item)."""
    if kind not in KINDS:
        raise OutboundError(f"unknown outbound kind {kind!r} (one of {', '.join(KINDS)})")
    keys = [key for _msg, key in items if key is not None]
    taken: set[str] = set()
    for offset in range(0, len(keys), IN_BATCH):
        chunk = keys[offset : offset + IN_BATCH]
        taken.update(
            conn.scalars(select(outbox_t.c.dedupe_key).where(outbox_t.c.dedupe_key.in_(chunk)))
        )
    now, rows, positions = utcnow(), [], []
    for position, (msg, key) in enumerate(items):
        if key is not None and key in taken:
            continue
        if key is not None:
            taken.add(key)
        if not msg.recipients:
            raise OutboundError("a message needs at least one recipient")
        positions.append(position)
        rows.append(
            {"dedupe_key": key, "kind": kind, "envelope_from": msg.envelope_from,
             "recipients": "\n".join(msg.recipients), "message_id": msg.message_id,
             "data": pack(msg.data), "created_at": now, "attempts": 0, "next_attempt_at": now,
             "last_error": ""}
        )  # fmt: skip
    ids: list[int | None] = [None] * len(items)
    if rows:
        statement = insert(outbox_t).returning(outbox_t.c.id, sort_by_parameter_order=True)
        for position, row_id in zip(positions, conn.scalars(statement, rows), strict=True):
            ids[position] = row_id
    return ids


def is_automated(msg: Message, envelope_sender: str | None = None) -> bool:
    """Whether `msg` comes from a program (auto-reply, bounce, list, mailgate): never answer it."""
    if envelope_sender is not None and envelope_sender.strip("<> ") == "":
        return True
    if msg.get(ORIGIN_HEADER) is not None:
        return True
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if str(msg.get("Precedence", "")).strip().lower() in AUTOMATED_PRECEDENCE:
        return True
    if any(msg.get(h) is not None for h in AUTOREPLY_HEADERS + LIST_HEADERS):
        return True
    if str(msg.get("Return-Path", "x")).strip() == "<>":
        return True
    sender = next((a for _n, a in getaddresses([str(msg.get("From", ""))]) if a), "")
    local = sender.rpartition("@")[0].lower()
    return not sender or local in BOUNCE_SENDERS or local.startswith("noreply")
