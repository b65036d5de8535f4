"""Benchmark: the processor's stream glue, faust against a plain aiokafka loop, on the same core and input.

Issue 14 asks whether a plain aiokafka loop (the alerter's shape) would be simpler and faster than faust
for the processor while keeping at-least-once. This measures it on the embedded broker. Per mode, one
pre-produced input topic of N articles (``bench/pipeline.py``'s articles, modes and bench rule) is read
by three consumers, each in a consumer group of its own:

- ``raw``: ``bench/pipeline.py``'s raw consume-and-produce loop, the ceiling (no processing);
- ``faust``: the shipped worker (``monitor worker``: the faust agent of ``monitor.process.agent``);
- ``plain``: ``plain_worker`` below, a worker process that drives the SAME
  ``monitor.process.core.Processor`` (same rule set, same ``EventAlerts`` policy on Redis) with at-least-once
  semantics and no faust: ``getmany`` up to ``MONITOR_WORKER_BATCH`` records, ``process_batch`` off the
  event loop (retrying infrastructure errors as the agent does), send the alerts and dead letters and
  await every broker ack, then commit the batch's offsets (auto-commit off). It lives here, not in
  ``monitor/``: it is a measurement, not the product.

Both workers run as separate processes with the same ``MONITOR_*`` settings (``pipeline.run_worker``),
their own alert topics and their own Redis cluster state; throughput is taken from their alerts'
timestamps, first to last, as ``bench/pipeline.py`` does, so start-up and group join are excluded.
``--first`` sets which worker runs first in each mode: alternate it between runs.

    python bench/glue.py [--articles 2000] [--mode worst|realistic|both] [--first faust|plain] [--rules DIR]

Prints one JSON line per mode: {"mode", "commit", "articles", "first", "faust_articles_per_s",
"plain_articles_per_s", "raw_articles_per_s", "plain_over_faust", "faust_over_raw", "plain_over_raw",
"faust_cpu_ms_per_article", "plain_cpu_ms_per_article", "load"} (the CPU figures: see ``measure``;
``load``: the 1-minute load average when the line was printed; compare figures only within one run).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import (  # noqa: E402
    CATCH_ALL,
    articles,
    checked_root,
    create_topics,
    output_rate,
    output_stamps,
    produce,
    raw_loop,
    run_worker,
)

from monitor.embedded import EmbeddedServices  # noqa: E402

PLAIN = (str(Path(__file__).resolve()), "plain-worker")


async def plain_worker() -> None:
    """The plain aiokafka processor loop, configured by ``MONITOR_*`` like ``monitor worker``; runs until
    killed. At-least-once: a batch's offsets are committed only after all its sends are acknowledged."""
    from monitor.broker import make_consumer, make_producer
    from monitor.cluster import Clustering
    from monitor.heap import settle_heap
    from monitor.process.core import Processor, Record
    from monitor.process.policy import EventAlerts
    from monitor.retry import until_done
    from monitor.rules import load_rules
    from monitor.settings import Settings

    settings = Settings()
    processor = Processor(load_rules(settings.rules),
                          policy=EventAlerts(Clustering.from_settings(settings, track_volume=False)))
    consumer = make_consumer(settings, settings.topic_articles, group_id=settings.app_id,
                             max_poll_records=settings.worker_batch)
    producer = await make_producer(settings, client_id="bench-plain-worker")
    await consumer.start()
    settle_heap()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=settings.worker_batch)
            records = [Record(m.topic, m.partition, m.offset, m.key, m.value)
                       for msgs in batch.values() for m in msgs]
            if not records:
                continue
            outcomes = await until_done(functools.partial(asyncio.to_thread, processor.process_batch, records),
                                        what="processing")
            acks = []
            for record, outcome in zip(records, outcomes, strict=True):
                if outcome.dead is not None:
                    acks.append(await producer.send(settings.topic_dead_letter, outcome.dead.to_json(),
                                                    key=record.key))
                for alert in outcome.alerts:
                    acks.append(await producer.send(settings.topic_alerts, alert.to_json(),
                                                    key=alert.id.encode()))
            await asyncio.gather(*acks)  # every alert is on the broker before its article is committed
            await consumer.commit({tp: msgs[-1].offset + 1 for tp, msgs in batch.items() if msgs})
    finally:
        await consumer.stop()
        await producer.stop()


def measure(kind: str, bs: str, redis_url: str, tmp: Path, rules: Path, mode: str, src: str,
            n: int) -> tuple[float, float]:
    """(articles/s, worker CPU ms per article) of one worker (``faust`` or ``plain``) over ``src``.

    The CPU figure (user + system of the worker process, all threads) is taken between the first fetch
    of its alerts that brought some and the last one, over the share of the input those alerts stand
    for; a busy machine disturbs it far less than the wall-clock rate."""
    tag = f"{mode}-{kind}"
    asyncio.run(create_topics(bs, [f"b-alerts-{tag}", f"b-dead-{tag}"]))
    command = PLAIN if kind == "plain" else ("-m", "monitor", "worker")
    worker = run_worker(ROOT, bs, redis_url, tmp, rules, tag, src, command=command)
    alerting = n if mode == "worst" else len(range(0, n, 50)) + (1 if (n - 1) % 50 else 0)
    proc = psutil.Process(worker.pid)
    cpu: list[tuple[int, float]] = []  # (alerts seen, CPU seconds) at the first and the latest fetch

    def sample(seen: int) -> None:
        t = proc.cpu_times()
        cpu[1 if cpu else 0:] = [(seen, t.user + t.system)]

    try:
        stamps = asyncio.run(output_stamps(bs, f"b-alerts-{tag}", alerting, 600, marker=b'"rule":"bench-catch-all"',
                                           workers=[worker], on_records=sample))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    span = (max(stamps) - min(stamps)) / 1000
    done = n if mode == "worst" else n - 1  # as bench/pipeline.py counts
    (seen0, cpu0), (_, cpu1) = cpu[0], cpu[-1]
    covered = n * (alerting - seen0) / alerting
    return (done / span if span > 0 else float("inf")), 1000 * (cpu1 - cpu0) / max(covered, 1)


def main() -> None:
    if sys.argv[1:2] == ["plain-worker"]:
        logging.basicConfig(level=logging.WARNING if "-q" in sys.argv else logging.INFO)
        asyncio.run(plain_worker())
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--mode", choices=["worst", "realistic", "both"], default="both")
    ap.add_argument("--first", choices=["faust", "plain"], default="faust", help="which worker runs first")
    ap.add_argument("--rules", type=Path, default=ROOT / "rules",
                    help="rules folder to run (the catch-all bench rule is added); default: the shipped rules")
    args = ap.parse_args()
    n = args.articles
    modes = ["worst", "realistic"] if args.mode == "both" else [args.mode]
    order = ["faust", "plain"] if args.first == "faust" else ["plain", "faust"]
    commit = checked_root(ROOT)
    tmp = Path(tempfile.mkdtemp(prefix="bench-glue-"))
    svc = EmbeddedServices(data_dir=tmp).start()
    try:
        bs, redis_url = svc.kafka_bootstrap, svc.redis_url
        assert bs and redis_url
        rules = tmp / "rules"
        shutil.copytree(args.rules, rules)
        (rules / "bench-catch-all.yaml").write_text(CATCH_ALL, encoding="utf-8")
        asyncio.run(create_topics(bs, ["b-raw-out", *(f"b-in-{m}" for m in modes)]))
        for mode in modes:
            src = f"b-in-{mode}"
            data = articles(n) if mode == "worst" else articles(n, every=50, skip_matching=True)
            asyncio.run(produce(bs, src, data))
            asyncio.run(raw_loop(bs, src, "b-raw-out", n, group=f"bench-raw-{mode}"))
            raw = asyncio.run(output_rate(bs, "b-raw-out", n, 120, group_marker=mode))
            got = {kind: measure(kind, bs, redis_url, tmp, rules, mode, src, n) for kind in order}
            rate = {kind: r for kind, (r, _) in got.items()}
            cpu = {kind: c for kind, (_, c) in got.items()}
            print(orjson.dumps({
                "mode": mode, "commit": commit, "articles": n, "first": args.first,
                "faust_articles_per_s": round(rate["faust"], 1), "plain_articles_per_s": round(rate["plain"], 1),
                "raw_articles_per_s": round(raw, 1), "plain_over_faust": round(rate["plain"] / rate["faust"], 3),
                "faust_over_raw": round(rate["faust"] / raw, 3), "plain_over_raw": round(rate["plain"] / raw, 3),
                "faust_cpu_ms_per_article": round(cpu["faust"], 3), "plain_cpu_ms_per_article": round(cpu["plain"], 3),
                "load": round(os.getloadavg()[0], 2),
            }).decode(), flush=True)
    finally:
        svc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
