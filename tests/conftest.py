"""Shared fixtures: one suite on both backends (SQLite and a real PostgreSQL).

PostgreSQL: the server at $MAILGATE_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/
postgres). The session creates its own database and drops it at the end; each test starts from
empty tables. In CI (CI=true) a missing server fails the PostgreSQL tests; elsewhere they are
skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mailgate import store
from mailgate.config import ListConfig, Settings
from mailgate.db import Database, open_database
from mailgate.models import Base
from mailgate.pipeline import ListContext, list_contexts

DATA = Path(__file__).parent / "data"
FRENCH = DATA / "french-enterprise"
TRICKY = DATA / "tricky"
PG_ADMIN_URL = os.environ.get(
    "MAILGATE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FRENCH_LISTS = (
    "rse-pilotes",
    "innovation",
    "commerciaux-france",
    "support-informatique",
    "comite-direction",
)


def service_missing(reason: str) -> None:
    """Fail in CI (a service the tests need must be there), skip elsewhere."""
    if IN_CI:
        pytest.fail(f"required test service missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"mailgate_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        service_missing(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [t.name for t in Base.metadata.sorted_tables]
        existing = set(
            conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        )
        present = [t for t in tables if t in existing]
        if present:
            conn.execute(text(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_settings(tmp_path: Path, database_url: str, lists: tuple[ListConfig, ...]) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        domain="lists.example.org",
        lists=lists,
        base_url="http://archive.test",
    )


DEFAULT_LISTS = (
    ListConfig(name="dev", address="dev@lists.example.org", description="Developers"),
    ListConfig(name="annonces", address="annonces@lists.example.org", language="fr"),
    ListConfig(
        name="secret", address="secret@lists.example.org", visibility="private", readers=("alice",)
    ),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'mailgate.db'}"
    url = request.getfixturevalue("pg_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, DEFAULT_LISTS)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings)
    yield database
    database.dispose()


@pytest.fixture
def contexts(db: Database, settings: Settings) -> dict[str, ListContext]:
    with db.engine.begin() as conn:
        ids = store.sync_lists(conn, settings.lists)
    return list_contexts(settings, ids)


def french_settings(settings: Settings) -> Settings:
    lists = tuple(
        ListConfig(
            name=n,
            address=f"{n}@listes.groupe-exemple.example",
            visibility="private" if n == "comite-direction" else "public",
        )
        for n in FRENCH_LISTS
    )
    return replace(settings, lists=lists, domain="listes.groupe-exemple.example")


def read_data(relative: str) -> bytes:
    return (DATA / relative).read_bytes()


@pytest.fixture
def sink() -> Iterator[tuple[object, int]]:
    """The next hop of relayed mail: an aiosmtpd server keeping what it receives
    (`tests.postfix.Sink`, its port)."""
    from tests.postfix import start_sink

    handler, controller, port = start_sink()
    try:
        yield handler, port
    finally:
        controller.stop()
