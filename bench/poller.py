"""Benchmark: the poller's fetch-and-parse path against a naive poller, on one local server.

Run: ``.venv/bin/python bench/poller.py [--feeds 10000] [--seconds 40]`` (about 3 minutes). Traffic goes to
127.0.0.1 only; Redis is the embedded one.

Server (its own process, aiohttp.web): ``--feeds`` RSS feeds of ~70 KB (50 items of ~1.2 KB). On a
conditional request a feed is unchanged (304) 90 % of the time; otherwise one item is added and the oldest
dropped (new ETag / Last-Modified). 2 % of the feeds answer every 2nd request with 429 and
``Retry-After: 15`` — longer than the poll interval, so a poller that ignored it would be caught. The
server counts, per client (User-Agent): requests, conditional requests after each feed's first, bytes
sent, and Retry-After violations (a request for a feed before the time its last 429 named).

This process runs only the pollers, so its CPU time is theirs. ``*_per_cpu_s`` figures are rates per
second of that CPU time — what one fully available core does (the machine may be shared); ``*_per_s``
figures are wall-clock. Phases:
0. ``full_parses_*``: the fetch-and-parse path alone (``read_feed`` with no previous state, so every body
   is parsed in full), 16 concurrent, on ``--cold`` feeds — what ``monitor feeds check`` does.
1. ``cold_polls_*``: the real ``Poller`` on those feeds, never seen: a full parse, 50 new Articles, their
   seen-id checks and marks, and their publication to a producer that acknowledges at once (Kafka is not
   what is measured).
2. ``monitor``: the real ``Poller`` on all feeds for ``--seconds``, every feed's interval ``--interval``
   seconds, so the poller is saturated and checks/s is its capacity. The feeds outside the cold set start
   from the Redis state a previous run would have left (validators, seen ids, item digests, due times),
   written through ``FeedStore`` as after a restart: a first fetch of 10,000 70 KB feeds costs minutes of
   feedparser for any poller, and phases 0-1 measure exactly that cost.
3. ``naive``: unconditional GET + ``feedparser.parse`` of every body, 16 concurrent, for ``--seconds``.
One JSON line per poller: ``monitor`` (phases 0-2) and ``naive`` (with its bytes per check relative to
``monitor``'s).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ITEMS = 50
LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris. ") * 6
THROTTLE_EVERY = 2
RETRY_AFTER = 15


def throttled_feed(i: int) -> bool:
    return i % 50 == 7


def feed_body(i: int, version: int) -> bytes:
    items = []
    for k in range(version + ITEMS - 1, version - 1, -1):
        items.append(
            f"<item><title>Feed {i} story {k}: talks resume</title>"
            f"<link>http://127.0.0.1/story/{i}/{k}?utm_source=rss</link><guid>urn:bench:{i}:{k}</guid>"
            f"<pubDate>{formatdate(1_790_000_000 + k * 60, usegmt=True)}</pubDate>"
            f"<description>&lt;p&gt;{LOREM} &lt;b&gt;{k}&lt;/b&gt;&lt;/p&gt;</description></item>"
        )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bench {i}</title>'
            f"<link>http://127.0.0.1/{i}</link><language>en</language>{''.join(items)}</channel></rss>"
            ).encode()


# --- server (own process) ---------------------------------------------------------------------------


def serve(n: int, port_q: Any, seed: int) -> None:
    from aiohttp import web

    rng = random.Random(seed)
    version = [0] * n
    nreq: dict[tuple[str, int], int] = {}
    retry_until: dict[tuple[str, int], float] = {}
    stats: dict[str, dict[str, int]] = {}

    def st(client: str) -> dict[str, int]:
        return stats.setdefault(client, {"requests": 0, "after_first": 0, "conditional_after_first": 0,
                                         "bytes": 0, "retry_after_violations": 0, "r200": 0, "r304": 0,
                                         "r429": 0})

    async def feed(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        client = request.headers.get("User-Agent", "?")
        s = st(client)
        now = time.time()
        key = (client, i)
        count = nreq.get(key, 0)
        nreq[key] = count + 1
        s["requests"] += 1
        conditional = "If-None-Match" in request.headers or "If-Modified-Since" in request.headers
        if count > 0:
            s["after_first"] += 1
            s["conditional_after_first"] += conditional
        if now < retry_until.get(key, 0.0):
            s["retry_after_violations"] += 1
        if throttled_feed(i) and count % THROTTLE_EVERY == THROTTLE_EVERY - 1:
            retry_until[key] = now + RETRY_AFTER
            s["r429"] += 1
            s["bytes"] += 80
            return web.Response(status=429, headers={"Retry-After": str(RETRY_AFTER)})
        if conditional:
            if request.headers.get("If-None-Match") == f'"{i}-{version[i]}"' and rng.random() < 0.9:
                s["r304"] += 1
                s["bytes"] += 120
                return web.Response(status=304, headers={"ETag": f'"{i}-{version[i]}"'})
            if request.headers.get("If-None-Match") == f'"{i}-{version[i]}"':
                version[i] += 1  # the 10 %: one new story
        body = feed_body(i, version[i])
        s["r200"] += 1
        s["bytes"] += len(body) + 200
        return web.Response(body=body, content_type="application/rss+xml", headers={
            "ETag": f'"{i}-{version[i]}"', "Last-Modified": formatdate(1_790_000_000 + version[i], usegmt=True)})

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{i}", feed)
        app.router.add_get("/stats", get_stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_q.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


# --- pollers ----------------------------------------------------------------------------------------


class AckingProducer:
    """Stands in for Kafka: every send is acknowledged at once (Kafka is not what is measured here)."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        self.sent += 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


async def server_stats(base: str, client: str) -> dict[str, int]:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(f"{base}/stats") as r:
        return dict((await r.json()).get(client, {}))


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items()}


def _checks(metrics: Any) -> int:
    return int(sum(s.value for m in metrics.fetches.collect() for s in m.samples if s.name.endswith("_total")))


async def prime(store: Any, base: str, feeds: list[Any], now: float) -> None:
    """Write the state a previous run would have left for these feeds (version 0 fully seen)."""
    from monitor.ingest.delta import item_digests
    from monitor.ingest.parse import sanitise
    from monitor.ingest.read import body_digest
    from monitor.ingest.state import FeedState

    states: dict[str, FeedState] = {}
    seen: list[str] = []
    for n, f in enumerate(feeds):
        i = int(f.url.rsplit("/", 1)[1])
        body = feed_body(i, 0)
        data, _ = sanitise(body)
        states[f.key] = FeedState(
            etag=f'"{i}-0"', last_modified=formatdate(1_790_000_000, usegmt=True), body_hash=body_digest(body),
            items=item_digests(data), last_success=now - 60, polls=1, next_due=now + (n % 1000) / 1000 * 2.0)
        seen.extend(f"urn:bench:{i}:{k}" for k in range(ITEMS))
        if len(states) >= 500:
            await store.save_many(states)
            await store.mark_seen(seen)
            states, seen = {}, []
    await store.save_many(states)
    await store.mark_seen(seen)


async def full_parses(settings: Any, urls: list[str]) -> dict[str, Any]:
    from monitor.ingest.fetch import make_session
    from monitor.ingest.poller import limits_from
    from monitor.ingest.read import read_feed

    limits = limits_from(settings.model_copy(update={"fetch_user_agent": "monitor-parse"}))
    sem = asyncio.Semaphore(16)
    entries = 0

    async def one(session: Any, url: str) -> None:
        nonlocal entries
        async with sem:
            read = await read_feed(session, url, limits)
            assert read.parsed is not None and not read.partial
            entries += len(read.parsed.entries)

    cpu0, t0 = time.process_time(), time.perf_counter()
    async with make_session(limits, concurrency=16) as session:
        await asyncio.gather(*(one(session, u) for u in urls))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"full_parses": len(urls), "full_parses_per_s": round(len(urls) / elapsed, 1),
            "full_parses_per_cpu_s": round(len(urls) / cpu, 1),
            "cpu_ms_per_full_parse": round(1000 * cpu / len(urls), 2), "entries_per_feed": entries // len(urls)}


async def run_monitor(args: argparse.Namespace, base: str, redis_url: str) -> dict[str, Any]:
    import redis.asyncio as aioredis
    from prometheus_client import CollectorRegistry

    from monitor.ingest.feeds import FeedConfig
    from monitor.ingest.poller import Poller
    from monitor.metrics import Metrics
    from monitor.settings import Settings

    settings = Settings(
        redis_url=redis_url, kafka_bootstrap="127.0.0.1:9", fetch_user_agent="monitor",
        poll_interval=args.interval, poll_interval_min=args.interval, poll_interval_max=args.interval,
        fetch_concurrency=args.concurrency, fetch_per_host=args.concurrency, poll_restart_spread=2.0,
    )
    feeds = [FeedConfig(url=f"{base}/f/{i}", name=f"f{i}") for i in range(args.feeds)]
    cold, warm = feeds[: args.cold], feeds[args.cold:]
    redis = aioredis.Redis.from_url(redis_url)
    producer = AckingProducer()

    # phase 0: the fetch-and-parse path alone, full parses
    print(f"phase 0: fetch-and-parse of {len(cold)} feeds", file=sys.stderr, flush=True)
    cold_result = await full_parses(settings, [f.url for f in cold])

    # phase 1: cold feeds, every check a full parse (a long interval: each feed is polled once)
    print(f"phase 1: {len(cold)} cold feeds", file=sys.stderr, flush=True)
    metrics = Metrics(CollectorRegistry())
    once = settings.model_copy(update={"poll_interval": 3600.0, "poll_interval_min": 3600.0,
                                       "poll_interval_max": 3600.0})
    poller = Poller(once, cold, redis=redis, producer=producer, metrics=metrics, prefix="bench:")
    before, cpu0, t0 = await server_stats(base, "monitor"), time.process_time(), time.perf_counter()
    task = asyncio.create_task(poller.run())
    while sum(1 for s in poller.states.values() if s.polls >= 1) < len(cold):
        if task.done():
            task.result()  # the poller stopped: show why
        await asyncio.sleep(0.05)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await poller.stop()
    await task
    cold_result.update({"cold_polls_per_s": round(len(cold) / elapsed, 1),
                        "cold_polls_per_cpu_s": round(len(cold) / cpu, 1),
                        "cpu_ms_per_cold_poll": round(1000 * cpu / len(cold), 2), "cold_articles": producer.sent})

    # phase 2: all feeds, steady state
    print(f"phase 2: priming {len(warm)} feeds", file=sys.stderr, flush=True)
    await prime(poller.store, base, warm, time.time())
    print(f"phase 2: polling {len(feeds)} feeds for {args.seconds:g} s", file=sys.stderr, flush=True)
    metrics = Metrics(CollectorRegistry())
    poller = Poller(settings, feeds, redis=redis, producer=producer, metrics=metrics, prefix="bench:")
    sent0 = producer.sent
    before = await server_stats(base, "monitor")
    task = asyncio.create_task(poller.run())
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.wait([task], timeout=args.seconds)
    if task.done():
        task.result()  # the poller stopped early: show why
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    checks = _checks(metrics)
    await poller.stop()
    await task
    srv = _delta(await server_stats(base, "monitor"), before)
    parsed = srv.get("r200", 0)
    await redis.aclose()
    return {
        "poller": "monitor", "feeds": len(feeds), "checks": checks, "checks_per_s": round(checks / elapsed, 1),
        "checks_per_cpu_s": round(checks / cpu, 1),
        "cpu_ms_per_check": round(1000 * cpu / max(checks, 1), 3), "cpu_util": round(cpu / elapsed, 2),
        "changed_feeds_parsed": parsed, "changed_parsed_per_s": round(parsed / elapsed, 1),
        "new_articles": producer.sent - sent0, "responses": {k: srv.get(k, 0) for k in ("r200", "r304", "r429")},
        "bytes": srv.get("bytes", 0), "bytes_per_check": round(srv.get("bytes", 0) / max(srv.get("requests", 1), 1)),
        "retry_after_violations": srv.get("retry_after_violations", 0),
        "conditional_after_first": round(srv.get("conditional_after_first", 0) / max(srv.get("after_first", 1), 1), 4),
        "elapsed_s": round(elapsed, 1), **cold_result}


async def run_naive(args: argparse.Namespace, base: str) -> dict[str, Any]:
    import aiohttp
    import feedparser

    checks = parsed_entries = 0
    stop = time.perf_counter() + args.seconds
    order = list(range(args.feeds))
    random.Random(1).shuffle(order)
    pos = 0
    before = await server_stats(base, "naive")
    print(f"phase 3: naive poller for {args.seconds:g} s", file=sys.stderr, flush=True)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal checks, parsed_entries, pos
        while time.perf_counter() < stop:
            i = order[pos % len(order)]
            pos += 1
            async with session.get(f"{base}/f/{i}") as r:
                body = await r.read()
            checks += 1
            if r.status == 200:
                parsed_entries += len(feedparser.parse(io.BytesIO(body)).entries)

    cpu0, t0 = time.process_time(), time.perf_counter()
    async with aiohttp.ClientSession(headers={"User-Agent": "naive"}) as session:
        await asyncio.gather(*(worker(session) for _ in range(16)))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    srv = _delta(await server_stats(base, "naive"), before)
    return {
        "poller": "naive", "feeds": args.feeds, "checks": checks, "checks_per_s": round(checks / elapsed, 1),
        "checks_per_cpu_s": round(checks / cpu, 1),
        "cpu_ms_per_check": round(1000 * cpu / max(checks, 1), 3), "cpu_util": round(cpu / elapsed, 2),
        "full_parses_per_s": round(srv.get("r200", 0) / elapsed, 1),
        "responses": {k: srv.get(k, 0) for k in ("r200", "r304", "r429")},
        "bytes": srv.get("bytes", 0), "bytes_per_check": round(srv.get("bytes", 0) / max(srv.get("requests", 1), 1)),
        "retry_after_violations": srv.get("retry_after_violations", 0),
        "conditional_after_first": round(srv.get("conditional_after_first", 0) / max(srv.get("after_first", 1), 1), 4),
        "elapsed_s": round(elapsed, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--cold", type=int, default=500, help="feeds measured from a cold start (full parses)")
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--interval", type=float, default=10.0, help="poll interval of every feed (saturates)")
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()

    from monitor.embedded import EmbeddedServices

    ctx = mp.get_context("spawn")
    port_q = ctx.Queue()
    server = ctx.Process(target=serve, args=(args.feeds, port_q, 42), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port_q.get(timeout=30)}"
    svc = EmbeddedServices(data_dir=Path(tempfile.mkdtemp(prefix="bench-poller-")))
    svc.start(kafka=False, redis=True)
    try:
        assert svc.redis_url
        mine = asyncio.run(run_monitor(args, base, svc.redis_url))
        print(json.dumps(mine), flush=True)
        naive = asyncio.run(run_naive(args, base))
        naive["bytes_per_check_vs_monitor"] = round(naive["bytes_per_check"] / max(mine["bytes_per_check"], 1), 1)
        print(json.dumps(naive), flush=True)
    finally:
        svc.stop()
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
