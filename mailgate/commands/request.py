"""One message to a command address, read from the command inbox into a `Request`.

`read_request` parses the stored bytes with the standard library (command mail is small and
rare), keeping what the worker and the handlers need: who wrote (the From address: replies go
there and nowhere else), the ids that locate a thread, the subject and the text of the body.
`ignore_reason` says why a message must never be answered (loop and abuse protection).
Called by `mailgate.commands.worker`; owner handlers (moderation) receive the `Request`.
"""

from __future__ import annotations

import email
import hashlib
from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

from mailgate.config import Settings
from mailgate.headers import decode_header
from mailgate.ids import clean_mid, extract_mids
from mailgate.mime import extract_body
from mailgate.routing import classify

MAX_BODY_CHARS = 20_000
# Local parts of addresses that are machines, whatever their headers say.
MACHINE_LOCAL_PARTS = (
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "bounce",
    "bounces",
)


@dataclass(frozen=True)
class Request:
    """A parsed command message. `sender` is the lowercased From address ('' if unusable)."""

    inbox_id: int
    kind: str
    list_name: str | None
    recipient: str
    sender: str
    sender_name: str
    message_id: str
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    body: str
    raw: bytes
    message: Message

    @property
    def dedupe_key(self) -> str:
        """Same message delivered again to the same address -> same key."""
        ident = self.message_id or "sha256:" + hashlib.sha256(self.raw).hexdigest()
        return hashlib.sha256(f"{ident}\0{self.recipient}".encode()).hexdigest()

    @property
    def thread_hints(self) -> tuple[str, ...]:
        """Message-IDs that may name the thread meant, nearest first."""
        ordered = [*self.in_reply_to, *reversed(self.references)]
        return tuple(dict.fromkeys(ordered))


def _sender(msg: Message) -> tuple[str, str]:
    pairs = getaddresses([decode_header(v) for v in msg.get_all("From", [])])
    for name, address in pairs:
        if "@" in address and " " not in address.strip():
            return address.strip().lower(), name.strip()
    return "", ""


def read_request(
    inbox_id: int, kind: str, list_name: str | None, recipient: str, raw: bytes
) -> Request:
    """Parse one stored command message (never raises on bad mail: fields come back empty)."""
    msg = email.message_from_bytes(raw)
    sender, name = _sender(msg)
    try:
        body = extract_body(msg).text or ""
    except Exception:  # a broken MIME structure: no body, the subject may still hold a command
        body = ""
    return Request(
        inbox_id=inbox_id,
        kind=kind,
        list_name=list_name,
        recipient=recipient.lower(),
        sender=sender,
        sender_name=name,
        message_id=clean_mid(msg.get("Message-ID")),
        subject=decode_header(msg.get("Subject")),
        in_reply_to=tuple(extract_mids(msg.get("In-Reply-To"))),
        references=tuple(extract_mids(msg.get("References"))),
        body=body[:MAX_BODY_CHARS],
        raw=raw,
        message=msg,
    )


def ignore_reason(request: Request, settings: Settings, automated: bool) -> str | None:
    """Why this message must not be answered, or None. `automated` is
    `outbound.is_automated(message)` (auto-replies, bounces, list traffic, our own mail)."""
    if automated:
        return "automated message (auto-reply, bounce, list traffic or our own)"
    if not request.sender:
        return "no usable From address"
    if classify(settings, request.sender) is not None:
        return "sent from one of our own addresses"
    local = request.sender.rpartition("@")[0]
    if local in MACHINE_LOCAL_PARTS or local.startswith(("owner-", "bounce-", "bounces-")):
        return "sent from a machine address"
    return None
