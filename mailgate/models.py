"""Typed SQLAlchemy 2 models of the archive; the schema itself changes only through migrations.

Raw bytes (`RawMessage`) are the source of truth; everything else is derived from them by the
ingest pipeline and can be rebuilt. List and thread pages read the narrow `Message` skeleton;
bodies live apart in `Body`. Used by `store`, `threads`, `pipeline` and the readers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MID_LENGTH = 250
ADDRESS_LENGTH = 320
SUBJECT_KEY_LENGTH = 200
SNIPPET_LENGTH = 280


class Base(DeclarativeBase):
    """Declarative base of every mailgate table."""


class MailingList(Base):
    __tablename__ = "mailing_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    language: Mapped[str] = mapped_column(String(8), default="fr")


class RawMessage(Base):
    """The bytes of one delivered copy, compressed (`store.compress`), keyed by their SHA-256."""

    __tablename__ = "raw_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(DateTime)


class Delivery(Base):
    """The ledger of what arrived: each stored raw copy and the list it came through.

    Together with `RawMessage` this is the source of truth that `mailgate rebuild` replays;
    it is never cleared by a rebuild.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_id: Mapped[int] = mapped_column(ForeignKey("raw_messages.id"), index=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id"), index=True)
    arrived_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(200), default="")


class Thread(Base):
    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    root_mid: Mapped[str | None] = mapped_column(String(MID_LENGTH), nullable=True)
    first_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)


class ThreadRedirect(Base):
    """A thread id that was merged into another one (old links keep working)."""

    __tablename__ = "thread_redirects"

    old_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    new_id: Mapped[int] = mapped_column(Integer, index=True)


class ThreadNode(Base):
    """Every Message-ID seen or referenced; a node without a message is a ghost."""

    __tablename__ = "thread_nodes"

    mid: Mapped[str] = mapped_column(String(MID_LENGTH), primary_key=True)
    thread_id: Mapped[int] = mapped_column(Integer, index=True)
    parent_mid: Mapped[str | None] = mapped_column(String(MID_LENGTH), nullable=True)
    ghost: Mapped[bool] = mapped_column(Boolean, default=True)


class Message(Base):
    """The narrow skeleton row that list, thread and search pages read."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_thread_date", "thread_id", "date"),
        Index("ix_messages_date_id", "date", "id"),
        Index("ix_messages_subject_key", "subject_key", "date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    raw_id: Mapped[int] = mapped_column(ForeignKey("raw_messages.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(MID_LENGTH), index=True)
    synthetic_mid: Mapped[bool] = mapped_column(Boolean, default=False)
    thread_id: Mapped[int] = mapped_column(Integer)
    parent_mid: Mapped[str | None] = mapped_column(String(MID_LENGTH), nullable=True)
    link: Mapped[str] = mapped_column(String(16), default="root")
    subject: Mapped[str] = mapped_column(Text, default="")
    subject_key: Mapped[str] = mapped_column(String(SUBJECT_KEY_LENGTH), default="")
    reply_like: Mapped[bool] = mapped_column(Boolean, default=False)
    from_name: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), default="")
    from_addr: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), default="", index=True)
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    date: Mapped[datetime] = mapped_column(DateTime)
    tz_offset: Mapped[int] = mapped_column(Integer, default=0)
    arrived_at: Mapped[datetime] = mapped_column(DateTime)
    thread_index: Mapped[str | None] = mapped_column(String(400), nullable=True)
    thread_index_root: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(8), default="fr")
    snippet: Mapped[str] = mapped_column(String(SNIPPET_LENGTH), default="")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)


class Body(Base):
    """Decoded text of one message and its zones (own text, quotes, signature...)."""

    __tablename__ = "bodies"

    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    own_text: Mapped[str] = mapped_column(Text, default="")
    zones: Mapped[str] = mapped_column(Text, default="[]")
    defects: Mapped[str] = mapped_column(Text, default="")


class Recipient(Base):
    __tablename__ = "recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), default="")
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), default="", index=True)


class MessageList(Base):
    """A message as delivered by one list: the copy's raw bytes and its arrival."""

    __tablename__ = "message_lists"
    __table_args__ = (Index("ix_message_lists_list_date", "list_id", "date", "message_pk"),)

    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id"), primary_key=True)
    raw_id: Mapped[int] = mapped_column(ForeignKey("raw_messages.id"), index=True)
    date: Mapped[datetime] = mapped_column(DateTime)
    arrived_at: Mapped[datetime] = mapped_column(DateTime)


class ThreadList(Base):
    """Per-list activity of a thread: what the list page sorts by."""

    __tablename__ = "thread_lists"
    __table_args__ = (Index("ix_thread_lists_activity", "list_id", "last_date", "thread_id"),)

    thread_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_lists.id"), primary_key=True)
    first_date: Mapped[datetime] = mapped_column(DateTime)
    last_date: Mapped[datetime] = mapped_column(DateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=0)


class Attachment(Base):
    """An attachment's metadata; its content stays in the raw message (part `position`)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(500), default="")
    content_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    content_id: Mapped[str | None] = mapped_column(String(MID_LENGTH), nullable=True)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)


class Quarantine(Base):
    """Mail that could not be handled, kept raw with the reason."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    list_name: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SearchDoc(Base):
    """Analysed (folded, stemmed) terms of a message, what the full-text index covers.

    `sort_key` and `meta` (date-ordered key, list/attachment markers) are described in
    `mailgate.search_index`.
    """

    __tablename__ = "search_docs"
    __table_args__ = (Index("ix_search_docs_sort_key", "sort_key", unique=True),)

    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    people: Mapped[str] = mapped_column(Text, default="")
    recipients: Mapped[str] = mapped_column(Text, default="")
    files: Mapped[str] = mapped_column(Text, default="")
    sort_key: Mapped[int] = mapped_column(BigInteger, default=0)
    meta: Mapped[str] = mapped_column(Text, default="")


class SearchBacklog(Base):
    """A stored message whose search document is still to be written (PostgreSQL bulk
    imports write them on a second connection; see `mailgate.search_backlog`)."""

    __tablename__ = "search_backlog"

    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )


class CommandInbox(Base):
    """Mail to a command, owner or bot address, kept until the command worker handles it."""

    __tablename__ = "command_inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    list_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recipient: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class CommandLog(Base):
    """One row per command message handled: `dedupe_key` (a hash of its Message-ID and the
    address it was sent to) makes a retried delivery a no-op; `sender` and `replies` feed the
    per-sender rate limit of the email-command worker."""

    __tablename__ = "command_log"

    dedupe_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    inbox_id: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    replies: Mapped[int] = mapped_column(Integer, default=0)


# --- gateway ---


class ImapState(Base):
    """Progress of one IMAP source: the mailbox it reads, its UIDVALIDITY and the last UID
    archived, and the lease that keeps two serving processes from polling it at once."""

    __tablename__ = "imap_state"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(600), default="")
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# --- outbound mail, confirmations, reader preferences ---


class Outbox(Base):
    """A message mailgate originates, kept until the relay accepts it (or refuses it for good).

    `dedupe_key` makes enqueueing idempotent (a digest's (subscription, period), a reply's
    request); the lease columns let several processes drain one outbox without sending a row
    twice (see `mailgate.outbox`).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "failed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    envelope_from: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), default="")
    recipients: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(MID_LENGTH), default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class Confirmation(Base):
    """A change requested by e-mail, applied only when `address` replies with the token."""

    __tablename__ = "confirmations"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), index=True)
    params: Mapped[str] = mapped_column(Text, default="{}")
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")


class Subscription(Base):
    """A reader's digest setting for one list ("" = every list they may see)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ux_subscriptions_address_list", "address", "list_name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    list_name: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(8), default="off")
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    hour: Mapped[int] = mapped_column(Integer, default=8)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    # the language the reader asked in; None: the list's, else the configured one
    language: Mapped[str | None] = mapped_column(String(2), nullable=True, default=None)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ThreadPref(Base):
    """A reader following or muting a thread."""

    __tablename__ = "thread_prefs"

    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    thread_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


# Moderation's and people's tables are declared in their own modules; importing them here
# puts every table in Base.metadata whichever module is imported first.
from mailgate import moderation_models, people_models  # noqa: E402, F401
