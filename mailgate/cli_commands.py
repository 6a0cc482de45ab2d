"""`mailgate commands`: run the email-command worker by hand and see what it did; registers the
"commands" service of `mailgate serve`. Called by `mailgate.cli` at start-up.

`run-once` handles what is queued in the command inbox (help, search, digest settings...,
see the README, "Email commands"), then sends the replies through the relay unless
`--no-send` is given. `status` shows pending messages and the latest outcomes.
`register` also gives `<list>-owner@` mail to moderation (`mailgate.moderation.mail`).
"""

from __future__ import annotations

import click
from sqlalchemy import Connection, func, select

from mailgate.cli_runtime import Runtime, with_runtime
from mailgate.commands.owner import register_owner_handler
from mailgate.commands.request import Request
from mailgate.commands.service import start_commands
from mailgate.commands.worker import BATCH_LIMIT, run_once
from mailgate.config import ConfigError, Settings
from mailgate.ingest.gateway import add_service
from mailgate.models import CommandInbox
from mailgate.outbound import deliver_due

RECENT = 20


@click.group("commands")
def commands_group() -> None:
    """Mail to the bot, <list>-request@ and <list>-owner@ addresses."""


@commands_group.command("run-once")
@click.option("--limit", type=click.IntRange(1, 100_000), default=BATCH_LIMIT, show_default=True)
@click.option("--no-send", is_flag=True, help="Queue the replies only; do not send them now.")
@with_runtime
def run_once_cmd(runtime: Runtime, limit: int, no_send: bool) -> None:
    """Handle the queued command mail once, then send the replies."""
    runtime.contexts()
    try:
        stats = run_once(runtime.db, runtime.settings, limit=limit)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(stats.counts.items())) or "nothing queued"
        click.echo(f"command messages: {counts}; mail queued {stats.queued}")
        if not no_send:
            sent = deliver_due(runtime.db, runtime.settings)
            click.echo(f"sent {sent.sent}, retry later {sent.retried}, failed {sent.failed}")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@commands_group.command("status")
@with_runtime
def status_cmd(runtime: Runtime) -> None:
    """Pending command messages and the latest outcomes."""
    t = CommandInbox.__table__
    with runtime.db.reader() as session:
        conn = session.connection()
        pending = conn.scalar(select(func.count()).where(t.c.handled_at.is_(None)))
        rows = conn.execute(
            select(t.c.id, t.c.recipient, t.c.handled_at, t.c.outcome)
            .where(t.c.handled_at.is_not(None))
            .order_by(t.c.id.desc())
            .limit(RECENT)
        ).all()
    click.echo(f"pending {pending}")
    for row in rows:
        click.echo(f"  #{row.id} {row.handled_at:%Y-%m-%d %H:%M} {row.recipient}: {row.outcome}")


def moderation_owner_handler(conn: Connection, settings: Settings, request: Request) -> str:
    """Owner-address mail goes to moderation by email (it answers and confirms by itself)."""
    from mailgate.moderation.mail import handle_owner_mail

    return handle_owner_mail(conn, settings, request.message, request.list_name)


def register(main: click.Group) -> None:
    main.add_command(commands_group)
    add_service(start_commands, "commands")
    register_owner_handler(moderation_owner_handler)
