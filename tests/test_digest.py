"""Digests on both backends, delivered to an aiosmtpd relay on loopback: recipients, headers,
both parts, links and reply links, ranking, following and muting, privacy, hidden messages,
French and English, template overrides, and exactly one digest per (subscription, period)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import func, select

from digest.periods import due_period, latest_instant, parse_weekday, zone
from digest.send import run_digests
from mailgate import prefs, store
from mailgate.commands.worker import run_once
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.digest_models import DigestRun
from mailgate.models import Outbox
from mailgate.pipeline import list_contexts
from tests import digest_archive as da
from tests.commands_support import Mail, outbox, queue
from tests.relay_sink import Received, RelaySink


@pytest.fixture
def sink():
    with RelaySink() as relay:
        yield relay


@pytest.fixture
def archive(db: Database, settings: Settings, sink: RelaySink) -> da.Archive:
    settings = da.with_relay(settings, sink.port)
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, store.sync_lists(conn, settings.lists))
    return da.build(db, settings, contexts)


def _send(archive: da.Archive, **kwargs) -> object:
    return run_digests(archive.db, archive.settings, now=da.NOW, **kwargs)


def _digest_for(sink: RelaySink, address: str) -> Received:
    got = [m for m in sink.messages if address in m.recipients]
    assert len(got) == 1, [m.recipients for m in sink.messages]
    return got[0]


def test_unsubscribe_by_mail_from_the_list_unsubscribe_header(
    archive: da.Archive, sink: RelaySink
) -> None:
    """A mail program that unsubscribes by mail sends the mailto: URI's subject to the command
    address; the digest stops once the reader confirms by reply."""
    _send(archive)
    header = _digest_for(sink, da.READER).message["List-Unsubscribe"]
    mailto = urlsplit(header.split(", ")[1].strip("<>"))
    assert mailto.scheme == "mailto"
    command = Mail(subject=parse_qs(mailto.query)["subject"][0], sender=da.READER,
                   to=mailto.path, mid="unsub@example.org")  # fmt: skip
    queue(archive.db, archive.settings, command)
    assert run_once(archive.db, archive.settings).counts == {"confirmation": 1}
    [(_, ask)] = [(r, m) for r, m in outbox(archive.db) if str(m["Subject"]).startswith("Conf")]
    reply = Mail(subject=f"Re: {ask['Subject']}", sender=da.READER, mid="yes@example.org")
    queue(archive.db, archive.settings, reply)
    assert run_once(archive.db, archive.settings).counts == {"confirmed": 1}
    with archive.db.engine.connect() as conn:
        assert [s.frequency for s in prefs.subscriptions_of(conn, da.READER)] == ["off"]


def _parts(item: Received) -> tuple[str, str]:
    msg = item.message
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_digest_headers_parts_and_links(archive: da.Archive, sink: RelaySink) -> None:
    report = _send(archive)
    assert (report.queued, report.sent, report.failed) == (1, 1, 0)
    item = _digest_for(sink, da.READER)
    msg = item.message
    assert item.recipients == [da.READER] and msg["To"] == da.READER
    token = archive.db.engine.connect().scalar(select(prefs.subs_t.c.token))
    unsubscribe = f"http://archive.test/digest/unsubscribe/{token}"
    mailto = "mailto:mailgate@lists.example.org?subject=unsubscribe"
    assert msg["List-Unsubscribe"].strip() == f"<{unsubscribe}>, <{mailto}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] == "Digest <digest.lists.example.org>"
    assert msg["List-Archive"] == "<http://archive.test/>"
    assert msg["Message-ID"].endswith("@lists.example.org>") and msg["Date"]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = _parts(item)
    kube = archive.thread_ids["kube-1@x"]
    assert (
        f"http://archive.test/t/{kube}/" in text and f'href="http://archive.test/t/{kube}/"' in html
    )
    assert unsubscribe in text and unsubscribe in html
    assert "<style" not in html and "stylesheet" not in html and "<table" in html
    assert msg["Subject"].startswith("Résumé quotidien")  # all lists: the configured language


def test_reply_link_keeps_threading(archive: da.Archive, sink: RelaySink) -> None:
    _send(archive)
    text, html = _parts(_digest_for(sink, da.READER))
    links = [line.split(": ", 1)[1] for line in text.splitlines() if "mailto:" in line]
    kube = next(link for link in links if "kube-3" in unquote(link))
    parts = urlsplit(kube)
    fields = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.scheme == "mailto" and parts.path == "dev@lists.example.org"
    assert fields["in-reply-to"] == "<kube-3@x>" and fields["references"] == "<kube-3@x>"
    assert fields["subject"] == "Re: Kubernetes migration"
    assert kube.replace("&", "&amp;") in html


def test_ranking_following_muting(archive: da.Archive, sink: RelaySink) -> None:
    _send(archive)
    text, _html = _parts(_digest_for(sink, da.READER))
    order = [
        line.split(". ", 1)[1] for line in text.splitlines() if line[:1].isdigit() and ". " in line
    ]
    assert order[:2] == ["Budget serveurs 2025", "Kubernetes migration"]  # own, replies to me
    assert order[2] == "Imprimante bloquée"  # followed
    assert order[3:] == ["Hackathon planning"]  # then by activity
    assert "Bruit permanent" not in text  # muted


def test_snippets_are_own_text_and_privacy_holds(archive: da.Archive, sink: RelaySink) -> None:
    _send(archive)
    text, html = _parts(_digest_for(sink, da.READER))
    assert "Good point about the ingress." in text
    assert "quoted line from reader" not in text and "Head of Platform" not in text
    assert da.HIDDEN_TEXT not in text and da.HIDDEN_TEXT not in html
    assert "Mallory" not in text  # the hidden message's author is not a participant
    assert da.SECRET_SUBJECT not in text and da.SECRET_SUBJECT not in html
    assert "Bob" in text and "Erin" in text


def test_private_list_reader_gets_it(archive: da.Archive, sink: RelaySink) -> None:
    with archive.db.engine.begin() as conn:
        prefs.set_digest(conn, "alice@example.org", "daily", hour=8, timezone="Europe/Paris")
    _send(archive)
    text, _html = _parts(_digest_for(sink, "alice@example.org"))
    assert da.SECRET_SUBJECT in text


def test_related_elsewhere_and_french(archive: da.Archive, sink: RelaySink) -> None:
    with archive.db.engine.begin() as conn:
        prefs.set_digest(conn, "zoe@example.org", "daily", list_name="dev", hour=8)
        prefs.set_thread_pref(conn, "zoe@example.org", archive.thread_ids["kube-1@x"], "follow")
        prefs.set_digest(conn, "yves@example.org", "daily", list_name="annonces", hour=8)
        prefs.set_digest(conn, "xavier@example.org", "daily", list_name="secret", hour=8)
    report = _send(archive)
    assert report.queued == 2 and report.empty == 2  # annonces: nothing new; secret: not visible
    item = _digest_for(sink, "zoe@example.org")
    text, html = _parts(item)
    assert item.message["List-Id"] == "dev <dev.lists.example.org>"
    assert item.message["List-Archive"] == "<http://archive.test/l/dev/>"
    assert "Related elsewhere" in text and "Kubernetes cluster upgrade" in text
    assert "Kubernetes cluster upgrade" in html
    assert not [m for m in sink.messages if "xavier@example.org" in m.recipients]
    with archive.db.engine.begin() as conn:
        prefs.set_digest(conn, "zoe@example.org", "daily", list_name="annonces")
        prefs.set_digest(conn, "zoe@example.org", "off", list_name="dev")
    fr = replace(archive.settings, language="fr")
    run_digests(archive.db, fr, now=da.NOW + timedelta(days=1))


def test_french_digest(archive: da.Archive, sink: RelaySink) -> None:
    settings = replace(archive.settings, language="fr")
    run_digests(archive.db, settings, now=da.NOW)
    item = _digest_for(sink, da.READER)
    text, html = _parts(item)
    assert item.message["Subject"].startswith("Résumé quotidien · toutes vos listes")
    assert "Répondre :" in text and "Se désabonner" in html and 'lang="fr"' in html
    assert "du 3 mars 2025 au 4 mars 2025" in text


def test_a_reader_gets_the_digest_in_their_own_language(
    archive: da.Archive, sink: RelaySink
) -> None:
    """The language a reader asked in beats the list's and the configured one."""
    with archive.db.engine.begin() as conn:
        prefs.set_digest(conn, "zoe@example.org", "daily", list_name="dev", hour=8, language="fr")
        prefs.set_digest(conn, da.READER, "daily", language="en")
    _send(archive)
    zoe = _digest_for(sink, "zoe@example.org")
    assert zoe.message["Subject"].startswith("Résumé quotidien")  # dev is an English list
    assert 'lang="fr"' in _parts(zoe)[1]
    reader = _digest_for(sink, da.READER)
    assert reader.message["Subject"].startswith("Daily digest")  # French by configuration
    with archive.db.engine.begin() as conn, pytest.raises(prefs.PrefsError, match="language"):
        prefs.set_digest(conn, da.READER, "daily", language="de")


def test_template_override(archive: da.Archive, sink: RelaySink, tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("Custom {{ threads|length }} for {{ address }}")
    settings = da.with_relay(archive.settings, sink.port, templates=str(tmp_path))
    run_digests(archive.db, settings, now=da.NOW)
    item = _digest_for(sink, da.READER)
    assert item.message["Subject"] == f"Custom 4 for {da.READER}"
    assert "Budget serveurs 2025" in _parts(item)[0]  # the bundled body templates still apply


def test_exactly_once_per_period(archive: da.Archive, sink: RelaySink) -> None:
    assert _send(archive).queued == 1
    again = _send(archive)
    assert (again.due, again.queued, again.sent) == (0, 0, 0)
    later = run_digests(archive.db, archive.settings, now=da.NOW + timedelta(hours=5))
    assert later.due == 0
    next_day = run_digests(archive.db, archive.settings, now=da.NOW + timedelta(days=1))
    assert next_day.due == 1 and next_day.empty == 1 and next_day.queued == 0
    assert len(sink.messages) == 1
    with archive.db.engine.connect() as conn:
        runs = conn.execute(select(DigestRun.period, DigestRun.outbox_id)).all()
        assert sorted(p for p, _ in runs) == ["daily:2025-03-04T07:00Z", "daily:2025-03-05T07:00Z"]
        assert conn.scalar(select(func.count()).select_from(Outbox)) == 1


def test_dry_run_writes_nothing(archive: da.Archive, sink: RelaySink) -> None:
    report = _send(archive, dry_run=True)
    assert report.due == 1 and report.built[0].thread_count == 4 and report.queued == 0
    with archive.db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DigestRun)) == 0
    assert sink.messages == []


def test_periods_follow_the_readers_clock() -> None:
    paris = zone("Europe/Paris")
    from datetime import datetime

    _day, instant = latest_instant("daily", 0, 8, paris, datetime(2025, 3, 30, 7, 30))
    assert instant == datetime(2025, 3, 30, 6, 0)  # summer time began that night
    _day, weekly = latest_instant("weekly", 0, 8, paris, datetime(2025, 3, 5, 12, 0))
    assert weekly == datetime(2025, 3, 3, 7, 0)  # Monday 08:00 Paris
    period = due_period("daily", 0, 8, paris, datetime(2025, 3, 6, 7, 30),
                        previous_end=datetime(2025, 3, 4, 7, 0))  # fmt: skip
    assert (period.start, period.end) == (datetime(2025, 3, 4, 7, 0), datetime(2025, 3, 6, 7, 0))
    assert parse_weekday("Mon") == 0 and parse_weekday("dimanche") == 6
    with pytest.raises(ValueError):
        parse_weekday("someday")
    assert zone("Not/AZone").key == "UTC"


def test_a_concurrent_run_never_queues_twice(archive: da.Archive, sink: RelaySink) -> None:
    from digest.send import RunReport, _write, make_digests

    with archive.db.engine.begin() as conn:
        prefs.set_digest(conn, "zoe@example.org", "daily", list_name="dev", hour=8)
    late = make_digests(archive.db, archive.settings, now=da.NOW, dry_run=True)  # made, not yet
    assert _send(archive).queued == 2  # the other run commits first
    report = RunReport()
    _write(archive.db, late.built, report)
    assert (report.already, report.queued) == (2, 0)
    with archive.db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Outbox)) == 2
    assert len(sink.messages) == 2


def test_a_failing_people_api_falls_back_to_search(
    archive: da.Archive, sink: RelaySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from digest import related

    def broken(conn, *_args, **_kwargs):  # type: ignore[no-untyped-def]
        conn.execute(text("SELECT * FROM no_such_table"))  # aborts a PostgreSQL transaction

    monkeypatch.setattr(related, "_people_api", lambda: broken)
    with archive.db.engine.begin() as conn:
        prefs.set_digest(conn, "zoe@example.org", "daily", list_name="dev", hour=8)
        prefs.set_thread_pref(conn, "zoe@example.org", archive.thread_ids["kube-1@x"], "follow")
    assert _send(archive).queued == 2
    text_part, _html = _parts(_digest_for(sink, "zoe@example.org"))
    assert "Kubernetes cluster upgrade" in text_part
