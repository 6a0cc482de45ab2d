"""Digest delivery on both backends: exactly once across a SIGKILL of `mailgate digest send`,
the `digest` service of `mailgate serve`, the `mailgate digest` CLI, and the web archive's
one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from starlette.testclient import TestClient

from digest.service import start_digests
from mailgate import prefs, store
from mailgate.cli import main
from mailgate.config import Settings
from mailgate.db import Database
from mailgate.digest_models import DigestRun
from mailgate.models import Outbox
from mailgate.outbox import start_outbox
from mailgate.pipeline import Where, ingest, list_contexts
from tests import digest_archive as da
from tests.mailfactory import make_mail
from tests.relay_sink import RelaySink
from tests.services import GatewayThread

ROOT = Path(__file__).parent.parent
SUBSCRIBERS = 120
KILL_AFTER = 25
PROCESS_TIMEOUT = 120


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


def _config(tmp_path: Path, archive: da.Archive, **digest: object) -> Path:
    lines = [
        f"database_url = {json.dumps(archive.settings.db_url)}",
        'domain = "lists.example.org"',
        'base_url = "http://archive.test"',
        'language = "en"',
    ]
    for lst in da.LISTS:
        lines += ["[[lists]]", f'name = "{lst.name}"', f'address = "{lst.address}"']
        lines += [f'visibility = "{lst.visibility}"', f'language = "{lst.language}"']
        lines += [f"readers = {json.dumps(list(lst.readers))}"]
    relay = archive.settings.section("relay")
    lines += ["[relay]", f'host = "{relay["host"]}"', f"port = {relay['port']}"]
    lines += ["[digest]"] + [f"{k} = {json.dumps(v)}" for k, v in digest.items()]
    path = tmp_path / "mailgate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _digest_send(config: Path, *extra: str) -> subprocess.Popen[str]:
    now = da.NOW.strftime("%Y-%m-%dT%H:%M")
    return subprocess.Popen(
        [sys.executable, "-m", "mailgate", "digest", "send", "--config", str(config),
         "--now", now, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_exactly_once_across_sigkill(archive: da.Archive, sink: RelaySink, tmp_path: Path):
    readers = [f"reader{n:03d}@example.org" for n in range(SUBSCRIBERS)]
    with archive.db.engine.begin() as conn:
        for address in readers:
            prefs.set_digest(conn, address, "daily", hour=8, timezone="Europe/Paris")
    everyone = {da.READER, *readers}
    config = _config(tmp_path, archive, batch_size=10)
    first = _digest_send(config)
    try:
        sink.wait_for(lambda got: len(got) >= KILL_AFTER)
        sink.hold()  # the next DATA waits: the kill lands while a send is in flight
        sink.wait_held()
        first.kill()
        first.wait(PROCESS_TIMEOUT)
        sink.wait_held(0)  # the held message died with its sender: never accepted
    finally:
        sink.release()
        if first.poll() is None:
            first.kill()
            first.wait(PROCESS_TIMEOUT)
    before = len(sink.messages)
    assert KILL_AFTER <= before < len(everyone)
    second = _digest_send(config)
    output, _ = second.communicate(timeout=PROCESS_TIMEOUT)
    assert second.returncode == 0, output
    got = Counter(
        r for item in sink.wait_for(lambda m: len(m) >= len(everyone)) for r in item.recipients
    )
    assert set(got) == everyone and set(got.values()) == {1}, got.most_common(3)
    assert len({item.message["Message-ID"] for item in sink.messages}) == len(everyone)
    with archive.db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DigestRun)) == len(everyone)
        unsent = conn.scalar(select(func.count()).where(Outbox.sent_at.is_(None)))
        assert unsent == 0


def test_serve_runs_the_digest_service(db: Database, settings: Settings, sink: RelaySink) -> None:
    settings = da.with_relay(settings, sink.port, check_seconds=3600)
    now = datetime.now(UTC).replace(tzinfo=None)
    arrival = now.replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, store.sync_lists(conn, settings.lists))
        minutes = int((arrival - datetime(2025, 3, 3, 9)).total_seconds() // 60)
        raw = make_mail("live-1@x", "Live thread", sender="Bob <bob@example.org>", minutes=minutes)
        ingest(conn, raw, contexts["dev"], Where("dev", "test", arrival))
        prefs.set_digest(conn, "live@example.org", "daily", hour=now.hour, timezone="UTC")
    with GatewayThread(settings, db, starters=[start_outbox, start_digests]) as gateway:
        assert {s.name for s in gateway.services} == {"outbox", "digest"}
        got = sink.wait_for(lambda m: len(m) >= 1)
    assert got[0].recipients == ["live@example.org"]
    assert "Live thread" in got[0].message.get_body(("plain",)).get_content()


def test_cli_subscriptions(archive: da.Archive, tmp_path: Path) -> None:
    config = str(_config(tmp_path, archive))
    runner = CliRunner()

    def run(*args: str) -> object:
        return runner.invoke(main, ["digest", *args, "--config", config])

    result = run("subscribe", "Max@Example.org", "--list", "dev", "--weekly", "--day", "fri",
                 "--hour", "7", "--tz", "America/New_York", "--language", "fr")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "max@example.org  dev: weekly on fri at 07:00 (America/New_York), in fr" in result.output
    listed = run("list", "--json")
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert {"address": "max@example.org", "list": "dev", "frequency": "weekly", "weekday": 4,
            "hour": 7, "timezone": "America/New_York", "language": "fr"} in rows  # fmt: skip
    for args, message in (
        (("subscribe", "not-an-address", "--daily"), "is not an e-mail address"),
        (("subscribe", "a@example.org", "--daily", "--list", "nope"), "unknown list"),
        (("subscribe", "a@example.org", "--weekly", "--day", "someday"), "unknown day"),
        (("subscribe", "a@example.org", "--daily", "--tz", "Mars/Olympus"), "unknown time zone"),
        (("subscribe", "a@example.org"), "choose --daily or --weekly"),
        (("subscribe", "a@example.org", "--daily", "--language", "de"), "'de' is not one of"),
        (("unsubscribe", "nobody@example.org"), "has no such active digest"),
    ):
        result = run(*args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert run("unsubscribe", "max@example.org", "--list", "dev").exit_code == 0
    assert "off" in run("list", "max@example.org").output


def test_cli_preview_and_send(archive: da.Archive, sink: RelaySink, tmp_path: Path) -> None:
    config = str(_config(tmp_path, archive))
    runner = CliRunner()
    now = ["--now", "2025-03-04T07:30:00+00:00", "--config", config]
    preview = runner.invoke(main, ["digest", "preview", da.READER, *now])
    assert preview.exit_code == 0 and "1. Budget serveurs 2025" in preview.output
    html = runner.invoke(main, ["digest", "preview", da.READER, "--html", *now])
    assert "<table" in html.output and sink.messages == []
    dry = runner.invoke(main, ["digest", "send", "--dry-run", *now])
    assert f"would send {da.READER} [*] daily:2025-03-04T07:00Z: 4 threads" in dry.output
    sent = runner.invoke(main, ["digest", "send", *now])
    assert sent.exit_code == 0 and "queued 1" in sent.output and "sent 1" in sent.output
    assert [m.recipients for m in sink.messages] == [[da.READER]]


def test_one_click_unsubscribe(archive: da.Archive) -> None:
    from web.app import create_app

    with archive.db.engine.connect() as conn:
        sub = prefs.subscriptions_of(conn, da.READER)[0]
    client = TestClient(create_app(archive.settings, archive.db))
    url = f"/digest/unsubscribe/{sub.token}"
    page = client.get(url)
    assert page.status_code == 200 and 'method="post"' in page.text and da.READER in page.text
    with archive.db.engine.connect() as conn:
        assert prefs.subscriptions_of(conn, da.READER)[0].frequency == "daily"  # GET: no change
    done = client.post(
        url,
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    with archive.db.engine.connect() as conn:
        assert prefs.subscriptions_of(conn, da.READER)[0].frequency == "off"
    assert client.post(url).status_code == 200  # again: still fine
    assert client.get("/digest/unsubscribe/not-a-token").status_code == 404
    assert client.post("/digest/unsubscribe/not-a-token").status_code == 404
