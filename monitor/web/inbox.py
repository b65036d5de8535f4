"""``GET /``: the inbox, alerts newest first in event groups, filtered by the query string;
``GET /events``: the same filters as a Server-Sent Events stream of new rows (``monitor.web.live``).

A bad filter value answers 400 with the page and the message. Without JavaScript the page is complete;
with it, ``static/console.js`` opens ``/events?after=<newest>&<filters>`` and inserts what arrives.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from monitor.api.app import deps_of
from monitor.models import Alert
from monitor.web.live import Cursor, stream
from monitor.web.query import Group, InboxQuery, group, group_key, scan
from monitor.web.render import ENV, page
from monitor.web.state import judgements_of, live_of

routes = web.RouteTableDef()


@routes.get("/")
async def inbox(request: web.Request) -> web.Response:
    try:
        q = InboxQuery.parse(request.query)
    except ValueError as exc:
        return page(request, "inbox.html", status=400, title="Inbox", error=str(exc), q=InboxQuery(),
                    groups=[], acks={}, verdicts={}, older=None, live_after=None, total=0)
    redis = deps_of(request).redis
    now = time.time()
    result = await scan(redis, q, now)
    ids = [a.id for a in result.alerts]
    j = judgements_of(request)
    live = q.before is None and not q.until
    return page(
        request, "inbox.html", title="Inbox", error="", q=q, groups=group(result.alerts),
        acks=await j.acks(ids), verdicts=await j.verdicts(ids), older=result.older,
        live_after=(result.newest if result.newest is not None else now) if live else None,
        total=await deps_of(request).recent.count(),
    )


def _event(alert: Alert, q: InboxQuery) -> dict[str, Any] | None:
    if not q.accepts(alert):
        return None
    macros: Any = ENV.get_template("_alerts.html").module
    g = Group(group_key(alert), [alert])
    return {"key": g.key, "id": alert.id, "row": str(macros.row(alert, None, None)),
            "group": str(macros.group(g, {}, {}))}


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    try:
        q = InboxQuery.parse(request.query)
        after = float(request.query.get("after") or time.time())
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    cursor = Cursor(deps_of(request).redis, after)
    return await stream(request, live_of(request), cursor, lambda a: _event(a, q))
