"""Benchmark: the web console's inbox with 10,000 stored alerts, against the JSON API listing.

What it runs: an embedded redis-server (a temporary folder) holding ``--alerts`` recent alerts (70 %
Arabic, 30 % English titles and summaries, 2-8 pieces of evidence each, a third of them sharing an event
with others, five severities, a dozen sources), the API application with the console (``make_app``) on
127.0.0.1, and an aiohttp client in the same process timing whole HTTP requests:

- ``api-list`` (the baseline): ``GET /api/v1/alerts?limit=100``, the same 100 newest alerts as JSON;
- ``inbox``: ``GET /``, the 100 newest alerts rendered in event groups (the target: <= 200 ms);
- ``inbox-filtered``: ``GET /?lang=en&severity=high``, a filter that scans the store for its 100;
- ``alert-page``: ``GET /alerts/{id}`` of an alert whose event has other reports (a store scan).

Prints one JSON line per case (``median_ms``, ``p95_ms``, ``min_ms`` over ``--rounds`` requests after
a warm-up, ``bytes``) and a ``ratio`` line (inbox median / api-list median).

    .venv/bin/python bench/console.py                       # 10,000 alerts, 40 rounds
    .venv/bin/python bench/console.py --alerts 2000 --rounds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from aiohttp import web  # noqa: E402

from monitor.alerting.recent import RecentAlerts  # noqa: E402
from monitor.api.app import ApiDeps, make_app  # noqa: E402
from monitor.embedded import EmbeddedServices  # noqa: E402
from monitor.models import Alert, ArticleRef, Evidence  # noqa: E402
from monitor.settings import Settings  # noqa: E402

AR = ("بدء جولة جديدة من المفاوضات بين بغداد وواشنطن حول مستقبل قوات التحالف الدولي في العراق",
      "قصف صاروخي يستهدف قاعدة عين الأسد الجوية غربي الأنبار ولا إصابات بين الجنود",
      "اللجنة العسكرية العليا تعقد اجتماعها الثاني لبحث جدول انسحاب المستشارين")
EN = ("Baghdad and Washington open a new round of talks on the coalition's future in Iraq",
      "Rockets target Ain al-Asad air base in western Anbar, no casualties reported",
      "Higher military commission holds its second meeting on the advisers' withdrawal")
SEVERITIES = ("info", "low", "medium", "high", "critical")
SOURCES = tuple(f"source-{i}" for i in range(12))


def make_alerts(n: int, rng: random.Random) -> list[Alert]:
    start = datetime.now(UTC) - timedelta(days=6)
    out = []
    for i in range(n):
        ar = rng.random() < 0.7
        title = rng.choice(AR if ar else EN) + f" ({i})"
        summary = (title + " ") * 3
        words = title.split()
        evidence = []
        for _ in range(rng.randint(2, 8)):
            w = rng.choice(words[:-1])
            s = title.index(w)
            evidence.append(Evidence(term=w, matched=w, field="title", start=s, end=s + len(w), snippet=title[:80]))
        event = f"ev{i // 3}" if rng.random() < 0.33 else ""
        source = rng.choice(SOURCES)
        out.append(Alert(
            id=f"bench{i:06d}", rule=rng.choice(("negotiation-round.talks-held", "attack-on-base.named-base",
                                                 "ceasefire.announced")),
            tags=(rng.choice(("negotiation-round", "attack-on-base", "ceasefire")),),
            severity=rng.choice(SEVERITIES),  # type: ignore[arg-type]
            created_at=start + timedelta(seconds=50 * i),
            article=ArticleRef(id=f"art{i}", title=title, url=f"https://news.example/{i}", source=source,
                               published=start + timedelta(seconds=50 * i), lang="ar" if ar else "en",
                               summary=summary[:500]),
            evidence=tuple(evidence), entities={"bases": ("ain-al-asad",)} if "Asad" in title else {},
            event_id=event, sources=(source,), source_count=rng.randint(1, 4) if event else 1,
        ))
    return out


async def timed(session: aiohttp.ClientSession, url: str, rounds: int) -> dict[str, float]:
    for _ in range(3):  # warm-up: templates compiled, connections open
        async with session.get(url) as r:
            await r.read()
    times = []
    size = 0
    for _ in range(rounds):
        t = time.perf_counter()
        async with session.get(url) as r:
            body = await r.read()
            assert r.status == 200, (url, r.status, body[:300])
        times.append((time.perf_counter() - t) * 1000)
        size = len(body)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            "min_ms": round(times[0], 2), "bytes": size}


async def main(args: argparse.Namespace, redis_url: str) -> None:
    redis = aioredis.Redis.from_url(redis_url)
    await redis.flushdb()
    settings = Settings(redis_url=redis_url, alerts_recent=args.alerts, _env_file=None)  # type: ignore[call-arg]
    recent = RecentAlerts(redis, limit=args.alerts)
    alerts = make_alerts(args.alerts, random.Random(7))
    for i in range(0, len(alerts), 500):
        await recent.add(alerts[i:i + 500])
    assert await recent.count() == args.alerts
    runner = web.AppRunner(make_app(ApiDeps(settings=settings, redis=redis, recent=recent)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    grouped = next(a for a in reversed(alerts) if a.event_id)
    cases = {
        "api-list": f"{base}/api/v1/alerts?limit=100",
        "inbox": f"{base}/",
        "inbox-filtered": f"{base}/?lang=en&severity=high",
        "alert-page": f"{base}/alerts/{grouped.id}",
    }
    results = {}
    async with aiohttp.ClientSession() as session:
        for name, url in cases.items():
            results[name] = await timed(session, url, args.rounds)
            print(json.dumps({"case": name, "alerts_stored": args.alerts, **results[name]}), flush=True)
    print(json.dumps({"ratio": "inbox/api-list",
                      "value": round(results["inbox"]["median_ms"] / results["api-list"]["median_ms"], 2),
                      "inbox_median_ms": results["inbox"]["median_ms"], "target_ms": 200,
                      "ok": results["inbox"]["median_ms"] <= 200}), flush=True)
    await runner.cleanup()
    await redis.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--alerts", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--redis-url", default=None)
    args = p.parse_args()
    if args.redis_url:
        asyncio.run(main(args, args.redis_url))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            svc = EmbeddedServices(data_dir=Path(tmp)).start(kafka=False)
            try:
                asyncio.run(main(args, svc.redis_url or ""))
            finally:
                svc.stop()
