"""Moderation on both backends: hide/unhide, redaction of a passage or an attachment, erasure
of a message or a person (nothing left in the storage bytes), bans at ingest, and the audit
log; each checked on every reader surface (web pages, raw source, feeds, mbox exports, the
person page, search). Actions go through `mailgate moderate` (CliRunner)."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from mailgate import ids, links, prefs, store
from mailgate.bulk import import_messages
from mailgate.cli import main
from mailgate.config import Settings
from mailgate.db import Database, open_database
from mailgate.digest_models import DigestRun
from mailgate.models import Message, Outbox, Quarantine, RawMessage
from mailgate.moderation import blocks, message_actions
from mailgate.moderation.authority import Authority
from mailgate.outbound import build_message, build_prepared, enqueue
from mailgate.pipeline import ListContext, Outcome, list_contexts
from tests.mailfactory import make_mail
from tests.moderation_kit import (
    LISTS,
    MODERATOR,
    add,
    client,
    found_in,
    postgres_rows_contain,
    search_hits,
    sqlite_files_contain,
    surfaces,
    with_moderators,
)

MARKER = "zorbluxqat"
# the person page shows a distinctive word of the sender's own text among their topics
SHOWN = {"message", "raw", "thread", "list_feed", "thread_feed", "month_mbox", "thread_mbox",
         "person"}  # fmt: skip
LINKED = {"thread", "month", "person", "list_feed", "thread_feed"}  # pages linking the message
BOB = "bob@example.org"


@pytest.fixture
def msettings(settings: Settings) -> Settings:
    return with_moderators(settings)


@pytest.fixture
def mdb(msettings: Settings):
    database = open_database(msettings)
    yield database
    database.dispose()


@pytest.fixture
def ctxs(mdb: Database, msettings: Settings) -> dict[str, ListContext]:
    with mdb.engine.begin() as conn:
        ids = store.sync_lists(conn, msettings.lists)
    return list_contexts(msettings, ids)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "mailgate.toml"
    lists = "".join(
        f'[[lists]]\nname = "{lst.name}"\naddress = "{lst.address}"\n'
        f"moderators = {list(lst.moderators)!r}\n".replace("'", '"')
        for lst in LISTS
    )
    path.write_text(
        f'data_dir = "data"\ndatabase_url = "{database_url}"\ndomain = "lists.example.org"\n'
        + lists,
        encoding="utf-8",
    )
    return path


def moderate(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["moderate", args[0], "--config", str(config), *args[1:]])
    assert result.exit_code == 0, result.output
    return result.output


def thread_of(db: Database, mid: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(select(Message.thread_id).where(Message.message_id == mid)).scalar()


def small_thread(db: Database, ctx: ListContext, body: str, subject: str = "Re: Plan") -> int:
    add(db, ctx, make_mail("r1@x", "Plan", body="Bonjour, le plan du trimestre.\n"))
    reply = make_mail("r2@x", subject, sender=f"Bob <{BOB}>", minutes=5,
                      in_reply_to="r1@x", references=["r1@x"], body=body)  # fmt: skip
    assert add(db, ctx, reply).outcome is Outcome.STORED
    return thread_of(db, "r2@x")


def test_hide_everywhere_then_unhide(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    tid = small_thread(mdb, ctxs["dev"], f"Le mot {MARKER} est confidentiel.\n")
    before = surfaces(msettings, mdb, "r2@x", tid, BOB)
    assert found_in(before, MARKER) == SHOWN
    assert found_in(before, links.message_path("r2@x")) >= LINKED
    assert search_hits(msettings, mdb, MARKER) == ["r2@x"]
    moderate(config, "hide", "<r2@x>", "--reason", "off topic")
    after = surfaces(msettings, mdb, "r2@x", tid, BOB)
    assert found_in(after, MARKER) == set()
    assert found_in(after, links.message_path("r2@x")) == set()
    assert after["message"] == "" and after["person"] == ""
    assert "Bonjour, le plan" in after["thread"]  # the rest of the thread stays
    assert search_hits(msettings, mdb, MARKER) == []
    with mdb.engine.connect() as conn:  # kept in storage
        assert conn.execute(select(func.count()).select_from(Message)).scalar() == 2
    moderate(config, "unhide", "r2@x")
    assert found_in(surfaces(msettings, mdb, "r2@x", tid, BOB), MARKER) == SHOWN
    log = moderate(config, "log")
    assert "hide r2@x [dev] -- off topic" in log and "unhide r2@x" in log
    assert "cli:" in log


def test_redacted_passage_is_gone_everywhere(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    secret = f"mon code {MARKER} 4242"
    tid = small_thread(mdb, ctxs["dev"], f"Voici le plan.\n{secret}\nMerci.\n")
    moderate(config, "redact", "r2@x", secret, "-y", "--reason", "personal data")
    shown = surfaces(msettings, mdb, "r2@x", tid, BOB)
    assert found_in(shown, MARKER) == set()
    assert "retiré par la modération" in shown["message"]  # the visible tombstone
    assert "Voici le plan" in shown["message"]
    assert search_hits(msettings, mdb, MARKER) == []
    assert search_hits(msettings, mdb, "plan") != []
    _assert_storage_clean(mdb, msettings)
    # the original, delivered again (an IMAP re-scan), does not come back
    again = make_mail("r2@x", "Re: Plan", sender=f"Bob <{BOB}>", minutes=5, in_reply_to="r1@x",
                      references=["r1@x"], body=f"Voici le plan.\n{secret}\nMerci.\n")  # fmt: skip
    assert add(mdb, ctxs["dev"], again).outcome is Outcome.DUPLICATE
    assert found_in(surfaces(msettings, mdb, "r2@x", tid, BOB), MARKER) == set()


def _quoting_html(mid: str, secret: str) -> bytes:
    """A reply from an HTML mail client: both alternatives quote Bob's message, the HTML one
    inside a blockquote with a line break in the middle of the passage."""
    first, rest = secret.split(" ", 1)
    msg = EmailMessage()
    msg["From"] = "Erin <erin@example.org>"
    msg["To"] = "dev@lists.example.org"
    msg["Subject"] = "Re: Plan"
    msg["Date"] = "Mon, 03 Mar 2025 10:20:00 +0000"
    msg["Message-ID"] = f"<{mid}>"
    msg["In-Reply-To"] = "<r2@x>"
    msg["References"] = "<r1@x> <r2@x>"
    msg.set_content(f"Vu.\n\nBob a écrit :\n> Voici le plan.\n> {first}\n> {rest}\n")
    msg.add_alternative(
        f"<p>Vu.</p><blockquote><p>Voici le plan.<br>{first}<br>\n{rest}</p></blockquote>",
        subtype="html",
    )
    return msg.as_bytes()


def test_redaction_reaches_the_messages_quoting_the_passage(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    secret = f"mon code {MARKER} 4242 pour la salle du fond"
    tid = small_thread(mdb, ctxs["dev"], f"Voici le plan.\n{secret}\nMerci.\n")
    # Carol's client rewrapped the quoted line; the passage spans two quoted lines
    carol = make_mail("r3@x", "Re: Plan", sender="Carol <carol@example.org>", minutes=9,
                      in_reply_to="r2@x", references=["r1@x", "r2@x"],
                      body=f"D'accord, je note.\n\nLe lundi 3 mars, Bob a écrit :\n"
                           f"> Voici le plan.\n> mon code {MARKER} 4242 pour\n"
                           f"> la salle du fond\n> Merci.\n")  # fmt: skip
    assert add(mdb, ctxs["dev"], carol).outcome is Outcome.STORED
    assert add(mdb, ctxs["dev"], _quoting_html("r5@x", secret)).outcome is Outcome.STORED
    c = client(msettings, mdb)
    assert all(MARKER in c.get(links.raw_path(mid)).text for mid in ("r3@x", "r5@x"))
    output = moderate(config, "redact", "r2@x", secret, "-y")
    assert "from 2 message(s) quoting it" in output
    for mid in ("r2@x", "r3@x", "r5@x"):
        shown = surfaces(msettings, mdb, mid, tid, BOB)
        assert found_in(shown, MARKER) == set(), mid
        assert "Voici le plan" in shown["message"], mid
    carol_page = c.get(links.message_path("r3@x")).text
    assert "retiré par la modération" in carol_page and "je note" in carol_page
    assert search_hits(msettings, mdb, MARKER) == []
    _assert_storage_clean(mdb, msettings)


def test_redaction_leaves_other_authors_own_words(mdb, msettings, ctxs) -> None:  # type: ignore[no-untyped-def]
    secret = f"mon code {MARKER} 4242"
    small_thread(mdb, ctxs["dev"], f"Voici le plan.\n{secret}\nMerci.\n")
    # Dave writes the same words himself; Fred quotes Bob from a list the moderator of dev
    # does not moderate
    dave = make_mail("r6@x", "Re: Plan", sender="Dave <dave@example.org>", minutes=7,
                     in_reply_to="r2@x", references=["r1@x", "r2@x"],
                     body=f"Je répète : {secret}\n")  # fmt: skip
    fred = make_mail("r7@x", "Re: Plan", sender="Fred <fred@example.org>", minutes=8,
                     to="annonces@lists.example.org", in_reply_to="r2@x",
                     references=["r1@x", "r2@x"], body=f"Noté.\n\n> {secret}\n")  # fmt: skip
    assert add(mdb, ctxs["dev"], dave).outcome is Outcome.STORED
    assert add(mdb, ctxs["annonces"], fred).outcome is Outcome.STORED
    who = Authority(actor=f"mail:{MODERATOR}", address=MODERATOR)
    with mdb.engine.begin() as conn:
        outcome = message_actions.do_redact(
            conn, msettings, who, {"message_id": "r2@x", "text": secret}
        )
    assert "from 0 message(s) quoting it" in outcome.summary
    c = client(msettings, mdb)
    assert MARKER not in c.get(links.message_path("r2@x")).text
    assert all(MARKER in c.get(links.message_path(mid)).text for mid in ("r6@x", "r7@x"))


def _with_attachment(mid: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Bob <{BOB}>"
    msg["To"] = "dev@lists.example.org"
    msg["Subject"] = "Le tableau"
    msg["Date"] = "Mon, 03 Mar 2025 10:00:00 +0000"
    msg["Message-ID"] = f"<{mid}>"
    msg.set_content("Voir la pièce jointe.\n")
    msg.add_attachment(f"salaires {MARKER}\n".encode(), maintype="application",
                       subtype="octet-stream", filename=f"{MARKER}-salaires.csv")  # fmt: skip
    return msg.as_bytes()


def test_redacted_attachment_leaves_a_tombstone(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    add(mdb, ctxs["dev"], _with_attachment("att@x"))
    c = client(msettings, mdb)
    assert MARKER in c.get(links.message_path("att@x")).text
    moderate(config, "redact-attachment", "att@x", "1", "--yes")
    page = c.get(links.message_path("att@x")).text
    assert MARKER not in page and "removed-by-moderation.txt" in page
    served = c.get(links.attachment_path("att@x", 1, "removed-by-moderation.txt"))
    assert served.status_code == 200 and "removed by the moderators" in served.text
    assert MARKER not in c.get(links.raw_path("att@x")).text
    assert search_hits(msettings, mdb, MARKER) == []
    _assert_storage_clean(mdb, msettings)


def _queue_digest(db: Database, settings: Settings, *, sent: bool) -> int:
    """A digest in the outbox: the unsent one through the bulk path (stored compressed) with
    its `digest_runs` record, the sent one as `build_message` makes it."""
    url = links.message_url(settings, "r2@x")
    text = f"Bob: Le mot {MARKER} est confidentiel.\n{url}\n"
    to = "reader@example.org"
    with db.engine.begin() as conn:
        if sent:
            msg = build_message(settings, to=to, subject="Digest dev", text=text)
            row = enqueue(conn, msg, kind="digest", dedupe_key=f"digest-{sent}")
            conn.execute(Outbox.__table__.update().where(Outbox.id == row).values(
                sent_at=store.utcnow()))  # fmt: skip
            return row
        bulk = build_prepared(
            settings, to=to, subject="Digest dev", text=text, html=f"<p>{text}</p>"
        )
        row = enqueue(conn, bulk, kind="digest", dedupe_key=f"digest-{sent}")
        sub = prefs.set_digest(conn, to, "daily")
        now = store.utcnow()
        conn.execute(DigestRun.__table__.insert().values(
            subscription_id=sub.id, address=to, period="daily:x", period_start=now,
            period_end=now, thread_count=1, outbox_id=row, created_at=now))  # fmt: skip
        return row


def test_erasure_leaves_no_copy(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    tid = small_thread(mdb, ctxs["dev"], f"Le mot {MARKER} est confidentiel.\n",
                       subject=f"Re: Plan {MARKER}")  # fmt: skip
    add(
        mdb,
        ctxs["annonces"],
        make_mail(
            "r2@x",
            f"Re: Plan {MARKER}",
            sender=f"Bob <{BOB}>",
            to="annonces@lists.example.org",
            minutes=5,
            in_reply_to="r1@x",
            references=["r1@x"],
            body=f"Le mot {MARKER} est confidentiel.\n",
        ),
    )  # fmt: skip  (a cross-post)
    _queue_digest(mdb, msettings, sent=False)
    _queue_digest(mdb, msettings, sent=True)
    moderate(config, "erase", "r2@x", "--yes", "--reason", "request of the author")
    shown = surfaces(msettings, mdb, "r2@x", tid, BOB)
    assert found_in(shown, MARKER) == set()
    assert shown["message"] == shown["raw"] == shown["person"] == ""
    assert "Bonjour, le plan" in shown["thread"]
    assert search_hits(msettings, mdb, MARKER) == []
    with mdb.engine.connect() as conn:
        outbox = conn.execute(select(Outbox.kind, Outbox.sent_at, Outbox.data)).all()
        assert [(k, bool(s), bytes(d)) for k, s, d in outbox] == [("digest", True, b"")]
        assert conn.execute(text("SELECT count(*) FROM digest_runs")).scalar() == 0
    _assert_storage_clean(mdb, msettings)
    for ctx in ctxs.values():  # delivered again: dropped, nothing kept
        body = f"Le mot {MARKER} est confidentiel.\n"
        again = make_mail("r2@x", f"Re: Plan {MARKER}", sender=BOB, in_reply_to="r1@x", body=body)
        result = add(mdb, ctx, again)
        assert result.outcome is Outcome.DUPLICATE
    assert "erase r2@x" in moderate(config, "log")


def test_erase_every_message_of_a_person(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    small_thread(mdb, ctxs["dev"], f"Premier {MARKER}.\n")
    add(mdb, ctxs["dev"], make_mail("b2@x", f"Autre {MARKER}", sender=BOB, minutes=30,
                                    body=f"Second {MARKER}.\n"))  # fmt: skip
    output = moderate(config, "erase-person", BOB, "--yes")
    assert "2 message(s)" in output
    assert search_hits(msettings, mdb, MARKER) == []
    assert client(msettings, mdb).get(links.person_path(links.person_key(BOB))).status_code == 404
    _assert_storage_clean(mdb, msettings)
    with mdb.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Message)).scalar() == 1


def _assert_storage_clean(db: Database, settings: Settings) -> None:
    """No byte of the database storage holds the marker any more."""
    if db.dialect == "sqlite":
        path = Path(db.engine.url.database)
        assert sqlite_files_contain(path, MARKER.encode()) == []  # the file, its WAL too
    else:
        assert postgres_rows_contain(db, MARKER) == []


def test_ban_quarantines_at_ingest(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    moderate(config, "ban", "spam@bad.example", "--list", "dev", "--reason", "spam")
    moderate(config, "ban", "@worse.example")
    spam = make_mail("s1@x", "Promo", sender="spam@bad.example")
    assert add(mdb, ctxs["dev"], spam).outcome is Outcome.QUARANTINED
    elsewhere = make_mail(
        "s2@x", "Promo", sender="spam@bad.example", to="annonces@lists.example.org"
    )
    assert add(mdb, ctxs["annonces"], elsewhere).outcome is Outcome.STORED  # a list ban only
    domain = make_mail("s3@x", "Promo", sender="Eve <eve@worse.example>")
    assert add(mdb, ctxs["annonces"], domain).outcome is Outcome.QUARANTINED
    with mdb.engine.connect() as conn:
        reasons = conn.execute(select(Quarantine.reason).order_by(Quarantine.id)).scalars().all()
    assert reasons == ["banned sender (spam@bad.example)", "banned sender (@worse.example)"]
    assert "spam@bad.example dev" in moderate(config, "bans")
    moderate(config, "unban", "spam@bad.example", "--list", "dev")
    assert add(mdb, ctxs["dev"], make_mail("s4@x", "Ok", sender="spam@bad.example")).outcome is (
        Outcome.STORED
    )


def test_bulk_import_refuses_like_live_ingest(mdb, msettings, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    moderate(config, "ban", "spam@bad.example", "--list", "dev")
    moderate(config, "ban", "@bad.example")
    erased = make_mail("e1@x", "Gone", sender="ann@good.example")
    with mdb.engine.begin() as conn:
        blocks.block_hashes(conn, [ids.sha256_hex(erased)], [], "mod@example.org")
    spam = make_mail("s1@x", "Promo", sender="spam@bad.example")
    fine = make_mail("f1@x", "Fine", sender="ann@good.example")
    items = [(raw, None) for raw in (spam, erased, fine)]
    summary = import_messages(mdb, ctxs["dev"], items, source="test", workers=1)
    assert (summary.imported, summary.duplicates, summary.quarantined) == (1, 1, 1)
    [reason] = summary.reasons
    assert reason in ("banned sender (spam@bad.example)", "banned sender (@bad.example)")
    with mdb.engine.connect() as conn:
        assert conn.execute(select(Message.message_id)).scalars().all() == ["f1@x"]


def test_cli_refuses_bad_input_clearly(mdb, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    for args in (["hide", "nothing@x"], ["ban", "not an address"], ["redact", "x@y", "ab", "-y"],
                 ["merge-people", "a@x", "b@x"]):  # fmt: skip
        result = CliRunner().invoke(main, ["moderate", args[0], "--config", str(config), *args[1:]])
        assert result.exit_code == 1, result.output
        assert "Error:" in result.output and "Traceback" not in result.output
    merged = (
        CliRunner()
        .invoke(main, ["moderate", "merge-people", "--config", str(config), "a@x", "b@x"])
        .output
    )
    assert "unknown address: a@x" in merged  # people exist: addresses never seen are refused


def test_redacted_raw_rows_stay_readable(mdb, ctxs, config) -> None:  # type: ignore[no-untyped-def]
    add(mdb, ctxs["dev"], _with_attachment("att2@x"))
    moderate(config, "redact", "att2@x", "pièce jointe", "-y")
    with mdb.engine.connect() as conn:
        data = conn.execute(select(RawMessage.data)).scalar()
    parsed = email.message_from_bytes(store.decompress(data), policy=email.policy.default)
    assert "retiré par la modération" in parsed.get_body(("plain",)).get_content()
