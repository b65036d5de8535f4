"""``GET /healthz`` (the process is up), ``GET /readyz`` (Kafka, Redis, rules ready), ``GET /metrics``."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.api.app import deps_of

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    deps = deps_of(request)
    checks: dict[str, bool] = {}
    for name, check in deps.ready_checks.items():
        try:
            checks[name] = bool(await asyncio.wait_for(check(), 2.0))
        except Exception:
            checks[name] = False
    ready = all(checks.values())
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    registry = deps_of(request).registry
    body = generate_latest(registry) if registry is not None else generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
