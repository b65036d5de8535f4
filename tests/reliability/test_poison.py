"""Poison never stops delivery, outages never dead-letter, metrics count each alert once.

Real broker and Redis (tests/conftest.py). A handler that raises for one specific alert: that alert is
tried ``poison_tries`` times and written to ``dead-letter`` with its reason while the next alert is
handled; an infrastructure error is retried instead (nothing dead-lettered). With the real AlertService
behind the consumer, ``monitor_alerts_received_total`` equals the number of alerts.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio as aioredis
import redis.exceptions
from prometheus_client import CollectorRegistry

from monitor.alerting.consumer import AlertConsumer
from monitor.alerting.recent import RecentAlerts
from monitor.alerting.service import AlertService
from monitor.broker import ensure_topics, make_producer
from monitor.metrics import Metrics
from tests.helpers import read_topic
from tests.spine.test_alerter_loop import an_alert, committed, produce, run_until, settings_for

pytestmark = pytest.mark.integration


async def test_a_poison_alert_is_dead_lettered_and_the_next_one_delivered(kafka_bootstrap, redis_db_url, unique):
    s = settings_for(kafka_bootstrap, redis_db_url, unique).model_copy(update={"poison_tries": 3})
    await ensure_topics(s)
    alerts = [an_alert(1), an_alert(2), an_alert(3)]
    poison = alerts[1].id
    await produce(s, [a.to_json() for a in alerts])
    r = aioredis.Redis.from_url(redis_db_url)
    tries: list[str] = []
    handled: list[str] = []
    done = asyncio.Event()

    async def handler(batch):  # type: ignore[no-untyped-def]
        if any(a.id == poison for a in batch):
            tries.append(poison)
            raise ValueError("this handler cannot take that alert")
        handled.extend(a.id for a in batch)
        if alerts[2].id in handled:
            done.set()

    metrics = Metrics(CollectorRegistry())
    producer = await make_producer(s)
    try:
        c = AlertConsumer(s, recent=RecentAlerts(r), producer=producer, handler=handler, metrics=metrics)
        await run_until(c, done)
    finally:
        await producer.stop()
    assert sorted(handled) == sorted([alerts[0].id, alerts[2].id])
    assert tries.count(poison) >= 3  # the batch, then three tries of the alert alone
    dead = await read_topic(kafka_bootstrap, s.topic_dead_letter, lambda v: len(v) >= 1, 30)
    assert len(dead) == 1
    doc = orjson.loads(dead[0])
    assert doc["reason"].startswith("handler_error: ValueError: this handler cannot take that alert")
    assert orjson.loads(doc["payload"])["id"] == poison
    assert await committed(s) == 3
    assert metrics.dead_letters.labels(s.topic_alerts, "handler_error")._value.get() == 1
    assert metrics.alerts_received._value.get() == 2
    assert sorted(a.id for a in await RecentAlerts(r).list()) == sorted([alerts[0].id, alerts[2].id])
    await r.aclose()


async def test_an_outage_is_retried_not_dead_lettered(kafka_bootstrap, redis_db_url, unique):
    s = settings_for(kafka_bootstrap, redis_db_url, unique).model_copy(update={"poison_tries": 1})
    await ensure_topics(s)
    alert = an_alert(7)
    await produce(s, [alert.to_json()])
    r = aioredis.Redis.from_url(redis_db_url)
    calls = 0
    done = asyncio.Event()

    async def down_then_up(batch):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls <= 3:  # more failures than poison_tries: an outage must never count as poison
            raise redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory")
        done.set()

    producer = await make_producer(s)
    try:
        c = AlertConsumer(s, recent=RecentAlerts(r), producer=producer, handler=down_then_up,
                          metrics=Metrics(CollectorRegistry()))
        c.backoff = type(c.backoff)(initial=0.05, cap=0.2)
        await run_until(c, done)
    finally:
        await producer.stop()
    assert calls == 4
    assert await committed(s) == 1
    assert await read_topic(kafka_bootstrap, s.topic_dead_letter, lambda v: False, 2) == []
    await r.aclose()


async def test_alerts_received_counts_each_alert_once(kafka_bootstrap, redis_db_url, unique):
    s = settings_for(kafka_bootstrap, redis_db_url, unique)
    await ensure_topics(s)
    alerts = [an_alert(n) for n in range(5)]
    await produce(s, [a.to_json() for a in alerts])
    r = aioredis.Redis.from_url(redis_db_url)
    metrics = Metrics(CollectorRegistry())
    service = AlertService(s, redis=r, metrics=metrics)
    done = asyncio.Event()

    async def handle(batch):  # type: ignore[no-untyped-def]
        await service.handle(batch)
        if metrics.alerts_received._value.get() + len(batch) >= len(alerts):
            done.set()

    producer = await make_producer(s)
    try:
        c = AlertConsumer(s, recent=RecentAlerts(r), producer=producer, handler=handle, metrics=metrics)
        await run_until(c, done)
    finally:
        await producer.stop()
    assert await committed(s) == len(alerts)
    assert metrics.alerts_received._value.get() == len(alerts)
    await r.aclose()
