"""``monitor feeds check FILE``: validate a feeds file, then fetch and parse every feed once.

Invalid file: every error as ``file:line: message`` on stderr, exit 1. Valid file: one JSON line per feed
on stdout, in file order (disabled feeds included), then exit 0 whatever the feeds did::

    {"url": ..., "status": "ok" | "not_modified" | "error", "entries": N, "bozo": true|false,
     "error": "..." | null, "elapsed_s": 0.123}

It runs the poller's own fetch-and-parse path (``monitor.ingest.read.read_feed``) with the poller's
limits from ``Settings``, concurrently (``fetch_concurrency`` in all, ``fetch_per_host`` per host), and
publishes nothing. Telegram channels and sitemaps (``kind``) go through ``monitor.ingest.sources.check_source``
instead, read as on first sight; ``entries`` is then the messages or URLs read. On a terminal, a progress
bar goes to stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from monitor.ingest.feeds import FeedConfig, FeedsInvalid, load_feeds
from monitor.ingest.fetch import make_session
from monitor.ingest.poller import limits_from
from monitor.ingest.read import read_feed
from monitor.ingest.sources import check_source
from monitor.settings import Settings


async def check_feeds(
    feeds: list[FeedConfig], settings: Settings, progress: Callable[[], None] | None = None
) -> list[dict[str, Any]]:
    """One result line per feed, in the given order."""
    limits = limits_from(settings)
    total = asyncio.Semaphore(settings.fetch_concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}

    async def one(session: Any, feed: FeedConfig) -> dict[str, Any]:
        host = feed.url.split("/", 3)[2].lower() if "//" in feed.url else ""
        sem = hosts.setdefault(host, asyncio.Semaphore(settings.fetch_per_host))
        async with total, sem:
            started = time.monotonic()
            if feed.kind != "feed":  # telegram, sitemap: entries = messages / URLs read
                src = await check_source(session, feed, limits, settings)
                elapsed = time.monotonic() - started
                status, error, entries, bozo, fetched = src.status, src.error, src.read, False, src.fetch
            else:
                read = await read_feed(session, feed.url, limits)
                elapsed = time.monotonic() - started
                status, error, fetched = read.status, read.error, read.fetch
                entries = len(read.parsed.entries) if read.parsed is not None else 0
                bozo = bool(read.parsed.bozo) if read.parsed is not None else False
        if status == "throttled":
            wait = fetched.retry_after
            status, error = "error", f"{error} (retry after {wait:g} s)" if wait is not None else error
        elif feed.kind == "feed" and status == "ok" and bozo and entries == 0 and read.parsed is not None:
            status, error = "error", f"not a feed: {read.parsed.bozo_reason}"
        if progress is not None:
            progress()
        return {"url": feed.url, "status": status, "entries": entries, "bozo": bozo, "error": error,
                "elapsed_s": round(elapsed, 3)}

    async with make_session(limits, concurrency=settings.fetch_concurrency) as session:
        return list(await asyncio.gather(*(one(session, f) for f in feeds)))


class _Bar:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.on = sys.stderr.isatty() and total > 0

    def step(self) -> None:
        self.done += 1
        if self.on:
            width = 30
            filled = width * self.done // self.total
            sys.stderr.write(f"\rchecking feeds [{'#' * filled}{'.' * (width - filled)}] "
                             f"{self.done}/{self.total}")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


@click.group("feeds")
def feeds() -> None:
    """Check feeds files."""


@feeds.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="Value for a ${NAME} placeholder in the file (repeatable).")
def check(file: Path, variables: tuple[str, ...]) -> None:
    """Fetch and parse every feed of FILE once (publishing nothing); one JSON line per feed.

    Exits 1 with file:line errors when FILE is invalid, 0 otherwise, whatever the feeds answered.
    """
    values: dict[str, str] = {}
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--var")
        values[name] = value
    try:
        feed_list = load_feeds(file, values)
    except FeedsInvalid as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        sys.exit(1)
    bar = _Bar(len(feed_list))
    results = asyncio.run(check_feeds(feed_list, Settings(), bar.step))
    for r in results:
        click.echo(orjson.dumps(r).decode("utf-8"))
