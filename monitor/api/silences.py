"""``/api/v1/silences``: create, list, show, update, delete. A silence matches by rule, tag or source
between ``starts_at`` and ``ends_at``; silenced alerts are recorded (``monitor:silenced``), not delivered.
Errors as in ``monitor.api.subscriptions``."""

from __future__ import annotations

from aiohttp import web

from monitor.alerting.model import SilencePatch, SilenceSpec
from monitor.api.subscriptions import handled, json, page, paged, read_model, store_of

routes = web.RouteTableDef()


@routes.get("/api/v1/silences")
@handled
async def list_silences(request: web.Request) -> web.Response:
    offset, limit = page(request)
    store = store_of(request)
    sils = await store.list_silences(offset, limit)
    total = await store.count_silences()
    return paged("silences", [s.model_dump(mode="json") for s in sils], offset, limit, total)


@routes.post("/api/v1/silences")
@handled
async def create_silence(request: web.Request) -> web.Response:
    spec = await read_model(request, SilenceSpec)
    sil = await store_of(request).create_silence(spec)
    return json({"silence": sil.model_dump(mode="json")}, 201)


@routes.get("/api/v1/silences/{id}")
@handled
async def show_silence(request: web.Request) -> web.Response:
    sil = await store_of(request).get_silence(request.match_info["id"])
    return json({"silence": sil.model_dump(mode="json")})


@routes.patch("/api/v1/silences/{id}")
@handled
async def update_silence(request: web.Request) -> web.Response:
    patch = await read_model(request, SilencePatch)
    sil = await store_of(request).update_silence(request.match_info["id"], patch)
    return json({"silence": sil.model_dump(mode="json")})


@routes.delete("/api/v1/silences/{id}")
@handled
async def delete_silence(request: web.Request) -> web.Response:
    await store_of(request).delete_silence(request.match_info["id"])
    return web.Response(status=204)
