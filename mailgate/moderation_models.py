"""Moderation's tables: the audit log, ingest blocks (bans, erased hashes), hidden messages
and manual thread fixes. Declared on the archive's `Base` (`mailgate.models` imports this
module); the schema changes only through migrations. Used by `mailgate.moderation`, threads
and the pipeline.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailgate.models import ADDRESS_LENGTH, MID_LENGTH, Base


class ModerationLog(Base):
    """The audit log: who did what to which message, list or address, when and why.

    `compacted_at` is set once the storage no longer holds what an erasure or redaction
    removed (see `mailgate.moderation.compact`)."""

    __tablename__ = "moderation_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(ADDRESS_LENGTH + 16))
    action: Mapped[str] = mapped_column(String(32))
    list_name: Mapped[str] = mapped_column(String(200), default="")
    target: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    compacted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class ModerationBlock(Base):
    """What ingest must refuse: banned senders (quarantined) and the hashes of erased or
    redacted mail (a copy delivered again is dropped as a duplicate)."""

    __tablename__ = "moderation_blocks"

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    list_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(ADDRESS_LENGTH + 16), default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class HiddenMessage(Base):
    """Messages the moderators hid (by Message-ID), applied again after a rebuild."""

    __tablename__ = "moderation_hidden"

    message_id: Mapped[str] = mapped_column(String(MID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ThreadFix(Base):
    """A manual threading fix (move, split, merge), replayed after ingest merges and rebuilds."""

    __tablename__ = "thread_fixes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    mid: Mapped[str] = mapped_column(String(MID_LENGTH), index=True)
    target_mid: Mapped[str | None] = mapped_column(String(MID_LENGTH), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(ADDRESS_LENGTH + 16), default="")
