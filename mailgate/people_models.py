"""People's tables: persons, their addresses and display names, the identity change log and
per-list term counts. Declared on the archive's `Base` (`mailgate.models` imports this
module); the schema changes only through migrations. Used by `mailgate.people`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailgate.models import ADDRESS_LENGTH, Base


class Person(Base):
    """One person (their addresses: `PersonAddress`); a merged one keeps its row, with
    `merged_into` set, so the merge can be undone."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    merged_into: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PersonAddress(Base):
    """An address (lowercase) and its person; `canonical` is the safe automatic merge key."""

    __tablename__ = "person_addresses"

    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, index=True)
    canonical: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), index=True)
    source: Mapped[str] = mapped_column(String(16), default="auto")
    added_at: Mapped[datetime] = mapped_column(DateTime)


class PersonName(Base):
    """A display name seen with an address, and how many messages carried it."""

    __tablename__ = "person_names"

    address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(ADDRESS_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class PersonMerge(Base):
    """The log of identity changes (merge, split, undo): who, why, which addresses moved."""

    __tablename__ = "person_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int] = mapped_column(Integer, index=True)
    other_id: Mapped[int] = mapped_column(Integer)
    addresses: Mapped[str] = mapped_column(Text, default="[]")
    actor: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PersonTerm(Base):
    """A person's use of a term (stem or two-word phrase) in their own text on one list."""

    __tablename__ = "person_terms"
    __table_args__ = (Index("ix_person_terms_term", "term", "list_id"),)

    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    list_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    term: Mapped[str] = mapped_column(String(200), primary_key=True)
    display: Mapped[str] = mapped_column(String(200), default="")
    tf: Mapped[int] = mapped_column(Integer, default=0)
    docs: Mapped[int] = mapped_column(Integer, default=0)
    last_pk: Mapped[int] = mapped_column(Integer, default=0)
