"""Helpers of the moderation tests: an archive with moderators, every place a message can
show up (web pages through Starlette's TestClient, search, feeds, mbox exports, the person
page), and scans of the raw database storage for a marker word."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text
from starlette.testclient import TestClient

from mailgate import links, store
from mailgate.access import ADMINISTRATOR
from mailgate.config import ListConfig, Settings
from mailgate.db import Database
from mailgate.pipeline import ListContext, Where, ingest
from mailgate.search import search
from web.app import create_app

MODERATOR = "mod@example.org"
OTHER_MODERATOR = "boss@example.org"
LISTS = (
    ListConfig(name="dev", address="dev@lists.example.org", moderators=(MODERATOR,)),
    ListConfig(name="annonces", address="annonces@lists.example.org",
               moderators=(OTHER_MODERATOR,)),
)  # fmt: skip


def with_moderators(settings: Settings) -> Settings:
    return replace(settings, lists=LISTS)


def add(db: Database, ctx: ListContext, raw: bytes, source: str = "test"):  # type: ignore[no-untyped-def]
    with db.engine.begin() as conn:
        return ingest(conn, raw, ctx, Where(ctx.name, source))


def client(settings: Settings, db: Database) -> TestClient:
    return TestClient(create_app(settings, db))


def surfaces(settings: Settings, db: Database, mid: str, thread_id: int, address: str) -> dict:
    """What each reader surface returns (text), for the message, its thread, list and sender."""
    c = client(settings, db)
    pages = {
        "message": c.get(links.message_path(mid)),
        "raw": c.get(links.raw_path(mid)),
        "thread": c.get(links.thread_path(thread_id)),
        "list": c.get(links.list_path("dev")),
        "month": c.get(links.list_month_path("dev", 2025, 3)),
        "list_feed": c.get(links.list_feed_path("dev")),
        "thread_feed": c.get(links.thread_feed_path(thread_id)),
        "person": c.get(links.person_path(links.person_key(address))),
    }
    found = {name: r.text if r.status_code == 200 else "" for name, r in pages.items()}
    for name, path in (
        ("month_mbox", links.list_month_mbox_path("dev", 2025, 3)),
        ("thread_mbox", links.thread_mbox_path(thread_id)),
    ):
        r = c.get(path)
        found[name] = (
            gzip.decompress(r.content).decode("utf-8", "replace") if r.status_code == 200 else ""
        )
    return found


def found_in(surfaces_text: dict, word: str) -> set[str]:
    return {name for name, body in surfaces_text.items() if word.lower() in body.lower()}


def search_hits(settings: Settings, db: Database, q: str) -> list[str]:
    with db.reader() as session:
        page = search(session.connection(), settings, q, viewer=ADMINISTRATOR)
    return [h.message_id for h in page.hits]


def sqlite_files_contain(db_path: Path, needle: bytes) -> list[str]:
    """Which of the database file, its WAL and shared-memory file hold `needle` (any case)."""
    found = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db_path}{suffix}")
        if path.exists() and needle.lower() in path.read_bytes().lower():
            found.append(path.name)
    return found


def postgres_rows_contain(db: Database, needle: str) -> list[str]:
    """table.column of every text/bytea column holding `needle` (raw_messages inflated)."""
    hits = []
    with db.engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type IN "
                "('text', 'character varying', 'bytea', 'tsvector', 'json', 'jsonb')"
            )
        ).all()
        for table, column, kind in columns:
            values = conn.execute(text(f'SELECT "{column}" FROM "{table}"')).scalars()
            for value in values:
                if value is None:
                    continue
                if kind == "bytea":
                    data = bytes(value)
                    if table in ("raw_messages", "quarantine"):
                        data = store.decompress(data)
                    value = data.decode("utf-8", "replace")
                if needle.lower() in str(value).lower():
                    hits.append(f"{table}.{column}")
    return sorted(set(hits))
