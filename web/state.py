"""What the app keeps between requests (settings, database, templates, caches) and what each
request knows about its reader (`Page`: viewer, visible lists, language, URLs).

`page(request, conn)` is the one place a view learns which lists its reader may see; it asks
`mailgate.access`. Called by `web.views`, `web.feeds` and `web.exports`.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy import Connection
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailgate import access, archive_reads, links
from mailgate.access import Viewer
from mailgate.config import Settings
from mailgate.db import Database
from web.article import article
from web.auth import Authenticator
from web.i18n import Translator, choose_language
from web.render import BodyCache, sender_label, show_address
from web.settings import WebSettings
from web.urls import Urls

MONTH_CACHE_SECONDS = 120.0
PERSON_KEYS_REFRESH_SECONDS = 30.0


class TtlCache:
    """A small thread-safe cache whose entries expire after `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
            value = compute()  # under the lock: concurrent misses compute once
            self._items[key] = (now, value)
            return value


@dataclass
class WebState:
    settings: Settings
    web: WebSettings
    db: Database
    templates: Environment
    auth: Authenticator
    bodies: BodyCache
    months: TtlCache = field(default_factory=lambda: TtlCache(MONTH_CACHE_SECONDS))
    _person_keys: dict[str, str] = field(default_factory=dict)
    _person_keys_at: float = -1e9
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def person_address(self, conn: Connection, key: str) -> str | None:
        """The sender address behind a person key (the key map is rebuilt on a miss, at most
        every PERSON_KEYS_REFRESH_SECONDS)."""
        with self._lock:
            found = self._person_keys.get(key)
            if (
                found is not None
                or time.monotonic() - self._person_keys_at < PERSON_KEYS_REFRESH_SECONDS
            ):
                return found
            self._person_keys = {
                links.person_key(addr): addr
                for addr in archive_reads.sender_addresses(conn)
                if addr
            }
            self._person_keys_at = time.monotonic()
            return self._person_keys.get(key)


@dataclass
class Page:
    """One request's reader and what it may see."""

    request: Request
    state: WebState
    viewer: Viewer
    t: Translator
    urls: Urls
    list_ids: list[int]
    list_names: dict[str, int]

    @property
    def hide(self) -> bool:
        """Whether addresses are obfuscated for this reader."""
        return self.state.web.obfuscate_addresses and self.viewer.anonymous

    def visible_list(self, name: str) -> int | None:
        lid = self.list_names.get(name)
        return lid if lid in self.list_ids else None

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.state.templates.get_template(template).render(
            t=self.t,
            urls=self.urls,
            viewer=self.viewer,
            hide=self.hide,
            page=self,
            who=lambda row: sender_label(row, self.hide),
            subj=lambda text: show_address(text or "", self.hide),
            article=lambda item, subject: article(item, self.urls, self.t, subject, self.hide),
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["content-language"] = self.t.language
        response.headers["vary"] = "Accept-Language, Authorization"
        response.headers["cache-control"] = "private, no-cache"
        return response


def state_of(request: Request) -> WebState:
    return request.app.state.web


def translator(request: Request) -> Translator:
    state = state_of(request)
    language = choose_language(request.headers.get("accept-language"), state.settings.language)
    return Translator(language, state.tz)


def page(request: Request, conn: Connection) -> Page:
    """The request's reader (raises BadCredentials) and the lists it may see."""
    state = state_of(request)
    viewer = state.auth.viewer(request)
    return Page(
        request=request,
        state=state,
        viewer=viewer,
        t=translator(request),
        urls=Urls(request.scope.get("root_path", "").rstrip("/")),
        list_ids=access.visible_list_ids(conn, state.settings, viewer),
        list_names=archive_reads.list_ids_by_name(conn),
    )


def not_found() -> HTTPException:
    """What a view raises for anything unknown or not visible to its reader (same answer)."""
    return HTTPException(404)


def reading(func: Callable[[Request, Page, Connection], Response]) -> Callable[[Request], Response]:
    """Run a view inside one read session with the request's `Page`."""

    @functools.wraps(func)
    def view(request: Request) -> Response:
        with state_of(request).db.reader() as session:
            conn = session.connection()
            return func(request, page(request, conn), conn)

    return view
