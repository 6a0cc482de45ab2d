"""The bulk fast path of outbound mail gives the message `build_message` gives (parsed back
with the standard library), queues like it, and resists header injection."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from mailgate.config import Settings
from mailgate.db import Database
from mailgate.models import Outbox
from mailgate.outbound import build_message, build_prepared, enqueue, enqueue_many
from mailgate.outbound_bulk import BulkError
from mailgate.outbox import unpack

TEXT = "Résumé du jour\n\nLigne avec = et un point :\n.\nfin " + "très long " * 20 + "\n"
HTML = "<p>Été <b>chaud</b> = 30°</p>\n" + "<td style='x'>cellule</td>" * 10


def _both(settings: Settings):
    kwargs = dict(
        to="élodie.x@example.org".replace("é", "e"),
        subject="Résumé quotidien · toutes vos listes — 4 discussions",
        text=TEXT,
        html=HTML,
        list_id="dev <dev.lists.example.org>",
        headers={"List-Unsubscribe": "<http://archive.test/digest/unsubscribe/" + "x" * 40 + ">"},
    )
    slow = build_message(settings, **kwargs)
    fast = build_prepared(settings, **kwargs)
    return (
        message_from_bytes(slow.as_bytes(), policy=policy.default),
        message_from_bytes(fast.data, policy=policy.default),
        fast,
    )


def test_same_message_as_build_message(settings: Settings) -> None:
    slow, fast, prepared = _both(settings)
    for name in ("From", "To", "Subject", "List-Id", "Auto-Submitted", "X-Mailgate-Origin"):
        assert str(fast[name]) == str(slow[name]), name
    assert fast["List-Unsubscribe"].strip() == slow["List-Unsubscribe"].strip()
    assert fast["Message-ID"] == prepared.message_id and fast["Date"]
    assert fast.get_content_type() == "multipart/alternative"
    for kind in ("plain", "html"):
        got, expected = (m.get_body((kind,)).get_content() for m in (fast, slow))
        assert got.replace("\r\n", "\n") == expected.replace("\r\n", "\n")
    assert b"\r\n" in prepared.data and b"\n" not in prepared.data.replace(b"\r\n", b"")
    lines = prepared.data.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert b"List-Unsubscribe:" in lines  # folded: the long URL on its own line


def test_header_injection_and_ascii_addresses(settings: Settings) -> None:
    prepared = build_prepared(
        settings, to="a@example.org", subject="x\r\nBcc: victim@example.org", text="t"
    )
    parsed = message_from_bytes(prepared.data, policy=policy.default)
    assert parsed["Bcc"] is None and parsed.get_content().strip() == "t"
    with pytest.raises(BulkError):
        build_prepared(settings, to="é@example.org", subject="s", text="t")


def test_enqueue_prepared(db: Database, settings: Settings) -> None:
    prepared = build_prepared(settings, to="bob@example.org", subject="s", text="t")
    with db.engine.begin() as conn:
        first = enqueue(conn, prepared, kind="digest", dedupe_key="d1")
        assert enqueue(conn, prepared, kind="digest", dedupe_key="d1") is None
        row = conn.execute(select(Outbox).where(Outbox.id == first)).one()
    assert row.recipients == "bob@example.org" and unpack(row.data) == prepared.data
    assert row.envelope_from == "mailgate@lists.example.org"
    assert row.message_id == prepared.message_id


def test_enqueue_many(db: Database, settings: Settings) -> None:
    first, second = (
        build_prepared(settings, to=f"{who}@example.org", subject="s", text="t")
        for who in ("ann", "ben")
    )
    with db.engine.begin() as conn:
        assert enqueue(conn, first, kind="digest", dedupe_key="k1") is not None
        ids = enqueue_many(
            conn, [(first, "k1"), (second, "k2"), (second, "k2"), (first, None)], kind="digest"
        )
        rows = conn.execute(select(Outbox.id, Outbox.recipients).order_by(Outbox.id)).all()
    assert ids[0] is None and ids[2] is None and None not in (ids[1], ids[3])
    assert [r.recipients for r in rows] == ["ann@example.org", "ben@example.org", "ann@example.org"]
    assert [r.id for r in rows][1:] == [ids[1], ids[3]]


def test_pipelined_sending(db: Database, settings: Settings) -> None:
    from dataclasses import replace

    from mailgate.outbox import deliver_due
    from tests.relay_sink import RelaySink

    with RelaySink() as sink:
        sink.pipelining = True
        relayed = replace(settings, sections={"relay": sink.relay_section()})
        sink.answers["busy@example.org"] = "451 try later"
        sink.answers["gone@example.org"] = "550 no such user"
        with db.engine.begin() as conn:
            for who in ("ann", "busy", "gone", "ben"):
                text = ".leading dot\n..two dots\n"
                msg = build_prepared(relayed, to=f"{who}@example.org", subject=who, text=text)
                enqueue(conn, msg, kind="digest")
        stats = deliver_due(db, relayed)
        assert (stats.sent, stats.retried, stats.failed) == (2, 1, 1)
        got = sink.wait_for(lambda m: len(m) == 2)
    assert [m.recipients for m in got] == [["ann@example.org"], ["ben@example.org"]]
    assert got[0].message.get_content().replace("\r\n", "\n") == ".leading dot\n..two dots\n"
    with db.engine.connect() as conn:
        errors = dict(conn.execute(select(Outbox.recipients, Outbox.last_error)).all())
    assert errors["busy@example.org"].startswith("451") and errors["gone@example.org"].startswith(
        "550"
    )
