"""Atheris (coverage-guided, libFuzzer) target for the feed path: bytes -> parse_feed -> entry_id -> to_article.

The property is the poller's: for any body, ``parse_feed`` returns entries or raises ``FeedParseError``;
each entry gets a canonical id (<= 512 chars) and converts to an ``Article`` that round-trips through JSON.
Any other exception is a crash and libFuzzer saves the input (``crash-<sha1>``).

Run (atheris is not a project dependency; install it into the venv first):

    .venv/bin/python -m pip install atheris
    mkdir -p .fuzz/corpus && find ../shared/corpora/feedparser -name '*.xml' -exec cp -t .fuzz/corpus/ {} +
    .venv/bin/python chaos/fuzz_feed.py .fuzz/corpus -max_total_time=3600 -rss_limit_mb=4096 \\
        -max_len=262144 -timeout=20

``-timeout`` makes a slow input (entity or regex blow-up) a finding too. Re-run one crash with
``.venv/bin/python chaos/fuzz_feed.py crash-<sha1>``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports():
    import feedparser  # noqa: F401  (instrumented for coverage)

    from monitor.ingest import parse as _parse  # noqa: F401
    from monitor.ingest.feeds import FeedConfig
    from monitor.ingest.parse import FeedParseError, entry_id, parse_feed, to_article
    from monitor.models import Article

FEED = FeedConfig(url="http://127.0.0.1/feed.xml", name="fuzz")
NOW = datetime(2026, 11, 22, tzinfo=UTC)
CONTENT_TYPES = ("", "application/rss+xml", "text/xml; charset=utf-16", "application/xml; charset=windows-1256")


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    content_type = CONTENT_TYPES[fdp.ConsumeIntInRange(0, len(CONTENT_TYPES) - 1)]
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    try:
        parsed = parse_feed(body, content_type=content_type)
    except FeedParseError:
        return
    for entry in parsed.entries:
        aid = entry_id(entry, FEED.url)
        if not 0 < len(aid) <= 512:
            raise AssertionError(f"article id of length {len(aid)}")
        article = to_article(entry, FEED, parsed, fetched_at=NOW, article_id=aid)
        Article.from_json(article.to_json())


def main(argv: list[str] | None = None) -> None:
    atheris.Setup(argv if argv is not None else sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
