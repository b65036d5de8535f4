"""The alerter's subscription cache reloads only what changed, not every subscription per change."""

from __future__ import annotations

from monitor.alerting import keys
from monitor.alerting.dispatcher import SubscriptionCache
from monitor.alerting.model import Filter, SilenceSpec, SubscriptionPatch, SubscriptionSpec
from monitor.alerting.store import Store
from monitor.models import utcnow


class CountingStore(Store):
    full_lists = 0
    fetched = 0

    async def list(self, offset: int = 0, limit: int | None = None):  # type: ignore[no-untyped-def]
        self.full_lists += 1
        return await super().list(offset, limit)

    async def get_many(self, ids):  # type: ignore[no-untyped-def]
        self.fetched += len(ids)
        return await super().get_many(ids)


async def test_one_change_reloads_one_subscription(settings, redis) -> None:  # type: ignore[no-untyped-def]
    store = CountingStore(redis, settings)
    subs = [(await store.create(SubscriptionSpec(name=f"s{i}", channel={"type": "redis"})))[0] for i in range(40)]  # type: ignore[arg-type]
    cache = SubscriptionCache(store)
    await cache.refresh()
    assert len(cache.subscriptions) == 40 and store.full_lists == 1
    store.fetched = 0

    await store.update(subs[3].id, SubscriptionPatch(filter=Filter(tags=("x",))))
    await store.delete(subs[5].id)
    new, _ = await store.create(SubscriptionSpec(name="late", channel={"type": "redis"}))  # type: ignore[arg-type]
    await cache.refresh()
    assert store.full_lists == 1 and store.fetched == 3
    assert cache.by_id[subs[3].id].filter.tags == ("x",)
    assert subs[5].id not in cache.by_id and new.id in cache.by_id and len(cache.subscriptions) == 40
    assert [s.id for s in cache.subscriptions] == sorted(cache.by_id)

    await cache.refresh()  # nothing changed: nothing read
    assert store.full_lists == 1 and store.fetched == 3
    await store.create_silence(SilenceSpec(rules=("r1",), ends_at=utcnow().replace(year=2099)))
    await cache.refresh()
    assert len(cache.silences) == 1 and store.full_lists == 1


async def test_a_trimmed_change_log_means_a_full_reload(settings, redis) -> None:  # type: ignore[no-untyped-def]
    store = CountingStore(redis, settings)
    a, _ = await store.create(SubscriptionSpec(name="a", channel={"type": "redis"}))  # type: ignore[arg-type]
    cache = SubscriptionCache(store)
    await cache.refresh()
    await store.update(a.id, SubscriptionPatch(name="b"))
    await redis.delete(keys.CHANGES)  # the log no longer reaches back to the cache's version
    await cache.refresh()
    assert store.full_lists == 2 and cache.by_id[a.id].name == "b"
