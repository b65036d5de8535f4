"""Delivery throughput: alerts/s through AlertService vs raw loops, to a local webhook receiver and to Redis.

    .venv/bin/python bench/delivery.py [--alerts 3000] [--redis-url redis://…]

Four measurements in one run, each printed as a JSON line:
- ``webhook/raw``: an aiohttp POST loop (one session, ``--concurrency`` requests in flight, the same
  body as the service sends, no signing, no bookkeeping) to a receiver in its own process;
- ``webhook/service``: ``AlertService.handle`` (routing, notification-log check, durable enqueue) plus
  the dispatcher (signed POST, outcome recorded and acknowledged in Redis per delivery), from the first
  ``handle`` until the receiver has counted every alert;
- ``redis/raw``: a redis-py ``XADD`` loop, one awaited command per alert;
- ``redis/service``: the same through AlertService to a redis-channel subscription's stream.
Then an open-loop latency run (``--latency-rate`` alerts/s for ``--latency-seconds``): p50/p99 from
``handle()`` to the receiver holding the signed POST, i.e. the alerter's share of end-to-end latency
(the full article -> delivered figure needs the whole pipeline). Rounds alternate the four so machine
noise hits them alike; per-round lines, then best and median
per measurement, then ``ratio`` lines (service / raw; the target is >= 0.7). Without ``--redis-url`` an embedded
redis-server is started in a temporary folder. Receiver and Redis run on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.alerting import keys  # noqa: E402
from monitor.alerting.model import Delivery, RedisTarget, SubscriptionSpec, WebhookTarget  # noqa: E402
from monitor.alerting.service import AlertService  # noqa: E402
from monitor.embedded import EmbeddedServices, free_port  # noqa: E402
from monitor.metrics import Metrics  # noqa: E402
from monitor.models import Alert, ArticleRef, Evidence  # noqa: E402
from monitor.settings import Settings  # noqa: E402

RECEIVER = """
import sys, time, json
from aiohttp import web
count = 0
times = {}
async def hook(request):
    global count
    await request.read()
    count += 1
    wid = request.headers.get("webhook-id")
    if wid:
        times.setdefault(wid, time.time())
    return web.Response(status=204)
async def get_times(request):
    return web.Response(text=json.dumps(times))
async def get_count(request):
    return web.Response(text=str(count))
async def reset(request):
    global count
    count = 0
    return web.Response(text="0")
app = web.Application()
app.router.add_post("/hook", hook)
app.router.add_get("/count", get_count)
app.router.add_get("/times", get_times)
app.router.add_post("/reset", reset)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def alerts(n: int) -> list[Alert]:
    out = []
    now = datetime.now(UTC)
    for i in range(n):
        art = ArticleRef(
            id=f"bench-{i}",
            title=f"هجوم على قاعدة {i} — attack on base {i}",
            url=f"https://news.example/{i}",
            source="bench",
            published=now,
            lang="ar",
            summary="x" * 300,
            fetched_at=now,
        )
        ev = Evidence(term="هجوم", matched="هجوم", field="title", start=0, end=4, snippet="هجوم على قاعدة")
        out.append(
            Alert(
                id=Alert.make_id(art.id, "bench", "1"),
                rule="bench",
                rule_version="1",
                severity="high",
                article=art,
                evidence=(ev,),
                sources=("bench",),
            )
        )
    return out


def line(**kw: object) -> None:
    print(json.dumps({"bench": "delivery", **kw}), flush=True)


async def count(session: aiohttp.ClientSession, base: str) -> int:
    async with session.get(f"{base}/count") as r:
        return int(await r.text())


async def raw_webhook(base: str, bodies: list[bytes], concurrency: int) -> float:
    async with aiohttp.ClientSession() as s:
        await s.post(f"{base}/reset")
        sem = asyncio.Semaphore(concurrency)

        async def one(b: bytes) -> None:
            async with sem, s.post(f"{base}/hook", data=b, headers={"content-type": "application/json"}) as r:
                await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - t0


async def raw_xadd(r: aioredis.Redis, payloads: list[bytes]) -> float:
    t0 = time.perf_counter()
    for i, p in enumerate(payloads):
        await r.xadd("bench:raw", {"id": str(i), "type": "alert", "payload": p})
    return time.perf_counter() - t0


async def through_service(
    settings: Settings, r: aioredis.Redis, batch: list[Alert], spec: SubscriptionSpec, done: object
) -> float:
    await r.flushdb()
    svc = AlertService(settings, r, metrics=Metrics(registry=CollectorRegistry()))
    sub, _ = await svc.store.create(spec)
    task = asyncio.create_task(svc.run())
    await asyncio.sleep(0.3)
    t0 = time.perf_counter()
    for i in range(0, len(batch), 200):  # as the alerter hands over one Kafka batch at a time
        await svc.handle(batch[i : i + 200])
    while not await done(sub.id):  # type: ignore[operator]
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - t0
    await svc.stop()
    await task
    return elapsed


async def latency(settings: Settings, r: aioredis.Redis, base: str, rate: float, seconds: float) -> None:
    """Open-loop load: one alert every 1/rate s, each handed over alone (as a small Kafka batch);
    latency = handle() called -> the receiver got the signed POST (same machine clock)."""
    from monitor.alerting.model import delivery_id

    await r.flushdb()
    svc = AlertService(settings, r, metrics=Metrics(registry=CollectorRegistry()))
    sub, _ = await svc.store.create(SubscriptionSpec(name="lat", channel=WebhookTarget(url=f"{base}/hook")))
    task = asyncio.create_task(svc.run())
    await asyncio.sleep(0.5)
    batch = alerts(int(rate * seconds))
    sent: dict[str, float] = {}
    handles = []
    start = time.perf_counter()
    for i, a in enumerate(batch):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent[delivery_id(sub.id, a, "webhook")] = time.time()
        handles.append(asyncio.create_task(svc.handle([a])))  # open loop: do not wait for the previous one
    await asyncio.gather(*handles)
    async with aiohttp.ClientSession() as s:
        for _ in range(500):
            async with s.get(f"{base}/times") as resp:
                got = json.loads(await resp.text())
            if all(k in got for k in sent):
                break
            await asyncio.sleep(0.05)
    await svc.stop()
    await task
    lat = sorted((got[k] - t) * 1000 for k, t in sent.items() if k in got)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else lat * 99
    line(
        target="webhook",
        mode="latency",
        rate=rate,
        alerts=len(sent),
        delivered=len(lat),
        p50_ms=round(q[49], 2),
        p99_ms=round(q[98], 2),
        max_ms=round(lat[-1], 2) if lat else None,
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=4, help="in-flight POSTs, raw loop and per endpoint")
    ap.add_argument("--redis-url")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-rate", type=float, default=100.0, help="alerts/s of the open-loop latency run")
    ap.add_argument("--latency-seconds", type=float, default=5.0, help="0 = skip the latency run")
    args = ap.parse_args()
    n = args.alerts
    embedded = None
    if args.redis_url is None:
        embedded = EmbeddedServices(data_dir=Path(tempfile.mkdtemp(prefix="bench-delivery-"))).start(
            kafka=False
        )
        redis_url = embedded.redis_url
    else:
        redis_url = args.redis_url
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                async with aiohttp.ClientSession() as s:
                    await count(s, base)
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        settings = Settings(
            redis_url=redis_url,
            webhook_allow=["127.0.0.1/32"],
            delivery_consumer="bench",
            delivery_endpoint_concurrency=args.concurrency,
            delivery_endpoint_queue=int(os.environ.get("BQ", "1000")),
            _env_file=None,  # type: ignore[call-arg]
        )
        r = aioredis.Redis.from_url(settings.redis)
        batch = alerts(n)
        bodies = [
            Delivery(id=a.id, subscription="x", channel="webhook", alerts=(a,)).to_bytes() for a in batch
        ]
        rates: dict[str, list[float]] = {
            k: [] for k in ("webhook/raw", "webhook/service", "redis/raw", "redis/service")
        }

        async def stream_done(sub_id: str) -> bool:
            return int(await r.xlen(keys.stream(sub_id))) >= n

        # rounds alternate raw and service runs so machine noise hits both alike; the best round counts
        for rnd in range(args.rounds):
            raw_w = await raw_webhook(base, bodies, args.concurrency)
            rates["webhook/raw"].append(n / raw_w)
            async with aiohttp.ClientSession() as s:
                await s.post(f"{base}/reset")

                async def webhook_done(_: str, s: aiohttp.ClientSession = s) -> bool:
                    return await count(s, base) >= n

                svc_w = await through_service(
                    settings,
                    r,
                    batch,
                    SubscriptionSpec(name="b", channel=WebhookTarget(url=f"{base}/hook")),
                    webhook_done,
                )
            rates["webhook/service"].append(n / svc_w)
            await r.flushdb()
            raw_r = await raw_xadd(r, bodies)
            rates["redis/raw"].append(n / raw_r)
            svc_r = await through_service(
                settings, r, batch, SubscriptionSpec(name="b", channel=RedisTarget()), stream_done
            )
            rates["redis/service"].append(n / svc_r)
            for key in rates:
                target, mode = key.split("/")
                line(target=target, mode=mode, round=rnd + 1, alerts=n, per_s=round(rates[key][-1], 1))

        for key, vals in rates.items():
            if not vals:
                continue
            target, mode = key.split("/")
            line(
                target=target,
                mode=mode,
                best_per_s=round(max(vals), 1),
                median_per_s=round(statistics.median(vals), 1),
                rounds=len(vals),
                concurrency=args.concurrency if target == "webhook" else 1,
            )
        for target in ("webhook", "redis") if args.rounds else ():
            best = max(rates[f"{target}/service"]) / max(rates[f"{target}/raw"])
            med = statistics.median(rates[f"{target}/service"]) / statistics.median(rates[f"{target}/raw"])
            line(
                target=target,
                mode="ratio",
                best_over_best=round(best, 2),
                median_over_median=round(med, 2),
                meets_0_7=best >= 0.7,
            )
        if args.latency_seconds > 0:
            async with aiohttp.ClientSession() as s:
                await s.post(f"{base}/reset")
            await latency(settings, r, base, args.latency_rate, args.latency_seconds)
        await r.flushdb()
        await r.aclose()
    finally:
        receiver.terminate()
        receiver.wait(5)
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
