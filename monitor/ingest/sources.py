"""Sources that are not RSS/Atom feeds, polled by the ``Poller``: one reader per ``kind`` in ``READERS``.

A reader gets the feed, its ``FeedState`` and the poller's session and limits, and returns a
``SourceRead``: the fetch result (for status, Retry-After and metrics), the candidate ``Article``s
(oldest first, not yet checked against the seen ids), and the state it wants kept (``cursor``,
``children``, validators) — applied only when every new article was acknowledged by the broker, so a
failed publish is retried from the same place. ``poll_source`` is the poller's ``poll_once`` for these
kinds: the same schedule, backoff, Retry-After, seen ids, publish-then-mark-seen and metrics (plus
``monitor_source_polls_total{kind,outcome}`` and ``monitor_source_articles_total{kind}``). Telegram
channels are never polled more often than ``Settings.telegram_min_interval``.

``check_source`` is what ``monitor feeds check`` runs for these kinds: one read, publishing nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from monitor.ingest import telegram
from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import FetchLimits, FetchResult
from monitor.ingest.read import FeedRead
from monitor.ingest.state import FeedState
from monitor.models import Article
from monitor.settings import Settings

if TYPE_CHECKING:
    from monitor.ingest.poller import Poller, PollOutcome

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceRead:
    fetch: FetchResult
    articles: list[Article] = field(default_factory=list)
    read: int = 0  # items read (messages, URLs): what `feeds check` reports as entries
    keep: dict[str, Any] = field(default_factory=dict)  # FeedState fields to save after a clean publish
    body_hash: str | None = None
    parse_error: str | None = None  # short reason label
    error_text: str | None = None

    @property
    def status(self) -> str:
        if self.fetch.status == "ok" and self.parse_error:
            return "error"
        return self.fetch.status

    @property
    def error(self) -> str | None:
        return self.error_text if self.parse_error else self.fetch.error


Reader = Callable[[aiohttp.ClientSession, FeedConfig, FeedState, FetchLimits, Settings, datetime],
                  Awaitable[SourceRead]]


async def read_telegram(session: aiohttp.ClientSession, feed: FeedConfig, st: FeedState, limits: FetchLimits,
                        settings: Settings, fetched_at: datetime) -> SourceRead:
    got = await telegram.read_channel(session, feed.url, limits, cursor=st.cursor,
                                      max_pages=settings.telegram_max_pages,
                                      page_delay=settings.telegram_page_delay)
    if got.parse_error:
        return SourceRead(fetch=got.fetch, parse_error=telegram.TelegramPageError.reason, error_text=got.error)
    articles = telegram.to_articles(got.messages, feed, channel_title=got.title, fetched_at=fetched_at)
    return SourceRead(fetch=got.fetch, articles=articles, read=len(got.messages), keep={"cursor": got.cursor})


def _readers() -> dict[str, Reader]:
    from monitor.ingest import sitemap  # it imports SourceRead from here

    return {"telegram": read_telegram, "sitemap": sitemap.read_source}


READERS: dict[str, Reader] = {}


def reader(kind: str) -> Reader:
    if not READERS:
        READERS.update(_readers())
    return READERS[kind]


async def check_source(session: aiohttp.ClientSession, feed: FeedConfig, limits: FetchLimits,
                       settings: Settings) -> SourceRead:
    """One read as on first sight (nothing published, no state)."""
    return await reader(feed.kind)(session, feed, FeedState(), limits, settings, datetime.now(UTC))


def _polite(poller: Poller, feed: FeedConfig, st: FeedState, now: float) -> FeedState:
    if feed.kind != "telegram":
        return st
    floor = poller.settings.telegram_min_interval
    if st.next_due is not None and st.next_due - now >= floor:
        return st
    return st.model_copy(update={"next_due": now + floor * random.uniform(1.0, 1.1)})


async def poll_source(poller: Poller, feed: FeedConfig, session: Any) -> PollOutcome:
    """``Poller.poll_once`` for a non-feed kind (see the module docstring)."""
    from monitor.ingest.poller import PollOutcome

    if feed.key not in poller.states:
        poller.states.update(await poller.store.load([feed.key]))
    st = poller.states[feed.key]
    started = time.time()
    m = poller.metrics
    limits = poller.limits
    with m.fetch_seconds.time():
        got = await reader(feed.kind)(session, feed, st, limits, poller.settings,
                                      datetime.fromtimestamp(started, UTC))
    m.fetches.labels(got.fetch.status).inc()
    if got.fetch.body:
        m.fetch_bytes.inc(len(got.fetch.body))
    now = time.time()
    outcome = PollOutcome(status=got.status)
    if got.fetch.status == "throttled":
        st = poller._failed(feed, st, now, retry_after=got.fetch.retry_after)
    elif got.fetch.status == "error":
        st = poller._failed(feed, st, now)
    elif got.parse_error:
        m.parse_errors.labels(got.parse_error).inc()
        st = poller._failed(feed, st, now)
    else:
        outcome = await publish_articles(poller, feed, got.articles, session, status=got.status)
        if poller.states[feed.key].errors:
            log.info("feed %s recovered after %d failed polls", feed.name, poller.states[feed.key].errors)
        st = poller._succeeded(feed, st, now, FeedRead(fetch=got.fetch, body_hash=got.body_hash), outcome)
        if outcome.failed_publish == 0 and got.keep:
            st = st.model_copy(update=got.keep)
        m.feed_last_success.labels(feed.name).set(now)
        if outcome.new:
            m.feed_last_new_article.labels(feed.name).set(now)
    m.source_polls.labels(feed.kind, outcome.status).inc()
    st = _polite(poller, feed, st, now)
    if st.errors and (st.errors == 1 or st.errors % 10 == 0):
        level = logging.INFO if got.fetch.status == "throttled" else logging.WARNING
        log.log(level, "feed %s (%s): %s (failure %d, next try in %.0f s)", feed.name, feed.kind, got.error,
                st.errors, (st.next_due or now) - now)
    poller.states[feed.key] = st
    if poller._dirty is not None:
        poller._dirty[feed.key] = st
    else:
        await poller.store.save(feed.key, st)
    return outcome


async def publish_articles(poller: Poller, feed: FeedConfig, candidates: list[Article], session: Any, *,
                           status: str, kind: str | None = None, fulltext: bool | None = None) -> PollOutcome:
    """Candidates not seen yet → (full text) → broker → marked seen; returns what happened."""
    from monitor.ingest.poller import PollOutcome

    ids: list[str] = []
    unique: list[Article] = []
    for a in candidates:
        if a.id not in ids:
            ids.append(a.id)
            unique.append(a)
    unseen = await poller.store.unseen(ids)
    fresh = [a for a, u in zip(unique, unseen, strict=True) if u]
    duplicate = len(unique) - len(fresh)
    poller.metrics.articles_duplicate.inc(duplicate)
    if fulltext if fulltext is not None else (feed.fulltext or feed.kind == "sitemap"):
        fresh = list(await asyncio.gather(*(poller._fulltext(session, a) for a in fresh)))
    if not fresh:
        return PollOutcome(status=status, duplicate=duplicate)
    me = asyncio.current_task()
    if me is not None and me in poller._tasks:
        poller._publish_phase.add(me)  # stop() lets this finish instead of cancelling it
    acked = await poller._produce(fresh)
    poller.metrics.source_articles.labels(kind or feed.kind).inc(len(acked))
    return PollOutcome(status=status, new=len(acked), duplicate=duplicate, failed_publish=len(fresh) - len(acked))
