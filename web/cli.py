"""Running the web archive: alone under uvicorn (`mailgate web`) or mounted by `mailgate serve`.

The click commands live in `mailgate/cli_web.py` (importing `mailgate` must not load the web
stack, so they import this module only when run). `make_app` builds the ASGI app for a
runtime; `serve` runs it with uvicorn. uvicorn's own proxy-header handling is off: the client
address must be the direct peer so that `[web] trusted_proxies` means what it says.
"""

from __future__ import annotations

from starlette.applications import Starlette

from mailgate.config import Settings
from mailgate.db import Database
from web.app import create_app
from web.auth import hash_password
from web.settings import WebSettings, web_settings

MOUNT_PATH = ""  # the archive is served from the root of base_url


def make_app(settings: Settings, db: Database) -> Starlette:
    """The archive app (raises ConfigError for a bad [web] table)."""
    return create_app(settings, db, web_settings(settings))


def listen_address(settings: Settings) -> tuple[str, int]:
    web: WebSettings = web_settings(settings)
    return web.host, web.port


def serve(
    settings: Settings, db: Database, host: str | None = None, port: int | None = None
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
        log_level="info",
    )


def password_hash(password: str) -> str:
    return hash_password(password)
