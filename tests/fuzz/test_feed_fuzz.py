"""Feed bytes through the parse path: ``parse_feed`` → ``entry_id`` → ``to_article``, as the poller runs it.

For any bytes: ``parse_feed`` returns a ``ParsedFeed`` or raises ``FeedParseError`` (with a short
``reason``), nothing else; every entry it returns gets an id of at most 512 characters and converts to a
valid ``Article`` (an exception there would cost the poller the whole feed's poll); entity declarations
never expand (the defence drops every DOCTYPE), so a small document never turns into a large article.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings

from monitor.ingest.feeds import FeedConfig
from monitor.ingest.parse import FeedParseError, entry_id, parse_feed, to_article
from monitor.models import Article
from tests.fuzz.strategies import feed_bytes

FEED = FeedConfig(url="http://127.0.0.1/feed.xml", name="fuzz")
NOW = datetime(2026, 11, 22, tzinfo=UTC)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
    + b']><rss version="2.0"><channel><item><title>&i;</title><guid>x</guid></item></channel></rss>'
)


def parse_all(data: bytes) -> list[Article]:
    try:
        parsed = parse_feed(data, content_type="application/xml")
    except FeedParseError as exc:
        assert exc.reason and len(exc.reason) <= 40
        return []
    out = []
    for entry in parsed.entries:
        aid = entry_id(entry, FEED.url)
        assert 0 < len(aid) <= 512
        out.append(to_article(entry, FEED, parsed, fetched_at=NOW, article_id=aid))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed_bytes)
@example(BILLION_LAUGHS)
@example(BILLION_LAUGHS.decode().encode("utf-16"))
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\x00<\x00r\x00s\x00s")
def test_any_bytes_parse_to_articles_or_a_clear_error(data: bytes) -> None:
    articles = parse_all(data)
    for a in articles:
        assert isinstance(a, Article)
        Article.from_json(a.to_json())  # what the poller publishes, the worker can decode
        assert len(a.title) <= 2_000
        assert len(a.to_json()) < 50 * max(len(data), 1_000), "no entity blow-up"
