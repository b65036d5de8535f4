"""Sitemaps: the parser (news extension, index, gzip, damaged and hostile bodies, the URL bound), the
reader against a local server (index depth and child bounds, unchanged children skipped, age and count
limits), and the real poller publishing new URLs with their pages' text into the ``articles`` topic."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from monitor.broker import ensure_topics, make_producer
from monitor.cli import main
from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import make_session
from monitor.ingest.poller import Poller
from monitor.ingest.sitemap import SitemapError, parse_sitemap, read_source
from monitor.ingest.state import FeedState
from monitor.metrics import Metrics
from monitor.models import Article

from .conftest import SMALL, ThreadedServer, serve, small_settings
from .test_poller import _consume

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(t: datetime) -> str:
    return t.isoformat()


def news_sitemap(base: str, items: list[tuple[str, datetime, str]], lang: str = "ar") -> bytes:
    """A Google News sitemap: (path, publication date, title)."""
    body = "".join(
        f"<url><loc>{base}{path}?utm_source=sm</loc><news:news><news:publication><news:name>Example</news:name>"
        f"<news:language>{lang}</news:language></news:publication>"
        f"<news:publication_date>{iso(when)}</news:publication_date><news:title>{title}</news:title>"
        f"</news:news></url>" for path, when, title in items)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{body}</urlset>').encode()


def index(children: list[tuple[str, str]]) -> bytes:
    body = "".join(f"<sitemap><loc>{loc}</loc>" + (f"<lastmod>{m}</lastmod>" if m else "") + "</sitemap>"
                   for loc, m in children)
    return (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}'
            "</sitemapindex>").encode()


def test_news_sitemap_parsed() -> None:
    body = news_sitemap("https://example.iq", [("/a/1", NOW, "انفجار في البصرة"), ("/a/2", NOW, "Two")])
    doc = parse_sitemap(body)
    assert doc.kind == "urlset" and len(doc.urls) == 2
    u = doc.urls[0]
    assert (u.loc, u.title, u.language, u.published) == (
        "https://example.iq/a/1?utm_source=sm", "انفجار في البصرة", "ar", NOW)
    plain = parse_sitemap(b"<urlset><url><loc>/rel/page</loc><lastmod>2026-12-01</lastmod></url>"
                          b"<url><loc>ftp://x/y</loc></url><url><lastmod>bad</lastmod></url></urlset>",
                          base_url="https://site.example/sitemap.xml")
    assert [(x.loc, x.lastmod) for x in plain.urls] == [
        ("https://site.example/rel/page", datetime(2026, 12, 1, tzinfo=UTC))]
    assert parse_sitemap(gzip.compress(body)).urls == doc.urls
    idx = parse_sitemap(index([("https://s.example/a.xml", "2026-12-04T10:00:00+03:00")]))
    assert idx.kind == "index" and idx.children == [("https://s.example/a.xml", "2026-12-04T10:00:00+03:00")]


def test_bad_and_hostile_sitemaps() -> None:
    for bad in (b"<html><body>not a sitemap</body></html>", b"", b"\x1f\x8bnot gzip", b"<urlset><url><loc>x"):
        with pytest.raises(SitemapError):
            parse_sitemap(bad)
    bomb = (b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;">]><urlset><url><loc>https://x.example/&c;</loc></url>'
            b"<url><loc>https://x.example/ok</loc></url></urlset>")
    with pytest.raises(SitemapError):  # the DOCTYPE is gone, so &c; is an undefined entity: nothing expands
        parse_sitemap(bomb)
    cut = parse_sitemap(b"<urlset><url><loc>https://x.example/1</loc></url><url><loc>https://x.exa")
    assert cut.truncated and [u.loc for u in cut.urls] == ["https://x.example/1"]
    many = b"<urlset>" + b"".join(b"<url><loc>https://x.example/%d</loc></url>" % i for i in range(500)) + b"</urlset>"
    capped = parse_sitemap(many, max_urls=100)
    assert capped.truncated and len(capped.urls) == 100
    with pytest.raises(SitemapError):
        parse_sitemap(gzip.compress(many), max_bytes=1000)


class Site:
    """An index of news sitemaps, with a nested index and article pages; records requested paths."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.index_children: list[tuple[str, str]] = []
        self.maps: dict[str, bytes] = {}

    async def handle(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        base = f"http://{request.host}"
        if request.path == "/sitemap_index.xml":
            return web.Response(body=index([(base + p, m) for p, m in self.index_children]),
                                content_type="application/xml")
        if request.path in self.maps:
            return web.Response(body=self.maps[request.path].replace(b"BASE", base.encode()),
                                content_type="application/xml")
        if request.path.startswith("/news/"):
            para = f"<p>{request.path} reports that the council met in Basra and approved the budget. </p>" * 12
            return web.Response(text=f"<html><head><title>Page {request.path}</title></head><body><nav>menu</nav>"
                                     f"<article><h1>Story</h1>{para}</article></body></html>", content_type="text/html")
        return web.Response(status=404)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        return app


async def test_reader_bounds(session: Any) -> None:
    site = Site()
    site.index_children = [(f"/s{i}.xml", iso(NOW - timedelta(hours=i))) for i in range(5)] + [("/nested.xml", "")]
    for i in range(5):
        site.maps[f"/s{i}.xml"] = news_sitemap("BASE", [(f"/news/{i}-{j}", NOW - timedelta(hours=j * 20), f"t{i}{j}")
                                                        for j in range(4)])
    site.maps["/nested.xml"] = index([("BASE/deeper.xml", "")])
    site.maps["/deeper.xml"] = index([("BASE/deepest.xml", "")])
    site.maps["/deepest.xml"] = news_sitemap("BASE", [("/news/deep", NOW, "deep")])
    settings = small_settings(sitemap_max_children=6, sitemap_max_depth=2, sitemap_max_new=7,
                              sitemap_max_age_days=2.0)
    async with serve(site.app()) as base:
        feed = FeedConfig(url=f"{base}/sitemap_index.xml", kind="sitemap", tags=("iq",))
        got = await read_source(session, feed, FeedState(), SMALL, settings, NOW)
        assert "/deeper.xml" not in site.paths  # depth 2: the nested index's own children are not read
        assert got.read == 20 and got.status == "ok"
        # ages 0, 20, 40 hours are within 2 days, 60 is not; the 7 newest of the 15 remaining
        assert len(got.articles) == 7 and all(a.published >= NOW - timedelta(hours=20) for a in got.articles)
        assert [a.published for a in got.articles] == sorted(a.published for a in got.articles)  # oldest first
        a = got.articles[-1]
        assert a.url == a.id and "utm_source" not in a.url and a.lang == "ar" and a.tags == ("iq",)
        assert set(got.keep["children"]) == {f"{base}/s{i}.xml" for i in range(5)} | {f"{base}/nested.xml"}
        site.paths.clear()
        again = await read_source(session, feed, FeedState(children=got.keep["children"]), SMALL, settings, NOW)
        assert site.paths == ["/sitemap_index.xml", "/nested.xml"]  # unchanged (dated) children not refetched
        assert again.articles == []
        few = small_settings(sitemap_max_children=2)
        site.paths.clear()
        await read_source(session, feed, FeedState(), SMALL, few, NOW)
        assert site.paths == ["/sitemap_index.xml", "/s0.xml", "/s1.xml"]  # the newest two children only
        bad = await read_source(session, FeedConfig(url=f"{base}/news/x", kind="sitemap"), FeedState(), SMALL,
                                settings, NOW)
        assert bad.status == "error" and bad.parse_error == "not_a_sitemap"


def test_feeds_check_reports_a_sitemap(tmp_path: Path) -> None:
    site = Site()
    site.maps["/news.xml"] = news_sitemap("BASE", [("/news/1", NOW, "one"), ("/news/2", NOW, "two")])
    with ThreadedServer(site.app()) as srv:
        f = tmp_path / "feeds.yaml"
        f.write_text(f"feeds:\n  - kind: sitemap\n    url: {srv.url}/news.xml\n")
        result = CliRunner().invoke(main, ["feeds", "check", str(f)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert (line["status"], line["entries"], line["error"]) == ("ok", 2, None)
    assert not any(p.startswith("/news/") for p in site.paths)  # checking fetches no pages


@pytest.mark.integration
async def test_sitemap_into_the_articles_topic(kafka_bootstrap: str, redis_db_url: str, unique: str) -> None:
    settings = small_settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_db_url,
                              topic_articles=f"articles-{unique}", topic_partitions=1)
    await ensure_topics(settings)
    producer = await make_producer(settings)
    redis = aioredis.Redis.from_url(redis_db_url)
    site = Site()
    site.maps["/news.xml"] = news_sitemap("BASE", [("/news/1", NOW, "مجلس البصرة يقر الموازنة")])
    metrics = Metrics(CollectorRegistry())
    try:
        async with serve(site.app()) as base:
            feed = FeedConfig(url=f"{base}/news.xml", kind="sitemap", name="sm")
            poller = Poller(settings, [feed], redis=redis, producer=producer, prefix=unique, metrics=metrics)
            got: list[Article] = []
            poller.on_article = got.append
            async with make_session(SMALL) as session:
                assert (await poller.poll_once(feed, session=session)).new == 1
                assert (await poller.poll_once(feed, session=session)).new == 0  # same body: nothing
                site.maps["/news.xml"] = (news_sitemap("BASE", [("/news/1", NOW, "مجلس البصرة يقر الموازنة")])
                                          .replace(b"</urlset>", b"<url><loc>BASE/news/2</loc></url></urlset>"))
                out = await poller.poll_once(feed, session=session)
                assert (out.new, out.duplicate) == (1, 1)
        records: list[Any] = await _consume(settings, 2, f"g-{unique}")
    finally:
        await producer.stop()
        await redis.aclose()
    by_key = {k.decode(): Article.from_json(v) for k, v in records}
    one, two = by_key[f"{base}/news/1"], by_key[f"{base}/news/2"]
    assert one.title == "مجلس البصرة يقر الموازنة" and "approved the budget" in one.content
    assert "menu" not in one.content and one.lang == "ar" and one.source == "sm"
    assert two.title == "Page /news/2" and "/news/2 reports" in two.content  # title from the page itself
    assert [a.id for a in got] == [one.id, two.id]
    assert metrics.source_articles.labels("sitemap")._value.get() == 2
