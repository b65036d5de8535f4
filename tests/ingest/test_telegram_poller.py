"""A Telegram channel through the real poller into the ``articles`` topic (embedded broker and Redis):
first sight publishes the page's messages with text, a later poll only what is new — an edited message
is not published again — and the channel's next poll is at least ``telegram_min_interval`` away."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.broker import ensure_topics, make_producer
from monitor.ingest.feeds import parse_feeds
from monitor.ingest.fetch import make_session
from monitor.ingest.poller import Poller
from monitor.metrics import Metrics
from monitor.models import Article

from .conftest import SMALL, serve, small_settings
from .test_poller import _consume
from .test_telegram import page

pytestmark = pytest.mark.integration

NEW_MESSAGE = """<div class="tgme_widget_message_wrap js-widget_message_wrap">
<div class="tgme_widget_message js-widget_message" data-post="example_iq/107"><div class="tgme_widget_message_bubble">
<div class="tgme_widget_message_text js-message_text" dir="auto">عاجل: اشتباكات مسلحة في قضاء سنجار</div>
<div class="tgme_widget_message_footer"><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date"
 href="https://t.me/example_iq/107"><time datetime="2026-12-04T08:01:00+03:00">08:01</time></a></span></div>
</div></div></div>
</section>"""


async def test_channel_into_the_articles_topic(kafka_bootstrap: str, redis_db_url: str, unique: str) -> None:
    settings = small_settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_db_url,
                              topic_articles=f"articles-{unique}", topic_partitions=1,
                              telegram_min_interval=30.0, telegram_page_delay=0.0)
    await ensure_topics(settings)
    producer = await make_producer(settings)
    redis = aioredis.Redis.from_url(redis_db_url)
    body = {"now": page("latest.html")}
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.query.get("before", ""))
        if request.query.get("before") == "101":
            return web.Response(body=page("before_101.html"), content_type="text/html")
        return web.Response(body=body["now"], content_type="text/html")

    app = web.Application()
    app.router.add_get("/s/example_iq", handle)
    metrics = Metrics(CollectorRegistry())
    try:
        async with serve(app) as base:
            feed, = parse_feeds(f"feeds:\n  - kind: telegram\n    url: {base}/s/example_iq\n    language: ar\n",
                                "f.yaml")
            poller = Poller(settings, [feed], redis=redis, producer=producer, prefix=unique, metrics=metrics)
            got: list[Article] = []
            poller.on_article = got.append
            async with make_session(SMALL) as session:
                first = await poller.poll_once(feed, session=session)
                assert (first.status, first.new) == ("ok", 4)
                st = poller.states[feed.key]
                assert st.cursor == 105 and st.next_due is not None and st.next_due >= time.time() + 25
                edited = body["now"].replace("يعلن السيطرة على الحريق".encode(), "يعلن إخماد الحريق".encode())
                body["now"] = edited.replace(b"</section>", NEW_MESSAGE.encode())
                second = await poller.poll_once(feed, session=session)
                assert (second.status, second.new) == ("ok", 1)
                assert poller.states[feed.key].cursor == 107
            assert hits == ["", ""]  # no paging: every new message was on the newest page
        records: list[Any] = await _consume(settings, 5, f"g-{unique}")
    finally:
        await producer.stop()
        await redis.aclose()
    assert [a.id for a in got] == [f"https://t.me/example_iq/{n}" for n in (101, 102, 104, 105, 107)]
    by_key = {k.decode(): Article.from_json(v) for k, v in records}
    assert set(by_key) == {a.id for a in got}
    a = by_key["https://t.me/example_iq/107"]
    assert (a.title, a.lang, a.source) == ("عاجل: اشتباكات مسلحة في قضاء سنجار", "ar", "t.me/example_iq")
    assert by_key["https://t.me/example_iq/104"].summary.endswith("يعلن السيطرة على الحريق في مخزن الوقود")
    assert metrics.source_articles.labels("telegram")._value.get() == 5
    assert metrics.source_polls.labels("telegram", "ok")._value.get() == 2
