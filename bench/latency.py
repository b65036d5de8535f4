"""Benchmark: end-to-end latency, article produced to alert delivered, on the embedded stack.

Starts the embedded broker and Redis, a ``monitor worker`` and a ``monitor alerter`` (separate
processes, as in production), and a subscription on the Redis-stream channel for the bench tag. Then
it produces articles to ``articles`` open-loop at a fixed rate (default 100/s for 20 s): each article
carries a marker word that a bench rule matches, so each yields one alert. A reader follows the
subscription's stream and records when each article's alert arrives. Latency = arrival - send time.

    python bench/latency.py [--rate 100] [--seconds 20] [--compare DIR]

Prints one JSON line per checkout: {"checkout", "rate", "articles", "delivered", "p50_ms", "p90_ms",
"p99_ms", "max_ms", "alert_sent_p50_ms", "alert_sent_p99_ms", "to_alerts_topic_p50_ms",
"to_alerts_topic_p99_ms", "cpu_ms_per_article", "after_quiet_ms", "load"}: ``alert_sent`` is produced → the worker sent the
alert (the alert record's CreateTime: fetch, batching, matching), ``to_alerts_topic`` the processor's part (produced → alert on the ``alerts`` topic, seen by a
tailing consumer), the rest is the alerter's and the delivery's; ``cpu_ms_per_article`` is the CPU time (user + system) each process spent during the
stream, per article (worker, alerter, broker, redis), a figure the machine's other load disturbs far less than the latencies; ``after_quiet_ms`` lists the latency
of single articles sent after 8 s of nothing (consumers then fetch with their idle wait,
``MONITOR_BROKER_FETCH_MAX_WAIT_IDLE``, and here, in separate processes, nothing wakes them early:
bench/quiet.py measures the same inside one `monitor run`, where the sender wakes them); ``load`` is the 1-minute load average at the end. The shipped
rules run too (the worker matches every article against them), so the figure includes the real matcher.
``--compare DIR`` runs the worker and alerter of another checkout the same way, right after, with fresh
embedded services (before/after pairs in one run; see bench/pipeline.py for making such a checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psutil
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.alerting import keys  # noqa: E402
from monitor.alerting.model import Filter, RedisTarget, SubscriptionSpec  # noqa: E402
from monitor.alerting.store import Store  # noqa: E402
from monitor.broker import ensure_topics  # noqa: E402
from monitor.embedded import EmbeddedServices  # noqa: E402
from monitor.models import Article  # noqa: E402
from monitor.settings import Settings  # noqa: E402

MARKER_RULE = """\
id: bench-latency
title: Bench latency marker
severity: high
tags: [bench]
match:
  any: ["latencymarker"]
"""


def article(i: int, text: str) -> Article:
    """A distinct article (its words shuffled), so near-duplicate detection does not fold them together."""
    now = datetime.now(UTC)
    words = text.split()
    random.Random(i).shuffle(words)
    return Article(id=f"lat-{i}", title=f"latencymarker {i}", content=" ".join(words), source=f"src{i % 5}",
                   published=now, fetched_at=now)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds of each named process so far."""
    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[name] = t.user + t.system
    return out


async def measure(settings: Settings, sub_id: str, rate: float, seconds: float, text: str,
                  quiet: int = 0, gap: float = 8.0, pids: dict[str, int] | None = None) -> dict[str, object]:
    r = aioredis.Redis.from_url(settings.redis)
    stream = keys.stream(sub_id)
    p = AIOKafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all", linger_ms=0)
    await p.start()
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    on_topic: dict[str, float] = {}  # when the alert reached the `alerts` topic (processor part)
    created: dict[str, float] = {}  # when the worker sent it (the record's CreateTime): fetch + processing

    async def warm_up() -> None:
        # one article through the whole pipeline first: group joins and connections are not measured
        await p.send_and_wait(settings.topic_articles, article(10**9, text).to_json(), key=b"warm")
        while True:
            got = await r.xread({stream: "0"}, count=1, block=1000)
            if got:
                return

    async def reader(last: str) -> None:
        while len(arrived) < n_total:
            got = await r.xread({stream: last}, count=500, block=1000)
            now = time.time()
            for _name, entries in got:
                for entry_id, fields in entries:
                    last = entry_id
                    body = orjson.loads(fields[b"payload"])  # a Delivery: {"alerts": [...], ...}
                    for alert in body.get("alerts", []):
                        aid = alert["article"]["id"]
                        if aid in sent and aid not in arrived:
                            arrived[aid] = now
            if time.time() > deadline:
                return

    async def tail_alerts() -> None:
        c = AIOKafkaConsumer(settings.topic_alerts, bootstrap_servers=settings.kafka_servers, group_id=None,
                             auto_offset_reset="latest", fetch_max_wait_ms=20)
        await c.start()
        try:
            while len(on_topic) < n_total and time.time() < deadline:
                batch = await c.getmany(timeout_ms=500)
                now = time.time()
                for recs in batch.values():
                    for rec in recs:
                        aid = orjson.loads(rec.value)["article"]["id"]
                        if aid in sent:
                            on_topic.setdefault(aid, now)
                            created.setdefault(aid, rec.timestamp / 1000)
        finally:
            await c.stop()

    await asyncio.wait_for(warm_up(), 120)
    first = await r.xrevrange(stream, count=1)
    start_id = first[0][0].decode() if first else "0"
    n_total = int(rate * seconds)
    deadline = time.time() + seconds + 30
    read_task = asyncio.create_task(reader(start_id))
    tail_task = asyncio.create_task(tail_alerts())
    await asyncio.sleep(1.0)  # the tailer's partitions are assigned before the first article
    cpu0 = cpu_seconds(pids or {})
    t0 = time.perf_counter()
    for i in range(n_total):  # open loop: the schedule does not wait for the pipeline
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        a = article(i, text)
        sent[a.id] = time.time()
        await p.send(settings.topic_articles, a.to_json(), key=a.id.encode())
    await p.flush()
    await read_task
    await tail_task
    cpu1 = cpu_seconds(pids or {})
    cpu = {k: round((cpu1[k] - cpu0[k]) * 1000 / n_total, 2) for k in cpu0 if k in cpu1}
    after_quiet: list[float] = []  # one article after `gap` seconds of nothing, `quiet` times
    last = (await r.xrevrange(stream, count=1) or [(b"0", {})])[0][0]
    for k in range(quiet):
        await asyncio.sleep(gap)
        a = article(10**6 + k, text)
        t = time.time()
        await p.send_and_wait(settings.topic_articles, a.to_json(), key=a.id.encode())
        while True:
            got = await asyncio.wait_for(r.xread({stream: last}, count=10, block=5000), 60)
            hits = [(eid, f) for _n, entries in got for eid, f in entries]
            if hits:
                last = hits[-1][0]
            if any(a.id in f[b"payload"].decode() for _e, f in hits):
                after_quiet.append(round((time.time() - t) * 1000, 1))
                break
    await p.stop()
    await r.aclose()
    missing = sorted(set(sent) - set(arrived))
    if missing:
        print(f"not delivered: {missing[:10]}", file=sys.stderr)
    lat = sorted((arrived[k] - sent[k]) * 1000 for k in arrived)
    proc = sorted((on_topic[k] - sent[k]) * 1000 for k in on_topic)
    made = sorted((created[k] - sent[k]) * 1000 for k in created)

    def pct(values: list[float], q: float) -> float | None:
        return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else None

    return {"rate": rate, "articles": n_total, "delivered": len(lat), "p50_ms": pct(lat, 0.50),
            "p90_ms": pct(lat, 0.90), "p99_ms": pct(lat, 0.99), "max_ms": round(lat[-1], 1) if lat else None,
            "alert_sent_p50_ms": pct(made, 0.50), "alert_sent_p99_ms": pct(made, 0.99),
            "to_alerts_topic_p50_ms": pct(proc, 0.50), "to_alerts_topic_p99_ms": pct(proc, 0.99),
            "cpu_ms_per_article": cpu, "after_quiet_ms": after_quiet}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--env", action="append", default=[], help="extra NAME=VALUE for the worker and alerter")
    ap.add_argument("--rules", type=Path, default=None,
                    help="rules folder (the marker rule is added); default: the checkout's shipped rules")
    ap.add_argument("--compare", type=Path, action="append", default=[],
                    help="another checkout whose worker and alerter are measured the same way (repeatable)")
    ap.add_argument("--quiet", type=int, default=3,
                    help="then this many single articles, each after 8 s of nothing (after_quiet_ms)")
    args = ap.parse_args()
    for name, root in [("this", ROOT), *((str(c), c.resolve()) for c in args.compare)]:
        result = run_once(root, args)
        print(orjson.dumps({"checkout": name, **result, "load": round(os.getloadavg()[0], 2)}).decode(),
              flush=True)


def run_once(root: Path, args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    svc = EmbeddedServices(data_dir=tmp).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        assert svc.kafka_bootstrap and svc.redis_url
        extra = dict(e.split("=", 1) for e in args.env)
        settings = Settings(kafka_bootstrap=svc.kafka_bootstrap, redis_url=svc.redis_url, kafka_idempotence=False,
                            topic_partitions=int(extra.get("MONITOR_TOPIC_PARTITIONS", 4)))
        asyncio.run(ensure_topics(settings))

        async def subscribe() -> str:
            r = aioredis.Redis.from_url(svc.redis_url)
            sub, _secret = await Store(r).create(
                SubscriptionSpec(name="bench", channel=RedisTarget(), filter=Filter(tags=("bench",)))
            )
            await r.aclose()
            return sub.id

        sub_id = asyncio.run(subscribe())
        rules = tmp / "rules"
        shutil.copytree(args.rules or root / "rules", rules)
        (rules / "bench-latency.yaml").write_text(MARKER_RULE, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update({"MONITOR_KAFKA_BOOTSTRAP": svc.kafka_bootstrap, "MONITOR_REDIS_URL": svc.redis_url,
                    "MONITOR_KAFKA_IDEMPOTENCE": "false", "MONITOR_RULES": str(rules),
                    "MONITOR_DATA_DIR": str(tmp), "MONITOR_RULES_RELOAD": "false", "MONITOR_HTTP_PORT": "0"})
        env.update(dict(e.split("=", 1) for e in args.env))
        env["PYTHONPATH"] = str(root)
        for role in ("worker", "alerter"):
            procs.append(subprocess.Popen([sys.executable, "-m", "monitor", role, "-q"], env=env, cwd=root))
        seed = (ROOT / "seeds" / "003_987e725a71a5c5d0.txt").read_text(encoding="utf-8")[:2500]
        pids = {"worker": procs[0].pid, "alerter": procs[1].pid,
                **{name: p.pid for name, p in svc._procs}}  # the embedded broker and Redis
        return asyncio.run(measure(settings, sub_id, args.rate, args.seconds, seed, quiet=args.quiet, pids=pids))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        svc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
