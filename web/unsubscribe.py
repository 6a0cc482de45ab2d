"""One-click unsubscribe from a digest (RFC 8058), and the page its visible link opens.

`GET /digest/unsubscribe/<token>` only shows what the link would stop and a confirm button
(mail scanners follow links: a GET never changes anything). `POST` to the same URL — the
button, or a mail client honouring `List-Unsubscribe-Post: List-Unsubscribe=One-Click` —
turns the subscription off through `mailgate.prefs.unsubscribe_token`. No login is needed:
the unguessable token is the credential. Unknown tokens answer 404. Routed by `web.app`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mailgate import prefs
from mailgate.access import ANONYMOUS
from web.state import Page, not_found, state_of, translator
from web.urls import Urls

MAX_TOKEN_CHARS = 64


def _page(request: Request) -> Page:
    return Page(
        request=request,
        state=state_of(request),
        viewer=ANONYMOUS,
        t=translator(request),
        urls=Urls(request.scope.get("root_path", "").rstrip("/")),
        list_ids=[],
        list_names={},
    )


def _token(request: Request) -> str:
    token = request.path_params["token"]
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise not_found()
    return token


def _show(p: Page, sub: prefs.Subscription, done: bool) -> Response:
    response = p.render(
        "unsubscribe.html",
        sub=sub,
        scope=sub.list_name or p.t("digest_all_lists"),
        done=done,
        action=p.urls.unsubscribe(sub.token),
    )
    response.headers["cache-control"] = "no-store"
    response.headers["x-robots-tag"] = "noindex"
    return response


def confirm_page(request: Request) -> Response:
    """GET: what the link stops, and a button (no state change)."""
    token = _token(request)
    with state_of(request).db.reader() as session:
        sub = prefs.subscription_for_token(session.connection(), token)
    if sub is None:
        raise not_found()
    return _show(_page(request), sub, done=sub.frequency == "off")


async def unsubscribe(request: Request) -> Response:
    """POST: turn the subscription off (idempotent; body `List-Unsubscribe=One-Click`)."""
    token = _token(request)
    await request.body()  # RFC 8058 body, not needed: the token decides

    def write() -> prefs.Subscription | None:
        with state_of(request).db.engine.begin() as conn:
            return prefs.unsubscribe_token(conn, token)

    sub = await run_in_threadpool(write)
    if sub is None:
        raise not_found()
    return _show(_page(request), sub, done=True)
