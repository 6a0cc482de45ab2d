"""`mailgate serve` and `mailgate demo`: run the gateway's services until SIGTERM/SIGINT.

The services and their order are `mailgate.ingest.gateway` (`run_gateway`); other packages
plug theirs in with `add_service` from their own `cli.py`. This module adds logging, the
signal handlers, the `--smtp-port` override and the demo (import the sample, then serve it).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import replace

import click

from mailgate.cli_archive import print_summary, print_threads, run_import
from mailgate.cli_runtime import SAMPLE_ARCHIVE, Runtime, with_runtime
from mailgate.config import ConfigError, Settings
from mailgate.db import Database
from mailgate.ingest.gateway import add_service, check_config, run_gateway, select_services
from mailgate.ingest.service import Service, ServiceStarter
from mailgate.ingest.smtp import quiet_aiosmtpd_logs

__all__ = ["add_service", "demo", "register", "serve"]
DEMO_LIST = "general"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level.upper())
    quiet_aiosmtpd_logs()
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


def serve_until_signalled(
    settings: Settings,
    db: Database,
    on_ready: Callable[[list[Service]], None] | None = None,
    starters: list[ServiceStarter] | None = None,
) -> None:
    """Run the gateway (every service, or `starters`) in this thread until SIGTERM or SIGINT."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_gateway(settings, db, stop, on_ready=on_ready, starters=starters)

    try:
        asyncio.run(main())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _with_smtp_port(settings: Settings, port: int | None) -> Settings:
    if port is None:
        return settings
    sections = {**settings.sections, "smtp": {**settings.section("smtp"), "port": port}}
    return replace(settings, sections=sections)


_smtp_port_option = click.option(
    "--smtp-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Listen for SMTP on this port instead of [smtp] port (0: any free port).",
)
_log_level_option = click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)


def _prepare(runtime: Runtime, smtp_port: int | None, log_level: str) -> Settings:
    settings = _with_smtp_port(runtime.settings, smtp_port)
    try:
        check_config(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(log_level)
    runtime.settings = settings
    runtime.contexts()  # migrations and lists, before anything listens
    return settings


def _names(value: str | None) -> list[str]:
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def _selected(only: str | None, without: str | None) -> list[ServiceStarter] | None:
    """The services `--only`/`--without` select (None: all); a clear error for unknown names."""
    if only is None and without is None:
        return None
    try:
        starters = select_services(_names(only), _names(without))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if not starters:
        raise click.UsageError("--only/--without leave no service to run")
    return starters


@click.command()
@click.option(
    "--only",
    metavar="NAMES",
    help="Run only these services, comma-separated (smtp, lmtp, imap, web, and the workers).",
)
@click.option("--without", metavar="NAMES", help="Run every service but these, comma-separated.")
@_smtp_port_option
@_log_level_option
@with_runtime
def serve(
    runtime: Runtime, only: str | None, without: str | None, smtp_port: int | None, log_level: str
) -> None:
    """Receive list mail over SMTP/LMTP, poll IMAP sources, serve the archive and run the
    workers until SIGTERM or Ctrl-C (`--only`/`--without` split them over processes)."""
    starters = _selected(only, without)
    settings = _prepare(runtime, smtp_port, log_level)
    serve_until_signalled(settings, runtime.db, starters=starters)


def _demo_banner(settings: Settings) -> Callable[[list[Service]], None]:
    address = settings.list_by_name(DEMO_LIST).address  # type: ignore[union-attr]

    def show(services: list[Service]) -> None:
        smtp = next((s for s in services if s.name == "smtp"), None)
        if smtp is None:
            click.echo("SMTP is disabled ([smtp] enabled = false): nothing to send to.")
            return
        host, port = smtp.address  # type: ignore[attr-defined]
        click.echo(
            f"\nServing list {address} over SMTP on {host}:{port} (Ctrl-C stops).\n"
            f"Send it a message:  swaks --server {host}:{port} --to {address}\n"
            f"  or see README.md ('Send a test message') for a Python snippet.\n"
        )

    return show


@click.command()
@click.option("--no-serve", is_flag=True, help="Only import the sample and print its threads.")
@_smtp_port_option
@_log_level_option
@with_runtime
def demo(runtime: Runtime, no_serve: bool, smtp_port: int | None, log_level: str) -> None:
    """Import the bundled sample archive, show its threads, then serve it over SMTP."""
    summary = run_import(runtime, SAMPLE_ARCHIVE, DEMO_LIST, jobs=1, progress=False)
    print_summary(summary, False)
    print_threads(runtime, DEMO_LIST)
    if no_serve:
        return
    settings = _prepare(runtime, smtp_port, log_level)
    serve_until_signalled(settings, runtime.db, on_ready=_demo_banner(settings))


def register(main: click.Group) -> None:
    main.add_command(serve)
    main.add_command(demo)
