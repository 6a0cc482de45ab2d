"""`mailgate digest`: readers' digest subscriptions, and sending or previewing digests.

`subscribe`, `unsubscribe` and `list` manage the `subscriptions` table through
`mailgate.prefs` (e-mail commands change the same rows); `send` makes and delivers the due
digests (`--dry-run` shows them without writing); `preview ADDRESS` prints what that reader
would get now. `register` also adds the `digest` scheduler to `mailgate serve`. The digest
package (and jinja2) load only when a command runs: importing `mailgate` does not load them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from mailgate import prefs
from mailgate.cli_runtime import Runtime, configured_or_fail, emit_json, with_runtime
from mailgate.cli_serve import add_service
from mailgate.config import LANGUAGES, ConfigError

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@click.group("digest")
def digest_group() -> None:
    """Digests: subscriptions, sending, previews."""


def _address(value: str) -> str:
    address = value.strip().lower()
    local, at, domain = address.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in address):
        raise click.BadParameter(f"{value!r} is not an e-mail address", param_hint="ADDRESS")
    return address


def _list_option(runtime: Runtime, list_name: str | None) -> str:
    if list_name:
        configured_or_fail(runtime.settings, list_name)
    return list_name or ""


def _describe(sub: prefs.Subscription) -> str:
    scope = sub.list_name or "all lists"
    when = {
        "daily": f"daily at {sub.hour:02d}:00",
        "weekly": f"weekly on {WEEKDAY_NAMES[sub.weekday]} at {sub.hour:02d}:00",
        "off": "off",
    }[sub.frequency]
    tz = f" ({sub.timezone})" if sub.frequency != "off" else ""
    language = f", in {sub.language}" if sub.language and sub.frequency != "off" else ""
    return f"{sub.address}  {scope}: {when}{tz}{language}"


def _weekday(value: str | None) -> int | None:
    if value is None:
        return None
    from digest.periods import parse_weekday

    try:
        return parse_weekday(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--day") from None


@digest_group.command("subscribe")
@click.argument("address")
@click.option("--list", "list_name", default=None, help="One list (default: every list).")
@click.option("--daily", "frequency", flag_value="daily", help="One digest a day.")
@click.option("--weekly", "frequency", flag_value="weekly", help="One digest a week.")
@click.option("--day", default=None, help="Weekly digests: mon, tue, ... sun.")
@click.option("--hour", type=click.IntRange(0, 23), default=None, help="Local hour (0-23).")
@click.option("--tz", "timezone", default=None, help="Time zone, e.g. Europe/Paris.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    default=None,
    help="The digest's language (default: the list's, else the configured language).",
)
@with_runtime
def subscribe_cmd(
    runtime: Runtime,
    address: str,
    list_name: str | None,
    frequency: str | None,
    day: str | None,
    hour: int | None,
    timezone: str | None,
    language: str | None,
) -> None:
    """Subscribe ADDRESS to a daily or weekly digest (or change its schedule)."""
    if frequency is None:
        raise click.UsageError("choose --daily or --weekly")
    address = _address(address)
    name = _list_option(runtime, list_name)
    weekday = _weekday(day)
    try:
        with runtime.db.engine.begin() as conn:
            sub = prefs.set_digest(
                conn, address, frequency, list_name=name, weekday=weekday, hour=hour,
                timezone=timezone, language=language,
            )  # fmt: skip
    except prefs.PrefsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"subscribed: {_describe(sub)}")


@digest_group.command("unsubscribe")
@click.argument("address")
@click.option("--list", "list_name", default=None, help="One list (default: the all-lists one).")
@click.option("--all", "everything", is_flag=True, help="Every digest of this address.")
@with_runtime
def unsubscribe_cmd(
    runtime: Runtime, address: str, list_name: str | None, everything: bool
) -> None:
    """Stop ADDRESS's digest (of one list, of all lists, or --all of them)."""
    address = _address(address)
    with runtime.db.engine.begin() as conn:
        subs = prefs.subscriptions_of(conn, address)
        names = [s.list_name for s in subs] if everything else [list_name or ""]
        changed = [
            prefs.set_digest(conn, address, "off", list_name=s.list_name)
            for s in subs
            if s.list_name in names and s.frequency != "off"
        ]
    if not changed:
        raise click.ClickException(f"{address} has no such active digest")
    for sub in changed:
        click.echo(f"unsubscribed: {sub.address}  {sub.list_name or 'all lists'}")


@digest_group.command("list")
@click.argument("address", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_runtime
def list_cmd(runtime: Runtime, address: str | None, as_json: bool) -> None:
    """Active subscriptions (or every subscription of ADDRESS, including stopped ones)."""
    with runtime.db.engine.connect() as conn:
        if address:
            subs = prefs.subscriptions_of(conn, _address(address))
        else:
            subs = list(prefs.all_subscriptions(conn))
    for sub in subs:
        if as_json:
            emit_json(
                {"address": sub.address, "list": sub.list_name, "frequency": sub.frequency,
                 "weekday": sub.weekday, "hour": sub.hour, "timezone": sub.timezone,
                 "language": sub.language}
            )  # fmt: skip
        else:
            click.echo(_describe(sub))
    if not subs and not as_json:
        click.echo("no subscriptions")


def _now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "use ISO 8601, e.g. 2026-03-02T08:00Z", param_hint="--now"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


_now_option = click.option(
    "--now",
    "now_text",
    default=None,
    help="Act as if it were this moment (ISO 8601, UTC if naive).",
)


@digest_group.command("send")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; write and send nothing.")
@click.option("--no-deliver", is_flag=True, help="Queue the digests; leave sending to the outbox.")
@_now_option
@with_runtime
def send_cmd(runtime: Runtime, dry_run: bool, no_deliver: bool, now_text: str | None) -> None:
    """Make every due digest, queue each exactly once, and deliver the outbox."""
    from digest.send import run_digests

    try:
        report = run_digests(
            runtime.db, runtime.settings, now=_now(now_text), dry_run=dry_run,
            send=not no_deliver,
        )  # fmt: skip
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if dry_run:
        for built in report.built:
            sub = built.due.sub
            what = f"{built.thread_count} threads" if built.message else "nothing new"
            click.echo(
                f"would send {sub.address} [{sub.list_name or '*'}] {built.due.period.key}: {what}"
            )
    figures = ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items())
    click.echo(
        f"due {report.due}, queued {report.queued}, nothing new {report.empty}, "
        f"already done {report.already}; sent {report.sent}, retry later {report.retried}, "
        f"failed {report.failed} ({figures})"
    )
    if report.failed:
        raise SystemExit(1)


@digest_group.command("preview")
@click.argument("address")
@click.option("--list", "list_name", default=None, help="Only the digest of this list.")
@click.option("--html", is_flag=True, help="Print the HTML part instead of the text part.")
@_now_option
@with_runtime
def preview_cmd(
    runtime: Runtime, address: str, list_name: str | None, html: bool, now_text: str | None
) -> None:
    """Print the digest ADDRESS would get now (nothing is sent or recorded)."""
    from digest.compose import as_email
    from digest.send import preview

    address = _address(address)
    if list_name:
        configured_or_fail(runtime.settings, list_name)
    try:
        built = preview(
            runtime.db, runtime.settings, address, now=_now(now_text), list_name=list_name
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for item in built:
        if item.message is None:
            since = f"{item.due.period.start:%Y-%m-%d %H:%M} UTC"
            click.echo(f"{address} [{item.due.sub.list_name or '*'}]: nothing new since {since}")
            continue
        message = as_email(item.message)
        part = message.get_body(("html",) if html else ("plain",))
        click.echo(f"Subject: {message['Subject']}")
        click.echo(part.get_content() if part is not None else item.text)


async def _digest_service(context):  # type: ignore[no-untyped-def]
    """`mailgate serve`'s digest scheduler (the digest package loads only when serve runs)."""
    from digest.service import start_digests

    return await start_digests(context)


def register(main: click.Group) -> None:
    main.add_command(digest_group)
    add_service(_digest_service, "digest")
