"""`mailgate people`: profiles, "who knows about X?", related people, merges and splits.

An administrator's tool: profiles and who-knows read every list unless `--as USER` or
`--anonymous` asks for what that reader may see (`mailgate.access`). Identity changes are
logged with the actor and reason and can be undone. Registered on the `mailgate` group by
`mailgate.cli`.
"""

from __future__ import annotations

import dataclasses
import getpass

import click

from mailgate import people
from mailgate.access import visible_list_ids
from mailgate.cli_runtime import Runtime, emit_json, with_runtime
from mailgate.cli_search import _viewer
from mailgate.config import ConfigError
from mailgate.people import identity
from mailgate.query import QueryError

VIEWER_OPTIONS = (
    click.option("--as", "as_user", metavar="USER", help="As this reader (user or address)."),
    click.option("--anonymous", is_flag=True, help="As a visitor without an account."),
)


def register(main: click.Group) -> None:
    main.add_command(people_group)


def _viewing(func):  # type: ignore[no-untyped-def]
    for option in reversed(VIEWER_OPTIONS):
        func = option(func)
    return func


@click.group("people")
def people_group() -> None:
    """Profiles, expertise and identities derived from what people write."""


def _person(conn, address: str) -> int:  # type: ignore[no-untyped-def]
    person = people.person_for_address(conn, address)
    if person is None:
        raise click.ClickException(f"nobody writes from {address}")
    return person


def _scope(runtime: Runtime, conn, as_user: str | None, anonymous: bool) -> list[int]:  # type: ignore[no-untyped-def]
    return visible_list_ids(conn, runtime.settings, _viewer(as_user, anonymous))


@people_group.command("show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print the profile as JSON.")
@_viewing
@with_runtime
def show(runtime: Runtime, address: str, as_json: bool, as_user: str | None, anonymous: bool):
    """The profile of the person who writes from ADDRESS."""
    runtime.contexts()
    with runtime.db.reader() as session:
        conn = session.connection()
        person = _person(conn, address)
        scope = _scope(runtime, conn, as_user, anonymous)
        found = people.profile(conn, runtime.settings, person, scope=scope)
    if found.messages == 0:
        raise click.ClickException(f"no visible message from {address}")
    if as_json:
        emit_json(dataclasses.asdict(found))
        return
    _print_profile(found)


def _print_profile(p: people.Profile) -> None:
    click.echo(f"{p.name} (person {p.person_id})")
    click.echo(f"  addresses: {', '.join(p.addresses)}")
    click.echo(f"  names: {', '.join(p.names) or '-'}")
    click.echo(f"  lists: {', '.join(p.lists)}")
    click.echo(
        f"  {p.messages} messages, {p.threads_started} threads started, {p.replies} replies, "
        f"{p.first_date:%Y-%m-%d} .. {p.last_date:%Y-%m-%d}"
    )
    click.echo("  topics: " + ", ".join(t.display for t in p.topics))
    if p.correspondents:
        click.echo(
            "  exchanges most with: "
            + ", ".join(f"{c.name} ({c.replies_to + c.replies_from})" for c in p.correspondents)
        )
    for f in p.attachments[:5]:
        click.echo(f"  shared {f.filename} <{f.message_id}>")


@people_group.command("who-knows")
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the ranking as JSON.")
@_viewing
@with_runtime
def who_knows_cmd(
    runtime: Runtime, query: str, limit: int, as_json: bool, as_user: str | None, anonymous: bool
):
    """People ranked by the evidence for QUERY in their own messages."""
    runtime.contexts()
    with runtime.db.reader() as session:
        conn = session.connection()
        scope = _scope(runtime, conn, as_user, anonymous)
        try:
            experts = people.who_knows(conn, runtime.settings, query, scope=scope, limit=limit)
        except QueryError as exc:
            raise click.ClickException(f"invalid query: {exc}") from None
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json([dataclasses.asdict(e) for e in experts])
        return
    if not experts:
        click.echo("nobody wrote about that")
    for rank, e in enumerate(experts, 1):
        click.echo(f"{rank}. {e.name} (person {e.person_id}, score {e.score:.3f})")
        for mid in e.evidence[:3]:
            click.echo(f"     <{mid}>")


@people_group.command("related")
@click.argument("address")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@_viewing
@with_runtime
def related_cmd(
    runtime: Runtime, address: str, limit: int, as_json: bool, as_user: str | None, anonymous: bool
):
    """People on other lists writing about the same topics as ADDRESS."""
    runtime.contexts()
    with runtime.db.reader() as session:
        conn = session.connection()
        person = _person(conn, address)
        scope = _scope(runtime, conn, as_user, anonymous)
        found = people.related_people(conn, runtime.settings, person, scope=scope, limit=limit)
    if as_json:
        emit_json([dataclasses.asdict(r) for r in found])
        return
    for r in found:
        lists, topics = ", ".join(r.lists), ", ".join(r.topics)
        click.echo(f"{r.name} (person {r.person_id}) on {lists}: {topics}")


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "cli"


@people_group.command("merge")
@click.argument("address")
@click.argument("other")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option("--actor", help="Who decides (default: the system user).")
@with_runtime
def merge_cmd(runtime: Runtime, address: str, other: str, reason: str, actor: str | None) -> None:
    """Make OTHER's person the same as ADDRESS's (reversible with `people undo`)."""
    runtime.contexts()
    with runtime.db.engine.begin() as conn:
        keep, gone = _person(conn, address), _person(conn, other)
        try:
            entry = people.merge_people(
                conn, keep, gone, actor=_actor(actor), reason=reason, settings=runtime.settings
            )
        except identity.IdentityError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"merged person {gone} into {keep} (change {entry}; to undo: people undo {entry})")


@people_group.command("split")
@click.argument("address")
@click.option("--reason", default="", help="Why (kept in the log).")
@click.option("--actor", help="Who decides (default: the system user).")
@with_runtime
def split_cmd(runtime: Runtime, address: str, reason: str, actor: str | None) -> None:
    """Make ADDRESS a person of its own."""
    runtime.contexts()
    with runtime.db.engine.begin() as conn:
        try:
            new = people.split_address(
                conn, address, actor=_actor(actor), reason=reason, settings=runtime.settings
            )
        except identity.IdentityError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{address} is now person {new}")


@people_group.command("undo")
@click.argument("change", type=int)
@click.option("--actor", help="Who decides (default: the system user).")
@with_runtime
def undo_cmd(runtime: Runtime, change: int, actor: str | None) -> None:
    """Reverse a merge or split from the log (`people history`)."""
    runtime.contexts()
    with runtime.db.engine.begin() as conn:
        try:
            click.echo(people.undo(conn, change, actor=_actor(actor), settings=runtime.settings))
        except identity.IdentityError as exc:
            raise click.ClickException(str(exc)) from None


@people_group.command("history")
@click.option("--json", "as_json", is_flag=True)
@with_runtime
def history_cmd(runtime: Runtime, as_json: bool) -> None:
    """The log of merges, splits and undos, newest first."""
    runtime.contexts()
    with runtime.db.reader() as session:
        rows = identity.history(session.connection())
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        undone = " (undone)" if r["undone"] else ""
        moved = ", ".join(r["addresses"])
        click.echo(
            f"{r['id']} {r['created_at']} {r['action']} {r['person_id']}<-{r['other_id']} "
            f"{moved} by {r['actor']}: {r['reason']}{undone}"
        )


@people_group.command("proposals")
@click.option("--json", "as_json", is_flag=True)
@click.option("--apply", "apply_", is_flag=True, help="Merge those at or above --min-confidence.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.7, show_default=True)
@click.option("--actor", help="Who decides (default: the system user).")
@with_runtime
def proposals_cmd(
    runtime: Runtime, as_json: bool, apply_: bool, min_confidence: float, actor: str | None
) -> None:
    """Addresses that are probably one person (nothing changes without --apply)."""
    runtime.contexts()
    with runtime.db.engine.begin() as conn:
        try:
            if apply_:
                found = people.apply_proposals(
                    conn, runtime.settings, actor=_actor(actor), min_confidence=min_confidence
                )
            else:
                found = people.proposals(conn, runtime.settings)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json([dataclasses.asdict(p) for p in found])
        return
    verb = "merged" if apply_ else "proposed"
    for p in found:
        click.echo(
            f"{verb} {p.confidence:.2f}: {p.addresses[0]} + {p.addresses[1]} "
            f"({'; '.join(p.evidence)})"
        )
