"""Two alerters share the delivery streams: what a dead one held is claimed (XAUTOCLAIM) and delivered by
the other; a delivery whose body makes the dispatcher fail is dead after ``poison_tries`` while the rest
goes on. Real Redis, a real local webhook receiver; waits are bounded, never timed."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis

from monitor.alerting import keys
from monitor.alerting.model import SubscriptionSpec, WebhookTarget, delivery_id
from monitor.alerting.service import AlertService

from .helpers import make_alert, wait_for

N = 40


async def _pending(r: aioredis.Redis) -> int:
    return sum(g["pending"] for g in await r.xinfo_groups(keys.work("webhook")))


async def test_a_dead_alerters_deliveries_are_claimed_by_another(settings, redis, metrics, receiver):
    a = AlertService(settings.model_copy(update={"delivery_consumer": "alerter-a"}), redis, metrics=metrics)
    sub, secret = await a.store.create(SubscriptionSpec(name="x", channel=WebhookTarget(url=receiver.url)))
    receiver.secrets.append(secret)
    alerts = [make_alert(i, rule="r1") for i in range(N)]
    await a.handle(alerts)
    held = await a.queue.read("alerter-a", block_ms=0)  # alerter-a takes them, then dies (never acks)
    assert len(held) == N and await _pending(redis) == N
    b = AlertService(settings.model_copy(update={"delivery_consumer": "alerter-b"}), redis, metrics=metrics)
    task = asyncio.create_task(b.run())
    try:
        await wait_for(lambda: len(receiver.unique_ids) >= N, timeout=60)
        for _ in range(500):  # bounded: the outcomes are recorded just after the sends
            if await _pending(redis) == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        await b.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
    assert receiver.unique_ids == {delivery_id(sub.id, al, "webhook") for al in alerts}
    assert await _pending(redis) == 0
    consumers = {c["name"]: c["pending"] for c in await redis.xinfo_consumers(keys.work("webhook"), keys.GROUP)}
    assert consumers.get(b"alerter-a", consumers.get("alerter-a", 0)) == 0


async def test_a_poison_delivery_is_dead_and_the_others_are_delivered(settings, redis, metrics, receiver):
    s = settings.model_copy(update={"poison_tries": 2})
    svc = AlertService(s, redis, metrics=metrics)
    sub, secret = await svc.store.create(SubscriptionSpec(name="x", channel=WebhookTarget(url=receiver.url)))
    receiver.secrets.append(secret)
    await svc.queue.ensure_groups()
    await redis.xadd(keys.work("webhook"), {"id": "poison-delivery", "sub": sub.id, "body": b"\xffnot json",
                                             "att": 0})
    alerts = [make_alert(i, rule="r1") for i in range(5)]
    await svc.handle(alerts)
    task = asyncio.create_task(svc.run())
    try:
        await wait_for(lambda: len(receiver.unique_ids) >= len(alerts), timeout=60)
        dead: list = []
        for _ in range(1000):
            dead = await redis.xrange(keys.DEAD)
            if dead:
                break
            await asyncio.sleep(0.02)
    finally:
        await svc.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 20)
    assert receiver.unique_ids == {delivery_id(sub.id, al, "webhook") for al in alerts}
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"id"] == b"poison-delivery"
    assert fields[b"reason"].startswith(b"handler_error:")
    assert await _pending(redis) == 0
