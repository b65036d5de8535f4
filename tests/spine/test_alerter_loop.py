"""The alerter's consume loop against the real broker and Redis: poison alerts go to dead-letter,
a failing handler is retried and nothing is committed before it succeeds."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from monitor.alerting.consumer import AlertConsumer
from monitor.alerting.recent import RecentAlerts
from monitor.broker import ensure_topics, make_producer
from monitor.metrics import Metrics
from monitor.models import Alert, Article, Match
from monitor.settings import Settings
from tests.helpers import read_topic

pytestmark = pytest.mark.integration


def settings_for(kafka_bootstrap: str, redis_url: str, unique: str) -> Settings:
    return Settings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, kafka_idempotence=False,
        topic_articles=f"art-{unique}", topic_alerts=f"al-{unique}", topic_dead_letter=f"dl-{unique}",
        alerter_group=f"alerter-{unique}",
    )


def an_alert(n: int) -> Alert:
    art = Article(id=f"a{n}", title=f"جولة {n}", url=f"https://x.test/{n}", source="wire")
    return Alert.from_match(art, Match(rule="r", rule_version="1", tags=("negotiation-round",)), lang="ar")


async def produce(s: Settings, values: list[bytes]) -> None:
    p = AIOKafkaProducer(bootstrap_servers=s.kafka_servers, acks="all")
    await p.start()
    try:
        for v in values:
            await p.send_and_wait(s.topic_alerts, v, key=b"k", partition=0)
    finally:
        await p.stop()


async def committed(s: Settings) -> int:
    c = AIOKafkaConsumer(bootstrap_servers=s.kafka_servers, group_id=s.alerter_group, enable_auto_commit=False)
    await c.start()
    try:
        return (await c.committed(TopicPartition(s.topic_alerts, 0))) or 0
    finally:
        await c.stop()


async def run_until(consumer: AlertConsumer, done: asyncio.Event, timeout: float = 60) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 30)


async def test_poison_alert_is_dead_lettered_and_the_good_one_stored(kafka_bootstrap, redis_db_url, unique):
    s = settings_for(kafka_bootstrap, redis_db_url, unique)
    await ensure_topics(s)
    good = an_alert(1)
    await produce(s, [b"not an alert", orjson.dumps({"schema": 1, "id": "x"}), good.to_json()])
    r = aioredis.Redis.from_url(redis_db_url)
    recent = RecentAlerts(r)
    handled: list[str] = []
    done = asyncio.Event()

    async def handler(alerts):  # type: ignore[no-untyped-def]
        handled.extend(a.id for a in alerts)
        done.set()

    producer = await make_producer(s)
    try:
        c = AlertConsumer(s, recent=recent, producer=producer, handler=handler,
                          metrics=Metrics(CollectorRegistry()))
        await run_until(c, done)
    finally:
        await producer.stop()
    assert handled == [good.id]
    assert [a.id for a in await recent.list()] == [good.id]
    assert await recent.get(good.id) == good
    dead = await read_topic(kafka_bootstrap, s.topic_dead_letter, lambda v: len(v) >= 2, 30)
    reasons = sorted(orjson.loads(d)["reason"].split(":")[0] for d in dead)
    assert reasons == ["invalid_alert", "invalid_json"]
    assert await committed(s) == 3
    await r.aclose()


async def test_a_failing_handler_is_retried_and_nothing_is_committed_before_success(
    kafka_bootstrap, redis_db_url, unique
):
    s = settings_for(kafka_bootstrap, redis_db_url, unique)
    await ensure_topics(s)
    alerts = [an_alert(1), an_alert(2)]
    await produce(s, [a.to_json() for a in alerts])
    r = aioredis.Redis.from_url(redis_db_url)
    calls: list[list[str]] = []
    offsets_at_failure: list[int] = []
    done = asyncio.Event()

    async def flaky(batch):  # type: ignore[no-untyped-def]
        calls.append([a.id for a in batch])
        if len(calls) == 1:
            offsets_at_failure.append(await committed(s))
            raise ConnectionError("redis went away")
        done.set()

    producer = await make_producer(s)
    try:
        c = AlertConsumer(s, recent=RecentAlerts(r), producer=producer, handler=flaky,
                          metrics=Metrics(CollectorRegistry()))
        await run_until(c, done)
    finally:
        await producer.stop()
    assert offsets_at_failure == [0]
    delivered = [i for call in calls[1:] for i in call]
    assert sorted(delivered) == sorted(a.id for a in alerts), "the failed batch was redelivered whole"
    assert await committed(s) == 2
    await r.aclose()
