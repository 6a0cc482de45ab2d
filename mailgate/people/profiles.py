"""A person's profile as one reader may see it: only messages on lists in `scope` (the list
ids `mailgate.access` gives that reader) and never hidden ones count, so a profile reveals no
message, topic, list or correspondent of a list the reader may not see.

Called by `mailgate people show`, the web archive's person page and email commands.
Topics come from `mailgate.people.topics`; the rest is read from the messages here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select

from mailgate.config import Settings
from mailgate.models import Attachment
from mailgate.people.names import best_name
from mailgate.people.tables import lists_t, mlists_t, msgs_t, persons_t
from mailgate.people.topics import Topic, topics_of

MAX_PROFILE_MESSAGES = 20_000
SHOWN_THREADS = 20
SHOWN_CORRESPONDENTS = 10
SHOWN_ATTACHMENTS = 20
SHOWN_TOPICS = 20
att_t = Attachment.__table__


@dataclass(frozen=True)
class Correspondent:
    person_id: int
    name: str
    address: str  # one of their visible sending addresses (for links; obfuscate to show)
    replies_to: int  # replies this person sent them
    replies_from: int  # replies they sent this person


@dataclass(frozen=True)
class ThreadRef:
    thread_id: int
    subject: str
    date: datetime
    message_id: str


@dataclass(frozen=True)
class SharedFile:
    message_id: str
    filename: str
    content_type: str
    size: int
    date: datetime


@dataclass
class Profile:
    """What the reader may know about a person; `messages == 0` means nothing visible."""

    person_id: int
    name: str
    names: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    messages: int = 0
    first_date: datetime | None = None
    last_date: datetime | None = None
    threads_started: int = 0
    replies: int = 0
    activity: list[tuple[str, int]] = field(default_factory=list)  # ("YYYY-MM", messages)
    correspondents: list[Correspondent] = field(default_factory=list)
    started: list[ThreadRef] = field(default_factory=list)
    joined: list[ThreadRef] = field(default_factory=list)
    attachments: list[SharedFile] = field(default_factory=list)
    topics: list[Topic] = field(default_factory=list)


def _visible(scope: Sequence[int]):  # type: ignore[no-untyped-def]
    return msgs_t.c.id.in_(
        select(mlists_t.c.message_pk).where(mlists_t.c.list_id.in_(list(scope) or [-1]))
    )


def _rows(conn: Connection, person_id: int, scope: Sequence[int]) -> list:
    query = (
        select(
            msgs_t.c.id,
            msgs_t.c.message_id,
            msgs_t.c.thread_id,
            msgs_t.c.parent_mid,
            msgs_t.c.subject,
            msgs_t.c.date,
            msgs_t.c.from_addr,
            msgs_t.c.from_name,
        )
        .where(msgs_t.c.person_id == person_id, msgs_t.c.hidden.is_(False), _visible(scope))
        .order_by(msgs_t.c.date.desc(), msgs_t.c.id.desc())
        .limit(MAX_PROFILE_MESSAGES)
    )
    return conn.execute(query).all()


def _lists(conn: Connection, pks: list[int], scope: Sequence[int]) -> list[str]:
    if not pks:
        return []
    query = (
        select(lists_t.c.name, mlists_t.c.message_pk)
        .join(mlists_t, mlists_t.c.list_id == lists_t.c.id)
        .where(mlists_t.c.list_id.in_(list(scope)), mlists_t.c.message_pk.in_(pks))
    )
    return [name for name, _n in Counter(r[0] for r in conn.execute(query)).most_common()]


def _in_scope(table, scope: Sequence[int]):  # type: ignore[no-untyped-def]
    return table.c.id.in_(
        select(mlists_t.c.message_pk).where(mlists_t.c.list_id.in_(list(scope) or [-1]))
    )


def _correspondents(conn: Connection, person_id: int, scope: Sequence[int]) -> list:
    """People this person replied to and who replied to them, on visible messages only:
    [(person id, [address, replies to them, replies from them])], busiest first."""
    child, parent = msgs_t.alias("child"), msgs_t.alias("parent")
    link = (parent.c.thread_id == child.c.thread_id) & (parent.c.message_id == child.c.parent_mid)
    common = (
        child.c.hidden.is_(False),
        parent.c.hidden.is_(False),
        _in_scope(child, scope),
        _in_scope(parent, scope),
    )
    outgoing = (
        select(parent.c.person_id, parent.c.from_addr)
        .select_from(child.join(parent, link))
        .where(child.c.person_id == person_id, parent.c.person_id != person_id, *common)
    )
    incoming = (
        select(child.c.person_id, child.c.from_addr)
        .select_from(parent.join(child, link))
        .where(parent.c.person_id == person_id, child.c.person_id != person_id, *common)
    )
    counts: dict[int, list] = {}
    for column, query in ((1, outgoing), (2, incoming)):
        for pid, addr in conn.execute(query):
            if pid is not None:
                counts.setdefault(pid, [addr, 0, 0])[column] += 1
    return sorted(counts.items(), key=lambda kv: -(kv[1][1] + kv[1][2]))[:SHOWN_CORRESPONDENTS]


def _names(conn: Connection, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = select(persons_t.c.id, persons_t.c.name).where(persons_t.c.id.in_(ids))
    return dict(conn.execute(query).all())  # type: ignore[arg-type]


def _files(conn: Connection, rows: list) -> list[SharedFile]:
    by_pk = {r.id: r for r in rows}
    query = (
        select(att_t.c.message_pk, att_t.c.filename, att_t.c.content_type, att_t.c.size)
        .where(
            att_t.c.message_pk.in_(list(by_pk)[:MAX_PROFILE_MESSAGES]),
            att_t.c.content_id.is_(None) | att_t.c.inline.is_(False),
        )
        .order_by(att_t.c.message_pk.desc())
        .limit(SHOWN_ATTACHMENTS)
    )
    return [
        SharedFile(by_pk[pk].message_id, name, ctype, size, by_pk[pk].date)
        for pk, name, ctype, size in conn.execute(query)
    ]


def profile(
    conn: Connection, settings: Settings, person_id: int, *, scope: Sequence[int]
) -> Profile:
    """The person's profile restricted to the lists in `scope`."""
    rows = _rows(conn, person_id, scope)
    base = Profile(person_id=person_id, name="")
    if not rows:
        return base
    names = Counter(r.from_name for r in rows if r.from_name and r.from_name.lower() != r.from_addr)
    started = [r for r in rows if r.parent_mid is None]
    months = Counter(f"{r.date:%Y-%m}" for r in rows)
    joined: dict[int, object] = {}
    for r in rows:
        if r.parent_mid is not None:
            joined.setdefault(r.thread_id, r)
    people = _correspondents(conn, person_id, scope)
    shown = _names(conn, [pid for pid, _ in people])
    return Profile(
        person_id=person_id,
        name=best_name(names.items(), rows[0].from_addr),
        names=[n for n, _c in names.most_common()],
        addresses=[a for a, _c in Counter(r.from_addr for r in rows).most_common()],
        lists=_lists(conn, [r.id for r in rows], scope),
        messages=len(rows),
        first_date=rows[-1].date,
        last_date=rows[0].date,
        threads_started=len(started),
        replies=len(rows) - len(started),
        activity=sorted(months.items()),
        correspondents=[
            Correspondent(pid, shown.get(pid, ""), addr, out, inc)
            for pid, (addr, out, inc) in people
        ],
        started=[ThreadRef(r.thread_id, r.subject, r.date, r.message_id) for r in started][
            :SHOWN_THREADS
        ],
        joined=[
            ThreadRef(r.thread_id, r.subject, r.date, r.message_id)  # type: ignore[attr-defined]
            for r in list(joined.values())[:SHOWN_THREADS]
        ],
        attachments=_files(conn, rows),
        topics=topics_of(conn, person_id, scope, limit=SHOWN_TOPICS),
    )
