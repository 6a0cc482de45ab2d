"""What every `mailgate` command shares: the Runtime (settings and database of one
invocation), the `--config` option, JSON output and list checks.

Imported by `mailgate.cli` and every `mailgate.cli_*` module; it imports none of them, so any
command module can be imported on its own.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from mailgate import store
from mailgate.config import ConfigError, Settings, load_settings, with_list
from mailgate.db import Database, open_database
from mailgate.pipeline import ListContext, list_contexts

SAMPLE_ARCHIVE = Path(__file__).parent / "sample" / "sample.mbox"


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


def configured_or_fail(settings: Settings, name: str) -> None:
    if settings.list_by_name(name) is None:
        known = ", ".join(lst.name for lst in settings.lists) or "none"
        raise click.ClickException(f"unknown list {name!r} (configured lists: {known})")
