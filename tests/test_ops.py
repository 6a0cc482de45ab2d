"""Operations on both backends: `mailgate check`, `mailgate backup`, `/healthz`, `/metrics`
(figures counted in the database) and `mailgate serve --only/--without`."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from mailgate import outbound, routing, store
from mailgate.cli import main
from mailgate.config import ConfigError, load_settings
from mailgate.db import open_database
from mailgate.ingest.gateway import select_services, service_names, starter_name
from mailgate.models import Outbox
from mailgate.pipeline import Where, ingest, list_contexts
from mailgate.store import utcnow
from tests.conftest import DEFAULT_LISTS, make_settings
from tests.mailfactory import make_mail
from tests.services import free_port
from web.app import create_app


def write_config(tmp_path: Path, database_url: str, extra: str = "") -> Path:
    path = tmp_path / "mailgate.toml"
    path.write_text(
        f'data_dir = "data"\ndatabase_url = "{database_url}"\ndomain = "lists.example.org"\n'
        f'[[lists]]\nname = "dev"\n{extra}',
        encoding="utf-8",
    )
    return path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def test_check_passes_with_a_reachable_relay(tmp_path, database_url, sink) -> None:
    _, port = sink
    config = write_config(tmp_path, database_url, f"[relay]\nport = {port}\n")
    assert invoke("migrate", "--config", str(config)).exit_code == 0
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   configuration",
        "ok   database",
        "ok   relay",
    ]
    assert "is current" in lines[1]
    assert f"127.0.0.1:{port} answers" in lines[2]


def test_check_reports_each_failure(tmp_path, database_url) -> None:
    config = write_config(
        tmp_path, database_url, f'[web]\nport = "eighty"\n[relay]\nport = {free_port()}\n'
    )
    result = invoke("check", "--config", str(config))
    assert result.exit_code == 1
    assert "FAIL configuration: [web] port must be an integer" in result.output
    assert "FAIL relay:" in result.output
    assert "Traceback" not in result.output


def test_check_says_when_the_schema_is_behind(tmp_path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    sqlite3.connect(tmp_path / "empty.db").close()
    result = invoke("check", "--config", str(config), "--no-relay")
    assert result.exit_code == 1
    assert "schema empty" in result.output and "run mailgate migrate" in result.output


def test_backup_of_sqlite_is_a_consistent_copy(tmp_path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'data' / 'mailgate.db'}")
    settings = load_settings(config)
    db = open_database(settings)
    with db.engine.begin() as conn:
        contexts = list_contexts(settings, store.sync_lists(conn, settings.lists))
        ingest(conn, make_mail("<kept@example.org>", "Garde"), contexts["dev"], Where("dev", "t"))
    target = tmp_path / "copy.db"
    with db.engine.connect() as reader:  # a reader holds the database open meanwhile
        reader.exec_driver_sql("SELECT count(*) FROM messages").scalar()
        result = invoke("backup", "--config", str(config), str(target))
    db.dispose()
    assert result.exit_code == 0, result.output
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT message_id FROM messages").fetchall() == [("kept@example.org",)]
    copy.close()


def test_backup_default_target_and_postgres_dump(tmp_path, db, settings) -> None:
    config = write_config(tmp_path, settings.db_url)
    result = invoke("backup", "--config", str(config))
    assert result.exit_code == 0, result.output
    written = list((tmp_path / "data" / "backups").glob("mailgate-*"))
    assert len(written) == 1
    if db.dialect == "postgresql":
        assert written[0].read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    else:
        assert written[0].read_bytes().startswith(b"SQLite format 3")


def _fill(db, settings, contexts) -> None:  # type: ignore[no-untyped-def]
    """Two archived messages, one quarantined, a command waiting, outbox rows in each state."""
    dev = contexts["dev"]
    with db.engine.begin() as conn:
        for n in range(2):
            ingest(conn, make_mail(f"<m{n}@example.org>", f"Sujet {n}"), dev, Where("dev", "t"))
        ingest(conn, b"\x00" * 10, dev, Where("dev", "t"))  # not mail: quarantined
        route = routing.classify(settings, "dev-request@lists.example.org")
        routing.enqueue_command(conn, b"Subject: help\r\n\r\n", route, utcnow())
        for n, kind in enumerate(("digest", "digest", "digest", "reply")):
            msg = outbound.build_message(settings, to=f"r{n}@example.com", subject="x", text="y")
            outbound.enqueue(conn, msg, kind=kind)
        t = Outbox.__table__
        conn.execute(t.update().where(t.c.id == 1).values(sent_at=utcnow()))
        conn.execute(t.update().where(t.c.id == 2).values(failed_at=utcnow()))


def test_metrics_are_counted_in_the_database(db, settings, contexts) -> None:
    _fill(db, settings, contexts)
    client = TestClient(create_app(settings, db))
    assert client.get("/search", params={"q": "Sujet"}).status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["cache-control"] == "no-store"
    body = response.text
    for line in (
        "mailgate_messages_archived 2",
        "mailgate_messages_received_total 2",
        "mailgate_quarantined_total 1",
        "mailgate_quarantine_depth 1",
        "mailgate_command_inbox_depth 1",
        'mailgate_outbox_sent_total{kind="digest"} 1',
        'mailgate_outbox_failed_total{kind="digest"} 1',
        'mailgate_outbox_queued{kind="digest"} 1',
        'mailgate_outbox_queued{kind="reply"} 1',
        "# TYPE mailgate_search_queries_total counter",
    ):
        assert f"{line}\n" in body, line
    searches = next(x for x in body.splitlines() if x.startswith("mailgate_search_queries_total"))
    assert int(searches.split()[1]) >= 1


def test_healthz_and_metrics_switch(db, settings) -> None:
    client = TestClient(create_app(settings, db))
    assert (client.get("/healthz").status_code, client.get("/healthz").text) == (200, "ok\n")
    off = replace(settings, sections={**settings.sections, "web": {"metrics": False}})
    assert TestClient(create_app(off, db)).get("/metrics").status_code == 404


def test_healthz_answers_503_when_the_database_is_gone(tmp_path) -> None:
    """A SQLite file whose directory vanished stands for any database that does not answer."""
    broken = make_settings(tmp_path, f"sqlite:///{tmp_path}/gone/x.db", DEFAULT_LISTS)
    db = open_database(broken, run_migrations=False)
    (tmp_path / "gone").rmdir()
    response = TestClient(create_app(broken, db)).get("/healthz")
    db.dispose()
    assert response.status_code == 503
    assert response.text.startswith("database: OperationalError")


def test_serve_selects_services_by_name() -> None:
    import mailgate.cli  # noqa: F401 (registers web and outbox)

    names = service_names()
    assert names[:3] == ["smtp", "lmtp", "imap"] and {"web", "outbox"} <= set(names)
    picked = [starter_name(s) for s in select_services(["web", "smtp"], [])]
    assert picked == ["smtp", "web"]  # in start order, whatever the order asked
    rest = [starter_name(s) for s in select_services([], ["smtp", "lmtp", "imap", "web"])]
    assert "outbox" in rest and "web" not in rest
    with pytest.raises(ConfigError, match=r"unknown service\(s\): smpt \(known: smtp, lmtp"):
        select_services(["smpt"], [])


def test_serve_rejects_unknown_services_clearly(tmp_path, database_url) -> None:
    config = write_config(tmp_path, database_url)
    result = invoke("serve", "--config", str(config), "--only", "smtp,pop3")
    assert result.exit_code == 2
    assert "unknown service(s): pop3 (known: smtp, lmtp, imap," in result.output
    result = invoke("serve", "--config", str(config), "--only", "web", "--without", "web")
    assert result.exit_code == 2 and "leave no service to run" in result.output
