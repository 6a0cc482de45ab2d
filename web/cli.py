"""Running the web archive: alone under uvicorn (`mailgate web`) or inside `mailgate serve`.

`start_web(context)` is the service starter `mailgate serve` runs (its context gives the
settings and the database): uvicorn in the serving event loop, without its own signal
handlers, stopped with the other services.

The click commands live in `mailgate/cli_web.py` (importing `mailgate` must not load the web
stack, so they import this module only when run). `make_app` builds the ASGI app for a
runtime; `serve` runs it with uvicorn. uvicorn's own proxy-header handling is off: the client
address must be the direct peer so that `[web] trusted_proxies` means what it says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any, Protocol

from starlette.applications import Starlette

from mailgate.config import Settings
from mailgate.db import Database
from web.app import create_app
from web.auth import hash_password
from web.settings import WebSettings, web_settings

STARTUP_POLL_SECONDS = 0.01
log = logging.getLogger("mailgate.web")


def make_app(settings: Settings, db: Database) -> Starlette:
    """The archive app (raises ConfigError for a bad [web] table)."""
    return create_app(settings, db, web_settings(settings))


def listen_address(settings: Settings) -> tuple[str, int]:
    web: WebSettings = web_settings(settings)
    return web.host, web.port


def serve(
    settings: Settings,
    db: Database,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve the archive with uvicorn until interrupted."""
    import uvicorn

    default_host, default_port = listen_address(settings)
    uvicorn.run(
        make_app(settings, db),
        host=host or default_host,
        port=default_port if port is None else port,
        proxy_headers=False,
        server_header=False,
        log_level=log_level,
    )


def password_hash(password: str) -> str:
    return hash_password(password)


class _Context(Protocol):
    settings: Settings
    db: Database


class _EmbeddedServer:
    """uvicorn inside another program's event loop: the host program owns the signals."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.server = Server(config)


class WebService:
    """The archive as a service of `mailgate serve` (name, describe(), stop())."""

    name = "web"

    def __init__(self, embedded: _EmbeddedServer, task: asyncio.Task, address: str) -> None:
        self._server = embedded.server
        self._task = task
        self.address = address

    def describe(self) -> str:
        return f"web listening on {self.address} (the archive: http://{self.address}/)"

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


async def start_web(context: _Context) -> WebService | None:
    """Start the archive in the running event loop (a `mailgate serve` service starter).

    None when `[web] enabled = false`, or when its address cannot be bound: the archive only
    reads, so it must not keep the mail receivers from running (the error is logged).
    """
    import uvicorn

    web = web_settings(context.settings)
    if not web.enabled:
        return None
    try:
        sock = _listen(web.host, web.port)
    except OSError as exc:
        log.error(
            "web archive not started: cannot listen on %s port %s: %s", web.host, web.port, exc
        )
        return None
    config = uvicorn.Config(
        create_app(context.settings, context.db, web),
        proxy_headers=False,
        server_header=False,
        lifespan="off",
        log_level="warning",
    )
    embedded = _EmbeddedServer(config)
    task = asyncio.create_task(embedded.server.serve(sockets=[sock]))
    while not embedded.server.started:
        if task.done():
            sock.close()
            task.result()  # raises what stopped it
            raise RuntimeError("the web archive stopped while starting")
        await asyncio.sleep(STARTUP_POLL_SECONDS)
    host, port = sock.getsockname()[:2]
    return WebService(embedded, task, f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
