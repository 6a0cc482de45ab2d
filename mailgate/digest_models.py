"""The digests' table (one row per subscription and period made: the key of exactly-once
delivery) and the index digests read new messages by (a list's arrivals).

Kept apart from `mailgate.models` to keep that module small; importing this module adds both
to `Base.metadata` (the migrations' environment imports it). Written by `digest.send`; read by
`digest.build` and by erasure (`moderation.purge`, which finds the table by name).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mailgate.models import ADDRESS_LENGTH, Base, MessageList

# Digests ask a list for what arrived in a window (migration 0800_digests).
ARRIVALS_INDEX = Index(
    "ix_message_lists_list_arrived",
    MessageList.__table__.c.list_id,
    MessageList.__table__.c.arrived_at,
)


class DigestRun(Base):
    """One digest made for one subscription and period, written in the same transaction as
    its outbox row (`outbox_id`; None when there was nothing new): the key that makes each
    digest go out exactly once, and the end of the window the next digest starts from."""

    __tablename__ = "digest_runs"
    __table_args__ = (
        Index("ux_digest_runs_subscription_period", "subscription_id", "period", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    period: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(DateTime)
    period_end: Mapped[datetime] = mapped_column(DateTime)
    thread_count: Mapped[int] = mapped_column(Integer, default=0)
    outbox_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
