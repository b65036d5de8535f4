"""Telegram, sitemap and WebSub sources into alerts, as a user runs it: ``monitor run`` on the embedded
default with a feeds file naming a Telegram channel, a news sitemap and a feed that advertises a hub,
all served from a local server in this test (with the hub), and ``MONITOR_PUBLIC_URL`` pointing at the
process's own API. Each source carries one report of an attack on a named base; each must come out as
an ``attack-on-base`` alert in the API with the right article."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import signal
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from helpers import MonitorProcess  # tests/helpers.py: tests/ is on sys.path as the ingest package's root

from monitor.embedded import free_port

from .conftest import ThreadedServer
from .test_telegram import page

pytestmark = pytest.mark.integration

STORY = ("<html><head><title>Drone strikes Harir air base in Erbil</title></head><body><article>"
         "<h1>Drone strikes Harir air base in Erbil</h1>"
         + "<p>A drone struck Harir air base north of Erbil late on Tuesday, security officials said. "
           "No casualties were reported, and an investigation has begun.</p>" * 6
         + "</article></body></html>")


def atom(base: str, entries: list[tuple[str, str]]) -> bytes:
    items = "".join(f"<entry><id>urn:e2e:{i}</id><title>{t}</title><link href='{base}/story/{i}'/>"
                    f"<updated>2026-12-04T06:00:00Z</updated><summary>{t}</summary></entry>" for i, t in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>w</title>'
            f"<id>urn:e2e:feed</id><updated>2026-12-04T06:00:00Z</updated>"
            f'<link rel="hub" href="{base}/hub"/><link rel="self" href="{base}/feed.atom"/>{items}</feed>').encode()


class Sources:
    """The Telegram preview, the news sitemap and its page, the hub-advertising feed and the hub."""

    def __init__(self) -> None:
        self.verified: list[tuple[str, str]] = []  # (callback, secret)
        self.tasks: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/s/example_iq", lambda r: web.Response(body=page("latest.html"), content_type="text/html"))
        app.router.add_get("/news-sitemap.xml", self.sitemap)
        app.router.add_get("/news/harir", lambda r: web.Response(text=STORY, content_type="text/html"))
        app.router.add_get("/feed.atom", self.feed)
        app.router.add_post("/hub", self.hub)
        return app

    async def sitemap(self, request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.Response(content_type="application/xml", text=(
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url>'
            f"<loc>{base}/news/harir</loc><news:news><news:publication><news:name>E2E</news:name>"
            "<news:language>en</news:language></news:publication>"
            f"<news:publication_date>{datetime.now(UTC).isoformat()}</news:publication_date>"
            "<news:title>Drone strikes Harir air base in Erbil</news:title></news:news></url></urlset>"))

    async def feed(self, request: web.Request) -> web.Response:
        return web.Response(body=atom(f"http://{request.host}", [("1", "Markets were calm in Baghdad")]),
                            content_type="application/atom+xml")

    async def hub(self, request: web.Request) -> web.Response:
        form = await request.post()
        task = asyncio.create_task(self._verify(str(form["hub.callback"]), str(form["hub.topic"]),
                                                str(form["hub.secret"])))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.Response(status=202)

    async def _verify(self, callback: str, topic: str, secret: str) -> None:
        challenge = secrets.token_hex(8)
        async with ClientSession() as s, s.get(callback, params={
                "hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": challenge,
                "hub.lease_seconds": "3600"}) as r:
            if r.status == 200 and await r.text() == challenge:
                self.verified.append((callback, secret))


def attack_alerts(api: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{api}/api/v1/alerts?limit=200", timeout=5) as resp:
        alerts = json.loads(resp.read())["alerts"]
    return {a["article"]["id"]: a for a in alerts if "attack-on-base" in a["tags"]}


def test_telegram_sitemap_and_websub_into_alerts(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    src = Sources()
    with ThreadedServer(src.app()) as srv:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            f"feeds:\n  - kind: telegram\n    url: {srv.url}/s/example_iq\n    language: ar\n"
            f"  - kind: sitemap\n    url: {srv.url}/news-sitemap.xml\n"
            f"  - url: {srv.url}/feed.atom\n    name: pushed\n")
        mon = MonitorProcess(["run"], {"MONITOR_DATA_DIR": str(tmp_path / "data"), "MONITOR_HTTP_PORT": str(port),
                                       "MONITOR_FEEDS": str(feeds), "MONITOR_PUBLIC_URL": api})
        try:
            mon.wait_for(lambda: src.verified, 120, "the hub's verification of the WebSub subscription")
            callback, secret = src.verified[-1]
            assert callback.startswith(f"{api}/websub/")
            body = atom(srv.url, [("2", "Rockets land inside Victoria base near Baghdad airport")])
            sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            req = urllib.request.Request(callback, data=body, method="POST", headers={
                "Content-Type": "application/atom+xml", "X-Hub-Signature": f"sha256={sig}"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 202
            want = {"https://t.me/example_iq/101", f"{srv.url}/news/harir", "urn:e2e:2"}
            mon.wait_for(lambda: set(attack_alerts(api)) >= want, 120,
                         "attack-on-base alerts from the Telegram message, the sitemap page and the pushed entry")
            got = attack_alerts(api)
            assert got["https://t.me/example_iq/101"]["article"]["url"] == "https://t.me/example_iq/101"
            assert got[f"{srv.url}/news/harir"]["article"]["title"] == "Drone strikes Harir air base in Erbil"
            assert got["urn:e2e:2"]["article"]["source"] == "pushed"
        finally:
            code = mon.stop(signal.SIGTERM, timeout=60)
        assert code == 0, "\n".join(mon.err[-40:])
