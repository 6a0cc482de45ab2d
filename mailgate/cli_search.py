"""`mailgate search`: the search query language on the command line.

The command is an administrator's tool: by default it searches every list, private ones
included. `--as USER` searches as that reader would (the lists `mailgate.access` lets them
read), `--anonymous` as a visitor without an account, to check what someone can see.
Registered on the `mailgate` group by `mailgate.cli`.
"""

from __future__ import annotations

from datetime import UTC

import click

from mailgate.access import ADMINISTRATOR, ANONYMOUS, Viewer
from mailgate.cli_runtime import Runtime, emit_json, with_runtime
from mailgate.config import ConfigError
from mailgate.query import QueryError
from mailgate.search import Hit, SearchPage, search
from mailgate.search_rank import Snippet
from mailgate.search_sql import list_names


def register(main: click.Group) -> None:
    main.add_command(search_cmd)


def _sender(hit: Hit) -> str:
    return f"{hit.from_name} <{hit.from_addr}>" if hit.from_name else hit.from_addr


def _iso(hit: Hit) -> str:
    return hit.date.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def _styled(snippet: Snippet) -> str:
    """The snippet with highlighted words in bold (plain when the output is not a terminal)."""
    return "".join(
        click.style(text, bold=True, fg="yellow") if marked else text
        for text, marked in snippet.parts()
    )


def _as_json(hit: Hit) -> dict:
    return {
        "message_id": hit.message_id,
        "thread_id": hit.thread_id,
        "list": hit.list,
        "lists": list(hit.lists),
        "subject": hit.subject,
        "from": _sender(hit),
        "from_name": hit.from_name,
        "from_address": hit.from_addr,
        "date": _iso(hit),
        "snippet": hit.snippet.text,
        "highlights": [list(span) for span in hit.snippet.highlights],
        "score": round(hit.score, 6),
        "thread_matches": hit.thread_matches,
    }


def _viewer(as_user: str | None, anonymous: bool) -> Viewer:
    if as_user and anonymous:
        raise click.ClickException("use either --as USER or --anonymous, not both")
    if anonymous:
        return ANONYMOUS
    return Viewer(as_user) if as_user else ADMINISTRATOR


@click.command("search")
@click.argument("query")
@click.option("--list", "list_names_", multiple=True, help="Only this list (repeatable).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as a JSON list.")
@click.option(
    "--order", type=click.Choice(["relevance", "newest"]), default="relevance", show_default=True
)
@click.option("--threads", is_flag=True, help="One hit per thread.")
@click.option("--as", "as_user", metavar="USER", help="Search as this reader (user or address).")
@click.option("--anonymous", is_flag=True, help="Search as a visitor without an account.")
@click.option("--cursor", help="Show the page after the one that printed this cursor.")
@with_runtime
def search_cmd(
    runtime: Runtime,
    query: str,
    list_names_: tuple[str, ...],
    limit: int,
    as_json: bool,
    order: str,
    threads: bool,
    as_user: str | None,
    anonymous: bool,
    cursor: str | None,
) -> None:
    """Search the archive with the query language (see the README, "Search").

    Every list is searched, private ones included, unless --as or --anonymous is given.
    """
    viewer = _viewer(as_user, anonymous)
    runtime.contexts()
    with runtime.db.reader() as session:
        conn = session.connection()
        known = set(list_names(conn).values())
        unknown = [name for name in list_names_ if name not in known]
        if unknown:
            raise click.ClickException(f"unknown list {unknown[0]!r}")
        try:
            page = search(
                conn,
                runtime.settings,
                query,
                viewer=viewer,
                lists=list(list_names_) or None,
                limit=limit,
                cursor=cursor,
                group_by_thread=threads,
                order=order,
            )
        except QueryError as exc:
            raise click.ClickException(f"invalid query: {exc}") from None
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json([_as_json(hit) for hit in page.hits])
    else:
        _print_page(page)
    if page.next_cursor:
        click.echo(f"next page: --cursor {page.next_cursor}", err=True)


def _print_page(page: SearchPage) -> None:
    about = "about " if page.total_is_estimate else ""
    click.echo(f"{about}{page.total} matching message{'s' if page.total != 1 else ''}")
    for hit in page.hits:
        lists = ", ".join(hit.lists)
        click.echo(f"\n{hit.date:%Y-%m-%d %H:%M}  {lists}  {_sender(hit)}")
        click.echo(f"  {_styled(hit.subject_snippet)}  <{hit.message_id}>")
        if hit.snippet.text:
            click.echo(f"  {_styled(hit.snippet)}")
