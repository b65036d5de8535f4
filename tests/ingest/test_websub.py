"""WebSub: discovery and signature checks (pure), then the whole loop with a local hub written here —
the real poller discovers the hub in a polled feed, subscribes, the hub verifies intent on the callback
route of the real HTTP API, pushes signed content that reaches the ``articles`` topic (embedded broker
and Redis), a badly signed push is dropped, the lease is renewed, and polling goes on at the fallback
interval."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import ClientSession, web
from prometheus_client import CollectorRegistry

from monitor.alerting.recent import RecentAlerts
from monitor.api.app import ApiDeps, make_app
from monitor.broker import ensure_topics, make_producer
from monitor.ingest.feeds import FeedConfig
from monitor.ingest.poller import Poller
from monitor.ingest.websub import discover, load, signature_ok
from monitor.metrics import METRICS, Metrics
from monitor.models import Article

from .conftest import serve, small_settings
from .test_poller import _consume


def test_discover_hub_and_self() -> None:
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><link rel="self" href="https://x.example/atom"/>'
            b"<link href='/hub' rel='hub'/><entry><link rel=\"hub\" href=\"https://wrong.example\"/></entry></feed>")
    assert discover(atom, "https://x.example/feed") == ("https://x.example/hub", "https://x.example/atom")
    rss = (b'<rss xmlns:atom="http://www.w3.org/2005/Atom"><channel><atom:link rel="hub" '
           b'href="https://pubsubhubbub.example/"/></channel></rss>')
    assert discover(rss, "https://x.example/rss") == ("https://pubsubhubbub.example/", "")
    assert discover(b"<rss><channel><link>https://x.example/</link></channel></rss>", "https://x.example/") is None
    assert discover(b'<feed><link rel="hub" href="javascript:alert(1)"/></feed>', "https://x.example/") is None


def test_signature_checks() -> None:
    body, secret = b"<feed>x</feed>", "s3cret"
    for algo in ("sha1", "sha256", "sha384", "sha512"):
        sig = hmac.new(secret.encode(), body, getattr(hashlib, algo)).hexdigest()
        assert signature_ok(f"{algo}={sig}", body, secret)
        assert not signature_ok(f"{algo}={sig}", body + b" ", secret)
        assert not signature_ok(f"{algo}={sig}", body, "other")
    assert not signature_ok(None, body, secret) and not signature_ok("", body, secret)
    assert not signature_ok("md5=" + hashlib.md5(body).hexdigest(), body, secret)
    assert not signature_ok("sha256", body, secret)


def atom(base: str, entries: list[tuple[str, str]]) -> bytes:
    items = "".join(f"<entry><id>urn:example:{i}</id><title>{t}</title><link href='{base}/story/{i}'/>"
                    f"<updated>2026-12-04T06:00:00Z</updated><summary>{t}</summary></entry>" for i, t in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>w</title>'
            f"<id>urn:example:feed</id><updated>2026-12-04T06:00:00Z</updated>"
            f'<link rel="hub" href="{base}/hub"/><link rel="self" href="{base}/feed.atom"/>{items}</feed>').encode()


class Hub:
    """A small WebSub hub: accepts subscriptions (202), verifies intent on the callback with a challenge,
    keeps the secret, and publishes by POSTing signed content to verified callbacks."""

    def __init__(self, lease: int) -> None:
        self.lease = lease
        self.requests: list[dict[str, str]] = []
        self.verified: list[tuple[str, str, str]] = []  # (callback, topic, secret)
        self.base = ""
        self._tasks: set[asyncio.Task[None]] = set()

    async def subscribe(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.requests.append({k: str(v) for k, v in form.items()})
        if form.get("hub.mode") != "subscribe" or not form.get("hub.callback"):
            return web.Response(status=400)
        task = asyncio.create_task(self._verify(str(form["hub.callback"]), str(form["hub.topic"]),
                                                str(form.get("hub.secret", ""))))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=202)

    async def _verify(self, callback: str, topic: str, secret: str) -> None:
        challenge = secrets.token_hex(8)
        params = {"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": challenge,
                  "hub.lease_seconds": str(self.lease)}
        async with ClientSession() as s, s.get(callback, params=params) as r:
            if r.status == 200 and await r.text() == challenge:
                self.verified.append((callback, topic, secret))

    async def publish(self, body: bytes, *, bad: bool = False) -> int:
        callback, _topic, secret = self.verified[-1]
        sig = hmac.new((secret + ("x" if bad else "")).encode(), body, hashlib.sha256).hexdigest()
        async with ClientSession() as s, s.post(callback, data=body, headers={
                "Content-Type": "application/atom+xml", "X-Hub-Signature": f"sha256={sig}"}) as r:
            return r.status


async def wait_for(cond: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.integration
async def test_websub_end_to_end(kafka_bootstrap: str, redis_db_url: str, unique: str) -> None:
    hub = Hub(lease=6)
    site = web.Application()
    entries = [("1", "first")]
    polls: list[float] = []

    async def feed(request: web.Request) -> web.Response:
        polls.append(time.time())
        return web.Response(body=atom(hub.base, entries), content_type="application/atom+xml")

    site.router.add_get("/feed.atom", feed)
    site.router.add_post("/hub", hub.subscribe)
    redis = aioredis.Redis.from_url(redis_db_url)
    producer = None
    try:
        async with serve(site) as site_base:
            hub.base = site_base
            # the API first (its port is the public URL), then settings that name it
            probe = small_settings(redis_url=redis_db_url, ingest_redis_prefix=unique)
            deps = ApiDeps(settings=probe, redis=redis, recent=RecentAlerts(redis))
            app = make_app(deps)
            async with serve(app) as api:
                settings = small_settings(
                    kafka_bootstrap=kafka_bootstrap, redis_url=redis_db_url, topic_articles=f"articles-{unique}",
                    topic_partitions=1, ingest_redis_prefix=unique, public_url=api, websub_lease=600,
                    websub_fallback_interval=300.0, poll_interval=0.2, poll_interval_min=0.1, poll_interval_max=1.0)
                deps.settings = settings
                await ensure_topics(settings)
                producer = await make_producer(settings)
                f = FeedConfig(url=f"{site_base}/feed.atom", name="ws")
                poller = Poller(settings, [f], redis=redis, producer=producer, metrics=Metrics(CollectorRegistry()))
                got: list[Article] = []
                poller.on_article = got.append
                task = asyncio.create_task(poller.run())
                try:
                    async def verified() -> bool:
                        sub = await load(redis, unique, f.key)
                        return bool(hub.verified) and sub is not None and sub.state == "active"

                    await wait_for(verified, "the hub's verification of intent")
                    form = hub.requests[0]
                    assert form["hub.callback"] == f"{api}/websub/{f.key}"
                    assert form["hub.topic"] == f"{site_base}/feed.atom" and len(form["hub.secret"]) >= 32
                    assert form["hub.lease_seconds"] == "600"
                    sub = await load(redis, unique, f.key)
                    assert sub is not None and sub.lease_seconds == 6  # what the hub granted

                    # polling goes on as the fallback, at the longer interval
                    async def slowed() -> bool:
                        st = poller.states.get(f.key)
                        return st is not None and (st.next_due or 0) > time.time() + 250

                    await wait_for(slowed, "the fallback interval")

                    bad_before = METRICS.websub_events.labels("bad_signature")._value.get()
                    assert await hub.publish(atom(site_base, [("666", "forged")]), bad=True) == 202
                    assert METRICS.websub_events.labels("bad_signature")._value.get() == bad_before + 1
                    assert await hub.publish(atom(site_base, [("2", "pushed"), ("1", "first")])) == 202

                    async def pushed() -> bool:
                        return any(a.id == "urn:example:2" for a in got)

                    await wait_for(pushed, "the pushed entry to be published")

                    async def renewed() -> bool:  # a lease of 6 s: renewed when less than 1.2 s is left
                        return len(hub.requests) >= 2 and len(hub.verified) >= 2

                    await wait_for(renewed, "the lease renewal")
                    assert hub.requests[1]["hub.secret"] == form["hub.secret"]  # the same subscription renewed
                finally:
                    await poller.stop()
                    await task
                # a verification for a topic never asked for is refused
                async with ClientSession() as s, s.get(f"{api}/websub/{f.key}", params={
                        "hub.mode": "subscribe", "hub.topic": "https://evil.example/", "hub.challenge": "x"}) as r:
                    assert r.status == 404
                async with ClientSession() as s, s.get(f"{api}/websub/nope", params={
                        "hub.mode": "subscribe", "hub.topic": "t", "hub.challenge": "x"}) as r:
                    assert r.status == 404
        records = await _consume(settings, 2, f"g-{unique}")
    finally:
        if producer is not None:
            await producer.stop()
        await redis.aclose()
    ids = [Article.from_json(v).id for _k, v in records]
    assert sorted(ids) == ["urn:example:1", "urn:example:2"]  # the forged entry never got in
    assert [a.id for a in got] == ["urn:example:1", "urn:example:2"]
