"""Silences through the service, the chat channel through apprise to a local server, stream trimming."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from aiohttp import web

from monitor.alerting import keys
from monitor.alerting.channels.chat import ChatChannel
from monitor.alerting.channels.redis_stream import RedisStreamChannel
from monitor.alerting.model import (
    ChatTarget,
    Delivery,
    RedisTarget,
    SilenceSpec,
    Subscription,
    SubscriptionSpec,
    WebhookTarget,
)
from monitor.alerting.service import AlertService

from .helpers import make_alert, wait_for
from .test_service import running


async def test_silenced_alerts_are_recorded_not_delivered(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    _, secret = await svc.store.create(SubscriptionSpec(name="h", channel=WebhookTarget(url=receiver.url)))
    receiver.secrets.append(secret)
    now = datetime.now(UTC)
    await svc.store.create_silence(SilenceSpec(rules=("quiet",), ends_at=now + timedelta(hours=1)))
    await svc.store.create_silence(SilenceSpec(sources=("noisy",), ends_at=now + timedelta(hours=1)))
    await svc.store.create_silence(
        SilenceSpec(tags=("t1",), starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1))
    )  # expired
    alerts = [make_alert(1, rule="quiet"), make_alert(2, source="noisy"), make_alert(3, rule="loud")]
    async with running(svc):
        await svc.handle(alerts)
        await wait_for(lambda: len(receiver.ids) == 1)
        await asyncio.sleep(0.3)
    assert [p["alerts"][0]["rule"] for p in receiver.received] == ["loud"]
    recorded = await redis.xrange(keys.SILENCED)
    assert sorted(f[b"alert"].decode() for _, f in recorded) == sorted(a.id for a in alerts[:2])
    assert metrics.alerts_silenced._value.get() == 2


async def test_chat_through_apprise_to_a_local_server(settings, redis):
    got: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/notify", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        sub = Subscription(
            id="c1", name="chat", channel=ChatTarget(urls=(f"json://127.0.0.1:{port}/notify",))
        )
        alert = make_alert(1, title="غارة على قاعدة")
        allowed = settings.model_copy(update={"chat_services": ["json"]})  # loopback is allow-listed
        await ChatChannel(allowed, redis).send(
            Delivery(id="x" * 24, subscription="c1", channel="chat", alerts=(alert,)), sub
        )
    finally:
        await runner.cleanup()
    (msg,) = got
    assert "غارة على قاعدة" in msg["message"] and "Rule r1" in msg["title"]


async def test_stream_trim_never_drops_pending_or_unread(settings, redis):
    ch = RedisStreamChannel(settings, redis)
    sub = Subscription(id="t1", name="s", channel=RedisTarget(retention_hours=1))
    stream = keys.stream(sub.id)
    old = int((time.time() - 3 * 3600) * 1000)
    for i in range(6):
        await redis.xadd(stream, {"id": f"old{i}"}, id=f"{old + i}-0")
    await redis.xgroup_create(stream, "g", id="0")
    await redis.xreadgroup("g", "c", {stream: ">"}, count=2)  # two read, pending, not acked
    await ch.trim(sub.id, 1)
    assert await redis.xlen(stream) == 6  # the oldest pending entry holds the floor
    (first, _), (second, _) = (await redis.xrange(stream))[:2]
    await redis.xack(stream, "g", first, second)
    await ch.trim(sub.id, 1)
    assert await redis.xlen(stream) == 4  # read and acked: trimmed; unread ones stay
    await redis.xreadgroup("g", "c", {stream: ">"})
    await redis.xack(stream, "g", *[eid for eid, _ in await redis.xrange(stream)])
    await redis.xadd(stream, {"id": "new"})
    await ch.trim(sub.id, 1)
    assert [f[b"id"] for _, f in await redis.xrange(stream)] == [b"new"]
