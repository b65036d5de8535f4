"""AlertService end to end on real Redis and a real local webhook receiver (signatures verified by
the independent standardwebhooks package)."""

from __future__ import annotations

import asyncio
import contextlib

import orjson

from monitor.alerting import keys
from monitor.alerting.model import RedisTarget, SubscriptionSpec, WebhookTarget
from monitor.alerting.service import AlertService

from .helpers import make_alert, wait_for


@contextlib.asynccontextmanager
async def running(svc: AlertService):
    task = asyncio.create_task(svc.run())
    try:
        yield svc
    finally:
        await svc.stop()
        await asyncio.wait_for(task, 10)


async def test_webhook_and_stream_delivery(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    _hook, secret = await svc.store.create(
        SubscriptionSpec(name="hook", channel=WebhookTarget(url=receiver.url))
    )
    receiver.secrets.append(secret)
    stream_sub, _ = await svc.store.create(SubscriptionSpec(name="stream", channel=RedisTarget()))
    alerts = [make_alert(i, title=f'غارة على قاعدة {i} \u2028 "quoted" \\ /') for i in range(5)]
    async with running(svc):
        await svc.handle(alerts)
        await wait_for(lambda: len(receiver.ids) == 5)
        await wait_for_stream(redis, stream_sub.id, 5)
    assert receiver.bad_signatures == 0
    assert len(receiver.unique_ids) == 5
    got = {p["alerts"][0]["id"] for p in receiver.received}
    assert got == {a.id for a in alerts}
    entries = await redis.xrange(keys.stream(stream_sub.id))
    payloads = [orjson.loads(f[b"payload"]) for _, f in entries]
    assert {p["alerts"][0]["id"] for p in payloads} == got
    titles = {a.article.title for a in alerts}
    assert {p["alerts"][0]["article"]["title"] for p in payloads} == titles  # byte-exact through Lua
    assert {p["alerts"][0]["article"]["title"] for p in receiver.received} == titles
    assert {f[b"id"].decode() for _, f in entries} == {p["id"] for p in payloads}
    assert metrics.deliveries.labels(channel="webhook", outcome="ok")._value.get() == 5
    assert await redis.hlen(keys.BODY) == 0


async def wait_for_stream(redis, sub_id: str, n: int) -> None:
    for _ in range(1000):
        if await redis.xlen(keys.stream(sub_id)) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("stream did not fill")


async def test_replaying_the_topic_sends_nothing_twice(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    _, secret = await svc.store.create(SubscriptionSpec(name="hook", channel=WebhookTarget(url=receiver.url)))
    receiver.secrets.append(secret)
    alerts = [make_alert(i) for i in range(3)]
    async with running(svc):
        await svc.handle(alerts)
        await svc.handle(alerts)  # replay while still queued
        await wait_for(lambda: len(receiver.ids) == 3)
        for _ in range(500):  # outcomes recorded
            if not await redis.hlen(keys.BODY):
                break
            await asyncio.sleep(0.02)
        await svc.handle(alerts)  # replay after delivery
        await svc.handle(alerts[:1])
        await asyncio.sleep(0.5)
    assert len(receiver.ids) == 3
    assert metrics.alerts_deduplicated._value.get() >= 4
