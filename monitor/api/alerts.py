"""``GET /api/v1/alerts``: recent alerts, newest first, as ``{"alerts": [...]}``;
``GET /api/v1/alerts/{id}``: one alert with its evidence.

Query parameters of the list: ``limit`` (1-500, default 50), ``offset``, ``rule``, ``tag``, ``since`` and
``until`` (Unix seconds or ISO 8601).
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from aiohttp import web

from monitor.api.app import deps_of

routes = web.RouteTableDef()


def _time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    if _NUMBER.fullmatch(value):  # finite by construction: no nan, inf, 1e999
        return float(value)
    try:
        seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        seconds = math.nan
    if not value.isascii() or not math.isfinite(seconds):
        raise web.HTTPBadRequest(text=f"{name}: expected Unix seconds or ISO 8601, got {value!r}")
    return seconds


#: plain ASCII numbers only: no ``５``, ``1_0``, ``+5``, spaces, ``nan`` or ``inf``
_INT = re.compile(r"[0-9]{1,12}")
_NUMBER = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,9})?")


def query_int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    """A query integer in ``lo..hi``; anything but plain ASCII digits is a 400."""
    if value is None:
        return default
    if not _INT.fullmatch(value):
        raise web.HTTPBadRequest(text=f"{name}: expected an integer, got {value!r}")
    n = int(value)
    if not lo <= n <= hi:
        raise web.HTTPBadRequest(text=f"{name}: must be between {lo} and {hi}")
    return n


@routes.get("/api/v1/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    q = request.query
    alerts = await deps_of(request).recent.list(
        limit=query_int(q.get("limit"), "limit", 50, 1, 500),
        offset=query_int(q.get("offset"), "offset", 0, 0, 1_000_000),
        rule=q.get("rule") or None,
        tag=q.get("tag") or None,
        since=_time(q.get("since"), "since"),
        until=_time(q.get("until"), "until"),
    )
    return web.json_response(
        {"alerts": [a.model_dump(mode="json", by_alias=True) for a in alerts]},
        dumps=_dumps,
    )


@routes.get("/api/v1/alerts/{id}")
async def get_alert(request: web.Request) -> web.Response:
    alert = await deps_of(request).recent.get(request.match_info["id"])
    if alert is None:
        raise web.HTTPNotFound(text="no such alert (only the most recent alerts are kept)")
    return web.json_response(alert.model_dump(mode="json", by_alias=True), dumps=_dumps)


def _dumps(obj: object) -> str:
    import orjson

    return orjson.dumps(obj).decode()
