"""Benchmark: what the article journal costs on the embedded path, and that the real-Kafka path pays nothing.

Run: ``.venv/bin/python bench/journal.py [--articles 4000] [--batch 200] [--rounds 3]`` (under a minute).
The embedded broker and Redis are started for the run (``monitor.embedded``).

Per round, ``--articles`` articles of ~1.5 KB (Arabic and English text, as the poller publishes them) go
through the journal's whole life in batches of ``--batch``, against one producer on the embedded broker:

- ``plain``: produce the batch and wait for every ack — the poller's publish step when the journal is
  off, which is exactly the real-Kafka path (``Poller.journal`` is None there, so no journal code runs);
- ``journal``: ``take`` (before producing, as the poller does), produce and wait for the acks, then the
  processor's ``processed`` (one alert id per article) and the alerter's ``alerts_done`` — every journal
  round trip an article costs from poll to delivery.

One JSON line: articles/s of each (the best round, timeit's rule, and the mean), the ratio
``journal / plain`` of the best rounds measured in the same run, and the journal's Redis round trips per
batch (3 + 1 per stage acknowledgement).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402

from monitor.broker import ensure_topics, make_producer  # noqa: E402
from monitor.embedded import EmbeddedServices  # noqa: E402
from monitor.journal import Journal  # noqa: E402
from monitor.models import Article  # noqa: E402
from monitor.settings import Settings  # noqa: E402

WORDS_EN = ["the", "minister", "said", "talks", "on", "the", "border", "crossing", "would", "resume", "next", "week", "in", "the", "capital"]
WORDS_AR = ["قال", "الوزير", "إن", "المحادثات", "حول", "المعبر", "الحدودي", "ستستأنف", "الأسبوع", "المقبل", "في", "العاصمة"]


def articles(n: int, tag: str) -> list[tuple[str, bytes]]:
    rng = random.Random(5)
    out = []
    for i in range(n):
        words = WORDS_AR if i % 2 else WORDS_EN
        body = " ".join(rng.choice(words) for _ in range(220))
        a = Article(id=f"bench:{tag}:{i}", title=f"report {i}", url=f"https://news.test/{tag}/{i}",
                    source="bench", summary=body)
        out.append((a.id, a.to_json()))
    return out


async def produce(producer: object, topic: str, batch: list[tuple[str, bytes]]) -> None:
    futures = [await producer.send(topic, value=v, key=k.encode()) for k, v in batch]  # type: ignore[attr-defined]
    await asyncio.gather(*futures)


async def one_round(mode: str, producer: object, journal: Journal, topic: str, items: list[tuple[str, bytes]],
                    batch: int) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(items), batch):
        part = items[start:start + batch]
        if mode == "journal":
            await journal.take(part)
        await produce(producer, topic, part)
        if mode == "journal":
            await journal.processed([(aid, [f"alert:{aid}"]) for aid, _ in part])
            await journal.alerts_done(f"alert:{aid}" for aid, _ in part)
    return time.perf_counter() - t0


async def main(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        svc = EmbeddedServices(data_dir=Path(tmp)).start()
        try:
            s = Settings(kafka_bootstrap=svc.kafka_bootstrap, redis_url=svc.redis_url, kafka_idempotence=False,
                         topic_articles="bench-journal", topic_alerts="bench-journal-alerts",
                         topic_dead_letter="bench-journal-dl")
            await ensure_topics(s)
            producer = await make_producer(s, client_id="bench-journal")
            r = aioredis.Redis.from_url(s.redis)
            journal = Journal(r)
            times: dict[str, list[float]] = {"plain": [], "journal": []}
            try:
                await one_round("journal", producer, journal, s.topic_articles, articles(400, "warm"), args.batch)
                for n in range(args.rounds):
                    for mode in ("plain", "journal") if n % 2 == 0 else ("journal", "plain"):
                        items = articles(args.articles, f"{mode}{n}")
                        times[mode].append(await one_round(mode, producer, journal, s.topic_articles, items,
                                                           args.batch))
                left = await journal.size()
            finally:
                await producer.stop()
                await r.aclose()
        finally:
            svc.stop()
    rate = {m: args.articles / min(t) for m, t in times.items()}
    mean = {m: args.articles * len(t) / sum(t) for m, t in times.items()}
    return {
        "bench": "journal", "articles": args.articles, "batch": args.batch, "rounds": args.rounds,
        "plain_articles_per_s": round(rate["plain"]), "journal_articles_per_s": round(rate["journal"]),
        "plain_mean_per_s": round(mean["plain"]), "journal_mean_per_s": round(mean["journal"]),
        "ratio_journal_vs_plain": round(rate["journal"] / rate["plain"], 3),
        "journal_overhead_ms_per_batch": round((1 / rate["journal"] - 1 / rate["plain"]) * args.batch * 1000, 2),
        "journal_left_after": left,
        "real_kafka_path": "no journal calls (Poller.journal is None unless the broker is embedded)",
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    print(json.dumps(asyncio.run(main(ap.parse_args()))))
