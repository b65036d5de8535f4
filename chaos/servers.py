"""The harness's two local HTTP servers (aiohttp, 127.0.0.1): the feed set and the webhook receiver.

``FeedServer`` serves ``/feed/<n>.xml``: each feed shows its most recent ``window`` released articles,
newest first, where articles are released one by one over ``duration`` seconds (so faults land while the
stream flows). It answers conditional GETs (ETag, 304) like a well-behaved news site and records every
article id it ever served (``offered``): an expected article that was never offered is a harness artefact,
not a pipeline loss, and the checker says so.

``Receiver`` is the webhook endpoint the subscription points at. It verifies each request's Standard
Webhooks signature with the independent ``standardwebhooks`` package, records every delivery (raw, before
dedup) and dedups on ``webhook-id`` as a real receiver would. ``down()`` closes its listening socket
(senders get "connection refused"); ``up()`` listens again on the same port.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from chaos.corpus import CorpusArticle, render_rss


class FeedServer:
    def __init__(self, corpus: list[CorpusArticle], feeds: int, duration: float, window: int = 50) -> None:
        self.corpus = corpus
        self.feeds = feeds
        self.duration = max(duration, 0.001)
        self.window = window
        self.by_feed: dict[int, list[CorpusArticle]] = defaultdict(list)
        for a in corpus:
            self.by_feed[a.feed].append(a)
        self.t0: float | None = None
        self.offered: set[str] = set()
        self.requests = 0
        self.not_modified = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start_release(self) -> None:
        self.t0 = time.monotonic()

    def released(self) -> int:
        if self.t0 is None:
            return 0
        frac = (time.monotonic() - self.t0) / self.duration
        return min(len(self.corpus), int(frac * len(self.corpus)))

    def all_released(self) -> bool:
        return self.released() >= len(self.corpus)

    def url(self, feed: int) -> str:
        return f"http://127.0.0.1:{self.port}/feed/{feed}.xml"

    async def _feed(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        try:
            n = int(request.match_info["n"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if n not in self.by_feed:
            raise web.HTTPNotFound()
        upto = self.released()
        items = [a for a in self.by_feed[n] if a.seq < upto][-self.window:]
        etag = f'"{n}-{items[-1].seq if items else -1}"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return web.Response(status=304, headers={"ETag": etag})
        self.offered.update(a.id for a in items)
        return web.Response(body=render_rss(n, items), content_type="application/rss+xml",
                            charset="utf-8", headers={"ETag": etag})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}.xml", self._feed)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class DeliveryRecord:
    at: float  # monotonic
    webhook_id: str
    alerts: list[tuple[str, str, str]]  # (article id, rule, alert id)
    duplicate: bool  # webhook-id seen before (a raw duplicate, dropped by the dedup)


@dataclass
class Receiver:
    secret: str = ""
    port: int = 0
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    bad_signatures: int = 0
    bad_bodies: int = 0
    refused_while_down: int = 0
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    is_up: bool = False

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.is_up:  # a kept-alive connection that outlived the listening socket
            self.refused_while_down += 1
            return web.Response(status=503, text="down", headers={"Connection": "close"})
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.secret:
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError

            try:
                Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError:
                self.bad_signatures += 1
                return web.Response(status=400, text="bad signature")
        wid = headers.get("webhook-id", "")
        try:
            doc: Any = orjson.loads(body)
            alerts = [(a["article"]["id"], a["rule"], a["id"]) for a in doc.get("alerts", [])]
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            self.bad_bodies += 1
            return web.Response(status=400, text="bad body")
        dup = wid in self.seen
        self.deliveries.append(DeliveryRecord(time.monotonic(), wid, alerts, dup))
        self.seen.add(wid)
        return web.Response(status=200, text="ok")

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self.up()

    async def up(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.is_up = True

    async def down(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None
        self.is_up = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def unique(self) -> list[DeliveryRecord]:
        return [d for d in self.deliveries if not d.duplicate]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
