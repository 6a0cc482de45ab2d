"""Archive commands of the CLI: import, rebuild, quarantine, threads.

Registered on the `mailgate` group by `mailgate.cli`; each command is a thin layer over the
core (`ingest.bulk`, `rebuild`, `store`, `threads`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mailgate import quarantine_store
from mailgate import rebuild as rebuilding
from mailgate.bulk import ImportSummary, import_messages
from mailgate.cli_runtime import Runtime, emit_json, with_runtime
from mailgate.config import ConfigError
from mailgate.ingest.mbox import ArchiveError, archive_size, read_archive
from mailgate.people.upkeep import rebuild_people
from mailgate.pipeline import Where, ingest
from mailgate.readers import list_threads


def print_summary(summary: ImportSummary, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "imported": summary.imported,
                "duplicates": summary.duplicates,
                "quarantined": summary.quarantined,
            }
        )
        return
    click.echo(
        f"imported {summary.imported}, duplicates {summary.duplicates}, "
        f"quarantined {summary.quarantined}"
    )
    for reason, count in summary.reasons.most_common():
        click.echo(f"  quarantined ({count}): {reason}")


def run_import(
    runtime: Runtime, path: Path, list_name: str, *, jobs: int | None, progress: bool
) -> ImportSummary:
    ctx = runtime.contexts(extra_list=list_name)[list_name]
    total = archive_size(path)
    with click.progressbar(
        length=total, label=f"importing {path.name}", file=sys.stderr, hidden=not progress
    ) as bar:
        done = 0

        def items():
            nonlocal done
            for message in read_archive(path):
                bar.update(message.bytes_read - done)
                done = message.bytes_read
                yield message.raw, message.arrival

        try:
            return import_messages(
                runtime.db, ctx, items(), source=f"import:{path.name}", workers=jobs
            )
        except (ArchiveError, OSError, EOFError) as exc:
            raise click.ClickException(
                f"import stopped: {exc}. Messages already committed are kept; "
                "run the same import again to continue (it skips what is archived)."
            ) from None


def register(main: click.Group) -> None:
    main.add_command(import_cmd)
    main.add_command(rebuild_cmd)
    main.add_command(quarantine)
    main.add_command(threads_cmd)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--list", "list_name", required=True, help="List the messages belong to.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=None,
    help="Parser processes (default: number of CPUs, at most 4).",
)
@click.option("--no-progress", is_flag=True, help="Do not show a progress bar.")
@with_runtime
def import_cmd(
    runtime: Runtime, path: Path, list_name: str, as_json: bool, jobs: int | None, no_progress: bool
) -> None:
    """Import an mbox (mboxo/mboxrd, optionally .gz), a Maildir or message files."""
    summary = run_import(
        runtime, path, list_name, jobs=jobs, progress=not no_progress and not as_json
    )
    print_summary(summary, as_json)


@click.command("rebuild")
@click.option("--search", "search_only", is_flag=True, help="Only rebuild the search index.")
@click.option("--people", "people_only", is_flag=True, help="Only recompute the profiles.")
@click.option("--jobs", type=click.IntRange(1, 16), default=None, help="Parser processes.")
@with_runtime
def rebuild_cmd(runtime: Runtime, search_only: bool, people_only: bool, jobs: int | None) -> None:
    """Re-derive everything (threads, bodies, search, profiles) from the raw messages."""
    contexts = runtime.contexts()
    if people_only:
        with runtime.db.engine.begin() as conn:
            try:
                count = rebuild_people(conn, runtime.settings)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        click.echo(f"profiles recomputed from {count} messages")
        return
    if search_only:
        count = rebuilding.rebuild_search(runtime.db)
        click.echo(f"search index rebuilt for {count} messages")
        return
    summary = rebuilding.rebuild_all(runtime.db, contexts, workers=jobs)
    click.echo(
        f"rebuilt from raw messages: {summary.imported} messages, "
        f"{summary.duplicates} duplicate copies, {summary.quarantined} quarantined"
    )


@click.group()
def quarantine() -> None:
    """Mail that could not be archived, kept raw with its reason."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--all", "include_resolved", is_flag=True, help="Include entries already retried.")
@with_runtime
def quarantine_list(runtime: Runtime, as_json: bool, include_resolved: bool) -> None:
    """List quarantined messages with their reasons."""
    with runtime.db.reader() as session:
        entries = quarantine_store.entries(session.connection(), include_resolved=include_resolved)
    if as_json:
        emit_json(
            [
                {
                    "id": e.id,
                    "list": e.list_name,
                    "source": e.source,
                    "reason": e.reason,
                    "size": e.size,
                    "created_at": e.created_at.isoformat(),
                    "attempts": e.attempts,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        click.echo("quarantine is empty")
    for e in entries:
        click.echo(
            f"#{e.id} {e.created_at:%Y-%m-%d %H:%M} {e.list_name or '-'} "
            f"({e.size} bytes, {e.source}): {e.reason}"
        )


@quarantine.command("retry")
@click.argument("entry_ids", nargs=-1, type=int)
@with_runtime
def quarantine_retry(runtime: Runtime, entry_ids: tuple[int, ...]) -> None:
    """Run quarantined messages through ingest again (all of them when no id is given)."""
    contexts = runtime.contexts()
    with runtime.db.reader() as session:
        pending = [e.id for e in quarantine_store.entries(session.connection())]
    targets = [i for i in entry_ids] if entry_ids else pending
    unknown = set(targets) - set(pending)
    if unknown:
        raise click.ClickException(f"no pending quarantine entry {sorted(unknown)}")
    stored = 0
    for entry_id in targets:
        with runtime.db.engine.begin() as conn:
            raw, list_name = quarantine_store.raw_of(conn, entry_id) or (b"", "")
            ctx = contexts.get(list_name)
            if ctx is None:
                click.echo(f"#{entry_id}: list {list_name!r} is not configured; kept")
                continue
            result = ingest(conn, raw, ctx, Where(list_name, f"retry:{entry_id}"))
            if result.outcome.value != "quarantined":
                quarantine_store.resolve(conn, entry_id)
                stored += 1
            click.echo(f"#{entry_id}: {result.outcome.value} {result.reason}".rstrip())
    click.echo(f"{stored} of {len(targets)} archived")


@click.command("threads")
@click.option("--list", "list_name", required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per thread and line.")
@with_runtime
def threads_cmd(runtime: Runtime, list_name: str, as_json: bool) -> None:
    """Print the threads of a list with each message's parent and how it was linked."""
    contexts = runtime.contexts()
    if list_name not in contexts:
        raise click.ClickException(f"unknown list {list_name!r}")
    with runtime.db.reader() as session:
        for thread in list_threads(session.connection(), contexts[list_name].list_id):
            if as_json:
                click.echo(json.dumps(thread, ensure_ascii=False))
            else:
                click.echo(f"thread {thread['thread_id']}: {len(thread['messages'])} messages")
                for m in thread["messages"]:
                    click.echo(f"  {'  ' * m['depth']}{m['message_id']} [{m['link']}]")


def print_threads(runtime: Runtime, list_name: str) -> None:
    """Each thread of a list with its messages, indented (what `mailgate demo` shows)."""
    ctx = runtime.contexts()[list_name]
    with runtime.db.reader() as session:
        for thread in list_threads(session.connection(), ctx.list_id):
            click.echo(f"thread {thread['thread_id']}: {thread['subject']}")
            for m in thread["messages"]:
                click.echo(f"  {'  ' * m['depth']}- {m['from']} ({m['link']})")
