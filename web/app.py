"""The web archive's Starlette application: one route table, security headers, error pages.

`create_app(settings, db)` builds the app; `mailgate web` serves it with uvicorn and
`mailgate serve` mounts it (see `web.cli`). Every response carries a Content-Security-Policy
that forbids inline script and style, plus nosniff, frame and referrer headers. Unknown and
invisible things answer the same 404 page; wrong Basic credentials answer 401.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailgate.config import Settings
from mailgate.db import Database
from web import exports, feeds, ops, unsubscribe, views
from web.auth import Authenticator, BadCredentials
from web.render import BodyCache
from web.settings import WebSettings, web_settings
from web.state import WebState

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
REALM = 'Basic realm="mailgate archive", charset="UTF-8"'


class SecurityHeaders:
    """Adds the security headers to every response (a route may set a stricter CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def routes() -> list:
    """The route table (see `web.urls` for the URL contract)."""
    return [
        Route("/", views.index, name="index"),
        Route("/login", views.login, name="login"),
        Route("/search", views.search_page, name="search"),
        Route("/l/{name}/", views.list_page, name="list"),
        Route("/l/{name}/atom.xml", feeds.list_feed, name="list_feed"),
        Route("/l/{name}/{year:int}/{month:int}/", views.month_page, name="month"),
        Route("/l/{name}/{year:int}/{month:int}.mbox.gz", exports.month_mbox, name="month_mbox"),
        Route("/t/{thread_id:int}/", views.thread_page, name="thread"),
        Route("/t/{thread_id:int}/atom.xml", feeds.thread_feed, name="thread_feed"),
        Route("/t/{thread_id:int}/thread.mbox.gz", exports.thread_mbox, name="thread_mbox"),
        Route("/m/{rest:path}", views.message_dispatch, name="message"),
        Route("/p/{key}/", views.person_page, name="person"),
        Route("/digest/unsubscribe/{token}", unsubscribe.confirm_page, methods=["GET", "HEAD"]),
        Route("/digest/unsubscribe/{token}", unsubscribe.unsubscribe, methods=["POST"]),
        Route("/healthz", ops.healthz, name="healthz"),
        Route("/metrics", ops.metrics_page, name="metrics"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status not in (404, 405):
        return HTMLResponse(str(getattr(exc, "detail", "")), status_code=status)
    return views.error_page(request, 404, "not_found", "not_found_text")


async def _bad_credentials(request: Request, exc: Exception) -> Response:
    response = views.error_page(request, 401, "auth_required", "auth_required", anonymous=True)
    response.headers["www-authenticate"] = REALM
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    return views.error_page(request, 500, "error", "error", anonymous=True)


def create_app(settings: Settings, db: Database, web: WebSettings | None = None) -> Starlette:
    """The archive application over an open database."""
    web = web or web_settings(settings)
    app = Starlette(
        routes=routes(),
        exception_handlers={
            HTTPException: _not_found,
            BadCredentials: _bad_credentials,
            500: _server_error,
        },
    )
    app.state.web = WebState(
        settings=settings,
        web=web,
        db=db,
        templates=_templates(),
        auth=Authenticator(web),
        bodies=BodyCache(),
    )
    app.add_middleware(SecurityHeaders)
    return app
