"""Webhook status semantics, retries from the durable schedule, auto-disable, rotation, endpoint isolation."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from monitor.alerting import keys
from monitor.alerting.channels.webhook import classify, parse_retry_after
from monitor.alerting.model import Grouping, SubscriptionPatch, SubscriptionSpec, WebhookTarget
from monitor.alerting.queue import DEFAULT_SCHEDULE, retry_at
from monitor.alerting.service import AlertService

from .helpers import make_alert, start_receiver, wait_for
from .test_service import running


@pytest.mark.parametrize(
    ("status", "delivered", "retryable", "disable"),
    [
        (200, True, None, None),
        (204, True, None, None),
        (410, False, False, True),
        (429, False, True, False),
        (502, False, True, False),
        (503, False, True, False),
        (504, False, True, False),
        (500, False, True, False),
        (400, False, True, False),
        (404, False, True, False),
        (301, False, False, False),
        (307, False, False, False),
    ],
)
def test_status_semantics(status: int, delivered: bool, retryable: bool | None, disable: bool | None) -> None:
    err = classify(status, 7.0)
    assert (err is None) == delivered
    if err is not None:
        assert err.retryable == retryable and err.disable == disable
        if status in (429, 502, 503, 504):
            assert err.retry_after == 7.0


def test_retry_schedule_with_jitter_and_retry_after() -> None:
    rng = random.Random(1)
    dues = [retry_at(i, 1000.0, DEFAULT_SCHEDULE, rng=rng) for i in range(len(DEFAULT_SCHEDULE))]
    for due, base in zip(dues, DEFAULT_SCHEDULE, strict=True):
        assert due is not None and 1000 + base * 0.8 <= due <= 1000 + base * 1.2
    assert retry_at(len(DEFAULT_SCHEDULE), 1000.0, DEFAULT_SCHEDULE) is None  # give up: dead
    assert retry_at(1, 1000.0, DEFAULT_SCHEDULE, retry_after=120, rng=rng) >= 1120  # honour Retry-After
    assert retry_at(1, 1000.0, DEFAULT_SCHEDULE, retry_after=10**9, rng=rng) <= 1000 + 86400  # capped
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=0) > 0
    assert parse_retry_after("soon") is None


async def _hook(svc, receiver, **kw):
    sub, secret = await svc.store.create(
        SubscriptionSpec(name="h", channel=WebhookTarget(url=receiver.url), **kw)
    )
    receiver.secrets.append(secret)
    return sub


async def test_500_then_429_with_retry_after_then_ok(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    await _hook(svc, receiver)
    receiver.statuses = [(500, {}), (429, {"Retry-After": "1"})]
    async with running(svc):
        await svc.handle([make_alert(1)])
        await wait_for(lambda: len(receiver.ids) == 1)
    assert receiver.requests == 3
    assert metrics.delivery_retries.labels(channel="webhook")._value.get() == 2
    assert await redis.hlen(keys.ATTEMPTS) == 0 and await redis.xlen(keys.DEAD) == 0


async def test_retries_exhausted_go_to_dead(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    await _hook(svc, receiver)
    receiver.statuses = [(500, {})] * 10
    async with running(svc):
        await svc.handle([make_alert(1)])
        await wait_for(lambda: receiver.requests >= len(settings.delivery_retry_schedule))
        for _ in range(500):
            if await redis.xlen(keys.DEAD):
                break
            await asyncio.sleep(0.02)
    assert receiver.requests == len(settings.delivery_retry_schedule)
    assert receiver.ids == []
    ((_, fields),) = await redis.xrange(keys.DEAD)
    assert b"HTTP 500" in fields[b"reason"]


async def test_redirect_is_a_failure_not_followed(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    await _hook(svc, receiver)
    receiver.statuses = [(302, {"Location": "http://169.254.169.254/"})]
    async with running(svc):
        await svc.handle([make_alert(1)])
        for _ in range(500):
            if await redis.xlen(keys.DEAD):
                break
            await asyncio.sleep(0.02)
    assert receiver.requests == 1


async def test_410_disables_and_tells(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    sub = await _hook(svc, receiver)
    receiver.statuses = [(410, {})]
    async with running(svc):
        await svc.handle([make_alert(1)])
        for _ in range(500):
            if not (await svc.store.get(sub.id)).enabled:
                break
            await asyncio.sleep(0.02)
        await svc.handle([make_alert(2)])  # a disabled subscription gets nothing new
        await asyncio.sleep(0.3)
    got = await svc.store.get(sub.id)
    assert not got.enabled and "410" in got.disabled_reason
    assert receiver.requests == 1
    ((_, notice),) = await redis.xrange(keys.NOTICES)
    assert notice[b"sub"].decode() == sub.id and notice[b"event"] == b"disabled"


async def test_continuous_failure_disables(settings, redis, metrics, receiver):
    settings = settings.model_copy(update={"delivery_disable_after": 0.0})
    svc = AlertService(settings, redis, metrics=metrics)
    sub = await _hook(svc, receiver)
    receiver.statuses = [(503, {})]
    async with running(svc):
        await svc.handle([make_alert(1)])
        for _ in range(500):
            if not (await svc.store.get(sub.id)).enabled:
                break
            await asyncio.sleep(0.02)
    assert "failing continuously" in (await svc.store.get(sub.id)).disabled_reason


async def test_rotation_keeps_two_secrets_valid(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    sub = await _hook(svc, receiver)
    old = receiver.secrets[0]
    _, new = await svc.store.rotate_secret(sub.id)
    assert new != old
    receiver.secrets[:] = [old]  # a receiver still on the old secret verifies
    async with running(svc):
        await svc.handle([make_alert(1)])
        await wait_for(lambda: len(receiver.ids) == 1)
        receiver.secrets[:] = [new]  # and one already on the new secret too
        await svc.handle([make_alert(2)])
        await wait_for(lambda: len(receiver.ids) == 2)
    assert receiver.bad_signatures == 0
    stored = await svc.store.get(sub.id)
    assert len(stored.channel.secrets) == 2
    assert "whsec_" not in stored.model_dump_json()  # masked outside the store


async def test_slow_endpoint_does_not_delay_another(settings, redis, metrics):
    slow, slow_runner = await start_receiver()
    fast, fast_runner = await start_receiver()
    slow.delay = 3.0
    settings = settings.model_copy(update={"delivery_endpoint_concurrency": 1})
    svc = AlertService(settings, redis, metrics=metrics)
    try:
        await _hook(svc, slow)
        await _hook(svc, fast)
        async with running(svc):
            await svc.handle([make_alert(i) for i in range(20)])
            await wait_for(lambda: len(fast.ids) == 20)
            assert slow.ids == []  # the slow endpoint has not completed even its first delivery
    finally:
        await slow_runner.cleanup()
        await fast_runner.cleanup()


async def test_group_is_one_delivery(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    await _hook(svc, receiver, grouping=Grouping(group_by=("rule",), group_wait=0.5))
    async with running(svc):
        await svc.handle([make_alert(i, rule="r1") for i in range(4)] + [make_alert(9, rule="r2")])
        await wait_for(lambda: len(receiver.ids) == 2)
        await svc.handle([make_alert(i, rule="r1") for i in range(4)])  # replay: already sent
        await asyncio.sleep(0.8)
    sizes = sorted(len(p["alerts"]) for p in receiver.received)
    assert sizes == [1, 4]
    assert {p["kind"] for p in receiver.received} == {"group"}


async def test_update_patch_keeps_secret(settings, redis, metrics, receiver):
    svc = AlertService(settings, redis, metrics=metrics)
    sub = await _hook(svc, receiver)
    upd, secret = await svc.store.update(
        sub.id, SubscriptionPatch(channel=WebhookTarget(url=receiver.url + "?v=2"))
    )
    assert secret is None and upd.channel.secrets == sub.channel.secrets


async def test_reenabled_subscription_starts_a_fresh_failure_run(settings, redis, metrics, receiver):
    settings = settings.model_copy(update={"delivery_disable_after": 3600.0})
    svc = AlertService(settings, redis, metrics=metrics)
    sub = await _hook(svc, receiver)
    await redis.hset(keys.health(sub.id), "first_failure", "0")  # failing since 1970
    await svc.store.disable(sub.id, "by hand")
    await svc.store.update(sub.id, SubscriptionPatch(enabled=True))
    receiver.statuses = [(500, {})]
    async with running(svc):
        await svc.handle([make_alert(1)])
        await wait_for(lambda: len(receiver.ids) == 1)  # retried and delivered, not disabled
    assert (await svc.store.get(sub.id)).enabled


async def test_retry_after_sets_the_durable_schedule(settings, redis, metrics, receiver):
    """A 429 with Retry-After: 3600 puts the next attempt an hour out, in Redis (not in a sleeping task)."""
    svc = AlertService(settings, redis, metrics=metrics)
    await _hook(svc, receiver)
    receiver.statuses = [(429, {"Retry-After": "3600"})]
    async with running(svc):
        before = time.time()
        await svc.handle([make_alert(1)])
        for _ in range(500):
            if await redis.zcard(keys.SCHED):
                break
            await asyncio.sleep(0.02)
    ((member, due),) = await redis.zrange(keys.SCHED, 0, -1, withscores=True)
    assert member.startswith(b"webhook|") and due >= before + 3600
    assert await redis.hget(keys.ATTEMPTS, member.rsplit(b"|", 1)[1]) == b"1"
    assert receiver.ids == []


async def test_an_evicting_redis_is_refused(settings, redis, metrics):
    from monitor.alerting.service import RedisNotDurable

    svc = AlertService(settings, redis, metrics=metrics)
    await redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(RedisNotDurable):
            await svc.run()
    finally:
        await redis.config_set("maxmemory-policy", "noeviction")
