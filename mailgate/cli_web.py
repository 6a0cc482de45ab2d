"""The `mailgate web` commands: serve the archive alone, and make password hashes.

`mailgate web` runs the archive under uvicorn on `[web] host`/`port` (or --host/--port);
`mailgate web hash-password USER` prints a `[web.users]` line with a scrypt hash; `register`
also adds the archive to the services of `mailgate serve` (`[web] enabled`). The web stack is
imported only when a command runs (importing `mailgate` must not load it).
"""

from __future__ import annotations

import sys

import click

from mailgate.cli_runtime import Runtime, with_runtime
from mailgate.cli_serve import add_service
from mailgate.config import ConfigError


@click.group("web", invoke_without_command=True)
@click.option("--host", default=None, help="Address to listen on (default: [web] host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: [web] port).")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="uvicorn's log level (info logs every request).",
)
@with_runtime
def web_group(runtime: Runtime, host: str | None, port: int | None, log_level: str) -> None:
    """Serve the read-only web archive (uvicorn) until interrupted."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    from web import cli as web_cli

    try:
        runtime.contexts()
        web_cli.listen_address(runtime.settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    web_cli.serve(runtime.settings, runtime.db, host=host, port=port, log_level=log_level)


@web_group.command("hash-password")
@click.argument("user")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--config", "config_path", hidden=True, help="Accepted for uniformity; unused.")
def hash_password_cmd(user: str, from_stdin: bool, config_path: str | None) -> None:
    """Print a [web.users] line for USER with a scrypt hash of the password."""
    from web import cli as web_cli

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("the password is empty")
    click.echo(f'{user} = "{web_cli.password_hash(password)}"')


async def _web_service(context):  # type: ignore[no-untyped-def]
    """`mailgate serve`'s web archive service (the web stack loads only when serve runs)."""
    from web import cli as web_cli

    return await web_cli.start_web(context)


def register(main: click.Group) -> None:
    main.add_command(web_group)
    add_service(_web_service, "web")
