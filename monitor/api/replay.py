"""``POST /api/v1/subscriptions/{id}/replay``: re-deliver a time range of recent alerts to one subscription.

Body ``ReplayRequest``: ``since`` and ``until`` (ISO 8601), ``limit``, and ``match_filter`` (default
true: only alerts the subscription's filter accepts). Alerts come from the recent-alerts store (the
last ``Settings.alerts_recent``). Each is queued with its usual deterministic delivery id, bypassing the
sender's notification log: the receiver gets the same ``webhook-id``/``Message-ID``/stream ``id`` as the
first time, so a receiver that dedups sees nothing twice. Works on a disabled subscription only after
it is re-enabled (PATCH ``enabled: true``). Answers 202 with what was queued.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from monitor.alerting.model import delivery_id
from monitor.alerting.router import matches
from monitor.api.app import deps_of
from monitor.api.subscriptions import error, handled, json, read_model, service_of, store_of
from monitor.models import Alert

routes = web.RouteTableDef()


class ReplayRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    since: datetime
    until: datetime | None = None
    limit: Annotated[int, Field(ge=1, le=10000)] = 1000
    match_filter: bool = True


class ReplayResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    queued: int
    already_queued: int
    delivery_ids: list[str]


@routes.post("/api/v1/subscriptions/{id}/replay")
@handled
async def replay(request: web.Request) -> web.Response:
    req = await read_model(request, ReplayRequest)
    sub = await store_of(request).get(request.match_info["id"])
    if not sub.enabled:
        return error(409, "subscription is disabled; enable it first (PATCH enabled: true)")
    recent = deps_of(request).recent
    since = req.since.timestamp()
    until = req.until.timestamp() if req.until else None
    alerts: list[Alert] = []
    offset = 0
    while len(alerts) < req.limit:
        page = await recent.list(limit=500, offset=offset, since=since, until=until)
        if not page:
            break
        offset += len(page)
        alerts += [a for a in page if not req.match_filter or matches(sub.filter, a)]
    alerts = sorted(alerts[: req.limit], key=lambda a: a.created_at)
    results = await service_of(request).enqueue_for(sub, alerts, force=True) if alerts else []
    out = ReplayResult(
        queued=sum(1 for r in results if r == "new"),
        already_queued=sum(1 for r in results if r == "queued"),
        delivery_ids=[delivery_id(sub.id, a, sub.channel_name) for a in alerts],
    )
    return json(out.model_dump(), 202)
