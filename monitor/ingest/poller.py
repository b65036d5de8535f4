"""The poller: configured feeds in, new ``Article`` records on Kafka ``articles`` out.

Each enabled feed runs on its own schedule, kept in Redis (``FeedStore``) so a restart resumes it; the
policy (first poll at once, restart spread, adaptive interval between floor and ceiling, backoff with
jitter, ``Retry-After``) is ``monitor.ingest.schedule``. Concurrency: at most ``fetch_concurrency``
fetches in all and ``fetch_per_host`` per host, hosts taking turns. State saves are batched every
100 ms (within about a second after a quiet spell); seen ids are written at once.

One poll = ``read_feed`` (conditional GET, limits, parse only when changed) → canonical ids → ids not
seen in Redis → ``Article`` (+ full text when configured) → produce to ``topic_articles`` (key: id,
value: ``Article.to_json()``), wait for the broker's ack, *then* mark the id seen. If any produce fails,
the feed's validators are not advanced, so the next poll fetches the body again and retries the
articles that are still unseen. Nothing a feed does raises out of ``run()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from monitor.broker import poke
from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import FetchLimits, make_session
from monitor.ingest.fulltext import with_fulltext
from monitor.ingest.parse import entry_id, to_articles
from monitor.ingest.read import FeedRead, read_feed
from monitor.ingest.schedule import Policy, after_failure, after_success, initial_due
from monitor.ingest.sources import poll_source
from monitor.ingest.state import FeedState, FeedStore
from monitor.ingest.websub import WebSub
from monitor.metrics import METRICS, Metrics
from monitor.models import Article
from monitor.retry import DEFAULT_BACKOFF, is_infrastructure
from monitor.settings import Settings

log = logging.getLogger(__name__)

FULLTEXT_CONCURRENCY = 4  # article pages fetched at once per poller
THREAD_ARTICLES = 200  # more new entries than this are converted in a worker thread


def limits_from(settings: Settings, *, max_bytes: int | None = None) -> FetchLimits:
    return FetchLimits(
        connect_timeout=settings.fetch_connect_timeout,
        read_timeout=settings.fetch_read_timeout,
        deadline=settings.fetch_deadline,
        max_bytes=max_bytes or settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
        user_agent=settings.fetch_user_agent,
    )


@dataclass(slots=True)
class PollOutcome:
    """What one poll did (returned by ``poll_once``; tests and the benchmark read it)."""

    status: str
    new: int = 0
    duplicate: int = 0
    failed_publish: int = 0


class Poller:
    def __init__(
        self,
        settings: Settings,
        feeds: Sequence[FeedConfig],
        *,
        redis: aioredis.Redis,
        producer: Any,
        metrics: Metrics = METRICS,
        prefix: str | None = None,
    ) -> None:
        self.settings = settings
        self.feeds = [f for f in feeds if f.enabled]
        self.producer = producer
        self.metrics = metrics
        self.store = FeedStore(redis, prefix=settings.ingest_redis_prefix if prefix is None else prefix,
                               seen_ttl_s=settings.seen_ttl_days * 86400)
        self.limits = limits_from(settings)
        self.policy = Policy.from_settings(settings)
        self.fulltext_limits = limits_from(settings, max_bytes=settings.fulltext_max_bytes)
        self.on_article: Callable[[Article], None] | None = None
        self.states: dict[str, FeedState] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], FeedConfig] = {}
        self._publish_phase: set[asyncio.Task[Any]] = set()
        self._session: Any = None
        self._done = asyncio.Event()
        self._dirty: dict[str, FeedState] | None = None  # batched state saves while run() runs
        self._fulltext_slots = asyncio.Semaphore(FULLTEXT_CONCURRENCY)
        self._redis_failures: dict[str, int] = {}  # consecutive Redis errors per feed: the retry backoff
        self.websub = WebSub(self) if settings.public_url else None  # push where feeds offer a hub
        self.journal: Any = None  # monitor.journal.Journal with the embedded broker: articles held until done

    # --- scheduling ------------------------------------------------------------------------------

    def _base_interval(self, feed: FeedConfig) -> float:
        return feed.interval if feed.interval is not None else self.settings.poll_interval

    async def run(self) -> None:
        """Poll until ``stop()``; returns after in-flight publishes finished."""
        self.metrics.feeds_configured.set(len(self.feeds))
        by_key = {f.key: f for f in self.feeds}
        self.states = await self.store.load(list(by_key))
        now = time.time()
        heap: list[tuple[float, int, str]] = []
        for i, f in enumerate(self.feeds):
            st = self.states[f.key]
            if st.last_success is not None:
                self.metrics.feed_last_success.labels(f.name).set(st.last_success)
            if st.last_new is not None:
                self.metrics.feed_last_new_article.labels(f.name).set(st.last_new)
            due = initial_due(self.policy, next_due=st.next_due, retry_until=st.retry_until,
                              configured=f.interval, now=now)
            heap.append((due, i, f.key))
        heapq.heapify(heap)
        seq = len(heap)
        ready: dict[str, deque[FeedConfig]] = {}
        active: dict[str, int] = {}
        self._session = make_session(self.limits, concurrency=self.settings.fetch_concurrency)
        self._dirty = {}
        flusher = asyncio.create_task(self._flush_states())
        pushes = asyncio.create_task(self.websub.run()) if self.websub is not None else None
        limit, per_host = self.settings.fetch_concurrency, self.settings.fetch_per_host

        def finished(t: asyncio.Task[None]) -> None:
            nonlocal seq
            feed = self._tasks.pop(t)
            self._publish_phase.discard(t)
            active[_host(feed.url)] -= 1
            seq += 1
            heapq.heappush(heap, (self.states.get(feed.key, FeedState()).next_due or time.time(), seq, feed.key))
            self._wake.set()

        try:
            while not self._stop.is_set():
                now = time.time()
                while heap and heap[0][0] <= now:
                    _, _, key = heapq.heappop(heap)
                    feed = by_key[key]
                    ready.setdefault(_host(feed.url), deque()).append(feed)
                progress = True
                while progress and ready and len(self._tasks) < limit:
                    progress = False
                    for host in list(ready):  # one per host per round: hosts share the global limit fairly
                        if active.get(host, 0) >= per_host or len(self._tasks) >= limit:
                            continue
                        q = ready[host]
                        feed = q.popleft()
                        if not q:
                            del ready[host]
                        active[host] = active.get(host, 0) + 1
                        task = asyncio.create_task(self._poll_task(feed))
                        self._tasks[task] = feed
                        task.add_done_callback(finished)
                        progress = True
                self._wake.clear()
                timeout = max(0.0, heap[0][0] - time.time()) if heap else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        finally:
            await self._drain()
            flusher.cancel()
            if pushes is not None and self.websub is not None:
                pushes.cancel()
                await self.websub.close()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self._flush_once()
            self._dirty = None
            await self._session.close()
            self._done.set()

    async def _flush_states(self, every: float = 0.1, quiet: float = 1.0) -> None:
        """Write changed feed states every ``every`` seconds, one pipeline per batch (a crash loses at
        most that much state: a feed is then fetched again; seen ids are never batched). After a round
        with nothing to write it looks again after ``quiet`` seconds (an idle poller wakes rarely)."""
        busy = False
        while True:
            await asyncio.sleep(every if busy else quiet)
            busy = bool(self._dirty)
            try:
                await self._flush_once()
            except RedisError as exc:
                log.warning("saving feed state failed (will retry): %r", exc)

    async def _flush_once(self) -> None:
        if not self._dirty:
            return
        batch, self._dirty = self._dirty, {}
        try:
            await self.store.save_many(batch)
        except RedisError:
            for key, state in batch.items():  # keep them for the next attempt unless newer ones exist
                self._dirty.setdefault(key, state)
            raise

    async def _drain(self) -> None:
        """Cancel fetches; give publishes (produce → ack → mark seen) up to 5 s to finish."""
        for t in list(self._tasks):
            if t not in self._publish_phase:
                t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)

    async def stop(self) -> None:
        """Stop fetching, let in-flight publishes finish (5 s at most), return when ``run()`` has."""
        self._stop.set()
        self._wake.set()
        if self._session is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), timeout=10.0)

    async def _poll_task(self, feed: FeedConfig) -> None:
        try:
            await self.poll_once(feed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not (isinstance(exc, RedisError) or is_infrastructure(exc)):
                log.exception("feed %s: unexpected error", feed.name)  # a bug costs one feed one poll
                st = self.states.get(feed.key, FeedState())
                self.states[feed.key] = st.model_copy(
                    update={"next_due": time.time() + self._base_interval(feed)})
                self._redis_failures.pop(feed.key, None)
                return
            # state (Redis) or the broker unavailable: retry this feed soon, keep the others going
            streak = self._redis_failures.get(feed.key, 0) + 1
            self._redis_failures[feed.key] = streak
            delay = DEFAULT_BACKOFF.delay(streak)  # monitor.retry: 0.5 s, 1 s, 2 s … 30 s, jittered
            log.warning("feed %s: %r; retrying in %.1fs", feed.name, exc, delay)
            self.metrics.fetches.labels("error").inc()
            st = self.states.get(feed.key, FeedState())
            self.states[feed.key] = st.model_copy(update={"next_due": time.time() + delay})
            return
        self._redis_failures.pop(feed.key, None)

    # --- one poll --------------------------------------------------------------------------------

    async def poll_once(self, feed: FeedConfig, *, session: Any = None) -> PollOutcome:
        """Fetch, parse, publish and record one feed now; updates ``self.states`` and Redis."""
        session = session or self._session
        if feed.kind != "feed":  # telegram, sitemap: monitor.ingest.sources
            return await poll_source(self, feed, session)
        if feed.key not in self.states:
            self.states.update(await self.store.load([feed.key]))
        st = self.states[feed.key]
        started = time.time()
        with self.metrics.fetch_seconds.time():
            read = await read_feed(session, feed.url, self.limits, etag=st.etag,
                                   last_modified=st.last_modified, body_hash=st.body_hash, items=st.items)
        self.metrics.fetches.labels(read.fetch.status).inc()
        if read.fetch.body:
            self.metrics.fetch_bytes.inc(len(read.fetch.body))
        now = time.time()
        outcome = PollOutcome(status=read.status)
        if read.fetch.status == "throttled":
            st = self._failed(feed, st, now, retry_after=read.fetch.retry_after)
        elif read.fetch.status == "error":
            st = self._failed(feed, st, now)
        elif read.parse_error:
            self.metrics.parse_errors.labels(read.parse_error).inc()
            st = self._failed(feed, st, now)
        elif read.parsed is not None and read.parsed.bozo and not read.parsed.entries and not read.partial:
            self.metrics.parse_errors.labels("bozo_no_entries").inc()
            st = self._failed(feed, st, now)
            outcome.status = "error"
        else:
            if read.parsed is not None:
                outcome = await self._publish_new(feed, read, datetime.fromtimestamp(started, UTC), session)
            if self.states[feed.key].errors:
                log.info("feed %s recovered after %d failed polls", feed.name, self.states[feed.key].errors)
            st = self._succeeded(feed, st, now, read, outcome)
            self.metrics.feed_last_success.labels(feed.name).set(now)
            if outcome.new:
                self.metrics.feed_last_new_article.labels(feed.name).set(now)
        if st.errors and (st.errors == 1 or st.errors % 10 == 0):  # the first failure, then every 10th
            why = read.error
            if why is None and read.parsed is not None:
                why = f"not a feed ({read.parsed.bozo_reason})"
            level = logging.INFO if read.fetch.status == "throttled" else logging.WARNING  # polite, not broken
            log.log(level, "feed %s: %s (failure %d, next try in %.0f s)", feed.name, why, st.errors,
                    (st.next_due or now) - now)
        if self.websub is not None:  # a hub in the body: subscribe; pushed feeds are polled less often
            st = self.websub.after_poll(feed, read, st, now)
        self.states[feed.key] = st
        if self._dirty is not None:
            self._dirty[feed.key] = st
        else:
            await self.store.save(feed.key, st)
        return outcome

    def _succeeded(self, feed: FeedConfig, st: FeedState, now: float, read: FeedRead,
                   outcome: PollOutcome) -> FeedState:
        nxt = after_success(self.policy, configured=feed.interval, rate=st.rate, last_success=st.last_success,
                            new=outcome.new, now=now)
        update: dict[str, Any] = {
            "last_attempt": now, "last_success": now, "last_status": outcome.status, "errors": 0,
            "interval": nxt.interval, "rate": nxt.rate, "retry_until": None, "polls": st.polls + 1,
            "next_due": nxt.next_due,
        }
        if outcome.new:
            update["last_new"] = now
        if outcome.failed_publish == 0:  # advance validators only when every new article was acked
            f = read.fetch
            if f.status == "ok":
                update.update(etag=f.etag, last_modified=f.last_modified, body_hash=read.body_hash,
                              items=read.items)
        return st.model_copy(update=update)

    def _failed(self, feed: FeedConfig, st: FeedState, now: float, *,
                retry_after: float | None = None) -> FeedState:
        nxt = after_failure(self.policy, configured=feed.interval, interval=st.interval, errors=st.errors + 1,
                            retry_after=retry_after, now=now)
        return st.model_copy(update={
            "last_attempt": now, "errors": nxt.errors, "last_status": "error", "next_due": nxt.next_due,
            "retry_until": nxt.retry_until, "polls": st.polls + 1,
        })

    async def _publish_new(self, feed: FeedConfig, read: FeedRead, fetched_at: datetime,
                           session: Any) -> PollOutcome:
        parsed = read.parsed
        assert parsed is not None
        ids: list[str] = []
        entries: list[Any] = []
        seen_here: set[str] = set()
        for entry in reversed(parsed.entries):  # oldest first, as feeds list newest first
            aid = entry_id(entry, feed.url, parsed.base)
            if aid in seen_here:
                continue
            seen_here.add(aid)
            ids.append(aid)
            entries.append(entry)
        unseen = await self.store.unseen(ids)
        fresh = [(a, e) for a, e, u in zip(ids, entries, unseen, strict=True) if u]
        duplicate = len(ids) - len(fresh) + read.skipped
        if not read.partial and duplicate:
            await self.store.touch(a for a, u in zip(ids, unseen, strict=True) if not u)
        self.metrics.articles_duplicate.inc(duplicate)
        if len(fresh) > THREAD_ARTICLES:  # a huge first poll must not stall the other feeds
            articles = await asyncio.to_thread(to_articles, fresh, feed, parsed, fetched_at=fetched_at)
        else:
            articles = to_articles(fresh, feed, parsed, fetched_at=fetched_at)
        if feed.fulltext and articles:
            articles = list(await asyncio.gather(*(self._fulltext(session, a) for a in articles)))
        if not articles:
            return PollOutcome(status=read.status, duplicate=duplicate)
        me = asyncio.current_task()
        if me is not None:
            self._publish_phase.add(me)  # stop() lets this finish instead of cancelling it
        acked = await self._produce(articles)
        return PollOutcome(status=read.status, new=len(acked), duplicate=duplicate,
                           failed_publish=len(articles) - len(acked))

    async def _fulltext(self, session: Any, article: Article) -> Article:
        async with self._fulltext_slots:  # article pages are fetched a few at a time, not 50 at once
            return await with_fulltext(session, article, self.fulltext_limits)

    async def _produce(self, articles: list[Article]) -> list[Article]:
        """Send all, wait for every ack, mark the acked ones seen; returns the acked articles."""
        topic = self.settings.topic_articles
        futures: list[Any] = []
        values = [a.to_json() for a in articles]
        if self.journal is not None:  # held before it is produced, so no stage can finish it unheld
            await self.journal.take([(a.id, v) for a, v in zip(articles, values, strict=True)])
        for a, value in zip(articles, values, strict=True):
            try:
                futures.append(await self.producer.send(topic, value=value, key=a.id.encode("utf-8")))
            except Exception as exc:  # the producer refused the record: it stays unseen, retried later
                log.warning("publish of %s failed: %r", a.id, exc)
                futures.append(None)
        results = await asyncio.gather(*(f for f in futures if f is not None), return_exceptions=True)
        it = iter(results)
        acked: list[Article] = []
        for a, f in zip(articles, futures, strict=True):
            if f is None:
                continue
            r = next(it)
            if isinstance(r, BaseException):
                log.warning("publish of %s not acknowledged: %r", a.id, r)
            else:
                acked.append(a)
        if acked:
            poke(topic)  # a processor in this process (monitor run) fetches them now
        await self.store.mark_seen(a.id for a in acked)
        self.metrics.articles_new.inc(len(acked))
        if self.on_article is not None:
            for a in acked:
                try:
                    self.on_article(a)
                except Exception:  # a console hook must not stop publishing
                    log.exception("on_article hook failed")
        return acked


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
