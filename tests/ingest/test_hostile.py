"""Hostile servers: every case ends within its limits, with bounded memory and no local file read.

Limits are test-sized (``SMALL``: 1 MB body cap, 1 s read timeout, 3 s deadline). Memory is the peak
RSS growth of this process during the case (sampled every 5 ms), asserted far below 400 MB. File
access is watched with an audit hook (``sys.addaudithook``): the secret file must never be opened
and no URL must be requested by the parser.
"""

from __future__ import annotations

import asyncio
import sys
import zlib
from pathlib import Path
from typing import Any

import brotli
import pytest
from aiohttp import web

from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import fetch
from monitor.ingest.parse import parse_feed, to_article
from monitor.ingest.read import read_feed

from .conftest import SMALL, PeakRSS, raw_server, serve

MB = 1024 * 1024
MEMORY_BOUND = 100 * MB  # growth per case; the process as a whole must stay "well under 400 MB"
_AUDIT: dict[str, Any] = {"watch": None, "hits": []}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    watch = _AUDIT["watch"]
    if watch is None:
        return
    if event == "open" and args and watch in str(args[0]):
        _AUDIT["hits"].append((event, str(args[0])))
    elif event in ("urllib.Request", "socket.connect"):
        _AUDIT["hits"].append((event, str(args)))


sys.addaudithook(_audit)


def _zeros_zlib(total: int, wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"\0" * MB
    return b"".join([c.compress(block) for _ in range(total // MB)] + [c.flush()])


def _zeros_brotli(total: int) -> bytes:
    c = brotli.Compressor(quality=4)
    block = b"\0" * MB
    return b"".join([c.process(block) for _ in range(total // MB)] + [c.finish()])


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {"gzip": _zeros_zlib(256 * MB, 31), "deflate": _zeros_zlib(256 * MB, 15),
            "br": _zeros_brotli(1024 * MB)}


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compression_bomb_stops_at_cap(session: Any, bombs: dict[str, bytes], encoding: str) -> None:
    data = bombs[encoding]
    app = web.Application()
    app.router.add_get("/", lambda r: web.Response(body=data, headers={"Content-Encoding": encoding}))
    async with serve(app) as base:
        with PeakRSS() as mem:
            res = await fetch(session, base + "/", SMALL)
    assert (res.status, res.reason) == ("error", "too_large")
    assert res.wire_bytes <= len(data)
    assert mem.growth < MEMORY_BOUND, (mem.growth, mem.peak)


async def test_endless_body(session: Any) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        chunk = b"<item>" + b"x" * 65536
        while True:
            await resp.write(chunk)

    app = web.Application()
    app.router.add_get("/", endless)
    async with serve(app) as base:
        with PeakRSS() as mem:
            res = await fetch(session, base + "/", SMALL)
    assert (res.status, res.reason) == ("error", "too_large")
    assert mem.growth < MEMORY_BOUND, (mem.growth, mem.peak)


async def test_slow_drip_hits_the_total_deadline(session: Any) -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 100000\r\n\r\n<rss>")
        while True:  # one byte every 0.2 s: never slow enough for the read timeout
            await writer.drain()
            writer.write(b" ")
            await asyncio.sleep(0.2)

    async with raw_server(drip) as base:
        res = await fetch(session, base + "/", SMALL)
    assert (res.status, res.reason, res.retryable) == ("error", "timeout", True)
    assert "deadline" in (res.error or "")


async def test_socket_that_never_answers(session: Any) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    async with raw_server(silent) as base:
        res = await fetch(session, base + "/", SMALL)
    assert (res.status, res.reason) == ("error", "timeout")


async def test_redirect_loop_and_redirect_to_file(session: Any, tmp_path: Path) -> None:
    secret = tmp_path / "secret-redirect.txt"
    secret.write_text("TOP-SECRET-REDIRECT")
    app = web.Application()
    app.router.add_get("/a", lambda r: web.Response(status=302, headers={"Location": "/b"}))
    app.router.add_get("/b", lambda r: web.Response(status=301, headers={"Location": "/a"}))
    app.router.add_get("/f", lambda r: web.Response(status=307, headers={"Location": secret.as_uri()}))
    _AUDIT.update(watch=secret.name, hits=[])
    try:
        async with serve(app) as base:
            loop = await read_feed(session, base + "/a", SMALL)
            to_file = await read_feed(session, base + "/f", SMALL)
    finally:
        _AUDIT["watch"] = None
    assert (loop.status, loop.fetch.reason) == ("error", "redirects")
    assert (to_file.status, to_file.fetch.reason) == ("error", "scheme")
    assert not [h for h in _AUDIT["hits"] if h[0] == "open"]
    assert "TOP-SECRET" not in repr(to_file)


def _billion_laughs() -> str:
    ents = ['\n<!ENTITY lol0 "lol">'] + [
        f'\n<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)
    ]
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [{"".join(ents)}]>\n'
            '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
            "<guid>g</guid></item></channel></rss>")


def _quadratic(encoding: str, *, loose: bool = False) -> bytes:
    # The entity on a line of its own is what feedparser's own DOCTYPE handling keeps as "safe" and then
    # expands: 10 000 refs × 10 000 chars = 100 M characters (measured without the defence: a 16 KB
    # variant already grows a 16 M character title). ``loose`` forces feedparser's loose parser.
    blob = "A" * 10_000
    refs = "&a;" * 10_000
    bad = "&nbsp;<b>" if loose else ""
    doc = (f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE rss [\n<!ENTITY a "{blob}">\n]>\n'
           f'<rss version="2.0"><channel><title>q</title><item><guid>g</guid><title>{refs}</title>'
           f"<description>{bad}</description></item></channel></rss>")
    return doc.encode(encoding)


@pytest.mark.parametrize("case", ["billion_laughs", "quadratic_utf8", "quadratic_utf16", "quadratic_loose"])
async def test_entity_expansion_is_never_performed(session: Any, case: str) -> None:
    body = {
        "billion_laughs": lambda: _billion_laughs().encode(),
        "quadratic_utf8": lambda: _quadratic("utf-8"),
        "quadratic_utf16": lambda: _quadratic("utf-16"),
        "quadratic_loose": lambda: _quadratic("utf-8", loose=True),
    }[case]()
    app = web.Application()
    app.router.add_get("/", lambda r: web.Response(body=body, content_type="application/xml"))
    async with serve(app) as base:
        with PeakRSS() as mem:
            res = await read_feed(session, base + "/", SMALL)
    assert res.status == "ok" and res.parsed is not None
    assert mem.growth < MEMORY_BOUND, (mem.growth, mem.peak)
    article = to_article(res.parsed.entries[0], FeedConfig(url=base + "/"), res.parsed,
                         fetched_at=__import__("datetime").datetime.now(__import__("datetime").UTC))
    assert len(article.to_json()) < 200_000  # nothing was expanded
    assert "lollol" not in article.title and "AAAA" not in article.title


@pytest.mark.parametrize("form", ["general", "parameter", "external_dtd", "utf16"])
async def test_external_entity_never_reads_local_file(session: Any, tmp_path: Path, form: str) -> None:
    secret = tmp_path / f"secret-{form}.txt"
    secret.write_text(f"TOP-SECRET-{form.upper()}")
    uri = secret.as_uri()
    doctype = {
        "general": f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>',
        "parameter": f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{uri}"> %p;]>',
        "external_dtd": f'<!DOCTYPE rss SYSTEM "{uri}">',
        "utf16": f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>',
    }[form]
    doctype = doctype.replace("[<!ENTITY", "[\n<!ENTITY")  # on its own line, as feedparser keeps them
    doc = (f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>&xxe;</title>'
           "<item><guid>g</guid><title>&xxe;</title><description>&xxe;</description></item></channel></rss>")
    body = doc.encode("utf-16") if form == "utf16" else doc.encode()
    app = web.Application()
    app.router.add_get("/", lambda r: web.Response(body=body, content_type="application/rss+xml"))
    async with serve(app) as base:
        res = await fetch(session, base + "/", SMALL)
    _AUDIT.update(watch=secret.name, hits=[])
    try:
        parsed = parse_feed(res.body, content_type=res.content_type, base_url=res.final_url)
    finally:
        _AUDIT["watch"] = None
    assert _AUDIT["hits"] == []  # the parser opened no file and requested no URL
    assert "TOP-SECRET" not in repr(parsed.entries) and "TOP-SECRET" not in parsed.title
    assert len(parsed.entries) == 1
