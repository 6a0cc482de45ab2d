"""The `mailgate` command line: the composition root that wires the packages together.

Every command accepts `--config` (else $MAILGATE_CONFIG, else ./mailgate.toml). Errors are
reported as one clear line and a non-zero exit code, never a traceback. Archive commands live
here; the other subsystems register their command groups at the bottom.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from mailgate import store
from mailgate.config import STARTER_CONFIG, ConfigError, Settings, load_settings, with_list
from mailgate.db import Database, open_database
from mailgate.pipeline import ListContext, list_contexts

SAMPLE_ARCHIVE = Path(__file__).parent / "sample" / "sample.mbox"
DEMO_DIR = Path("mailgate-demo")


class Runtime:
    """Settings and database of one command invocation, opened on first use."""

    def __init__(self, config_path: str | None) -> None:
        try:
            self.settings = load_settings(config_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            try:
                self._db = open_database(self.settings)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            except OperationalError as exc:
                raise click.ClickException(f"cannot open the database: {exc.orig}") from None
        return self._db

    def contexts(self, extra_list: str | None = None) -> dict[str, ListContext]:
        """List contexts, creating `extra_list` (not in the configuration) when asked."""
        if extra_list:
            self.settings = with_list(self.settings, extra_list)
        with self.db.engine.begin() as conn:
            ids = store.sync_lists(conn, self.settings.lists)
        return list_contexts(self.settings, ids)

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def with_runtime(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add `--config` to a command and pass it a Runtime; database errors become messages."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="Configuration file (default: $MAILGATE_CONFIG or ./mailgate.toml).",
    )
    @functools.wraps(func)
    def wrapper(config_path: str | None, **kwargs: Any) -> Any:
        runtime = Runtime(config_path)
        try:
            return func(runtime, **kwargs)
        except SQLAlchemyError as exc:
            raise click.ClickException(
                f"database error: {exc.__class__.__name__}: {getattr(exc, 'orig', exc)}"
            ) from None
        finally:
            runtime.close()

    return wrapper


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mailgate")
def main() -> None:
    """mailgate: mailing-list traffic as threaded, searchable discussions."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default="mailgate.toml",
    show_default=True,
    help="Where to write the configuration file.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
def init(config_path: str, force: bool) -> None:
    """Write a commented starter configuration and create the database."""
    path = Path(config_path)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    runtime = Runtime(str(path))
    try:
        runtime.contexts()
        click.echo(f"wrote {path}; database ready at {runtime.settings.db_url}")
    finally:
        runtime.close()


@main.command()
@with_runtime
def migrate(runtime: Runtime) -> None:
    """Bring the database schema up to date (also done by every command)."""
    runtime.contexts()
    click.echo(f"database schema is current ({runtime.settings.db_url})")


def configured_or_fail(settings: Settings, name: str) -> None:
    if settings.list_by_name(name) is None:
        known = ", ".join(lst.name for lst in settings.lists) or "none"
        raise click.ClickException(f"unknown list {name!r} (configured lists: {known})")


def _register_subcommands() -> None:
    from mailgate import (
        cli_archive,
        cli_commands,
        cli_digest,
        cli_moderate,
        cli_ops,
        cli_outbox,
        cli_people,
        cli_search,
        cli_serve,
        cli_web,
    )

    cli_archive.register(main)
    cli_commands.register(main)
    cli_digest.register(main)
    cli_moderate.register(main)
    cli_ops.register(main)
    cli_outbox.register(main)
    cli_people.register(main)
    cli_search.register(main)
    cli_serve.register(main)
    cli_web.register(main)


_register_subcommands()


def run() -> None:  # pragma: no cover - console entry point alias
    sys.exit(main())
