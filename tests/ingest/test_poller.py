"""The poller against real local feeds, the real embedded Redis and the real embedded Kafka broker.

Proven here: new entries are published once (key = id, value = Article JSON) and consumed back; re-polls
and re-ordering publish nothing; mark-seen happens only after the broker's ack (a producer whose sends
fail leaves ids unseen and validators unchanged, and a later poll publishes them); every request after
the first is conditional; Retry-After is honoured (server-side timestamps against the header value);
a restart resumes from Redis state (no immediate refetch) while a newly configured feed is polled at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from monitor.broker import ensure_topics, make_consumer, make_producer
from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import make_session
from monitor.ingest.poller import Poller
from monitor.metrics import Metrics
from monitor.models import Article
from monitor.settings import Settings

from .conftest import SMALL, raw_server, rss_feed, serve, small_settings

pytestmark = pytest.mark.integration


class FeedServer:
    """A feed whose items and behaviour tests change; records every request (server time, headers)."""

    def __init__(self) -> None:
        self.items = [("1", "one"), ("2", "two"), ("3", "three")]
        self.etag = True
        self.requests: list[tuple[float, dict[str, str], int]] = []
        self.throttle: list[int] = []  # Retry-After seconds to answer with, one per request, first

    async def handle(self, request: web.Request) -> web.Response:
        now = time.time()
        body = rss_feed(self.items)
        tag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if self.throttle:
            wait = self.throttle.pop(0)
            self.requests.append((now, dict(request.headers), 429))
            return web.Response(status=429, headers={"Retry-After": str(wait)})
        if self.etag and request.headers.get("If-None-Match") == tag:
            self.requests.append((now, dict(request.headers), 304))
            return web.Response(status=304)
        self.requests.append((now, dict(request.headers), 200))
        return web.Response(body=body, headers={"ETag": tag} if self.etag else {},
                            content_type="application/rss+xml")


@pytest.fixture
async def feed_server() -> AsyncIterator[tuple[FeedServer, str]]:
    fs = FeedServer()
    app = web.Application()
    app.router.add_get("/feed", fs.handle)
    app.router.add_get("/other", fs.handle)
    async with serve(app) as base:
        yield fs, base


@pytest.fixture
async def redis_client(redis_db_url: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.Redis.from_url(redis_db_url)
    yield r
    await r.aclose()


@pytest.fixture
async def kafka(kafka_bootstrap: str, redis_db_url: str, unique: str) -> AsyncIterator[tuple[Settings, Any]]:
    settings = small_settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_db_url,
                              topic_articles=f"articles-{unique}", topic_partitions=1)
    await ensure_topics(settings)
    producer = await make_producer(settings)
    yield settings, producer
    await producer.stop()


async def _consume(settings: Settings, n: int, group: str) -> list[tuple[bytes, bytes]]:
    consumer = make_consumer(settings, settings.topic_articles, group_id=group)
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got.extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return got


async def test_publish_consume_and_no_republish(feed_server: tuple[FeedServer, str], kafka: Any,
                                                redis_client: aioredis.Redis, unique: str) -> None:
    fs, base = feed_server
    settings, producer = kafka
    feed = FeedConfig(url=f"{base}/feed", name="f", language="en", tags=("t",))
    metrics = Metrics(CollectorRegistry())
    poller = Poller(settings, [feed], redis=redis_client, producer=producer, metrics=metrics, prefix=unique)
    published: list[Article] = []
    poller.on_article = published.append
    async with make_session(SMALL) as session:
        first = await poller.poll_once(feed, session=session)
        assert (first.status, first.new, first.duplicate) == ("ok", 3, 0)
        assert (await poller.poll_once(feed, session=session)).status == "not_modified"
        fs.items.reverse()  # re-ordered body, new ETag: parsed again, nothing new
        again = await poller.poll_once(feed, session=session)
        assert (again.status, again.new, again.duplicate) == ("ok", 0, 3)
        fs.items.insert(0, ("4", "four"))
        more = await poller.poll_once(feed, session=session)
        assert (more.new, more.duplicate) == (1, 3)
        # feed state lost (validators, item digests), seen ids kept: a full refetch publishes nothing
        await redis_client.delete(f"{unique}feed:{feed.key}")
        fresh = Poller(settings, [feed], redis=redis_client, producer=producer, metrics=metrics, prefix=unique)
        fresh.on_article = published.append
        again = await fresh.poll_once(feed, session=session)
        assert (again.status, again.new, again.duplicate) == ("ok", 0, 4)
        assert "If-None-Match" not in fs.requests[-1][1]
    assert [a.title for a in published] == ["one", "two", "three", "four"] or \
        sorted(a.title for a in published) == ["four", "one", "three", "two"]
    records = await _consume(settings, 4, f"g-{unique}")
    assert len(records) == 4
    by_key = {k.decode(): Article.from_json(v) for k, v in records}
    assert set(by_key) == {f"{base}/feed#{i}" for i in "1234"}  # bare guids are feed-scoped
    a = by_key[f"{base}/feed#1"]
    assert (a.title, a.source, a.tags, a.lang, a.url) == ("one", "f", ("t",), "en", "http://example.com/1")
    assert metrics.articles_new._value.get() == 4
    assert metrics.articles_duplicate._value.get() == 10
    assert metrics.fetches.labels("not_modified")._value.get() == 1
    assert metrics.feed_last_success.labels("f")._value.get() > 0
    # the last poll that published something: `more` (one new article); the later polls published none
    last_new = metrics.feed_last_new_article.labels("f")._value.get()
    assert 0 < last_new <= metrics.feed_last_success.labels("f")._value.get()
    assert poller.states[feed.key].last_new == last_new
    headers = [h for _, h, _ in fs.requests]
    assert "If-None-Match" not in headers[0] and all("If-None-Match" in h for h in headers[1:-1])


async def test_mark_seen_only_after_ack(feed_server: tuple[FeedServer, str], kafka: Any,
                                        redis_client: aioredis.Redis, unique: str) -> None:
    fs, base = feed_server
    settings, good_producer = kafka
    feed = FeedConfig(url=f"{base}/feed", name="f")
    # A real producer whose every send fails: records are larger than it may send.
    tiny = AIOKafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all", max_request_size=64)
    await tiny.start()
    try:
        failing = Poller(settings, [feed], redis=redis_client, producer=tiny, prefix=unique,
                         metrics=Metrics(CollectorRegistry()))
        async with make_session(SMALL) as session:
            out = await failing.poll_once(feed, session=session)
    finally:
        await tiny.stop()
    assert (out.new, out.failed_publish) == (0, 3)
    ids = [f"{base}/feed#{i}" for i in "123"]
    assert await failing.store.unseen(ids) == [True, True, True]
    assert failing.states[feed.key].etag is None  # validators not advanced: the body will be refetched

    ok = Poller(settings, [feed], redis=redis_client, producer=good_producer, prefix=unique,
                metrics=Metrics(CollectorRegistry()))
    async with make_session(SMALL) as session:
        out = await ok.poll_once(feed, session=session)
    assert (out.new, out.failed_publish) == (3, 0)
    assert await ok.store.unseen(ids) == [False, False, False]
    assert "If-None-Match" not in fs.requests[1][1]


async def test_run_honours_retry_after_and_conditional_requests(
        feed_server: tuple[FeedServer, str], kafka: Any, redis_client: aioredis.Redis, unique: str) -> None:
    fs, base = feed_server
    settings, producer = kafka
    feed = FeedConfig(url=f"{base}/feed", name="f", interval=0.1)
    metrics = Metrics(CollectorRegistry())
    poller = Poller(settings, [feed], redis=redis_client, producer=producer, metrics=metrics, prefix=unique)
    task = asyncio.create_task(poller.run())
    while len(fs.requests) < 2:
        await asyncio.sleep(0.05)
    fs.throttle.append(2)  # the next request gets 429 Retry-After: 2
    while not any(code == 429 for *_, code in fs.requests):
        await asyncio.sleep(0.05)
    throttled_at = next(t for t, _, code in fs.requests if code == 429)
    while fs.requests[-1][2] == 429:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    await poller.stop()
    await task
    after = [t for t, _, _ in fs.requests if t > throttled_at]
    assert after and min(after) >= throttled_at + 2.0  # no request before Retry-After elapsed
    assert all("If-None-Match" in h for _, h, _ in fs.requests[1:])
    assert metrics.fetches.labels("throttled")._value.get() == 1
    assert metrics.fetches.labels("not_modified")._value.get() >= 1
    assert task.done() and task.exception() is None


async def test_restart_resumes_from_redis_state(feed_server: tuple[FeedServer, str], kafka: Any,
                                                redis_client: aioredis.Redis, unique: str) -> None:
    fs, base = feed_server
    settings, producer = kafka
    known = FeedConfig(url=f"{base}/feed", name="known", interval=300)
    first = Poller(settings, [known], redis=redis_client, producer=producer, prefix=unique,
                   metrics=Metrics(CollectorRegistry()))
    task = asyncio.create_task(first.run())
    while not fs.requests:
        await asyncio.sleep(0.05)
    while first.states.get(known.key) is None or first.states[known.key].polls < 1:
        await asyncio.sleep(0.05)
    await first.stop()
    await task
    assert len(fs.requests) == 1

    added = FeedConfig(url=f"{base}/other", name="added", interval=300)
    second = Poller(settings, [known, added], redis=redis_client, producer=producer, prefix=unique,
                    metrics=Metrics(CollectorRegistry()))
    task = asyncio.create_task(second.run())
    while len(fs.requests) < 2:  # the new feed is polled at once
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    await second.stop()
    await task
    assert len(fs.requests) == 2  # the known feed was not refetched: its next poll is 300 s away
    assert second.states[known.key].polls == 1 and second.states[added.key].polls == 1


async def test_fulltext_feed_gets_the_page_text(kafka: Any, redis_client: aioredis.Redis, unique: str) -> None:
    settings, producer = kafka
    paragraph = "The negotiators met again in Doha on Tuesday and agreed on a second round of talks. " * 8
    page = (f"<html><head><title>Story</title></head><body><nav>Home | World</nav><article><h1>Talks</h1>"
            f"<p>{paragraph}</p><p>{paragraph}</p></article><footer>(c) news</footer></body></html>")
    app = web.Application()
    app.router.add_get("/story", lambda r: web.Response(text=page, content_type="text/html"))

    async def feed_handler(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.Response(content_type="application/rss+xml", text=(
            f'<rss version="2.0"><channel><title>t</title><item><guid>{base}/story</guid><title>Talks</title>'
            f"<link>{base}/story</link><description>Short summary.</description></item></channel></rss>"))

    app.router.add_get("/feed", feed_handler)
    async with serve(app) as base:
        feed = FeedConfig(url=f"{base}/feed", name="ft", fulltext=True)
        poller = Poller(settings, [feed], redis=redis_client, producer=producer, prefix=unique,
                        metrics=Metrics(CollectorRegistry()))
        got: list[Article] = []
        poller.on_article = got.append
        async with make_session(SMALL) as session:
            out = await poller.poll_once(feed, session=session)
    assert out.new == 1
    assert got[0].summary == "Short summary."
    assert "second round of talks" in got[0].content and "Home | World" not in got[0].content


async def test_broken_and_throttled_feeds_back_off_and_are_counted(redis_client: aioredis.Redis,
                                                                    unique: str) -> None:
    settings = small_settings(redis_url="redis://unused", poll_interval=100.0, poll_interval_max=1000.0)
    app = web.Application()
    app.router.add_get("/html", lambda r: web.Response(text="<html><p>not a feed", content_type="text/html"))
    app.router.add_get("/busy", lambda r: web.Response(status=503, headers={"Retry-After": "120"}))
    app.router.add_get("/gone", lambda r: web.Response(status=404))
    metrics = Metrics(CollectorRegistry())
    async with serve(app) as base:
        feeds = [FeedConfig(url=f"{base}/{p}", name=p) for p in ("html", "busy", "gone")]
        poller = Poller(settings, feeds, redis=redis_client, producer=None, metrics=metrics, prefix=unique)
        async with make_session(SMALL) as session:
            for _ in range(3):
                for f in feeds:
                    before = time.time()
                    await poller.poll_once(f, session=session)
                    st = poller.states[f.key]
                    if f.name == "busy":
                        assert st.retry_until is not None and st.retry_until >= before + 120
                        assert st.next_due is not None and st.next_due >= st.retry_until
    html, _busy, gone = (poller.states[f.key] for f in feeds)
    assert html.errors == gone.errors == 3 and html.last_success is None
    assert gone.next_due is not None and gone.next_due - gone.last_attempt > 100 * 2 * 0.8  # 2^(3-1) × 0.8
    assert metrics.parse_errors.labels("bozo_no_entries")._value.get() == 3
    assert metrics.fetches.labels("throttled")._value.get() == 3
    assert metrics.fetches.labels("error")._value.get() == 3
    stored = await poller.store.load([f.key for f in feeds])
    assert stored[feeds[2].key].errors == 3  # state is in Redis, not only in memory


async def test_stop_cancels_fetches_in_flight(redis_client: aioredis.Redis, unique: str) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    settings = small_settings(redis_url="redis://unused", fetch_deadline=600.0, fetch_read_timeout=600.0)
    async with raw_server(silent) as base:
        feed = FeedConfig(url=f"{base}/feed", name="silent")
        poller = Poller(settings, [feed], redis=redis_client, producer=None, prefix=unique,
                        metrics=Metrics(CollectorRegistry()))
        task = asyncio.create_task(poller.run())
        while not poller._tasks:
            await asyncio.sleep(0.02)
        await poller.stop()  # must not wait for the 600 s deadline
        await task
    assert task.exception() is None and not poller._tasks
    assert poller.states[feed.key].polls == 0


async def test_seen_ids_have_a_ttl_that_touch_restarts(redis_client: aioredis.Redis, unique: str) -> None:
    from monitor.ingest.state import FeedStore

    store = FeedStore(redis_client, prefix=unique, seen_ttl_s=1000)
    await store.mark_seen(["urn:a", "urn:b"])
    assert await store.unseen(["urn:a", "urn:b", "urn:c"]) == [False, False, True]
    key = store._seen_key("urn:a")
    assert 990 <= await redis_client.ttl(key) <= 1000
    await redis_client.expire(key, 5)
    await store.touch(["urn:a"])
    assert await redis_client.ttl(key) > 900


async def test_large_first_poll(feed_server: tuple[FeedServer, str], kafka: Any, redis_client: aioredis.Redis,
                                unique: str) -> None:
    fs, base = feed_server
    settings, producer = kafka
    fs.items = [(str(i), f"item {i}") for i in range(450)]  # converted in a worker thread (> 200 new)
    feed = FeedConfig(url=f"{base}/feed", name="big")
    poller = Poller(settings, [feed], redis=redis_client, producer=producer, prefix=unique,
                    metrics=Metrics(CollectorRegistry()))
    async with make_session(SMALL) as session:
        out = await poller.poll_once(feed, session=session)
    assert (out.new, out.failed_publish) == (450, 0)
    assert await poller.store.unseen([f"{base}/feed#0", f"{base}/feed#449"]) == [False, False]
