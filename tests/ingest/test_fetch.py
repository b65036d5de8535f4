"""The fetcher against real local HTTP servers: validators, encodings, redirects, status handling."""

from __future__ import annotations

import gzip
import time
import zlib
from email.utils import formatdate
from typing import Any

import brotli
from aiohttp import web

from monitor.ingest.fetch import fetch, parse_retry_after
from monitor.ingest.read import read_feed

from .conftest import SMALL, rss_feed, serve

BODY = rss_feed([("1", "one"), ("2", "two")])


async def test_conditional_get_and_304_costs_no_parse(session: Any) -> None:
    seen: list[dict[str, str]] = []

    async def feed(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"' or \
                request.headers.get("If-Modified-Since") == "Sun, 22 Nov 2026 10:00:00 GMT":
            return web.Response(status=304)
        return web.Response(body=BODY, headers={"ETag": '"v1"', "Last-Modified": "Sun, 22 Nov 2026 10:00:00 GMT"})

    app = web.Application()
    app.router.add_get("/f", feed)
    async with serve(app) as base:
        first = await read_feed(session, f"{base}/f", SMALL)
        assert first.status == "ok" and first.parsed is not None and len(first.parsed.entries) == 2
        second = await read_feed(session, f"{base}/f", SMALL, etag=first.fetch.etag,
                                 last_modified=first.fetch.last_modified, body_hash=first.body_hash)
    assert "If-None-Match" not in seen[0] and "If-Modified-Since" not in seen[0]
    assert seen[1]["If-None-Match"] == '"v1"'
    assert seen[1]["If-Modified-Since"] == "Sun, 22 Nov 2026 10:00:00 GMT"
    assert second.status == "not_modified" and second.parsed is None and second.fetch.body == b""


async def test_same_body_without_validators_is_not_parsed_again(session: Any) -> None:
    app = web.Application()
    app.router.add_get("/f", lambda r: web.Response(body=BODY))
    async with serve(app) as base:
        first = await read_feed(session, f"{base}/f", SMALL)
        again = await read_feed(session, f"{base}/f", SMALL, body_hash=first.body_hash)
    assert first.parsed is not None and again.parsed is None and again.unchanged
    assert again.status == "not_modified"


async def test_compressed_bodies(session: Any) -> None:
    raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    bodies = {
        "gzip": gzip.compress(BODY),
        "deflate": zlib.compress(BODY),
        "br": brotli.compress(BODY),
    }

    async def handler(request: web.Request) -> web.Response:
        enc = request.match_info["enc"]
        if enc == "rawdeflate":
            data = raw_deflate.compress(BODY) + raw_deflate.flush()
            return web.Response(body=data, headers={"Content-Encoding": "deflate"})
        return web.Response(body=bodies[enc], headers={"Content-Encoding": enc})

    app = web.Application()
    app.router.add_get("/{enc}", handler)
    async with serve(app) as base:
        for enc in ("gzip", "deflate", "br", "rawdeflate"):
            res = await fetch(session, f"{base}/{enc}", SMALL)
            assert res.status == "ok" and res.body == BODY, enc
            assert res.wire_bytes < len(BODY)


async def test_redirects_followed_by_hand_with_checks(session: Any) -> None:
    hops: list[str] = []

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        hops.append(request.path)
        if n == 0:
            return web.Response(body=BODY)
        raise web.HTTPFound(f"/r/{n - 1}")

    app = web.Application()
    app.router.add_get("/r/{n}", hop)
    app.router.add_get("/file", lambda r: web.Response(status=302, headers={"Location": "file:///etc/passwd"}))
    async with serve(app) as base:
        ok = await fetch(session, f"{base}/r/5", SMALL)
        assert ok.status == "ok" and ok.final_url.endswith("/r/0") and len(hops) == 6
        hops.clear()
        too_many = await fetch(session, f"{base}/r/6", SMALL)
        assert (too_many.status, too_many.reason, len(hops)) == ("error", "redirects", 6)
        bad = await fetch(session, f"{base}/file", SMALL)
        assert (bad.status, bad.reason) == ("error", "scheme") and "file" in (bad.error or "")
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "/relative", "javascript:alert(1)"):
        res = await fetch(session, url, SMALL)
        assert (res.status, res.reason) == ("error", "scheme"), url
    for url in ("http://[::1", "http://", "http://127.0.0.1:99999/", "http://127.0.0.1:1/\r\nX: y"):
        res = await fetch(session, url, SMALL)
        assert res.status == "error", url


async def test_status_mapping(session: Any) -> None:
    app = web.Application()
    app.router.add_get("/429", lambda r: web.Response(status=429, headers={"Retry-After": "120"}))
    app.router.add_get("/503", lambda r: web.Response(status=503))
    app.router.add_get("/500", lambda r: web.Response(status=500))
    app.router.add_get("/404", lambda r: web.Response(status=404))
    app.router.add_get("/big", lambda r: web.Response(body=b"x" * (SMALL.max_bytes + 1)))
    async with serve(app) as base:
        r429 = await fetch(session, f"{base}/429", SMALL)
        assert (r429.status, r429.retry_after, r429.retryable) == ("throttled", 120.0, True)
        r503 = await fetch(session, f"{base}/503", SMALL)
        assert (r503.status, r503.retry_after) == ("throttled", None)
        assert (await fetch(session, f"{base}/500", SMALL)).retryable
        r404 = await fetch(session, f"{base}/404", SMALL)
        assert (r404.status, r404.reason, r404.retryable) == ("error", "http_4xx", False)
        big = await fetch(session, f"{base}/big", SMALL)
        assert (big.status, big.reason) == ("error", "too_large")
        closed = await fetch(session, "http://127.0.0.1:9/", SMALL)
        assert closed.status == "error" and closed.retryable


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after("30") == 30.0
    assert abs((parse_retry_after(formatdate(now + 90, usegmt=True), now=now) or 0) - 90) <= 1
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
