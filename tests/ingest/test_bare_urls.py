"""A feeds file of bare URLs, many on one host and none named: it loads, ``monitor feeds check`` reads
every feed, and the real poller (embedded Redis and broker) publishes every feed's entries under its own
derived name."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from monitor.broker import ensure_topics, make_producer
from monitor.cli import main
from monitor.ingest.feeds import load_feeds
from monitor.ingest.poller import Poller
from monitor.metrics import Metrics
from monitor.models import Article

from .conftest import ThreadedServer, rss_feed, serve, small_settings
from .test_poller import _consume

N = 120


def _app() -> web.Application:
    async def feed(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        return web.Response(body=rss_feed([(f"{n}-a", f"first of {n}"), (f"{n}-b", f"second of {n}")]),
                            content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/corpus/{n}.xml", feed)
    return app


def _bare_file(tmp_path: Path, base: str, n: int) -> Path:
    f = tmp_path / "feeds.yaml"
    f.write_text("feeds:\n" + "".join(f"  - url: {base}/corpus/{i}.xml\n" for i in range(n)))
    return f


def test_feeds_check_on_bare_urls_of_one_host(tmp_path: Path) -> None:
    with ThreadedServer(_app()) as srv:
        result = CliRunner().invoke(main, ["feeds", "check", str(_bare_file(tmp_path, srv.url, N))])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["url"] for line in lines] == [f"{srv.url}/corpus/{i}.xml" for i in range(N)]
    assert all((line["status"], line["entries"]) == ("ok", 2) for line in lines)


@pytest.mark.integration
async def test_poller_on_bare_urls_of_one_host(tmp_path: Path, kafka_bootstrap: str, redis_db_url: str,
                                               unique: str) -> None:
    settings = small_settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_db_url,
                              topic_articles=f"articles-{unique}", topic_partitions=1,
                              poll_interval=300.0, poll_interval_min=300.0, poll_interval_max=600.0)
    await ensure_topics(settings)
    producer = await make_producer(settings)
    redis = aioredis.Redis.from_url(redis_db_url)
    try:
        async with serve(_app()) as base:
            feeds = load_feeds(_bare_file(tmp_path, base, 40))
            poller = Poller(settings, feeds, redis=redis, producer=producer, prefix=unique,
                            metrics=Metrics(CollectorRegistry()))
            got: list[Article] = []
            poller.on_article = got.append
            task = asyncio.create_task(poller.run())
            deadline = time.monotonic() + 60
            while len(got) < 80 and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.05)
            await poller.stop()
            await task
        records: list[Any] = await _consume(settings, 80, f"g-{unique}")
    finally:
        await producer.stop()
        await redis.aclose()
    assert len(got) == 80
    sources = {Article.from_json(v).source for _k, v in records}
    assert sources == {f"127.0.0.1/corpus/{i}.xml" for i in range(40)}
