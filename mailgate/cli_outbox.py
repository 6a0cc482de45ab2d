"""`mailgate outbox`: see and drain the queue of mail mailgate sends; registers the `outbox`
service of `mailgate serve`. Called by `mailgate.cli` at start-up."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from mailgate.cli_runtime import Runtime, with_runtime
from mailgate.cli_serve import add_service
from mailgate.config import ConfigError
from mailgate.models import Outbox
from mailgate.outbox import deliver_due, start_outbox

RECENT_FAILURES = 20


@click.group("outbox")
def outbox_group() -> None:
    """Mail mailgate sends (replies, confirmations, digests, notices)."""


@outbox_group.command("send")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@with_runtime
def send_cmd(runtime: Runtime, limit: int) -> None:
    """Send what is due now through the relay, then exit."""
    try:
        stats = deliver_due(runtime.db, runtime.settings, limit=limit)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"sent {stats.sent}, retry later {stats.retried}, failed {stats.failed}")
    if stats.failed:
        raise SystemExit(1)


@outbox_group.command("status")
@with_runtime
def status_cmd(runtime: Runtime) -> None:
    """Counts by state, and the most recent failures with the relay's answer."""
    t = Outbox.__table__
    with runtime.db.engine.connect() as conn:
        sent = conn.scalar(select(func.count()).where(t.c.sent_at.is_not(None)))
        failed = conn.scalar(select(func.count()).where(t.c.failed_at.is_not(None)))
        total = conn.scalar(select(func.count()).select_from(t))
        rows = conn.execute(
            select(t.c.id, t.c.recipients, t.c.last_error)
            .where(t.c.failed_at.is_not(None))
            .order_by(t.c.id.desc())
            .limit(RECENT_FAILURES)
        ).all()
    click.echo(f"queued {total - sent - failed}, sent {sent}, failed {failed}")
    for row in rows:
        click.echo(f"  #{row.id} to {row.recipients.replace(chr(10), ', ')}: {row.last_error}")


def register(main: click.Group) -> None:
    main.add_command(outbox_group)
    add_service(start_outbox)
