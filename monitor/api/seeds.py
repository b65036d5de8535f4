"""``GET /seeds/feed.xml``: the bundled seed feed, so the default feed list works offline."""

from __future__ import annotations

from aiohttp import web

from monitor.settings import PROJECT_ROOT

routes = web.RouteTableDef()
SEED_FEED = PROJECT_ROOT / "seeds" / "feed.xml"


@routes.get("/seeds/feed.xml")
async def seed_feed(request: web.Request) -> web.StreamResponse:
    if not SEED_FEED.exists():
        raise web.HTTPNotFound(text=f"seed feed missing: {SEED_FEED}")
    return web.FileResponse(SEED_FEED, headers={"Content-Type": "application/rss+xml; charset=utf-8"})
