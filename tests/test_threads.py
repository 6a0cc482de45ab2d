"""Threading: references, ghosts, merges, Thread-Index, subject fallback, order independence,
loops, and non-recursive display order."""

from __future__ import annotations

import base64
import random
from datetime import datetime, timedelta

from sqlalchemy import select

from mailgate.models import Message
from mailgate.pipeline import Where, ingest
from mailgate.threadview import display_order
from tests.mailfactory import make_mail

ROOT_TI = base64.b64decode("AdsBm1yWxzMEVENQRbKlkNRpfGm6ow==")


def _ti(blocks: int) -> str:
    return base64.b64encode(ROOT_TI + bytes(range(1, 6)) * blocks).decode()


def _store(db, ctx, raws) -> None:
    with db.engine.begin() as conn:
        for raw in raws:
            ingest(conn, raw, ctx, Where(ctx.name, "test"))


def _partition(db) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    with db.reader() as session:
        for mid, tid in session.execute(select(Message.message_id, Message.thread_id)):
            groups.setdefault(tid, set()).add(mid)
    return {frozenset(g) for g in groups.values()}


def _parents(db) -> dict[str, tuple[str | None, str]]:
    with db.reader() as session:
        rows = session.execute(select(Message.message_id, Message.parent_mid, Message.link))
        return {mid: (parent, link) for mid, parent, link in rows}


def conversation() -> list[bytes]:
    """A root, replies by References, a late reply to a missing message, an Outlook reply
    without References, a subject-only reply, and an unrelated message."""
    return [
        make_mail("root@x", "Budget 2025", thread_index=_ti(0)),
        make_mail(
            "r1@x", "Re: Budget 2025", minutes=5, in_reply_to="root@x", references=["root@x"]
        ),
        make_mail(
            "r2@x", "Re: Budget 2025", minutes=9, in_reply_to="r1@x", references=["root@x", "r1@x"]
        ),
        make_mail(
            "ghostkid@x",
            "Re: Budget 2025",
            minutes=12,
            in_reply_to="missing@x",
            references=["root@x", "missing@x"],
        ),
        make_mail("outlook@x", "RE: Budget 2025", minutes=15, thread_index=_ti(1)),
        make_mail("bysubject@x", "Re: Budget 2025", minutes=20),
        make_mail("other@x", "Pique-nique", minutes=30),
    ]


def test_links_and_parents(db, contexts) -> None:
    _store(db, contexts["dev"], conversation())
    assert _partition(db) == {
        frozenset({"root@x", "r1@x", "r2@x", "ghostkid@x", "outlook@x", "bysubject@x"}),
        frozenset({"other@x"}),
    }
    parents = _parents(db)
    assert parents["root@x"] == (None, "root")
    assert parents["r2@x"] == ("r1@x", "references")
    assert parents["ghostkid@x"] == ("missing@x", "references")
    assert parents["outlook@x"] == ("root@x", "thread-index")
    assert parents["bysubject@x"] == ("outlook@x", "subject")


def test_arrival_order_does_not_change_threads(db, contexts) -> None:
    messages = conversation()
    _store(db, contexts["dev"], messages)
    expected_groups, expected_parents = _partition(db), _parents(db)
    for seed in range(3):
        shuffled = messages[:]
        random.Random(seed).shuffle(shuffled)
        with db.engine.begin() as conn:
            for table in ("thread_lists", "threads", "thread_nodes", "thread_redirects"):
                conn.exec_driver_sql(f"DELETE FROM {table}")
            for table in (
                "search_docs",
                "attachments",
                "recipients",
                "bodies",
                "message_lists",
                "messages",
                "deliveries",
                "raw_messages",
            ):
                conn.exec_driver_sql(f"DELETE FROM {table}")
        _store(db, contexts["dev"], shuffled)
        assert _partition(db) == expected_groups, f"seed {seed}"
        assert _parents(db) == expected_parents, f"seed {seed}"


def test_late_message_merges_two_threads(db, contexts) -> None:
    _store(
        db,
        contexts["dev"],
        [
            make_mail("a@x", "Sujet A"),
            make_mail(
                "c@x", "Re: Sujet A", minutes=10, in_reply_to="b@x", references=["a@x", "b@x"]
            ),
            make_mail("d@x", "Re: Sujet A", minutes=11, in_reply_to="b@x"),
        ],
    )
    assert len(_partition(db)) == 1
    _store(db, contexts["dev"], [make_mail("b@x", "Re: Sujet A", minutes=5, in_reply_to="a@x")])
    assert _partition(db) == {frozenset({"a@x", "b@x", "c@x", "d@x"})}


def test_reference_loops_are_survived(db, contexts) -> None:
    _store(
        db,
        contexts["dev"],
        [
            make_mail("l1@x", "Boucle", in_reply_to="l2@x", references=["l3@x", "l2@x"]),
            make_mail(
                "l2@x", "Re: Boucle", minutes=1, in_reply_to="l3@x", references=["l1@x", "l3@x"]
            ),
            make_mail(
                "l3@x", "Re: Boucle", minutes=2, in_reply_to="l1@x", references=["l2@x", "l1@x"]
            ),
            make_mail("self@x", "Moi", minutes=3, in_reply_to="self@x", references=["self@x"]),
        ],
    )
    assert frozenset({"l1@x", "l2@x", "l3@x"}) in _partition(db)
    assert _parents(db)["self@x"] == (None, "root")


def test_display_order_parents_first_siblings_by_date() -> None:
    t0 = datetime(2025, 1, 1)
    items = [
        (1, "root", None, t0),
        (2, "b", "root", t0 + timedelta(minutes=20)),
        (3, "a", "root", t0 + timedelta(minutes=10)),
        (4, "a1", "a", t0 + timedelta(minutes=30)),
        (5, "orphan", "ghost", t0 + timedelta(minutes=40)),
    ]
    placed = display_order(items, {"ghost": "a"})
    assert [(p.key, p.depth) for p in placed] == [(1, 0), (3, 1), (4, 2), (5, 2), (2, 1)]


def test_display_order_breaks_loops_without_recursion() -> None:
    t0 = datetime(2025, 1, 1)
    size = 5000  # a chain far deeper than Python's recursion limit
    chain = [
        (i, f"m{i}", f"m{i - 1}" if i else f"m{size - 1}", t0 + timedelta(seconds=i))
        for i in range(size)
    ]
    placed = display_order(chain)
    assert len(placed) == size
    assert placed[0].key == 0 and placed[0].depth == 0
    assert placed[-1].depth == size - 1
