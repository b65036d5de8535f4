"""Telegram channel previews: the page parser on fixture pages that follow the real preview structure
(tests/ingest/fixtures/telegram/README.md), the paging reader against a local server, the feeds-file
forms, and ``monitor feeds check`` on a channel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner

from monitor.cli import main
from monitor.ingest.feeds import FeedConfig, FeedsInvalid, parse_feeds
from monitor.ingest.telegram import TelegramPageError, parse_preview, read_channel, to_articles

from .conftest import SMALL, ThreadedServer, serve

FIX = Path(__file__).parent / "fixtures" / "telegram"


def page(name: str) -> bytes:
    return (FIX / name).read_bytes()


class Channel:
    """Serves the fixture pages as t.me/s/example_iq would; records the query of every request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.latest = "latest.html"
        self.status = {}  # before-value -> HTTP status to answer with

    async def handle(self, request: web.Request) -> web.Response:
        before = request.query.get("before", "")
        self.requests.append(before)
        if before in self.status:
            return web.Response(status=self.status[before], headers={"Retry-After": "120"})
        name = {"": self.latest, "101": "before_101.html"}.get(before)
        if name is None:
            return web.Response(status=404)
        return web.Response(body=page(name), content_type="text/html")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/s/example_iq", self.handle)
        return app


def test_preview_page_parsed() -> None:
    p = parse_preview(page("latest.html"), "https://t.me/s/example_iq")
    assert p.title == "Example Iraq News | أخبار العراق"
    assert [m.number for m in p.messages] == [101, 102, 103, 104, 105]  # the service message is left out
    assert p.lowest == 101 and p.more_url == "https://t.me/s/example_iq?before=101"
    m = {x.number: x for x in p.messages}
    assert m[101].text.startswith("عاجل | سقوط صاروخين قرب قاعدة عين الأسد")
    assert "\n" in m[101].text and "التفاصيل في موقعنا" in m[101].text
    assert m[101].links == ("https://example-news.iq/ar/2026/12/04/ain-al-asad?utm_source=tg",)
    assert m[101].published == datetime(2026, 12, 4, 4, 15, 3, tzinfo=UTC)  # +03:00 honoured
    assert (m[102].forwarded_from, m[102].links) == ("Other Channel", ("https://example-wire.com/erbil-drones",))
    assert m[103].media_only and m[103].text == ""
    assert m[104].edited and m[104].text == "تحديث: الدفاع المدني يعلن السيطرة على الحريق في مخزن الوقود"
    assert m[105].text == "المتحدث العسكري ينفي وقوع أضرار في القاعدة"  # the quoted reply is not its text
    assert m[105].url == "https://t.me/example_iq/105"


def test_malformed_pages() -> None:
    with pytest.raises(TelegramPageError):
        parse_preview(page("malformed.html"), "https://t.me/s/example_private")
    with pytest.raises(TelegramPageError):
        parse_preview(b"\x00\xff garbage", "https://t.me/s/x")
    p = parse_preview(page("broken_messages.html"), "https://mirror.example/s/example_iq")
    assert [x.number for x in p.messages] == [201, 202, 203, 204]
    by = {x.number: x for x in p.messages}
    assert by[201].published is None and by[202].published is None and by[203].published is None
    assert by[203].links == ("https://mirror.example/relative/link",)  # javascript: dropped, relative resolved
    assert by[204].text == "unclosed tags everywhere"
    now = datetime(2026, 12, 4, tzinfo=UTC)
    feed = FeedConfig(kind="telegram", channel="example_iq", url="https://mirror.example/s/example_iq")
    arts = to_articles(p.messages, feed, channel_title="", fetched_at=now)
    assert [a.published for a in arts] == [now] * 4  # no trustworthy time: the fetch time
    assert arts[1].title == "بلا منطقة زمنية" and arts[0].author == "example_iq"


def test_articles_from_messages() -> None:
    p = parse_preview(page("latest.html"), "https://t.me/s/example_iq")
    feed = FeedConfig(url="https://t.me/s/example_iq", tags=("iraq",), language="ar")
    arts = to_articles(p.messages, feed, channel_title=p.title, fetched_at=datetime.now(UTC))
    assert [a.id for a in arts] == [f"https://t.me/example_iq/{n}" for n in (101, 102, 104, 105)]
    a = arts[0]
    assert a.url == a.id and a.title == "عاجل | سقوط صاروخين قرب قاعدة عين الأسد في محافظة الأنبار غربي العراق"
    assert a.summary.endswith("التفاصيل في موقعنا") and a.lang == "ar" and a.tags == ("iraq",)
    assert (a.source, a.author) == ("t.me/example_iq", "Example Iraq News | أخبار العراق")
    assert arts[1].forwarded_from == "Other Channel"
    long = to_articles([p.messages[0].__class__(channel="c", number=1, text="word " * 100, published=None)],
                       feed, channel_title="", fetched_at=datetime.now(UTC))[0]
    assert len(long.title) <= 201 and long.title.endswith("…")


def test_feeds_file_forms() -> None:
    feeds = parse_feeds(
        "feeds:\n  - kind: telegram\n    channel: example_iq\n  - url: https://t.me/s/other_chan\n"
        "  - kind: telegram\n    url: http://127.0.0.1:9/s/mirror_chan\n  - url: https://t.me/s/other_chan2\n"
        "    name: named\n", "f.yaml")
    assert [(f.kind, f.channel, f.url, f.name) for f in feeds] == [
        ("telegram", "example_iq", "https://t.me/s/example_iq", "t.me/example_iq"),
        ("telegram", "other_chan", "https://t.me/s/other_chan", "t.me/other_chan"),
        ("telegram", "mirror_chan", "http://127.0.0.1:9/s/mirror_chan", "t.me/mirror_chan"),
        ("telegram", "other_chan2", "https://t.me/s/other_chan2", "named")]
    assert parse_feeds("feeds:\n  - url: https://example.org/s/news\n", "f.yaml")[0].kind == "feed"
    with pytest.raises(FeedsInvalid) as exc:
        parse_feeds("feeds:\n  - kind: telegram\n  - kind: telegram\n    channel: 'a b'\n"
                    "  - url: https://x.example/rss\n    channel: c\n  - kind: nope\n    url: https://y.example/\n",
                    "f.yaml")
    errs = exc.value.errors
    assert len(errs) == 4 and errs[0].startswith("f.yaml:2:") and "channel" in errs[0]
    assert errs[1].startswith("f.yaml:3:") and errs[2].startswith("f.yaml:5:") and "only for kind" in errs[2]
    assert errs[3].startswith("f.yaml:7:") and "kind" in errs[3]


async def test_reader_pages_back_to_the_cursor(session: object) -> None:
    ch = Channel()
    async with serve(ch.app()) as base:
        url = f"{base}/s/example_iq"
        first = await read_channel(session, url, SMALL, cursor=None, max_pages=5, page_delay=0)  # type: ignore[arg-type]
        assert ch.requests == [""]  # first sight: one page only
        assert [m.number for m in first.messages] == [101, 102, 103, 104, 105] and first.cursor == 105
        ch.requests.clear()
        same = await read_channel(session, url, SMALL, cursor=105, max_pages=5, page_delay=0)  # type: ignore[arg-type]
        assert (ch.requests, same.messages, same.cursor) == ([""], [], 105)
        ch.requests.clear()
        back = await read_channel(session, url, SMALL, cursor=97, max_pages=5, page_delay=0)  # type: ignore[arg-type]
        assert ch.requests == ["", "101"]  # page 2 reaches 96 <= 98: no third request
        assert [m.number for m in back.messages] == [98, 99, 100, 101, 102, 103, 104, 105] and back.cursor == 105
        ch.requests.clear()
        bounded = await read_channel(session, url, SMALL, cursor=10, max_pages=2, page_delay=0)  # type: ignore[arg-type]
        assert ch.requests == ["", "101"] and bounded.cursor == 105  # the page bound ends the gap
        ch.requests.clear()
        ch.status["101"] = 429
        cut = await read_channel(session, url, SMALL, cursor=50, max_pages=5, page_delay=0)  # type: ignore[arg-type]
        assert ch.requests == ["", "101"] and cut.cursor == 50  # incomplete: read again next time
        assert [m.number for m in cut.messages] == [101, 102, 103, 104, 105]
        ch.status[""] = 429
        throttled = await read_channel(session, url, SMALL, cursor=50, max_pages=5, page_delay=0)  # type: ignore[arg-type]
        assert (throttled.status, throttled.fetch.retry_after, throttled.cursor) == ("throttled", 120.0, 50)
        ch.status.clear()
        ch.latest = "malformed.html"
        bad = await read_channel(session, url, SMALL, cursor=None, max_pages=5, page_delay=0)  # type: ignore[arg-type]
        assert bad.status == "error" and bad.error is not None and "not a channel preview" in bad.error


def test_feeds_check_reports_a_channel(tmp_path: Path) -> None:
    ch = Channel()
    with ThreadedServer(ch.app()) as srv:
        f = tmp_path / "feeds.yaml"
        f.write_text(f"feeds:\n  - kind: telegram\n    url: {srv.url}/s/example_iq\n"
                     f"  - kind: telegram\n    url: {srv.url}/s/missing_chan\n")
        result = CliRunner().invoke(main, ["feeds", "check", str(f)])
    assert result.exit_code == 0, result.output
    ok, missing = (json.loads(line) for line in result.stdout.splitlines())
    assert (ok["status"], ok["entries"], ok["error"], ok["bozo"]) == ("ok", 5, None, False)
    assert (missing["status"], missing["entries"], missing["error"]) == ("error", 0, "HTTP 404")
