"""Manual thread fixes (move, split, merge) on both backends: applied at once, kept across
`mailgate rebuild`, and not undone by a late message that links both halves of a split."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from mailgate import links
from mailgate.cli import main
from mailgate.db import Database
from mailgate.models import Message
from tests.mailfactory import make_mail
from tests.moderation_kit import add, client
from tests.test_moderation import config, ctxs, mdb, moderate, msettings

__all__ = ["config", "ctxs", "mdb", "msettings"]


def groups(db: Database) -> set[frozenset[str]]:
    """The threads as sets of Message-IDs (thread ids change on rebuild; groups must not)."""
    found: dict[int, set[str]] = {}
    with db.engine.connect() as conn:
        for mid, tid in conn.execute(select(Message.message_id, Message.thread_id)):
            found.setdefault(tid, set()).add(mid)
    return {frozenset(mids) for mids in found.values()}


def parent_of(db: Database, mid: str) -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(select(Message.parent_mid).where(Message.message_id == mid)).scalar()


def _archive(db: Database, ctx) -> None:  # type: ignore[no-untyped-def]
    mails = [
        make_mail("a1@x", "Budget"),
        make_mail("a2@x", "Re: Budget", minutes=1, in_reply_to="a1@x", references=["a1@x"]),
        make_mail("a3@x", "Re: Budget", minutes=2, in_reply_to="a2@x",
                  references=["a1@x", "a2@x"]),
        make_mail("b1@x", "Serveur", minutes=3),
        make_mail("b2@x", "Re: Serveur", minutes=4, in_reply_to="b1@x", references=["b1@x"]),
        make_mail("c1@x", "Serveur en panne", minutes=5),
    ]  # fmt: skip
    for raw in mails:
        add(db, ctx, raw)


EXPECTED = {
    frozenset({"a1@x", "b2@x"}),
    frozenset({"a2@x", "a3@x"}),
    frozenset({"b1@x", "c1@x"}),
}


def test_fixes_apply_and_survive_rebuild(mdb, msettings, ctxs, config: Path) -> None:  # type: ignore[no-untyped-def]
    _archive(mdb, ctxs["dev"])
    moderate(config, "split", "a2@x", "--reason", "new topic")
    moderate(config, "move", "b2@x", "a1@x")
    moderate(config, "merge", "c1@x", "b1@x")
    assert groups(mdb) == EXPECTED
    assert parent_of(mdb, "b2@x") == "a1@x" and parent_of(mdb, "a2@x") is None
    with mdb.engine.connect() as conn:
        a1_thread = conn.execute(
            select(Message.thread_id).where(Message.message_id == "a1@x")
        ).scalar()
    page = client(msettings, mdb).get(links.thread_path(a1_thread)).text
    assert links.message_path("b2@x") in page and links.message_path("a2@x") not in page
    rebuilt = CliRunner().invoke(main, ["rebuild", "--config", str(config), "--jobs", "1"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert groups(mdb) == EXPECTED
    assert parent_of(mdb, "b2@x") == "a1@x"
    fixes = moderate(config, "fixes")
    assert "split <a2@x>" in fixes and "move <b2@x> <a1@x>" in fixes


def test_late_message_does_not_undo_a_split(mdb, msettings, ctxs, config: Path) -> None:  # type: ignore[no-untyped-def]
    _archive(mdb, ctxs["dev"])
    moderate(config, "split", "a2@x")
    late = make_mail("a4@x", "Re: Budget", minutes=9, in_reply_to="a3@x",
                     references=["a1@x", "a2@x", "a3@x"])  # fmt: skip
    add(mdb, ctxs["dev"], late)
    assert frozenset({"a2@x", "a3@x", "a4@x"}) in groups(mdb)
    assert frozenset({"a1@x"}) in groups(mdb)


def test_hidden_messages_stay_hidden_after_rebuild(mdb, msettings, ctxs, config: Path) -> None:  # type: ignore[no-untyped-def]
    _archive(mdb, ctxs["dev"])
    moderate(config, "hide", "b2@x")
    rebuilt = CliRunner().invoke(main, ["rebuild", "--config", str(config), "--jobs", "1"])
    assert rebuilt.exit_code == 0, rebuilt.output
    c = client(msettings, mdb)
    assert c.get(links.message_path("b2@x")).status_code == 404
    assert c.get(links.message_path("b1@x")).status_code == 200


def test_a_message_cannot_move_under_its_reply(mdb, ctxs, config: Path) -> None:  # type: ignore[no-untyped-def]
    _archive(mdb, ctxs["dev"])
    result = CliRunner().invoke(main, ["moderate", "move", "--config", str(config), "a1@x", "a3@x"])
    assert result.exit_code == 1 and "under itself or one of its replies" in result.output
