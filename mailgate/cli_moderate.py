"""`mailgate moderate ...`: moderation for administrators, acting at once.

One subcommand per action of `mailgate.moderation.actions` (hide, unhide, redact,
redact-attachment, erase, erase-person, ban, unban, move, split, merge, merge-people,
split-person), each with `--reason`; irreversible ones ask first unless `--yes`. The actor
recorded in the audit log is ``cli:<user>``. Also `log` (the audit log), `bans`, `fixes`,
`unfix` and `compact` (make storage forget erased bytes now; erasures do it themselves).
Registered on the `mailgate` group by `mailgate.cli`.
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from mailgate.cli_runtime import Runtime, emit_json, with_runtime
from mailgate.moderation import actions, blocks, compaction, threadfix
from mailgate.moderation.authority import Authority
from mailgate.moderation.common import CLI_ACTOR_PREFIX, ModerationError, log_entries

DEFAULT_LOG_LINES = 50


def cli_authority() -> Authority:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Authority(actor=CLI_ACTOR_PREFIX + user, admin=True)


def run_action(runtime: Runtime, spec: actions.Spec, args: dict, reason: str) -> str:
    """Apply one action in its own transaction; compact storage after an erasure."""
    try:
        with runtime.db.engine.begin() as conn:
            summary = actions.apply_action(
                conn, runtime.settings, cli_authority(), spec.name, args, reason
            )
    except ModerationError as exc:
        raise click.ClickException(str(exc)) from None
    if spec.name in compaction.COMPACTING_ACTIONS:
        compaction.compact(runtime.db)
    return summary


def _make_command(spec: actions.Spec) -> click.Command:
    def callback(runtime: Runtime, reason: str, yes: bool, **kwargs: Any) -> None:
        args = {k: v for k, v in kwargs.items() if v is not None}
        if not spec.reversible and not yes:
            click.confirm(f"{spec.name} cannot be undone. Go on?", abort=True)
        click.echo(run_action(runtime, spec, args, reason))

    wrapped = with_runtime(callback)  # adds --config (as a click decorator would)
    params: list[click.Parameter] = [click.Argument([p]) for p in spec.params]
    params += [
        *getattr(wrapped, "__click_params__", []),
        click.Option(["--reason"], default="", help="Why (kept in the audit log)."),
        click.Option(["--yes", "-y"], is_flag=True, help="Do not ask before irreversible acts."),
    ]
    if spec.name in ("ban", "unban"):
        params.append(click.Option(["--list", "list"], help="Only this list (default: all)."))
    return click.Command(spec.name, callback=wrapped, params=params, help=spec.help.capitalize())


@click.group()
def moderate() -> None:
    """Hide, redact, erase, ban, fix threads and people; every action is audited."""


@moderate.command("log")
@click.option("--list", "list_name", help="Only entries of this list.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=DEFAULT_LOG_LINES)
@click.option("--json", "as_json", is_flag=True)
@with_runtime
def log_cmd(runtime: Runtime, list_name: str | None, limit: int, as_json: bool) -> None:
    """The audit log, newest first: when, who, what, target, why."""
    with runtime.db.reader() as session:
        names = [list_name] if list_name else None
        entries = log_entries(session.connection(), list_names=names, limit=limit)
    for e in entries:
        if as_json:
            emit_json(e.__dict__ if hasattr(e, "__dict__") else _entry(e))
        else:
            reason = f" -- {e.reason}" if e.reason else ""
            where = f" [{e.list_name}]" if e.list_name else ""
            click.echo(
                f"{e.id} {e.created_at:%Y-%m-%d %H:%M:%S} {e.actor} {e.action} {e.target}"
                f"{where}{reason}"
            )


def _entry(e: Any) -> dict:
    return {name: getattr(e, name) for name in e.__slots__}


@moderate.command("bans")
@click.option("--json", "as_json", is_flag=True)
@with_runtime
def bans_cmd(runtime: Runtime, as_json: bool) -> None:
    """Banned sender addresses and domains."""
    with runtime.db.reader() as session:
        found = blocks.bans(session.connection())
    for ban in found:
        if as_json:
            emit_json(_entry(ban))
        else:
            click.echo(f"{ban.value} {ban.list_name or '*'} {ban.actor} {ban.reason}".rstrip())


@moderate.command("fixes")
@with_runtime
def fixes_cmd(runtime: Runtime) -> None:
    """Manual thread fixes, in the order they are applied."""
    with runtime.db.reader() as session:
        for fix in threadfix.fixes(session.connection()):
            target = f" <{fix.target_mid}>" if fix.target_mid else ""
            click.echo(f"{fix.id} {fix.kind} <{fix.mid}>{target}")


@moderate.command("unfix")
@click.argument("fix_id", type=int)
@with_runtime
def unfix_cmd(runtime: Runtime, fix_id: int) -> None:
    """Forget a thread fix (threads change back at the next `mailgate rebuild`)."""
    with runtime.db.engine.begin() as conn:
        if not threadfix.remove_fix(conn, fix_id):
            raise click.ClickException(f"no thread fix {fix_id}")
        from mailgate.moderation.common import record

        record(conn, actor=cli_authority().actor, action="unfix", target=str(fix_id))
    click.echo(f"thread fix {fix_id} removed; run `mailgate rebuild` to re-thread")


@moderate.command("compact")
@with_runtime
def compact_cmd(runtime: Runtime) -> None:
    """Make the database forget erased and redacted bytes now."""
    done = compaction.compact(runtime.db)
    state = "" if done.wal_truncated else " (a reader held the WAL: run again later)"
    click.echo(f"storage compacted; {done.entries} erasure(s) or redaction(s) settled{state}")


for _spec in actions.SPECS:
    moderate.add_command(_make_command(_spec))


def register(main: click.Group) -> None:
    main.add_command(moderate)
