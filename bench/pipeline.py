"""Benchmark: articles/s from ``articles`` through the faust processor to ``alerts`` on the embedded broker,
side by side with a raw aiokafka consume-and-produce loop over the same records (the ceiling).

Both read the same pre-produced input topic (N articles of ~5 KB built from the seeds), each with its own
consumer group, and write one output record per input record (the processor runs the shipped rules plus
a bench rule matching a marker word once per article, so every article yields an alert). Throughput is measured from the output
records' timestamps (first to last), so start-up and group-join time are excluded for both.

    python bench/pipeline.py [--articles 4000]

Prints one JSON line: {"articles", "processor_articles_per_s", "raw_articles_per_s", "ratio"}.
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
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.embedded import EmbeddedServices  # noqa: E402
from monitor.models import Article  # noqa: E402

PARTITIONS = 4
CATCH_ALL = """\
id: bench-catch-all
title: Bench rule that matches every article
severity: info
tags: [bench]
match:
  any: ["benchvariant"]
"""


def articles(n: int) -> list[bytes]:
    seeds = sorted((ROOT / "seeds").glob("[0-9]*.txt"))
    texts = [p.read_text(encoding="utf-8") for p in seeds]
    out = []
    for i in range(n):
        text = texts[i % len(texts)]
        words = text[:2600].split()
        random.Random(i).shuffle(words)  # distinct articles: near-duplicate detection must not fold them
        content = " ".join(words) + f"\n(benchvariant {i})"
        art = Article(id=f"bench-{i}", title=text.splitlines()[0][:120], content=content, source=f"src{i % 7}")
        out.append(art.to_json())
    return out


async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=4 << 20)
    await p.start()
    try:
        futs = [await p.send(topic, v, key=f"k{i}".encode()) for i, v in enumerate(values)]
        await p.flush()
        await asyncio.gather(*futs)
    finally:
        await p.stop()


async def output_rate(bootstrap: str, topic: str, n: int, timeout: float, marker: bytes = b"") -> float:
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await c.start()
    stamps: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(stamps) < n and time.monotonic() < deadline:
            batch = await c.getmany(timeout_ms=500, max_records=5000)
            for recs in batch.values():
                stamps.extend(r.timestamp for r in recs if marker in r.value)
    finally:
        await c.stop()
    if len(stamps) < n:
        raise SystemExit(f"only {len(stamps)}/{n} output records on {topic} within {timeout}s")
    span = (max(stamps) - min(stamps)) / 1000
    return n / span if span > 0 else float("inf")


async def raw_loop(bootstrap: str, src: str, dst: str, n: int) -> None:
    c = AIOKafkaConsumer(src, bootstrap_servers=bootstrap, group_id="bench-raw", auto_offset_reset="earliest",
                         enable_auto_commit=False, max_poll_records=500)
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=4 << 20)
    await c.start()
    await p.start()
    done = 0
    try:
        while done < n:
            batch = await c.getmany(timeout_ms=500, max_records=500)
            for recs in batch.values():
                for r in recs:
                    doc = orjson.loads(r.value)
                    await p.send(dst, orjson.dumps({"id": doc["id"]}), key=r.key)
                    done += 1
            await p.flush()
            await c.commit()
    finally:
        await p.stop()
        await c.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=4000)
    ap.add_argument("--rules", type=Path, default=ROOT / "rules",
                    help="rules folder to run (the catch-all bench rule is added); default: the shipped rules")
    args = ap.parse_args()
    n = args.articles
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    svc = EmbeddedServices(data_dir=tmp).start()
    worker = None
    try:
        bs = svc.kafka_bootstrap
        assert bs and svc.redis_url
        asyncio.run(create_topics(bs, ["b-in", "b-raw-out", "b-alerts", "b-dead"]))
        asyncio.run(produce(bs, "b-in", articles(n)))
        asyncio.run(raw_loop(bs, "b-in", "b-raw-out", n))
        raw = asyncio.run(output_rate(bs, "b-raw-out", n, 120))

        rules = tmp / "rules"
        shutil.copytree(args.rules, rules)
        (rules / "bench-catch-all.yaml").write_text(CATCH_ALL, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env.update({
            "MONITOR_KAFKA_BOOTSTRAP": bs, "MONITOR_KAFKA_IDEMPOTENCE": "false", "MONITOR_REDIS_URL": svc.redis_url, "MONITOR_TOPIC_ARTICLES": "b-in",
            "MONITOR_TOPIC_ALERTS": "b-alerts", "MONITOR_TOPIC_DEAD_LETTER": "b-dead",
            "MONITOR_TOPIC_PARTITIONS": str(PARTITIONS), "MONITOR_RULES": str(rules), "MONITOR_HTTP_PORT": "0",
            "MONITOR_DATA_DIR": str(tmp), "MONITOR_APP_ID": "bench-processor", "MONITOR_RULES_RELOAD": "false",
        })
        cmd = [sys.executable, "-m", "monitor", "worker", "-q"]
        worker = subprocess.Popen(cmd, env=env, cwd=ROOT)
        if os.environ.get("BENCH_PROFILE"):  # sample the worker with py-spy: BENCH_PROFILE=out.txt
            subprocess.Popen(["py-spy", "record", "-r", "200", "-d", "25", "-f", "raw", "--nonblocking",
                              "-o", os.environ["BENCH_PROFILE"], "--pid", str(worker.pid)])
        # every article matches the catch-all rule; shipped rules may add more alerts than n
        proc = asyncio.run(output_rate(bs, "b-alerts", n, 300, marker=b'"rule":"bench-catch-all"'))
        print(orjson.dumps({
            "articles": n, "processor_articles_per_s": round(proc, 1), "raw_articles_per_s": round(raw, 1),
            "ratio": round(proc / raw, 3),
        }).decode(), flush=True)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        svc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
