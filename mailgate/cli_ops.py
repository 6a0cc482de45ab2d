"""Operations commands: `mailgate check` and `mailgate backup`.

`check` validates the configuration (every subsystem's table), opens the database and compares
its schema with the newest migration, and talks to the outbound relay (EHLO, STARTTLS when
configured); each check prints one line, and the exit code is 1 when one fails. `backup`
copies a SQLite database with SQLite's online backup API (safe while `mailgate serve`
writes) or runs `pg_dump` for PostgreSQL. Registered by `mailgate.cli`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from mailgate.cli_runtime import Runtime, with_runtime
from mailgate.config import ConfigError, Settings
from mailgate.db import current_revision, make_engine
from mailgate.ops_checks import check_relay, head_revision

BACKUP_DIR = "backups"
BACKUP_PAGES_PER_STEP = 1024


def validate_sections(settings: Settings) -> None:
    """Run every subsystem's validation of its table (raises ConfigError)."""
    from mailgate.ingest.gateway import check_config
    from mailgate.outbox import relay_config
    from mailgate.search_settings import search_settings
    from web.settings import web_settings

    check_config(settings)
    search_settings(settings)
    web_settings(settings)
    relay_config(settings)


def _check_config(settings: Settings) -> str:
    validate_sections(settings)
    where = settings.path or "no file: defaults"
    return f"{where}; {len(settings.lists)} list(s), domain {settings.domain}"


def _check_database(settings: Settings) -> str:
    engine = make_engine(settings.db_url)
    try:
        current = current_revision(engine)
        with engine.connect():
            pass
    finally:
        engine.dispose()
    url = make_url(settings.db_url).render_as_string(hide_password=True)
    head = head_revision()
    if current != head:
        raise ConfigError(
            f"{url}: schema {current or 'empty'}, newest {head}: run mailgate migrate"
        )
    return f"{url}: schema {current} is current"


def _run_check(name: str, check: Callable[[], str]) -> bool:
    try:
        detail = check()
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else ""
        click.echo(f"FAIL {name}: {reason or exc.__class__.__name__}")
        return False
    click.echo(f"ok   {name}: {detail}")
    return True


@click.command()
@click.option("--no-relay", is_flag=True, help="Do not contact the outbound relay.")
@with_runtime
def check(runtime: Runtime, no_relay: bool) -> None:
    """Check the configuration, the database and the outbound relay; exit 1 on a failure."""
    settings = runtime.settings
    results = [
        _run_check("configuration", lambda: _check_config(settings)),
        _run_check("database", lambda: _check_database(settings)),
    ]
    if not no_relay:
        results.append(_run_check("relay", lambda: check_relay(settings)))
    if not all(results):
        raise SystemExit(1)


def _default_target(settings: Settings, suffix: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return settings.data_dir / BACKUP_DIR / f"mailgate-{stamp}{suffix}"


def backup_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite database with the online backup API, then check the copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=BACKUP_PAGES_PER_STEP)
        verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        dst.close()
        src.close()
    if verdict != "ok":
        raise click.ClickException(f"the copy fails its integrity check: {verdict}")


def backup_postgres(url: str, target: Path) -> None:
    """`pg_dump --format=custom` of the database at `url` into `target`."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise click.ClickException("pg_dump is not installed (Debian: postgresql-client)")
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    libpq = parsed.set(drivername="postgresql", password=None).render_as_string()
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [pg_dump, "--format=custom", "--file", str(target), "--dbname", libpq],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise click.ClickException(f"pg_dump failed: {done.stderr.strip()[-500:]}")


@click.command()
@click.argument("target", required=False, type=click.Path(dir_okay=False, path_type=Path))
@with_runtime
def backup(runtime: Runtime, target: Path | None) -> None:
    """Copy the database to TARGET (default: <data_dir>/backups/mailgate-<time>.db or .dump),
    safely while mailgate runs. Restore: see deploy/README.md."""
    url = make_url(runtime.settings.db_url)
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "")
        if not source.is_file():
            raise click.ClickException(f"no database at {source}")
        target = target or _default_target(runtime.settings, ".db")
        backup_sqlite(source, target)
    elif url.get_backend_name() == "postgresql":
        target = target or _default_target(runtime.settings, ".dump")
        backup_postgres(runtime.settings.db_url, target)
    else:
        raise click.ClickException(f"cannot back up a {url.get_backend_name()} database")
    click.echo(f"backup written to {target} ({target.stat().st_size} bytes)")


def register(main: click.Group) -> None:
    main.add_command(check)
    main.add_command(backup)
