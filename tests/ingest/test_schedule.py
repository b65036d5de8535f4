"""The polling policy, as pure functions: adaptive interval, backoff with jitter, Retry-After, restarts."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from monitor.ingest.schedule import Policy, after_failure, after_success, initial_due

P = Policy(default_interval=300.0, floor=60.0, ceiling=3600.0, retry_after_max=86400.0, restart_spread=30.0)
NOW = 1_800_000_000.0


def _simulate(articles_every: float, polls: int) -> float:
    """Poll a feed that publishes one article every ``articles_every`` seconds; the final interval."""
    rng = random.Random(7)
    now, rate, last, interval, published_until = NOW, None, None, P.default_interval, NOW
    for _ in range(polls):
        new = 0
        while published_until + articles_every <= now:
            published_until += articles_every
            new += 1
        nxt = after_success(P, configured=None, rate=rate, last_success=last, new=new, now=now, rng=rng)
        rate, last, interval, now = nxt.rate, now, nxt.interval, nxt.next_due
    return interval


def test_adaptive_interval_follows_publishing_rate() -> None:
    assert _simulate(articles_every=30.0, polls=40) == P.floor  # busier than the floor allows
    assert _simulate(articles_every=1e9, polls=40) == P.ceiling  # silent feed
    middle = _simulate(articles_every=900.0, polls=200)
    assert 200 < middle < 1000  # about two polls per article (450 s), within the EWMA's noise


def test_configured_interval_is_kept() -> None:
    nxt = after_success(P, configured=45.0, rate=None, last_success=NOW - 45, new=10, now=NOW)
    assert nxt.interval == 45.0 and NOW + 45 * 0.9 <= nxt.next_due <= NOW + 45 * 1.1


def test_first_poll_backlog_does_not_count() -> None:
    first = after_success(P, configured=None, rate=None, last_success=None, new=50, now=NOW)
    assert first.interval == P.default_interval


@given(st.integers(1, 40), st.floats(10, 5000))
def test_backoff_doubles_with_jitter_and_is_capped(errors: int, interval: float) -> None:
    nxt = after_failure(P, configured=None, interval=interval, errors=errors, retry_after=None, now=NOW)
    expected = min(max(P.ceiling, interval), interval * 2 ** (errors - 1))
    assert expected * 0.8 <= nxt.next_due - NOW <= expected * 1.2
    assert nxt.errors == errors and nxt.retry_until is None


@given(st.floats(0, 10 * 86400), st.integers(1, 6))
def test_retry_after_is_never_undercut(retry_after: float, errors: int) -> None:
    nxt = after_failure(P, configured=None, interval=300.0, errors=errors, retry_after=retry_after, now=NOW)
    wait = min(retry_after, P.retry_after_max)
    assert nxt.retry_until == NOW + wait and nxt.next_due >= NOW + wait


def test_initial_due_after_restart() -> None:
    rng = random.Random(1)
    assert initial_due(P, next_due=None, retry_until=None, configured=None, now=NOW) == NOW
    overdue = [initial_due(P, next_due=NOW - 999, retry_until=None, configured=None, now=NOW, rng=rng)
               for _ in range(200)]
    assert all(NOW <= d <= NOW + P.restart_spread for d in overdue) and len(set(overdue)) > 100
    assert initial_due(P, next_due=NOW + 100, retry_until=None, configured=None, now=NOW) == NOW + 100
    assert initial_due(P, next_due=NOW + 3000, retry_until=None, configured=60.0, now=NOW) == NOW + 60
    assert initial_due(P, next_due=NOW - 5, retry_until=NOW + 500, configured=None, now=NOW) == NOW + 500


async def test_a_redis_outage_delays_a_feed_briefly_and_backs_off() -> None:
    """Redis down: the feed is retried after about 0.5 s, then 1 s, … (not a fixed 30 s)."""
    import time as _time

    import redis.asyncio as aioredis
    from prometheus_client import CollectorRegistry

    from monitor.embedded import free_port
    from monitor.ingest.feeds import FeedConfig
    from monitor.ingest.poller import Poller
    from monitor.metrics import Metrics
    from monitor.settings import Settings

    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    feed = FeedConfig(url="http://127.0.0.1:9/feed.xml", name="f")
    poller = Poller(Settings(), [feed], redis=dead, producer=None, metrics=Metrics(CollectorRegistry()))
    delays = []
    for _ in range(3):
        before = _time.time()
        await poller._poll_task(feed)
        delays.append(poller.states.pop(feed.key).next_due - before)  # next attempt loads state again
    await dead.aclose()
    assert 0.3 < delays[0] < 1.0
    assert delays[0] < delays[1] < delays[2] <= 30.0 * 1.2
