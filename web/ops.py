"""Operational endpoints of the web archive: `/healthz` and the Prometheus `/metrics`.

Routed by `web.app`; the figures come from `mailgate.metrics` (counted in the database, so
any of several processes sharing it gives the same answer). `/healthz` answers 200 "ok" when
the database answers, 503 otherwise (for load balancers, systemd and container health checks).
`/metrics` exists only with `[web] metrics = true` (the default); keep it off the public side
of the reverse proxy (deploy/nginx/mailgate.conf does).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from mailgate import metrics

NO_STORE = {"cache-control": "no-store"}


def healthz(request: Request) -> Response:
    """200 when the database answers, else 503 with the reason."""
    problem = metrics.database_ok(request.app.state.web.db)
    if problem is not None:
        return PlainTextResponse(f"database: {problem}\n", status_code=503, headers=NO_STORE)
    return PlainTextResponse("ok\n", headers=NO_STORE)


def metrics_page(request: Request) -> Response:
    """The Prometheus text exposition (404 when `[web] metrics = false`)."""
    state = request.app.state.web
    if not state.web.metrics:
        raise HTTPException(404)
    body = metrics.render(metrics.collect(state.db))
    return Response(body, media_type=metrics.CONTENT_TYPE, headers=NO_STORE)
