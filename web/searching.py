"""The search page: the query language of `mailgate.search`, results as message links.

Search runs with the reader's `Viewer`, so private lists never appear for those who may not
see them; the rows shown are filtered once more through the visible lists. A query that
cannot be understood answers a friendly 400 page with the parser's explanation.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from markupsafe import Markup
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from mailgate import archive_reads as reads
from mailgate.query import QueryError
from web.render import highlighted
from web.state import Page, reading

RESULTS_PER_PAGE = 50


def _engine() -> ModuleType | None:
    try:
        return importlib.import_module("mailgate.search")
    except ImportError:
        return None


def _hit_pks(result: object) -> list[int]:
    hits = getattr(result, "hits", result)
    pks = []
    for hit in hits or []:
        pk = hit if isinstance(hit, int) else getattr(hit, "message_pk", getattr(hit, "pk", None))
        if isinstance(pk, int):
            pks.append(pk)
    return pks


def _snippet(hit: object, row: reads.MessageRow, hide: bool) -> Markup:
    """The engine's snippet with its highlights, else the message's own snippet."""
    snippet = getattr(hit, "snippet", None)
    text = getattr(snippet, "text", "") or ""
    if not text:
        return highlighted(row.snippet, (), hide)
    return highlighted(text, getattr(snippet, "highlights", ()) or (), hide)


@reading
def search_page(request: Request, p: Page, conn: Connection) -> Response:
    q = request.query_params.get("q", "").strip()
    engine = _engine()
    context = {"q": q, "rows": [], "error": "", "available": engine is not None}
    if not q or engine is None:
        return p.render("search.html", **context)
    cursor = request.query_params.get("cursor") or None
    try:
        result = engine.search(
            conn, p.state.settings, q, viewer=p.viewer, limit=RESULTS_PER_PAGE, cursor=cursor
        )
    except ValueError as exc:  # QueryError, or a page cursor that is not one of ours
        message = str(exc) if isinstance(exc, QueryError) else p.t("bad_query")
        return p.render("search.html", status=400, **(context | {"error": message}))
    hits = {getattr(hit, "message_pk", None): hit for hit in getattr(result, "hits", []) or []}
    rows = reads.messages_by_pks(conn, _hit_pks(result), p.list_ids)
    context["rows"] = [(row, _snippet(hits.get(row.pk), row, p.hide)) for row in rows]
    context["next_cursor"] = getattr(result, "next_cursor", None) or ""
    context["total"] = getattr(result, "total", None)
    return p.render("search.html", **context)
