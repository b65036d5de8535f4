"""The dead-delivery stream is capped at ``Settings.dead_maxlen`` entries (the newest are kept)."""

from __future__ import annotations

import asyncio

from monitor.alerting import keys
from monitor.alerting.model import SubscriptionSpec, WebhookTarget
from monitor.alerting.service import AlertService

from .helpers import make_alert
from .test_service import running


async def test_dead_stream_is_trimmed(settings, redis, metrics, receiver):  # type: ignore[no-untyped-def]
    s = settings.model_copy(update={"dead_maxlen": 100})
    svc = AlertService(s, redis, metrics=metrics)
    _, secret = await svc.store.create(SubscriptionSpec(name="h", channel=WebhookTarget(url=receiver.url)))
    receiver.secrets.append(secret)
    receiver.statuses = [(301, {})] * 130  # a redirect is a failure for good: straight to dead
    async with running(svc):
        await svc.handle([make_alert(i) for i in range(130)])
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        while receiver.requests < 130 or (await svc.queue.depth()).get("webhook", 0) > 0:
            assert loop.time() < end, "deliveries not finished in time"
            await asyncio.sleep(0.05)
    assert await redis.xlen(keys.DEAD) == 100
