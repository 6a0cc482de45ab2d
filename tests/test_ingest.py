"""The ingest pipeline on both backends: typed outcomes, idempotence, cross-posts, quarantine."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mailgate import ids, quarantine_store, store
from mailgate.models import Body, Delivery, Message, MessageList, Quarantine, RawMessage
from mailgate.pipeline import Outcome, Where, ingest
from tests.mailfactory import make_mail


def _ingest(db, ctx, raw: bytes, source: str = "test"):
    with db.engine.begin() as conn:
        return ingest(conn, raw, ctx, Where(ctx.name, source))


def _count(db, model) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_stored_then_duplicate(db, contexts) -> None:
    raw = make_mail("a1@example.org", "Premier message")
    first = _ingest(db, contexts["dev"], raw)
    assert first.outcome is Outcome.STORED
    assert first.message_id == "a1@example.org"
    again = _ingest(db, contexts["dev"], raw)
    assert again.outcome is Outcome.DUPLICATE
    assert again.message_pk == first.message_pk
    assert _count(db, Message) == 1
    assert _count(db, RawMessage) == 1
    assert _count(db, Delivery) == 1


def test_raw_bytes_are_kept_losslessly(db, contexts) -> None:
    raw = make_mail("lossless@example.org", body="caf\xe9 cr\xe8me\n", charset="latin-1")
    result = _ingest(db, contexts["dev"], raw)
    with db.reader() as session:
        raw_id = session.scalar(select(Message.raw_id).where(Message.id == result.message_pk))
        assert store.raw_bytes(session.connection(), raw_id) == raw


def test_message_list_and_ledger_point_at_the_same_raw_copy(db, contexts) -> None:
    """The raw copy is written with its message (one statement on PostgreSQL): the message,
    its list membership and the delivery ledger all point at it, live and in bulk."""
    from mailgate.bulk import import_messages

    live = make_mail("live@example.org", "Direct")
    bulk = [make_mail(f"bulk{i}@example.org", f"Import {i}") for i in range(3)]
    _ingest(db, contexts["dev"], live)
    import_messages(db, contexts["dev"], [(raw, None) for raw in bulk], source="t", workers=1)
    with db.reader() as session:
        rows = session.execute(
            select(Message.raw_id, MessageList.raw_id, Delivery.raw_id, RawMessage.sha256)
            .join(MessageList, MessageList.message_pk == Message.id)
            .join(Delivery, Delivery.raw_id == Message.raw_id)
            .join(RawMessage, RawMessage.id == Message.raw_id)
        ).all()
    assert sorted(sha for *_ids, sha in rows) == sorted(ids.sha256_hex(r) for r in [live, *bulk])
    assert all(a == b == c for a, b, c, _sha in rows)


def test_same_message_id_different_content_kept_apart(db, contexts) -> None:
    one = _ingest(db, contexts["dev"], make_mail("same@example.org", "Un", body="premier\n"))
    two = _ingest(db, contexts["dev"], make_mail("same@example.org", "Deux", body="second\n"))
    assert one.outcome is two.outcome is Outcome.STORED
    assert one.message_pk != two.message_pk


def test_cross_post_is_one_message_in_both_lists(db, contexts) -> None:
    base = make_mail("cross@example.org", "[dev] Annonce", body="Texte commun\n")
    other = base.replace(b"Subject: [dev] Annonce", b"Subject: [annonces] Annonce") + (
        b"\n_______________________________________________\nannonces mailing list\n"
        b"annonces@lists.example.org\nhttps://lists.example.org/listinfo/annonces\n"
    )
    first = _ingest(db, contexts["dev"], base)
    second = _ingest(db, contexts["annonces"], other)
    assert first.outcome is second.outcome is Outcome.STORED
    assert first.message_pk == second.message_pk
    assert _count(db, Message) == 1
    assert _count(db, MessageList) == 2
    assert _count(db, RawMessage) == 2  # each list's copy is kept as delivered
    assert _ingest(db, contexts["annonces"], other).outcome is Outcome.DUPLICATE


def test_unparseable_mail_is_quarantined_with_reason(db, contexts) -> None:
    for junk in (b"", b"\x00\x01binary junk without headers\n", b"   \n\n"):
        result = _ingest(db, contexts["dev"], junk)
        assert result.outcome is Outcome.QUARANTINED
        assert result.reason
    with db.reader() as session:
        entries = quarantine_store.entries(session.connection())
    assert {e.reason for e in entries} >= {"empty message"}
    assert all(e.reason for e in entries)
    assert _count(db, Message) == 0


def test_message_without_message_id_gets_stable_synthetic_id(db, contexts) -> None:
    raw = make_mail(None, "Sans identifiant")
    first = _ingest(db, contexts["dev"], raw)
    assert first.outcome is Outcome.STORED
    assert first.message_id.endswith("@synthetic.mailgate.invalid")
    assert _ingest(db, contexts["dev"], raw).message_id == first.message_id


def test_own_text_excludes_quote_and_signature(db, contexts) -> None:
    body = (
        "Je suis d'accord.\n\nLe 03/03/2025 à 09:12, Paul a écrit :\n> texte cité\n"
        "> encore\n\n-- \nAlice\n"
    )
    result = _ingest(db, contexts["dev"], make_mail("own@example.org", "Re: x", body=body))
    with db.reader() as session:
        own = session.scalar(select(Body.own_text).where(Body.message_pk == result.message_pk))
    assert own == "Je suis d'accord."


def test_quarantine_keeps_raw_and_is_not_repeated(db, contexts) -> None:
    _ingest(db, contexts["dev"], b"")
    _ingest(db, contexts["dev"], b"")
    assert _count(db, Quarantine) == 1


def test_a_value_the_database_refuses_is_quarantined_not_fatal(db, contexts, backend) -> None:
    from dataclasses import replace

    from mailgate.bulk import _Batch
    from mailgate.pipeline import commit_guarded, prepare

    good = prepare(make_mail("good@x", "Bon"), contexts["dev"])
    bad = prepare(make_mail("bad@x", "Mauvais"), contexts["dev"])
    # PostgreSQL refuses NUL characters in text; the parser never produces them, so force one.
    bad = replace(bad, parsed=replace(bad.parsed, from_addr="nul\x00@x"))
    with db.engine.begin() as conn:
        result = commit_guarded(conn, bad, contexts["dev"], Where("dev", "t"))
    expected = Outcome.QUARANTINED if backend == "postgresql" else Outcome.STORED
    assert result.outcome is expected
    with db.engine.connect() as conn:
        batch = _Batch(conn, contexts["dev"], Where("dev", "t"))
        batch.add(good)
        batch.add(replace(bad, sha256="f" * 64, fingerprint="e" * 64))
        outcomes = [r.outcome for r in batch.finish()]
    assert outcomes[0] is Outcome.STORED
    assert outcomes[1] in (Outcome.QUARANTINED, Outcome.STORED)
    with db.reader() as session:
        assert session.scalar(select(func.count()).where(Message.message_id == "good@x")) == 1


def test_a_refused_body_fails_only_its_own_message(db, contexts, backend) -> None:
    """Bodies and search terms are written once per batch (COPY on PostgreSQL): a value
    refused there is found by replaying the batch, and only its message is quarantined."""
    from dataclasses import replace

    from mailgate.bulk import _Batch
    from mailgate.fastsql import COPY_MIN_ROWS
    from mailgate.pipeline import prepare

    goods = [
        prepare(make_mail(f"good{i}@x", f"Bon {i}"), contexts["dev"]) for i in range(COPY_MIN_ROWS)
    ]
    bad = prepare(make_mail("bad2@x", "Mauvais"), contexts["dev"])
    bad = replace(bad, parsed=replace(bad.parsed, text="avant\x00après"))
    with db.engine.connect() as conn:
        batch = _Batch(conn, contexts["dev"], Where("dev", "t"))
        for prepared in [goods[0], bad, *goods[1:]]:
            batch.add(prepared)
        outcomes = [r.outcome for r in batch.finish()]
    bad_outcome = Outcome.QUARANTINED if backend == "postgresql" else Outcome.STORED
    assert outcomes == [Outcome.STORED, bad_outcome] + [Outcome.STORED] * (COPY_MIN_ROWS - 1)
    with db.reader() as session:
        stored = set(session.scalars(select(Message.message_id)))
    expected = {f"good{i}@x" for i in range(COPY_MIN_ROWS)}
    assert stored == (expected if backend == "postgresql" else expected | {"bad2@x"})


def test_bulk_copies_within_one_chunk(db, contexts) -> None:
    """The bulk import asks what is known of a whole chunk at once; copies inside the chunk
    (same bytes, or the same message with a list footer) and a later cross-post still come
    out as on the live path."""
    from mailgate.bulk import import_messages

    base = make_mail("chunk@example.org", "[dev] Annonce", body="Texte commun\n")
    footer = (
        b"\n_______________________________________________\nannonces mailing list\n"
        b"annonces@lists.example.org\nhttps://lists.example.org/listinfo/annonces\n"
    )
    other = base.replace(b"Subject: [dev] Annonce", b"Subject: [annonces] Annonce") + footer
    items = [(base, None), (base, None), (other, None), (make_mail("b@x", "Autre"), None)]
    summary = import_messages(db, contexts["dev"], items, source="t", workers=1)
    assert (summary.imported, summary.duplicates) == (2, 2)
    again = import_messages(db, contexts["annonces"], [(other, None)], source="t", workers=1)
    assert (again.imported, again.duplicates) == (1, 0)
    assert _count(db, Message) == 2
    assert _count(db, RawMessage) == 3
    with db.reader() as session:
        lists = session.scalars(
            select(MessageList.list_id)
            .join(Message, Message.id == MessageList.message_pk)
            .where(Message.message_id == "chunk@example.org")
        ).all()
    assert sorted(lists) == sorted([contexts["dev"].list_id, contexts["annonces"].list_id])


def test_bulk_summary_of_a_reply_dated_before_its_parent(db, contexts) -> None:
    """A reply whose clock was behind its parent's moves the thread's first date, on the
    thread and on the list (the bulk import bumps the summaries instead of recomputing)."""
    from mailgate.bulk import import_messages
    from mailgate.models import Thread, ThreadList

    root = make_mail("root@x", "Question", minutes=30)
    reply = make_mail("reply@x", "Re: Question", minutes=5, in_reply_to="root@x")
    summary = import_messages(
        db, contexts["dev"], [(root, None), (reply, None)], workers=1, source="t"
    )
    assert summary.imported == 2
    with db.reader() as session:
        dates = sorted(session.scalars(select(Message.date)))
        thread = session.scalars(select(Thread)).one()
        per_list = session.scalars(select(ThreadList)).one()
    assert (thread.first_date, thread.last_date, thread.message_count) == (dates[0], dates[1], 2)
    assert (per_list.first_date, per_list.last_date, per_list.message_count) == (
        dates[0],
        dates[1],
        2,
    )


def test_chunk_cache_holds_what_the_database_holds(db, contexts, backend) -> None:
    """PostgreSQL: the import's chunk cache answers `known` as the database would, before and
    after the batch stores a message (a wrong answer would only show as a replayed batch).
    SQLite asks per message and keeps no cache."""
    from mailgate import store_known
    from mailgate.bulk import _Batch, import_messages
    from mailgate.pipeline import prepare

    old = make_mail("old@example.org", "Ancien")
    import_messages(db, contexts["dev"], [(old, None)], source="t", workers=1)
    chunk = [prepare(raw, contexts["dev"]) for raw in (old, make_mail("new@example.org", "Neuf"))]
    with db.engine.connect() as conn:
        batch = _Batch(conn, contexts["dev"], Where("dev", "t"))
        batch.prefetch(chunk)
        cache = batch.pending.extras.get(store_known.KNOWN_KEY)
        if backend != "postgresql":
            assert cache is None
            return
        answers = [store_known.known(conn, p.sha256, p.fingerprint) for p in chunk]
        assert [store_known.known(conn, p.sha256, p.fingerprint, cache) for p in chunk] == answers
        assert answers[0][0] is not None and answers[0][1] and answers[1] == (None, False)
        batch.add(chunk[1])
        stored = store_known.known(conn, chunk[1].sha256, chunk[1].fingerprint)
        assert stored[0] is not None and stored[1]
        assert store_known.known(conn, chunk[1].sha256, chunk[1].fingerprint, cache) == stored
        batch.finish()


def test_duplicate_check_starts_from_the_hashes(db, contexts, backend) -> None:
    """The bulk import's per-chunk duplicate check looks the chunk's hashes up, whatever the
    size of the list: walking the list's messages made re-imports slow down as it grew."""
    from mailgate.bulk import CHUNK_MESSAGES, already_here_query, import_messages

    mails = [make_mail(f"m{i}@example.org", f"Sujet {i}") for i in range(3)]
    import_messages(db, contexts["dev"], [(raw, None) for raw in mails], source="t", workers=1)
    again = import_messages(db, contexts["dev"], [(raw, None) for raw in mails], source="t")
    assert (again.imported, again.duplicates) == (0, 3)
    if backend != "sqlite":
        return
    shas = [ids.sha256_hex(b"%d" % i) for i in range(CHUNK_MESSAGES)]  # a whole chunk
    query = already_here_query(shas, contexts["dev"].list_id)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]
    assert plan[0].startswith("SEARCH raw_messages USING COVERING INDEX"), plan
    assert "(sha256=?)" in plan[0], plan


def test_preparing_workers_yield_to_the_writer() -> None:
    """The processes that parse and analyse run at a lower priority than the importing
    process, which writes every message and is the stage all of them wait for."""
    import os

    from mailgate.bulk import WORKER_NICENESS, worker_pool

    if not hasattr(os, "nice"):
        pytest.skip("no process priorities on this platform")
    mine = os.nice(0)
    with worker_pool(1) as pool:
        theirs = pool.submit(os.nice, 0).result()
    assert theirs == min(mine + WORKER_NICENESS, 19)


def test_snippet_is_the_start_of_the_text_with_whitespace_collapsed() -> None:
    """Long texts are only split at their start; the snippet is the same as splitting all."""
    import random

    from mailgate.pipeline import SNIPPET_CHARS, snippet_of

    rng = random.Random(3)
    pieces = ["mot", "é", " ", "  ", "\n", "\n\n\n", "\t", "\u2003", "x" * 300, " " * 500]
    texts = ["", "court", " " * 2000 + "fin", "a " * 200, "\n".join(["ligne"] * 400)]
    texts += ["x" * (SNIPPET_CHARS - 1) + " " * 700 + "z" * 100]  # one word short of enough
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 400))) for _ in range(500)]
    for text in texts:
        assert snippet_of(text) == " ".join(text.split())[:SNIPPET_CHARS], repr(text[:80])
