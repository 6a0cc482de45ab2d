"""The `mailgate` command line: the composition root that wires the packages together.

Every command accepts `--config` (else $MAILGATE_CONFIG, else ./mailgate.toml). Errors are
reported as one clear line and a non-zero exit code, never a traceback. `init` and `migrate`
live here; the `mailgate.cli_*` modules register the other commands at the bottom, and share
`mailgate.cli_runtime`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailgate.cli_runtime import Runtime, with_runtime
from mailgate.config import STARTER_CONFIG


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
