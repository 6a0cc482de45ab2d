"""Page views of the archive: thin functions from a request to a template.

Each view opens one read session, learns its reader's visible lists (`state.page`), reads
through the core (`mailgate.archive_reads`, `mailgate.threads`) and renders a template.
Whatever the reader may not see answers exactly like something that does not exist: 404.
Message, raw and attachment routes live in `web.messages`; feeds and exports apart.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailgate import archive_reads as reads
from mailgate import people
from mailgate.access import ANONYMOUS
from mailgate.links import cursor_token, parse_cursor
from mailgate.threadview import resolve_thread_id
from web import chart, messages, searching
from web.render import show_address
from web.state import Page, not_found, reading, state_of, translator
from web.urls import Urls

RECENT_PER_LIST = 3
MONTHS_IN_CHART = 36
THREAD_PART = 1_000  # messages shown per thread page; longer threads continue on ?part=2...


def error_page(
    request: Request, status: int, title: str, text: str, *, anonymous: bool = False
) -> Response:
    """A plain error page (rendered without touching the database)."""
    state = state_of(request)
    p = Page(
        request=request,
        state=state,
        viewer=ANONYMOUS,
        t=translator(request),
        urls=Urls(request.scope.get("root_path", "").rstrip("/")),
        list_ids=[],
        list_names={},
    )
    return p.render("error.html", status=status, title=p.t(title), text=p.t(text))


@reading
def index(request: Request, p: Page, conn) -> Response:
    lists = []
    for cfg_name, lid in sorted(p.list_names.items()):
        if lid not in p.list_ids:
            continue
        cfg = p.state.settings.list_by_name(cfg_name)
        lists.append(
            {
                "name": cfg_name,
                "description": cfg.description if cfg else "",
                "private": bool(cfg and cfg.is_private),
                "last": reads.last_activity(conn, lid),
                "recent": reads.threads_page(conn, lid, None, RECENT_PER_LIST),
            }
        )
    epoch = datetime(1900, 1, 1)
    lists.sort(key=lambda item: item["last"] or epoch, reverse=True)
    return p.render("index.html", lists=lists)


def login(request: Request) -> Response:
    """Asks the browser for Basic credentials, then goes back to the lists."""
    state = state_of(request)
    if state.auth.viewer(request).anonymous:
        response = error_page(request, 401, "auth_required", "auth_required", anonymous=True)
        response.headers["www-authenticate"] = 'Basic realm="mailgate archive", charset="UTF-8"'
        return response
    return RedirectResponse(Urls(request.scope.get("root_path", "")).home(), status_code=303)


def _month_counts(p: Page, conn, lid: int) -> list[tuple[int, int, int]]:
    return p.state.months.get(
        (lid, p.state.settings.timezone), lambda: reads.month_counts(conn, lid, p.state.tz)
    )


@reading
def list_page(request: Request, p: Page, conn) -> Response:
    name = request.path_params["name"]
    lid = p.visible_list(name)
    if lid is None:
        raise not_found()
    size = p.state.web.page_size
    cursor = parse_cursor(request.query_params.get("before"))
    threads = reads.threads_page(conn, lid, cursor, size + 1)
    more = len(threads) > size
    threads = threads[:size]
    counts = _month_counts(p, conn, lid)
    years: dict[int, dict[int, int]] = {}
    for year, month, count in counts:
        years.setdefault(year, {})[month] = count
    cfg = p.state.settings.list_by_name(name)
    return p.render(
        "list.html",
        name=name,
        description=cfg.description if cfg else "",
        private=bool(cfg and cfg.is_private),
        threads=threads,
        next_cursor=cursor_token(threads[-1].last_date, threads[-1].thread_id) if more else "",
        paged=cursor is not None,
        years=sorted(years.items(), reverse=True),
        chart=chart.month_chart(
            counts[-MONTHS_IN_CHART:], p.t, lambda y, m: p.urls.month(name, y, m)
        ),
    )


@reading
def month_page(request: Request, p: Page, conn) -> Response:
    name, year, month = (request.path_params[k] for k in ("name", "year", "month"))
    lid = p.visible_list(name)
    if lid is None or not (1 <= month <= 12 and 1900 <= year <= 9999):
        raise not_found()
    rows = reads.month_messages(conn, lid, year, month, p.state.tz)
    if not rows:
        raise not_found()
    groups: dict[int, list] = {}
    for row in rows:
        groups.setdefault(row.thread_id, []).append(row)
    known = {(y, m) for y, m, _n in _month_counts(p, conn, lid)}
    prev = (year - 1, 12) if month == 1 else (year, month - 1)
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    return p.render(
        "month.html",
        name=name,
        year=year,
        month=month,
        groups=list(groups.values()),
        count=len(rows),
        prev=prev if prev in known else None,
        next=nxt if nxt in known else None,
    )


@reading
def thread_page(request: Request, p: Page, conn) -> Response:
    thread_id = request.path_params["thread_id"]
    current = resolve_thread_id(conn, thread_id)
    if current is None:
        raise not_found()
    rows = reads.thread_messages(conn, current, p.list_ids)
    if not rows:
        raise not_found()
    view = "flat" if request.query_params.get("view") == "flat" else "nested"
    mono = request.query_params.get("mono") == "1"
    if current != thread_id:
        target = p.urls.thread(
            current, view="flat" if view == "flat" else "", mono="1" if mono else ""
        )
        return RedirectResponse(target, status_code=301)
    if view == "flat":
        rows = sorted(
            ((row, 0) for row, _depth in rows), key=lambda item: (item[0].date, item[0].pk)
        )
    parts = (len(rows) + THREAD_PART - 1) // THREAD_PART
    part = request.query_params.get("part", "1")
    part = int(part) if part.isdigit() and 1 <= int(part) <= parts else 1
    shown = rows[(part - 1) * THREAD_PART : part * THREAD_PART]
    items = messages.message_items(p, conn, shown)
    return p.render(
        "thread.html",
        thread_id=current,
        subject=rows[0][0].subject,
        items=items,
        total=len(rows),
        part=part,
        parts=parts,
        lists=reads.thread_list_names(conn, current, p.list_ids),
        view=view,
        mono=mono,
        first=min(row.date for row, _d in rows),
        last=max(row.date for row, _d in rows),
    )


def message_dispatch(request: Request) -> Response:
    return messages.dispatch(request)


@reading
def person_page(request: Request, p: Page, conn) -> Response:
    key = request.path_params["key"]
    address = p.state.person_address(conn, key)
    if address is None:
        raise not_found()
    size = p.state.web.page_size
    cursor = parse_cursor(request.query_params.get("before"))
    rows = reads.messages_from(conn, address, p.list_ids, cursor, size + 1)
    if not rows:
        raise not_found()
    more = len(rows) > size
    rows = rows[:size]
    names = [row.from_name for row in rows if row.from_name and row.from_name != row.from_addr]
    found, related = _profile(p, conn, address, cursor is None)
    return p.render(
        "person.html",
        key=key,
        heading=show_address(found.name if found else (names[0] if names else address), p.hide),
        shown_address=show_address(address, p.hide),
        rows=rows,
        profile=found,
        related=related,
        next_cursor=cursor_token(rows[-1].date, rows[-1].pk) if more else "",
    )


def _profile(p: Page, conn, address: str, first_page: bool) -> tuple:  # type: ignore[no-untyped-def]
    """The profile the reader may see (on the first page only) and related people."""
    person = people.person_for_address(conn, address) if first_page else None
    if person is None:
        return None, []
    settings = p.state.settings
    found = people.profile(conn, settings, person, scope=p.list_ids)
    if found.messages == 0:
        return None, []
    return found, people.related_people(conn, settings, person, scope=p.list_ids)


def search_page(request: Request) -> Response:
    return searching.search_page(request)
