"""AlertService: the alerter's one entry point. ``handle`` routes and durably enqueues; ``run`` delivers.

``await handle(alerts)``: silences first (a silenced alert is recorded in ``monitor:silenced`` and
counted, not delivered), then routing (``router``), then one Lua call that checks the notification log
and records every delivery in Redis. It returns only when the deliveries are in Redis, so the caller
may then commit its Kafka offsets; it never waits for a network send and never raises for delivery
problems. It raises only when Redis fails: the caller must not commit, and retries the batch (which
is idempotent: delivery ids are deterministic and already-queued or already-sent ones are skipped).

``await run()`` is the dispatcher loop (``dispatcher.Dispatcher``) until ``await stop()``, which lets
in-flight sends finish (bounded) and leaves everything else queued in Redis for the next start.

The Redis client must return bytes (``decode_responses=False``, the redis-py default).

``enqueue_for`` (replay, test-send) puts given alerts to one subscription, bypassing routing filters;
``force=True`` bypasses the notification log too (a replay re-sends with the same delivery ids, so
receivers that dedup on them see nothing twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from monitor.alerting import keys, router
from monitor.alerting.channels import CHANNELS, Channel
from monitor.alerting.dedup import NotificationLog
from monitor.alerting.dispatcher import Dispatcher, SubscriptionCache
from monitor.alerting.model import Delivery, Subscription, delivery_id
from monitor.alerting.queue import DeliveryQueue, Item
from monitor.alerting.store import Store
from monitor.metrics import METRICS, Metrics
from monitor.models import Alert

if TYPE_CHECKING:
    from monitor.settings import Settings

log = logging.getLogger(__name__)


class RedisNotDurable(RuntimeError):
    """Redis would evict keys (queued deliveries could vanish). Not retryable: fix the Redis config."""

    retryable = False


class AlertService:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        metrics: Metrics = METRICS,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.metrics = metrics
        self.store = Store(redis, settings)
        self.cache = SubscriptionCache(self.store)
        self.log = NotificationLog(redis, settings.delivery_log_ttl)
        self.channels: dict[str, Channel] = (
            dict(channels)
            if channels is not None
            else {name: cls(settings, redis) for name, cls in CHANNELS.items()}
        )
        self.queue = DeliveryQueue(redis, self.log, list(self.channels), settings.dead_maxlen)
        consumer = settings.delivery_consumer or socket.gethostname()
        self.dispatcher = Dispatcher(
            settings, redis, self.queue, self.cache, self.channels, metrics, consumer
        )
        self._groups_ready = False

    # --- intake ---------------------------------------------------------------------------------
    async def handle(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        await self.cache.refresh()  # monitor_alerts_received_total is counted once, by the consumer
        now_dt = datetime.now(UTC)
        now = now_dt.timestamp()
        routes: list[router.Route] = []
        silenced: list[tuple[Alert, str]] = []
        for a in alerts:
            s = router.silenced_by(a, self.cache.silences, now_dt)
            if s is not None:
                silenced.append((a, s.id))
                continue
            routes += router.route_alert(a, self.cache.subscriptions, now)
        if silenced:
            await self._record_silenced(silenced)
        if not routes:
            return
        flushes = await self._last_flushes(router.last_flush_keys(routes))
        items = [
            self._item(r, due) for r, due in zip(routes, router.due_for(routes, now, flushes), strict=True)
        ]
        await self._enqueue(items, now, force=False)

    async def enqueue_for(
        self, sub: Subscription, alerts: Sequence[Alert], *, force: bool = False, kind: str = "alert"
    ) -> list[str]:
        """Queue each alert to ``sub`` as its own immediate delivery. Returns per-alert results."""
        now = datetime.now(UTC).timestamp()
        items = []
        for a in alerts:
            did = delivery_id(sub.id, a, sub.channel_name)
            d = Delivery(
                id=did,
                subscription=sub.id,
                channel=sub.channel_name,
                kind=kind,  # type: ignore[arg-type]
                alerts=(a,),
                replay=force,
            )
            items.append(Item(sub.id, sub.channel_name, did, now, d.to_bytes()))
        return await self._enqueue(items, now, force=force)

    async def _enqueue(self, items: list[Item], now: float, *, force: bool) -> list[str]:
        if not self._groups_ready:
            await self.queue.ensure_groups()
            self._groups_ready = True
        res = await self.queue.enqueue(items, now, force=force)
        dups = sum(1 for r in res if r == "sent")
        if dups:
            self.metrics.alerts_deduplicated.inc(dups)
        return res

    def _item(self, r: router.Route, due: float) -> Item:
        ch = r.subscription.channel_name
        if r.kind == "alert":
            d = Delivery(id=r.delivery_id, subscription=r.subscription.id, channel=ch, alerts=(r.alert,))
            return Item(r.subscription.id, ch, r.delivery_id, due, d.to_bytes())
        bid = router.batch_id(r.subscription.id, r.batch_key, r.delivery_id)
        header = Delivery(
            id=bid, subscription=r.subscription.id, channel=ch, kind=r.kind, group_key=r.batch_key
        )
        return Item(
            r.subscription.id,
            ch,
            r.delivery_id,
            due,
            header.to_bytes(),
            batch_key=r.batch_key,
            batch_id=bid,
            alert=r.alert.to_json(),
        )

    async def _last_flushes(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], float | None]:
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as p:
            for sub_id, key in wanted:
                p.get(keys.last_flush(sub_id, key))
            raw = await p.execute()
        return {w: (float(v) if v is not None else None) for w, v in zip(wanted, raw, strict=True)}

    async def _record_silenced(self, silenced: list[tuple[Alert, str]]) -> None:
        async with self.redis.pipeline(transaction=False) as p:
            for a, sid in silenced:
                p.xadd(
                    keys.SILENCED,
                    {"alert": a.id, "rule": a.rule, "silence": sid, "payload": a.to_json()},
                    maxlen=10000,
                    approximate=True,
                )
            await p.execute()
        self.metrics.alerts_silenced.inc(len(silenced))

    # --- delivery loop --------------------------------------------------------------------------
    async def check_redis(self) -> None:
        """Refuse a Redis that evicts keys (``maxmemory-policy`` other than noeviction)."""
        if not self.settings.redis_check_durability:
            return
        with contextlib.suppress(aioredis.ResponseError):
            cfg = await self.redis.config_get("maxmemory-policy")
            policy = cfg.get("maxmemory-policy", "noeviction")
            policy = policy.decode() if isinstance(policy, bytes) else policy
            if policy != "noeviction":
                raise RedisNotDurable(f"Redis maxmemory-policy is {policy!r}; set it to noeviction")

    async def run(self) -> None:
        await self.check_redis()
        with contextlib.suppress(asyncio.CancelledError):
            await self.dispatcher.run()

    async def stop(self, timeout: float = 10.0) -> None:
        await self.dispatcher.stop(timeout)
        for ch in self.channels.values():
            with contextlib.suppress(Exception):
                await ch.close()
